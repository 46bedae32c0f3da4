//===- SwapLayerWindows.cpp - exchange two adjacent layer windows ---------===//
//
// The block-swap robustness analysis (SPEC.md §5.4): positions [p, p+s) and
// [p+s, p+2s) trade places; reorderLayers does the IR surgery.
//
//===----------------------------------------------------------------------===//

#include "passes/Analysis/Passes.h"

#include "growc/Growth/LayerSurgery.h"

#include <numeric>

namespace growc {
#define GEN_PASS_DEF_SWAPLAYERWINDOWS
#include "passes/Analysis/Passes.h.inc"
} // namespace growc

using namespace growc;

namespace {
struct SwapLayerWindowsPass
    : growc::impl::SwapLayerWindowsBase<SwapLayerWindowsPass> {
  using SwapLayerWindowsBase::SwapLayerWindowsBase;

  void runOnOperation() override {
    for (auto model : getOperation().getOps<grow::ModelOp>()) {
      int64_t numLayers = model.getLayers().size();
      if (position < 0 || size < 0 || position + 2 * size > numLayers) {
        model.emitError("growc-swap-layer-windows: windows [")
            << position << ", " << position + size << ") and ["
            << position + size << ", " << position + 2 * size
            << ") do not fit in a model of " << numLayers << " layers";
        return signalPassFailure();
      }
      llvm::SmallVector<int64_t> order(numLayers);
      std::iota(order.begin(), order.end(), 0);
      std::rotate(order.begin() + position, order.begin() + position + size,
                  order.begin() + position + 2 * size);
      if (failed(reorderLayers(model, order)))
        return signalPassFailure();
    }
  }
};
} // namespace
