//===- HFConfig.cpp - import Hugging Face Llama configs -------------------===//
//
// Reads the LlamaConfig fields growc models and refuses the ones that would
// change the computation in ways the grow dialect does not express. Fields
// that do not affect the computation (token ids, dtype hints, versions) are
// ignored silently; unknown fields produce a note so typos do not pass
// unseen. Defaults follow transformers' LlamaConfig.
//
//===----------------------------------------------------------------------===//

#include "growc/Import/HFConfig.h"

#include "growc/runtime/Limits.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

using namespace mlir;
using namespace growc;
using namespace growc::grow;

namespace {

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "config: " + message);
}

/// The byte offset at which `text` opens its (maxDepth + 1)-th nested array
/// or object, if it does. Brackets inside strings (escapes honoured) do not
/// count; anything malformed is left to the JSON parser, which runs only on
/// texts this accepts, so its recursion stays bounded.
std::optional<size_t> findNestingBeyond(llvm::StringRef text,
                                        unsigned maxDepth) {
  unsigned depth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i; // The escaped character cannot end the string.
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > maxDepth)
        return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

/// Fields that do not change the computation.
const llvm::StringSet<> kIgnoredFields = {
    "_name_or_path",        "architectures",
    "bos_token_id",         "eos_token_id",
    "pad_token_id",         "initializer_range",
    "pretraining_tp",       "use_cache",
    "torch_dtype",          "dtype",
    "transformers_version", "is_llama_config",
    "tokenizer_class",      "attention_dropout",
    "rope_interleaved",     "max_position_embeddings"};

/// Fields growc reads.
const llvm::StringSet<> kModelledFields = {
    "model_type",          "vocab_size",
    "hidden_size",         "intermediate_size",
    "num_hidden_layers",   "num_attention_heads",
    "num_key_value_heads", "head_dim",
    "rms_norm_eps",        "rope_theta",
    "tie_word_embeddings", "hidden_act",
    "attention_bias",      "mlp_bias",
    "rope_scaling",        "max_position_embeddings"};

class ConfigReader {
public:
  explicit ConfigReader(const llvm::json::Object &object) : object(object) {}

  llvm::Expected<int64_t> integer(llvm::StringRef key,
                                  std::optional<int64_t> fallback) {
    const llvm::json::Value *value = object.get(key);
    if (!value || value->kind() == llvm::json::Value::Null) {
      if (fallback)
        return *fallback;
      return fail("missing required field '" + key + "'");
    }
    std::optional<int64_t> result = value->getAsInteger();
    if (!result)
      return fail("field '" + key + "' must be an integer");
    return *result;
  }

  llvm::Expected<double> number(llvm::StringRef key, double fallback) {
    const llvm::json::Value *value = object.get(key);
    if (!value || value->kind() == llvm::json::Value::Null)
      return fallback;
    std::optional<double> result = value->getAsNumber();
    if (!result)
      return fail("field '" + key + "' must be a number");
    return *result;
  }

  llvm::Expected<bool> boolean(llvm::StringRef key, bool fallback) {
    const llvm::json::Value *value = object.get(key);
    if (!value || value->kind() == llvm::json::Value::Null)
      return fallback;
    std::optional<bool> result = value->getAsBoolean();
    if (!result)
      return fail("field '" + key + "' must be true or false");
    return *result;
  }

  llvm::Expected<std::string> string(llvm::StringRef key,
                                     llvm::StringRef fallback) {
    const llvm::json::Value *value = object.get(key);
    if (!value || value->kind() == llvm::json::Value::Null)
      return fallback.str();
    std::optional<llvm::StringRef> result = value->getAsString();
    if (!result)
      return fail("field '" + key + "' must be a string");
    return result->str();
  }

private:
  const llvm::json::Object &object;
};

} // namespace

OwningOpRef<ModuleOp> growc::buildModel(MLIRContext *context, StringRef name,
                                        ConfigAttr config, int64_t numLayers,
                                        Type paramType) {
  context->getOrLoadDialect<GrowDialect>();
  OpBuilder builder(context);
  Location loc = builder.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  builder.setInsertionPointToEnd(module->getBody());

  OperationState state(loc, ModelOp::getOperationName());
  state.addAttribute(ModelOp::getSymNameAttrName(state.name),
                     builder.getStringAttr(name));
  state.addAttribute(ModelOp::getConfigAttrName(state.name), config);
  state.addRegion();
  auto model = cast<ModelOp>(builder.create(state));
  auto dyn = ShapedType::kDynamic;
  auto tokensType = RankedTensorType::get({dyn, dyn}, builder.getI32Type());
  auto hiddenType = RankedTensorType::get({dyn, dyn, config.getHidden()},
                                          builder.getF32Type());
  auto logitsType = RankedTensorType::get({dyn, dyn, config.getVocab()},
                                          builder.getF32Type());
  Block *body = builder.createBlock(&model.getBody(), {}, {tokensType}, {loc});

  auto param = [&](StringRef paramName, ArrayRef<int64_t> shape) {
    ParamOp::create(builder, loc, paramName,
                    RankedTensorType::get(shape, paramType),
                    /*copy=*/false, /*source=*/StringAttr());
  };
  param(kEmbedName, {config.getVocab(), config.getHidden()});
  for (int64_t layer = 0; layer < numLayers; ++layer)
    for (const char *suffix : kLayerParamSuffixes)
      param(layerParamName(layer, suffix), layerParamShape(config, suffix));
  param(kFinalNormName, {config.getHidden()});
  if (!config.getTied())
    param(kLMHeadName, {config.getVocab(), config.getHidden()});

  auto symbol = [&](StringRef s) { return FlatSymbolRefAttr::get(context, s); };
  Value stream = EmbedOp::create(builder, loc, hiddenType, symbol(kEmbedName),
                                 body->getArgument(0));
  for (int64_t layer = 0; layer < numLayers; ++layer) {
    OperationState layerState(loc, LayerOp::getOperationName());
    layerState.addOperands(stream);
    layerState.addTypes(hiddenType);
    layerState.addAttribute("index", builder.getI64IntegerAttr(layer));
    layerState.addAttribute(
        "block", builder.getI64IntegerAttr(layer / config.getBlockSize()));
    stream = builder.create(layerState)->getResult(0);
  }
  Value normed =
      RMSNormOp::create(builder, loc, symbol(kFinalNormName), stream);
  Value logits = LMHeadOp::create(
      builder, loc, logitsType,
      symbol(config.getTied() ? kEmbedName : kLMHeadName), normed);
  ReturnOp::create(builder, loc, builder.getStrArrayAttr({"logits"}),
                   ValueRange{logits});
  return module;
}

llvm::Expected<ImportResult>
growc::importHFConfig(MLIRContext *context, StringRef json,
                      const ImportOptions &options) {
  // ConfigAttr::getChecked below needs the dialect loaded (it registers the
  // attribute's storage); a caller's context may not have loaded it yet.
  context->getOrLoadDialect<GrowDialect>();
  if (std::optional<size_t> at = findNestingBeyond(json, kMaxConfigJsonDepth))
    return fail(
        llvm::formatv("JSON nested deeper than {0} levels (at byte {1})",
                      kMaxConfigJsonDepth, *at)
            .str());
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(json);
  if (!parsed)
    return fail("not valid JSON: " + llvm::toString(parsed.takeError()));
  const llvm::json::Object *object = parsed->getAsObject();
  if (!object)
    return fail("the top level must be a JSON object");

  ImportResult result;
  for (const auto &[key, value] : *object)
    if (!kModelledFields.contains(key) && !kIgnoredFields.contains(key))
      result.notes.push_back("ignoring unknown config field '" + key.str() +
                             "'");

  ConfigReader read(*object);
  auto modelType = read.string("model_type", "llama");
  if (!modelType)
    return modelType.takeError();
  if (*modelType != "llama")
    return fail("model_type '" + *modelType +
                "' is not supported; growc models Llama-style decoders "
                "(model_type \"llama\")");
  auto act = read.string("hidden_act", "silu");
  if (!act)
    return act.takeError();
  if (*act != "silu")
    return fail("hidden_act '" + *act +
                "' is not supported; the MLP is "
                "SwiGLU (\"silu\")");
  for (StringRef key : {"attention_bias", "mlp_bias"}) {
    auto bias = read.boolean(key, false);
    if (!bias)
      return bias.takeError();
    if (*bias)
      return fail("'" + key +
                  "': true is not supported; growc's layers have "
                  "no biases");
  }
  if (const llvm::json::Value *scaling = object->get("rope_scaling"))
    if (scaling->kind() != llvm::json::Value::Null)
      return fail("'rope_scaling' is not supported; only plain RoPE "
                  "(rope_scaling: null)");

  int64_t ints[7];
  const char *required[] = {"vocab_size", "hidden_size", "intermediate_size",
                            "num_hidden_layers", "num_attention_heads"};
  for (auto [i, key] : llvm::enumerate(required)) {
    auto value = read.integer(key, std::nullopt);
    if (!value)
      return value.takeError();
    if (*value < (i == 3 ? 0 : 1))
      return fail(llvm::formatv("field '{0}' must be {1}, got {2}", key,
                                i == 3 ? "non-negative" : "positive", *value)
                      .str());
    ints[i] = *value;
  }
  int64_t vocab = ints[0], hidden = ints[1], ffn = ints[2], heads = ints[4];
  int64_t layers = options.numLayers ? *options.numLayers : ints[3];
  if (layers < 0)
    return fail("the layer count must be non-negative");
  if (layers > rt::limits::kMaxLayers)
    return fail(llvm::formatv("{0} layers exceed growc's limit of {1} "
                              "(docs/usage.md#limits)",
                              layers, rt::limits::kMaxLayers)
                    .str());
  auto kvHeads = read.integer("num_key_value_heads", heads);
  auto headDim = read.integer("head_dim", hidden / heads);
  auto context_ = read.integer("max_position_embeddings", 2048);
  auto eps = read.number("rms_norm_eps", 1e-6);
  auto theta = read.number("rope_theta", 10000.0);
  auto tied = read.boolean("tie_word_embeddings", false);
  if (!kvHeads)
    return kvHeads.takeError();
  if (!headDim)
    return headDim.takeError();
  if (!context_)
    return context_.takeError();
  if (!eps)
    return eps.takeError();
  if (!theta)
    return theta.takeError();
  if (!tied)
    return tied.takeError();

  int64_t blockSize;
  if (options.blockSize) {
    blockSize = *options.blockSize;
  } else {
    blockSize = layers % 4 == 0 ? 4 : layers % 2 == 0 ? 2 : 1;
    if (blockSize != 4)
      result.notes.push_back(llvm::formatv("{0} layers are not a multiple of "
                                           "4; using block size {1}",
                                           layers, blockSize));
  }
  if (blockSize < 1)
    return fail("block size must be at least 1");
  if (layers % blockSize != 0)
    return fail(llvm::formatv("{0} layers are not a multiple of the block "
                              "size {1}",
                              layers, blockSize)
                    .str());

  Type paramType = llvm::StringSwitch<Type>(options.paramDType)
                       .Case("f32", Float32Type::get(context))
                       .Case("bf16", BFloat16Type::get(context))
                       .Case("f16", Float16Type::get(context))
                       .Default(Type());
  if (!paramType)
    return fail("parameter dtype must be f32, bf16 or f16, got '" +
                options.paramDType + "'");

  // Verify the config before building so errors name the config, not IR.
  std::string diagnostic;
  auto emitError = [&]() { return mlir::emitError(UnknownLoc::get(context)); };
  ScopedDiagnosticHandler handler(context, [&](Diagnostic &diag) {
    diagnostic = diag.str();
    return success();
  });
  ConfigAttr config = ConfigAttr::getChecked(
      emitError, context, vocab, hidden, ffn, heads, *kvHeads, *headDim,
      *context_, llvm::APFloat(*eps), llvm::APFloat(*theta), *tied, blockSize);
  if (!config)
    return fail(diagnostic);
  result.module =
      buildModel(context, options.modelName, config, layers, paramType);
  return result;
}
