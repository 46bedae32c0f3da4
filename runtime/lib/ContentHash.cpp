//===- ContentHash.cpp - XXH3-128 content hashes of files and bytes -------===//
//
// ContentHash.h over libxxhash: the file is streamed through an XXH3 state,
// so hashing a kernels file costs no more memory than a read buffer.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/ContentHash.h"

#include <xxhash.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace growc::rt {
namespace {

std::string format(XXH128_hash_t hash) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, hash);
  static const char kHex[] = "0123456789abcdef";
  std::string text(kContentHashPrefix);
  for (unsigned char byte : canonical.digest) {
    text.push_back(kHex[byte >> 4]);
    text.push_back(kHex[byte & 15]);
  }
  return text;
}

struct StateDeleter {
  void operator()(XXH3_state_t *state) const { XXH3_freeState(state); }
};

} // namespace

std::string hashBytes(std::string_view data) {
  return format(XXH3_128bits(data.data(), data.size()));
}

StatusOr<std::string> hashFile(const std::string &path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE *)> file(
      std::fopen(path.c_str(), "rbe"), &std::fclose);
  if (!file)
    return Status::error(path + ": cannot open: " + std::strerror(errno));
  std::unique_ptr<XXH3_state_t, StateDeleter> state(XXH3_createState());
  if (!state || XXH3_128bits_reset(state.get()) != XXH_OK)
    return Status::error(path + ": cannot hash: out of memory");
  std::vector<char> buffer(size_t(1) << 20);
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0)
    if (XXH3_128bits_update(state.get(), buffer.data(), n) != XXH_OK)
      return Status::error(path + ": cannot hash");
  if (std::ferror(file.get()))
    return Status::error(path + ": read failed: " + std::strerror(errno));
  return format(XXH3_128bits_digest(state.get()));
}

bool isContentHash(std::string_view text) {
  if (text.size() != kContentHashPrefix.size() + 32 ||
      text.substr(0, kContentHashPrefix.size()) != kContentHashPrefix)
    return false;
  for (char c : text.substr(kContentHashPrefix.size()))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

} // namespace growc::rt
