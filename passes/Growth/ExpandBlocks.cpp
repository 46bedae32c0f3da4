//===- ExpandBlocks.cpp - LLaMA Pro block expansion pass ------------------===//
//
// Plans the recipe (planBlockExpansion in GrowthPlan.cpp) for every model in
// the module and rebuilds its layers once (applyLayerRecipe in
// LayerSurgery.cpp).
//
//===----------------------------------------------------------------------===//

#include "passes/Growth/Passes.h"

#include "growc/Growth/LayerSurgery.h"

namespace growc {
#define GEN_PASS_DEF_EXPANDBLOCKS
#include "passes/Growth/Passes.h.inc"
} // namespace growc

using namespace growc;

namespace {
struct ExpandBlocksPass : growc::impl::ExpandBlocksBase<ExpandBlocksPass> {
  using ExpandBlocksBase::ExpandBlocksBase;

  void runOnOperation() override {
    LayerRecipe recipe;
    recipe.method = GrowthMethod::BlockExpansion;
    recipe.expandEvery = expandEvery;
    recipe.expandOutputScale = expandOutputScale;
    recipe.blockSize = blockSize;
    for (auto model : getOperation().getOps<grow::ModelOp>())
      if (failed(applyLayerRecipe(model, recipe)))
        return signalPassFailure();
  }
};
} // namespace
