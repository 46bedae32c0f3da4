//===- GrowthPipeline.cpp - growc-growth-pipeline
//--------------------------===//
//
// The growth operator applied `steps` times (a one-shot recipe once), then
// the contract check of a grown model. The driver runs it for --grow /
// --grow-steps and for each stage of a growth run (--stages).
//
//===----------------------------------------------------------------------===//

#include "growc/Pipelines.h"

#include "passes/Growth/Passes.h"

using namespace mlir;

growc::LayerRecipe growc::GrowthPipelineOptions::layerRecipe() const {
  LayerRecipe recipe;
  recipe.method = method;
  recipe.expandEvery = expandEvery;
  recipe.expandOutputScale = expandOutputScale;
  recipe.upscaleDrop = upscaleDrop;
  recipe.layerRanges = layerRanges;
  recipe.stackFactor = stackFactor;
  recipe.blockSize = blockSize;
  return recipe;
}

void growc::buildGrowthPipeline(OpPassManager &pm,
                                const GrowthPipelineOptions &options) {
  switch (options.method) {
  case GrowthMethod::Midas:
    pm.addPass(createDuplicateMiddleBlock({options.blockSize, options.steps}));
    break;
  case GrowthMethod::Lidas:
    pm.addPass(createSpliceMiddleLayers(
        {options.blockSize, options.steps, options.lidasOdd}));
    break;
  case GrowthMethod::GradStack:
    pm.addPass(createAppendLastBlock({options.blockSize, options.steps}));
    break;
  case GrowthMethod::BlockExpansion:
    pm.addPass(createExpandBlocks(
        {options.expandEvery, options.expandOutputScale, options.blockSize}));
    break;
  case GrowthMethod::DepthUpscale:
    pm.addPass(createUpscaleDepth({options.upscaleDrop, options.blockSize}));
    break;
  case GrowthMethod::Layers:
    pm.addPass(createSelectLayers({options.layerRanges, options.blockSize}));
    break;
  case GrowthMethod::GStack:
    pm.addPass(createStackLayers({options.stackFactor, options.blockSize}));
    break;
  }
  pm.addPass(createVerifyGrownModel({options.sourceLayers}));
}
