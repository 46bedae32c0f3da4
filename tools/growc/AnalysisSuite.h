//===- AnalysisSuite.h - every analysis graph of a checkpoint --*- C++ -*-===//
//
// `growc model.mlir --analysis-suite -o suite.so` compiles, in one command,
// every forward graph that `growc-run analyze` runs for the depth analyses
// of SPEC.md §5 (docs/analysis.md): the clean model with its early-exit
// heads, the depth score's skip-until-t graphs, layer skips, window swaps
// and window reversals. Each variant is the model rewritten by the analysis
// passes and lowered like any forward graph; their kernels are merged into
// one kernels file (kernels that print alike are compiled once), and a
// manifest (suite.analysis.json) lists the variants with their plans.
//
// The driver owns the code generation (growc.cpp's compileGraph and
// writeKernels); it hands it over as hooks, so the suite reuses exactly the
// pipeline and kernel-writing code of every other artifact.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_TOOLS_GROWC_ANALYSISSUITE_H
#define GROWC_TOOLS_GROWC_ANALYSISSUITE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/JSON.h"

#include <string>
#include <vector>

namespace growc {

/// One compiled graph before its kernels are written: its plan and the
/// module holding its (distributed) kernel functions.
struct SuiteGraph {
  llvm::json::Object plan;
  mlir::OwningOpRef<mlir::ModuleOp> kernels;
};

struct AnalysisSuiteOptions {
  /// The depth score's split position t (0-based): the skipped layer is
  /// the identity at positions < t, effects are measured at positions >= t.
  /// -1: seq / 2.
  int64_t split = -1;
  /// Block-swap window sizes; sizes with no valid position are left out.
  /// 0 is allowed (the unmodified model, an invariant check).
  std::vector<int64_t> swapWindows = {1, 2, 4, 8};
  /// Window-reverse sizes (each at every valid start).
  std::vector<int64_t> reverseWindows = {2, 4, 8};
  /// Compiled shape, for the manifest.
  int64_t batch = 1;
  int64_t seq = 256;
  bool quiet = false;
};

/// Code generation, provided by the driver.
struct AnalysisSuiteHooks {
  /// Lowers a rewritten model to its plan and kernels; the plan names
  /// `kernelsFile`. Failure has been reported.
  llvm::function_ref<mlir::FailureOr<SuiteGraph>(mlir::ModuleOp module,
                                                 llvm::StringRef kernelsFile)>
      compile;
  /// Compiles `graph.kernels` into `path` and completes the plan's kernel
  /// entries (block counts, launches); nonzero: failed and reported.
  llvm::function_ref<int(SuiteGraph &graph, llvm::StringRef path)> writeKernels;
  /// Writes a plan atomically; nonzero: failed and reported.
  llvm::function_ref<int(llvm::StringRef path, llvm::json::Object plan)>
      writePlan;
};

/// Compiles the suite of `module` (one grow.model, growth already applied)
/// to `kernelsPath` (suite.so), suite.<variant>.plan.json and
/// suite.analysis.json beside it. Returns the exit status; on failure
/// nothing is left behind.
int compileAnalysisSuite(mlir::MLIRContext &context, mlir::ModuleOp module,
                         llvm::StringRef kernelsPath,
                         const AnalysisSuiteOptions &options,
                         const AnalysisSuiteHooks &hooks);

} // namespace growc

#endif // GROWC_TOOLS_GROWC_ANALYSISSUITE_H
