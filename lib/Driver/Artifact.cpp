//===- Artifact.cpp - one graph to kernels + plan
//--------------------------===//
//
// The artifact of one graph: the training-graph and kernel pipelines, the
// plan emitter, then a backend (native CPU code or PTX) whose results
// complete the plan's kernel entries. `-o fwd.so` writes fwd.so and
// fwd.so.plan.json; `-o fwd.ptx` writes fwd.ptx and fwd.ptx.plan.json. Files
// appear whole or not at all (ArtifactSet), and the plan is bound to its
// kernels file: it records the file's content hash, and the file carries
// the plan's kernel entries as its signature table (rt/KernelsFile.h).
//
//===----------------------------------------------------------------------===//

#include "growc/Driver.h"
#include "growc/runtime/ContentHash.h"
#include "growc/runtime/KernelsFile.h"
#include "growc/runtime/Limits.h"
#include "growc/runtime/Plan.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace growc;
namespace json = llvm::json;

LogicalResult growc::reportError(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "growc") << message << "\n";
  return failure();
}

namespace {

/// The plan's kernels gain their launch configuration (PTX).
LogicalResult addLaunches(rt::Plan &plan,
                          const std::vector<GpuLaunch> &launches) {
  for (rt::PlanKernel &kernel : plan.kernels) {
    auto launch = llvm::find_if(
        launches, [&](const GpuLaunch &l) { return l.name == kernel.name; });
    if (launch == launches.end())
      return reportError("kernel '" + kernel.name + "' has no GPU launch");
    kernel.symbol = kernel.name;
    rt::PlanLaunch &config = kernel.launch.emplace();
    llvm::copy(launch->grid, config.grid);
    llvm::copy(launch->block, config.block);
    config.params.assign(launch->params.begin(), launch->params.end());
    config.sharedBytes = launch->dynamicSharedBytes;
    kernel.kind = launch->kind;
  }
  return success();
}

/// The plan's kernels gain their block counts (the CPU runtime's unit of
/// splitting a kernel over threads).
LogicalResult addBlockCounts(rt::Plan &plan,
                             const llvm::StringMap<int64_t> &blocks) {
  for (rt::PlanKernel &kernel : plan.kernels) {
    auto it = blocks.find(kernel.name);
    if (it == blocks.end())
      return reportError("kernel '" + kernel.name + "' has no block count");
    kernel.blocks = it->second;
  }
  return success();
}

} // namespace

FailureOr<CompiledGraph> growc::compileGraph(MLIRContext &context,
                                             ModuleOp module,
                                             const ArtifactOptions &options,
                                             StringRef kernelsFile) {
  CompiledGraph out;
  out.kernels = module.clone();
  // MLIR's pass-manager options (--mlir-print-ir-after-all, --mlir-timing,
  // ...) apply to the pipelines, as in growc-opt.
  PassManager pm(&context);
  if (failed(applyPassManagerCLOptions(pm)))
    return failure();
  applyDefaultTimingPassManagerCLOptions(pm);
  buildTrainingGraphPipeline(pm, options.graph);
  buildKernelPipeline(pm, options.kernels);
  if (failed(pm.run(*out.kernels)))
    return failure();
  auto plan = emitPlan(*out.kernels, options.ptx ? "nvptx" : "cpu", kernelsFile,
                       options.allReduceBucketBytes);
  if (!plan) {
    (void)reportError(llvm::toString(plan.takeError()));
    return failure();
  }
  out.plan = std::move(*plan);
  // The driver's bounds before lowering are lower bounds (parameters,
  // logits); the planned arena is the whole truth, checked before anything
  // is written.
  if (out.plan.arenaSize > rt::limits::kMaxArenaBytes)
    return reportError(llvm::formatv(
        "the graph needs a {0:e1}-byte arena (batch {1}, seq {2}); the "
        "runtime's arena holds at most 2^47 bytes (docs/usage.md#limits)",
        double(out.plan.arenaSize), out.plan.batch, out.plan.seq));
  return out;
}

LogicalResult growc::writeKernels(CompiledGraph &graph,
                                  const ArtifactOptions &options,
                                  StringRef kernelsPath, ArtifactSet &set) {
  if (!options.ptx) {
    auto blocks = lowerKernelsToLLVM(*graph.kernels);
    if (failed(blocks) || failed(addBlockCounts(graph.plan, *blocks)))
      return failure();
    // The plan's kernel entries are complete: they are what was compiled.
    embedKernelSignatures(*graph.kernels,
                          rt::serializeKernelTable(graph.plan.kernels));
    FailureOr<std::string> temp = set.stage(kernelsPath);
    if (failed(temp))
      return failure();
    if (llvm::Error err = writeCpuSharedObject(*graph.kernels, *temp))
      return reportError(set.finalNames(llvm::toString(std::move(err))));
    // The plan is bound to the file exactly as written.
    rt::StatusOr<std::string> hash = rt::hashFile(*temp);
    if (!hash.isOk())
      return reportError(set.finalNames(hash.status().message()));
    graph.plan.kernelsHash = *hash;
    return success();
  }
  auto artifact = compileKernelsToPtx(*graph.kernels, options.ptxOptions);
  if (!artifact)
    return reportError(llvm::toString(artifact.takeError()));
  if (failed(addLaunches(graph.plan, artifact->launches)))
    return failure();
  // Attention and adamw steps launch the kernel library's entry points,
  // which the artifact carries.
  if (llvm::Error err = linkKernelLibrary(graph.plan, artifact->ptx))
    return reportError(llvm::toString(std::move(err)));
  std::string &ptx = artifact->ptx;
  if (!ptx.empty() && ptx.back() != '\n')
    ptx += '\n';
  ptx += rt::ptxSignatureLine(rt::serializeKernelTable(graph.plan.kernels));
  graph.plan.kernelsHash = rt::hashBytes(ptx);
  return set.writeText(kernelsPath, ptx);
}

LogicalResult growc::writeJson(StringRef path, json::Object value,
                               ArtifactSet &set) {
  return set.write(
      path,
      [&](llvm::raw_ostream &os) {
        os << llvm::formatv("{0:2}", json::Value(std::move(value))) << "\n";
      },
      /*plan=*/true);
}

LogicalResult growc::writePlan(StringRef path, const rt::Plan &plan,
                               ArtifactSet &set) {
  // The runtime's writer and verifier (runtime/lib/Plan*.cpp): what is
  // written is the schema's own text, and only once the runtime accepts it.
  std::string text = rt::serializePlan(plan);
  rt::StatusOr<rt::Plan> verified = rt::parsePlan(text, path.str());
  if (!verified.isOk())
    return reportError("internal error: the plan fails the runtime's "
                       "verification: " +
                       verified.status().message());
  return set.writeText(path, text, /*plan=*/true);
}

std::string growc::planPathOf(StringRef kernelsPath) {
  // The kernels file's whole name: fwd.so and fwd.ptx in one folder have
  // plans of their own (fwd.so.plan.json, fwd.ptx.plan.json).
  return (kernelsPath + ".plan.json").str();
}

LogicalResult growc::compileArtifact(MLIRContext &context, ModuleOp module,
                                     const ArtifactOptions &options,
                                     StringRef kernelsPath) {
  auto compiled = compileGraph(context, module, options,
                               llvm::sys::path::filename(kernelsPath));
  ArtifactSet set;
  if (failed(compiled) ||
      failed(writeKernels(*compiled, options, kernelsPath, set)) ||
      failed(writePlan(planPathOf(kernelsPath), compiled->plan, set)))
    return failure();
  return set.commit();
}
