//===- TokenFiles.cpp - memory-mapped token files and llm.c shards -------===//
//
// The token files `--data` reads (docs/data.md): llm.c shards (a 256 x int32
// header: magic 20240520, version 1 = uint16 / 2 = uint32 tokens, the token
// count; then the tokens), headerless nanoGPT files of uint16 or uint32
// tokens, and the bytes of a text file. A list of files (a sorted glob) is
// read as their concatenation, wrapping around at its end; a position is a
// token index into it, so a checkpoint's position resumes exactly across
// shards.
//
// The files are memory-mapped, not read into memory: a 20 GB shard set
// costs address space, and the page cache holds what is being read. Tokens
// are checked against the vocabulary once, in a streaming pass at open
// (whose pages are dropped from the process as it goes): a bad token is an
// error naming the file and index before training starts, and nextBatch,
// which cannot fail, never meets one.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Data.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <glob.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace growc::rt;

namespace {

/// A file's tokens: `count` little-endian integers of `width` bytes at
/// `tokens`, inside the mapping [map, map + mapSize).
struct Shard {
  std::string path;
  void *map = nullptr;
  size_t mapSize = 0;
  const uint8_t *tokens = nullptr;
  uint64_t count = 0;
  unsigned width = 0;
};

/// Little-endian on every host.
inline uint32_t tokenAt(const uint8_t *tokens, unsigned width, uint64_t i) {
  const uint8_t *p = tokens + i * width;
  switch (width) {
  case 1:
    return p[0];
  case 2:
    return uint32_t(p[0]) | uint32_t(p[1]) << 8;
  default:
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
           uint32_t(p[3]) << 24;
  }
}

/// Windows over the concatenation of the shards, wrapping around.
class MappedTokenStream : public TokenStream {
public:
  explicit MappedTokenStream(std::vector<Shard> shards)
      : shards_(std::move(shards)) {
    for (const Shard &shard : shards_) {
      starts_.push_back(total_);
      total_ += shard.count;
    }
  }
  ~MappedTokenStream() override {
    for (const Shard &shard : shards_)
      if (shard.map)
        ::munmap(shard.map, shard.mapSize);
  }
  MappedTokenStream(const MappedTokenStream &) = delete;
  MappedTokenStream &operator=(const MappedTokenStream &) = delete;

  void nextBatch(int64_t batch, int64_t seq, int32_t *tokens,
                 int32_t *targets) override {
    for (int64_t row = 0; row < batch; ++row) {
      read(position_, seq, tokens + row * seq);
      read(position_ + 1, seq, targets + row * seq);
      position_ = (position_ + seq) % total_;
    }
  }
  uint64_t position() const override { return position_; }
  void seek(uint64_t position) override { position_ = position % total_; }

private:
  /// `count` tokens from global index `from` on, across shard ends and the
  /// end of the last shard.
  void read(uint64_t from, int64_t count, int32_t *out) const {
    from %= total_;
    size_t k = std::upper_bound(starts_.begin(), starts_.end(), from) -
               starts_.begin() - 1;
    uint64_t offset = from - starts_[k];
    while (count > 0) {
      const Shard &shard = shards_[k];
      uint64_t n = std::min<uint64_t>(count, shard.count - offset);
      for (uint64_t i = 0; i < n; ++i)
        *out++ = int32_t(tokenAt(shard.tokens, shard.width, offset + i));
      count -= int64_t(n);
      offset = 0;
      k = (k + 1) % shards_.size();
    }
  }

  std::vector<Shard> shards_;
  std::vector<uint64_t> starts_;
  uint64_t total_ = 0, position_ = 0;
};

Status errnoError(const std::string &path, const char *what) {
  return Status::error(path + ": " + what + ": " + std::strerror(errno));
}

/// Maps the file at `path` read-only; sets `size`. An empty file maps
/// nothing (mmap refuses length 0).
StatusOr<void *> mapFile(const std::string &path, size_t &size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errnoError(path, "cannot open");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Status status = errnoError(path, "cannot stat");
    ::close(fd);
    return status;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::error(path + ": not a regular file");
  }
  size = size_t(st.st_size);
  void *map = nullptr;
  if (size > 0) {
    map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      Status status = errnoError(path, "cannot map");
      ::close(fd);
      return status;
    }
  }
  ::close(fd);
  return map;
}

const char *widthName(unsigned width) {
  return width == 1 ? "byte" : width == 2 ? "uint16" : "uint32";
}

/// The llm.c header of a mapped file, if it has one: version and count.
struct LlmcHeader {
  int32_t version = 0, count = 0;
};
bool readLlmcHeader(const uint8_t *bytes, size_t size, LlmcHeader &header) {
  if (size < kLlmcHeaderBytes ||
      int32_t(tokenAt(bytes, 4, 0)) != kLlmcShardMagic)
    return false;
  header.version = int32_t(tokenAt(bytes, 4, 1));
  header.count = int32_t(tokenAt(bytes, 4, 2));
  return true;
}

/// Where the tokens of a mapped file are, by its format; an error names
/// what is wrong with the file.
Status locateTokens(Shard &shard, TokenFileFormat format) {
  const auto *bytes = static_cast<const uint8_t *>(shard.map);
  const size_t size = shard.mapSize;
  const std::string &path = shard.path;
  LlmcHeader header;
  const bool hasHeader = readLlmcHeader(bytes, size, header);
  if (format != TokenFileFormat::LlmC) {
    shard.width = format == TokenFileFormat::Bytes ? 1
                  : format == TokenFileFormat::U16 ? 2
                                                   : 4;
    // Read headerless, an llm.c shard's header would become tokens.
    if (shard.width > 1 && hasHeader &&
        (header.version == 1 || header.version == 2) && header.count >= 0 &&
        size == kLlmcHeaderBytes +
                    uint64_t(header.count) * (header.version == 1 ? 2 : 4))
      return Status::error(
          path + ": an llm.c token shard (magic " +
          std::to_string(kLlmcShardMagic) + ", version " +
          std::to_string(header.version) + ", " + std::to_string(header.count) +
          " tokens), not a headerless " + widthName(shard.width) +
          " file; read it with tokens:" + path);
    if (size == 0 && format != TokenFileFormat::Bytes)
      return Status::error(path + ": empty token file");
    if (size % shard.width != 0)
      return Status::error(path + ": " + std::to_string(size) +
                           " bytes is not a whole number of " +
                           widthName(shard.width) + " tokens");
    shard.tokens = bytes;
    shard.count = size / shard.width;
    return Status::ok();
  }
  if (!hasHeader) {
    if (size >= 4 && int32_t(tokenAt(bytes, 4, 0)) == kLlmcShardMagic)
      return Status::error(path +
                           ": truncated llm.c shard: " + std::to_string(size) +
                           " bytes, less than its 1024-byte header");
    return Status::error(path +
                         ": not an llm.c token shard (it does not start "
                         "with the magic " +
                         std::to_string(kLlmcShardMagic) +
                         "); read a headerless token file with u16:" + path +
                         " or u32:" + path);
  }
  if (header.version != 1 && header.version != 2)
    return Status::error(path + ": llm.c shard version " +
                         std::to_string(header.version) +
                         " is not supported (1: uint16 tokens, 2: uint32 "
                         "tokens)");
  if (header.count < 0)
    return Status::error(path + ": the llm.c shard header gives " +
                         std::to_string(header.count) + " tokens");
  shard.width = header.version == 1 ? 2 : 4;
  const uint64_t expected = uint64_t(header.count) * shard.width;
  const uint64_t held = size - kLlmcHeaderBytes;
  if (held != expected)
    return Status::error(path + ": " +
                         (held < expected ? "truncated llm.c shard: " : "") +
                         "its header gives " + std::to_string(header.count) +
                         " " + widthName(shard.width) + " tokens (" +
                         std::to_string(expected) + " bytes), the file holds " +
                         std::to_string(held) + " bytes after the header");
  shard.tokens = bytes + kLlmcHeaderBytes;
  shard.count = uint64_t(header.count);
  return Status::ok();
}

/// Every token of `shard` below `vocabSize`: one pass in chunks, each
/// dropped from the process once checked (the page cache keeps it).
Status checkVocabulary(const Shard &shard, int64_t vocabSize) {
  if (shard.width < 4 &&
      (uint64_t(1) << (8 * shard.width)) <= uint64_t(vocabSize))
    return Status::ok(); // every value of the width is in the vocabulary
  const long page = ::sysconf(_SC_PAGESIZE);
  const uint64_t chunk = (uint64_t(64) << 20) / shard.width; // 64 MiB
  ::madvise(shard.map, shard.mapSize, MADV_SEQUENTIAL);
  for (uint64_t begin = 0; begin < shard.count; begin += chunk) {
    uint64_t end = std::min(shard.count, begin + chunk);
    uint32_t largest = 0;
    for (uint64_t i = begin; i < end; ++i)
      largest = std::max(largest, tokenAt(shard.tokens, shard.width, i));
    if (largest >= uint64_t(vocabSize))
      for (uint64_t i = begin; i < end; ++i)
        if (uint32_t token = tokenAt(shard.tokens, shard.width, i);
            token >= uint64_t(vocabSize))
          return Status::error(shard.path + ": token " + std::to_string(token) +
                               " at index " + std::to_string(i) +
                               " is outside the vocabulary [0, " +
                               std::to_string(vocabSize) + ")");
    // Drop the checked whole pages of this chunk.
    auto *base = static_cast<uint8_t *>(shard.map);
    uintptr_t from = uintptr_t(shard.tokens + begin * shard.width);
    uintptr_t to = uintptr_t(shard.tokens + end * shard.width);
    from = (from - uintptr_t(base) + page - 1) / page * page + uintptr_t(base);
    to = (to - uintptr_t(base)) / page * page + uintptr_t(base);
    if (to > from)
      ::madvise(reinterpret_cast<void *>(from), to - from, MADV_DONTNEED);
  }
  ::madvise(shard.map, shard.mapSize, MADV_NORMAL);
  return Status::ok();
}

} // namespace

StatusOr<std::vector<std::string>>
growc::rt::expandPathPattern(const std::string &pattern) {
  if (pattern.empty())
    return Status::error("an empty path");
  if (pattern.find_first_of("*?[") == std::string::npos)
    return std::vector<std::string>{pattern};
  glob_t matches;
  int rc = ::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &matches);
  std::vector<std::string> paths;
  if (rc == 0)
    for (size_t i = 0; i < matches.gl_pathc; ++i)
      paths.push_back(matches.gl_pathv[i]);
  ::globfree(&matches);
  if (rc == GLOB_NOMATCH || (rc == 0 && paths.empty()))
    return Status::error(pattern + ": no file matches");
  if (rc != 0)
    return Status::error(pattern + ": cannot list the files it matches");
  // Bytewise, whatever the locale: train_000009.bin before train_000010.bin.
  std::sort(paths.begin(), paths.end());
  return paths;
}

StatusOr<std::unique_ptr<TokenStream>>
growc::rt::openTokenFiles(const std::vector<std::string> &paths,
                          TokenFileFormat format, int64_t vocabSize) {
  if (paths.empty())
    return Status::error("no token files");
  std::vector<Shard> shards;
  auto unmapAll = [&] {
    for (const Shard &shard : shards)
      if (shard.map)
        ::munmap(shard.map, shard.mapSize);
  };
  uint64_t total = 0;
  for (const std::string &path : paths) {
    Shard shard;
    shard.path = path;
    StatusOr<void *> map = mapFile(path, shard.mapSize);
    if (!map.isOk()) {
      unmapAll();
      return map.status();
    }
    shard.map = *map;
    shards.push_back(shard);
    Status status = locateTokens(shards.back(), format);
    if (status.isOk())
      status = checkVocabulary(shards.back(), vocabSize);
    if (!status.isOk()) {
      unmapAll();
      return status;
    }
    total += shards.back().count;
  }
  if (total < 2) {
    unmapAll();
    const char *what = format == TokenFileFormat::Bytes
                           ? "a text file needs at least 2 bytes"
                           : "a token file needs at least 2 tokens";
    return Status::error(paths.size() == 1 ? paths[0] + ": " + what
                                           : paths[0] + " ... " + paths.back() +
                                                 ": together, " + what);
  }
  return std::unique_ptr<TokenStream>(new MappedTokenStream(std::move(shards)));
}

StatusOr<std::unique_ptr<TokenStream>>
growc::rt::openTokenFile(const std::string &path, TokenFileFormat format,
                         int64_t vocabSize) {
  return openTokenFiles({path}, format, vocabSize);
}
