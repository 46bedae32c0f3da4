//===- Growth.cpp - growing a model from the driver
//------------------------===//
//
// The driver's side of growth: find the model, describe and run the growth
// pipeline, print the lineage, reset provenance between the stages of a
// growth run.
//
//===----------------------------------------------------------------------===//

#include "growc/Driver.h"

#include "growc/Growth/LayerSurgery.h"

#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <charconv>

using namespace mlir;
using namespace growc;

FailureOr<grow::ModelOp> growc::findModel(ModuleOp module) {
  auto models = llvm::to_vector(module.getOps<grow::ModelOp>());
  if (models.size() != 1) {
    module.emitError("expected exactly one grow.model, found ")
        << models.size();
    return failure();
  }
  return models.front();
}

std::string growc::formatLineage(grow::ModelOp model) {
  std::string out = "lineage:";
  // One symbol table: ModelOp::lookupParam scans the body, quadratic in the
  // layers of a model grown many steps.
  SymbolTable symbols(model);
  for (grow::LayerOp layer : model.getLayers()) {
    auto q = symbols.lookup<grow::ParamOp>(
        layer.getParamName("self_attn.q_proj.weight"));
    StringRef source = q.getSource() ? *q.getSource() : q.getSymName();
    auto parsed = grow::parseLayerParamName(source);
    out += " " + (parsed ? std::to_string(parsed->first) : source.str());
    if (q.getCopy())
      out += "*";
    // The output projections' initialiser (growc-verify-grown-model keeps
    // both alike): "z" zero (the layer starts as the identity), "x0.5"
    // scaled.
    double scale = initialScale(symbols.lookup<grow::ParamOp>(
        layer.getParamName("self_attn.o_proj.weight")));
    if (scale == 0.0) {
      out += "z";
    } else if (scale != 1.0) {
      char text[32];
      auto end = std::to_chars(text, text + sizeof(text), scale).ptr;
      out += "x" + std::string(text, end);
    }
  }
  return out;
}

void growc::resetProvenance(grow::ModelOp model) {
  for (grow::ParamOp param : model.getParams()) {
    param.removeSourceAttr();
    param.removeCopyAttr();
    // The initialisers describe the value the base started from, which its
    // checkpoint already holds.
    param.removeZeroAttr();
    param.removeScaleAttr();
  }
}

LogicalResult growc::describeGrowth(grow::ModelOp model,
                                    const GrowthPipelineOptions &options,
                                    bool quiet) {
  std::optional<LidasOddPolicy> policy = parseLidasOddPolicy(options.lidasOdd);
  if (!policy)
    return reportError("--lidas-odd must be midas or centred, got '" +
                       options.lidasOdd + "'");
  int64_t layers = model.getLayers().size();
  if (isLayerRecipe(options.method)) {
    // A one-shot recipe: one line for the whole rewrite.
    auto plan = planLayerRecipe(options.layerRecipe(), layers,
                                model.getConfig().getBlockSize());
    if (!plan)
      return reportError("--grow=" + growthMethodName(options.method) + ": " +
                         llvm::toString(plan.takeError()));
    if (!quiet)
      llvm::errs() << "growc: " << plan->describe() << "\n";
    return success();
  }
  int64_t b =
      options.blockSize ? options.blockSize : model.getConfig().getBlockSize();
  for (int64_t i = 0; i < options.steps; ++i) {
    auto step = planGrowthStep(options.method, layers, b, *policy);
    if (!step)
      return reportError(llvm::toString(step.takeError()));
    if (!quiet)
      llvm::errs() << "growc: step " << i + 1 << "/" << options.steps << ": "
                   << step->describe() << "\n";
    layers = step->layers.size();
  }
  return success();
}

LogicalResult growc::growModel(MLIRContext &context, ModuleOp module,
                               GrowthPipelineOptions options) {
  FailureOr<grow::ModelOp> model = findModel(module);
  if (failed(model))
    return failure();
  options.sourceLayers = model->getLayers().size();
  PassManager pm(&context);
  if (failed(applyPassManagerCLOptions(pm)))
    return failure();
  buildGrowthPipeline(pm, options);
  return pm.run(module);
}
