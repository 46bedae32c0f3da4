//===- VerifyGrownModel.cpp - check a grown model's contract --------------===//
//
// The dialect verifier accepts any well-formed model; a grown model promises
// more (DESIGN.md "Growth is data"): plain layers in index order, whole
// blocks, and a provenance table that a checkpoint can be migrated by. This
// pass checks that promise after the growth passes have run.
//
//===----------------------------------------------------------------------===//

#include "passes/Growth/Passes.h"

#include "growc/Growth/LayerSurgery.h"

#include <charconv>

namespace growc {
#define GEN_PASS_DEF_VERIFYGROWNMODEL
#include "passes/Growth/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;
using namespace growc::grow;

namespace {

/// "zero", "scaled 0.5" or "a plain copy", for messages.
std::string describeInitialiser(ParamOp param) {
  double scale = initialScale(param);
  if (scale == 0.0)
    return "zero";
  if (scale == 1.0)
    return "a plain copy";
  char text[32];
  return "scaled " +
         std::string(text, std::to_chars(text, text + sizeof(text), scale).ptr);
}

/// Checks one parameter's provenance; for layer parameters also returns the
/// source layer so the caller can check that a layer was copied whole.
LogicalResult verifyProvenance(ParamOp param, int64_t sourceLayers,
                               std::optional<int64_t> &sourceLayer) {
  StringRef name = param.getSymName();
  if (!param.getSource())
    return param.emitOpError("parameter '")
           << name << "' has no provenance ('from' source)";
  StringRef source = *param.getSource();
  auto layerName = parseLayerParamName(name);
  if (!layerName) {
    if (source != name)
      return param.emitOpError("parameter '")
             << name << "' must come from itself, not '" << source << "'";
    if (param.getCopy())
      return param.emitOpError("only layer parameters can be copies; '")
             << name << "' is marked copy";
    if (initialScale(param) != 1.0)
      return param.emitOpError("parameter '")
             << name << "' is " << describeInitialiser(param)
             << "; only a layer's output projections can be";
    return success();
  }
  if (initialScale(param) != 1.0) {
    if (!isOutputProjection(layerName->second))
      return param.emitOpError("parameter '")
             << name << "' is " << describeInitialiser(param)
             << "; only a layer's output projections (self_attn.o_proj, "
             << "mlp.down_proj) can be";
    if (!param.getCopy())
      return param.emitOpError("parameter '")
             << name << "' is " << describeInitialiser(param)
             << ", so it is new and must be marked copy";
  }
  auto sourceName = parseLayerParamName(source);
  if (!sourceName || sourceName->second != layerName->second)
    return param.emitOpError("parameter '")
           << name << "' must come from the " << layerName->second
           << " of some layer, not '" << source << "'";
  if (sourceLayers > 0 && sourceName->first >= sourceLayers)
    return param.emitOpError("parameter '")
           << name << "' comes from layer " << sourceName->first
           << ", but the model before growth had " << sourceLayers << " layers";
  sourceLayer = sourceName->first;
  return success();
}

struct VerifyGrownModelPass
    : growc::impl::VerifyGrownModelBase<VerifyGrownModelPass> {
  using VerifyGrownModelBase::VerifyGrownModelBase;

  LogicalResult verifyModel(ModelOp model) {
    if (failed(checkGrowable(model)))
      return failure();
    if (model.getLayers().empty())
      return model.emitOpError("a grown model must have layers");
    // layer index -> (source layer, copy) of its first parameter.
    llvm::DenseMap<int64_t, std::pair<int64_t, bool>> layerSources;
    // layer index -> its first output projection, whose initialiser the
    // other must share: a layer's lineage shows one.
    llvm::DenseMap<int64_t, ParamOp> outputProjections;
    for (ParamOp param : model.getParams()) {
      std::optional<int64_t> sourceLayer;
      if (failed(verifyProvenance(param, sourceLayers, sourceLayer)))
        return failure();
      if (!sourceLayer)
        continue;
      auto [layer, suffix] = *parseLayerParamName(param.getSymName());
      if (isOutputProjection(suffix)) {
        auto [first, inserted] = outputProjections.try_emplace(layer, param);
        if (!inserted && initialScale(first->second) != initialScale(param))
          return param.emitOpError("layer ")
                 << layer << " initialises its output projections "
                 << "differently: '" << param.getSymName() << "' is "
                 << describeInitialiser(param) << ", '"
                 << first->second.getSymName() << "' "
                 << describeInitialiser(first->second);
      }
      auto [it, inserted] = layerSources.try_emplace(
          layer, std::make_pair(*sourceLayer, param.getCopy()));
      if (!inserted &&
          it->second != std::make_pair(*sourceLayer, bool(param.getCopy())))
        return param.emitOpError("layer ")
               << layer << " mixes parameters of different origins: '"
               << param.getSymName() << "' comes from layer " << *sourceLayer
               << (param.getCopy() ? " (copy)" : "")
               << " but the layer's first parameter from layer "
               << it->second.first << (it->second.second ? " (copy)" : "");
    }
    return success();
  }

  void runOnOperation() override {
    for (auto model : getOperation().getOps<ModelOp>())
      if (failed(verifyModel(model)))
        return signalPassFailure();
  }
};
} // namespace
