//===- UpscaleDepth.cpp - SOLAR depth up-scaling pass ---------------------===//
//
// Plans the recipe (planDepthUpscale in GrowthPlan.cpp) for every model in the
// module and rebuilds its layers once (applyLayerRecipe in LayerSurgery.cpp).
//
//===----------------------------------------------------------------------===//

#include "passes/Growth/Passes.h"

#include "growc/Growth/LayerSurgery.h"

namespace growc {
#define GEN_PASS_DEF_UPSCALEDEPTH
#include "passes/Growth/Passes.h.inc"
} // namespace growc

using namespace growc;

namespace {
struct UpscaleDepthPass : growc::impl::UpscaleDepthBase<UpscaleDepthPass> {
  using UpscaleDepthBase::UpscaleDepthBase;

  void runOnOperation() override {
    LayerRecipe recipe;
    recipe.method = GrowthMethod::DepthUpscale;
    recipe.upscaleDrop = upscaleDrop;
    recipe.blockSize = blockSize;
    for (auto model : getOperation().getOps<grow::ModelOp>())
      if (failed(applyLayerRecipe(model, recipe)))
        return signalPassFailure();
  }
};
} // namespace
