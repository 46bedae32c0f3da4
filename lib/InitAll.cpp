//===- InitAll.cpp - register every growc dialect and pass ----------------===//

#include "growc/InitAll.h"
#include "growc/Pipelines.h"

#include "dialects/Grow/GrowOps.h"
#include "passes/Analysis/Passes.h"
#include "passes/Fusion/Passes.h"
#include "passes/Gpu/Passes.h"
#include "passes/Growth/Passes.h"
#include "passes/Lowering/Passes.h"
#include "passes/Training/Passes.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"

#include "mlir/IR/DialectRegistry.h"

void growc::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<grow::GrowDialect, growk::GrowKDialect>();
  // Upstream dialects, extensions and passes: growc-opt drives the
  // bufferization and LLVM lowering pipelines of the tensor-level IR.
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
}

void growc::registerAllPasses() {
  registerGrowthPasses();
  registerAnalysisPasses();
  registerLoweringPasses();
  registerTrainingPasses();
  registerFusionPasses();
  registerGpuPasses();
  registerPipelines();
  mlir::registerAllPasses();
}
