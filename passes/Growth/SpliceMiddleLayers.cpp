//===- SpliceMiddleLayers.cpp - LIDAS middle-layer splice pass ------------===//
//
// Applies planGrowthStep(GrowthMethod::Lidas) to every model in the module;
// the index math lives in GrowthPlan.cpp and the IR surgery in
// LayerSurgery.cpp.
//
//===----------------------------------------------------------------------===//

#include "passes/Growth/Passes.h"

#include "growc/Growth/LayerSurgery.h"

namespace growc {
#define GEN_PASS_DEF_SPLICEMIDDLELAYERS
#include "passes/Growth/Passes.h.inc"
} // namespace growc

using namespace growc;

namespace {
struct SpliceMiddleLayersPass
    : growc::impl::SpliceMiddleLayersBase<SpliceMiddleLayersPass> {
  using SpliceMiddleLayersBase::SpliceMiddleLayersBase;

  void runOnOperation() override {
    std::optional<LidasOddPolicy> policy = parseLidasOddPolicy(oddPolicy);
    if (!policy) {
      getOperation().emitError("growc-splice-middle-layers: option odd must "
                               "be 'midas' or 'centred', got '")
          << oddPolicy << "'";
      return signalPassFailure();
    }
    for (auto model : getOperation().getOps<grow::ModelOp>())
      if (failed(
              growModel(model, GrowthMethod::Lidas, blockSize, steps, *policy)))
        return signalPassFailure();
  }
};
} // namespace
