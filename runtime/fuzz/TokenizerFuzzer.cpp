//===- TokenizerFuzzer.cpp - libFuzzer target: the BPE tokenizer ----------===//
//
// Feeds arbitrary bytes as text to the Hugging Face BPE tokenizer
// (runtime/lib/BpeTokenizer.cpp) behind `growc-run tokenize` and `--data
// text:`, with the two tokenizer.json files of fuzz/tokenizers (made by
// test/Tokenizer/Inputs/make_tokenizers.py, their added tokens made
// non-special and unstripped so that nothing is dropped in decoding):
// SmolLM style (digits, the GPT-2 pattern, added tokens, one single_word)
// and Llama 3 style (a Split regex with (?i:), ignore_merges). Checks that
// encoding never crashes (ASan, UBSan) or loops, that it refuses exactly the
// texts that are not UTF-8, that every id is inside the vocabulary, and that
// decoding gives the text back byte for byte.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Tokenizer.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

using namespace growc::rt;

namespace {

const std::vector<std::unique_ptr<Tokenizer>> &tokenizers() {
  static std::vector<std::unique_ptr<Tokenizer>> loaded = [] {
    std::vector<std::unique_ptr<Tokenizer>> list;
    for (const char *name : {"smollm.json", "llama3.json"}) {
      auto tokenizer =
          loadTokenizer(std::string(GROWC_FUZZ_TOKENIZERS) + "/" + name);
      if (!tokenizer.isOk()) {
        std::fprintf(stderr, "%s\n", tokenizer.status().message().c_str());
        std::abort();
      }
      list.push_back(std::move(*tokenizer));
    }
    return list;
  }();
  return loaded;
}

/// Whether `text` is UTF-8 (RFC 3629: no overlongs, no surrogates, nothing
/// past U+10FFFF), decoded code point by code point: a second opinion,
/// written differently from the tokenizer's check.
bool isUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    int extra = c < 0x80         ? 0
                : (c >> 5) == 6  ? 1
                : (c >> 4) == 14 ? 2
                : (c >> 3) == 30 ? 3
                                 : -1;
    if (extra < 0 || i + extra >= text.size())
      return false;
    uint32_t code = extra == 0 ? c : c & (0x3F >> extra);
    for (int k = 1; k <= extra; ++k) {
      auto b = static_cast<unsigned char>(text[i + k]);
      if ((b & 0xC0) != 0x80)
        return false;
      code = (code << 6) | (b & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMin[extra] || code > 0x10FFFF ||
        (code >= 0xD800 && code <= 0xDFFF))
      return false;
    i += extra + 1;
  }
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  bool utf8 = isUtf8(text);
  for (const auto &tokenizer : tokenizers()) {
    StatusOr<std::vector<int32_t>> ids = tokenizer->encode(text);
    if (ids.isOk() != utf8)
      std::abort();
    if (!ids.isOk())
      continue;
    for (int32_t id : *ids)
      if (id < 0 || id >= tokenizer->vocabSize())
        std::abort();
    StatusOr<std::string> decoded = tokenizer->decode(*ids);
    if (!decoded.isOk() || *decoded != text)
      std::abort();
  }
  return 0;
}
