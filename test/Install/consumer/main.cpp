//===- main.cpp - an out-of-tree tool built on an installed growc --------===//
//
// What test/Install/consumer.test compiles against `cmake --install`'s
// output: it includes growc's headers as growc's own sources do, registers
// growc's dialects and passes, parses a grow.model and grows it twice, once
// through a pass's typed create function and once through the pass registry
// (as growc-opt would), printing the layer count after each step.
//
//===----------------------------------------------------------------------===//

#include "dialects/Grow/GrowOps.h"
#include "growc/InitAll.h"
#include "passes/Growth/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/raw_ostream.h"

static int64_t countLayers(mlir::ModuleOp module) {
  int64_t layers = 0;
  module.walk([&](growc::grow::LayerOp) { ++layers; });
  return layers;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    llvm::errs() << "usage: growc-consumer MODEL.mlir PASS-PIPELINE\n";
    return 2;
  }
  mlir::DialectRegistry registry;
  growc::registerAllDialects(registry);
  growc::registerAllPasses();
  mlir::MLIRContext context(registry);

  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(argv[1], &context);
  if (!module)
    return 1;
  llvm::outs() << "layers: " << countLayers(*module) << "\n";

  // A pass by its typed create function, from passes/Growth/Passes.h.
  mlir::PassManager midas(&context);
  midas.addPass(growc::createDuplicateMiddleBlock());
  if (mlir::failed(midas.run(*module)))
    return 1;
  llvm::outs() << "layers after growc-duplicate-middle-block: "
               << countLayers(*module) << "\n";

  // A pipeline by name, as growc-opt takes it: from the registry that
  // growc::registerAllPasses filled.
  mlir::PassManager named(&context);
  if (mlir::failed(mlir::parsePassPipeline(argv[2], named, llvm::errs())) ||
      mlir::failed(named.run(*module)))
    return 1;
  llvm::outs() << "layers after " << argv[2] << ": " << countLayers(*module)
               << "\n";
  return 0;
}
