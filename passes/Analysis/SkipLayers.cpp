//===- SkipLayers.cpp - make chosen layers the identity -------------------===//
//
// The skip intervention of the layer-skip analysis and, with `until`, of the
// depth score (`until`, or `split-input` for a split chosen per row at run
// time, and `from`). Skipping is an attribute rather than an erased op so
// the layer's parameters stay in the model and the checkpoint still loads.
//
//===----------------------------------------------------------------------===//

#include "passes/Analysis/Passes.h"

#include "llvm/ADT/DenseSet.h"

namespace growc {
#define GEN_PASS_DEF_SKIPLAYERS
#include "passes/Analysis/Passes.h.inc"
} // namespace growc

using namespace growc;

namespace {
struct SkipLayersPass : growc::impl::SkipLayersBase<SkipLayersPass> {
  using SkipLayersBase::SkipLayersBase;

  void runOnOperation() override {
    if (until < -1) {
      getOperation().emitError("growc-skip-layers: until must be -1 (every "
                               "position) or a token position >= 0, got ")
          << int64_t(until);
      return signalPassFailure();
    }
    if (splitInput && until >= 0) {
      getOperation().emitError("growc-skip-layers: until and split-input "
                               "exclude each other");
      return signalPassFailure();
    }
    if (from < 0 || (from > 0 && until < 0 && !splitInput)) {
      getOperation().emitError("growc-skip-layers: from must be >= 0 and "
                               "needs until or split-input, got ")
          << int64_t(from);
      return signalPassFailure();
    }
    for (auto model : getOperation().getOps<grow::ModelOp>()) {
      llvm::SmallVector<grow::LayerOp> layers = model.getLayers();
      mlir::Builder b(model.getContext());
      llvm::SmallDenseSet<int64_t> seen;
      for (int64_t position : positions) {
        if (position < 0 || position >= int64_t(layers.size())) {
          model.emitError("growc-skip-layers: layer position ")
              << position << " is out of range; the model has " << layers.size()
              << " layers";
          return signalPassFailure();
        }
        grow::LayerOp layer = layers[position];
        if (!seen.insert(position).second) {
          model.emitError("growc-skip-layers: layer position ")
              << position << " is listed twice";
          return signalPassFailure();
        }
        layer.setSkip(true);
        if (until >= 0)
          layer.setSkipUntilAttr(b.getI64IntegerAttr(until));
        else
          layer.removeSkipUntilAttr();
        layer.setSkipSplit(splitInput);
        // Only where asked, so that existing pipelines print as before.
        if (from > 0)
          layer.setSkipFromAttr(b.getI64IntegerAttr(from));
        else
          layer.removeSkipFromAttr();
      }
    }
  }
};
} // namespace
