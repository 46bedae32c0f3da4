//===- GrowthPipeline.cpp - growc-growth-pipeline
//--------------------------===//
//
// The growth operator applied `steps` times, then the contract check of a
// grown model. The driver runs it for --grow / --grow-steps and for each
// stage of a growth run (--stages).
//
//===----------------------------------------------------------------------===//

#include "growc/Pipelines.h"

#include "passes/Growth/Passes.h"

using namespace mlir;

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
  }
  pm.addPass(createVerifyGrownModel({options.sourceLayers}));
}
