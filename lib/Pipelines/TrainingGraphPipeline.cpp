//===- TrainingGraphPipeline.cpp - growc-training-graph-pipeline ----------===//
//
// From the (grown, rewritten) model to the one tensor-level function the
// kernel pipeline compiles: the forward, the loss, the gradients (reverse
// mode over the ops' VJP rules) or the whole training step (the optimizer
// appended).
//
//===----------------------------------------------------------------------===//

#include "growc/Pipelines.h"

#include "passes/Lowering/Passes.h"
#include "passes/Training/Passes.h"

using namespace mlir;

void growc::buildTrainingGraphPipeline(OpPassManager &pm,
                                       const TrainingGraphOptions &options) {
  pm.addPass(createLowerModelToTensors(
      {options.batch, options.seq, options.keyBlock, options.graph,
       options.lossRows, options.accumulate, /*forwardOnly=*/true,
       options.fuseProjections}));
  if (options.graph == "grad" || options.graph == "train")
    pm.addPass(createDifferentiateModel(
        {options.normGradColumnSum, options.atomicEmbedGrad}));
  if (options.graph == "train")
    pm.addPass(createAppendOptimizerStep({options.accumulate}));
}
