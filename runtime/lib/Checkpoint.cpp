//===- Checkpoint.cpp - One file, an index of shards, or a model directory ===//
//
// The index is trusted for nothing: a shard path that leaves the directory
// is refused before anything is opened, and the map is checked against
// what the shards hold in both directions, so a tensor that sits in a
// different shard, in two shards or in none is an error naming it.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Checkpoint.h"

#include "growc/runtime/Json.h"
#include "growc/runtime/Text.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <sys/stat.h>

using namespace growc::rt;

namespace {

/// Bigger than any index save_pretrained writes (a few hundred KB for
/// thousands of tensors); a bound so that a wrong file is not read whole.
constexpr size_t kMaxIndexBytes = size_t(64) << 20;

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool isDirectory(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string directoryOf(const std::string &path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string joinPath(const std::string &dir, const std::string &name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

/// Why `shard` (from an index's weight_map) is not a path inside the
/// index's directory, or empty if it is.
std::string shardPathProblem(const std::string &shard) {
  if (shard.empty())
    return "is empty";
  if (shard.find('\0') != std::string::npos)
    return "contains a NUL character";
  if (shard.front() == '/')
    return "is an absolute path";
  size_t begin = 0;
  while (begin <= shard.size()) {
    size_t end = shard.find('/', begin);
    if (end == std::string::npos)
      end = shard.size();
    if (shard.compare(begin, end - begin, "..") == 0 && end - begin == 2)
      return "leaves the checkpoint's directory ('..')";
    begin = end + 1;
  }
  return "";
}

StatusOr<std::string> readSmallFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error(path + ": cannot open: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0)
    return Status::error(path + ": cannot read");
  if (static_cast<uint64_t>(size) > kMaxIndexBytes)
    return Status::error(path + ": " + std::to_string(size) +
                         " bytes is too large for a checkpoint index");
  in.seekg(0);
  std::string text(static_cast<size_t>(size), '\0');
  if (!in.read(text.data(), size))
    return Status::error(path + ": cannot read");
  return text;
}

/// A prefix of `tensor` as a flat view of `count` elements from `first`.
TensorView sliceOf(const TensorView &tensor, int64_t first, int64_t count) {
  size_t width = dtypeSize(tensor.dtype);
  return {tensor.name,
          tensor.dtype,
          {count},
          tensor.data + size_t(first) * width,
          size_t(count) * width};
}

} // namespace

//===----------------------------------------------------------------------===//
// The index
//===----------------------------------------------------------------------===//

StatusOr<std::vector<CheckpointIndexEntry>>
growc::rt::parseCheckpointIndex(std::string_view text,
                                const std::string &path) {
  try {
    StatusOr<JsonValue> json = parseJson(text);
    if (!json.isOk())
      return Status::error(path + ": " + json.status().message());
    if (!json->isObject())
      return Status::error(path + ": a checkpoint index is a JSON object "
                                  "with a \"weight_map\"");
    const JsonValue *metadata = json->find("metadata");
    if (metadata && !metadata->isObject() && !metadata->isNull())
      return Status::error(path + ": \"metadata\" must be an object, got " +
                           describeJson(*metadata));
    const JsonValue *map = json->find("weight_map");
    if (!map || !map->isObject())
      return Status::error(path + ": no \"weight_map\" object (is this a "
                                  "model.safetensors.index.json?)");
    std::vector<CheckpointIndexEntry> entries;
    entries.reserve(map->members().size());
    for (const auto &[tensor, shard] : map->members()) {
      if (!shard.isString())
        return Status::error(path + ": weight_map entry " + inQuotes(tensor) +
                             " must name a shard file, got " +
                             describeJson(shard));
      std::string problem = shardPathProblem(shard.asString());
      if (!problem.empty())
        return Status::error(path + ": the shard " +
                             inQuotes(shard.asString()) + " of tensor " +
                             inQuotes(tensor) + " " + problem);
      entries.push_back({tensor, shard.asString()});
    }
    if (entries.empty())
      return Status::error(path + ": the weight_map names no tensors");
    // Sorted for lookups; names are unique, since the JSON reader refuses
    // an object that repeats a key.
    std::sort(entries.begin(), entries.end(),
              [](const CheckpointIndexEntry &a, const CheckpointIndexEntry &b) {
                return a.tensor < b.tensor;
              });
    return entries;
  } catch (const std::bad_alloc &) {
    return Status::error(path + ": out of memory");
  }
}

//===----------------------------------------------------------------------===//
// Checkpoint
//===----------------------------------------------------------------------===//

Checkpoint::Checkpoint(const SafetensorsFile &file) : path_(file.path()) {
  addFile(file);
  metadata_ = file.metadata();
}
Checkpoint::Checkpoint(SafetensorsFile &&file) : Checkpoint(file) {
  owned_.push_back(std::move(file));
}
Checkpoint::Checkpoint(Checkpoint &&) noexcept = default;
Checkpoint &Checkpoint::operator=(Checkpoint &&) noexcept = default;
Checkpoint::~Checkpoint() = default;

void Checkpoint::addFile(const SafetensorsFile &file) {
  // TensorView::data points into the file's storage, which stays where it
  // is when the file object moves; copying the views is enough.
  uint32_t index = static_cast<uint32_t>(files_.size());
  files_.push_back(file.path());
  for (const TensorView &tensor : file.tensors()) {
    tensors_.push_back(tensor);
    fileIndex_.push_back(index);
  }
}

const TensorView *Checkpoint::find(std::string_view name) const {
  return findTensor(tensors_, name);
}

const std::string &Checkpoint::fileOf(const TensorView &tensor) const {
  const TensorView *found = find(tensor.name);
  if (!found)
    return path_;
  return files_[fileIndex_[size_t(found - tensors_.data())]];
}

StatusOr<Checkpoint> Checkpoint::open(const std::string &path) {
  try {
    if (isDirectory(path)) {
      std::string single = joinPath(path, kCheckpointFileName);
      std::string index = joinPath(path, kCheckpointIndexName);
      bool hasSingle = exists(single), hasIndex = exists(index);
      if (hasSingle && hasIndex)
        return Status::error(path + ": holds both " +
                             std::string(kCheckpointFileName) + " and " +
                             kCheckpointIndexName +
                             "; which is the checkpoint is ambiguous (remove "
                             "one, or name the file)");
      if (hasIndex)
        return openIndex(index, path);
      if (!hasSingle)
        return Status::error(
            path + ": a model directory must hold " +
            std::string(kCheckpointFileName) + " or " + kCheckpointIndexName +
            (exists(joinPath(path, "pytorch_model.bin"))
                 ? " (pytorch_model.bin is a pickle, which growc does not "
                   "read: save with safe_serialization=True)"
                 : ""));
      return open(single);
    }
    if (endsWith(path, ".json"))
      return openIndex(path, path);
    StatusOr<SafetensorsFile> file = SafetensorsFile::open(path);
    if (!file.isOk())
      return file.status();
    return Checkpoint(std::move(*file));
  } catch (const std::bad_alloc &) {
    return Status::error(path + ": out of memory");
  }
}

StatusOr<Checkpoint> Checkpoint::openIndex(const std::string &indexPath,
                                           const std::string &displayPath) {
  StatusOr<std::string> text = readSmallFile(indexPath);
  if (!text.isOk())
    return text.status();
  StatusOr<std::vector<CheckpointIndexEntry>> entries =
      parseCheckpointIndex(*text, indexPath);
  if (!entries.isOk())
    return entries.status();
  auto inMap = [&](const std::string &tensor) -> const CheckpointIndexEntry * {
    auto it = std::lower_bound(
        entries->begin(), entries->end(), tensor,
        [](const CheckpointIndexEntry &e, const std::string &name) {
          return e.tensor < name;
        });
    return it != entries->end() && it->tensor == tensor ? &*it : nullptr;
  };

  // The shards in the order the map first names them.
  std::vector<std::string> shards;
  for (const CheckpointIndexEntry &entry : *entries)
    if (std::find(shards.begin(), shards.end(), entry.shard) == shards.end())
      shards.push_back(entry.shard);
  std::sort(shards.begin(), shards.end());

  Checkpoint checkpoint;
  checkpoint.path_ = displayPath;
  const std::string dir = directoryOf(indexPath);
  for (const std::string &shard : shards) {
    StatusOr<SafetensorsFile> file =
        SafetensorsFile::open(joinPath(dir, shard));
    if (!file.isOk())
      return Status::error(file.status().message() + " (a shard named by " +
                           indexPath + ")");
    // Every tensor of the shard is one the map puts in this shard.
    for (const TensorView &tensor : file->tensors()) {
      const CheckpointIndexEntry *entry = inMap(tensor.name);
      if (!entry)
        return Status::error(file->path() + ": holds tensor " +
                             inQuotes(tensor.name) + ", which " + indexPath +
                             " does not list");
      if (entry->shard != shard)
        return Status::error(file->path() + ": holds tensor " +
                             inQuotes(tensor.name) + ", which " + indexPath +
                             " puts in " + inQuotes(entry->shard) +
                             " (a tensor in the wrong shard, or in two)");
    }
    for (const auto &[key, value] : file->metadata()) {
      auto same = std::find_if(
          checkpoint.metadata_.begin(), checkpoint.metadata_.end(),
          [&key = key](const auto &kv) { return kv.first == key; });
      if (same == checkpoint.metadata_.end())
        checkpoint.metadata_.emplace_back(key, value);
      else if (same->second != value)
        return Status::error(file->path() + ": metadata " + inQuotes(key) +
                             " differs from another shard's");
    }
    checkpoint.addFile(*file);
    checkpoint.owned_.push_back(std::move(*file));
  }
  // And every tensor the map lists is in its shard.
  for (const CheckpointIndexEntry &entry : *entries) {
    size_t shard =
        size_t(std::lower_bound(shards.begin(), shards.end(), entry.shard) -
               shards.begin());
    if (!checkpoint.owned_[shard].find(entry.tensor))
      return Status::error(indexPath + ": puts tensor " +
                           inQuotes(entry.tensor) + " in " +
                           inQuotes(entry.shard) + ", which does not hold it");
  }

  // One sorted list over all shards (names are unique across shards: each
  // is in the one shard the map names).
  std::vector<size_t> order(checkpoint.tensors_.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return checkpoint.tensors_[a].name < checkpoint.tensors_[b].name;
  });
  std::vector<TensorView> tensors;
  std::vector<uint32_t> fileIndex;
  tensors.reserve(order.size());
  fileIndex.reserve(order.size());
  for (size_t i : order) {
    tensors.push_back(std::move(checkpoint.tensors_[i]));
    fileIndex.push_back(checkpoint.fileIndex_[i]);
  }
  checkpoint.tensors_ = std::move(tensors);
  checkpoint.fileIndex_ = std::move(fileIndex);
  return checkpoint;
}

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

bool growc::rt::convertsExactly(DType from, DType to) {
  return from == to ||
         (to == DType::F32 && (from == DType::BF16 || from == DType::F16));
}

float growc::rt::widenBf16(uint16_t bits) {
  // bf16 is the top half of an f32.
  uint32_t wide = uint32_t(bits) << 16;
  float value;
  std::memcpy(&value, &wide, 4);
  return value;
}

float growc::rt::widenF16(uint16_t bits) {
  uint32_t sign = uint32_t(bits & 0x8000) << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  uint32_t wide;
  if (exponent == 0x1f) {
    // Infinity or NaN, payload kept in the top mantissa bits.
    wide = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    wide = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    wide = sign;
  } else {
    // A subnormal f16 (mantissa * 2^-24) is a normal f32: shift the
    // mantissa up to its implicit bit, lowering the exponent as it goes.
    uint32_t e = 127 - 15 + 1;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      --e;
    }
    wide = sign | (e << 23) | ((mantissa & 0x3ff) << 13);
  }
  float value;
  std::memcpy(&value, &wide, 4);
  return value;
}

void growc::rt::convertTensor(const TensorView &tensor, DType to, void *dst) {
  if (tensor.dtype == to) {
    std::memcpy(dst, tensor.data, tensor.byteSize);
    return;
  }
  float (*widen)(uint16_t) = tensor.dtype == DType::BF16 ? widenBf16 : widenF16;
  uint8_t *out = static_cast<uint8_t *>(dst);
  const size_t count = tensor.byteSize / 2;
  for (size_t i = 0; i < count; ++i) {
    uint16_t bits; // The data carries no alignment guarantee.
    std::memcpy(&bits, tensor.data + 2 * i, 2);
    float value = widen(bits);
    std::memcpy(out + 4 * i, &value, 4);
  }
}

//===----------------------------------------------------------------------===//
// Tensors that are not parameters
//===----------------------------------------------------------------------===//

bool growc::rt::isIgnoredBuffer(std::string_view name) {
  std::string_view rest = name;
  auto consume = [&](std::string_view prefix) {
    if (rest.substr(0, prefix.size()) != prefix)
      return false;
    rest.remove_prefix(prefix.size());
    return true;
  };
  if (!consume("model."))
    return false;
  if (consume("layers.")) {
    size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9')
      ++digits;
    if (digits == 0)
      return false;
    rest.remove_prefix(digits);
    if (!consume(".self_attn."))
      return false;
  }
  return rest == "rotary_emb.inv_freq" || rest == "rotary_emb.cos_cached" ||
         rest == "rotary_emb.sin_cached";
}

Status growc::rt::checkTiedHead(const Checkpoint &checkpoint,
                                const TensorView &head, const TensorView &embed,
                                DType dtype) {
  const std::string where = checkpoint.fileOf(head) + ": ";
  const std::string tied =
      "; the model ties its output head to the embedding "
      "(tie_word_embeddings), so this checkpoint is of an untied model";
  if (head.shape != embed.shape)
    return Status::error(where + inQuotes(head.name) + " has shape " +
                         formatShape(head.shape) + ", " + inQuotes(embed.name) +
                         " " + formatShape(embed.shape) + tied);
  // Compare in chunks after conversion: both conversions are injective, so
  // equal converted bits mean equal values (NaNs with their payloads).
  const int64_t total = embed.numElements();
  const int64_t chunk = 4096;
  const size_t width = dtypeSize(dtype);
  std::vector<uint8_t> a(size_t(chunk) * width), b(size_t(chunk) * width);
  for (int64_t first = 0; first < total; first += chunk) {
    int64_t count = std::min(chunk, total - first);
    convertTensor(sliceOf(head, first, count), dtype, a.data());
    convertTensor(sliceOf(embed, first, count), dtype, b.data());
    if (std::memcmp(a.data(), b.data(), size_t(count) * width) == 0)
      continue;
    int64_t i = 0;
    while (std::memcmp(a.data() + i * width, b.data() + i * width, width) == 0)
      ++i;
    int64_t at = first + i, cols = embed.shape.size() == 2 ? embed.shape[1] : 1;
    return Status::error(where + inQuotes(head.name) + " differs from " +
                         inQuotes(embed.name) + " at [" +
                         std::to_string(at / cols) + ", " +
                         std::to_string(at % cols) + "]" + tied);
  }
  return Status::ok();
}
