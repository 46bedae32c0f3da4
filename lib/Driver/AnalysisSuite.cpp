//===- AnalysisSuite.cpp - every analysis graph of a checkpoint -----------===//
//
// Builds the variants of SPEC.md §5 with the analysis passes (the same
// pipelines `growc --analysis-passes` accepts), lowers each like any
// forward graph (compileGraph), merges their kernels into one kernels file
// and writes a plan per variant plus the manifest growc-run analyze reads.
//
//===----------------------------------------------------------------------===//

#include "growc/Driver.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace growc;
namespace json = llvm::json;

namespace {

/// One analysis graph: a name (used in file names), the manifest entry's
/// fields and the pass pipeline that builds it from the model.
struct Variant {
  std::string name;
  json::Object entry;
  std::string pipeline;
};

/// The variants of a model with `layers` layers (docs/analysis.md). The
/// early-exit heads are added last, as the pass requires; graphs that only
/// need the final logits get none (a [B, T, V] logit-lens output per layer
/// is the largest tensor of a graph).
std::vector<Variant> planVariants(int64_t layers, int64_t split,
                                  const AnalysisSuiteOptions &options) {
  std::vector<Variant> variants;
  variants.push_back(
      {"clean", json::Object{{"kind", "clean"}},
       "growc-add-early-exit-heads{lens-at=" + options.lensAt + "}"});
  // Depth score: hidden.* for the contributions Δ_j, logits for o_l. The
  // split is the graph input `split`, one per batch row, so that growc-run
  // analyze can split each prompt at its own answer positions; `until` is
  // the split of held-out windows.
  const int64_t from = options.skipPosition0 ? 0 : 1;
  for (int64_t l = 0; l < layers; ++l)
    variants.push_back(
        {llvm::formatv("skip_until.{0}", l).str(),
         json::Object{{"kind", "skip_until"},
                      {"layer", l},
                      {"until", split},
                      {"split_input", true},
                      {"from", from}},
         llvm::formatv(
             "growc-skip-layers{{layers={0} split-input=true "
             "from={1}},growc-add-early-exit-heads{{logit-lens=false}",
             l, from)
             .str()});
  for (int64_t l = 0; l < layers; ++l)
    variants.push_back(
        {llvm::formatv("skip.{0}", l).str(),
         json::Object{{"kind", "skip"}, {"layer", l}},
         llvm::formatv("growc-skip-layers{{layers={0}}", l).str()});
  for (int64_t s : options.swapWindows) {
    // Window 0 leaves the model as it is: one variant, at position 0.
    for (int64_t p = 0; s == 0 ? p == 0 : p + 2 * s <= layers; ++p)
      variants.push_back(
          {llvm::formatv("swap.{0}.{1}", s, p).str(),
           json::Object{{"kind", "swap"}, {"size", s}, {"position", p}},
           llvm::formatv("growc-swap-layer-windows{{position={0} size={1}}", p,
                         s)
               .str()});
  }
  for (int64_t s : options.reverseWindows)
    for (int64_t p = 0; p + s <= layers; ++p)
      variants.push_back(
          {llvm::formatv("reverse.{0}.{1}", s, p).str(),
           json::Object{{"kind", "reverse"}, {"size", s}, {"start", p}},
           llvm::formatv("growc-reverse-layer-window{{start={0} size={1}}", p,
                         s)
               .str()});
  return variants;
}

/// A kernel function printed under a fixed name: two kernels compare equal
/// when their code does, whatever their graphs called them.
std::string fingerprint(func::FuncOp func) {
  func::FuncOp copy = func.clone();
  llvm::scope_exit erase([&] { copy->erase(); });
  copy.setSymName("growc_kernel");
  std::string text;
  llvm::raw_string_ostream os(text);
  copy.print(os);
  return text;
}

/// The kernel functions of every variant, merged into one module: kernels
/// already present (same fingerprint) are reused, new ones are added under a
/// name that is free. Renames the variants' plan entries accordingly.
class KernelMerger {
public:
  explicit KernelMerger(ModuleOp merged) : merged(merged) {
    for (auto func : merged.getOps<func::FuncOp>())
      names.insert(func.getSymName());
  }

  /// Moves the kernels of `graph` into the merged module (adding only those
  /// not present yet) and renames its plan's kernel entries.
  LogicalResult add(CompiledGraph &graph, int64_t variantIndex) {
    llvm::StringMap<std::string> renamed;
    for (auto func : graph.kernels->getOps<func::FuncOp>()) {
      if (func.isDeclaration()) {
        // External functions keep their names; they must agree.
        if (auto known = SymbolTable::lookupSymbolIn(merged, func.getSymName());
            known && cast<func::FuncOp>(known).getFunctionType() !=
                         func.getFunctionType())
          return func.emitError("declared with two types in the suite");
        if (names.insert(func.getSymName()).second)
          merged.push_back(func.clone());
        continue;
      }
      std::string print = fingerprint(func);
      auto known = byPrint.find(print);
      if (known != byPrint.end()) {
        renamed[func.getSymName()] = known->second;
        continue;
      }
      std::string name = func.getSymName().str();
      if (!names.insert(name).second) {
        name = llvm::formatv("{0}_v{1}", func.getSymName(), variantIndex);
        for (int i = 1; !names.insert(name).second; ++i)
          name =
              llvm::formatv("{0}_v{1}_{2}", func.getSymName(), variantIndex, i);
      }
      func::FuncOp copy = func.clone();
      copy.setSymName(name);
      merged.push_back(copy);
      byPrint[print] = name;
      renamed[func.getSymName()] = name;
      kernelEntries.emplace_back();
      entryIndex[name] = kernelEntries.size() - 1;
    }
    for (rt::PlanKernel &kernel : graph.plan.kernels) {
      auto it = renamed.find(kernel.name);
      if (it == renamed.end())
        return emitError(UnknownLoc::get(merged.getContext()))
               << "plan kernel '" << kernel.name << "' has no kernel function";
      std::string name = it->second;
      kernel.name = name;
      kernel.symbol = name + "_packed";
      std::optional<rt::PlanKernel> &slot = kernelEntries[entryIndex.at(name)];
      if (!slot)
        slot = kernel;
    }
    return success();
  }

  /// The plan entries of every merged kernel (for writeKernels to complete).
  std::vector<rt::PlanKernel> takeEntries() {
    std::vector<rt::PlanKernel> entries;
    for (std::optional<rt::PlanKernel> &entry : kernelEntries)
      if (entry)
        entries.push_back(std::move(*entry));
    return entries;
  }

private:
  ModuleOp merged;
  llvm::StringSet<> names;
  llvm::StringMap<std::string> byPrint;
  std::vector<std::optional<rt::PlanKernel>> kernelEntries;
  llvm::StringMap<size_t> entryIndex;
};

} // namespace

LogicalResult growc::compileAnalysisSuite(MLIRContext &context, ModuleOp module,
                                          const ArtifactOptions &artifact,
                                          const AnalysisSuiteOptions &options,
                                          StringRef kernelsPath) {
  auto models = llvm::to_vector(module.getOps<grow::ModelOp>());
  if (models.size() != 1)
    return reportError(llvm::formatv(
        "expected exactly one grow.model, found {0}", models.size()));
  grow::ModelOp model = models.front();
  int64_t layers = model.getLayers().size();
  if (layers < 1)
    return reportError("--analysis-suite needs a model with layers");
  int64_t seq = artifact.graph.seq;
  int64_t split = options.split < 0 ? seq / 2 : options.split;
  if (split < 1 || split >= seq)
    return reportError(
        llvm::formatv("--analysis-split must be in [1, {0}) (the "
                      "compiled --seq {1}): positions before it are "
                      "skipped, effects are measured from it on",
                      seq, seq));
  for (int64_t s : options.swapWindows)
    if (s < 0)
      return reportError("--analysis-swap-windows must be non-negative");
  for (int64_t s : options.reverseWindows)
    if (s < 2)
      return reportError("--analysis-reverse-windows must be at least 2");
  if (options.lensAt != "input" && options.lensAt != "output")
    return reportError("--analysis-lens-at must be 'input' or 'output', not '" +
                       options.lensAt + "'");

  std::string base = kernelsPath.str();
  std::string kernelsName = llvm::sys::path::filename(kernelsPath).str();
  std::string manifestPath = base + ".analysis.json";

  // The kernels file, every variant's plan and the manifest, renamed into
  // place together (plans and manifest last) once all are written.
  ArtifactSet set;

  std::vector<Variant> variants = planVariants(layers, split, options);
  OwningOpRef<ModuleOp> merged = ModuleOp::create(UnknownLoc::get(&context));
  KernelMerger merger(*merged);
  std::vector<rt::Plan> plans;
  for (size_t i = 0; i < variants.size(); ++i) {
    Variant &variant = variants[i];
    OwningOpRef<ModuleOp> rewritten = module.clone();
    PassManager pm(&context);
    if (failed(parsePassPipeline(variant.pipeline, pm)))
      return reportError("cannot build the analysis pipeline '" +
                         variant.pipeline + "'");
    if (failed(pm.run(*rewritten)))
      return failure();
    FailureOr<CompiledGraph> graph =
        compileGraph(context, *rewritten, artifact, kernelsName);
    if (failed(graph) || failed(merger.add(*graph, int64_t(i))))
      return failure();
    plans.push_back(std::move(graph->plan));
  }

  // One kernels file for every variant; then each plan takes its kernels'
  // completed entries (block counts on the CPU, launches for PTX).
  CompiledGraph all;
  all.kernels = std::move(merged);
  all.plan.kernels = merger.takeEntries();
  // The variants' library attention steps: PTX then carries the library.
  for (const rt::Plan &plan : plans)
    for (const rt::PlanStep &step : plan.steps)
      if (step.op == rt::PlanStep::Op::Attention ||
          step.op == rt::PlanStep::Op::AttentionGrad)
        all.plan.steps.push_back(step);
  size_t kernelCount = all.plan.kernels.size();
  if (failed(writeKernels(all, artifact, kernelsPath, set)))
    return failure();
  llvm::StringMap<rt::PlanKernel> completed;
  for (const rt::PlanKernel &kernel : all.plan.kernels)
    completed[kernel.name] = kernel;

  json::Array entries;
  for (size_t i = 0; i < variants.size(); ++i) {
    for (rt::PlanKernel &kernel : plans[i].kernels)
      kernel = completed.at(kernel.name);
    plans[i].kernelsHash = all.plan.kernelsHash;
    std::string planPath = base + "." + variants[i].name + ".plan.json";
    if (failed(writePlan(planPath, plans[i], set)))
      return failure();
    json::Object entry = std::move(variants[i].entry);
    entry["name"] = variants[i].name;
    entry["plan"] = llvm::sys::path::filename(planPath).str();
    entries.push_back(std::move(entry));
  }

  // Growth lineage of every layer, for the report (which layer a grown
  // model's layer was copied from is in its parameters' names only until
  // the checkpoint is migrated; the model's block size is kept instead).
  json::Object manifest{
      {"format", "growc-analysis-suite"},
      {"version", 1},
      {"model", model.getSymName().str()},
      {"kernels_file", kernelsName},
      {"layers", layers},
      {"block_size", model.getConfig().getBlockSize()},
      {"ln_scaling", bool(model.getLnScaling())},
      // The final norm's epsilon: the tuned lens decodes through that norm.
      {"rms_norm_eps", model.getConfig().getEps().convertToDouble()},
      {"batch", artifact.graph.batch},
      {"seq", seq},
      {"split", split},
      {"keep_position_0", !options.skipPosition0},
      {"variants", std::move(entries)},
  };
  if (failed(writeJson(manifestPath, std::move(manifest), set)) ||
      failed(set.commit()))
    return failure();
  if (!artifact.quiet)
    llvm::errs() << llvm::formatv("growc: analysis suite: {0} graphs of a "
                                  "{1}-layer model, {2} kernels in {3}, "
                                  "manifest {4}\n",
                                  variants.size(), layers, kernelCount,
                                  kernelsName,
                                  llvm::sys::path::filename(manifestPath));
  return success();
}
