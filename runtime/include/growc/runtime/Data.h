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
#include "growc/runtime/Tokenizer.h"

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

/// The same prompt as examples (what generatePrompt joins): the `shots`
/// solved ones, then the query, whose answer is the expected one.
StatusOr<std::vector<PrimitiveExample>>
generatePromptExamples(Primitive primitive, int depth, int shots, Rng &rng);

/// An example's token ids: its prompt and its answer, each encoded on its
/// own so that the answer is a span of whole tokens (under BPE, "kzb" +
/// "w" is not split where "kzbw" would be). The training stream, eval and
/// analyze all encode examples this way; under the byte tokenizer it is
/// the bytes of prompt + answer.
struct EncodedExample {
  std::vector<int32_t> prompt, answer;
};
StatusOr<EncodedExample> encodeExample(const Tokenizer &tokenizer,
                                       const PrimitiveExample &example);

/// The tokenizer that renders primitives and text: `tokenizer`, or the byte
/// tokenizer when it is null. Checked against a model of `vocabSize`
/// tokens: the byte tokenizer needs the 259-token byte vocabulary (a
/// model with another vocabulary needs its tokenizer.json; byte ids are
/// never used in its place), any tokenizer at most `vocabSize` ids, and a
/// document separator (the EOS between examples and documents). `what`
/// names the data or prompts in the error.
StatusOr<const Tokenizer *> tokenizerFor(const Tokenizer *tokenizer,
                                         int64_t vocabSize,
                                         const std::string &what);

/// The tokenizer a --tokenizer option names (loadTokenizer), or null when
/// `path` is empty; errors begin "--tokenizer PATH: ".
StatusOr<std::unique_ptr<Tokenizer>>
loadTokenizerOption(const std::string &path);

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

/// How a token file holds its tokens. LlmC: llm.c's shard format, a
/// header of 256 little-endian int32 (magic 20240520, version 1 = uint16
/// tokens / 2 = uint32, the token count) and then the tokens. U16, U32:
/// headerless little-endian tokens (nanoGPT's train.bin). Bytes: every
/// byte a token (a text file under the byte tokenizer).
enum class TokenFileFormat { LlmC, U16, U32, Bytes };

constexpr int32_t kLlmcShardMagic = 20240520;
constexpr uint64_t kLlmcHeaderBytes = 256 * 4;

/// The files `pattern` names: itself, or, when it holds a glob character
/// (* ? [), every match sorted bytewise. Matching nothing is an error.
StatusOr<std::vector<std::string>>
expandPathPattern(const std::string &pattern);

/// Token files read as one sequence in the order given (llm.c shards: a
/// glob's sorted matches), as consecutive windows that wrap around at the
/// end; position() is a token index into the concatenation. The files are
/// memory-mapped, not copied, and every token is checked against
/// [0, vocabSize) once at open. Errors name the file: a missing header, a
/// bad version, a count the file size disagrees with, an empty or ragged
/// headerless file, an llm.c shard read as headerless, a token outside the
/// vocabulary (and its index).
StatusOr<std::unique_ptr<TokenStream>>
openTokenFiles(const std::vector<std::string> &paths, TokenFileFormat format,
               int64_t vocabSize);
StatusOr<std::unique_ptr<TokenStream>> openTokenFile(const std::string &path,
                                                     TokenFileFormat format,
                                                     int64_t vocabSize);

/// A text file as tokens. With the byte tokenizer (`tokenizer` null or
/// byte-level): its bytes, memory-mapped. With another tokenizer: the file
/// is one document, tokenized whole at open and preceded by the
/// tokenizer's document separator (as llm.c's shards and growc-run
/// tokenize lay documents out).
StatusOr<std::unique_ptr<TokenStream>>
openTextFile(const std::string &path, const Tokenizer *tokenizer = nullptr);

/// Solved primitive examples generated on the fly, separated by EOS, with
/// depths drawn uniformly from [minDepth, maxDepth]; position() is the
/// generator state plus the tokens still buffered.
/// With `answersOnly`, every target but the answer tokens is ignored (-100):
/// the loss of supervised training on the task, whose answers are a few
/// percent of the tokens and would otherwise be drowned by the
/// unpredictable random names and digits. Examples are rendered by
/// `tokenizer` (encodeExample; EOS: its document separator), the byte
/// tokenizer when null; a non-null one must outlive the stream.
StatusOr<std::unique_ptr<TokenStream>>
primitiveStream(Primitive primitive, int minDepth, int maxDepth, uint64_t seed,
                bool answersOnly = false, const Tokenizer *tokenizer = nullptr);

/// Several streams interleaved row by row: row n of every batch sequence
/// comes from part n mod K (list a part twice to give it twice the rows).
/// Each part keeps its own position; position() is the number of rows
/// drawn, and seek() replays that many rows from the parts' starting
/// positions on the next nextBatch (cheap for the generated and in-memory
/// streams this mixes). Mixes natural text with reasoning primitives for
/// the depth-analysis mini-study.
StatusOr<std::unique_ptr<TokenStream>>
mixedStream(std::vector<std::unique_ptr<TokenStream>> parts);

/// The stream a data spec names (docs/data.md) for a model of `vocabSize`
/// tokens: primitives:NAME[:MIN-MAX][:answers], text:PATH,
/// tokens:PATH_OR_GLOB (llm.c shards), u16:PATH_OR_GLOB, u32:PATH_OR_GLOB
/// (headerless), or mix:SPEC,SPEC,... (mixedStream; part k gets seed
/// `seed + k`). Text and primitives are rendered by `tokenizer`
/// (tokenizerFor: the byte tokenizer when null, only for the byte
/// vocabulary), which must outlive the stream; a given tokenizer is also
/// checked against `vocabSize` for token files.
StatusOr<std::unique_ptr<TokenStream>>
openDataSpec(const std::string &spec, uint64_t seed, int64_t vocabSize,
             const Tokenizer *tokenizer = nullptr);

/// Whether `spec` reads files (text:, tokens:, u16:, u32:, or a mix with
/// such a part): data without a held-out part of its own, unlike the
/// generated primitives, whose other seeds are unseen examples.
bool dataSpecReadsFiles(const std::string &spec);

/// Warmup-stable-decay (SPEC.md §3): linear warm-up from 0 to `peak` over
/// `warmup` steps, constant, then linear decay to `floor` over the last
/// `decayFraction` of `total` steps.
double wsdLearningRate(int64_t step, int64_t total, int64_t warmup, double peak,
                       double decayFraction = 0.2, double floor = 0.0);

} // namespace growc::rt

#endif // GROWC_RUNTIME_DATA_H
