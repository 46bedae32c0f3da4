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
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

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

void growc::setVersionPrinter(const char *tool, const char *version,
                              const char *commit) {
  static std::string line;
  line = std::string(tool) + " " + version + " (commit " + commit + ")";
  llvm::cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << line << "\n  built with LLVM/MLIR " << LLVM_VERSION_STRING << "\n";
  });
}
