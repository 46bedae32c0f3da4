//===- Driver.h - what the growc driver does, as a library ------*- C++ -*-===//
//
// The steps behind growc's command line, callable on their own: grow a
// model (the growth pipeline), compile one graph to an artifact (the
// training-graph and kernel pipelines, the plan, a backend), compile a
// growth run's stages and the analysis suite. tools/growc/growc.cpp only
// parses and checks options and calls these.
//
// Errors are reported on stderr as "growc: error: ..." (or as MLIR
// diagnostics at the offending op) and returned as failure(). Every file
// is written through an ArtifactSet: a set of files appears whole or not at
// all.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_DRIVER_H
#define GROWC_DRIVER_H

#include "growc/Codegen/Codegen.h"
#include "growc/Growth/GrowthPlan.h"
#include "growc/Pipelines.h"

#include "dialects/Grow/GrowOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace growc {

/// Prints "growc: error: <message>" and returns failure().
mlir::LogicalResult reportError(const llvm::Twine &message);

//===----------------------------------------------------------------------===//
// Models and growth
//===----------------------------------------------------------------------===//

/// The single grow.model of `module`, or a diagnostic.
mlir::FailureOr<grow::ModelOp> findModel(mlir::ModuleOp module);

/// "lineage: 0 1 2 3 2* 3* ..." from the layer parameters' provenance: each
/// layer's source layer, `*` for a copy, then `z` when its output
/// projections start at zero or `x<S>` when they are scaled by S ("1 1*z").
std::string formatLineage(grow::ModelOp model);

/// Clears the provenance of `model`'s parameters: the model becomes the
/// base that the next growth step's table refers to.
void resetProvenance(grow::ModelOp model);

/// Runs the growth pipeline on the one model of `module`, checking sources
/// against the layer count before growth.
mlir::LogicalResult growModel(mlir::MLIRContext &context, mlir::ModuleOp module,
                              GrowthPipelineOptions options);

/// Prints "growc: step i/n: ..." for each step the growth pipeline will
/// take (unless `quiet`), from the same growth plans; fails on a step the
/// operator cannot take.
mlir::LogicalResult describeGrowth(grow::ModelOp model,
                                   const GrowthPipelineOptions &options,
                                   bool quiet);

//===----------------------------------------------------------------------===//
// Artifacts
//===----------------------------------------------------------------------===//

/// The files of one output of growc, written all or none (ArtifactSet.cpp):
/// each file is written to a temporary beside its final path and checked;
/// commit() renames them into place, kernels files and data first, plans
/// last; the destructor removes every temporary not committed (Ctrl-C
/// removes them too). Errors are reported ("cannot write 'x': <reason>")
/// naming the final path.
class ArtifactSet {
public:
  ArtifactSet() = default;
  ArtifactSet(const ArtifactSet &) = delete;
  ArtifactSet &operator=(const ArtifactSet &) = delete;
  ~ArtifactSet();

  /// A new, empty temporary file that becomes `path` on commit, for a
  /// writer that takes a file name (the linker, the checkpoint writer).
  /// `plan`: renamed after the files that are not plans.
  mlir::FailureOr<std::string> stage(llvm::StringRef path, bool plan = false);

  /// Stages `path` and fills it through a stream, checking every write and
  /// the close.
  mlir::LogicalResult write(llvm::StringRef path,
                            llvm::function_ref<void(llvm::raw_ostream &)> fill,
                            bool plan = false);
  mlir::LogicalResult writeText(llvm::StringRef path, llvm::StringRef text,
                                bool plan = false);

  /// `message` with every temporary's name replaced by its final path (for
  /// errors of writers that were handed a temporary).
  std::string finalNames(std::string message) const;

  /// Renames every staged file into place.
  mlir::LogicalResult commit();

private:
  struct File {
    std::string path, temp;
    bool plan = false, committed = false;
  };
  static void discard(llvm::StringRef temp);

  std::vector<File> files;
};

struct ArtifactOptions {
  /// The kernels file is PTX (else a native CPU shared object).
  bool ptx = false;
  TrainingGraphOptions graph;
  /// kernels.target is Nvptx for PTX and for GPU-shaped kernels on the CPU.
  KernelPipelineOptions kernels;
  PtxOptions ptxOptions;
  /// A train graph's gradients are all-reduced in buckets of this size.
  int64_t allReduceBucketBytes = int64_t(25) << 20;
  /// No progress lines on stderr.
  bool quiet = false;
};

/// A compiled graph before its kernels are written: the plan and the
/// module holding the kernels, distributed for their target.
struct CompiledGraph {
  rt::Plan plan;
  mlir::OwningOpRef<mlir::ModuleOp> kernels;
};

/// Lowers the (grown, rewritten) model to its plan and kernels through the
/// training-graph and kernel pipelines; the plan names `kernelsFile` as its
/// kernels file.
mlir::FailureOr<CompiledGraph> compileGraph(mlir::MLIRContext &context,
                                            mlir::ModuleOp module,
                                            const ArtifactOptions &options,
                                            llvm::StringRef kernelsFile);

/// Compiles the kernels of `graph` into `kernelsPath` (staged in `set`) and
/// completes the plan's kernel entries: block counts on the CPU, launch
/// configurations for PTX. The kernels file carries the entries as its
/// signature table (rt/KernelsFile.h) and the plan records its content
/// hash (`kernels_hash`).
mlir::LogicalResult writeKernels(CompiledGraph &graph,
                                 const ArtifactOptions &options,
                                 llvm::StringRef kernelsPath, ArtifactSet &set);

/// Stages `plan` for `path` in `set` as the schema serialises it
/// (rt::serializePlan), after the runtime's verifier (rt::parsePlan) has
/// accepted that text: a plan the runtime would reject is an internal error
/// and is not written.
mlir::LogicalResult writePlan(llvm::StringRef path, const rt::Plan &plan,
                              ArtifactSet &set);

/// Stages other JSON (the analysis suite's manifest) for `path` in `set`,
/// renamed with the plans.
mlir::LogicalResult writeJson(llvm::StringRef path, llvm::json::Object value,
                              ArtifactSet &set);

/// x.so / x.ptx -> x.so.plan.json / x.ptx.plan.json.
std::string planPathOf(llvm::StringRef kernelsPath);

/// Compiles the model to `kernelsPath` (x.so or x.ptx) and the plan beside
/// it (x.so.plan.json, x.ptx.plan.json).
mlir::LogicalResult compileArtifact(mlir::MLIRContext &context,
                                    mlir::ModuleOp module,
                                    const ArtifactOptions &options,
                                    llvm::StringRef kernelsPath);

/// `growc start.mlir --grow=M --stages=K -o run.so`: the K stages of a
/// growth run, stage i being the input grown i-1 times (docs/training.md).
/// `growth.steps` is ignored (one step per stage).
mlir::LogicalResult compileGrowthRun(mlir::MLIRContext &context,
                                     mlir::ModuleOp start,
                                     const ArtifactOptions &options,
                                     const GrowthPipelineOptions &growth,
                                     llvm::StringRef methodName, int64_t stages,
                                     llvm::StringRef kernelsPath);

//===----------------------------------------------------------------------===//
// The analysis suite
//===----------------------------------------------------------------------===//

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
  /// Where the clean graph's logit lens reads the residual stream: "input"
  /// (h_l, Csordás et al.'s index, outputs logit_lens_in.<l>) or "output"
  /// (h_{l+1}, outputs logit_lens.<l>).
  std::string lensAt = "input";
  /// The depth-score graphs skip the layer at position 0 too (the old
  /// behaviour); by default position 0, the attention sink, keeps it, as in
  /// Csordás et al.'s code (SPEC.md §5.3).
  bool skipPosition0 = false;
};

/// `growc model.mlir --analysis-suite -o suite.so` compiles, in one
/// command, every forward graph that `growc-run analyze` runs for the depth
/// analyses of SPEC.md §5 (docs/analysis.md): the clean model with its
/// early-exit heads, the depth score's skip-until-t graphs, layer skips,
/// window swaps and window reversals. Their kernels are merged into one
/// kernels file (kernels that print alike are compiled once); a manifest
/// (suite.so.analysis.json) lists the variants with their plans.
mlir::LogicalResult compileAnalysisSuite(mlir::MLIRContext &context,
                                         mlir::ModuleOp module,
                                         const ArtifactOptions &artifact,
                                         const AnalysisSuiteOptions &options,
                                         llvm::StringRef kernelsPath);

} // namespace growc

#endif // GROWC_DRIVER_H
