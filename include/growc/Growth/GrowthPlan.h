//===- GrowthPlan.h - which layers a growth step copies ---------*- C++ -*-===//
//
// The index math of SPEC.md §2, free of IR: given the current layer count
// and block size, which layers one MIDAS / LIDAS / GradStack step copies,
// where it inserts them, and the resulting layer list. The growth passes
// apply these plans; the driver prints them.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_GROWTH_GROWTHPLAN_H
#define GROWC_GROWTH_GROWTHPLAN_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace growc {

enum class GrowthMethod { Midas, Lidas, GradStack };

/// What LIDAS does when the block count n is odd (mid-depth inside a block).
enum class LidasOddPolicy {
  /// Copy the central block B_m and insert it after itself (SPEC default).
  Midas,
  /// Copy the b layers centred on mid-depth and insert them at mid-depth,
  /// exactly as for even n.
  Centred,
};

std::optional<GrowthMethod> parseGrowthMethod(llvm::StringRef name);
llvm::StringRef growthMethodName(GrowthMethod method);
std::optional<LidasOddPolicy> parseLidasOddPolicy(llvm::StringRef name);

/// Where layer `i` of the grown model comes from.
struct LayerSource {
  int64_t oldIndex;
  /// True for the inserted duplicates, false for the layers kept in place.
  bool isCopy;
  /// Factor on the layer's two output projections (self_attn.o_proj and
  /// mlp.down_proj, the matrices that write into the residual stream): 0
  /// zero-initialises them (LLaMA Pro's block expansion: the new layer
  /// starts as the identity), 1 copies them, another value is a scaled copy.
  double outputScale = 1.0;
};

/// One growth step: n blocks -> n + 1 blocks.
struct GrowthStep {
  GrowthMethod method;
  int64_t oldLayers;
  int64_t blockSize;
  /// The copied layers are old[copyBegin, copyEnd); the copies are inserted
  /// before old layer `insertAt` (== oldLayers appends).
  int64_t copyBegin, copyEnd, insertAt;
  /// The grown model's layers, by position.
  std::vector<LayerSource> layers;

  /// "lidas: 2 -> 3 blocks of 4 (8 -> 12 layers): copy layers [2, 6), insert
  /// at 4".
  std::string describe() const;
};

/// Plans one step; fails with a message for an invalid request (no layers,
/// block size < 1, layer count not a multiple of the block size, LIDAS with
/// an odd block size).
llvm::Expected<GrowthStep>
planGrowthStep(GrowthMethod method, int64_t numLayers, int64_t blockSize,
               LidasOddPolicy oddPolicy = LidasOddPolicy::Midas);

} // namespace growc

#endif // GROWC_GROWTH_GROWTHPLAN_H
