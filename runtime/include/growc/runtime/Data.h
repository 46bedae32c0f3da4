//===- Data.h - training and evaluation data for growc-run -----*- C++ -*-===//
//
// What a training or analysis run reads (issue "Training", SPEC.md §6):
// a byte-level tokenizer for the examples' 259-token vocabulary, a portable
// seeded generator, the reasoning-primitive generators (variable assignment
// of depth k in a math and a code variant, induction copy), token streams
// over text files, pre-tokenized nanoGPT-style .bin files and generated
// primitives, and the warmup-stable-decay learning-rate schedule. All of it
// is deterministic: the same seed and position give the same bytes on every
// machine, which is what makes a resumed run continue bit-identically.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_DATA_H
#define GROWC_RUNTIME_DATA_H

#include "growc/runtime/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace growc::rt {

/// Byte-level tokenizer: ids 0..255 are the bytes, then three specials.
struct ByteTokenizer {
  static constexpr int32_t kBos = 256;
  static constexpr int32_t kEos = 257;
  static constexpr int32_t kPad = 258;
  static constexpr int32_t kVocabSize = 259;

  static std::vector<int32_t> encode(std::string_view text);
  /// The bytes of `ids`; specials are dropped, ids outside the vocabulary
  /// are an error.
  static StatusOr<std::string> decode(const std::vector<int32_t> &ids);
};

/// SplitMix64: a tiny, portable generator whose whole state is one 64-bit
/// word (so a checkpoint stores it exactly). Standard-library distributions
/// are implementation-defined, so bounded draws use Lemire's method here.
class Rng {
public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next();
  /// Uniform in [0, n), n > 0.
  uint64_t below(uint64_t n);
  uint64_t state() const { return state_; }
  void setState(uint64_t state) { state_ = state; }

private:
  uint64_t state_;
};

/// The reasoning primitives of SPEC.md §6.
enum class Primitive { VarAssignMath, VarAssignCode, InductionCopy };

/// "var-assign-math", "var-assign-code" or "induction-copy".
StatusOr<Primitive> parsePrimitive(std::string_view name);
const char *primitiveName(Primitive primitive);

/// A prompt and the answer that follows it (one token: a digit or a
/// letter).
struct PrimitiveExample {
  std::string prompt;
  std::string answer;
};

/// One unsolved example. Variable assignment: `depth` (0..8) levels of
/// alias assignments above the number assignments, with a distractor chain
/// and the statements of each level shuffled. Induction copy: `depth` is
/// ignored.
StatusOr<PrimitiveExample> generateExample(Primitive primitive, int depth,
                                           Rng &rng);

/// A `shots`-shot prompt: `shots` solved examples, one per line, then the
/// query; the answer is the query's.
StatusOr<PrimitiveExample> generatePrompt(Primitive primitive, int depth,
                                          int shots, Rng &rng);

/// A stream of training tokens cut into [batch, seq] windows; targets are
/// the tokens shifted by one (the next token of each position).
class TokenStream {
public:
  virtual ~TokenStream() = default;
  /// Fills `tokens` and `targets`, each batch * seq int32, row-major.
  virtual void nextBatch(int64_t batch, int64_t seq, int32_t *tokens,
                         int32_t *targets) = 0;
  /// Where the stream is, to store in a checkpoint, and restoring it.
  virtual uint64_t position() const = 0;
  virtual void seek(uint64_t position) = 0;
};

enum class TokenFileDType { U16, U32 };

/// A pre-tokenized file of little-endian uint16 or uint32 tokens (nanoGPT's
/// train.bin), read as consecutive windows that wrap around. Rejects an
/// empty or ragged file and tokens outside [0, vocabSize).
StatusOr<std::unique_ptr<TokenStream>>
openTokenFile(const std::string &path, TokenFileDType dtype, int64_t vocabSize);

/// A text file tokenized by ByteTokenizer, read like a token file.
StatusOr<std::unique_ptr<TokenStream>> openTextFile(const std::string &path);

/// Solved primitive examples generated on the fly, separated by EOS, with
/// depths drawn uniformly from [minDepth, maxDepth]; position() is the
/// generator state plus the tokens still buffered.
/// With `answersOnly`, every target but the answer tokens is ignored (-100):
/// the loss of supervised training on the task, whose answers are a few
/// percent of the tokens and would otherwise be drowned by the
/// unpredictable random names and digits.
StatusOr<std::unique_ptr<TokenStream>>
primitiveStream(Primitive primitive, int minDepth, int maxDepth, uint64_t seed,
                bool answersOnly = false);

/// Several streams interleaved row by row: row n of every batch sequence
/// comes from part n mod K (list a part twice to give it twice the rows).
/// Each part keeps its own position; position() is the number of rows
/// drawn, and seek() replays that many rows from the parts' starting
/// positions on the next nextBatch (cheap for the generated and in-memory
/// streams this mixes). Mixes natural text with reasoning primitives for
/// the depth-analysis mini-study.
StatusOr<std::unique_ptr<TokenStream>>
mixedStream(std::vector<std::unique_ptr<TokenStream>> parts);

/// The stream a data spec names: primitives:NAME[:MIN-MAX][:answers],
/// text:PATH, u16:PATH, u32:PATH, or mix:SPEC,SPEC,... (mixedStream; part
/// k gets seed `seed + k`).
StatusOr<std::unique_ptr<TokenStream>>
openDataSpec(const std::string &spec, uint64_t seed, int64_t vocabSize);

/// Warmup-stable-decay (SPEC.md §3): linear warm-up from 0 to `peak` over
/// `warmup` steps, constant, then linear decay to `floor` over the last
/// `decayFraction` of `total` steps.
double wsdLearningRate(int64_t step, int64_t total, int64_t warmup, double peak,
                       double decayFraction = 0.2, double floor = 0.0);

} // namespace growc::rt

#endif // GROWC_RUNTIME_DATA_H
