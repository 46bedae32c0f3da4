//===- SelectLayers.cpp - mergekit-style layer-range selection pass -------===//
//
// Plans the recipe (planLayerRanges in GrowthPlan.cpp) for every model in the
// module and rebuilds its layers once (applyLayerRecipe in LayerSurgery.cpp).
//
//===----------------------------------------------------------------------===//

#include "passes/Growth/Passes.h"

#include "growc/Growth/LayerSurgery.h"

namespace growc {
#define GEN_PASS_DEF_SELECTLAYERS
#include "passes/Growth/Passes.h.inc"
} // namespace growc

using namespace growc;

namespace {
struct SelectLayersPass : growc::impl::SelectLayersBase<SelectLayersPass> {
  using SelectLayersBase::SelectLayersBase;

  void runOnOperation() override {
    LayerRecipe recipe;
    recipe.method = GrowthMethod::Layers;
    recipe.layerRanges = layerRanges;
    recipe.blockSize = blockSize;
    for (auto model : getOperation().getOps<grow::ModelOp>())
      if (failed(applyLayerRecipe(model, recipe)))
        return signalPassFailure();
  }
};
} // namespace
