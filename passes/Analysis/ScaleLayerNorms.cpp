//===- ScaleLayerNorms.cpp - LayerNorm-Scaling pass -----------------------===//
//
// Turns a model into the LayerNorm-Scaling baseline (SPEC.md §4). The factor
// is a function of position, so it is stored as the model-level flag plus
// per-layer values that renumberPositions keeps in step under growth and
// reordering.
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
      renumberPositions(model);
    }
  }
};
} // namespace
