//===- LayerSurgery.cpp - rebuild or reorder a model's layers -------------===//
//
// Deterministic walks over the layer list; new layers are clones made with
// IRMapping, never pattern rewrites, so the result depends only on the plan.
//
//===----------------------------------------------------------------------===//

#include "growc/Growth/LayerSurgery.h"

#include "growc/runtime/Limits.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>

using namespace mlir;
using namespace growc;
using namespace growc::grow;

LogicalResult growc::checkGrowable(ModelOp model) {
  for (auto [position, layer] : llvm::enumerate(model.getLayers())) {
    if (int64_t(layer.getIndex()) != int64_t(position))
      return layer.emitOpError("cannot grow a model whose layers were "
                               "reordered by an analysis rewrite (layer ")
             << layer.getIndex() << " is at position " << position << ")";
    if (layer.getSkip() || layer.exposesSublayers())
      return layer.emitOpError("cannot grow a model with analysis attributes "
                               "(skip or exposed sublayers); grow first, then "
                               "apply the analysis rewrite");
  }
  if (model.getReturn().getOutputs().size() != 1)
    return model.emitOpError("cannot grow a model with analysis outputs; grow "
                             "first, then add early-exit heads");
  return success();
}

void growc::renumberPositions(ModelOp model) {
  MLIRContext *ctx = model.getContext();
  int64_t blockSize = model.getConfig().getBlockSize();
  Builder b(ctx);
  for (auto [position, layer] : llvm::enumerate(model.getLayers()))
    layer.setBlockAttr(b.getI64IntegerAttr(position / blockSize));
}

void growc::setLnScalingFactors(ModelOp model) {
  if (!model.getLnScaling())
    return;
  Builder b(model.getContext());
  // The same expression as the verifier's check (GrowVerifier.cpp), so the
  // factors compare exactly.
  for (LayerOp layer : model.getLayers())
    layer.setNormScaleAttr(
        b.getF64FloatAttr(1.0 / std::sqrt(double(layer.getIndex()) + 1.0)));
}

namespace {
/// What a new layer parameter inherits from the old one it is created from.
struct ParamRecipe {
  std::string name;
  TypeAttr type;
  std::string source;
  bool copy;
  /// The initialiser: 0 zero, 1 the source's value, else a scaled copy.
  double scale;
};
} // namespace

bool growc::isOutputProjection(StringRef suffix) {
  return suffix == "self_attn.o_proj.weight" ||
         suffix == "mlp.down_proj.weight";
}

double growc::initialScale(ParamOp param) {
  if (param.getZero())
    return 0.0;
  return param.getScale() ? param.getScale()->convertToDouble() : 1.0;
}

LogicalResult growc::rebuildLayers(ModelOp model,
                                   ArrayRef<LayerSource> newLayers,
                                   int64_t blockSize) {
  if (failed(checkGrowable(model)))
    return failure();
  SmallVector<LayerOp> oldLayers = model.getLayers();
  if (oldLayers.empty())
    return model.emitOpError("cannot grow a model without layers");
  if (newLayers.empty() || int64_t(newLayers.size()) % blockSize != 0)
    return model.emitOpError("the new layer list (")
           << newLayers.size() << " layers) is not a whole number of blocks of "
           << blockSize;
  for (const LayerSource &src : newLayers) {
    if (src.oldIndex < 0 || src.oldIndex >= int64_t(oldLayers.size()))
      return model.emitOpError("growth plan names layer ")
             << src.oldIndex << " of a model with " << oldLayers.size()
             << " layers";
    if (!std::isfinite(src.outputScale))
      return model.emitOpError("growth plan scales the output projections "
                               "of a copy of layer ")
             << src.oldIndex << " by " << src.outputScale
             << "; the factor must be finite";
  }

  // Recipes for the new parameters, read before anything is erased. One
  // symbol table for all lookups: ModelOp::lookupParam scans the body, which
  // made each rebuild quadratic in the layer count.
  SymbolTable symbols(model);
  SmallVector<ParamRecipe> recipes;
  for (auto [position, src] : llvm::enumerate(newLayers)) {
    for (const char *suffix : kLayerParamSuffixes) {
      auto old = symbols.lookup<ParamOp>(layerParamName(src.oldIndex, suffix));
      if (!old)
        return model.emitOpError("layer ")
               << src.oldIndex << " has no parameter '" << suffix << "'";
      // Initialisers compose like the provenance: the output projections
      // of a layer copied with outputScale S start from S times whatever
      // the old parameter started from (zero stays zero).
      double scale = initialScale(old);
      if (isOutputProjection(suffix))
        scale *= src.outputScale;
      if (!std::isfinite(scale))
        return model.emitOpError("the initial scale of '")
               << layerParamName(position, suffix)
               << "' overflows: " << initialScale(old) << " (of '"
               << old.getSymName() << "') times the growth plan's "
               << src.outputScale;
      // A layer whose value is not its source's is a new layer: its
      // moments are those of a new one (--zero-new-moments), and all of a
      // layer's parameters share one copy flag (growc-verify-grown-model).
      recipes.push_back(
          {layerParamName(position, suffix), old.getTypeAttr(),
           old.getSource() ? old.getSource()->str() : old.getSymName().str(),
           src.isCopy || old.getCopy() || src.outputScale != 1.0, scale});
    }
  }

  // Replace the layer parameters: new ones go where the old ones ended
  // (the block's terminator guarantees there is a next op).
  // Embedding, final norm and head stay; their provenance is themselves.
  SmallVector<ParamOp> oldParams;
  for (ParamOp param : model.getParams()) {
    if (parseLayerParamName(param.getSymName()))
      oldParams.push_back(param);
    else if (!param.getSource())
      param.setSource(param.getSymName());
  }
  OpBuilder builder(model.getContext());
  Location loc = oldParams.front().getLoc();
  builder.setInsertionPoint(oldParams.back()->getNextNode());
  for (ParamOp param : oldParams)
    param.erase();
  for (const ParamRecipe &recipe : recipes) {
    bool zero = recipe.scale == 0.0;
    FloatAttr scale = zero || recipe.scale == 1.0
                          ? FloatAttr()
                          : builder.getF64FloatAttr(recipe.scale);
    ParamOp::create(builder, loc, recipe.name,
                    cast<RankedTensorType>(recipe.type.getValue()), recipe.copy,
                    zero, scale, builder.getStringAttr(recipe.source),
                    /*frozen=*/false);
  }

  // Clone the layers into a new chain in front of the old one.
  builder.setInsertionPoint(oldLayers.front());
  Value stream = oldLayers.front().getInput();
  for (auto [position, src] : llvm::enumerate(newLayers)) {
    LayerOp old = oldLayers[src.oldIndex];
    IRMapping mapping;
    mapping.map(old.getInput(), stream);
    auto layer = cast<LayerOp>(builder.clone(*old, mapping));
    layer.setIndexAttr(builder.getI64IntegerAttr(position));
    stream = layer.getOutput();
  }
  oldLayers.back().getOutput().replaceAllUsesWith(stream);
  for (LayerOp old : llvm::reverse(oldLayers))
    old.erase();

  model.setConfigAttr(model.getConfig().withBlockSize(blockSize));
  renumberPositions(model);
  // Growth gives layers new indices (index = position in the grown model,
  // which is trained as such), so a grown layer gets the factor of its new
  // index, not of the layer it was copied from.
  setLnScalingFactors(model);
  return success();
}

LogicalResult growc::reorderLayers(ModelOp model, ArrayRef<int64_t> order) {
  SmallVector<LayerOp> layers = model.getLayers();
  if (order.size() != layers.size())
    return model.emitOpError("layer order has ")
           << order.size() << " entries for " << layers.size() << " layers";
  SmallVector<bool> seen(layers.size(), false);
  for (int64_t from : order) {
    if (from < 0 || from >= int64_t(layers.size()) || seen[from])
      return model.emitOpError("layer order is not a permutation");
    seen[from] = true;
  }
  if (layers.empty())
    return success();
  // Only the residual chain may read layer outputs: probes (early-exit
  // heads) would be left reading from a layer at another depth.
  for (auto [position, layer] : llvm::enumerate(layers)) {
    if (layer.exposesSublayers())
      return layer.emitOpError("cannot reorder layers after sublayer outputs "
                               "were exposed; reorder first, then add "
                               "early-exit heads");
    bool last = position + 1 == layers.size();
    for (Operation *user : layer.getOutput().getUsers())
      if (!(last ? isa<RMSNormOp>(user) : user == layers[position + 1]) ||
          !layer.getOutput().hasOneUse())
        return layer.emitOpError("cannot reorder layers whose outputs are read "
                                 "by analysis ops; reorder first, then add "
                                 "early-exit heads");
  }

  Value input = layers.front().getInput();
  Value oldOutput = layers.back().getOutput();
  Operation *anchor = layers.back()->getNextNode();
  // Detach the final norm first so the chain can be rewired freely.
  Value newOutput = layers[order.back()].getOutput();
  if (newOutput != oldOutput) // RAUW with itself never terminates.
    oldOutput.replaceAllUsesWith(newOutput);
  Value stream = input;
  for (int64_t from : order) {
    LayerOp layer = layers[from];
    layer->moveBefore(anchor);
    layer.getInputMutable().assign(stream);
    stream = layer.getOutput();
  }
  // Indices and norm_scale move with the layers: only blocks follow the
  // position.
  renumberPositions(model);
  return success();
}

LogicalResult growc::growModel(ModelOp model, GrowthMethod method,
                               int64_t blockSize, int64_t steps,
                               LidasOddPolicy oddPolicy,
                               function_ref<void(const GrowthStep &)> onStep) {
  if (steps < 0)
    return model.emitOpError("growth steps must be non-negative, got ")
           << steps;
  if (blockSize == 0)
    blockSize = model.getConfig().getBlockSize();
  // Even zero steps leave a complete (identity) provenance table, so a
  // checkpoint can always be migrated by it.
  for (ParamOp param : model.getParams())
    if (!param.getSource())
      param.setSource(param.getSymName());
  if (steps == 0)
    return success();
  if (failed(checkGrowable(model)))
    return failure();
  // The steps are composed into one layer list and the IR is rebuilt once:
  // rebuilding after every step cloned the whole model each time (quadratic
  // in the steps, cubic with the lookups). Composing gives the same IR, since
  // a layer cloned from a clone equals one cloned from the original, and a
  // parameter's provenance is its original's with `copy` set if any step
  // copied it.
  int64_t layerCount = model.getLayers().size();
  int64_t added, grownCount;
  if (llvm::MulOverflow(steps, std::max<int64_t>(blockSize, 1), added) ||
      llvm::AddOverflow(layerCount, added, grownCount) ||
      grownCount > rt::limits::kMaxLayers)
    return model.emitOpError("growing ")
           << layerCount << " layers " << steps
           << " times exceeds growc's limit of " << rt::limits::kMaxLayers
           << " layers (docs/usage.md#limits)";
  SmallVector<LayerSource> composed;
  for (int64_t i = 0; i < layerCount; ++i)
    composed.push_back({i, false});
  for (int64_t i = 0; i < steps; ++i) {
    llvm::Expected<GrowthStep> step =
        planGrowthStep(method, composed.size(), blockSize, oddPolicy);
    if (!step)
      return model.emitOpError("cannot apply ")
             << growthMethodName(method)
             << " growth: " << llvm::toString(step.takeError());
    // The step keeps every old layer in order and inserts copies of
    // [copyBegin, copyEnd) before insertAt (GrowthPlan.h), so the composed
    // list grows in place.
    SmallVector<LayerSource> copies(composed.begin() + step->copyBegin,
                                    composed.begin() + step->copyEnd);
    for (LayerSource &copy : copies)
      copy.isCopy = true;
    composed.insert(composed.begin() + step->insertAt, copies.begin(),
                    copies.end());
    if (onStep)
      onStep(*step);
  }
  return rebuildLayers(model, composed, blockSize);
}

LogicalResult growc::applyLayerRecipe(ModelOp model,
                                      const LayerRecipe &recipe) {
  if (failed(checkGrowable(model)))
    return failure();
  llvm::Expected<LayerPlan> plan = planLayerRecipe(
      recipe, model.getLayers().size(), model.getConfig().getBlockSize());
  if (!plan)
    return model.emitOpError("cannot apply ")
           << growthMethodName(recipe.method) << ": "
           << llvm::toString(plan.takeError());
  return rebuildLayers(model, plan->layers, plan->blockSize);
}
