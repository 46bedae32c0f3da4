//===- Tokenizer.h - text to token ids for training, eval and analysis -*-===//
//
// Everything that turns text into token ids goes through this interface:
// training text (`--data text:PATH`), the reasoning-primitive prompts of
// `train`, `eval` and `analyze`, and `growc-run tokenize`. Two kinds exist:
// the byte tokenizer of the examples' 259-token vocabulary (ids 0..255 are
// the bytes, then BOS, EOS, PAD) and Hugging Face byte-level BPE read from a
// `tokenizer.json` (the GPT-2 / SmolLM family). A model whose vocabulary is
// not the byte vocabulary needs a tokenizer.json; the byte tokenizer never
// stands in for it silently.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TOKENIZER_H
#define GROWC_RUNTIME_TOKENIZER_H

#include "growc/runtime/Status.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace growc::rt {

class Tokenizer {
public:
  virtual ~Tokenizer() = default;

  /// The ids of `text`, without any special tokens added (no BOS/EOS), as
  /// Hugging Face's `encode(text, add_special_tokens=False)`.
  virtual StatusOr<std::vector<int32_t>>
  encode(std::string_view text) const = 0;
  /// The text of `ids`; special tokens are dropped. An id outside the
  /// vocabulary is an error.
  virtual StatusOr<std::string>
  decode(const std::vector<int32_t> &ids) const = 0;
  /// One more than the largest id the tokenizer can produce (for BPE: the
  /// model vocabulary plus added tokens). A model's vocab_size must be at
  /// least this.
  virtual int64_t vocabSize() const = 0;
  /// The id placed between documents of a token stream (EOS /
  /// `<|endoftext|>`), if the tokenizer has one.
  virtual std::optional<int32_t> documentSeparator() const = 0;
  /// The id of the token spelled `token` exactly (a special token such as
  /// "<|im_start|>", or a vocabulary entry in the tokenizer's own spelling,
  /// "Ġthe" for byte-level BPE); none if there is no such token.
  virtual std::optional<int32_t> tokenId(std::string_view token) const {
    (void)token;
    return std::nullopt;
  }
  /// "byte" or the tokenizer.json path, for messages and run metadata.
  virtual std::string describe() const = 0;
  /// True for the 259-id byte tokenizer.
  virtual bool isByteLevel() const { return false; }
};

/// The byte tokenizer (ByteTokenizer in Data.h) behind this interface.
std::unique_ptr<Tokenizer> makeByteTokenizer();

/// A Hugging Face `tokenizer.json` (byte-level BPE: ByteLevel
/// pre-tokenizer, optional digit splitting, merges, added/special tokens).
/// `path` may also be a directory holding tokenizer.json. Anything the
/// implementation does not reproduce exactly (another model type, a
/// normalizer or pre-tokenizer it does not know) is an error naming it.
/// The document separator is `<|endoftext|>` if the tokenizer has it, else
/// the eos_token of a tokenizer_config.json beside the file, else none.
/// Text that is not valid UTF-8 is an encode() error. docs/tokenizer.md.
StatusOr<std::unique_ptr<Tokenizer>> loadTokenizer(const std::string &path);

} // namespace growc::rt

#endif // GROWC_RUNTIME_TOKENIZER_H
