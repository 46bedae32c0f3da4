//===- HFConfigFuzzer.cpp - libFuzzer target: the HF config importer ------===//
//
// Feeds arbitrary text as a config.json to importHFConfig (growc
// --import-hf-config). Checks that it never crashes, overflows the stack or
// trips ASan/UBSan, and that a model it builds passes the grow dialect's
// verifier: a config it accepts must give valid IR, never a module that
// fails later in the pipeline.
//
//===----------------------------------------------------------------------===//

#include "growc/Import/HFConfig.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A fresh context per input: nothing one input interns affects the next,
  // so every reproducer replays alone.
  mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
  // Errors are the expected outcome for most inputs; printing them would
  // cost more than the import.
  mlir::ScopedDiagnosticHandler quiet(
      &context, [](mlir::Diagnostic &) { return mlir::success(); });
  llvm::Expected<growc::ImportResult> result = growc::importHFConfig(
      &context, llvm::StringRef(reinterpret_cast<const char *>(data), size),
      growc::ImportOptions());
  if (!result) {
    llvm::consumeError(result.takeError());
    return 0;
  }
  if (mlir::failed(mlir::verify(result->module.get())))
    std::abort();
  return 0;
}
