//===- ReverseLayerWindow.cpp - reverse the layers of a window ------------===//
//
// The window-reversal analysis (SPEC.md §5.5); reorderLayers does the IR
// surgery.
//
//===----------------------------------------------------------------------===//

#include "passes/Analysis/Passes.h"

#include "growc/Growth/LayerSurgery.h"

#include <numeric>

namespace growc {
#define GEN_PASS_DEF_REVERSELAYERWINDOW
#include "passes/Analysis/Passes.h.inc"
} // namespace growc

using namespace growc;

namespace {
struct ReverseLayerWindowPass
    : growc::impl::ReverseLayerWindowBase<ReverseLayerWindowPass> {
  using ReverseLayerWindowBase::ReverseLayerWindowBase;

  void runOnOperation() override {
    for (auto model : getOperation().getOps<grow::ModelOp>()) {
      int64_t numLayers = model.getLayers().size();
      if (start < 0 || size < 0 || start + size > numLayers) {
        model.emitError("growc-reverse-layer-window: window [")
            << start << ", " << start + size << ") does not fit in a model of "
            << numLayers << " layers";
        return signalPassFailure();
      }
      llvm::SmallVector<int64_t> order(numLayers);
      std::iota(order.begin(), order.end(), 0);
      std::reverse(order.begin() + start, order.begin() + start + size);
      if (failed(reorderLayers(model, order)))
        return signalPassFailure();
    }
  }
};
} // namespace
