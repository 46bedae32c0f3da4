//===- GrowthPlan.h - which layers a growth step copies ---------*- C++ -*-===//
//
// The index math of SPEC.md §2, free of IR: given the current layer count
// and block size, which layers one MIDAS / LIDAS / GradStack step copies,
// where it inserts them, and the resulting layer list. Also the one-shot
// recipes for pretrained models (docs/pretrained-growth.md): block
// expansion, depth up-scaling, layer ranges and G_stack, each a new layer
// list. The growth passes apply these plans; the driver prints them.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_GROWTH_GROWTHPLAN_H
#define GROWC_GROWTH_GROWTHPLAN_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace growc {

enum class GrowthMethod {
  // Schedules: one block per step, applied --grow-steps times or per stage.
  Midas,
  Lidas,
  GradStack,
  // One-shot recipes for pretrained models (planLayerRecipe).
  BlockExpansion,
  DepthUpscale,
  Layers,
  GStack,
};

/// True for the one-shot recipes, which planGrowthStep does not plan.
bool isLayerRecipe(GrowthMethod method);

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

/// A half-open range [begin, end) of layers, as mergekit's layer_range.
struct LayerRange {
  int64_t begin, end;
};

/// Parses "0:8,4:12" (comma-separated half-open ranges); a malformed,
/// empty or reversed range is an error naming the token.
llvm::Expected<std::vector<LayerRange>> parseLayerRanges(llvm::StringRef text);

/// What a one-shot recipe needs; only the fields of `method` are read.
struct LayerRecipe {
  GrowthMethod method = GrowthMethod::BlockExpansion;
  /// block-expansion: a new layer after every `expandEvery` layers.
  int64_t expandEvery = 0;
  /// block-expansion: factor on the new layers' output projections (0:
  /// zero-initialised, LLaMA Pro; 1: plain copies).
  double expandOutputScale = 0.0;
  /// depth-upscale: layers dropped from each of the two copies.
  int64_t upscaleDrop = 0;
  /// layers: the ranges, as parseLayerRanges reads them.
  std::string layerRanges;
  /// gstack: how many times the whole stack is repeated.
  int64_t stackFactor = 0;
  /// The grown model's block size; 0 chooses it (recipeBlockSize).
  int64_t blockSize = 0;
};

/// A recipe's result: the grown model's layers and block size.
struct LayerPlan {
  LayerRecipe recipe;
  int64_t oldLayers;
  int64_t blockSize;
  std::vector<LayerSource> layers;

  /// One line, e.g. "block-expansion: 4 -> 6 layers, a zero-output copy
  /// after every 2 (inserted at 2, 5); blocks of 3".
  std::string describe() const;
};

/// The layer lists of the four recipes (docs/pretrained-growth.md). A
/// layer's first occurrence in the new list is the original, later ones are
/// copies (isCopy). Each fails with a message for an invalid request or a
/// result above growc's layer limit.
///   block-expansion: after every N layers, a copy of the N-th (the layer
///     just before the insertion) with outputScale; L % N == 0.
///   depth-upscale: [0, L-M) then [M, L); 0 < M < L.
///   layers: the ranges concatenated; layers not named are dropped.
///   gstack: [0, L) repeated G times; G >= 2.
llvm::Expected<std::vector<LayerSource>>
planBlockExpansion(int64_t numLayers, int64_t every, double outputScale);
llvm::Expected<std::vector<LayerSource>> planDepthUpscale(int64_t numLayers,
                                                          int64_t drop);
llvm::Expected<std::vector<LayerSource>>
planLayerRanges(int64_t numLayers, llvm::ArrayRef<LayerRange> ranges);
llvm::Expected<std::vector<LayerSource>> planStack(int64_t numLayers,
                                                   int64_t factor);

/// The block size a recipe gives by default: N + 1 for block expansion (one
/// group and its new layer), otherwise gcd(modelBlockSize, newLayers), which
/// keeps the model's block size whenever the new count is a multiple of it.
int64_t recipeBlockSize(const LayerRecipe &recipe, int64_t modelBlockSize,
                        int64_t newLayers);

/// Plans `recipe` on a model of `numLayers` layers in blocks of
/// `modelBlockSize`; an explicit recipe.blockSize must divide the new count.
llvm::Expected<LayerPlan> planLayerRecipe(const LayerRecipe &recipe,
                                          int64_t numLayers,
                                          int64_t modelBlockSize);

} // namespace growc

#endif // GROWC_GROWTH_GROWTHPLAN_H
