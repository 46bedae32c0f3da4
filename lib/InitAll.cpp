//===- InitAll.cpp - register every growc dialect and pass ----------------===//

#include "growc/InitAll.h"

#include "dialects/Grow/GrowOps.h"
#include "passes/Analysis/Passes.h"
#include "passes/Growth/Passes.h"

#include "mlir/IR/DialectRegistry.h"

void growc::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<grow::GrowDialect>();
}

void growc::registerAllPasses() {
  registerGrowthPasses();
  registerAnalysisPasses();
}
