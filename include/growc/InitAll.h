//===- InitAll.h - register every growc dialect and pass --------*- C++ -*-===//
//
// One place that lists what growc adds to MLIR, shared by growc-opt and the
// growc driver so both see the same passes and pipelines.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_INITALL_H
#define GROWC_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace growc {

/// Adds the grow dialect and the upstream dialects growc's IR uses.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Registers every growc pass and named pipeline with MLIR's pass registry.
void registerAllPasses();

/// Makes `--version` print growc's own version and commit (`tool version
/// (commit abc1234)`) and the LLVM/MLIR it was built with, instead of
/// LLVM's version alone. `version` and `commit` come from growc/Version.h,
/// which the tool includes (cmake/GrowcVersion.cmake).
void setVersionPrinter(const char *tool, const char *version,
                       const char *commit);

} // namespace growc

#endif // GROWC_INITALL_H
