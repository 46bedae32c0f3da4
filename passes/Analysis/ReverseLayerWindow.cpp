//===- ReverseLayerWindow.cpp - reverse the layers of a window ------------===//
//
// The window-reversal analysis (SPEC.md §5.5); reorderLayers does the IR
// surgery.
//
//===----------------------------------------------------------------------===//

#include "passes/Analysis/Passes.h"

#include "growc/Growth/LayerSurgery.h"

#include <algorithm>
#include <numeric>

namespace growc {
#define GEN_PASS_DEF_REVERSELAYERWINDOW
#include "passes/Analysis/Passes.h.inc"
} // namespace growc

using namespace growc;

namespace {
constexpr int64_t kOptionLimit = int64_t(1) << 40;

struct ReverseLayerWindowPass
    : growc::impl::ReverseLayerWindowBase<ReverseLayerWindowPass> {
  using ReverseLayerWindowBase::ReverseLayerWindowBase;

  void runOnOperation() override {
    for (auto model : getOperation().getOps<grow::ModelOp>()) {
      int64_t numLayers = model.getLayers().size();
      // Clamped so the bounds arithmetic below cannot overflow.
      int64_t first = std::clamp<int64_t>(start, -kOptionLimit, kOptionLimit);
      int64_t count = std::clamp<int64_t>(size, -kOptionLimit, kOptionLimit);
      if (first < 0 || count < 0 || first + count > numLayers) {
        model.emitError("growc-reverse-layer-window: window [")
            << first << ", " << first + count << ") does not fit in a model of "
            << numLayers << " layers";
        return signalPassFailure();
      }
      llvm::SmallVector<int64_t> order(numLayers);
      std::iota(order.begin(), order.end(), 0);
      std::reverse(order.begin() + first, order.begin() + first + count);
      if (failed(reorderLayers(model, order)))
        return signalPassFailure();
    }
  }
};
} // namespace
