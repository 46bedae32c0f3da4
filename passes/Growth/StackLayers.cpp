//===- StackLayers.cpp - G_stack whole-model stacking pass ----------------===//
//
// Plans the recipe (planStack in GrowthPlan.cpp) for every model in the
// module and rebuilds its layers once (applyLayerRecipe in LayerSurgery.cpp).
//
//===----------------------------------------------------------------------===//

#include "passes/Growth/Passes.h"

#include "growc/Growth/LayerSurgery.h"

namespace growc {
#define GEN_PASS_DEF_STACKLAYERS
#include "passes/Growth/Passes.h.inc"
} // namespace growc

using namespace growc;

namespace {
struct StackLayersPass : growc::impl::StackLayersBase<StackLayersPass> {
  using StackLayersBase::StackLayersBase;

  void runOnOperation() override {
    LayerRecipe recipe;
    recipe.method = GrowthMethod::GStack;
    recipe.stackFactor = stackFactor;
    recipe.blockSize = blockSize;
    for (auto model : getOperation().getOps<grow::ModelOp>())
      if (failed(applyLayerRecipe(model, recipe)))
        return signalPassFailure();
  }
};
} // namespace
