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
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
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

StatusOr<PrimitiveExample>
growc::rt::generatePrompt(Primitive primitive, int depth, int shots, Rng &rng) {
  if (shots < 0 || shots > 64)
    return Status::error("shots must be in [0, 64], got " +
                         std::to_string(shots));
  std::string prefix;
  for (int i = 0; i < shots; ++i) {
    StatusOr<PrimitiveExample> shot = generateExample(primitive, depth, rng);
    if (!shot.isOk())
      return shot.status();
    prefix += shot->prompt + shot->answer + "\n";
  }
  StatusOr<PrimitiveExample> query = generateExample(primitive, depth, rng);
  if (!query.isOk())
    return query.status();
  return PrimitiveExample{prefix + query->prompt, query->answer};
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

/// Solved examples separated by EOS. Example j comes from its own
/// generator seeded by (seed, j), so a position is (example, offset).
/// PyTorch's ignore index, which the loss graphs use.
constexpr int32_t kIgnoreTarget = -100;

class PrimitiveStream : public TokenStream {
public:
  PrimitiveStream(Primitive primitive, int minDepth, int maxDepth,
                  uint64_t seed, bool answersOnly)
      : primitive_(primitive), minDepth_(minDepth), maxDepth_(maxDepth),
        seed_(seed), answersOnly_(answersOnly) {
    load();
  }

  void nextBatch(int64_t batch, int64_t seq, int32_t *tokens,
                 int32_t *targets) override {
    for (int64_t row = 0; row < batch; ++row) {
      for (int64_t i = 0; i <= seq; ++i) {
        bool isAnswer = false;
        int32_t token = peek(i, &isAnswer);
        if (i < seq)
          tokens[row * seq + i] = token;
        if (i > 0)
          targets[row * seq + i - 1] =
              !answersOnly_ || isAnswer ? token : kIgnoreTarget;
      }
      advance(seq);
    }
  }
  uint64_t position() const override { return (example_ << 16) | offset_; }
  void seek(uint64_t position) override {
    example_ = position >> 16;
    offset_ = position & 0xffff;
    load();
  }

private:
  std::vector<int32_t> tokensOf(uint64_t example) const {
    Rng rng(seed_ ^ (example * 0xd1342543de82ef95ULL + 1));
    int depth =
        minDepth_ + static_cast<int>(rng.below(maxDepth_ - minDepth_ + 1));
    PrimitiveExample ex = *generateExample(primitive_, depth, rng);
    std::vector<int32_t> ids = ByteTokenizer::encode(ex.prompt + ex.answer);
    ids.push_back(ByteTokenizer::kEos);
    return ids;
  }
  void load() { current_ = tokensOf(example_); }
  /// The token `ahead` positions from the current one, and whether it is
  /// an example's answer (the token before its EOS).
  int32_t peek(int64_t ahead, bool *isAnswer) const {
    uint64_t offset = offset_ + ahead;
    if (offset < current_.size()) {
      *isAnswer = offset + 2 == current_.size();
      return current_[offset];
    }
    uint64_t example = example_;
    offset -= current_.size();
    std::vector<int32_t> tokens = tokensOf(++example);
    while (offset >= tokens.size()) {
      offset -= tokens.size();
      tokens = tokensOf(++example);
    }
    *isAnswer = offset + 2 == tokens.size();
    return tokens[offset];
  }
  void advance(int64_t count) {
    offset_ += count;
    while (offset_ >= current_.size()) {
      offset_ -= current_.size();
      ++example_;
      load();
    }
  }

  Primitive primitive_;
  int minDepth_, maxDepth_;
  uint64_t seed_;
  bool answersOnly_;
  uint64_t example_ = 0, offset_ = 0;
  std::vector<int32_t> current_;
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
growc::rt::openTokenFile(const std::string &path, TokenFileDType dtype,
                         int64_t vocabSize) {
  StatusOr<std::string> bytes = readWholeFile(path);
  if (!bytes.isOk())
    return bytes.status();
  size_t width = dtype == TokenFileDType::U16 ? 2 : 4;
  if (bytes->empty())
    return Status::error(path + ": empty token file");
  if (bytes->size() % width != 0)
    return Status::error(path + ": " + std::to_string(bytes->size()) +
                         " bytes is not a whole number of " +
                         (width == 2 ? "uint16" : "uint32") + " tokens");
  std::vector<int32_t> tokens(bytes->size() / width);
  const auto *data = reinterpret_cast<const unsigned char *>(bytes->data());
  for (size_t i = 0; i < tokens.size(); ++i) {
    uint64_t value = 0;
    for (size_t b = 0; b < width; ++b) // little-endian on every host
      value |= uint64_t(data[i * width + b]) << (8 * b);
    if (value >= static_cast<uint64_t>(vocabSize))
      return Status::error(path + ": token " + std::to_string(value) +
                           " at index " + std::to_string(i) +
                           " is outside the vocabulary [0, " +
                           std::to_string(vocabSize) + ")");
    tokens[i] = static_cast<int32_t>(value);
  }
  if (tokens.size() < 2)
    return Status::error(path + ": a token file needs at least 2 tokens");
  return std::unique_ptr<TokenStream>(new BufferStream(std::move(tokens)));
}

StatusOr<std::unique_ptr<TokenStream>>
growc::rt::openTextFile(const std::string &path) {
  StatusOr<std::string> bytes = readWholeFile(path);
  if (!bytes.isOk())
    return bytes.status();
  if (bytes->size() < 2)
    return Status::error(path + ": a text file needs at least 2 bytes");
  return std::unique_ptr<TokenStream>(
      new BufferStream(ByteTokenizer::encode(*bytes)));
}

StatusOr<std::unique_ptr<TokenStream>>
growc::rt::primitiveStream(Primitive primitive, int minDepth, int maxDepth,
                           uint64_t seed, bool answersOnly) {
  if (primitive != Primitive::InductionCopy &&
      (minDepth < 0 || maxDepth > kMaxDepth || minDepth > maxDepth))
    return Status::error(
        "depths must satisfy 0 <= min <= max <= " + std::to_string(kMaxDepth) +
        ", got [" + std::to_string(minDepth) + ", " + std::to_string(maxDepth) +
        "]");
  if (primitive == Primitive::InductionCopy)
    minDepth = maxDepth = 0;
  return std::unique_ptr<TokenStream>(
      new PrimitiveStream(primitive, minDepth, maxDepth, seed, answersOnly));
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

StatusOr<std::unique_ptr<TokenStream>>
growc::rt::openDataSpec(const std::string &spec, uint64_t seed,
                        int64_t vocabSize) {
  size_t colon = spec.find(':');
  std::string kind = spec.substr(0, colon);
  std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "text")
    return openTextFile(rest);
  if (kind == "u16" || kind == "u32")
    return openTokenFile(
        rest, kind == "u16" ? TokenFileDType::U16 : TokenFileDType::U32,
        vocabSize);
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
          openDataSpec(part, seed + k, vocabSize);
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
    return primitiveStream(*primitive, minDepth, maxDepth, seed, answersOnly);
  }
  return Status::error("--data must be primitives:NAME[:MIN-MAX][:answers], "
                       "text:PATH, u16:PATH, u32:PATH or mix:SPEC,SPEC,..., "
                       "got '" +
                       spec + "'");
}
