//===- GrowDialectFuzzer.cpp - libFuzzer target: grow IR parser, verifier -===//
//
// Feeds arbitrary text as an .mlir file to MLIR's parser in a context with
// the grow dialect (and func, which models sit beside in tests) registered,
// then verifies what parses: the grow ops' custom parsers and printers,
// the #grow.config attribute and the verifiers (dialects/Grow) must turn
// any text into a diagnostic, never a crash, an ASan or UBSan report or an
// assertion. A module that verifies is printed and parsed again, which must
// succeed (the custom syntax round-trips).
//
//===----------------------------------------------------------------------===//

#include "dialects/Grow/GrowOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlir::DialectRegistry registry;
  registry.insert<growc::grow::GrowDialect, mlir::func::FuncDialect>();
  // A fresh context per input, so that every reproducer replays alone.
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  mlir::ScopedDiagnosticHandler quiet(
      &context, [](mlir::Diagnostic &) { return mlir::success(); });
  // MLIR's lexer expects the terminating NUL that a file read through
  // llvm::MemoryBuffer (as growc and growc-opt read it) always has; the
  // fuzzer's buffer has none. parseSourceString verifies after parsing.
  std::string source(reinterpret_cast<const char *>(data), size);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(source, &context);
  if (!module)
    return 0;
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  mlir::OwningOpRef<mlir::ModuleOp> again =
      mlir::parseSourceString<mlir::ModuleOp>(text, &context);
  if (!again)
    std::abort();
  return 0;
}
