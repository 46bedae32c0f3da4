//===- Data.cpp - training and evaluation data for growc-run -------------===//
//
// Formats (docs/data.md):
//   var-assign-math  "a=1, b=2, c=a, d=b, d=?" answer "2"
//   var-assign-code  "a = 1; b = 2; c = a; d = b; print(d) #" answer "2"
//   induction-copy   "qkzbwmxr kzb" answer "w"
// A solved example is prompt + answer; shots are solved examples, one per
// line, before the query.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Data.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

using namespace growc::rt;

//===----------------------------------------------------------------------===//
// Tokenizer and generator
//===----------------------------------------------------------------------===//

std::vector<int32_t> ByteTokenizer::encode(std::string_view text) {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  for (char c : text)
    ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

StatusOr<std::string> ByteTokenizer::decode(const std::vector<int32_t> &ids) {
  std::string text;
  for (int32_t id : ids) {
    if (id < 0 || id >= kVocabSize)
      return Status::error("token " + std::to_string(id) +
                           " is outside the byte vocabulary [0, " +
                           std::to_string(kVocabSize) + ")");
    if (id < 256)
      text.push_back(static_cast<char>(id));
  }
  return text;
}

uint64_t Rng::next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Rng::below(uint64_t n) {
  // Lemire's multiply-shift with rejection: unbiased and portable.
  uint64_t x = next();
  __uint128_t m = static_cast<__uint128_t>(x) * n;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < n) {
    uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      x = next();
      m = static_cast<__uint128_t>(x) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

namespace {

template <typename T> void shuffle(std::vector<T> &items, Rng &rng) {
  for (size_t i = items.size(); i > 1; --i)
    std::swap(items[i - 1], items[rng.below(i)]);
}

constexpr int kMaxDepth = 8;

/// Variable assignment: `chains` chains of depth + 1 variables; chain c
/// starts at a digit and each level aliases the previous one. The query is
/// the last variable of chain 0; the other chains are distractors.
PrimitiveExample varAssign(int depth, bool code, Rng &rng) {
  int chains = depth == 0 ? 3 : 2;
  std::vector<char> letters;
  for (char c = 'a'; c <= 'z'; ++c)
    letters.push_back(c);
  shuffle(letters, rng);
  std::vector<char> digits = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9'};
  shuffle(digits, rng);
  auto var = [&](int level, int chain) {
    return std::string(1, letters[level * chains + chain]);
  };
  std::vector<std::string> statements;
  const char *assign = code ? " = " : "=";
  for (int level = 0; level <= depth; ++level) {
    std::vector<std::string> row;
    for (int chain = 0; chain < chains; ++chain)
      row.push_back(
          var(level, chain) + assign +
          (level == 0 ? std::string(1, digits[chain]) : var(level - 1, chain)));
    shuffle(row, rng); // distractors interleaved within each level
    statements.insert(statements.end(), row.begin(), row.end());
  }
  std::string query = var(depth, 0);
  std::string prompt;
  const char *separator = code ? "; " : ", ";
  for (const std::string &s : statements)
    prompt += s + separator;
  prompt += code ? "print(" + query + ") #" : query + "=?";
  return {prompt, std::string(1, digits[0])};
}

/// Induction copy: a random letter sequence, a space, and a copy of one of
/// its subsequences that occurs only once; the answer is the letter that
/// followed that occurrence.
PrimitiveExample inductionCopy(Rng &rng) {
  while (true) {
    int length = 12 + static_cast<int>(rng.below(9)); // 12..20
    std::string sequence;
    for (int i = 0; i < length; ++i)
      sequence.push_back(static_cast<char>('a' + rng.below(26)));
    int span = 2 + static_cast<int>(rng.below(3)); // 2..4
    int start = static_cast<int>(rng.below(length - span));
    std::string copied = sequence.substr(start, span);
    // Unambiguous: the copied span occurs once, so one letter follows it.
    if (sequence.find(copied) != static_cast<size_t>(start) ||
        sequence.find(copied, start + 1) != std::string::npos)
      continue;
    return {sequence + " " + copied, std::string(1, sequence[start + span])};
  }
}

} // namespace

StatusOr<Primitive> growc::rt::parsePrimitive(std::string_view name) {
  if (name == "var-assign-math")
    return Primitive::VarAssignMath;
  if (name == "var-assign-code")
    return Primitive::VarAssignCode;
  if (name == "induction-copy")
    return Primitive::InductionCopy;
  return Status::error("unknown primitive '" + std::string(name) +
                       "' (expected var-assign-math, var-assign-code or "
                       "induction-copy)");
}

const char *growc::rt::primitiveName(Primitive primitive) {
  switch (primitive) {
  case Primitive::VarAssignMath:
    return "var-assign-math";
  case Primitive::VarAssignCode:
    return "var-assign-code";
  case Primitive::InductionCopy:
    return "induction-copy";
  }
  return "?";
}

StatusOr<PrimitiveExample> growc::rt::generateExample(Primitive primitive,
                                                      int depth, Rng &rng) {
  if (primitive == Primitive::InductionCopy)
    return inductionCopy(rng);
  if (depth < 0 || depth > kMaxDepth)
    return Status::error("variable-assignment depth must be in [0, " +
                         std::to_string(kMaxDepth) + "], got " +
                         std::to_string(depth));
  return varAssign(depth, primitive == Primitive::VarAssignCode, rng);
}

StatusOr<std::vector<PrimitiveExample>>
growc::rt::generatePromptExamples(Primitive primitive, int depth, int shots,
                                  Rng &rng) {
  if (shots < 0 || shots > 64)
    return Status::error("shots must be in [0, 64], got " +
                         std::to_string(shots));
  std::vector<PrimitiveExample> examples;
  for (int i = 0; i <= shots; ++i) {
    StatusOr<PrimitiveExample> example = generateExample(primitive, depth, rng);
    if (!example.isOk())
      return example.status();
    examples.push_back(std::move(*example));
  }
  return examples;
}

StatusOr<PrimitiveExample>
growc::rt::generatePrompt(Primitive primitive, int depth, int shots, Rng &rng) {
  StatusOr<std::vector<PrimitiveExample>> examples =
      generatePromptExamples(primitive, depth, shots, rng);
  if (!examples.isOk())
    return examples.status();
  std::string prefix;
  for (int i = 0; i < shots; ++i)
    prefix += (*examples)[i].prompt + (*examples)[i].answer + "\n";
  return PrimitiveExample{prefix + examples->back().prompt,
                          examples->back().answer};
}

StatusOr<EncodedExample>
growc::rt::encodeExample(const Tokenizer &tokenizer,
                         const PrimitiveExample &example) {
  StatusOr<std::vector<int32_t>> prompt = tokenizer.encode(example.prompt);
  if (!prompt.isOk())
    return prompt.status();
  StatusOr<std::vector<int32_t>> answer = tokenizer.encode(example.answer);
  if (!answer.isOk())
    return answer.status();
  if (answer->empty())
    return Status::error(tokenizer.describe() + " encodes the answer '" +
                         example.answer + "' as no tokens");
  return EncodedExample{std::move(*prompt), std::move(*answer)};
}

StatusOr<std::unique_ptr<Tokenizer>>
growc::rt::loadTokenizerOption(const std::string &path) {
  if (path.empty())
    return std::unique_ptr<Tokenizer>();
  StatusOr<std::unique_ptr<Tokenizer>> loaded = loadTokenizer(path);
  if (!loaded.isOk())
    return Status::error("--tokenizer " + path + ": " +
                         loaded.status().message());
  return loaded;
}

StatusOr<const Tokenizer *> growc::rt::tokenizerFor(const Tokenizer *tokenizer,
                                                    int64_t vocabSize,
                                                    const std::string &what) {
  static const std::unique_ptr<Tokenizer> bytes = makeByteTokenizer();
  if (!tokenizer || tokenizer->isByteLevel()) {
    if (vocabSize != ByteTokenizer::kVocabSize)
      return Status::error(
          what + ": the model's vocabulary has " + std::to_string(vocabSize) +
          " tokens, not the " + std::to_string(ByteTokenizer::kVocabSize) +
          " of the byte tokenizer; give --tokenizer (the model's "
          "tokenizer.json, or the folder holding it) to render text and "
          "prompts as its tokens");
    return bytes.get();
  }
  if (tokenizer->vocabSize() > vocabSize)
    return Status::error("--tokenizer " + tokenizer->describe() + " has " +
                         std::to_string(tokenizer->vocabSize()) +
                         " ids, more than the model's vocabulary of " +
                         std::to_string(vocabSize));
  if (!tokenizer->documentSeparator())
    return Status::error("--tokenizer " + tokenizer->describe() +
                         " has no document separator (an EOS or "
                         "<|endoftext|> token) to put between documents and "
                         "examples");
  return tokenizer;
}

//===----------------------------------------------------------------------===//
// Token streams
//===----------------------------------------------------------------------===//

namespace {

/// Windows over a token sequence held in memory, wrapping around.
class BufferStream : public TokenStream {
public:
  explicit BufferStream(std::vector<int32_t> tokens)
      : tokens_(std::move(tokens)) {}

  void nextBatch(int64_t batch, int64_t seq, int32_t *tokens,
                 int32_t *targets) override {
    const uint64_t size = tokens_.size();
    for (int64_t row = 0; row < batch; ++row) {
      for (int64_t i = 0; i < seq; ++i) {
        tokens[row * seq + i] = tokens_[(position_ + i) % size];
        targets[row * seq + i] = tokens_[(position_ + i + 1) % size];
      }
      position_ = (position_ + seq) % size;
    }
  }
  uint64_t position() const override { return position_; }
  void seek(uint64_t position) override {
    position_ = position % tokens_.size();
  }

private:
  std::vector<int32_t> tokens_;
  uint64_t position_ = 0;
};

StatusOr<std::string> readWholeFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error(path + ": cannot open: " + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  if (in.bad())
    return Status::error(path + ": read error");
  return bytes;
}

/// PyTorch's ignore index, which the loss graphs use.
constexpr int32_t kIgnoreTarget = -100;

/// Solved examples separated by EOS. Example j comes from its own
/// generator seeded by (seed, j), so a position is (example, offset).
class PrimitiveStream : public TokenStream {
public:
  PrimitiveStream(Primitive primitive, int minDepth, int maxDepth,
                  uint64_t seed, bool answersOnly, const Tokenizer &tokenizer)
      : primitive_(primitive), minDepth_(minDepth), maxDepth_(maxDepth),
        seed_(seed), answersOnly_(answersOnly), tokenizer_(tokenizer),
        eos_(*tokenizer.documentSeparator()) {}

  /// Example 0 rendered, so that a tokenizer that cannot render the
  /// primitives fails at open rather than in nextBatch.
  Status check() const { return render(0, nullptr); }

  void nextBatch(int64_t batch, int64_t seq, int32_t *tokens,
                 int32_t *targets) override {
    std::vector<int32_t> window;
    std::vector<bool> answer;
    for (int64_t row = 0; row < batch; ++row) {
      // seq + 1 tokens from (example_, offset_) on.
      window.clear();
      answer.clear();
      uint64_t example = example_, offset = offset_;
      while (int64_t(window.size()) <= seq) {
        const Example &current = rendered(example);
        for (uint64_t i = offset;
             i < current.tokens.size() && int64_t(window.size()) <= seq; ++i) {
          window.push_back(current.tokens[i]);
          answer.push_back(i >= current.answerBegin &&
                           i + 1 < current.tokens.size());
        }
        ++example;
        offset = 0;
      }
      for (int64_t i = 0; i < seq; ++i) {
        tokens[row * seq + i] = window[i];
        targets[row * seq + i] =
            !answersOnly_ || answer[i + 1] ? window[i + 1] : kIgnoreTarget;
      }
      advance(seq);
    }
  }
  uint64_t position() const override { return (example_ << 16) | offset_; }
  void seek(uint64_t position) override {
    example_ = position >> 16;
    offset_ = position & 0xffff;
  }

private:
  /// An example's tokens (prompt, answer, EOS) and where its answer starts.
  struct Example {
    std::vector<int32_t> tokens;
    uint64_t answerBegin = 0;
  };
  /// Renders example `example` into `out` (when not null). check() has
  /// rendered one example at open, and every example is made of the same
  /// few characters, so this does not fail; if it did, the example would
  /// be a lone EOS, never a stream that stops advancing.
  Status render(uint64_t example, Example *out) const {
    if (out) {
      out->tokens.assign(1, eos_);
      out->answerBegin = 1;
    }
    Rng rng(seed_ ^ (example * 0xd1342543de82ef95ULL + 1));
    int depth =
        minDepth_ + static_cast<int>(rng.below(maxDepth_ - minDepth_ + 1));
    StatusOr<PrimitiveExample> ex = generateExample(primitive_, depth, rng);
    if (!ex.isOk())
      return ex.status();
    StatusOr<EncodedExample> encoded = encodeExample(tokenizer_, *ex);
    if (!encoded.isOk())
      return encoded.status();
    if (out) {
      out->tokens = std::move(encoded->prompt);
      out->answerBegin = out->tokens.size();
      out->tokens.insert(out->tokens.end(), encoded->answer.begin(),
                         encoded->answer.end());
      out->tokens.push_back(eos_);
    }
    return Status::ok();
  }
  /// Example `example`, rendered once: the examples a row reads (and the
  /// next row starts in) are kept until the stream has passed them, since
  /// rendering through a BPE tokenizer is most of the stream's cost.
  const Example &rendered(uint64_t example) {
    if (example < cacheFirst_ || example > cacheFirst_ + cache_.size()) {
      cache_.clear();
      cacheFirst_ = example;
    }
    while (example >= cacheFirst_ + cache_.size()) {
      cache_.emplace_back();
      // A lone EOS if it failed.
      (void)render(cacheFirst_ + cache_.size() - 1, &cache_.back());
    }
    return cache_[example - cacheFirst_];
  }
  void advance(int64_t count) {
    offset_ += count;
    while (offset_ >= rendered(example_).tokens.size()) {
      offset_ -= rendered(example_).tokens.size();
      ++example_;
    }
    while (!cache_.empty() && cacheFirst_ < example_) {
      cache_.pop_front();
      ++cacheFirst_;
    }
  }

  Primitive primitive_;
  int minDepth_, maxDepth_;
  uint64_t seed_;
  bool answersOnly_;
  const Tokenizer &tokenizer_;
  int32_t eos_;
  uint64_t example_ = 0, offset_ = 0;
  std::deque<Example> cache_;
  uint64_t cacheFirst_ = 0; ///< the example cache_.front() holds
};

/// Rows taken round-robin from several streams (see mixedStream).
class MixedStream : public TokenStream {
public:
  explicit MixedStream(std::vector<std::unique_ptr<TokenStream>> parts)
      : parts_(std::move(parts)) {
    for (const auto &part : parts_)
      starts_.push_back(part->position());
  }

  void nextBatch(int64_t batch, int64_t seq, int32_t *tokens,
                 int32_t *targets) override {
    if (replay_) {
      // Restore every part's position by drawing the rows it had given.
      for (size_t k = 0; k < parts_.size(); ++k)
        parts_[k]->seek(starts_[k]);
      std::vector<int32_t> scratchTokens(seq), scratchTargets(seq);
      for (uint64_t n = 0; n < rows_; ++n)
        parts_[n % parts_.size()]->nextBatch(1, seq, scratchTokens.data(),
                                             scratchTargets.data());
      replay_ = false;
    }
    for (int64_t row = 0; row < batch; ++row, ++rows_)
      parts_[rows_ % parts_.size()]->nextBatch(1, seq, tokens + row * seq,
                                               targets + row * seq);
  }
  uint64_t position() const override { return rows_; }
  void seek(uint64_t position) override {
    rows_ = position;
    replay_ = true;
  }

private:
  std::vector<std::unique_ptr<TokenStream>> parts_;
  std::vector<uint64_t> starts_;
  uint64_t rows_ = 0;
  bool replay_ = false;
};

} // namespace

StatusOr<std::unique_ptr<TokenStream>>
growc::rt::openTextFile(const std::string &path, const Tokenizer *tokenizer) {
  if (!tokenizer || tokenizer->isByteLevel())
    return openTokenFile(path, TokenFileFormat::Bytes,
                         ByteTokenizer::kVocabSize);
  // One document per file: JSON lines would be tokenized as JSON.
  if (path.size() >= 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0)
    return Status::error(path + ": text: reads a file as one document; "
                                "tokenize JSON lines with growc-run tokenize "
                                "and train on tokens:OUT.bin");
  std::optional<int32_t> separator = tokenizer->documentSeparator();
  if (!separator)
    return Status::error(path + ": " + tokenizer->describe() +
                         " has no document separator to begin the document "
                         "with");
  StatusOr<std::string> text = readWholeFile(path);
  if (!text.isOk())
    return text.status();
  StatusOr<std::vector<int32_t>> ids = tokenizer->encode(*text);
  if (!ids.isOk())
    return Status::error(path + ": " + ids.status().message());
  std::vector<int32_t> tokens{*separator};
  tokens.insert(tokens.end(), ids->begin(), ids->end());
  if (tokens.size() < 2)
    return Status::error(path + ": an empty text file");
  return std::unique_ptr<TokenStream>(new BufferStream(std::move(tokens)));
}

StatusOr<std::unique_ptr<TokenStream>>
growc::rt::primitiveStream(Primitive primitive, int minDepth, int maxDepth,
                           uint64_t seed, bool answersOnly,
                           const Tokenizer *tokenizer) {
  if (primitive != Primitive::InductionCopy &&
      (minDepth < 0 || maxDepth > kMaxDepth || minDepth > maxDepth))
    return Status::error(
        "depths must satisfy 0 <= min <= max <= " + std::to_string(kMaxDepth) +
        ", got [" + std::to_string(minDepth) + ", " + std::to_string(maxDepth) +
        "]");
  if (primitive == Primitive::InductionCopy)
    minDepth = maxDepth = 0;
  static const std::unique_ptr<Tokenizer> bytes = makeByteTokenizer();
  if (!tokenizer)
    tokenizer = bytes.get();
  if (!tokenizer->documentSeparator())
    return Status::error(tokenizer->describe() +
                         " has no document separator to put between "
                         "examples");
  auto stream = std::make_unique<PrimitiveStream>(
      primitive, minDepth, maxDepth, seed, answersOnly, *tokenizer);
  if (Status status = stream->check(); !status.isOk())
    return status;
  return std::unique_ptr<TokenStream>(std::move(stream));
}

double growc::rt::wsdLearningRate(int64_t step, int64_t total, int64_t warmup,
                                  double peak, double decayFraction,
                                  double floor) {
  if (total <= 0)
    return floor;
  step = std::clamp<int64_t>(step, 0, total);
  if (warmup > 0 && step < warmup)
    return peak * double(step + 1) / double(warmup);
  int64_t decaySteps = static_cast<int64_t>(decayFraction * double(total));
  int64_t decayStart = total - decaySteps;
  if (step < decayStart || decaySteps <= 0)
    return peak;
  double progress = double(step - decayStart) / double(decaySteps);
  return peak + (floor - peak) * progress;
}

StatusOr<std::unique_ptr<TokenStream>>
growc::rt::mixedStream(std::vector<std::unique_ptr<TokenStream>> parts) {
  if (parts.empty())
    return Status::error("a mixed stream needs at least one part");
  for (const auto &part : parts)
    if (!part)
      return Status::error("a mixed stream's part is missing");
  return std::unique_ptr<TokenStream>(new MixedStream(std::move(parts)));
}

namespace {

/// A spec's kind (before the first colon) and the rest.
std::pair<std::string, std::string> splitSpec(const std::string &spec) {
  size_t colon = spec.find(':');
  return {spec.substr(0, colon),
          colon == std::string::npos ? "" : spec.substr(colon + 1)};
}

bool isFileKind(const std::string &kind) {
  return kind == "text" || kind == "tokens" || kind == "u16" || kind == "u32";
}

} // namespace

bool growc::rt::dataSpecReadsFiles(const std::string &spec) {
  auto [kind, rest] = splitSpec(spec);
  if (kind != "mix")
    return isFileKind(kind);
  for (size_t begin = 0;;) {
    size_t end = rest.find(',', begin);
    if (isFileKind(splitSpec(rest.substr(begin, end - begin)).first))
      return true;
    if (end == std::string::npos)
      return false;
    begin = end + 1;
  }
}

StatusOr<std::unique_ptr<TokenStream>>
growc::rt::openDataSpec(const std::string &spec, uint64_t seed,
                        int64_t vocabSize, const Tokenizer *tokenizer) {
  auto [kind, rest] = splitSpec(spec);
  if (tokenizer && tokenizer->vocabSize() > vocabSize)
    return Status::error("--tokenizer " + tokenizer->describe() + " has " +
                         std::to_string(tokenizer->vocabSize()) +
                         " ids, more than the model's vocabulary of " +
                         std::to_string(vocabSize));
  // Text and primitives are rendered by the tokenizer, which must be the
  // model's.
  const Tokenizer *renderer = nullptr;
  if (kind == "text" || kind == "primitives") {
    StatusOr<const Tokenizer *> chosen =
        tokenizerFor(tokenizer, vocabSize, spec);
    if (!chosen.isOk())
      return chosen.status();
    renderer = *chosen;
  }
  if (kind == "text")
    return openTextFile(rest, renderer);
  if (kind == "tokens" || kind == "u16" || kind == "u32") {
    StatusOr<std::vector<std::string>> paths = expandPathPattern(rest);
    if (!paths.isOk())
      return paths.status();
    return openTokenFiles(*paths,
                          kind == "tokens" ? TokenFileFormat::LlmC
                          : kind == "u16"  ? TokenFileFormat::U16
                                           : TokenFileFormat::U32,
                          vocabSize);
  }
  if (kind == "mix") {
    std::vector<std::unique_ptr<TokenStream>> parts;
    size_t begin = 0;
    for (uint64_t k = 0;; ++k) {
      size_t end = rest.find(',', begin);
      std::string part = rest.substr(begin, end - begin);
      if (part.empty() || part.compare(0, 4, "mix:") == 0)
        return Status::error("--data " + spec +
                             ": write mix:SPEC,SPEC,... with non-empty "
                             "parts that are not mixes themselves");
      StatusOr<std::unique_ptr<TokenStream>> stream =
          openDataSpec(part, seed + k, vocabSize, tokenizer);
      if (!stream.isOk())
        return stream.status();
      parts.push_back(std::move(*stream));
      if (end == std::string::npos)
        break;
      begin = end + 1;
    }
    return mixedStream(std::move(parts));
  }
  if (kind == "primitives") {
    // NAME[:MIN-MAX][:answers]
    std::vector<std::string> parts;
    for (size_t begin = 0;;) {
      size_t end = rest.find(':', begin);
      parts.push_back(rest.substr(begin, end - begin));
      if (end == std::string::npos)
        break;
      begin = end + 1;
    }
    bool answersOnly = parts.size() > 1 && parts.back() == "answers";
    if (answersOnly)
      parts.pop_back();
    int minDepth = 0, maxDepth = 0, used = 0;
    if (parts.size() > 2 ||
        (parts.size() == 2 && (std::sscanf(parts[1].c_str(), "%d-%d%n",
                                           &minDepth, &maxDepth, &used) != 2 ||
                               size_t(used) != parts[1].size())))
      return Status::error("--data " + spec +
                           ": write primitives:NAME[:MIN-MAX][:answers], "
                           "depths e.g. 0-2");
    StatusOr<Primitive> primitive = parsePrimitive(parts[0]);
    if (!primitive.isOk())
      return Status::error("--data " + spec + ": " +
                           primitive.status().message());
    return primitiveStream(*primitive, minDepth, maxDepth, seed, answersOnly,
                           renderer);
  }
  return Status::error("--data must be primitives:NAME[:MIN-MAX][:answers], "
                       "text:PATH, tokens:PATH_OR_GLOB, u16:PATH_OR_GLOB, "
                       "u32:PATH_OR_GLOB or mix:SPEC,SPEC,..., got '" +
                       spec + "'");
}
