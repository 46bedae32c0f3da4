//===- HfExport.cpp - A checkpoint as a Hugging Face model folder ---------===//
//
// Everything is checked before anything is written (config fields, the
// checkpoint's layers and shapes, the destination, the tokenizer), then the
// folder is staged beside the destination and renamed into place, so that
// a failed export (a full disk included) leaves the destination as it was
// (ModelFolder.cpp).
// Names, order, sharding and the index follow transformers'
// save_pretrained (split_torch_state_dict_into_shards, sort_keys JSON).
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/HfExport.h"
#include "ModelFolder.h"
#include "growc/runtime/Checkpoint.h"
#include "growc/runtime/Json.h"
#include "growc/runtime/Text.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <new>
#include <optional>

#include <sys/stat.h>

namespace growc::rt {

//===----------------------------------------------------------------------===//
// Element conversions
//===----------------------------------------------------------------------===//

namespace {
uint32_t bitsOf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return bits;
}
float floatOf(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}
} // namespace

uint16_t floatToBf16(float value) {
  uint32_t bits = bitsOf(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return 0x7fc0;
  // Adding 0x7fff plus the lowest kept bit rounds ties to even; infinities
  // and the largest finite values carry into the exponent as they must.
  return uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

uint16_t floatToF16(float value) {
  // Rounding by the FPU (Maratyszcza's FP16, which PyTorch uses): scaling
  // by 2^112 then 2^-110 overflows to infinity exactly where half does, and
  // adding a power of two aligned with half's last mantissa bit makes the
  // float addition round to nearest even there, subnormals included.
  uint32_t w = bitsOf(value);
  uint32_t shl1 = w + w;
  uint32_t sign = w & 0x80000000u;
  float base = (std::fabs(value) * 0x1.0p+112f) * 0x1.0p-110f;
  uint32_t bias = shl1 & 0xff000000u;
  if (bias < 0x71000000u)
    bias = 0x71000000u;
  base = floatOf((bias >> 1) + 0x07800000u) + base;
  uint32_t bits = bitsOf(base);
  uint32_t nonsign = ((bits >> 13) & 0x7c00u) + (bits & 0x0fffu);
  return uint16_t((sign >> 16) | (shl1 > 0xff000000u ? 0x7e00u : nonsign));
}

//===----------------------------------------------------------------------===//
// Sizes
//===----------------------------------------------------------------------===//

StatusOr<uint64_t> parseFileSize(std::string_view text) {
  auto bad = [&] {
    return Status::error(
        "bad size '" + std::string(text) +
        "': must be a positive number of bytes, or one with a unit KB, MB, "
        "GB (10^3, 10^6, 10^9 bytes; kb, mb, gb: bits) or KiB, MiB, GiB "
        "(2^10, 2^20, 2^30 bytes), e.g. 5GB");
  };
  size_t digits = 0;
  while (digits < text.size() && std::isdigit((unsigned char)text[digits]))
    ++digits;
  if (digits == 0 || digits > 19)
    return bad();
  uint64_t number = 0;
  for (size_t i = 0; i < digits; ++i)
    number = number * 10 + uint64_t(text[i] - '0');
  std::string unit;
  for (char c : text.substr(digits))
    unit += char(std::toupper((unsigned char)c));
  // transformers tests the binary units first, and a decimal unit ending in
  // a lower-case b counts bits.
  static const std::pair<const char *, uint64_t> kUnits[] = {
      {"", 1},
      {"GIB", 1ull << 30},
      {"MIB", 1ull << 20},
      {"KIB", 1ull << 10},
      {"GB", 1'000'000'000ull},
      {"MB", 1'000'000ull},
      {"KB", 1'000ull}};
  for (const auto &[name, scale] : kUnits) {
    if (unit != name)
      continue;
    if (number == 0 || number > std::numeric_limits<uint64_t>::max() / scale)
      return bad();
    uint64_t bytes = number * scale;
    if (unit.size() == 2 && text.back() == 'b')
      bytes /= 8;
    if (bytes == 0)
      return bad();
    return bytes;
  }
  return bad();
}

namespace {

//===----------------------------------------------------------------------===//
// The config
//===----------------------------------------------------------------------===//

/// The fields of a LlamaConfig that fix the parameter shapes.
struct ModelShape {
  int64_t vocab = 0, hidden = 0, ffn = 0, heads = 0, kvHeads = 0, headDim = 0,
          layers = -1;
  bool tied = false;
};

StatusOr<JsonValue> readJsonFile(const std::string &path) {
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return Status::error(path + ": cannot open: " + std::strerror(errno));
  std::string text;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0)
    text.append(buffer, n);
  bool failed = std::ferror(f);
  std::fclose(f);
  if (failed)
    return Status::error(path + ": cannot read: " + std::strerror(errno));
  StatusOr<JsonValue> json = parseJson(text);
  if (!json.isOk())
    return Status::error(path + ": " + json.status().message());
  return json;
}

StatusOr<ModelShape> readModelShape(const JsonValue &config,
                                    const std::string &path) {
  if (!config.isObject())
    return Status::error(path + ": not a JSON object");
  ModelShape shape;
  // An absent field or null takes transformers' LlamaConfig default.
  auto positive = [&](const char *name, int64_t &out, bool required) -> Status {
    const JsonValue *value = config.find(name);
    if (!value || value->isNull()) {
      if (required)
        return Status::error(path + ": lacks " + name);
      return Status::ok();
    }
    // Bounded so that products of two fields (heads x head_dim) stay exact.
    if (!value->getInt64(out) || out <= 0 || out > INT32_MAX)
      return Status::error(path + ": " + name + " must be an integer in [1, " +
                           std::to_string(INT32_MAX) + "], got " +
                           describeJson(*value));
    return Status::ok();
  };
  for (auto [name, field] : {std::pair{"vocab_size", &shape.vocab},
                             std::pair{"hidden_size", &shape.hidden},
                             std::pair{"intermediate_size", &shape.ffn},
                             std::pair{"num_attention_heads", &shape.heads}})
    if (Status s = positive(name, *field, true); !s.isOk())
      return s;
  shape.kvHeads = shape.heads;
  if (Status s = positive("num_key_value_heads", shape.kvHeads, false);
      !s.isOk())
    return s;
  if (Status s = positive("num_hidden_layers", shape.layers, false); !s.isOk())
    return s;
  const JsonValue *headDim = config.find("head_dim");
  if (!headDim || headDim->isNull()) {
    if (shape.hidden % shape.heads != 0)
      return Status::error(path + ": hidden_size " +
                           std::to_string(shape.hidden) +
                           " is not a multiple of num_attention_heads " +
                           std::to_string(shape.heads) + " and no head_dim");
    shape.headDim = shape.hidden / shape.heads;
  } else if (Status s = positive("head_dim", shape.headDim, true); !s.isOk()) {
    return s;
  }
  if (const JsonValue *tied = config.find("tie_word_embeddings")) {
    if (!tied->isBool())
      return Status::error(path + ": tie_word_embeddings must be true or " +
                           "false, got " + describeJson(*tied));
    shape.tied = tied->asBool();
  }
  if (const JsonValue *types = config.find("layer_types"))
    for (const JsonValue &type : types->elements())
      if (type != types->elements()[0])
        return Status::error(path + ": layer_types " + describeJson(*types) +
                             " mixes types; an export of another depth "
                             "could not say which type a layer has");
  if (const JsonValue *type = config.find("model_type"))
    if (!type->isString() || type->asString() != "llama")
      return Status::error(path + ": model_type " + describeJson(*type) +
                           ": growc exports LlamaForCausalLM (\"llama\")");
  return shape;
}

const char *torchDtypeName(DType dtype) {
  switch (dtype) {
  case DType::BF16:
    return "bfloat16";
  case DType::F16:
    return "float16";
  default:
    return "float32";
  }
}

/// config.json as written: the given fields in their order, the depth and
/// dtype set, and what from_pretrained needs to pick the class.
JsonValue exportedConfig(const JsonValue &config, int64_t layers, DType dtype) {
  JsonValue out = config;
  JsonValue name = JsonValue::string(torchDtypeName(dtype));
  // transformers v5 writes `dtype` and v4 `torch_dtype`; v5 reads both,
  // v4 before 4.56 only the latter. Keep the config's spelling(s); a
  // config with neither gets the one every version reads.
  bool v5 = config.find("dtype"), v4 = config.find("torch_dtype");
  if (v5)
    out.set("dtype", name);
  if (v4 || !v5)
    out.set("torch_dtype", name);
  out.set("num_hidden_layers", JsonValue::number(layers));
  // transformers checks that layer_types has one entry per layer; the
  // grown layers are of the (one) type the others have.
  if (const JsonValue *types = config.find("layer_types");
      types && types->isArray() && types->size() > 0) {
    JsonValue resized = JsonValue::array();
    for (int64_t i = 0; i < layers; ++i)
      resized.push(types->elements()[0]);
    out.set("layer_types", std::move(resized));
  }
  if (!config.find("model_type"))
    out.set("model_type", JsonValue::string("llama"));
  if (!config.find("architectures"))
    out.set("architectures",
            JsonValue::array().push(JsonValue::string("LlamaForCausalLM")));
  return out;
}

/// generation_config.json as save_pretrained derives it from the model's
/// config (GenerationConfig.from_model_config), or nullopt where the config
/// names no special token.
std::optional<JsonValue> generationConfig(const JsonValue &config) {
  JsonValue out = JsonValue::object();
  out.set("_from_model_config", JsonValue::boolean(true));
  bool any = false;
  for (const char *key : {"bos_token_id", "eos_token_id", "pad_token_id"})
    if (const JsonValue *value = config.find(key); value && !value->isNull()) {
      out.set(key, *value);
      any = true;
    }
  if (!any)
    return std::nullopt;
  return out;
}

//===----------------------------------------------------------------------===//
// The checkpoint's tensors
//===----------------------------------------------------------------------===//

/// The parameters of one LlamaDecoderLayer, in its state_dict order.
constexpr const char *kLayerParams[] = {
    "self_attn.q_proj.weight",        "self_attn.k_proj.weight",
    "self_attn.v_proj.weight",        "self_attn.o_proj.weight",
    "mlp.gate_proj.weight",           "mlp.up_proj.weight",
    "mlp.down_proj.weight",           "input_layernorm.weight",
    "post_attention_layernorm.weight"};
constexpr const char *kEmbed = "model.embed_tokens.weight";
constexpr const char *kNorm = "model.norm.weight";
constexpr const char *kHead = "lm_head.weight";
constexpr const char *kLayerPrefix = "model.layers.";

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

/// The shape `name` must have, with the config fields that say so.
std::pair<std::vector<int64_t>, std::string>
expectedShape(const ModelShape &m, std::string_view name) {
  std::string q = "num_attention_heads " + std::to_string(m.heads) +
                  " x head_dim " + std::to_string(m.headDim);
  std::string kv = "num_key_value_heads " + std::to_string(m.kvHeads) +
                   " x head_dim " + std::to_string(m.headDim);
  std::string h = "hidden_size " + std::to_string(m.hidden);
  std::string f = "intermediate_size " + std::to_string(m.ffn);
  std::string v = "vocab_size " + std::to_string(m.vocab);
  if (name == kEmbed || name == kHead)
    return {{m.vocab, m.hidden}, v + ", " + h};
  auto ends = [&](std::string_view suffix) {
    return name.size() >= suffix.size() &&
           name.substr(name.size() - suffix.size()) == suffix;
  };
  if (name == kNorm || ends("layernorm.weight"))
    return {{m.hidden}, h};
  if (ends("q_proj.weight"))
    return {{m.heads * m.headDim, m.hidden}, q + ", " + h};
  if (ends("k_proj.weight") || ends("v_proj.weight"))
    return {{m.kvHeads * m.headDim, m.hidden}, kv + ", " + h};
  if (ends("o_proj.weight"))
    return {{m.hidden, m.heads * m.headDim}, h + ", " + q};
  if (ends("down_proj.weight"))
    return {{m.hidden, m.ffn}, h + ", " + f};
  return {{m.ffn, m.hidden}, f + ", " + h};
}

/// The model's tensors of `checkpoint` in LlamaForCausalLM's state_dict
/// order (what save_pretrained writes and shards by), checked against `m`.
StatusOr<std::vector<const TensorView *>>
modelTensors(const SafetensorsFile &checkpoint, const ModelShape &m,
             const std::string &configPath, int64_t &layersOut) {
  const std::string &path = checkpoint.path();
  // Layer index -> its tensors by parameter suffix.
  std::map<int64_t, std::map<std::string, const TensorView *>> layers;
  const TensorView *embed = nullptr, *norm = nullptr, *head = nullptr;
  for (const TensorView &t : checkpoint.tensors()) {
    std::string_view name = t.name;
    if (startsWith(name, "optimizer.") || startsWith(name, "growc."))
      continue;
    if (name == kEmbed) {
      embed = &t;
    } else if (name == kNorm) {
      norm = &t;
    } else if (name == kHead) {
      head = &t;
    } else if (startsWith(name, kLayerPrefix)) {
      std::string_view rest = name.substr(std::strlen(kLayerPrefix));
      size_t dot = rest.find('.');
      std::string_view index = rest.substr(0, dot);
      bool canonical = !index.empty() && index.size() <= 9 &&
                       (index == "0" || index[0] != '0') &&
                       std::all_of(index.begin(), index.end(), [](char c) {
                         return std::isdigit((unsigned char)c);
                       });
      std::string_view suffix =
          dot == std::string_view::npos ? "" : rest.substr(dot + 1);
      bool known = std::any_of(std::begin(kLayerParams), std::end(kLayerParams),
                               [&](const char *p) { return suffix == p; });
      if (!canonical || !known)
        return Status::error(path + ": tensor " + inQuotes(name) +
                             " is not a parameter of a LlamaDecoderLayer");
      layers[std::stoll(std::string(index))][std::string(suffix)] = &t;
    } else {
      return Status::error(
          path + ": tensor " + inQuotes(name) +
          " is not a parameter of LlamaForCausalLM (an export holds the "
          "model's tensors; optimizer.* and growc.* entries are left out)");
    }
  }
  if (!embed)
    return Status::error(path + ": lacks " + std::string(kEmbed));
  if (!norm)
    return Status::error(path + ": lacks " + std::string(kNorm));
  if (layers.empty())
    return Status::error(path + ": holds no decoder layer (model.layers.N.*)");
  int64_t depth = layers.rbegin()->first + 1;
  for (int64_t i = 0; i < depth; ++i) {
    auto it = layers.find(i);
    if (it == layers.end())
      return Status::error(path + ": has layers up to " +
                           std::to_string(depth - 1) + " but no layer " +
                           std::to_string(i) +
                           " (layer indices must be 0..L-1)");
    for (const char *p : kLayerParams)
      if (!it->second.count(p))
        return Status::error(path + ": layer " + std::to_string(i) + " lacks " +
                             kLayerPrefix + std::to_string(i) + "." + p);
  }
  if (m.tied && head) {
    // save_pretrained leaves a tied head out; one equal to the embedding
    // is that head, another one would be lost.
    bool same = head->dtype == embed->dtype && head->shape == embed->shape &&
                head->byteSize == embed->byteSize &&
                std::memcmp(head->data, embed->data, head->byteSize) == 0;
    if (!same)
      return Status::error(path +
                           ": holds an lm_head.weight that differs "
                           "from model.embed_tokens.weight, but " +
                           configPath +
                           " ties them (tie_word_embeddings); exporting "
                           "would lose the head");
  }
  if (!m.tied && !head)
    return Status::error(path + ": lacks lm_head.weight, which " + configPath +
                         " needs (tie_word_embeddings is false)");

  std::vector<const TensorView *> ordered = {embed};
  for (auto &[index, params] : layers)
    for (const char *p : kLayerParams)
      ordered.push_back(params.at(p));
  ordered.push_back(norm);
  if (!m.tied)
    ordered.push_back(head);
  for (const TensorView *t : ordered) {
    if (t->dtype != DType::F32 && t->dtype != DType::BF16 &&
        t->dtype != DType::F16)
      return Status::error(path + ": tensor " + inQuotes(t->name) + " is " +
                           dtypeName(t->dtype) +
                           "; a parameter is F32, BF16 or F16");
    auto [want, why] = expectedShape(m, t->name);
    if (t->shape != want)
      return Status::error(path + ": tensor " + inQuotes(t->name) +
                           " has shape " + formatShape(t->shape) + " but " +
                           configPath + " needs " + formatShape(want) + " (" +
                           why + ")");
  }
  layersOut = depth;
  return ordered;
}

/// `t` in `dtype`, into `out` (a copy only where the dtype changes).
void convert(const TensorView &t, DType dtype, std::vector<uint8_t> &out) {
  size_t n = size_t(t.numElements());
  if (dtype == DType::F32) {
    out.resize(n * 4);
    convertTensor(t, DType::F32, out.data());
    return;
  }
  std::vector<float> wide(n);
  convertTensor(t, DType::F32, wide.data());
  out.resize(n * 2);
  for (size_t i = 0; i < n; ++i) {
    uint16_t h =
        dtype == DType::BF16 ? floatToBf16(wide[i]) : floatToF16(wide[i]);
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
}

//===----------------------------------------------------------------------===//
// The folder
//===----------------------------------------------------------------------===//

constexpr const char *kExportMetadataKey = "growc.export";
constexpr const char *kIndexName = "model.safetensors.index.json";
constexpr const char *kTokenizerFiles[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "vocab.json", "merges.txt"};

bool isShardName(const std::string &name) {
  unsigned k, n;
  int used = 0;
  return std::sscanf(name.c_str(), "model-%5u-of-%5u.safetensors%n", &k, &n,
                     &used) == 2 &&
         size_t(used) == name.size();
}

/// Whether `dir` holds an earlier growc export and nothing else: only names
/// an export writes, every safetensors file marked as ours. Anything else
/// (a model downloaded from the Hub, a user's files) is never replaced.
bool isEarlierExport(const std::string &dir,
                     const std::vector<std::string> &names) {
  bool anyWeights = false;
  for (const std::string &name : names) {
    bool weights = name == "model.safetensors" || isShardName(name);
    bool known =
        weights || name == "config.json" || name == "generation_config.json" ||
        name == kIndexName ||
        std::any_of(std::begin(kTokenizerFiles), std::end(kTokenizerFiles),
                    [&](const char *t) { return name == t; });
    if (!known)
      return false;
    if (!weights)
      continue;
    StatusOr<SafetensorsFile> file = SafetensorsFile::open(dir + "/" + name);
    if (!file.isOk())
      return false;
    bool marked = std::any_of(
        file->metadata().begin(), file->metadata().end(),
        [](const auto &kv) { return kv.first == kExportMetadataKey; });
    if (!marked)
      return false;
    anyWeights = true;
  }
  return anyWeights;
}

/// The tokenizer files to copy (tokenizer.json and those of its companions
/// that lie beside it), checked against the vocabulary.
StatusOr<std::vector<std::string>> tokenizerFiles(const std::string &given,
                                                  const ModelShape &m) {
  std::string json = isDirectory(given) ? given + "/tokenizer.json" : given;
  StatusOr<JsonValue> tokenizer = readJsonFile(json);
  if (!tokenizer.isOk())
    return Status::error("tokenizer: " + tokenizer.status().message());
  // A tokenizer of another model would make every id mean another word.
  int64_t largest = -1;
  auto see = [&](const JsonValue &id) {
    int64_t v;
    if (id.getInt64(v))
      largest = std::max(largest, v);
  };
  if (const JsonValue *model = tokenizer->find("model"))
    if (const JsonValue *vocab = model->find("vocab"))
      for (const JsonValue::Member &entry : vocab->members())
        see(entry.second);
  if (const JsonValue *added = tokenizer->find("added_tokens"))
    for (const JsonValue &token : added->elements())
      if (const JsonValue *id = token.find("id"))
        see(*id);
  if (largest < 0)
    return Status::error(json + ": not a Hugging Face tokenizer.json (no "
                                "model.vocab or added_tokens ids)");
  if (largest >= m.vocab)
    return Status::error(json + ": has token id " + std::to_string(largest) +
                         " but the model's vocab_size is " +
                         std::to_string(m.vocab) +
                         " (the tokenizer of another model?)");
  std::vector<std::string> files = {json};
  std::string dir = parentOf(json);
  for (const char *name : kTokenizerFiles) {
    std::string path = dir + "/" + name;
    struct stat st;
    if (std::string(name) != "tokenizer.json" &&
        ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      files.push_back(path);
  }
  return files;
}

std::string shardName(size_t k, size_t n) {
  char name[64];
  std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", k, n);
  return name;
}

} // namespace

//===----------------------------------------------------------------------===//
// The export
//===----------------------------------------------------------------------===//

StatusOr<HfExportSummary> exportHuggingFace(const SafetensorsFile &checkpoint,
                                            const HfExportOptions &options) {
  try {
    std::string configPath = isDirectory(options.config)
                                 ? options.config + "/config.json"
                                 : options.config;
    StatusOr<JsonValue> config = readJsonFile(configPath);
    if (!config.isOk())
      return config.status();
    StatusOr<ModelShape> shape = readModelShape(*config, configPath);
    if (!shape.isOk())
      return shape.status();
    HfExportSummary summary;
    StatusOr<std::vector<const TensorView *>> tensors =
        modelTensors(checkpoint, *shape, configPath, summary.layers);
    if (!tensors.isOk())
      return tensors.status();
    summary.configLayers = shape->layers;
    summary.tied = shape->tied;
    std::vector<std::string> tokenizer;
    if (!options.tokenizer.empty()) {
      StatusOr<std::vector<std::string>> files =
          tokenizerFiles(options.tokenizer, *shape);
      if (!files.isOk())
        return files.status();
      tokenizer = std::move(*files);
    }

    // The destination, decided before anything is written (`-o dir/` names
    // dir).
    std::string out = options.out;
    while (out.size() > 1 && out.back() == '/')
      out.pop_back();
    if (out.empty() || baseName(out).empty() || baseName(out) == "." ||
        baseName(out) == "..")
      return Status::error("-o " + inQuotes(out) +
                           ": name the folder to write, e.g. -o exported");
    bool replace = false;
    struct stat st;
    if (::lstat(out.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode))
        return Status::error(out + " exists and is not a folder; export "
                                   "writes a new folder (or replaces an "
                                   "earlier export)");
      StatusOr<std::vector<std::string>> names = listFolder(out);
      if (!names.isOk())
        return names.status();
      if (!names->empty()) {
        if (!isEarlierExport(out, *names))
          return Status::error(
              out + " exists and is not an earlier growc export (it holds " +
              inQuotes(names->front()) +
              "); export only replaces an empty folder or its own output");
        replace = true;
      }
    } else if (errno != ENOENT) {
      return Status::error(out + ": " + std::strerror(errno));
    } else if (!isDirectory(parentOf(out))) {
      return Status::error(out + ": its parent " + parentOf(out) +
                           " is not a folder");
    }

    // Shards as transformers splits them: in state_dict order, a new shard
    // when the next tensor would pass the limit, a tensor larger than the
    // limit alone in its own.
    size_t elementSize = dtypeSize(options.dtype);
    std::vector<std::vector<const TensorView *>> shards;
    std::vector<const TensorView *> current;
    uint64_t currentSize = 0;
    for (const TensorView *t : *tensors) {
      uint64_t size = uint64_t(t->numElements()) * elementSize;
      summary.totalSize += size;
      if (size > options.maxShardSize) {
        shards.push_back({t});
        continue;
      }
      if (currentSize + size > options.maxShardSize && !current.empty()) {
        shards.push_back(std::move(current));
        current.clear();
        currentSize = 0;
      }
      current.push_back(t);
      currentSize += size;
    }
    if (!current.empty())
      shards.push_back(std::move(current));

    summary.removedStaging = removeStaleStaging(out);
    StatusOr<std::unique_ptr<StagingFolder>> staging =
        StagingFolder::create(out);
    if (!staging.isOk())
      return staging.status();
    const std::string &dir = (*staging)->path;
    // Errors name the file as it will be called, and say that nothing
    // changed there.
    auto failed = [&](const std::string &name, const Status &status) {
      std::string message = status.message();
      std::string staged = dir + "/" + name;
      for (size_t at; (at = message.find(staged)) != std::string::npos;)
        message.replace(at, staged.size(), out + "/" + name);
      return Status::error(message + " (" + out + " is left as it was)");
    };

    std::vector<std::pair<std::string, std::string>> metadata = {
        {"format", "pt"}, {kExportMetadataKey, checkpoint.path()}};
    JsonValue weightMap = JsonValue::object();
    std::map<std::string, std::string> sortedMap;
    for (size_t k = 0; k < shards.size(); ++k) {
      std::string name = shards.size() == 1 ? std::string("model.safetensors")
                                            : shardName(k + 1, shards.size());
      std::vector<std::vector<uint8_t>> converted(shards[k].size());
      std::vector<TensorToWrite> writes;
      for (size_t i = 0; i < shards[k].size(); ++i) {
        const TensorView &t = *shards[k][i];
        const void *data = t.data;
        size_t bytes = t.byteSize;
        if (t.dtype != options.dtype) {
          convert(t, options.dtype, converted[i]);
          data = converted[i].data();
          bytes = converted[i].size();
        }
        writes.push_back({t.name, options.dtype, t.shape, data, bytes});
        sortedMap[t.name] = name;
      }
      if (Status s = writeSafetensors(dir + "/" + name, writes, metadata);
          !s.isOk())
        return failed(name, s);
      summary.files.push_back(name);
    }
    if (shards.size() > 1) {
      for (const auto &[tensor, file] : sortedMap)
        weightMap.set(tensor, JsonValue::string(file));
      JsonValue index = JsonValue::object();
      index.set("metadata",
                JsonValue::object().set("total_size",
                                        JsonValue::number(summary.totalSize)));
      index.set("weight_map", std::move(weightMap));
      if (Status s = writeText(dir + "/" + kIndexName, toJson(index, 2) + "\n");
          !s.isOk())
        return failed(kIndexName, s);
      summary.files.push_back(kIndexName);
    }
    if (Status s = writeText(
            dir + "/config.json",
            toJson(exportedConfig(*config, summary.layers, options.dtype), 2) +
                "\n");
        !s.isOk())
      return failed("config.json", s);
    summary.files.push_back("config.json");
    if (std::optional<JsonValue> generation = generationConfig(*config)) {
      if (Status s = writeText(dir + "/generation_config.json",
                               toJson(*generation, 2) + "\n");
          !s.isOk())
        return failed("generation_config.json", s);
      summary.files.push_back("generation_config.json");
    }
    for (const std::string &file : tokenizer) {
      std::string name = baseName(file);
      if (Status s = copyFile(file, dir + "/" + name); !s.isOk())
        return failed(name, s);
      summary.files.push_back(name);
    }
    syncPath(dir);
    if (Status s = placeFolder(dir, out, replace); !s.isOk())
      return Status::error(s.message() + " (" + out + " is left as it was)");
    (*staging)->path.clear();
    std::sort(summary.files.begin(), summary.files.end());
    return summary;
  } catch (const std::bad_alloc &) {
    return Status::error("export to " + options.out + ": out of memory");
  }
}

} // namespace growc::rt
