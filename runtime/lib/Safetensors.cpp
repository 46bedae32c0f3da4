//===- Safetensors.cpp - Safetensors checkpoint reader and writer ---------===//
//
// Reading memory-maps the file and validates the header completely before
// handing out any TensorView, so that later code can index tensor data
// without further bounds checks. Writing goes through writeFileAtomically so
// that a crash never leaves a half-written checkpoint behind.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Json.h"
#include "growc/runtime/Text.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <limits>
#include <new>
#include <random>
#include <unordered_set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace growc::rt {

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

namespace {
struct DTypeInfo {
  DType dtype;
  const char *name;
  size_t size;
};

// Same spellings as the reference implementation's Dtype enum.
constexpr DTypeInfo kDTypes[] = {
    {DType::BOOL, "BOOL", 1},       {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},           {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},         {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},       {DType::I32, "I32", 4},
    {DType::U32, "U32", 4},         {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},         {DType::I64, "I64", 8},
    {DType::U64, "U64", 8},         {DType::F8_E4M3, "F8_E4M3", 1},
    {DType::F8_E5M2, "F8_E5M2", 1},
};

const DTypeInfo *lookup(DType dtype) {
  for (const DTypeInfo &info : kDTypes)
    if (info.dtype == dtype)
      return &info;
  return nullptr;
}
} // namespace

size_t dtypeSize(DType dtype) {
  const DTypeInfo *info = lookup(dtype);
  return info ? info->size : 0;
}

const char *dtypeName(DType dtype) {
  const DTypeInfo *info = lookup(dtype);
  return info ? info->name : "<invalid dtype>";
}

std::optional<DType> parseDType(std::string_view name) {
  for (const DTypeInfo &info : kDTypes)
    if (name == info.name)
      return info.dtype;
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {

constexpr uint64_t kMaxHeaderSize = 100ull << 20; // Same as the reference.
constexpr const char *kMetadataKey = "__metadata__";
constexpr const char *kFormatKey = "format";

/// Product of `shape`, or nullopt if a dimension is negative or the product
/// overflows int64_t. A zero dimension makes the product 0 regardless of the
/// other dimensions.
std::optional<int64_t> checkedNumElements(const std::vector<int64_t> &shape) {
  for (int64_t d : shape) {
    if (d < 0)
      return std::nullopt;
    if (d == 0)
      return 0;
  }
  int64_t n = 1;
  for (int64_t d : shape) {
    if (n > std::numeric_limits<int64_t>::max() / d)
      return std::nullopt;
    n *= d;
  }
  return n;
}

/// numElements * dtypeSize, or nullopt on overflow of size_t.
std::optional<size_t> checkedByteSize(int64_t numElements, DType dtype) {
  size_t elemSize = dtypeSize(dtype);
  uint64_t n = static_cast<uint64_t>(numElements);
  if (elemSize == 0 || n > std::numeric_limits<size_t>::max() / elemSize)
    return std::nullopt;
  return static_cast<size_t>(n) * elemSize;
}

std::string errnoMessage(int err) { return std::strerror(err); }

} // namespace

int64_t TensorView::numElements() const {
  return checkedNumElements(shape).value_or(-1);
}

//===----------------------------------------------------------------------===//
// Storage
//===----------------------------------------------------------------------===//

/// Either an owned byte vector (fromBytes) or a read-only mapping (open).
class SafetensorsFile::Storage {
public:
  explicit Storage(std::vector<uint8_t> bytes) : bytes(std::move(bytes)) {}
  Storage(void *mapAddr, size_t mapSize) : mapAddr(mapAddr), mapSize(mapSize) {}
  Storage(const Storage &) = delete;
  Storage &operator=(const Storage &) = delete;
  ~Storage() {
    if (mapAddr)
      ::munmap(mapAddr, mapSize);
  }

  const uint8_t *data() const {
    return mapAddr ? static_cast<const uint8_t *>(mapAddr) : bytes.data();
  }
  size_t size() const { return mapAddr ? mapSize : bytes.size(); }

private:
  std::vector<uint8_t> bytes;
  void *mapAddr = nullptr;
  size_t mapSize = 0;
};

//===----------------------------------------------------------------------===//
// SafetensorsFile
//===----------------------------------------------------------------------===//

SafetensorsFile::SafetensorsFile(SafetensorsFile &&) noexcept = default;
SafetensorsFile &
SafetensorsFile::operator=(SafetensorsFile &&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

const TensorView *growc::rt::findTensor(const std::vector<TensorView> &tensors,
                                        std::string_view name) {
  auto it = std::lower_bound(
      tensors.begin(), tensors.end(), name,
      [](const TensorView &t, std::string_view n) { return t.name < n; });
  if (it == tensors.end() || it->name != name)
    return nullptr;
  return &*it;
}

const TensorView *SafetensorsFile::find(std::string_view name) const {
  return findTensor(tensors_, name);
}

StatusOr<SafetensorsFile> SafetensorsFile::open(const std::string &path) {
  try {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return Status::error(path + ": cannot open: " + errnoMessage(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return Status::error(path + ": cannot stat: " + errnoMessage(err));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status::error(path + ": not a regular file");
    }
    if (static_cast<uint64_t>(st.st_size) >
        std::numeric_limits<size_t>::max()) {
      ::close(fd);
      return Status::error(path + ": file too large to map");
    }
    size_t size = static_cast<size_t>(st.st_size);
    // mmap rejects empty mappings; an empty file is simply too short, which
    // validate() reports.
    if (size == 0) {
      ::close(fd);
      return validate(std::make_unique<Storage>(std::vector<uint8_t>()), path);
    }
    void *addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    // The mapping keeps the file referenced; the descriptor is not needed.
    ::close(fd);
    if (addr == MAP_FAILED)
      return Status::error(path + ": cannot mmap: " + errnoMessage(err));
    return validate(std::make_unique<Storage>(addr, size), path);
  } catch (const std::bad_alloc &) {
    return Status::error(path + ": out of memory");
  }
}

StatusOr<SafetensorsFile> SafetensorsFile::fromBytes(std::vector<uint8_t> bytes,
                                                     std::string displayName) {
  try {
    return validate(std::make_unique<Storage>(std::move(bytes)), displayName);
  } catch (const std::bad_alloc &) {
    return Status::error(displayName + ": out of memory");
  }
}

namespace {

/// A header entry after per-tensor validation, before the layout checks.
struct ParsedTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin;
  uint64_t end;
};

/// Validates one tensor entry of the header. Returns an error message
/// (without the file prefix) or the empty string.
std::string parseTensorEntry(const std::string &name, const JsonValue &entry,
                             uint64_t dataSize, ParsedTensor &out) {
  std::string tensor = "tensor " + inQuotes(name) + ": ";
  if (!entry.isObject())
    return tensor +
           "entry must be an object with dtype, shape and "
           "data_offsets, got " +
           describeJson(entry);
  for (const JsonValue::Member &m : entry.members())
    if (m.first != "dtype" && m.first != "shape" && m.first != "data_offsets")
      return tensor + "unexpected key " + inQuotes(m.first) +
             " (expected only dtype, shape and data_offsets)";

  const JsonValue *dtype = entry.find("dtype");
  const JsonValue *shape = entry.find("shape");
  const JsonValue *offsets = entry.find("data_offsets");
  if (!dtype)
    return tensor + "missing key 'dtype'";
  if (!shape)
    return tensor + "missing key 'shape'";
  if (!offsets)
    return tensor + "missing key 'data_offsets'";

  if (!dtype->isString())
    return tensor + "dtype must be a string, got " + describeJson(*dtype);
  std::optional<DType> dt = parseDType(dtype->asString());
  if (!dt)
    return tensor + "unknown dtype " + inQuotes(dtype->asString());

  if (!shape->isArray())
    return tensor + "shape must be an array of non-negative integers, got " +
           describeJson(*shape);
  std::vector<int64_t> dims;
  for (const JsonValue &d : shape->elements()) {
    int64_t v;
    if (!d.getInt64(v) || v < 0)
      return tensor + "shape must be an array of non-negative integers, got " +
             describeJson(*shape);
    dims.push_back(v);
  }
  std::optional<int64_t> numElements = checkedNumElements(dims);
  std::optional<size_t> byteSize =
      numElements ? checkedByteSize(*numElements, *dt) : std::nullopt;
  if (!byteSize)
    return tensor + "shape " + formatShape(dims) + " of dtype " +
           dtypeName(*dt) + " is too large (size overflows)";

  int64_t begin, end;
  if (!offsets->isArray() || offsets->size() != 2 ||
      !offsets->elements()[0].getInt64(begin) ||
      !offsets->elements()[1].getInt64(end) || begin < 0 || end < 0)
    return tensor +
           "data_offsets must be two non-negative integers [begin, end], "
           "got " +
           describeJson(*offsets);
  if (begin > end)
    return tensor + "data_offsets begin " + std::to_string(begin) +
           " is after end " + std::to_string(end);
  uint64_t span = static_cast<uint64_t>(end - begin);
  if (span != *byteSize)
    return tensor + "size mismatch: data_offsets [" + std::to_string(begin) +
           ", " + std::to_string(end) + "] span " + std::to_string(span) +
           " bytes but shape " + formatShape(dims) + " of dtype " +
           dtypeName(*dt) + " needs " + std::to_string(*byteSize) + " bytes";
  if (static_cast<uint64_t>(end) > dataSize)
    return "truncated: tensor " + inQuotes(name) + " ends at byte " +
           std::to_string(end) + " of the data buffer but the file has only " +
           std::to_string(dataSize) + " bytes of data";

  out.name = name;
  out.dtype = *dt;
  out.shape = std::move(dims);
  out.begin = static_cast<uint64_t>(begin);
  out.end = static_cast<uint64_t>(end);
  return std::string();
}

} // namespace

StatusOr<SafetensorsFile>
SafetensorsFile::validate(std::unique_ptr<Storage> storage,
                          const std::string &path) {
  const uint8_t *bytes = storage->data();
  const size_t fileSize = storage->size();
  auto fail = [&](const std::string &what) {
    return Status::error(path + ": " + what);
  };

  if (fileSize < 8)
    return fail("file is only " + std::to_string(fileSize) +
                " bytes, too short for the 8-byte header length");
  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = (headerSize << 8) | bytes[i];
  if (headerSize == 0)
    return fail("header length is 0");
  if (headerSize > kMaxHeaderSize)
    return fail("header length " + std::to_string(headerSize) +
                " exceeds the limit of " + std::to_string(kMaxHeaderSize) +
                " bytes");
  if (headerSize > fileSize - 8)
    return fail("truncated header: header length is " +
                std::to_string(headerSize) + " bytes but only " +
                std::to_string(fileSize - 8) +
                " bytes follow the 8-byte length prefix");

  std::string_view headerText(reinterpret_cast<const char *>(bytes + 8),
                              static_cast<size_t>(headerSize));
  // The reference implementation requires this too; it also rejects a
  // header that is a JSON value other than an object early.
  if (headerText[0] != '{')
    return fail("header does not start with '{'");
  StatusOr<JsonValue> header = parseJson(headerText);
  if (!header.isOk())
    return fail("invalid JSON header: " + header.status().message());
  if (!header->isObject())
    return fail("header is not a JSON object");

  const size_t dataStart = 8 + static_cast<size_t>(headerSize);
  const uint64_t dataSize = fileSize - dataStart;

  SafetensorsFile file;
  std::vector<ParsedTensor> parsed;
  parsed.reserve(header->size());
  for (const JsonValue::Member &m : header->members()) {
    if (m.first == kMetadataKey) {
      if (!m.second.isObject())
        return fail("__metadata__ must be an object of string values, got " +
                    describeJson(m.second));
      for (const JsonValue::Member &md : m.second.members()) {
        if (!md.second.isString())
          return fail("__metadata__ value for key " + inQuotes(md.first) +
                      " is not a string (got " + describeJson(md.second) + ")");
        file.metadata_.emplace_back(md.first, md.second.asString());
      }
      continue;
    }
    if (m.first.empty())
      return fail("tensor with an empty name");
    ParsedTensor t;
    std::string err = parseTensorEntry(m.first, m.second, dataSize, t);
    if (!err.empty())
      return fail(err);
    parsed.push_back(std::move(t));
  }

  // Layout: sorted by offsets, each tensor must start exactly where the
  // previous one ended and the last must end at the end of the file. This
  // rejects overlaps (aliasing that a writer would silently corrupt), holes
  // and trailing bytes, as the reference implementation does.
  std::vector<const ParsedTensor *> byOffset;
  byOffset.reserve(parsed.size());
  for (const ParsedTensor &t : parsed)
    byOffset.push_back(&t);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const ParsedTensor *a, const ParsedTensor *b) {
              if (a->begin != b->begin)
                return a->begin < b->begin;
              if (a->end != b->end)
                return a->end < b->end;
              return a->name < b->name;
            });
  uint64_t covered = 0;
  const ParsedTensor *prev = nullptr;
  for (const ParsedTensor *t : byOffset) {
    if (t->begin < covered)
      return fail("tensors " + inQuotes(prev->name) + " and " +
                  inQuotes(t->name) + " overlap: " + inQuotes(prev->name) +
                  " covers bytes [" + std::to_string(prev->begin) + ", " +
                  std::to_string(prev->end) + ") and " + inQuotes(t->name) +
                  " starts at " + std::to_string(t->begin));
    if (t->begin > covered)
      return fail("hole in the data buffer: bytes [" + std::to_string(covered) +
                  ", " + std::to_string(t->begin) + ") before tensor " +
                  inQuotes(t->name) +
                  " are not covered by any tensor (safetensors requires "
                  "tensors to cover the data buffer without gaps)");
    covered = t->end;
    prev = t;
  }
  if (covered != dataSize)
    return fail("trailing bytes: the data buffer has " +
                std::to_string(dataSize) +
                " bytes but the tensors cover only " + std::to_string(covered) +
                " (safetensors does not allow bytes not covered by any "
                "tensor)");

  std::sort(parsed.begin(), parsed.end(),
            [](const ParsedTensor &a, const ParsedTensor &b) {
              return a.name < b.name;
            });
  file.tensors_.reserve(parsed.size());
  for (ParsedTensor &t : parsed) {
    TensorView view;
    view.name = std::move(t.name);
    view.dtype = t.dtype;
    view.shape = std::move(t.shape);
    view.data = bytes + dataStart + t.begin;
    view.byteSize = static_cast<size_t>(t.end - t.begin);
    file.tensors_.push_back(std::move(view));
  }
  file.storage_ = std::move(storage);
  file.path_ = path;
  return file;
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

namespace {

/// A suffix that makes concurrent temporary files from different processes
/// and threads distinct. random_device may be unavailable (and may throw);
/// the time and a counter then keep suffixes distinct within a process.
std::string randomSuffix() {
  static std::atomic<uint64_t> counter{0};
  uint64_t r = static_cast<uint64_t>(
      std::chrono::steady_clock::now().time_since_epoch().count());
  r ^= counter.fetch_add(1) * 0x9E3779B97F4A7C15ull;
  try {
    std::random_device rd;
    r ^= (static_cast<uint64_t>(rd()) << 32) ^ rd();
  } catch (...) {
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(r));
  return buf;
}

std::string parentDirectory(const std::string &path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return ".";
  if (slash == 0)
    return "/";
  return path.substr(0, slash);
}

} // namespace

Status writeFileAtomically(const std::string &path,
                           const std::function<Status(std::FILE *)> &writer) {
  auto fail = [&](const std::string &what) {
    return Status::error("cannot write " + path + ": " + what);
  };

  std::string tmp;
  int fd = -1;
  // O_EXCL so that we never write into someone else's file; retry on the
  // (unlikely) name collision.
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    tmp = path + ".tmp." + std::to_string(::getpid()) + "." + randomSuffix();
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST)
      break;
  }
  if (fd < 0)
    return fail("cannot create temporary file " + tmp + ": " +
                errnoMessage(errno));
  std::FILE *f = ::fdopen(fd, "wb");
  if (!f) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail("fdopen failed: " + errnoMessage(err));
  }

  Status status;
  try {
    status = writer(f);
  } catch (const std::exception &e) {
    status = Status::error(std::string("exception: ") + e.what());
  } catch (...) {
    status = Status::error("unknown exception");
  }
  if (status.isOk()) {
    if (std::fflush(f) != 0 || std::ferror(f))
      status = Status::error("write failed: " + errnoMessage(errno));
    else if (::fsync(::fileno(f)) != 0)
      status = Status::error("fsync failed: " + errnoMessage(errno));
  }
  if (std::fclose(f) != 0 && status.isOk())
    status = Status::error("close failed: " + errnoMessage(errno));
  if (!status.isOk()) {
    ::unlink(tmp.c_str());
    return fail(status.message());
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail("cannot rename " + tmp + ": " + errnoMessage(err));
  }
  // Make the rename itself durable. Best effort: the new contents are
  // already in place, so a failure here is not worth reporting as one.
  int dirFd = ::open(parentDirectory(path).c_str(), O_RDONLY | O_CLOEXEC);
  if (dirFd >= 0) {
    (void)::fsync(dirFd);
    ::close(dirFd);
  }
  return Status::ok();
}

Status writeSafetensors(
    const std::string &path, const std::vector<TensorToWrite> &tensors,
    const std::vector<std::pair<std::string, std::string>> &metadata) {
  auto fail = [&](const std::string &what) {
    return Status::error("cannot write " + path + ": " + what);
  };
  try {
    // Validate everything before touching the file system.
    std::unordered_set<std::string_view> names;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const TensorToWrite &t = tensors[i];
      std::string tensor = "tensor " + inQuotes(t.name) + ": ";
      if (t.name.empty())
        return fail("tensor #" + std::to_string(i) + " has an empty name");
      if (t.name == kMetadataKey)
        return fail("tensor name '__metadata__' is reserved");
      if (!names.insert(t.name).second)
        return fail("duplicate tensor name " + inQuotes(t.name));
      if (!lookup(t.dtype))
        return fail(tensor + "invalid dtype");
      std::optional<int64_t> n = checkedNumElements(t.shape);
      if (!n)
        return fail(tensor + "invalid shape " + formatShape(t.shape) +
                    " (negative dimension or too many elements)");
      std::optional<size_t> expected = checkedByteSize(*n, t.dtype);
      if (!expected)
        return fail(tensor + "shape " + formatShape(t.shape) +
                    " is too large (size overflows)");
      if (t.byteSize != *expected)
        return fail(tensor + "byteSize is " + std::to_string(t.byteSize) +
                    " but shape " + formatShape(t.shape) + " of dtype " +
                    dtypeName(t.dtype) + " needs " + std::to_string(*expected) +
                    " bytes");
      if (t.byteSize > 0 && !t.data)
        return fail(tensor + "data is null");
    }
    std::unordered_set<std::string_view> metadataKeys;
    for (const auto &kv : metadata)
      if (!metadataKeys.insert(kv.first).second)
        return fail("duplicate metadata key " + inQuotes(kv.first));
    // transformers (up to at least 4.46) refuses a safetensors file whose
    // metadata lacks "format"; torch.save-compatible files say "pt", as
    // save_pretrained writes them.
    std::vector<std::pair<std::string, std::string>> withFormat;
    if (!metadataKeys.count(kFormatKey)) {
      withFormat.reserve(metadata.size() + 1);
      withFormat.emplace_back(kFormatKey, "pt");
      withFormat.insert(withFormat.end(), metadata.begin(), metadata.end());
    }
    const std::vector<std::pair<std::string, std::string>> &allMetadata =
        metadataKeys.count(kFormatKey) ? metadata : withFormat;

    std::string header = "{";
    appendJsonString(header, kMetadataKey);
    header += ":{";
    for (size_t i = 0; i < allMetadata.size(); ++i) {
      if (i)
        header += ',';
      appendJsonString(header, allMetadata[i].first);
      header += ':';
      appendJsonString(header, allMetadata[i].second);
    }
    header += '}';
    uint64_t offset = 0;
    for (const TensorToWrite &t : tensors) {
      header += ',';
      appendJsonString(header, t.name);
      header += ":{\"dtype\":\"";
      header += dtypeName(t.dtype);
      header += "\",\"shape\":";
      header += formatShape(t.shape, ",");
      header += ",\"data_offsets\":[" + std::to_string(offset) + "," +
                std::to_string(offset + t.byteSize) + "]}";
      offset += t.byteSize;
    }
    header += '}';
    // Pad so that the data buffer starts 8-byte aligned, like the reference
    // writer: then every tensor of an 8-byte multiple size is aligned for
    // zero-copy use from the mapping.
    header.append((8 - (8 + header.size()) % 8) % 8, ' ');
    if (header.size() > kMaxHeaderSize)
      return fail("header of " + std::to_string(header.size()) +
                  " bytes exceeds the limit of " +
                  std::to_string(kMaxHeaderSize) + " bytes");

    return writeFileAtomically(path, [&](std::FILE *f) -> Status {
      auto writeFailed = [&] {
        return Status::error("write failed: " + errnoMessage(errno));
      };
      uint8_t prefix[8];
      uint64_t n = header.size();
      for (int i = 0; i < 8; ++i)
        prefix[i] = static_cast<uint8_t>(n >> (8 * i));
      if (std::fwrite(prefix, 1, 8, f) != 8)
        return writeFailed();
      if (std::fwrite(header.data(), 1, header.size(), f) != header.size())
        return writeFailed();
      for (const TensorToWrite &t : tensors)
        if (t.byteSize > 0 &&
            std::fwrite(t.data, 1, t.byteSize, f) != t.byteSize)
          return writeFailed();
      return Status::ok();
    });
  } catch (const std::bad_alloc &) {
    return fail("out of memory");
  }
}

} // namespace growc::rt
