//===- GrowOps.cpp - grow dialect operations ------------------------------===//
//
// Per-op syntax, accessors, verifiers and parameter requirements. The rules
// that need the whole model live in GrowVerifier.cpp.
//
//===----------------------------------------------------------------------===//

#include "dialects/Grow/GrowOps.h"

#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/StringSet.h"

#include <cmath>

using namespace mlir;
using namespace growc::grow;

//===----------------------------------------------------------------------===//
// ModelOp
//===----------------------------------------------------------------------===//

// grow.model @name #grow.config<...> (%tokens : type) attributes {..} {body}
ParseResult ModelOp::parse(OpAsmParser &parser, OperationState &result) {
  StringAttr name;
  ConfigAttr config;
  OpAsmParser::Argument tokens;
  if (parser.parseSymbolName(name, getSymNameAttrName(result.name),
                             result.attributes) ||
      parser.parseCustomAttributeWithFallback(
          config, Type(), getConfigAttrName(result.name), result.attributes) ||
      parser.parseLParen() ||
      parser.parseArgument(tokens, /*allowType=*/true) ||
      parser.parseRParen() ||
      parser.parseOptionalAttrDictWithKeyword(result.attributes))
    return failure();
  Region *body = result.addRegion();
  if (parser.parseRegion(*body, {tokens}))
    return failure();
  if (body->empty())
    return parser.emitError(parser.getNameLoc(), "expected a model body");
  return success();
}

void ModelOp::print(OpAsmPrinter &p) {
  p << ' ';
  p.printSymbolName(getSymName());
  p << ' ';
  p.printStrippedAttrOrType(getConfig());
  p << " (";
  p.printRegionArgument(getTokens());
  p << ")";
  p.printOptionalAttrDictWithKeyword(
      (*this)->getAttrs(), {getSymNameAttrName(), getConfigAttrName()});
  p << ' ';
  p.printRegion(getBody(), /*printEntryBlockArgs=*/false);
}

void ModelOp::getAsmBlockArgumentNames(Region &region,
                                       OpAsmSetValueNameFn setNameFn) {
  if (!region.empty() && region.front().getNumArguments() == 1)
    setNameFn(region.front().getArgument(0), "tokens");
}

SmallVector<LayerOp, 0> ModelOp::getLayers() {
  return llvm::to_vector(getBodyBlock().getOps<LayerOp>());
}

SmallVector<ParamOp, 0> ModelOp::getParams() {
  return llvm::to_vector(getBodyBlock().getOps<ParamOp>());
}

ParamOp ModelOp::lookupParam(StringRef name) {
  return dyn_cast_or_null<ParamOp>(lookupSymbol(name));
}

EmbedOp ModelOp::getEmbed() {
  auto embeds = getBodyBlock().getOps<EmbedOp>();
  return embeds.empty() ? EmbedOp() : *embeds.begin();
}

ReturnOp ModelOp::getReturn() {
  return dyn_cast<ReturnOp>(getBodyBlock().getTerminator());
}

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  RankedTensorType type = getTensorType();
  if (!type.hasStaticShape())
    return emitOpError("parameter '")
           << getSymName() << "' must have a static shape, got " << type;
  if (!isa<Float32Type, BFloat16Type, Float16Type>(type.getElementType()))
    return emitOpError("parameter '")
           << getSymName() << "' must be f32, bf16 or f16, got "
           << type.getElementType();
  if (getCopy() && !getSource())
    return emitOpError("parameter '")
           << getSymName() << "' is marked copy but has no 'from' source";
  if (getSource() && getSource()->empty())
    return emitOpError("parameter '")
           << getSymName() << "' has an empty source";
  if ((getZero() || getScale()) && !getSource())
    return emitOpError("parameter '")
           << getSymName() << "' has an initialiser (zero or scaled) but no "
           << "'from' source";
  if (getZero() && getScale())
    return emitOpError("parameter '")
           << getSymName() << "' is both zero and scaled";
  if (FloatAttr scaleAttr = getScaleAttr()) {
    double scale = scaleAttr.getValueAsDouble();
    if (!std::isfinite(scale) || scale == 0.0 || scale == 1.0)
      return emitOpError("parameter '")
             << getSymName() << "' has scale " << scale
             << "; a scale must be finite and not 0 (write 'zero') or 1 "
             << "(write nothing)";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// ReturnOp
//===----------------------------------------------------------------------===//

LogicalResult ReturnOp::verify() {
  if (getNames().size() != getOutputs().size())
    return emitOpError("has ") << getOutputs().size() << " outputs but "
                               << getNames().size() << " names";
  if (getOutputs().empty())
    return emitOpError("must return at least the logits");
  llvm::StringSet<> seen;
  for (auto [i, name] : llvm::enumerate(getNames())) {
    auto str = dyn_cast<StringAttr>(name);
    if (!str || str.getValue().empty())
      return emitOpError("output ") << i << " needs a non-empty string name";
    if (!seen.insert(str.getValue()).second)
      return emitOpError("output name '")
             << str.getValue() << "' is used twice";
  }
  if (cast<StringAttr>(getNames()[0]).getValue() != "logits")
    return emitOpError("first output must be named \"logits\", got ")
           << getNames()[0];
  return success();
}

//===----------------------------------------------------------------------===//
// LayerOp
//===----------------------------------------------------------------------===//

std::string LayerOp::getParamName(StringRef suffix) {
  return layerParamName(getIndex(), suffix);
}

LogicalResult LayerOp::verify() {
  if (!getSublayers().empty() && getSublayers().size() != 2)
    return emitOpError("exposes either no sublayer outputs or exactly two "
                       "(attention, MLP), got ")
           << getSublayers().size();
  for (Type type : getResultTypes())
    if (type != getInput().getType())
      return emitOpError("results must have the input's type ")
             << getInput().getType() << ", got " << type;
  double scale = getNormScale().convertToDouble();
  if (!(scale > 0) || !std::isfinite(scale))
    return emitOpError("norm_scale must be positive and finite, got ") << scale;
  if (getSkipUntil() && !getSkip())
    return emitOpError("skip_until needs the skip attribute");
  if (getSkipSplit() && (!getSkip() || getSkipUntil()))
    return emitOpError("skip_split needs the skip attribute and excludes "
                       "skip_until");
  if (getSkipFrom() && !getSkipUntil() && !getSkipSplit())
    return emitOpError("skip_from needs skip_until or skip_split");
  return success();
}

void LayerOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  std::string index = std::to_string(getIndex());
  setNameFn(getOutput(), "layer" + index);
  if (exposesSublayers()) {
    setNameFn(getSublayers()[0], "attn" + index);
    setNameFn(getSublayers()[1], "mlp" + index);
  }
}

void LayerOp::getParameterRequirements(
    ConfigAttr config, SmallVectorImpl<ParameterRequirement> &out) {
  for (const char *suffix : kLayerParamSuffixes)
    out.push_back({getParamName(suffix), layerParamShape(config, suffix)});
}

//===----------------------------------------------------------------------===//
// Embedding, final norm, head
//===----------------------------------------------------------------------===//

void EmbedOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getOutput(), "embed");
}

void RMSNormOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getOutput(), "normed");
}

void LMHeadOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getLogits(), "logits");
}

void EmbedOp::getParameterRequirements(
    ConfigAttr config, SmallVectorImpl<ParameterRequirement> &out) {
  out.push_back({getWeight().str(), {config.getVocab(), config.getHidden()}});
}

void RMSNormOp::getParameterRequirements(
    ConfigAttr config, SmallVectorImpl<ParameterRequirement> &out) {
  out.push_back({getWeight().str(), {config.getHidden()}});
}

void LMHeadOp::getParameterRequirements(
    ConfigAttr config, SmallVectorImpl<ParameterRequirement> &out) {
  out.push_back({getWeight().str(), {config.getVocab(), config.getHidden()}});
}

#define GET_OP_CLASSES
#include "dialects/Grow/GrowOps.cpp.inc"
