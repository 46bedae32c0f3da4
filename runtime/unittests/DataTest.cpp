//===- DataTest.cpp - Tests for tokenizer, generators and streams ---------===//
//
// The primitives are checked by solving them independently (parsing the
// prompt and following the assignments / finding the copied span), the
// generator against SplitMix64's published reference values, the streams
// by their shift-by-one invariant, wrap-around, seek/position round trips
// (across the shards of a glob) and malformed files (llm.c headers:
// version, count against size, a shard read headerless), token files by
// the heap they do not take (mapped, not copied), and the schedule at its
// corners.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Data.h"
#include "growc/runtime/Eval.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

using namespace growc::rt;
namespace fs = std::filesystem;

namespace {

TEST(ByteTokenizerTest, RoundTripsBytesAndDropsSpecials) {
  std::string text = "a=1, \xff\x00z";
  text.push_back('\0');
  std::vector<int32_t> ids = ByteTokenizer::encode(text);
  ASSERT_EQ(ids.size(), text.size());
  EXPECT_EQ(ids[5], 0xff);
  ids.insert(ids.begin(), ByteTokenizer::kBos);
  ids.push_back(ByteTokenizer::kEos);
  StatusOr<std::string> back = ByteTokenizer::decode(ids);
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(*back, text);
  StatusOr<std::string> bad = ByteTokenizer::decode({1, 259});
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("token 259 is outside"),
            std::string::npos);
}

TEST(RngTest, MatchesSplitMix64Reference) {
  // Reference outputs of SplitMix64 seeded with 1234567 (Vigna).
  Rng rng(1234567);
  EXPECT_EQ(rng.next(), 6457827717110365317ULL);
  EXPECT_EQ(rng.next(), 3203168211198807973ULL);
  EXPECT_EQ(rng.next(), 9817491932198370423ULL);
}

TEST(RngTest, BelowIsInRangeAndCoversIt) {
  Rng rng(7);
  std::map<uint64_t, int> counts;
  for (int i = 0; i < 7000; ++i) {
    uint64_t x = rng.below(7);
    ASSERT_LT(x, 7u);
    ++counts[x];
  }
  for (uint64_t v = 0; v < 7; ++v)
    EXPECT_GT(counts[v], 800) << v; // ~1000 each
}

/// Solves a variable-assignment prompt (math or code) by following it.
std::string solveAssignments(const std::string &prompt, bool code) {
  std::map<std::string, std::string> value;
  std::regex statement(code ? R"(([a-z]) = ([a-z0-9]))"
                            : R"(([a-z])=([a-z0-9]))");
  for (auto it = std::sregex_iterator(prompt.begin(), prompt.end(), statement);
       it != std::sregex_iterator(); ++it) {
    std::string lhs = (*it)[1], rhs = (*it)[2];
    value[lhs] = isdigit(rhs[0]) ? rhs : value.at(rhs);
  }
  std::smatch query;
  std::regex q(code ? R"(print\(([a-z])\) #$)" : R"(([a-z])=\?$)");
  EXPECT_TRUE(std::regex_search(prompt, query, q)) << prompt;
  return value.at(query[1]);
}

TEST(PrimitiveTest, VariableAssignmentAnswersFollowTheChain) {
  for (Primitive p : {Primitive::VarAssignMath, Primitive::VarAssignCode}) {
    Rng rng(42);
    for (int depth = 0; depth <= 8; ++depth)
      for (int i = 0; i < 20; ++i) {
        StatusOr<PrimitiveExample> ex = generateExample(p, depth, rng);
        ASSERT_TRUE(ex.isOk()) << ex.status().message();
        ASSERT_EQ(ex->answer.size(), 1u);
        EXPECT_TRUE(isdigit(ex->answer[0]));
        EXPECT_EQ(solveAssignments(ex->prompt, p == Primitive::VarAssignCode),
                  ex->answer)
            << ex->prompt;
      }
  }
  Rng rng(1);
  StatusOr<PrimitiveExample> depth0 =
      generateExample(Primitive::VarAssignMath, 0, rng);
  // SPEC's depth-0 shape: three numbers and a query, "a=1, b=2, c=6, b=?".
  EXPECT_TRUE(std::regex_match(
      depth0->prompt, std::regex(R"([a-z]=\d, [a-z]=\d, [a-z]=\d, [a-z]=\?)")))
      << depth0->prompt;
  EXPECT_FALSE(generateExample(Primitive::VarAssignMath, 9, rng).isOk());
  EXPECT_FALSE(generateExample(Primitive::VarAssignMath, -1, rng).isOk());
}

TEST(PrimitiveTest, InductionCopyIsUnambiguous) {
  Rng rng(3);
  for (int i = 0; i < 200; ++i) {
    StatusOr<PrimitiveExample> ex =
        generateExample(Primitive::InductionCopy, 0, rng);
    ASSERT_TRUE(ex.isOk());
    size_t space = ex->prompt.find(' ');
    ASSERT_NE(space, std::string::npos);
    std::string sequence = ex->prompt.substr(0, space);
    std::string copied = ex->prompt.substr(space + 1);
    size_t at = sequence.find(copied);
    ASSERT_NE(at, std::string::npos);
    EXPECT_EQ(sequence.find(copied, at + 1), std::string::npos);
    ASSERT_LT(at + copied.size(), sequence.size());
    EXPECT_EQ(ex->answer, sequence.substr(at + copied.size(), 1));
  }
}

// The floors against a brute-force simulation: a copy heuristic that
// actually guesses (a uniform pick among the digits or letters it finds in
// the example, from its own generator) and a count of every answer.
TEST(PrimitiveTest, FloorsMatchABruteForceCount) {
  struct Case {
    Primitive primitive;
    int depth;
  };
  const int64_t samples = 20000;
  for (Case c :
       {Case{Primitive::VarAssignMath, 0}, Case{Primitive::VarAssignCode, 3},
        Case{Primitive::InductionCopy, 0}}) {
    StatusOr<PrimitiveFloors> floors =
        primitiveFloors(c.primitive, c.depth, samples, 7);
    ASSERT_TRUE(floors.isOk()) << floors.status().message();
    const bool letters = c.primitive == Primitive::InductionCopy;
    Rng rng(7), guesser(12345);
    int64_t hits = 0;
    std::map<std::string, int64_t> answers;
    for (int64_t i = 0; i < samples; ++i) {
      StatusOr<PrimitiveExample> ex =
          generateExample(c.primitive, c.depth, rng);
      ASSERT_TRUE(ex.isOk());
      ++answers[ex->answer];
      std::string seen;
      for (char ch : ex->prompt.substr(0, letters ? ex->prompt.find(' ')
                                                  : std::string::npos))
        if ((letters ? isalpha(ch) : isdigit(ch)) &&
            seen.find(ch) == std::string::npos)
          seen.push_back(ch);
      hits += std::string(1, seen[guesser.below(seen.size())]) == ex->answer;
    }
    int64_t most = 0;
    for (const auto &entry : answers)
      most = std::max(most, entry.second);
    // Monte Carlo: 5 standard errors of a 20000-draw mean at most ~0.017.
    EXPECT_NEAR(floors->copy, double(hits) / samples, 0.017);
    EXPECT_DOUBLE_EQ(floors->constant, double(most) / samples);
    EXPECT_DOUBLE_EQ(floors->chance, letters ? 1.0 / 26 : 0.1);
  }
  // Three chains at depth 0, two deeper, every answer among them: exact.
  EXPECT_NEAR(primitiveFloors(Primitive::VarAssignMath, 0)->copy, 1.0 / 3,
              1e-9);
  EXPECT_DOUBLE_EQ(primitiveFloors(Primitive::VarAssignMath, 1)->copy, 0.5);
  EXPECT_DOUBLE_EQ(primitiveFloors(Primitive::VarAssignMath, 1)->highest(),
                   0.5);
  EXPECT_FALSE(primitiveFloors(Primitive::VarAssignMath, 9).isOk());
  // Two standard errors of 0.5 over 100 prompts: 0.1.
  EXPECT_FALSE(aboveFloor(0.59, 100, 0.5));
  EXPECT_TRUE(aboveFloor(0.61, 100, 0.5));
  // A model at its copy floor (1/3 at depth 0) has layers as good as its
  // last: undefined, not a relative accuracy of 1.
  EXPECT_TRUE(std::isnan(relativeAccuracy(0.34, 0.34, 200, 1.0 / 3)));
  EXPECT_DOUBLE_EQ(relativeAccuracy(0.45, 0.9, 200, 1.0 / 3), 0.5);
}

TEST(PrimitiveTest, PromptsAreSeededAndShotsSolved) {
  Rng a(9), b(9), c(10);
  auto first = generatePrompt(Primitive::VarAssignMath, 2, 5, a);
  auto same = generatePrompt(Primitive::VarAssignMath, 2, 5, b);
  auto other = generatePrompt(Primitive::VarAssignMath, 2, 5, c);
  ASSERT_TRUE(first.isOk() && same.isOk() && other.isOk());
  EXPECT_EQ(first->prompt, same->prompt);
  EXPECT_NE(first->prompt, other->prompt);
  // Five solved lines, then the query.
  std::vector<std::string> lines;
  std::stringstream in(first->prompt);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  ASSERT_EQ(lines.size(), 6u);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(solveAssignments(lines[i].substr(0, lines[i].size() - 1), false),
              lines[i].substr(lines[i].size() - 1));
  EXPECT_EQ(solveAssignments(lines[5], false), first->answer);
  EXPECT_FALSE(generatePrompt(Primitive::VarAssignMath, 2, -1, a).isOk());
  EXPECT_EQ(parsePrimitive("induction-copy").value(), Primitive::InductionCopy);
  EXPECT_FALSE(parsePrimitive("sorting").isOk());
}

class StreamTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir = (fs::temp_directory_path() /
           ("growc-data-test-" + std::to_string(::getpid())))
              .string();
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string write(const std::string &name, const std::string &bytes) {
    std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  std::string dir;
};

/// targets[i] == tokens[i + 1] inside each row.
void expectShifted(const std::vector<int32_t> &tokens,
                   const std::vector<int32_t> &targets, int64_t seq) {
  for (size_t row = 0; row < tokens.size() / seq; ++row)
    for (int64_t i = 0; i + 1 < seq; ++i)
      EXPECT_EQ(targets[row * seq + i], tokens[row * seq + i + 1]);
}

void expectError(const StatusOr<std::unique_ptr<TokenStream>> &s,
                 const std::string &part) {
  ASSERT_FALSE(s.isOk()) << "expected an error with: " << part;
  EXPECT_NE(s.status().message().find(part), std::string::npos)
      << s.status().message();
}

TEST_F(StreamTest, TokenFileWindowsWrapAndSeek) {
  std::string bytes;
  for (uint16_t t = 0; t < 10; ++t)
    bytes += std::string{char(t * 3), char(0)}; // tokens 0, 3, ..., 27
  auto stream = openTokenFile(write("t.bin", bytes), TokenFileFormat::U16, 30);
  ASSERT_TRUE(stream.isOk()) << stream.status().message();
  std::vector<int32_t> tokens(2 * 4), targets(2 * 4);
  (*stream)->nextBatch(2, 4, tokens.data(), targets.data());
  EXPECT_EQ(tokens, (std::vector<int32_t>{0, 3, 6, 9, 12, 15, 18, 21}));
  EXPECT_EQ(targets, (std::vector<int32_t>{3, 6, 9, 12, 15, 18, 21, 24}));
  uint64_t position = (*stream)->position();
  (*stream)->nextBatch(1, 4, tokens.data(), targets.data());
  // Wraps around: 24, 27, then 0, 3.
  EXPECT_EQ(std::vector<int32_t>(tokens.begin(), tokens.begin() + 4),
            (std::vector<int32_t>{24, 27, 0, 3}));
  (*stream)->seek(position);
  std::vector<int32_t> again(4), againTargets(4);
  (*stream)->nextBatch(1, 4, again.data(), againTargets.data());
  EXPECT_EQ(again, std::vector<int32_t>(tokens.begin(), tokens.begin() + 4));
}

TEST_F(StreamTest, TokenFileRejectsBadFiles) {
  expectError(openTokenFile(write("e.bin", ""), TokenFileFormat::U16, 10),
              "empty token file");
  expectError(openTokenFile(write("r.bin", "abc"), TokenFileFormat::U16, 1000),
              "not a whole number of uint16 tokens");
  expectError(
      openTokenFile(write("v.bin", std::string("\x05\0\0\0\x0b\0\0\0", 8)),
                    TokenFileFormat::U32, 10),
      "token 11 at index 1 is outside the vocabulary [0, 10)");
  expectError(openTokenFile(dir + "/missing.bin", TokenFileFormat::U16, 10),
              "cannot open");
  expectError(openTextFile(write("one.txt", "x")), "at least 2 bytes");
}

/// An llm.c shard: the 256 x int32 header, then `tokens` of `width` bytes
/// (version 1: 2, version 2: 4); `count` overrides the header's count.
std::string llmcShard(const std::vector<uint32_t> &tokens, int32_t version = 1,
                      int64_t count = -1) {
  std::vector<int32_t> header(256, 0);
  header[0] = kLlmcShardMagic;
  header[1] = version;
  header[2] = int32_t(count < 0 ? int64_t(tokens.size()) : count);
  std::string bytes(reinterpret_cast<const char *>(header.data()), 1024);
  for (uint32_t t : tokens)
    for (int b = 0; b < (version == 2 ? 4 : 2); ++b)
      bytes.push_back(char((t >> (8 * b)) & 0xff));
  return bytes;
}

/// `count` tokens of a stream from `position` on (rows of one token).
std::vector<int32_t> tokensAt(TokenStream &stream, uint64_t position,
                              int64_t count) {
  stream.seek(position);
  std::vector<int32_t> tokens(count), targets(count);
  stream.nextBatch(count, 1, tokens.data(), targets.data());
  return tokens;
}

TEST_F(StreamTest, LlmcShardsAreReadByTheirHeader) {
  // Version 1: uint16 tokens after the 1024-byte header, not the header.
  std::string v1 = write("v1.bin", llmcShard({7, 300, 65535, 1}, 1));
  auto stream = openDataSpec("tokens:" + v1, 0, 65536);
  ASSERT_TRUE(stream.isOk()) << stream.status().message();
  EXPECT_EQ(tokensAt(**stream, 0, 5),
            (std::vector<int32_t>{7, 300, 65535, 1, 7}));
  // Version 2: uint32 tokens (vocabularies over 65,536).
  std::string v2 = write("v2.bin", llmcShard({70000, 5, 128255}, 2));
  stream = openDataSpec("tokens:" + v2, 0, 128256);
  ASSERT_TRUE(stream.isOk()) << stream.status().message();
  EXPECT_EQ(tokensAt(**stream, 1, 3), (std::vector<int32_t>{5, 128255, 70000}));
  // Tokens are checked against the vocabulary, naming file and index.
  expectError(openDataSpec("tokens:" + v2, 0, 128255),
              v2 + ": token 128255 at index 2 is outside the vocabulary "
                   "[0, 128255)");
}

TEST_F(StreamTest, LlmcShardErrors) {
  expectError(
      openDataSpec("tokens:" + write("v3.bin", llmcShard({1, 2}, 3)), 0, 10),
      "v3.bin: llm.c shard version 3 is not supported (1: uint16 "
      "tokens, 2: uint32 tokens)");
  // The header promises 5 tokens, the file holds 3.
  expectError(
      openDataSpec("tokens:" + write("short.bin", llmcShard({1, 2, 3}, 1, 5)),
                   0, 10),
      "short.bin: truncated llm.c shard: its header gives 5 uint16 tokens "
      "(10 bytes), the file holds 6 bytes after the header");
  expectError(
      openDataSpec("tokens:" + write("long.bin", llmcShard({1, 2, 3}, 2, 2)), 0,
                   10),
      "long.bin: its header gives 2 uint32 tokens (8 bytes), the "
      "file holds 12 bytes after the header");
  expectError(
      openDataSpec("tokens:" + write("head.bin", llmcShard({}).substr(0, 100)),
                   0, 10),
      "head.bin: truncated llm.c shard: 100 bytes, less than its 1024-byte "
      "header");
  expectError(
      openDataSpec("tokens:" + write("raw.bin", "\x01\x00\x02\x00"), 0, 10),
      "raw.bin: not an llm.c token shard (it does not start with the "
      "magic 20240520); read a headerless token file with u16:");
  // Read headerless, a shard's header would be tokens: refused.
  std::string shard = write("s.bin", llmcShard({1, 2, 3}));
  expectError(openDataSpec("u16:" + shard, 0, 65536),
              "s.bin: an llm.c token shard (magic 20240520, version 1, 3 "
              "tokens), not a headerless uint16 file; read it with tokens:");
  expectError(openDataSpec("tokens:" + write("one.bin", llmcShard({1})), 0, 10),
              "a token file needs at least 2 tokens");
  expectError(openDataSpec("tokens:" + dir + "/none_*.bin", 0, 10),
              "none_*.bin: no file matches");
}

TEST_F(StreamTest, ShardGlobsConcatenateInOrderAndResumeExactly) {
  // Written out of order; read sorted: 0..4 | 5..7 | 8..12 (an empty shard
  // between them is skipped).
  write("train_000002.bin", llmcShard({8, 9, 10, 11, 12}));
  write("train_000000.bin", llmcShard({0, 1, 2, 3, 4}));
  write("train_000001.bin", llmcShard({5, 6, 7}));
  write("train_000001a.bin", llmcShard({}));
  write("other_000000.bin", llmcShard({99, 99}));
  const std::string spec = "tokens:" + dir + "/train_*.bin";
  auto stream = openDataSpec(spec, 0, 100);
  ASSERT_TRUE(stream.isOk()) << stream.status().message();
  const int64_t seq = 4;
  std::vector<int32_t> tokens(3 * seq), targets(3 * seq);
  (*stream)->nextBatch(3, seq, tokens.data(), targets.data());
  // Windows cross the shard ends and wrap at the end of the last one.
  EXPECT_EQ(tokens,
            (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(targets,
            (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  (*stream)->nextBatch(1, seq, tokens.data(), targets.data());
  EXPECT_EQ(std::vector<int32_t>(tokens.begin(), tokens.begin() + seq),
            (std::vector<int32_t>{12, 0, 1, 2}));
  // A position inside the second shard, saved and restored in a new
  // stream (a checkpoint and its resume), continues exactly.
  (*stream)->seek(6);
  uint64_t saved = (*stream)->position();
  std::vector<int32_t> next(2 * seq), nextTargets(2 * seq);
  (*stream)->nextBatch(2, seq, next.data(), nextTargets.data());
  EXPECT_EQ(next, (std::vector<int32_t>{6, 7, 8, 9, 10, 11, 12, 0}));
  auto resumed = openDataSpec(spec, 0, 100);
  ASSERT_TRUE(resumed.isOk());
  (*resumed)->seek(saved);
  std::vector<int32_t> again(2 * seq), againTargets(2 * seq);
  (*resumed)->nextBatch(2, seq, again.data(), againTargets.data());
  EXPECT_EQ(again, next);
  EXPECT_EQ(againTargets, nextTargets);
  // A bad token in a later shard names that shard and its index.
  write("train_000003.bin", llmcShard({1, 100}));
  expectError(openDataSpec(spec, 0, 100),
              "train_000003.bin: token 100 at index 1 is outside");
}

/// The process's anonymous resident memory (heap), in bytes.
int64_t anonymousResidentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("RssAnon:", 0) == 0)
      return std::stoll(line.substr(8)) * 1024;
  return -1;
}

TEST_F(StreamTest, TokenFilesAreMappedNotCopied) {
  // 16M uint16 tokens (32 MB) below a vocabulary that makes every one
  // checked. Read into memory they were 96 MB of heap (the bytes and an
  // int32 copy); mapped, the heap does not grow with the file.
  const uint64_t count = uint64_t(16) << 20;
  std::string path = dir + "/big.bin";
  {
    std::vector<uint16_t> tokens(count);
    for (uint64_t i = 0; i < count; ++i)
      tokens[i] = uint16_t(i % 50000);
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char *>(tokens.data()), count * 2);
  }
  int64_t before = anonymousResidentBytes();
  ASSERT_GT(before, 0);
  auto stream = openDataSpec("u16:" + path, 0, 50000);
  ASSERT_TRUE(stream.isOk()) << stream.status().message();
  EXPECT_LT(anonymousResidentBytes() - before, int64_t(8) << 20);
  EXPECT_EQ(tokensAt(**stream, count - 2, 3),
            (std::vector<int32_t>{int32_t((count - 2) % 50000),
                                  int32_t((count - 1) % 50000), 0}));
}

TEST_F(StreamTest, FileDataHasNoHeldOutPart) {
  EXPECT_TRUE(dataSpecReadsFiles("tokens:x_*.bin"));
  EXPECT_TRUE(dataSpecReadsFiles("u16:x.bin"));
  EXPECT_TRUE(dataSpecReadsFiles("text:x.txt"));
  EXPECT_TRUE(dataSpecReadsFiles("mix:primitives:induction-copy,text:x.txt"));
  EXPECT_FALSE(dataSpecReadsFiles("primitives:induction-copy"));
  EXPECT_FALSE(dataSpecReadsFiles(
      "mix:primitives:induction-copy,primitives:var-assign-math"));
}

TEST_F(StreamTest, ByteDataNeedsTheByteVocabulary) {
  std::string text = write("t.txt", "hello world!");
  for (const std::string &spec :
       {"text:" + text, std::string("primitives:induction-copy"),
        "mix:u16:" + text + ",primitives:var-assign-math"})
    expectError(openDataSpec(spec, 0, 49152),
                "the model's vocabulary has 49152 tokens, not the 259 of the "
                "byte tokenizer; give --tokenizer");
  // Token files need no tokenizer.
  EXPECT_TRUE(openDataSpec("u16:" + text, 0, 49152).isOk());
}

TEST_F(StreamTest, TextFileIsByteTokens) {
  auto stream = openTextFile(write("t.txt", "hello world"));
  ASSERT_TRUE(stream.isOk());
  std::vector<int32_t> tokens(5), targets(5);
  (*stream)->nextBatch(1, 5, tokens.data(), targets.data());
  EXPECT_EQ(tokens, ByteTokenizer::encode("hello"));
  EXPECT_EQ(targets, ByteTokenizer::encode("ello "));
}

TEST(PrimitiveStreamTest, DeterministicShiftedAndResumable) {
  auto a = primitiveStream(Primitive::VarAssignMath, 0, 2, 5);
  auto b = primitiveStream(Primitive::VarAssignMath, 0, 2, 5);
  ASSERT_TRUE(a.isOk() && b.isOk());
  const int64_t batch = 3, seq = 37;
  std::vector<int32_t> ta(batch * seq), ya(batch * seq), tb(batch * seq),
      yb(batch * seq);
  (*a)->nextBatch(batch, seq, ta.data(), ya.data());
  (*b)->nextBatch(batch, seq, tb.data(), yb.data());
  EXPECT_EQ(ta, tb);
  EXPECT_EQ(ya, yb);
  expectShifted(ta, ya, seq);
  // Rows continue each other: the last target of a row is the next row's
  // first token.
  for (int64_t row = 0; row + 1 < batch; ++row)
    EXPECT_EQ(ya[row * seq + seq - 1], ta[(row + 1) * seq]);
  // The text is solved examples separated by EOS.
  std::vector<int32_t> all(ta);
  std::string text;
  for (int32_t t : all)
    text += t == ByteTokenizer::kEos ? '\n' : char(t);
  EXPECT_NE(text.find("=?"), std::string::npos);
  // Resuming from a saved position continues identically.
  uint64_t position = (*a)->position();
  std::vector<int32_t> next(seq), nextY(seq), resumed(seq), resumedY(seq);
  (*a)->nextBatch(1, seq, next.data(), nextY.data());
  auto c = primitiveStream(Primitive::VarAssignMath, 0, 2, 5);
  (*c)->seek(position);
  (*c)->nextBatch(1, seq, resumed.data(), resumedY.data());
  EXPECT_EQ(next, resumed);
  EXPECT_EQ(nextY, resumedY);
  EXPECT_FALSE(primitiveStream(Primitive::VarAssignCode, 3, 1, 0).isOk());
}

TEST(PrimitiveStreamTest, AnswersOnlyScoresTheAnswerTokens) {
  auto full = primitiveStream(Primitive::VarAssignMath, 0, 1, 9);
  auto answers = primitiveStream(Primitive::VarAssignMath, 0, 1, 9,
                                 /*answersOnly=*/true);
  ASSERT_TRUE(full.isOk() && answers.isOk());
  const int64_t batch = 2, seq = 200;
  std::vector<int32_t> t1(batch * seq), y1(batch * seq), t2(batch * seq),
      y2(batch * seq);
  (*full)->nextBatch(batch, seq, t1.data(), y1.data());
  (*answers)->nextBatch(batch, seq, t2.data(), y2.data());
  EXPECT_EQ(t1, t2); // the same tokens
  int scored = 0;
  for (int64_t i = 0; i < batch * seq; ++i) {
    if (y2[i] == -100)
      continue;
    ++scored;
    EXPECT_EQ(y2[i], y1[i]);
    // An answer follows "=?" (math variant) and precedes the EOS.
    if (i % seq >= 2) {
      EXPECT_EQ(t1[i], '?');
      EXPECT_EQ(t1[i - 1], '=');
    }
    if (i % seq + 1 < seq)
      EXPECT_EQ(y1[i + 1], ByteTokenizer::kEos);
    EXPECT_GE(y2[i], '0');
    EXPECT_LE(y2[i], '9');
  }
  // One answer per example; 2·200 tokens hold more than ten examples.
  EXPECT_GT(scored, 10);
  int eos = 0;
  for (int32_t y : y1)
    eos += y == ByteTokenizer::kEos;
  EXPECT_NEAR(scored, eos, 1);
}

/// A tokenizer whose every character is two tokens (1000 + byte, then 1),
/// so that an answer is a span of two; 2000 separates documents.
class PairTokenizer : public Tokenizer {
public:
  StatusOr<std::vector<int32_t>> encode(std::string_view text) const override {
    std::vector<int32_t> ids;
    for (char c : text) {
      ids.push_back(1000 + static_cast<unsigned char>(c));
      ids.push_back(1);
    }
    return ids;
  }
  StatusOr<std::string> decode(const std::vector<int32_t> &ids) const override {
    std::string text;
    for (int32_t id : ids)
      if (id >= 1000 && id < 1256)
        text.push_back(char(id - 1000));
    return text;
  }
  int64_t vocabSize() const override { return 2001; }
  std::optional<int32_t> documentSeparator() const override {
    return separator;
  }
  std::string describe() const override { return "pairs.json"; }
  std::optional<int32_t> separator = 2000;
};

TEST_F(StreamTest, PrimitivesAndTextRenderThroughTheTokenizer) {
  PairTokenizer pairs;
  auto stream =
      openDataSpec("primitives:var-assign-math:0-1:answers", 9, 4096, &pairs);
  ASSERT_TRUE(stream.isOk()) << stream.status().message();
  const int64_t seq = 400;
  std::vector<int32_t> tokens(seq), targets(seq);
  (*stream)->nextBatch(1, seq, tokens.data(), targets.data());
  // The byte stream's examples, each character as its pair, EOS = 2000.
  auto bytes = primitiveStream(Primitive::VarAssignMath, 0, 1, 9, true);
  std::vector<int32_t> byteTokens(seq / 2), byteTargets(seq / 2);
  (*bytes)->nextBatch(1, seq / 2, byteTokens.data(), byteTargets.data());
  // The first example, each character as its pair, then the separator.
  for (int64_t i = 0; i < seq / 2; ++i) {
    if (byteTokens[i] == ByteTokenizer::kEos) {
      EXPECT_EQ(tokens[2 * i], 2000) << i;
      break;
    }
    EXPECT_EQ(tokens[2 * i], 1000 + byteTokens[i]) << i;
    EXPECT_EQ(tokens[2 * i + 1], 1) << i;
  }
  // :answers scores both tokens of each answer (a digit's pair), then
  // nothing until the next answer.
  int answers = 0;
  for (int64_t i = 0; i + 3 < seq; ++i) {
    if (targets[i] == -100 || targets[i] == 1)
      continue;
    ++answers;
    EXPECT_GE(targets[i], 1000 + '0');
    EXPECT_LE(targets[i], 1000 + '9');
    EXPECT_EQ(targets[i + 1], 1);    // the answer's second token
    EXPECT_EQ(targets[i + 2], -100); // the separator after it
    EXPECT_EQ(tokens[i + 3], 2000);
  }
  EXPECT_GT(answers, 2);
  // An eval prompt: each example after the separator, the shots with
  // their answers, the query without; the answer is its two tokens.
  Rng rng(3);
  auto examples = generatePromptExamples(Primitive::InductionCopy, 0, 2, rng);
  ASSERT_TRUE(examples.isOk());
  auto prompt = encodePrompt(pairs, *examples);
  ASSERT_TRUE(prompt.isOk());
  std::vector<int32_t> expected;
  for (size_t i = 0; i < examples->size(); ++i) {
    expected.push_back(2000);
    std::string text = (*examples)[i].prompt;
    if (i + 1 < examples->size())
      text += (*examples)[i].answer;
    std::vector<int32_t> ids = *pairs.encode(text);
    expected.insert(expected.end(), ids.begin(), ids.end());
  }
  EXPECT_EQ(prompt->prompt, expected);
  EXPECT_EQ(prompt->answer, *pairs.encode(examples->back().answer));
  // A text file is one document after the separator.
  auto text = openDataSpec("text:" + write("t.txt", "ab"), 0, 2001, &pairs);
  ASSERT_TRUE(text.isOk()) << text.status().message();
  EXPECT_EQ(tokensAt(**text, 0, 5),
            (std::vector<int32_t>{2000, 1097, 1, 1098, 1}));
  expectError(openDataSpec("text:" + write("d.jsonl", "{\"text\": \"a\"}\n"), 0,
                           2001, &pairs),
              "d.jsonl: text: reads a file as one document; tokenize JSON "
              "lines with growc-run tokenize");
  // A tokenizer larger than the model, or without a separator: refused.
  expectError(openDataSpec("primitives:induction-copy", 0, 2000, &pairs),
              "--tokenizer pairs.json has 2001 ids, more than the model's "
              "vocabulary of 2000");
  expectError(openDataSpec("tokens:x.bin", 0, 2000, &pairs),
              "more than the model's vocabulary of 2000");
  pairs.separator.reset();
  expectError(openDataSpec("primitives:induction-copy", 0, 2001, &pairs),
              "--tokenizer pairs.json has no document separator");
}

TEST_F(StreamTest, MixedStreamInterleavesRowsAndResumes) {
  std::string text = write("t.txt", "the quick brown fox jumps over it");
  std::string spec =
      "mix:text:" + text + ",primitives:var-assign-math:0-1:answers";
  auto mixed = openDataSpec(spec, 4, ByteTokenizer::kVocabSize);
  ASSERT_TRUE(mixed.isOk()) << mixed.status().message();
  // The parts on their own, with the seeds the mix gives them (seed + k).
  auto textPart = openTextFile(text);
  auto primPart = primitiveStream(Primitive::VarAssignMath, 0, 1, 5, true);
  ASSERT_TRUE(textPart.isOk() && primPart.isOk());
  const int64_t seq = 9;
  std::vector<int32_t> tokens(5 * seq), targets(5 * seq);
  (*mixed)->nextBatch(3, seq, tokens.data(), targets.data());
  (*mixed)->nextBatch(2, seq, tokens.data() + 3 * seq,
                      targets.data() + 3 * seq);
  // Rows alternate: text, primitives, text, primitives, text.
  for (int64_t row = 0; row < 5; ++row) {
    std::vector<int32_t> t(seq), y(seq);
    (row % 2 ? *primPart : *textPart)->nextBatch(1, seq, t.data(), y.data());
    EXPECT_EQ(std::vector<int32_t>(tokens.begin() + row * seq,
                                   tokens.begin() + (row + 1) * seq),
              t)
        << "row " << row;
    EXPECT_EQ(std::vector<int32_t>(targets.begin() + row * seq,
                                   targets.begin() + (row + 1) * seq),
              y)
        << "row " << row;
  }
  // position() counts rows; a fresh stream seeked there continues exactly.
  EXPECT_EQ((*mixed)->position(), 5u);
  std::vector<int32_t> next(2 * seq), nextY(2 * seq);
  (*mixed)->nextBatch(2, seq, next.data(), nextY.data());
  auto resumed = openDataSpec(spec, 4, ByteTokenizer::kVocabSize);
  ASSERT_TRUE(resumed.isOk());
  (*resumed)->seek(5);
  std::vector<int32_t> again(2 * seq), againY(2 * seq);
  (*resumed)->nextBatch(2, seq, again.data(), againY.data());
  EXPECT_EQ(next, again);
  EXPECT_EQ(nextY, againY);
  // Malformed specs are errors, not crashes.
  EXPECT_FALSE(openDataSpec("mix:", 0, 259).isOk());
  EXPECT_FALSE(openDataSpec("mix:text:" + text + ",", 0, 259).isOk());
  EXPECT_FALSE(openDataSpec("mix:mix:text:" + text, 0, 259).isOk());
  EXPECT_FALSE(openDataSpec("mix:primitives:sorting", 0, 259).isOk());
  EXPECT_FALSE(openDataSpec("csv:x", 0, 259).isOk());
  EXPECT_FALSE(mixedStream({}).isOk());
}

TEST(ScheduleTest, WarmupStableDecay) {
  // 100 steps, 10 warm-up, decay over the last 20 (steps 80..99).
  EXPECT_DOUBLE_EQ(wsdLearningRate(0, 100, 10, 1.0), 0.1);
  EXPECT_DOUBLE_EQ(wsdLearningRate(9, 100, 10, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(wsdLearningRate(50, 100, 10, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(wsdLearningRate(79, 100, 10, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(wsdLearningRate(80, 100, 10, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(wsdLearningRate(90, 100, 10, 1.0), 0.5);
  EXPECT_DOUBLE_EQ(wsdLearningRate(100, 100, 10, 1.0, 0.2, 0.1), 0.1);
  for (int64_t s = 81; s < 100; ++s)
    EXPECT_LT(wsdLearningRate(s, 100, 10, 1.0),
              wsdLearningRate(s - 1, 100, 10, 1.0));
}

} // namespace
