//===- BpeTokenizer.cpp - Hugging Face byte-level BPE from tokenizer.json -===//
//
// loadTokenizer(): the GPT-2 / SmolLM / Llama-3 family of Hugging Face
// `tokenizer.json` files, reproducing what the Rust `tokenizers` library
// computes for `encode(text, add_special_tokens=False)` and `decode(ids,
// skip_special_tokens=True)`:
//
//  1. added tokens are cut out of the text first (non-normalized ones, then
//     normalized ones in the remaining pieces), leftmost-longest like its
//     Aho-Corasick automaton, honouring single_word, lstrip and rstrip;
//  2. every other piece goes through the pre-tokenizers (Split, Digits,
//     ByteLevel, or a Sequence of them, ByteLevel last) with the same regex
//     engine as the Rust library, Oniguruma, so that \p{L}, \p{N}, \s and
//     the lookahead of the GPT-2 pattern mean the same;
//  3. each pre-token is encoded by BPE over its bytes (ByteLevel maps each
//     byte to one vocabulary character), merging the lowest-ranked pair
//     first and the leftmost of equal ranks, with the same queue and stale
//     entry rule as the Rust `Word::merge_all`; results are cached per word.
//
// Anything else a tokenizer.json can say that would change the ids
// (normalizers, other models, dropout, byte fallback, subword affixes) is
// refused with a message naming the field rather than approximated.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Tokenizer.h"

#include "growc/runtime/Json.h"
#include "growc/runtime/Text.h"

#include <oniguruma.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <mutex>
#include <queue>
#include <sstream>
#include <sys/stat.h>
#include <unordered_map>
#include <unordered_set>

using namespace growc::rt;

namespace {

//===----------------------------------------------------------------------===//
// Oniguruma
//===----------------------------------------------------------------------===//

/// A compiled Oniguruma pattern (UTF-8, the library's default syntax: what
/// the Rust `onig` crate compiles tokenizer.json patterns with).
class Regex {
public:
  static StatusOr<std::unique_ptr<Regex>> compile(std::string_view pattern) {
    static std::once_flag initialized;
    std::call_once(initialized, [] {
      OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
      onig_initialize(encodings, 1);
    });
    regex_t *compiled = nullptr;
    OnigErrorInfo info;
    const auto *begin = reinterpret_cast<const OnigUChar *>(pattern.data());
    int rc =
        onig_new(&compiled, begin, begin + pattern.size(), ONIG_OPTION_NONE,
                 ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &info);
    if (rc != ONIG_NORMAL) {
      OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
      onig_error_code_to_str(message, rc, &info);
      return Status::error("bad regex " + inQuotes(pattern) + ": " +
                           reinterpret_cast<const char *>(message));
    }
    return std::unique_ptr<Regex>(new Regex(compiled));
  }
  ~Regex() { onig_free(regex); }
  Regex(const Regex &) = delete;
  Regex &operator=(const Regex &) = delete;

  /// Calls `match(begin, end)` for each match in `text`, as the onig
  /// crate's find_iter: an empty match right where the previous match ended
  /// is skipped by advancing one character.
  template <typename F> Status forEachMatch(std::string_view text, F match) {
    // One region per thread, reused: `match` may search again (a nested
    // pre-tokenizer), which is fine since this loop keeps only offsets.
    thread_local std::unique_ptr<OnigRegion, void (*)(OnigRegion *)> region(
        onig_region_new(), [](OnigRegion *r) { onig_region_free(r, 1); });
    const auto *base = reinterpret_cast<const OnigUChar *>(text.data());
    const OnigUChar *end = base + text.size();
    size_t from = 0;
    std::optional<size_t> lastEnd;
    while (from <= text.size()) {
      int rc = onig_search(regex, base, end, base + from, end, region.get(),
                           ONIG_OPTION_NONE);
      if (rc == ONIG_MISMATCH)
        break;
      if (rc < 0) {
        OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(message, rc);
        // In practice the backtracking limit (10^7 steps per search), on
        // megabytes of whitespace without a newline under Llama 3's
        // pattern; the Rust library runs the same engine under the same
        // limit.
        return Status::error("pre-tokenizer regex search failed " +
                             std::to_string(from) + " bytes into a piece of " +
                             std::to_string(text.size()) + ": " +
                             reinterpret_cast<const char *>(message) +
                             (rc == ONIGERR_RETRY_LIMIT_IN_MATCH_OVER
                                  ? " (Oniguruma's backtracking limit)"
                                  : ""));
      }
      size_t begin = region->beg[0], stop = region->end[0];
      if (begin == stop && lastEnd && *lastEnd == stop) {
        from += std::max<size_t>(1, utf8Length(text, from));
        continue;
      }
      from = stop;
      lastEnd = stop;
      match(begin, stop);
    }
    return Status::ok();
  }

  /// True if the whole of `text` matches.
  bool matchesWhole(std::string_view text) const {
    const auto *base = reinterpret_cast<const OnigUChar *>(text.data());
    int rc = onig_match(regex, base, base + text.size(), base, nullptr,
                        ONIG_OPTION_NONE);
    return rc >= 0 && static_cast<size_t>(rc) == text.size();
  }

  /// The byte length of the UTF-8 character at `at` (1 past the end).
  static size_t utf8Length(std::string_view text, size_t at) {
    if (at >= text.size())
      return 1;
    auto lead = static_cast<unsigned char>(text[at]);
    size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    return std::min(length, text.size() - at);
  }

private:
  explicit Regex(regex_t *compiled) : regex(compiled) {}
  regex_t *regex;
};

/// The length of the UTF-8 sequence that starts `bytes` if it is valid
/// (overlongs, surrogates and code points past U+10FFFF are not), else 0
/// with `invalid` set to the length of its maximal invalid subpart (the
/// lead byte and the continuation bytes that could still have completed
/// it: what Rust's from_utf8_lossy replaces by one U+FFFD).
size_t validSequence(std::string_view bytes, size_t &invalid) {
  const auto *s = reinterpret_cast<const unsigned char *>(bytes.data());
  unsigned char c = s[0];
  if (c < 0x80)
    return 1;
  size_t length = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    lo = c == 0xE0 ? 0xA0 : 0x80;
    hi = c == 0xED ? 0x9F : 0xBF;
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    lo = c == 0xF0 ? 0x90 : 0x80;
    hi = c == 0xF4 ? 0x8F : 0xBF;
  }
  invalid = 1;
  for (size_t k = 1; k < length; ++k) {
    if (k >= bytes.size() || s[k] < (k == 1 ? lo : 0x80) ||
        s[k] > (k == 1 ? hi : 0xBF))
      return 0;
    invalid = k + 1;
  }
  return length;
}

/// The byte offset of the first invalid UTF-8 sequence of `text`, if any.
std::optional<size_t> findInvalidUtf8(std::string_view text) {
  size_t invalid;
  for (size_t i = 0; i < text.size();) {
    size_t length = validSequence(text.substr(i), invalid);
    if (!length)
      return i;
    i += length;
  }
  return std::nullopt;
}

/// `bytes` as Rust's String::from_utf8_lossy.
std::string utf8Lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t invalid;
  while (!bytes.empty()) {
    size_t length = validSequence(bytes, invalid);
    if (length) {
      out.append(bytes.substr(0, length));
      bytes.remove_prefix(length);
    } else {
      out.append("\xEF\xBF\xBD");
      bytes.remove_prefix(invalid);
    }
  }
  return out;
}

void appendUtf8(std::string &out, uint32_t codePoint) {
  if (codePoint < 0x80) {
    out.push_back(static_cast<char>(codePoint));
  } else if (codePoint < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (codePoint >> 6)));
    out.push_back(static_cast<char>(0x80 | (codePoint & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (codePoint >> 12)));
    out.push_back(static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (codePoint & 0x3F)));
  }
}

/// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves,
/// the others for U+0100 onwards, each as its UTF-8 string.
std::array<std::string, 256> byteCharacters() {
  std::array<std::string, 256> chars;
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                     (b >= 0xAE && b <= 0xFF);
    appendUtf8(chars[b], printable ? b : next++);
  }
  return chars;
}

//===----------------------------------------------------------------------===//
// Pre-tokenization
//===----------------------------------------------------------------------===//

/// What becomes of the matches of a split pattern (the Rust
/// SplitDelimiterBehavior).
enum class Behavior {
  Removed,
  Isolated,
  MergedWithPrevious,
  MergedWithNext,
  Contiguous
};

struct Span {
  size_t begin, end;
};

/// One pre-tokenizer step. ByteLevel (the GPT-2 regex, if use_regex, after
/// an optional prefix space) is always the last; the steps before it split
/// by a regex or a literal.
struct PreTokenizer {
  bool byteLevel = false;
  bool addPrefixSpace = false;
  std::shared_ptr<Regex> regex; // null: `literal` (or ByteLevel without it)
  std::string literal;
  Behavior behavior = Behavior::Isolated;
  bool invert = false;
};

/// The pieces of `text` as a Rust `NormalizedString::split(pattern,
/// behavior)` cuts them; empty pieces dropped as PreTokenizedString does.
Status splitPieces(std::string_view text, const PreTokenizer &step,
                   std::vector<Span> &pieces) {
  // (span, is it a match) covering `text`, as Pattern::find_matches.
  std::vector<std::pair<Span, bool>> marks;
  if (text.empty()) {
    marks.push_back({{0, 0}, false});
  } else {
    size_t previous = 0;
    auto onMatch = [&](size_t begin, size_t end) {
      if (previous != begin)
        marks.push_back({{previous, begin}, false});
      marks.push_back({{begin, end}, true});
      previous = end;
    };
    if (step.regex) {
      if (Status s = step.regex->forEachMatch(text, onMatch); !s.isOk())
        return s;
    } else if (!step.literal.empty()) {
      for (size_t at = text.find(step.literal); at != std::string_view::npos;
           at = text.find(step.literal, at + step.literal.size()))
        onMatch(at, at + step.literal.size());
    }
    if (previous != text.size())
      marks.push_back({{previous, text.size()}, false});
  }
  if (step.invert)
    for (auto &mark : marks)
      mark.second = !mark.second;

  std::vector<Span> spans;
  bool previousMatch = false;
  switch (step.behavior) {
  case Behavior::Removed:
    for (auto &[span, isMatch] : marks)
      if (!isMatch)
        spans.push_back(span);
    break;
  case Behavior::Isolated:
    for (auto &mark : marks)
      spans.push_back(mark.first);
    break;
  case Behavior::MergedWithPrevious:
    for (auto &[span, isMatch] : marks) {
      if (isMatch && !previousMatch && !spans.empty())
        spans.back().end = span.end;
      else
        spans.push_back(span);
      previousMatch = isMatch;
    }
    break;
  case Behavior::MergedWithNext:
    for (auto it = marks.rbegin(); it != marks.rend(); ++it) {
      if (it->second && !previousMatch && !spans.empty())
        spans.back().begin = it->first.begin;
      else
        spans.push_back(it->first);
      previousMatch = it->second;
    }
    std::reverse(spans.begin(), spans.end());
    break;
  case Behavior::Contiguous:
    for (auto &[span, isMatch] : marks) {
      if (isMatch == previousMatch && !spans.empty())
        spans.back().end = span.end;
      else
        spans.push_back(span);
      previousMatch = isMatch;
    }
    break;
  }
  for (Span span : spans)
    if (span.end > span.begin)
      pieces.push_back(span);
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Added tokens
//===----------------------------------------------------------------------===//

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;
  bool singleWord = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
};

/// Leftmost-longest matching of a set of strings (what the Rust library's
/// Aho-Corasick automaton with MatchKind::LeftmostLongest finds), as a
/// byte trie: added tokens are few and short, and a first-byte table makes
/// the scan over text without them one lookup per byte.
class TokenTrie {
public:
  void add(std::string_view word, int index) {
    int node = 0;
    for (unsigned char c : word) {
      auto it = nodes[node].next.find(c);
      if (it == nodes[node].next.end()) {
        nodes.push_back({});
        it = nodes[node].next.emplace(c, int(nodes.size() - 1)).first;
      }
      node = it->second;
    }
    nodes[node].token = index;
    first[static_cast<unsigned char>(word[0])] = true;
  }

  /// The next match at or after `from`: (begin, end, token index).
  std::optional<std::array<size_t, 3>> find(std::string_view text,
                                            size_t from) const {
    for (size_t i = from; i < text.size(); ++i) {
      if (!first[static_cast<unsigned char>(text[i])])
        continue;
      int node = 0, best = -1;
      size_t bestEnd = 0;
      for (size_t j = i; j < text.size(); ++j) {
        auto it = nodes[node].next.find(static_cast<unsigned char>(text[j]));
        if (it == nodes[node].next.end())
          break;
        node = it->second;
        if (nodes[node].token >= 0)
          best = nodes[node].token, bestEnd = j + 1;
      }
      if (best >= 0)
        return std::array<size_t, 3>{i, bestEnd, size_t(best)};
    }
    return std::nullopt;
  }

private:
  struct Node {
    std::unordered_map<unsigned char, int> next;
    int token = -1;
  };
  std::vector<Node> nodes{Node{}};
  std::array<bool, 256> first{};
};

//===----------------------------------------------------------------------===//
// The tokenizer
//===----------------------------------------------------------------------===//

struct Merge {
  uint32_t rank;
  int32_t newId;
};

class BpeTokenizer final : public Tokenizer {
public:
  StatusOr<std::vector<int32_t>> encode(std::string_view text) const override;
  StatusOr<std::string> decode(const std::vector<int32_t> &ids) const override;
  int64_t vocabSize() const override { return int64_t(idToToken.size()); }
  std::optional<int32_t> documentSeparator() const override {
    return separator;
  }
  std::string describe() const override { return path; }
  std::optional<int32_t> tokenId(std::string_view token) const override {
    auto added = addedIds.find(std::string(token));
    if (added != addedIds.end())
      return added->second;
    auto it = vocab.find(std::string(token));
    if (it == vocab.end())
      return std::nullopt;
    return it->second;
  }

  Status load(const JsonValue &root);

  std::string path;
  std::optional<int32_t> separator;

private:
  Status loadModel(const JsonValue &model);
  Status loadPreTokenizer(const JsonValue &value, const std::string &where);
  Status loadAddedTokens(const JsonValue &list);

  /// Cuts the added tokens of `trie` out of `text`: pieces of text (id -1)
  /// and added tokens, as AddedVocabulary::find_matches.
  void splitAdded(std::string_view text, const TokenTrie &trie,
                  std::vector<std::pair<Span, int32_t>> &out) const;
  Status preTokenize(std::string_view piece, size_t step,
                     std::vector<int32_t> &ids) const;
  void encodeWord(std::string_view word, std::vector<int32_t> &ids) const;
  void mergeWord(std::string_view word, std::vector<int32_t> &ids) const;

  std::unordered_map<std::string, int32_t> vocab;
  size_t vocabEntries = 0;
  std::vector<std::optional<std::string>> idToToken;
  std::array<int32_t, 256> byteIds{};
  std::unordered_map<uint64_t, Merge> merges;
  bool ignoreMerges = false;
  std::optional<int32_t> unkId;
  bool fuseUnk = false;

  std::vector<PreTokenizer> steps;
  std::array<std::string, 256> byteChars = byteCharacters();
  std::unordered_map<std::string, uint8_t> charBytes;

  std::vector<AddedToken> added;
  std::unordered_map<std::string, int32_t> addedIds;
  std::unordered_set<int32_t> specialIds;
  TokenTrie rawTrie, normalizedTrie;
  std::unique_ptr<Regex> wordChar, whitespace;

  // BPE results per pre-token (its bytes), bounded: a shard is cleared
  // when full. Sharded by hash so that threads encoding documents in
  // parallel (growc-run tokenize) rarely wait for each other.
  struct CacheShard {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<int32_t>> words;
  };
  static constexpr size_t kCacheShards = 32;
  static constexpr size_t kCacheEntriesPerShard = 1 << 13;
  static constexpr size_t kCachedWordBytes = 256;
  mutable std::array<CacheShard, kCacheShards> cache;
};

const JsonValue *member(const JsonValue &object, std::string_view key) {
  const JsonValue *value = object.find(key);
  return value && !value->isNull() ? value : nullptr;
}

/// A boolean member (false when absent or null); anything else is an error.
Status readFlag(const JsonValue &object, std::string_view key,
                const std::string &where, bool &out) {
  const JsonValue *value = member(object, key);
  if (!value)
    return Status::ok();
  if (!value->isBool())
    return Status::error(where + "." + std::string(key) +
                         " must be true or false, not " + describeJson(*value));
  out = value->asBool();
  return Status::ok();
}

Status BpeTokenizer::load(const JsonValue &root) {
  if (!root.isObject())
    return Status::error("not a tokenizer.json: the top level is not an "
                         "object");
  if (const JsonValue *normalizer = member(root, "normalizer"))
    return Status::error(
        "normalizer " + describeJson(*normalizer) +
        " is not supported (only byte-level BPE without a normalizer, as "
        "GPT-2, SmolLM and Llama 3 use)");
  const JsonValue *model = member(root, "model");
  if (!model || !model->isObject())
    return Status::error("no \"model\" object");
  if (Status s = loadModel(*model); !s.isOk())
    return s;

  const JsonValue *pre = member(root, "pre_tokenizer");
  if (!pre)
    return Status::error("no pre_tokenizer: only byte-level BPE (a ByteLevel "
                         "pre-tokenizer) is supported");
  if (Status s = loadPreTokenizer(*pre, "pre_tokenizer"); !s.isOk())
    return s;
  if (steps.empty() || !steps.back().byteLevel)
    return Status::error("pre_tokenizer has no ByteLevel step at its end: "
                         "only byte-level BPE is supported");

  const JsonValue *decoder = member(root, "decoder");
  const JsonValue *decoderType = decoder ? decoder->find("type") : nullptr;
  if (!decoderType || decoderType->asString() != "ByteLevel")
    return Status::error("decoder " +
                         (decoder ? describeJson(*decoder) : "null") +
                         " is not supported (only ByteLevel)");
  // A post-processor only adds tokens when special tokens are asked for
  // (TemplateProcessing's BOS/EOS) or changes offsets (ByteLevel); encode()
  // is encode(add_special_tokens=False), so no post-processor changes it.

  if (const JsonValue *list = member(root, "added_tokens")) {
    if (Status s = loadAddedTokens(*list); !s.isOk())
      return s;
  }
  for (int b = 0; b < 256; ++b)
    charBytes.emplace(byteChars[b], uint8_t(b));

  auto regex = Regex::compile("\\w");
  auto space = Regex::compile("\\s");
  if (!regex.isOk() || !space.isOk())
    return Status::error("internal error: the added-token patterns");
  wordChar = std::move(*regex);
  whitespace = std::move(*space);
  return Status::ok();
}

Status BpeTokenizer::loadModel(const JsonValue &model) {
  const JsonValue *type = member(model, "type");
  if (type && (!type->isString() || type->asString() != "BPE"))
    return Status::error("model type " + describeJson(*type) +
                         " is not supported (only BPE)");
  if (const JsonValue *dropout = member(model, "dropout")) {
    if (!dropout->isNumber() || dropout->asDouble() != 0.0)
      return Status::error("model.dropout " + describeJson(*dropout) +
                           " is not supported (dropout makes encoding "
                           "random; only null)");
  }
  for (const char *affix : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const JsonValue *value = member(model, affix))
      if (!value->isString() || !value->asString().empty())
        return Status::error(std::string("model.") + affix + " " +
                             describeJson(*value) +
                             " is not supported (only null)");
  bool byteFallback = false;
  if (Status s = readFlag(model, "byte_fallback", "model", byteFallback);
      !s.isOk())
    return s;
  if (byteFallback)
    return Status::error("model.byte_fallback true is not supported (a "
                         "byte-level vocabulary never needs it)");
  if (Status s = readFlag(model, "ignore_merges", "model", ignoreMerges);
      !s.isOk())
    return s;
  if (Status s = readFlag(model, "fuse_unk", "model", fuseUnk); !s.isOk())
    return s;

  const JsonValue *vocabJson = member(model, "vocab");
  if (!vocabJson || !vocabJson->isObject())
    return Status::error("model.vocab is not an object of token -> id");
  int64_t maxId = -1;
  for (const auto &[token, idJson] : vocabJson->members()) {
    int64_t id;
    if (!idJson.getInt64(id) || id < 0 || id >= INT32_MAX)
      return Status::error("model.vocab: token " + inQuotes(token) +
                           " has id " + describeJson(idJson) +
                           ", not an integer in [0, 2^31 - 1)");
    vocab.emplace(token, int32_t(id));
    maxId = std::max(maxId, id);
  }
  vocabEntries = vocab.size();
  idToToken.assign(size_t(maxId + 1), std::nullopt);
  for (const auto &[token, id] : vocab) {
    if (idToToken[id])
      return Status::error("model.vocab gives id " + std::to_string(id) +
                           " to both " + inQuotes(*idToToken[id]) + " and " +
                           inQuotes(token));
    idToToken[id] = token;
  }
  std::array<std::string, 256> chars = byteCharacters();
  for (int b = 0; b < 256; ++b) {
    auto it = vocab.find(chars[b]);
    byteIds[b] = it == vocab.end() ? -1 : it->second;
  }
  if (const JsonValue *unk = member(model, "unk_token")) {
    auto it = vocab.find(unk->asString());
    if (!unk->isString() || it == vocab.end())
      return Status::error("model.unk_token " + describeJson(*unk) +
                           " is not a token of the vocabulary");
    unkId = it->second;
  }

  const JsonValue *mergesJson = member(model, "merges");
  if (!mergesJson || !mergesJson->isArray())
    return Status::error("model.merges is not an array");
  const auto &list = mergesJson->elements();
  if (list.size() >= UINT32_MAX)
    return Status::error("model.merges has too many entries");
  merges.reserve(list.size());
  for (size_t rank = 0; rank < list.size(); ++rank) {
    const JsonValue &entry = list[rank];
    std::string left, right;
    // "a b" (tokenizers before 0.20) or ["a", "b"] (since).
    if (entry.isString()) {
      const std::string &text = entry.asString();
      size_t space = text.find(' ');
      if (space == std::string::npos ||
          text.find(' ', space + 1) != std::string::npos)
        return Status::error("model.merges[" + std::to_string(rank) + "] " +
                             describeJson(entry) +
                             " is not two tokens separated by one space");
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else if (entry.isArray() && entry.size() == 2 &&
               entry.elements()[0].isString() &&
               entry.elements()[1].isString()) {
      left = entry.elements()[0].asString();
      right = entry.elements()[1].asString();
    } else {
      return Status::error("model.merges[" + std::to_string(rank) + "] " +
                           describeJson(entry) +
                           " is neither \"a b\" nor [\"a\", \"b\"]");
    }
    auto a = vocab.find(left), b = vocab.find(right),
         c = vocab.find(left + right);
    const std::string *missing = a == vocab.end()   ? &left
                                 : b == vocab.end() ? &right
                                                    : nullptr;
    std::string joined = left + right;
    if (!missing && c == vocab.end())
      missing = &joined;
    if (missing)
      return Status::error(
          "model.merges[" + std::to_string(rank) + "] " + describeJson(entry) +
          " names " + inQuotes(*missing) + ", which is not in the vocabulary");
    uint64_t key = (uint64_t(uint32_t(a->second)) << 32) | uint32_t(b->second);
    // A later duplicate replaces an earlier one, as the Rust HashMap does.
    merges[key] = Merge{uint32_t(rank), c->second};
  }
  return Status::ok();
}

Status BpeTokenizer::loadPreTokenizer(const JsonValue &value,
                                      const std::string &where) {
  const JsonValue *typeJson = value.isObject() ? value.find("type") : nullptr;
  if (!typeJson || !typeJson->isString())
    return Status::error(where + " " + describeJson(value) + " has no type");
  const std::string &type = typeJson->asString();
  if (!steps.empty() && steps.back().byteLevel)
    return Status::error(where + " (" + type +
                         ") comes after ByteLevel: only ByteLevel as the "
                         "last pre-tokenizer is supported");
  if (type == "Sequence") {
    const JsonValue *list = value.find("pretokenizers");
    if (!list || !list->isArray())
      return Status::error(where + ".pretokenizers is not an array");
    for (size_t i = 0; i < list->size(); ++i)
      if (Status s = loadPreTokenizer(list->elements()[i],
                                      where + ".pretokenizers[" +
                                          std::to_string(i) + "]");
          !s.isOk())
        return s;
    return Status::ok();
  }
  PreTokenizer step;
  if (type == "ByteLevel") {
    step.byteLevel = true;
    if (Status s =
            readFlag(value, "add_prefix_space", where, step.addPrefixSpace);
        !s.isOk())
      return s;
    bool useRegex = true; // the Rust default when the field is absent
    if (const JsonValue *flag = member(value, "use_regex")) {
      if (!flag->isBool())
        return Status::error(where + ".use_regex must be true or false");
      useRegex = flag->asBool();
    }
    if (useRegex) {
      auto regex = Regex::compile(
          "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|"
          "\\s+(?!\\S)|\\s+");
      if (!regex.isOk())
        return regex.status();
      step.regex = std::move(*regex);
    }
    steps.push_back(std::move(step));
    return Status::ok();
  }
  if (type == "Digits") {
    bool individual = false;
    if (Status s = readFlag(value, "individual_digits", where, individual);
        !s.isOk())
      return s;
    // Rust's char::is_numeric is the N categories (Nd, Nl, No), not 0-9.
    auto regex = Regex::compile("\\p{N}");
    if (!regex.isOk())
      return regex.status();
    step.regex = std::move(*regex);
    step.behavior = individual ? Behavior::Isolated : Behavior::Contiguous;
    steps.push_back(std::move(step));
    return Status::ok();
  }
  if (type == "Split") {
    const JsonValue *pattern = member(value, "pattern");
    const JsonValue *regex = pattern ? member(*pattern, "Regex") : nullptr;
    const JsonValue *literal = pattern ? member(*pattern, "String") : nullptr;
    if (regex && regex->isString()) {
      auto compiled = Regex::compile(regex->asString());
      if (!compiled.isOk())
        return Status::error(where +
                             ".pattern: " + compiled.status().message());
      step.regex = std::move(*compiled);
    } else if (literal && literal->isString()) {
      step.literal = literal->asString();
    } else {
      return Status::error(where + ".pattern " +
                           (pattern ? describeJson(*pattern) : "null") +
                           " is neither {\"Regex\": ...} nor {\"String\": "
                           "...}");
    }
    const JsonValue *behavior = member(value, "behavior");
    static const std::pair<const char *, Behavior> kBehaviors[] = {
        {"Removed", Behavior::Removed},
        {"Isolated", Behavior::Isolated},
        {"MergedWithPrevious", Behavior::MergedWithPrevious},
        {"MergedWithNext", Behavior::MergedWithNext},
        {"Contiguous", Behavior::Contiguous}};
    bool known = false;
    for (auto &[name, kind] : kBehaviors)
      if (behavior && behavior->asString() == name)
        step.behavior = kind, known = true;
    if (!known)
      return Status::error(where + ".behavior " +
                           (behavior ? describeJson(*behavior) : "null") +
                           " is not one of Removed, Isolated, "
                           "MergedWithPrevious, MergedWithNext, Contiguous");
    if (Status s = readFlag(value, "invert", where, step.invert); !s.isOk())
      return s;
    steps.push_back(std::move(step));
    return Status::ok();
  }
  return Status::error(where + " type " + inQuotes(type) +
                       " is not supported (only ByteLevel, Digits, Split "
                       "and Sequence)");
}

Status BpeTokenizer::loadAddedTokens(const JsonValue &list) {
  if (!list.isArray())
    return Status::error("added_tokens is not an array");
  int64_t maxAdded = -1;
  for (size_t i = 0; i < list.size(); ++i) {
    const JsonValue &entry = list.elements()[i];
    std::string where = "added_tokens[" + std::to_string(i) + "]";
    const JsonValue *content =
        entry.isObject() ? entry.find("content") : nullptr;
    const JsonValue *idJson = entry.isObject() ? entry.find("id") : nullptr;
    int64_t id;
    if (!content || !content->isString() || content->asString().empty() ||
        !idJson || !idJson->getInt64(id) || id < 0 || id >= INT32_MAX)
      return Status::error(where + " " + describeJson(entry) +
                           " needs a non-empty \"content\" and an \"id\" in "
                           "[0, 2^31 - 1)");
    AddedToken token;
    token.content = content->asString();
    token.id = int32_t(id);
    bool normalizedGiven = member(entry, "normalized") != nullptr;
    for (auto [key, flag] :
         {std::pair<const char *, bool *>{"special", &token.special},
          {"single_word", &token.singleWord},
          {"lstrip", &token.lstrip},
          {"rstrip", &token.rstrip},
          {"normalized", &token.normalized}})
      if (Status s = readFlag(entry, key, where, *flag); !s.isOk())
        return s;
    if (!normalizedGiven)
      token.normalized = !token.special; // AddedToken::from's default
    if (addedIds.count(token.content))
      return Status::error(where + ": " + inQuotes(token.content) +
                           " is listed twice");
    // The id the Rust library gives it (AddedVocabulary::add_tokens): the
    // vocabulary's, else one past the largest added id or the vocabulary
    // size. A file whose ids disagree is refused: HF would only warn and
    // encode with ids other than the file's.
    int64_t expected;
    if (auto it = vocab.find(token.content); it != vocab.end())
      expected = it->second;
    else if (maxAdded < 0)
      expected = int64_t(vocabEntries);
    else
      expected = maxAdded >= int64_t(vocabEntries) || vocabEntries == 0
                     ? maxAdded + 1
                     : int64_t(vocabEntries);
    if (expected != id)
      return Status::error(where + ": " + inQuotes(token.content) + " has id " +
                           std::to_string(id) +
                           ", but Hugging Face tokenizers gives it " +
                           std::to_string(expected) +
                           " (the vocabulary's id, else the next free one)");
    maxAdded = std::max(maxAdded, id);
    addedIds.emplace(token.content, token.id);
    if (size_t(id) >= idToToken.size())
      idToToken.resize(size_t(id) + 1);
    idToToken[id] = token.content;
    if (token.special)
      specialIds.insert(token.id);
    added.push_back(token);
  }
  // Tokens the text keeps unnormalized are cut out first, then the
  // normalized ones from what remains (AddedVocabulary's two tries; with no
  // normalizer the order is all that differs).
  for (bool special : {true, false})
    for (size_t i = 0; i < added.size(); ++i)
      if (added[i].special == special) {
        (added[i].normalized ? normalizedTrie : rawTrie)
            .add(added[i].content, int(i));
      }
  return Status::ok();
}

bool endsWithWord(const Regex &word, std::string_view text) {
  if (text.empty())
    return false;
  size_t start = text.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80)
    --start;
  return word.matchesWhole(text.substr(start));
}

bool startsWithWord(const Regex &word, std::string_view text) {
  return !text.empty() &&
         word.matchesWhole(text.substr(0, Regex::utf8Length(text, 0)));
}

void BpeTokenizer::splitAdded(
    std::string_view text, const TokenTrie &trie,
    std::vector<std::pair<Span, int32_t>> &out) const {
  size_t startOffset = 0;
  for (size_t from = 0;;) {
    auto found = trie.find(text, from);
    if (!found)
      break;
    auto [start, stop, index] = *found;
    from = stop;
    const AddedToken &token = added[index];
    if (token.singleWord) {
      bool spaceBefore =
          start == 0 || !endsWithWord(*wordChar, text.substr(0, start));
      bool spaceAfter =
          stop == text.size() || !startsWithWord(*wordChar, text.substr(stop));
      if (!spaceBefore || !spaceAfter)
        continue;
    }
    if (token.lstrip) {
      size_t newStart = start;
      while (newStart > 0) {
        size_t c = newStart - 1;
        while (c > 0 && (static_cast<unsigned char>(text[c]) & 0xC0) == 0x80)
          --c;
        if (!whitespace->matchesWhole(text.substr(c, newStart - c)))
          break;
        newStart = c;
      }
      start = std::max(newStart, startOffset);
    }
    if (token.rstrip) {
      while (stop < text.size()) {
        size_t length = Regex::utf8Length(text, stop);
        if (!whitespace->matchesWhole(text.substr(stop, length)))
          break;
        stop += length;
      }
    }
    if (startOffset < start)
      out.push_back({{startOffset, start}, -1});
    out.push_back({{start, stop}, token.id});
    startOffset = stop;
    from = std::max(from, stop);
  }
  if (startOffset != text.size() || text.empty())
    out.push_back({{startOffset, text.size()}, -1});
}

StatusOr<std::vector<int32_t>>
BpeTokenizer::encode(std::string_view text) const {
  if (std::optional<size_t> bad = findInvalidUtf8(text))
    return Status::error("the text is not valid UTF-8 (byte " +
                         std::to_string(*bad) + ")");
  std::vector<int32_t> ids;
  std::vector<std::pair<Span, int32_t>> raw, normalized;
  splitAdded(text, rawTrie, raw);
  for (auto [span, id] : raw) {
    if (id >= 0) {
      ids.push_back(id);
      continue;
    }
    std::string_view piece = text.substr(span.begin, span.end - span.begin);
    normalized.clear();
    splitAdded(piece, normalizedTrie, normalized);
    for (auto [inner, innerId] : normalized) {
      if (innerId >= 0) {
        ids.push_back(innerId);
        continue;
      }
      if (Status s = preTokenize(
              piece.substr(inner.begin, inner.end - inner.begin), 0, ids);
          !s.isOk())
        return s;
    }
  }
  return ids;
}

Status BpeTokenizer::preTokenize(std::string_view piece, size_t index,
                                 std::vector<int32_t> &ids) const {
  if (piece.empty())
    return Status::ok();
  const PreTokenizer &step = steps[index];
  std::string prefixed;
  if (step.byteLevel && step.addPrefixSpace && piece[0] != ' ') {
    prefixed = " " + std::string(piece);
    piece = prefixed;
  }
  if (step.byteLevel && !step.regex) {
    encodeWord(piece, ids);
    return Status::ok();
  }
  auto next = [&](size_t begin, size_t end) -> Status {
    if (end == begin)
      return Status::ok();
    std::string_view sub = piece.substr(begin, end - begin);
    if (step.byteLevel) {
      encodeWord(sub, ids);
      return Status::ok();
    }
    return preTokenize(sub, index + 1, ids);
  };
  if (step.regex && step.behavior == Behavior::Isolated && !step.invert) {
    // The common case (the GPT-2 pattern, digits, Llama 3's Split): every
    // match and every gap between matches is a piece, handed on as found.
    size_t previous = 0;
    Status inner = Status::ok();
    Status search =
        step.regex->forEachMatch(piece, [&](size_t begin, size_t end) {
          if (!inner.isOk())
            return;
          inner = next(previous, begin);
          if (inner.isOk())
            inner = next(begin, end);
          previous = end;
        });
    if (!search.isOk())
      return search;
    if (!inner.isOk())
      return inner;
    return next(previous, piece.size());
  }
  std::vector<Span> pieces;
  if (Status s = splitPieces(piece, step, pieces); !s.isOk())
    return s;
  for (Span span : pieces)
    if (Status s = next(span.begin, span.end); !s.isOk())
      return s;
  return Status::ok();
}

void BpeTokenizer::encodeWord(std::string_view word,
                              std::vector<int32_t> &ids) const {
  if (ignoreMerges) {
    std::string mapped;
    for (unsigned char b : word)
      mapped += byteChars[b];
    if (auto it = vocab.find(mapped); it != vocab.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  if (word.size() > kCachedWordBytes) {
    mergeWord(word, ids);
    return;
  }
  CacheShard &shard = cache[std::hash<std::string_view>()(word) % kCacheShards];
  std::string key(word);
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    if (auto it = shard.words.find(key); it != shard.words.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  size_t first = ids.size();
  mergeWord(word, ids);
  std::lock_guard<std::mutex> lock(shard.mutex);
  if (shard.words.size() >= kCacheEntriesPerShard)
    shard.words.clear();
  shard.words.emplace(std::move(key),
                      std::vector<int32_t>(ids.begin() + first, ids.end()));
}

void BpeTokenizer::mergeWord(std::string_view word,
                             std::vector<int32_t> &ids) const {
  struct Symbol {
    int32_t id;
    int prev, next;
    bool removed;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  for (unsigned char b : word) {
    int32_t id = byteIds[b];
    if (id < 0) {
      // Not in the vocabulary: the unknown token (consecutive ones fused
      // with fuse_unk), else dropped, as the Rust BPE::merge_word does.
      if (!unkId)
        continue;
      if (fuseUnk && !symbols.empty() && symbols.back().id == *unkId)
        continue;
      id = *unkId;
    }
    int index = int(symbols.size());
    symbols.push_back({id, index - 1, index + 1, false});
  }
  if (!symbols.empty())
    symbols.back().next = -1;

  // A min-heap on (rank, position), as the Rust Merge ordering.
  struct Entry {
    uint32_t rank;
    int pos;
    int32_t newId;
    bool operator>(const Entry &o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  auto lookup = [&](int32_t a, int32_t b) -> const Merge * {
    auto it = merges.find((uint64_t(uint32_t(a)) << 32) | uint32_t(b));
    return it == merges.end() ? nullptr : &it->second;
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue;
  for (size_t i = 0; i + 1 < symbols.size(); ++i)
    if (const Merge *m = lookup(symbols[i].id, symbols[i + 1].id))
      queue.push({m->rank, int(i), m->newId});
  while (!queue.empty()) {
    Entry top = queue.top();
    queue.pop();
    Symbol &left = symbols[top.pos];
    if (left.removed || left.next < 0)
      continue;
    Symbol &right = symbols[left.next];
    // A stale entry: the pair at this position changed since it was queued
    // (the Rust code compares the merged id only, so does this).
    const Merge *now = lookup(left.id, right.id);
    if (!now || now->newId != top.newId)
      continue;
    left.id = top.newId;
    right.removed = true;
    left.next = right.next;
    if (right.next >= 0)
      symbols[right.next].prev = top.pos;
    if (left.prev >= 0)
      if (const Merge *m = lookup(symbols[left.prev].id, left.id))
        queue.push({m->rank, left.prev, m->newId});
    if (left.next >= 0)
      if (const Merge *m = lookup(left.id, symbols[left.next].id))
        queue.push({m->rank, top.pos, m->newId});
  }
  for (const Symbol &symbol : symbols)
    if (!symbol.removed)
      ids.push_back(symbol.id);
}

StatusOr<std::string>
BpeTokenizer::decode(const std::vector<int32_t> &ids) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (id < 0 || size_t(id) >= idToToken.size() || !idToToken[id])
      return Status::error("token id " + std::to_string(id) +
                           " is not in the vocabulary of " + path);
    if (specialIds.count(id))
      continue;
    // The ByteLevel decoder: a token whose characters all stand for bytes
    // gives those bytes, any other (an added token like "<|im_start|> ")
    // its own text.
    const std::string &token = *idToToken[id];
    std::string mapped;
    bool allBytes = true;
    for (size_t i = 0; i < token.size();) {
      size_t length = Regex::utf8Length(token, i);
      auto it = charBytes.find(token.substr(i, length));
      if (it == charBytes.end()) {
        allBytes = false;
        break;
      }
      mapped.push_back(char(it->second));
      i += length;
    }
    bytes += allBytes ? mapped : token;
  }
  return utf8Lossy(bytes);
}

StatusOr<std::string> readWholeFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error("cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad())
    return Status::error("cannot read " + path);
  return buffer.str();
}

} // namespace

StatusOr<std::unique_ptr<Tokenizer>>
growc::rt::loadTokenizer(const std::string &path) {
  std::string file = path;
  struct stat info;
  if (::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode))
    file = path + (path.empty() || path.back() == '/' ? "" : "/") +
           "tokenizer.json";
  StatusOr<std::string> text = readWholeFile(file);
  if (!text.isOk())
    return text.status();
  StatusOr<JsonValue> root = parseJson(*text);
  if (!root.isOk())
    return Status::error(file + ": " + root.status().message());
  auto tokenizer = std::make_unique<BpeTokenizer>();
  tokenizer->path = file;
  if (Status s = tokenizer->load(*root); !s.isOk())
    return Status::error(file + ": " + s.message());

  // The document separator: GPT-2's and SmolLM's <|endoftext|> (what llm.c
  // puts before every document), else the eos_token of a
  // tokenizer_config.json beside the file (transformers' own record).
  tokenizer->separator = tokenizer->tokenId("<|endoftext|>");
  if (!tokenizer->separator) {
    size_t slash = file.rfind('/');
    std::string config =
        (slash == std::string::npos ? std::string()
                                    : file.substr(0, slash + 1)) +
        "tokenizer_config.json";
    if (StatusOr<std::string> configText = readWholeFile(config);
        configText.isOk()) {
      StatusOr<JsonValue> configJson = parseJson(*configText);
      if (!configJson.isOk())
        return Status::error(config + ": " + configJson.status().message());
      const JsonValue *eos = configJson->find("eos_token");
      if (eos && eos->isObject())
        eos = eos->find("content");
      if (eos && eos->isString())
        tokenizer->separator = tokenizer->tokenId(eos->asString());
    }
  }
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}
