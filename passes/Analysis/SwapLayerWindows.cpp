//===- SwapLayerWindows.cpp - exchange two adjacent layer windows ---------===//
//
// The block-swap robustness analysis (SPEC.md §5.4): positions [p, p+s) and
// [p+s, p+2s) trade places; reorderLayers does the IR surgery.
//
//===----------------------------------------------------------------------===//

#include "passes/Analysis/Passes.h"

#include "growc/Growth/LayerSurgery.h"

#include <algorithm>
#include <numeric>

namespace growc {
#define GEN_PASS_DEF_SWAPLAYERWINDOWS
#include "passes/Analysis/Passes.h.inc"
} // namespace growc

using namespace growc;

namespace {
constexpr int64_t kOptionLimit = int64_t(1) << 40;

struct SwapLayerWindowsPass
    : growc::impl::SwapLayerWindowsBase<SwapLayerWindowsPass> {
  using SwapLayerWindowsBase::SwapLayerWindowsBase;

  void runOnOperation() override {
    for (auto model : getOperation().getOps<grow::ModelOp>()) {
      int64_t numLayers = model.getLayers().size();
      // Clamped so the bounds arithmetic below cannot overflow.
      int64_t p = std::clamp<int64_t>(position, -kOptionLimit, kOptionLimit);
      int64_t s = std::clamp<int64_t>(size, -kOptionLimit, kOptionLimit);
      if (p < 0 || s < 0 || p + 2 * s > numLayers) {
        model.emitError("growc-swap-layer-windows: windows [")
            << p << ", " << p + s << ") and [" << p + s << ", " << p + 2 * s
            << ") do not fit in a model of " << numLayers << " layers";
        return signalPassFailure();
      }
      llvm::SmallVector<int64_t> order(numLayers);
      std::iota(order.begin(), order.end(), 0);
      std::rotate(order.begin() + p, order.begin() + p + s,
                  order.begin() + p + 2 * s);
      if (failed(reorderLayers(model, order)))
        return signalPassFailure();
    }
  }
};
} // namespace
