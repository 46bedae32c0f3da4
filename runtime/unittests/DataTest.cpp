//===- DataTest.cpp - Tests for tokenizer, generators and streams ---------===//
//
// The primitives are checked by solving them independently (parsing the
// prompt and following the assignments / finding the copied span), the
// generator against SplitMix64's published reference values, the streams
// by their shift-by-one invariant, wrap-around, seek/position round trips
// and malformed files, and the schedule at its corners.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Data.h"

#include <gtest/gtest.h>

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

TEST_F(StreamTest, TokenFileWindowsWrapAndSeek) {
  std::string bytes;
  for (uint16_t t = 0; t < 10; ++t)
    bytes += std::string{char(t * 3), char(0)}; // tokens 0, 3, ..., 27
  auto stream = openTokenFile(write("t.bin", bytes), TokenFileDType::U16, 30);
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
  auto expectError = [&](StatusOr<std::unique_ptr<TokenStream>> s,
                         const std::string &part) {
    ASSERT_FALSE(s.isOk());
    EXPECT_NE(s.status().message().find(part), std::string::npos)
        << s.status().message();
  };
  expectError(openTokenFile(write("e.bin", ""), TokenFileDType::U16, 10),
              "empty token file");
  expectError(openTokenFile(write("r.bin", "abc"), TokenFileDType::U16, 1000),
              "not a whole number of uint16 tokens");
  expectError(
      openTokenFile(write("v.bin", std::string("\x05\0\0\0\x0b\0\0\0", 8)),
                    TokenFileDType::U32, 10),
      "token 11 at index 1 is outside the vocabulary [0, 10)");
  expectError(openTokenFile(dir + "/missing.bin", TokenFileDType::U16, 10),
              "cannot open");
  expectError(openTextFile(write("one.txt", "x")), "at least 2 bytes");
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
