//===- GrowthRun.cpp - the stages of a growth run
//---------------------------===//
//
// `growc start.mlir --grow=M --stages=K -o run.so`: the K stages of a
// growth run, stage i being the input grown i-1 times. Stage 1 is an
// ordinary artifact (run.so, run.so.plan.json) whose plan lists the stages;
// stage i's plan (run.so.stage<i>.plan.json) has its parameters' provenance in
// stage i-1's model, which is how growc-run migrates a live run. Kernels
// are compiled once: a stage whose kernels print exactly like stage 1's
// (the usual case: repeated layers repeat the same shapes) uses run.so.
//
//===----------------------------------------------------------------------===//

#include "growc/Driver.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace growc;

namespace {

/// Each kernel function of `kernels` printed: two graphs whose kernels
/// print alike share one kernels file.
llvm::StringMap<std::string> kernelFingerprints(ModuleOp kernels) {
  llvm::StringMap<std::string> prints;
  for (auto func : kernels.getOps<func::FuncOp>()) {
    std::string text;
    llvm::raw_string_ostream os(text);
    func.print(os);
    prints[func.getSymName()] = std::move(text);
  }
  return prints;
}

} // namespace

LogicalResult growc::compileGrowthRun(MLIRContext &context, ModuleOp start,
                                      const ArtifactOptions &options,
                                      const GrowthPipelineOptions &growth,
                                      StringRef methodName, int64_t stages,
                                      StringRef kernelsPath) {
  if (stages < 1 || stages > 64)
    return reportError("--stages must be in [1, 64] for a growth run");
  FailureOr<grow::ModelOp> startModel = findModel(start);
  if (failed(startModel))
    return failure();
  int64_t b = growth.blockSize ? growth.blockSize
                               : startModel->getConfig().getBlockSize();
  std::string base = kernelsPath.str();
  StringRef ext = llvm::sys::path::extension(kernelsPath);
  std::string stem = base.substr(0, base.size() - ext.size());
  std::string kernelsName = llvm::sys::path::filename(kernelsPath).str();
  GrowthPipelineOptions oneStep = growth;
  oneStep.steps = 1;

  // Every kernels file and plan of the run, renamed into place together
  // (plans last) once all are written.
  ArtifactSet set;
  OwningOpRef<ModuleOp> module = start.clone();
  resetProvenance(*findModel(*module));
  rt::PlanGrowth growthSection;
  growthSection.method = methodName.str();
  growthSection.blockSize = b;
  llvm::StringMap<std::string> sharedKernels;
  std::vector<rt::PlanKernel> sharedKernelEntries;
  std::string sharedKernelsHash;
  std::optional<rt::Plan> firstPlan;
  for (int64_t i = 1; i <= stages; ++i) {
    if (i > 1) {
      resetProvenance(*findModel(*module));
      if (failed(growModel(context, *module, oneStep)))
        return failure();
    }
    int64_t layers = findModel(*module)->getLayers().size();
    std::string planPath =
        i == 1 ? planPathOf(kernelsPath)
               : base + ".stage" + std::to_string(i) + ".plan.json";
    rt::PlanGrowthStage &stage = growthSection.stages.emplace_back();
    stage.stage = i;
    stage.layers = layers;
    stage.planFile = llvm::sys::path::filename(planPath).str();
    auto compiled = compileGraph(context, *module, options, kernelsName);
    if (failed(compiled))
      return failure();
    llvm::StringMap<std::string> prints =
        kernelFingerprints(*compiled->kernels);
    bool shared =
        i > 1 && llvm::all_of(prints, [&](const auto &entry) {
          auto it = sharedKernels.find(entry.getKey());
          return it != sharedKernels.end() && it->second == entry.getValue();
        });
    if (i == 1) {
      sharedKernels = std::move(prints);
      if (failed(writeKernels(*compiled, options, kernelsPath, set)))
        return failure();
      sharedKernelEntries = compiled->plan.kernels;
      sharedKernelsHash = compiled->plan.kernelsHash;
    } else if (shared) {
      // Same kernels: take stage 1's entries (block counts, launches).
      for (rt::PlanKernel &kernel : compiled->plan.kernels)
        for (const rt::PlanKernel &known : sharedKernelEntries)
          if (known.name == kernel.name)
            kernel = known;
      compiled->plan.kernelsHash = sharedKernelsHash;
    } else {
      std::string ownKernels = stem + ".stage" + std::to_string(i) + ext.str();
      compiled->plan.kernelsFile = llvm::sys::path::filename(ownKernels).str();
      if (failed(writeKernels(*compiled, options, ownKernels, set)))
        return failure();
    }
    if (!options.quiet)
      llvm::errs() << llvm::formatv(
          "growc: stage {0}/{1}: {2} layers, {3}\n", i, stages, layers,
          i == 1   ? "kernels compiled"
          : shared ? "kernels shared with stage 1 (none recompiled)"
                   : "kernels of its own");
    if (i == 1) {
      firstPlan = std::move(compiled->plan);
      continue;
    }
    if (failed(writePlan(planPath, compiled->plan, set)))
      return failure();
  }
  firstPlan->growth = std::move(growthSection);
  if (failed(writePlan(planPathOf(kernelsPath), *firstPlan, set)))
    return failure();
  return set.commit();
}
