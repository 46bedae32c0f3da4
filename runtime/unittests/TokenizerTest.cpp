//===- TokenizerTest.cpp - Hugging Face byte-level BPE (BpeTokenizer.cpp) -===//
//
// Small hand-written tokenizer.json files whose ids can be worked out by
// hand: merge order, pre-tokenization, added tokens and their flags, the
// decoder, and the files that must be refused. The comparison with an
// independent implementation on trained tokenizers is
// test/Tokenizer/compare-js.test.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Tokenizer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace growc::rt;

namespace {

/// GPT-2's byte -> character table: ids 0..255 of the test vocabularies.
std::string byteChar(int b) {
  static std::vector<std::string> table = [] {
    std::vector<std::string> chars(256);
    int next = 256;
    for (int c = 0; c < 256; ++c) {
      bool printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) ||
                       (c >= 0xAE && c <= 0xFF);
      int code = printable ? c : next++;
      std::string s;
      if (code < 0x80) {
        s.push_back(char(code));
      } else {
        s.push_back(char(0xC0 | (code >> 6)));
        s.push_back(char(0x80 | (code & 0x3F)));
      }
      chars[c] = s;
    }
    return chars;
  }();
  return table[b];
}

std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

struct Spec {
  /// Merges as "a b" strings (tokens in vocabulary spelling); each adds
  /// a+b to the vocabulary after the 256 byte tokens, in order.
  std::vector<std::string> merges;
  bool mergesAsPairs = false;
  std::string preTokenizer =
      R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})";
  std::string addedTokens = "[]";
  std::string normalizer = "null";
};

std::string tokenizerJson(const Spec &spec) {
  std::string vocab;
  int id = 0;
  for (; id < 256; ++id)
    vocab +=
        (id ? ", " : "") + jsonString(byteChar(id)) + ": " + std::to_string(id);
  std::string merges;
  for (const std::string &merge : spec.merges) {
    size_t space = merge.find(' ');
    std::string a = merge.substr(0, space), b = merge.substr(space + 1);
    vocab += ", " + jsonString(a + b) + ": " + std::to_string(id++);
    if (!merges.empty())
      merges += ", ";
    merges += spec.mergesAsPairs
                  ? "[" + jsonString(a) + ", " + jsonString(b) + "]"
                  : jsonString(merge);
  }
  return R"({"version": "1.0", "added_tokens": )" + spec.addedTokens +
         R"(, "normalizer": )" + spec.normalizer + R"(, "pre_tokenizer": )" +
         spec.preTokenizer +
         R"(, "post_processor": null, "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "dropout": null, "unk_token": null,
    "continuing_subword_prefix": null, "end_of_word_suffix": null,
    "fuse_unk": false, "byte_fallback": false, "vocab": {)" +
         vocab + R"(}, "merges": [)" + merges + "]}}";
}

class TokenizerTest : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/growc-tokenizer-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir = pattern;
  }
  void TearDown() override {
    for (const std::string &file : files)
      std::remove(file.c_str());
    rmdir(dir.c_str());
  }
  std::string write(const std::string &text,
                    const std::string &name = "tokenizer.json") {
    std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    files.push_back(path);
    return path;
  }
  std::unique_ptr<Tokenizer> load(const Spec &spec) {
    auto tokenizer = loadTokenizer(write(tokenizerJson(spec)));
    EXPECT_TRUE(tokenizer.isOk()) << tokenizer.status().message();
    return tokenizer.isOk() ? std::move(*tokenizer) : nullptr;
  }
  std::string loadError(const std::string &json) {
    auto tokenizer = loadTokenizer(write(json));
    EXPECT_FALSE(tokenizer.isOk());
    return tokenizer.isOk() ? "" : tokenizer.status().message();
  }
  static std::vector<int32_t> ids(const Tokenizer &t, std::string_view text) {
    auto encoded = t.encode(text);
    EXPECT_TRUE(encoded.isOk()) << encoded.status().message();
    return encoded.isOk() ? *encoded : std::vector<int32_t>{};
  }
  std::string dir;
  std::vector<std::string> files;
};

using Ids = std::vector<int32_t>;

TEST_F(TokenizerTest, MergesLowestRankFirstAndLeftmostOnTies) {
  // 256: "ab", 257: "bc", 258: "abc" (from ab + c).
  Spec spec;
  spec.merges = {"a b", "b c", "ab c"};
  auto t = load(spec);
  ASSERT_TRUE(t);
  EXPECT_EQ(ids(*t, "abc"), (Ids{258}));
  // "bca": bc (rank 1) first, then nothing joins bc and a.
  EXPECT_EQ(ids(*t, "bca"), (Ids{257, 'a'}));
  // "abab": both "a b" pairs merge, the left one first.
  EXPECT_EQ(ids(*t, "abab"), (Ids{256, 256}));
  EXPECT_EQ(t->vocabSize(), 259);
  // Pairs spell the same merges as "a b" strings (tokenizers >= 0.20).
  spec.mergesAsPairs = true;
  auto pairs = load(spec);
  ASSERT_TRUE(pairs);
  EXPECT_EQ(ids(*pairs, "abc abab"), ids(*t, "abc abab"));
}

TEST_F(TokenizerTest, ByteLevelRegexSplitsWordsBeforeMerging) {
  // "e Ġ" would join across the space if the GPT-2 pattern did not split
  // "he said" into "he", " said"; "Ġ s" joins the space to the next word.
  Spec spec;
  spec.merges = {"e " + byteChar(' '), byteChar(' ') + " s"};
  auto t = load(spec);
  ASSERT_TRUE(t);
  int32_t spaceS = 257;
  EXPECT_EQ(ids(*t, "he said"), (Ids{'h', 'e', spaceS, 'a', 'i', 'd'}));
  // Contractions are their own pre-tokens; a run of spaces before a word
  // leaves its last space to the word (\s+(?!\S)).
  EXPECT_EQ(ids(*t, "it's   s"), (Ids{'i', 't', '\'', 's', ' ', ' ', spaceS}));
  // Bytes outside ASCII are byte tokens: "é" is C3 A9.
  EXPECT_EQ(ids(*t, "\xC3\xA9"), (Ids{0xC3, 0xA9}));
  EXPECT_EQ(ids(*t, ""), Ids{});
}

TEST_F(TokenizerTest, AddPrefixSpaceAndUseRegex) {
  Spec spec;
  spec.merges = {byteChar(' ') + " s"};
  spec.preTokenizer =
      R"({"type": "ByteLevel", "add_prefix_space": true, "use_regex": false})";
  auto t = load(spec);
  ASSERT_TRUE(t);
  // One pre-token (no regex) with a space in front.
  EXPECT_EQ(ids(*t, "s s"), (Ids{256, 256}));
  EXPECT_EQ(ids(*t, " s"), (Ids{256}));
}

TEST_F(TokenizerTest, DigitsSplitEachDigitOrRuns) {
  Spec spec;
  spec.merges = {"1 2"};
  spec.preTokenizer = R"({"type": "Sequence", "pretokenizers": [
      {"type": "Digits", "individual_digits": true},
      {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}]})";
  auto individual = load(spec);
  ASSERT_TRUE(individual);
  EXPECT_EQ(ids(*individual, "x12"), (Ids{'x', '1', '2'}));
  spec.preTokenizer = R"({"type": "Sequence", "pretokenizers": [
      {"type": "Digits", "individual_digits": false},
      {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}]})";
  auto runs = load(spec);
  ASSERT_TRUE(runs);
  EXPECT_EQ(ids(*runs, "x12"), (Ids{'x', 256}));
}

TEST_F(TokenizerTest, SplitRegexBehaviors) {
  Spec spec;
  spec.merges = {"a -", "- b"};
  auto withSplit = [&](const std::string &behavior, bool invert = false) {
    spec.preTokenizer =
        R"({"type": "Sequence", "pretokenizers": [{"type": "Split",
        "pattern": {"Regex": "-"}, "behavior": ")" +
        behavior + R"(", "invert": )" + (invert ? "true" : "false") +
        R"(}, {"type": "ByteLevel", "add_prefix_space": false,
        "use_regex": false}]})";
    auto t = load(spec);
    return t ? ids(*t, "a-b") : Ids{};
  };
  EXPECT_EQ(withSplit("Isolated"), (Ids{'a', '-', 'b'}));
  EXPECT_EQ(withSplit("Removed"), (Ids{'a', 'b'}));
  EXPECT_EQ(withSplit("MergedWithPrevious"), (Ids{256, 'b'}));
  EXPECT_EQ(withSplit("MergedWithNext"), (Ids{'a', 257}));
  // Inverted: the non-matches are the delimiters, "-" one piece.
  EXPECT_EQ(withSplit("MergedWithPrevious", true), (Ids{'a', 257}));
}

TEST_F(TokenizerTest, AddedTokensAreCutOutFirstLongestMatch) {
  Spec spec;
  spec.merges = {"< |"};
  spec.addedTokens = R"([
    {"id": 257, "content": "<|endoftext|>", "single_word": false,
     "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 258, "content": "<|end", "single_word": false, "lstrip": false,
     "rstrip": false, "normalized": false, "special": true},
    {"id": 259, "content": "<|im_start|>", "single_word": false,
     "lstrip": false, "rstrip": true, "normalized": false, "special": true},
    {"id": 260, "content": "word", "single_word": true, "lstrip": true,
     "rstrip": false, "normalized": true, "special": false}])";
  auto t = load(spec);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->vocabSize(), 261);
  EXPECT_EQ(t->documentSeparator(), std::optional<int32_t>(257));
  EXPECT_EQ(t->tokenId("<|im_start|>"), std::optional<int32_t>(259));
  EXPECT_EQ(ids(*t, "a<|endoftext|>b<|end"), (Ids{'a', 257, 'b', 258}));
  // rstrip swallows the spaces after the token.
  EXPECT_EQ(ids(*t, "<|im_start|>  x"), (Ids{259, 'x'}));
  // single_word: not inside "swords"; lstrip takes the space before it.
  EXPECT_EQ(ids(*t, "a word"), (Ids{'a', 260}));
  EXPECT_EQ(ids(*t, "swords"), (Ids{'s', 'w', 'o', 'r', 'd', 's'}));
  // Decoding drops special tokens and keeps added ones as their text.
  auto text = t->decode({'a', 257, 'b', 260, 256});
  ASSERT_TRUE(text.isOk()) << text.status().message();
  EXPECT_EQ(*text, "abword<|");
  EXPECT_FALSE(t->decode({261}).isOk());
  EXPECT_FALSE(t->decode({-1}).isOk());
}

TEST_F(TokenizerTest, DecodeInvertsEncode) {
  Spec spec;
  spec.merges = {"h e", byteChar(' ') + " w"};
  auto t = load(spec);
  ASSERT_TRUE(t);
  for (std::string text : {"he went\n\n\twest  ", "caf\xC3\xA9 \xE6\x97\xA5",
                           "\xF0\x9F\x99\x82 ok", ""}) {
    auto encoded = t->encode(text);
    ASSERT_TRUE(encoded.isOk());
    auto decoded = t->decode(*encoded);
    ASSERT_TRUE(decoded.isOk());
    EXPECT_EQ(*decoded, text);
  }
  // Half a character decodes to U+FFFD, as Rust's from_utf8_lossy.
  auto half = t->decode({0xC3});
  ASSERT_TRUE(half.isOk());
  EXPECT_EQ(*half, "\xEF\xBF\xBD");
  EXPECT_FALSE(t->encode("bad \xC3(").isOk());
}

TEST_F(TokenizerTest, DirectoryAndConfigSeparator) {
  Spec spec;
  spec.addedTokens = R"([{"id": 256, "content": "</s>", "special": true,
    "normalized": false}])";
  write(tokenizerJson(spec));
  write(R"({"eos_token": {"content": "</s>"}})", "tokenizer_config.json");
  auto t = loadTokenizer(dir);
  ASSERT_TRUE(t.isOk()) << t.status().message();
  EXPECT_EQ((*t)->documentSeparator(), std::optional<int32_t>(256));
  EXPECT_EQ((*t)->describe(), dir + "/tokenizer.json");
}

TEST_F(TokenizerTest, RefusesWhatItDoesNotReproduce) {
  Spec spec;
  spec.normalizer = R"({"type": "NFC"})";
  EXPECT_NE(loadError(tokenizerJson(spec)).find("normalizer"),
            std::string::npos);
  std::string dropout = tokenizerJson(Spec());
  dropout.replace(dropout.find("\"dropout\": null"), 15, "\"dropout\": 0.1");
  EXPECT_NE(loadError(dropout).find("dropout"), std::string::npos);
  spec = Spec();
  spec.preTokenizer = R"({"type": "Whitespace"})";
  EXPECT_NE(loadError(tokenizerJson(spec)).find("'Whitespace'"),
            std::string::npos);
  spec = Spec();
  spec.preTokenizer = R"({"type": "Digits", "individual_digits": true})";
  EXPECT_NE(loadError(tokenizerJson(spec)).find("ByteLevel"),
            std::string::npos);
  spec = Spec();
  spec.addedTokens = R"([{"id": 300, "content": "<x>", "special": true}])";
  EXPECT_NE(loadError(tokenizerJson(spec)).find("gives it 256"),
            std::string::npos);

  std::string json = tokenizerJson(Spec());
  std::string wordPiece = json;
  wordPiece.replace(wordPiece.find("\"BPE\""), 5, "\"WordPiece\"");
  EXPECT_NE(loadError(wordPiece).find("WordPiece"), std::string::npos);
  std::string badMerge = json;
  badMerge.replace(badMerge.find("\"merges\": []"), 12,
                   "\"merges\": [\"a zz\"]");
  EXPECT_NE(loadError(badMerge).find("'zz'"), std::string::npos);
  EXPECT_NE(loadError(json.substr(0, json.size() / 2)).find("tokenizer.json"),
            std::string::npos);
  EXPECT_NE(loadError(std::string(100000, '[')).find("nest"),
            std::string::npos);
  std::string badId = json;
  badId.replace(badId.find(": 0,"), 4, ": -5,");
  EXPECT_NE(loadError(badId).find("-5"), std::string::npos);
  auto missing = loadTokenizer(dir + "/none.json");
  ASSERT_FALSE(missing.isOk());
  EXPECT_NE(missing.status().message().find("none.json"), std::string::npos);
}

} // namespace
