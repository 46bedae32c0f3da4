//===- HFConfig.cpp - import Hugging Face Llama configs -------------------===//
//
// Reads a transformers LlamaConfig (v4 or v5 spelling) into a grow.model.
// Principle: never a silently wrong model. Every field is either read,
// checked for a value that does not change the computation, noted (it
// matters to a checkpoint or a training recipe, not to the model), or
// accepted silently because it cannot matter (token ids, generation
// defaults, versions). Any other field is an error naming it, since growc
// cannot tell whether it changes the computation; --ignore-config-field
// lets a user vouch for one. docs/hf-config.md has the table. Defaults
// follow transformers' LlamaConfig.
//
//===----------------------------------------------------------------------===//

#include "growc/Import/HFConfig.h"

#include "growc/runtime/Limits.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <cmath>

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

/// Fields whose value cannot change the model: token ids, generation
/// defaults older configs carry, output switches, names and versions, the
/// attention implementation (eager / sdpa / flash compute the same thing).
const llvm::StringSet<> kIrrelevantFields = {
    // Names and provenance.
    "_name_or_path", "_commit_hash", "transformers_version", "is_llama_config",
    "tokenizer_class", "finetuning_task", "prefix", "task_specific_params",
    // Token ids.
    "bos_token_id", "eos_token_id", "pad_token_id", "sep_token_id",
    "decoder_start_token_id", "forced_bos_token_id", "forced_eos_token_id",
    // Classification heads (not built: architectures must be a causal LM).
    "id2label", "label2id", "num_labels", "problem_type",
    // Inference and output switches.
    "use_cache", "return_dict", "output_hidden_states", "output_attentions",
    "torchscript", "use_bfloat16", "tf_legacy_loss", "is_decoder",
    "tie_encoder_decoder", "chunk_size_feed_forward",
    "cross_attention_hidden_size", "_attn_implementation",
    "attn_implementation", "_attn_implementation_autoset", "max_window_layers",
    // Generation defaults (transformers moved them to generation_config).
    "max_length", "min_length", "do_sample", "early_stopping", "num_beams",
    "num_beam_groups", "diversity_penalty", "temperature", "top_k", "top_p",
    "typical_p", "repetition_penalty", "length_penalty", "no_repeat_ngram_size",
    "encoder_no_repeat_ngram_size", "bad_words_ids", "num_return_sequences",
    "output_scores", "return_dict_in_generate", "remove_invalid_values",
    "exponential_decay_length_penalty", "suppress_tokens",
    "begin_suppress_tokens"};

/// Fields importHFConfig reads, checks or notes by value.
const llvm::StringSet<> kCheckedFields = {
    // Read into #grow.config.
    "model_type", "architectures", "vocab_size", "hidden_size",
    "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "rms_norm_eps", "tie_word_embeddings",
    "max_position_embeddings", "rope_theta", "rope_scaling", "rope_parameters",
    // Only one value is supported.
    "hidden_act", "attention_bias", "mlp_bias", "rope_interleaved",
    "partial_rotary_factor", "sliding_window", "use_sliding_window",
    "layer_types", "qk_norm", "use_qk_norm", "qk_layernorm",
    "attention_chunk_size", "quantization_config", "pruned_heads",
    "is_encoder_decoder", "add_cross_attention", "auto_map",
    // Noted.
    "torch_dtype", "dtype", "pretraining_tp", "attention_dropout",
    "initializer_range"};

/// Keys of a rope_scaling / rope_parameters object that some rope type of
/// transformers reads; growc reads the ones of the types it implements.
const llvm::StringSet<> kRopeKeys = {
    "rope_type", "type", "rope_theta", "factor", "low_freq_factor",
    "high_freq_factor", "original_max_position_embeddings",
    "partial_rotary_factor",
    // yarn, longrope, dynamic: not read by default, linear or llama3.
    "attention_factor", "beta_fast", "beta_slow", "short_factor", "long_factor",
    "mscale", "mscale_all_dim", "truncate"};

/// "%.10g": short for round numbers, exact enough to tell values apart.
std::string formatNumber(double value) {
  return llvm::formatv("{0}", llvm::format("%.10g", value)).str();
}

/// The closest name in `sets` to a misspelt `key`, within two edits.
std::optional<std::string>
closestName(llvm::StringRef key,
            std::initializer_list<const llvm::StringSet<> *> sets) {
  std::optional<std::string> best;
  unsigned bestDistance = 3;
  if (key.size() < 4)
    return best; // Two edits turn any short name into another.
  for (const llvm::StringSet<> *set : sets)
    for (const auto &entry : *set) {
      unsigned distance =
          key.edit_distance(entry.getKey(), /*AllowReplacements=*/true,
                            /*MaxEditDistance=*/bestDistance);
      if (distance < bestDistance) {
        bestDistance = distance;
        best = entry.getKey().str();
      }
    }
  return best;
}

/// Typed reads of one JSON object's fields; `prefix` names the object in
/// messages ("rope_scaling." for a field inside rope_scaling).
class ConfigReader {
public:
  explicit ConfigReader(const llvm::json::Object &object,
                        llvm::StringRef prefix = "")
      : object(object), prefix(prefix.str()) {}

  bool has(llvm::StringRef key) const {
    const llvm::json::Value *value = object.get(key);
    return value && value->kind() != llvm::json::Value::Null;
  }

  std::string name(llvm::StringRef key) const { return prefix + key.str(); }

  llvm::Expected<int64_t> integer(llvm::StringRef key,
                                  std::optional<int64_t> fallback) {
    const llvm::json::Value *value = object.get(key);
    if (!value || value->kind() == llvm::json::Value::Null) {
      if (fallback)
        return *fallback;
      return fail("missing required field '" + name(key) + "'");
    }
    std::optional<int64_t> result = value->getAsInteger();
    if (!result)
      return fail("field '" + name(key) + "' must be an integer");
    return *result;
  }

  llvm::Expected<double> number(llvm::StringRef key,
                                std::optional<double> fallback) {
    const llvm::json::Value *value = object.get(key);
    if (!value || value->kind() == llvm::json::Value::Null) {
      if (fallback)
        return *fallback;
      return fail("missing required field '" + name(key) + "'");
    }
    std::optional<double> result = value->getAsNumber();
    if (!result)
      return fail("field '" + name(key) + "' must be a number");
    return *result;
  }

  llvm::Expected<bool> boolean(llvm::StringRef key, bool fallback) {
    const llvm::json::Value *value = object.get(key);
    if (!value || value->kind() == llvm::json::Value::Null)
      return fallback;
    std::optional<bool> result = value->getAsBoolean();
    if (!result)
      return fail("field '" + name(key) + "' must be true or false");
    return *result;
  }

  llvm::Expected<std::string> string(llvm::StringRef key,
                                     llvm::StringRef fallback) {
    const llvm::json::Value *value = object.get(key);
    if (!value || value->kind() == llvm::json::Value::Null)
      return fallback.str();
    std::optional<llvm::StringRef> result = value->getAsString();
    if (!result)
      return fail("field '" + name(key) + "' must be a string");
    return result->str();
  }

private:
  const llvm::json::Object &object;
  std::string prefix;
};

//===----------------------------------------------------------------------===//
// RoPE: rope_theta + rope_scaling (v4), rope_parameters (v5)
//===----------------------------------------------------------------------===//

/// What one spelling of the RoPE settings says.
struct RopeSpec {
  std::optional<double> theta;
  std::string type = "default";
  double factor = 0, lowFreqFactor = 0, highFreqFactor = 0;
  int64_t originalContext = 0;

  bool sameScaling(const RopeSpec &other) const {
    return type == other.type && factor == other.factor &&
           lowFreqFactor == other.lowFreqFactor &&
           highFreqFactor == other.highFreqFactor &&
           originalContext == other.originalContext;
  }

  std::string describeScaling() const {
    if (type == "linear")
      return "linear (factor " + formatNumber(factor) + ")";
    if (type == "llama3")
      return llvm::formatv("llama3 (factor {0}, low_freq_factor {1}, "
                           "high_freq_factor {2}, "
                           "original_max_position_embeddings {3})",
                           formatNumber(factor), formatNumber(lowFreqFactor),
                           formatNumber(highFreqFactor), originalContext)
          .str();
    return "default (plain RoPE)";
  }
};

/// Reads a rope_scaling or rope_parameters object. transformers names the
/// type `rope_type` (older configs: `type`); a key only other rope types
/// read is noted, a key no rope type reads is an error.
llvm::Expected<RopeSpec> readRope(const llvm::json::Value &value,
                                  llvm::StringRef where,
                                  std::vector<std::string> &notes) {
  const llvm::json::Object *object = value.getAsObject();
  if (!object)
    return fail("'" + where + "' must be an object or null");
  for (const auto &[key, entry] : *object) {
    if (entry.getAsObject())
      return fail("'" + where + "." + key.str() +
                  "' is an object: per-layer-type RoPE settings (hybrid "
                  "attention models) are not supported");
    if (!kRopeKeys.contains(key)) {
      std::optional<std::string> near = closestName(key, {&kRopeKeys});
      return fail("unknown field '" + where + "." + key.str() + "'" +
                  (near ? " (did you mean '" + *near + "'?)" : "") +
                  "; growc cannot tell how it changes RoPE");
    }
  }
  ConfigReader read(*object, (where + ".").str());
  RopeSpec spec;
  if (read.has("rope_theta")) {
    auto theta = read.number("rope_theta", std::nullopt);
    if (!theta)
      return theta.takeError();
    spec.theta = *theta;
  }
  auto type = read.string("rope_type", "");
  auto legacyType = read.string("type", "");
  if (!type)
    return type.takeError();
  if (!legacyType)
    return legacyType.takeError();
  if (!type->empty() && !legacyType->empty() && *type != *legacyType)
    return fail("'" + where + "' names two types: rope_type '" + *type +
                "' and type '" + *legacyType + "'");
  spec.type = type->empty() ? *legacyType : *type;
  if (spec.type.empty()) {
    // transformers v4 cannot build a rope_scaling without a type; v5's
    // rope_parameters defaults it.
    if (where == "rope_scaling" && !object->empty())
      return fail("'rope_scaling' names no rope_type");
    spec.type = "default";
  }
  if (spec.type != "default" && spec.type != "linear" && spec.type != "llama3")
    return fail("'" + where + "' has rope_type '" + spec.type +
                "', which growc does not implement; supported: default, "
                "linear, llama3");
  if (read.has("partial_rotary_factor")) {
    auto partial = read.number("partial_rotary_factor", std::nullopt);
    if (!partial)
      return partial.takeError();
    if (*partial != 1.0)
      return fail("'" + where + ".partial_rotary_factor' is " +
                  formatNumber(*partial) +
                  ": growc rotates the whole head (1.0)");
  }

  // The keys this type reads; transformers ignores the others.
  llvm::SmallVector<llvm::StringRef, 4> reads;
  if (spec.type != "default")
    reads.push_back("factor");
  if (spec.type == "llama3")
    reads.append({"low_freq_factor", "high_freq_factor",
                  "original_max_position_embeddings"});
  for (const auto &[objectKey, entry] : *object) {
    llvm::StringRef key = objectKey;
    if (!llvm::is_contained(reads, key) &&
        !llvm::is_contained({llvm::StringRef("rope_type"),
                             llvm::StringRef("type"),
                             llvm::StringRef("rope_theta"),
                             llvm::StringRef("partial_rotary_factor")},
                            key) &&
        entry.kind() != llvm::json::Value::Null)
      notes.push_back("ignoring '" + where.str() + "." + key.str() +
                      "': rope_type '" + spec.type +
                      "' does not read it (nor does transformers)");
  }
  if (spec.type == "default")
    return spec;

  auto factor = read.number("factor", std::nullopt);
  if (!factor)
    return factor.takeError();
  if (!(*factor > 0) || !std::isfinite(*factor))
    return fail("'" + where + ".factor' must be positive, got " +
                formatNumber(*factor));
  spec.factor = *factor;
  if (spec.type == "linear")
    return spec;

  auto low = read.number("low_freq_factor", std::nullopt);
  if (!low)
    return low.takeError();
  auto high = read.number("high_freq_factor", std::nullopt);
  if (!high)
    return high.takeError();
  auto original =
      read.integer("original_max_position_embeddings", std::nullopt);
  if (!original)
    return original.takeError();
  if (!(*low > 0) || !std::isfinite(*low) || !std::isfinite(*high))
    return fail("'" + where + ".low_freq_factor' must be positive, got " +
                formatNumber(*low));
  if (!(*high > *low))
    return fail("'" + where + ".high_freq_factor' (" + formatNumber(*high) +
                ") must exceed low_freq_factor (" + formatNumber(*low) + ")");
  if (*original < 1)
    return fail("'" + where +
                ".original_max_position_embeddings' must be positive, got " +
                std::to_string(*original));
  spec.lowFreqFactor = *low;
  spec.highFreqFactor = *high;
  spec.originalContext = *original;
  return spec;
}

/// The RoPE settings of the config, from every spelling it uses; spellings
/// that disagree are an error (transformers versions would read them
/// differently).
llvm::Expected<RopeSpec> readRopeSettings(const llvm::json::Object &object,
                                          std::vector<std::string> &notes) {
  std::optional<RopeSpec> scaling, parameters;
  for (llvm::StringRef where : {"rope_scaling", "rope_parameters"}) {
    const llvm::json::Value *value = object.get(where);
    if (!value || value->kind() == llvm::json::Value::Null)
      continue;
    auto spec = readRope(*value, where, notes);
    if (!spec)
      return spec.takeError();
    (where == "rope_scaling" ? scaling : parameters) = *spec;
  }
  ConfigReader read(object);
  std::optional<double> topTheta;
  if (read.has("rope_theta")) {
    auto theta = read.number("rope_theta", std::nullopt);
    if (!theta)
      return theta.takeError();
    topTheta = *theta;
  }

  RopeSpec result;
  if (scaling && parameters && !scaling->sameScaling(*parameters))
    return fail("'rope_scaling' says " + scaling->describeScaling() +
                " but 'rope_parameters' says " + parameters->describeScaling() +
                "; remove the one that is wrong");
  if (scaling)
    result = *scaling;
  else if (parameters)
    result = *parameters;
  // Every stated theta must agree.
  std::pair<const char *, std::optional<double>> thetas[] = {
      {"rope_theta", topTheta},
      {"rope_parameters.rope_theta",
       parameters ? parameters->theta : std::nullopt},
      {"rope_scaling.rope_theta", scaling ? scaling->theta : std::nullopt}};
  const char *first = nullptr;
  result.theta.reset();
  for (auto [where, theta] : thetas) {
    if (!theta)
      continue;
    if (result.theta && *result.theta != *theta)
      return fail(llvm::formatv("'{0}' ({1}) and '{2}' ({3}) disagree; remove "
                                "the one that is wrong",
                                first, formatNumber(*result.theta), where,
                                formatNumber(*theta))
                      .str());
    if (!result.theta) {
      result.theta = *theta;
      first = where;
    }
  }
  if (!result.theta)
    result.theta = 10000.0; // LlamaConfig's default
  return result;
}

//===----------------------------------------------------------------------===//
// Fields with one supported value, and noted fields
//===----------------------------------------------------------------------===//

/// Refuses settings of fields that would make a different model than the
/// one growc builds; their neutral values pass.
llvm::Error checkUnsupportedSettings(const llvm::json::Object &object) {
  ConfigReader read(object);
  // String fields with the one value growc models (also their default).
  std::tuple<const char *, const char *, const char *> strings[] = {
      {"model_type", "llama",
       "growc models Llama-style decoders (model_type \"llama\")"},
      {"hidden_act", "silu", "the MLP is SwiGLU (\"silu\")"}};
  for (auto [key, supported, why] : strings) {
    auto value = read.string(key, supported);
    if (!value)
      return value.takeError();
    if (*value != supported)
      return fail(llvm::Twine(key) + " '" + *value + "' is not supported; " +
                  why);
  }
  if (const llvm::json::Value *archs = object.get("architectures");
      archs && archs->kind() != llvm::json::Value::Null) {
    const llvm::json::Array *array = archs->getAsArray();
    if (!array)
      return fail("field 'architectures' must be a list of class names");
    for (const llvm::json::Value &arch : *array) {
      std::optional<llvm::StringRef> name = arch.getAsString();
      if (!name)
        return fail("field 'architectures' must be a list of class names");
      if (*name != "LlamaForCausalLM")
        return fail("architectures names '" + *name +
                    "'; growc builds LlamaForCausalLM (decoder and LM head)");
    }
  }
  for (StringRef key : {"attention_bias", "mlp_bias"}) {
    auto bias = read.boolean(key, false);
    if (!bias)
      return bias.takeError();
    if (*bias)
      return fail("'" + key +
                  "': true is not supported; growc's layers have "
                  "no biases");
  }
  // Booleans that switch on something growc does not compute.
  std::pair<const char *, const char *> switches[] = {
      {"rope_interleaved", "interleaved RoPE rotates pairs (2i, 2i+1) "
                           "(nanotron); growc and transformers' Llama rotate "
                           "halves (i, i + head_dim/2)"},
      {"use_sliding_window", "growc's attention is full causal attention"},
      {"qk_norm", "growc has no query/key norms"},
      {"use_qk_norm", "growc has no query/key norms"},
      {"qk_layernorm", "growc has no query/key norms"},
      {"is_encoder_decoder", "growc builds decoder-only models"},
      {"add_cross_attention", "growc's layers have no cross-attention"}};
  for (auto [key, why] : switches) {
    auto on = read.boolean(key, false);
    if (!on)
      return on.takeError();
    if (*on)
      return fail(llvm::Twine("'") + key + "': true is not supported; " + why);
  }
  if (read.has("partial_rotary_factor")) {
    auto partial = read.number("partial_rotary_factor", std::nullopt);
    if (!partial)
      return partial.takeError();
    if (*partial != 1.0)
      return fail("'partial_rotary_factor' is " + formatNumber(*partial) +
                  ": transformers then rotates only part of each head; "
                  "growc rotates the whole head (1.0)");
  }
  // Fields that must be null (or absent). A sliding window is off when
  // use_sliding_window says so (Qwen2-style configs keep its size).
  auto slidingOn = read.boolean("use_sliding_window", true);
  if (!slidingOn)
    return slidingOn.takeError();
  std::pair<const char *, const char *> nulls[] = {
      {"sliding_window", "growc's attention is full causal attention, not a "
                         "sliding window"},
      {"attention_chunk_size", "growc's attention is full causal attention, "
                               "not chunked"},
      {"quantization_config", "the checkpoint holds quantized weights, which "
                              "growc does not read (dequantize them first)"}};
  for (auto [key, why] : nulls)
    if (read.has(key) &&
        !(llvm::StringRef(key) == "sliding_window" && !*slidingOn))
      return fail(llvm::Twine("'") + key + "' is set: " + why);
  if (const llvm::json::Value *types = object.get("layer_types");
      types && types->kind() != llvm::json::Value::Null) {
    const llvm::json::Array *array = types->getAsArray();
    if (!array)
      return fail("field 'layer_types' must be a list");
    for (const llvm::json::Value &type : *array)
      if (type.getAsString() !=
          std::optional<llvm::StringRef>("full_attention"))
        return fail("'layer_types' lists a layer that is not "
                    "\"full_attention\"; growc's layers are all full causal "
                    "attention");
  }
  if (const llvm::json::Value *pruned = object.get("pruned_heads");
      pruned && pruned->kind() != llvm::json::Value::Null) {
    const llvm::json::Object *heads = pruned->getAsObject();
    if (!heads || !heads->empty())
      return fail("'pruned_heads' is set; growc's layers keep every head");
  }
  if (const llvm::json::Value *map = object.get("auto_map");
      map && map->kind() != llvm::json::Value::Null) {
    const llvm::json::Object *classes = map->getAsObject();
    if (!classes)
      return fail("field 'auto_map' must be an object");
    for (const auto &[key, value] : *classes)
      if (llvm::StringRef(key).starts_with("AutoModel"))
        return fail("'auto_map' names custom modeling code for '" + key.str() +
                    "'; growc builds transformers' own Llama, not that code");
  }
  return llvm::Error::success();
}

/// Notes on fields that matter to a checkpoint or a training recipe but
/// not to the model growc builds.
llvm::Error noteRecipeFields(const llvm::json::Object &object,
                             std::vector<std::string> &notes) {
  ConfigReader read(object);
  for (llvm::StringRef key : {"torch_dtype", "dtype"}) {
    auto dtype = read.string(key, "float32");
    if (!dtype)
      return dtype.takeError();
    if (*dtype != "float32")
      notes.push_back("'" + key.str() + "' is \"" + *dtype +
                      "\": the checkpoint's storage dtype, not the "
                      "computation's; growc keeps fp32 master weights "
                      "(narrower checkpoint tensors are upcast when loaded)");
  }
  auto tp = read.integer("pretraining_tp", 1);
  if (!tp)
    return tp.takeError();
  if (*tp < 1)
    return fail("field 'pretraining_tp' must be positive, got " +
                std::to_string(*tp));
  if (*tp > 1)
    notes.push_back(llvm::formatv("'pretraining_tp' is {0}: transformers "
                                  "then splits each projection in {0} slices "
                                  "to reproduce pretraining bit for bit; "
                                  "growc computes whole GEMMs (equal up to "
                                  "rounding)",
                                  *tp));
  auto dropout = read.number("attention_dropout", 0.0);
  if (!dropout)
    return dropout.takeError();
  if (*dropout != 0.0)
    notes.push_back("'attention_dropout' is " + formatNumber(*dropout) +
                    ": growc trains without dropout (evaluation is "
                    "unaffected: transformers drops nothing in eval mode)");
  auto range = read.number("initializer_range", 0.02);
  if (!range)
    return range.takeError();
  if (*range != 0.02)
    notes.push_back("'initializer_range' is " + formatNumber(*range) +
                    ": growc --init-weights-out draws N(0, 0.02^2) matrices");
  return llvm::Error::success();
}

} // namespace

std::string growc::hfConfigPath(StringRef path) {
  if (!llvm::sys::fs::is_directory(path))
    return path.str();
  llvm::SmallString<256> file(path);
  llvm::sys::path::append(file, "config.json");
  return std::string(file);
}

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
                    /*copy=*/false, /*zero=*/false, /*scale=*/FloatAttr(),
                    /*source=*/StringAttr(), /*frozen=*/false);
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
  for (const std::string &key : options.ignoredFields)
    if (kCheckedFields.contains(key) || kIrrelevantFields.contains(key))
      return fail("--ignore-config-field=" + key +
                  ": growc knows that field; only unknown fields can be "
                  "ignored");
  // Unknown fields first, sorted, so the message is the same whatever the
  // JSON object's order.
  llvm::SmallVector<std::string> unknown;
  for (const auto &[key, value] : *object)
    if (!kCheckedFields.contains(key) && !kIrrelevantFields.contains(key))
      unknown.push_back(key.str());
  llvm::sort(unknown);
  for (const std::string &key : unknown) {
    if (llvm::is_contained(options.ignoredFields, key)) {
      result.notes.push_back("ignoring config field '" + key +
                             "' (--ignore-config-field)");
      continue;
    }
    std::optional<std::string> near =
        closestName(key, {&kCheckedFields, &kIrrelevantFields});
    return fail("unknown field '" + key + "'" +
                (near ? " (did you mean '" + *near + "'?)" : "") +
                "; growc cannot tell whether it changes the model: remove it, "
                "or pass --ignore-config-field=" +
                key + " if it does not (docs/hf-config.md)");
  }

  if (llvm::Error error = checkUnsupportedSettings(*object))
    return std::move(error);
  if (llvm::Error error = noteRecipeFields(*object, result.notes))
    return std::move(error);
  llvm::Expected<RopeSpec> rope = readRopeSettings(*object, result.notes);
  if (!rope)
    return rope.takeError();

  ConfigReader read(*object);
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
  auto tied = read.boolean("tie_word_embeddings", false);
  if (!kvHeads)
    return kvHeads.takeError();
  if (!headDim)
    return headDim.takeError();
  if (!context_)
    return context_.takeError();
  if (!eps)
    return eps.takeError();
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
  RopeScalingAttr scaling;
  if (rope->type != "default") {
    scaling = RopeScalingAttr::getChecked(
        emitError, context, llvm::StringRef(rope->type),
        llvm::APFloat(rope->factor), llvm::APFloat(rope->lowFreqFactor),
        llvm::APFloat(rope->highFreqFactor), rope->originalContext);
    if (!scaling)
      return fail(diagnostic);
  }
  ConfigAttr config = ConfigAttr::getChecked(
      emitError, context, vocab, hidden, ffn, heads, *kvHeads, *headDim,
      *context_, llvm::APFloat(*eps), llvm::APFloat(*rope->theta), scaling,
      *tied, blockSize);
  if (!config)
    return fail(diagnostic);
  result.module =
      buildModel(context, options.modelName, config, layers, paramType);
  return result;
}
