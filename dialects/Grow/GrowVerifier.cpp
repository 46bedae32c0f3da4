//===- GrowVerifier.cpp - whole-model structural rules --------------------===//
//
// ModelOp's region verifier: the rules that need the configuration and all
// ops at once. Parameters must exist with the shapes the config demands and
// each must be read by some op; layer indices are dense; layers are grouped
// into whole blocks; the residual stream is one chain from the embedding
// through every layer to the final norm and head that produce the logits.
//
//===----------------------------------------------------------------------===//

#include "dialects/Grow/GrowOps.h"

#include "llvm/ADT/StringMap.h"

#include <cmath>

using namespace mlir;
using namespace growc::grow;

namespace {

std::string formatShape(ArrayRef<int64_t> shape) {
  std::string out = "[";
  llvm::raw_string_ostream os(out);
  llvm::interleaveComma(shape, os);
  os << "]";
  return out;
}

/// Checks that every op reads existing parameters of the required shapes and
/// under the canonical names, and that no parameter is left unread.
LogicalResult verifyParameters(ModelOp model, ConfigAttr config) {
  llvm::StringMap<ParamOp> params;
  for (ParamOp param : model.getParams())
    params[param.getSymName()] = param;

  llvm::StringMap<bool> used;
  SmallVector<ParameterRequirement> required;
  for (Operation &op : model.getBodyBlock()) {
    auto user = dyn_cast<ParameterUserOpInterface>(&op);
    if (!user)
      continue;
    required.clear();
    user.getParameterRequirements(config, required);
    for (const ParameterRequirement &req : required) {
      auto it = params.find(req.name);
      if (it == params.end())
        return op.emitOpError("reads parameter '")
               << req.name << "', which the model does not declare";
      ArrayRef<int64_t> shape = it->second.getTensorType().getShape();
      if (shape != ArrayRef<int64_t>(req.shape))
        return it->second.emitOpError("parameter '")
               << req.name << "' has shape " << formatShape(shape)
               << " but the config requires " << formatShape(req.shape);
      used[req.name] = true;
    }
  }
  for (ParamOp param : model.getParams())
    if (!used.count(param.getSymName()))
      return param.emitOpError("parameter '")
             << param.getSymName() << "' is not read by any op of the model";

  // Canonical names make checkpoints load unchanged.
  for (Operation &op : model.getBodyBlock()) {
    StringRef expected, actual;
    if (auto embed = dyn_cast<EmbedOp>(op)) {
      expected = kEmbedName;
      actual = embed.getWeight();
    } else if (auto norm = dyn_cast<RMSNormOp>(op)) {
      expected = kFinalNormName;
      actual = norm.getWeight();
    } else if (auto head = dyn_cast<LMHeadOp>(op)) {
      expected = config.getTied() ? kEmbedName : kLMHeadName;
      actual = head.getWeight();
    } else {
      continue;
    }
    if (actual != expected)
      return op.emitOpError("must read '")
             << expected << "' (got '" << actual << "')"
             << (isa<LMHeadOp>(op)
                     ? (config.getTied() ? " because embeddings are tied"
                                         : " because embeddings are untied")
                     : "");
  }
  return success();
}

/// Checks the value types against the config: hidden states end in `hidden`,
/// logits in `vocab`.
LogicalResult verifyTypes(ModelOp model, ConfigAttr config) {
  auto lastDim = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getShape().back();
  };
  auto checkHidden = [&](Operation *op, Value v) -> LogicalResult {
    if (lastDim(v) != config.getHidden())
      return op->emitOpError("hidden states must end in dimension ")
             << config.getHidden() << " (config hidden), got " << v.getType();
    return success();
  };
  for (Operation &op : model.getBodyBlock()) {
    if (isa<EmbedOp, LayerOp, RMSNormOp>(op)) {
      for (Value result : op.getResults())
        if (failed(checkHidden(&op, result)))
          return failure();
    } else if (auto head = dyn_cast<LMHeadOp>(op)) {
      if (failed(checkHidden(&op, head.getInput())))
        return failure();
      if (lastDim(head.getLogits()) != config.getVocab())
        return op.emitOpError("logits must end in dimension ")
               << config.getVocab() << " (config vocab), got "
               << head.getLogits().getType();
    }
  }
  return success();
}

/// Checks layer indices and block grouping.
LogicalResult verifyLayers(ModelOp model, ConfigAttr config) {
  SmallVector<LayerOp> layers = model.getLayers();
  int64_t numLayers = layers.size(), blockSize = config.getBlockSize();
  SmallVector<LayerOp> byIndex(numLayers);
  for (auto [position, layer] : llvm::enumerate(layers)) {
    int64_t index = layer.getIndex();
    if (index >= numLayers)
      return layer.emitOpError("layer index ")
             << index << " is out of range: the model has " << numLayers
             << " layers, so indices must be dense in [0, " << numLayers << ")";
    if (byIndex[index])
      return layer.emitOpError("layer index ") << index << " is used twice";
    byIndex[index] = layer;
    int64_t expectedBlock = static_cast<int64_t>(position) / blockSize;
    if (int64_t(layer.getBlock()) != expectedBlock)
      return layer.emitOpError("layer at position ")
             << position << " must be in block " << expectedBlock
             << " (block_size " << blockSize << "), got block "
             << layer.getBlock();
    // The LN-Scaling factor belongs to the layer (its index, the depth it
    // was trained at), not to its position: swaps and reversals move it
    // with the layer.
    if (model.getLnScaling()) {
      double expected = 1.0 / std::sqrt(static_cast<double>(index) + 1.0);
      double scale = layer.getNormScale().convertToDouble();
      if (std::abs(scale - expected) > 1e-12 * expected)
        return layer.emitOpError("with ln_scaling, layer ")
               << index << " (at position " << position
               << ") must have norm_scale 1/sqrt(" << index + 1
               << ") = " << expected << ", got " << scale;
    }
  }
  if (numLayers % blockSize != 0)
    return model.emitOpError("has ")
           << numLayers << " layers, which is not a whole number of blocks of "
           << blockSize;
  return success();
}

/// Checks the residual-stream chain: tokens -> embed -> layers in order ->
/// rms_norm -> lm_head -> "logits".
LogicalResult verifyChain(ModelOp model) {
  auto embeds = llvm::to_vector(model.getBodyBlock().getOps<EmbedOp>());
  if (embeds.size() != 1)
    return model.emitOpError("must have exactly one grow.embed, found ")
           << embeds.size();
  EmbedOp embed = embeds.front();
  if (embed.getTokens() != model.getTokens())
    return embed.emitOpError("must embed the model's token argument");

  Value stream = embed.getOutput();
  for (LayerOp layer : model.getLayers()) {
    if (layer.getInput() != stream)
      return layer.emitOpError("must read the residual stream produced by the "
                               "previous layer (or the embedding)");
    stream = layer.getOutput();
  }
  ReturnOp ret = model.getReturn();
  auto head = ret.getOutputs()[0].getDefiningOp<LMHeadOp>();
  auto norm = head ? head.getInput().getDefiningOp<RMSNormOp>() : RMSNormOp();
  if (!head || !norm || norm.getInput() != stream)
    return ret.emitOpError("\"logits\" must be grow.lm_head of grow.rms_norm "
                           "of the last layer's output");
  return success();
}

} // namespace

LogicalResult ModelOp::verifyRegions() {
  Block &body = getBodyBlock();
  if (body.getNumArguments() != 1)
    return emitOpError("body must take exactly one argument (the tokens)");
  auto tokensType = dyn_cast<RankedTensorType>(getTokens().getType());
  if (!tokensType || tokensType.getRank() != 2 ||
      !tokensType.getElementType().isInteger(32))
    return emitOpError("tokens must be a rank-2 tensor of i32, got ")
           << getTokens().getType();
  if (!body.mightHaveTerminator() || !isa<ReturnOp>(body.getTerminator()))
    return emitOpError("body must end in grow.return");
  for (Operation &op : body)
    if (op.getDialect() != (*this)->getDialect())
      return op.emitOpError("is not a grow dialect op; a model body holds "
                            "only grow ops");
  ConfigAttr config = getConfig();
  if (failed(verifyParameters(*this, config)) ||
      failed(verifyTypes(*this, config)) ||
      failed(verifyLayers(*this, config)) || failed(verifyChain(*this)))
    return failure();
  return success();
}
