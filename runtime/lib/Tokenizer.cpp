//===- Tokenizer.cpp - the byte tokenizer behind the Tokenizer interface --===//
//
// The Hugging Face BPE tokenizer lives in BpeTokenizer.cpp.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Tokenizer.h"

#include "growc/runtime/Data.h"

using namespace growc::rt;

namespace {

class ByteLevelTokenizer final : public Tokenizer {
public:
  StatusOr<std::vector<int32_t>> encode(std::string_view text) const override {
    return ByteTokenizer::encode(text);
  }
  StatusOr<std::string> decode(const std::vector<int32_t> &ids) const override {
    return ByteTokenizer::decode(ids);
  }
  int64_t vocabSize() const override { return ByteTokenizer::kVocabSize; }
  std::optional<int32_t> documentSeparator() const override {
    return ByteTokenizer::kEos;
  }
  std::string describe() const override { return "byte"; }
  bool isByteLevel() const override { return true; }
};

} // namespace

std::unique_ptr<Tokenizer> growc::rt::makeByteTokenizer() {
  return std::make_unique<ByteLevelTokenizer>();
}
