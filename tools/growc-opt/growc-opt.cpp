//===- growc-opt.cpp - mlir-opt with every growc dialect and pass ---------===//
//
// The tool of the lit tests and of compiler engineers: parses IR, runs any
// registered growc pass or pipeline, prints the result.
//
//===----------------------------------------------------------------------===//

#include "growc/InitAll.h"
#include "growc/Version.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  growc::registerAllDialects(registry);
  growc::registerAllPasses();
  growc::setVersionPrinter("growc-opt", GROWC_VERSION, GROWC_COMMIT);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "growc optimizer driver\n", registry));
}
