//===- ScaleLayerNorms.cpp - LayerNorm-Scaling pass -----------------------===//
//
// Turns a model into the LayerNorm-Scaling baseline (SPEC.md §4). The factor
// 1/sqrt(l+1) belongs to the layer of index l (its depth in the model as
// trained): it is stored as the model-level flag plus per-layer values that
// growth sets for the new indices and that swaps, reversals and skips carry
// along with the layer, as the reference analyses of a trained model do.
//
//===----------------------------------------------------------------------===//

#include "passes/Analysis/Passes.h"

#include "growc/Growth/LayerSurgery.h"

namespace growc {
#define GEN_PASS_DEF_SCALELAYERNORMS
#include "passes/Analysis/Passes.h.inc"
} // namespace growc

using namespace growc;

namespace {
struct ScaleLayerNormsPass
    : growc::impl::ScaleLayerNormsBase<ScaleLayerNormsPass> {
  void runOnOperation() override {
    for (auto model : getOperation().getOps<grow::ModelOp>()) {
      model.setLnScaling(true);
      setLnScalingFactors(model);
    }
  }
};
} // namespace
