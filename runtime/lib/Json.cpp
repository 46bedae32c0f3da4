//===- Json.cpp - Minimal JSON parser and writer for the runtime ----------===//
//
// Strict RFC 8259 parsing into JsonValue and serialization back to text. See
// Json.h for the design; this file is self-contained (no LLVM, no third-party
// JSON library) because the runtime must build on machines without them.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <new>
#include <unordered_set>

namespace growc::rt {

//===----------------------------------------------------------------------===//
// JsonValue
//===----------------------------------------------------------------------===//

JsonValue JsonValue::boolean(bool b) {
  JsonValue v;
  v.kind_ = Kind::Bool;
  v.bool_ = b;
  return v;
}

JsonValue JsonValue::number(int64_t i) {
  JsonValue v;
  v.kind_ = Kind::Number;
  v.integer_ = true;
  v.int64Valid_ = true;
  v.int64_ = i;
  v.double_ = static_cast<double>(i);
  return v;
}

JsonValue JsonValue::number(double d) {
  JsonValue v;
  v.kind_ = Kind::Number;
  v.double_ = d;
  return v;
}

JsonValue JsonValue::numberFromUnsigned(uint64_t u) {
  if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return number(static_cast<int64_t>(u));
  // Keep it an integer (it is one) but out of int64_t range, exactly like a
  // parsed literal that overflows.
  JsonValue v;
  v.kind_ = Kind::Number;
  v.integer_ = true;
  v.text_ = std::to_string(u);
  v.double_ = static_cast<double>(u);
  return v;
}

JsonValue JsonValue::string(std::string s) {
  JsonValue v;
  v.kind_ = Kind::String;
  v.text_ = std::move(s);
  return v;
}

JsonValue JsonValue::array() {
  JsonValue v;
  v.kind_ = Kind::Array;
  return v;
}

JsonValue JsonValue::object() {
  JsonValue v;
  v.kind_ = Kind::Object;
  return v;
}

JsonValue &JsonValue::set(std::string key, JsonValue value) {
  if (kind_ != Kind::Object)
    return *this;
  for (Member &m : members_) {
    if (m.first == key) {
      m.second = std::move(value);
      return *this;
    }
  }
  members_.emplace_back(std::move(key), std::move(value));
  return *this;
}

JsonValue &JsonValue::push(JsonValue value) {
  if (kind_ == Kind::Array)
    elements_.push_back(std::move(value));
  return *this;
}

bool JsonValue::getInt64(int64_t &out) const {
  if (!isInteger() || !int64Valid_)
    return false;
  out = int64_;
  return true;
}

std::optional<int64_t> JsonValue::asInt64() const {
  int64_t i;
  if (!getInt64(i))
    return std::nullopt;
  return i;
}

const std::string &JsonValue::asString() const {
  static const std::string empty;
  return kind_ == Kind::String ? text_ : empty;
}

size_t JsonValue::size() const {
  if (kind_ == Kind::Array)
    return elements_.size();
  if (kind_ == Kind::Object)
    return members_.size();
  return 0;
}

const JsonValue *JsonValue::find(std::string_view key) const {
  if (kind_ != Kind::Object)
    return nullptr;
  for (const Member &m : members_)
    if (m.first == key)
      return &m.second;
  return nullptr;
}

bool operator==(const JsonValue &a, const JsonValue &b) {
  if (a.kind_ != b.kind_)
    return false;
  switch (a.kind_) {
  case JsonValue::Kind::Null:
    return true;
  case JsonValue::Kind::Bool:
    return a.bool_ == b.bool_;
  case JsonValue::Kind::Number:
    if (a.integer_ != b.integer_)
      return false;
    if (!a.integer_)
      return a.double_ == b.double_;
    if (a.int64Valid_ != b.int64Valid_)
      return false;
    return a.int64Valid_ ? a.int64_ == b.int64_ : a.text_ == b.text_;
  case JsonValue::Kind::String:
    return a.text_ == b.text_;
  case JsonValue::Kind::Array:
    return a.elements_ == b.elements_;
  case JsonValue::Kind::Object:
    return a.members_ == b.members_;
  }
  return false;
}

//===----------------------------------------------------------------------===//
// Parser
//===----------------------------------------------------------------------===//

namespace {

/// Describes the byte at the error position for messages: printable ASCII
/// is quoted, anything else is shown in hex so that messages stay readable
/// (and valid UTF-8) whatever the input contains.
std::string describeByte(std::string_view text, size_t pos) {
  if (pos >= text.size())
    return "end of input";
  unsigned char c = static_cast<unsigned char>(text[pos]);
  char buf[16];
  if (c >= 0x20 && c < 0x7f)
    std::snprintf(buf, sizeof(buf), "'%c'", c);
  else
    std::snprintf(buf, sizeof(buf), "byte 0x%02X", c);
  return buf;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

int hexValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

void appendUtf8(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// Length of the well-formed UTF-8 sequence starting at text[pos] (a byte
/// >= 0x80), or 0 if it is ill-formed. Follows the Unicode table of
/// well-formed sequences, so overlong forms, encoded surrogates and code
/// points above U+10FFFF are all rejected.
size_t utf8SequenceLength(std::string_view text, size_t pos) {
  auto byteAt = [&](size_t i) -> unsigned {
    return pos + i < text.size() ? static_cast<unsigned char>(text[pos + i])
                                 : 0u;
  };
  auto isCont = [](unsigned b) { return b >= 0x80 && b <= 0xBF; };
  unsigned b0 = byteAt(0), b1 = byteAt(1);
  if (b0 >= 0xC2 && b0 <= 0xDF)
    return isCont(b1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80;
    unsigned hi = b0 == 0xED ? 0x9F : 0xBF;
    return (b1 >= lo && b1 <= hi && isCont(byteAt(2))) ? 3 : 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    unsigned lo = b0 == 0xF0 ? 0x90 : 0x80;
    unsigned hi = b0 == 0xF4 ? 0x8F : 0xBF;
    return (b1 >= lo && b1 <= hi && isCont(byteAt(2)) && isCont(byteAt(3))) ? 4
                                                                            : 0;
  }
  return 0;
}

/// Decides whether a decimal literal that std::from_chars reported as out of
/// double range underflowed (true) or overflowed (false), by estimating its
/// decimal exponent: the position of the first significant digit relative to
/// the decimal point, plus the explicit exponent.
bool literalUnderflows(std::string_view lit) {
  size_t i = 0;
  if (i < lit.size() && lit[i] == '-')
    ++i;
  int64_t intDigits = 0;
  int64_t leadingFracZeros = 0;
  bool seenNonZero = false;
  for (; i < lit.size() && isDigit(lit[i]); ++i) {
    if (lit[i] != '0')
      seenNonZero = true;
    if (seenNonZero)
      ++intDigits;
  }
  if (i < lit.size() && lit[i] == '.') {
    for (++i; i < lit.size() && isDigit(lit[i]); ++i) {
      if (lit[i] != '0')
        seenNonZero = true;
      else if (!seenNonZero)
        ++leadingFracZeros;
    }
  }
  if (!seenNonZero)
    return true; // Zero never overflows.
  int64_t exp10 = intDigits > 0 ? intDigits : -leadingFracZeros;
  if (i < lit.size() && (lit[i] == 'e' || lit[i] == 'E')) {
    ++i;
    bool negative = false;
    if (i < lit.size() && (lit[i] == '+' || lit[i] == '-'))
      negative = lit[i++] == '-';
    int64_t e = 0;
    // Saturate: any exponent this large decides the question on its own.
    for (; i < lit.size() && isDigit(lit[i]); ++i)
      e = std::min<int64_t>(e * 10 + (lit[i] - '0'), 1000000000);
    exp10 += negative ? -e : e;
  }
  return exp10 < 0;
}

} // namespace

/// Recursive-descent parser. Functions return false after recording the
/// first error; the recursion depth is bounded by JsonValue::kMaxDepth.
class JsonParser {
public:
  explicit JsonParser(std::string_view text) : text(text) {}

  StatusOr<JsonValue> parseDocument() {
    JsonValue root;
    skipWhitespace();
    if (!parseValue(root, 0))
      return Status::error(error);
    skipWhitespace();
    if (pos != text.size()) {
      fail("expected end of input after the JSON value, found " +
           describeByte(text, pos));
      return Status::error(error);
    }
    return root;
  }

private:
  std::string_view text;
  size_t pos = 0;
  std::string error;

  bool fail(const std::string &what) { return failAt(pos, what); }
  bool failAt(size_t at, const std::string &what) {
    error = "JSON parse error at byte " + std::to_string(at) + ": " + what;
    return false;
  }

  bool atEnd() const { return pos >= text.size(); }
  char peek() const { return atEnd() ? '\0' : text[pos]; }

  void skipWhitespace() {
    while (!atEnd()) {
      char c = text[pos];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
        return;
      ++pos;
    }
  }

  bool parseValue(JsonValue &out, int depth) {
    if (atEnd())
      return fail("expected a value, found end of input");
    switch (text[pos]) {
    case '{':
      return parseObject(out, depth + 1);
    case '[':
      return parseArray(out, depth + 1);
    case '"':
      out.kind_ = JsonValue::Kind::String;
      return parseString(out.text_);
    case 't':
      return parseLiteral("true", out, JsonValue::boolean(true));
    case 'f':
      return parseLiteral("false", out, JsonValue::boolean(false));
    case 'n':
      return parseLiteral("null", out, JsonValue::null());
    default:
      if (text[pos] == '-' || isDigit(text[pos]))
        return parseNumber(out);
      return fail("expected a value (object, array, string, number, true, "
                  "false or null), found " +
                  describeByte(text, pos));
    }
  }

  bool parseLiteral(std::string_view word, JsonValue &out, JsonValue value) {
    if (text.substr(pos, word.size()) != word)
      return fail("expected '" + std::string(word) + "'");
    pos += word.size();
    out = std::move(value);
    return true;
  }

  bool checkDepth(int depth) {
    if (depth > JsonValue::kMaxDepth)
      return fail("nesting depth exceeds the limit of " +
                  std::to_string(JsonValue::kMaxDepth));
    return true;
  }

  bool parseArray(JsonValue &out, int depth) {
    if (!checkDepth(depth))
      return false;
    out = JsonValue::array();
    ++pos; // '['
    skipWhitespace();
    if (peek() == ']') {
      ++pos;
      return true;
    }
    while (true) {
      skipWhitespace();
      if (peek() == ']')
        return fail("expected a value after ',' (trailing commas are not "
                    "allowed), found ']'");
      JsonValue element;
      if (!parseValue(element, depth))
        return false;
      out.elements_.push_back(std::move(element));
      skipWhitespace();
      if (peek() == ',') {
        ++pos;
        continue;
      }
      if (peek() == ']') {
        ++pos;
        return true;
      }
      return fail("expected ',' or ']' after array element, found " +
                  describeByte(text, pos));
    }
  }

  bool parseObject(JsonValue &out, int depth) {
    if (!checkDepth(depth))
      return false;
    out = JsonValue::object();
    ++pos; // '{'
    skipWhitespace();
    if (peek() == '}') {
      ++pos;
      return true;
    }
    // Duplicate detection: a linear scan is cheapest for the small objects
    // that dominate; large ones (e.g. a safetensors header with thousands of
    // tensors) switch to a hash set to stay linear overall.
    constexpr size_t kLinearScanLimit = 16;
    std::unordered_set<std::string> seen;
    bool first = true;
    while (true) {
      skipWhitespace();
      if (peek() != '"') {
        if (!first && peek() == '}')
          return fail("expected a string key after ',' (trailing commas are "
                      "not allowed), found '}'");
        return fail("expected a string key in object, found " +
                    describeByte(text, pos));
      }
      first = false;
      size_t keyPos = pos;
      std::string key;
      if (!parseString(key))
        return false;

      bool duplicate = false;
      std::vector<JsonValue::Member> &members = out.members_;
      if (members.size() < kLinearScanLimit) {
        for (const JsonValue::Member &m : members)
          duplicate |= m.first == key;
      } else {
        if (seen.empty())
          for (const JsonValue::Member &m : members)
            seen.insert(m.first);
        duplicate = !seen.insert(key).second;
      }
      if (duplicate)
        return failAt(keyPos, "duplicate key '" + key + "'");

      skipWhitespace();
      if (peek() != ':')
        return fail("expected ':' after object key, found " +
                    describeByte(text, pos));
      ++pos;
      skipWhitespace();
      JsonValue value;
      if (!parseValue(value, depth))
        return false;
      members.emplace_back(std::move(key), std::move(value));
      skipWhitespace();
      if (peek() == ',') {
        ++pos;
        continue;
      }
      if (peek() == '}') {
        ++pos;
        return true;
      }
      return fail("expected ',' or '}' after object member, found " +
                  describeByte(text, pos));
    }
  }

  /// Parses four hex digits at pos (after "\u").
  bool parseHex4(uint32_t &out) {
    if (text.size() - pos < 4)
      return fail("expected 4 hex digits after '\\u', found end of input");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hexValue(text[pos + i]);
      if (h < 0)
        return failAt(pos + i, "expected 4 hex digits after '\\u', found " +
                                   describeByte(text, pos + i));
      out = out * 16 + static_cast<uint32_t>(h);
    }
    pos += 4;
    return true;
  }

  bool parseString(std::string &out) {
    ++pos; // '"'
    while (true) {
      // Copy runs of ordinary ASCII in one go.
      size_t runStart = pos;
      while (!atEnd()) {
        unsigned char c = static_cast<unsigned char>(text[pos]);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
          break;
        ++pos;
      }
      out.append(text.data() + runStart, pos - runStart);
      if (atEnd())
        return fail("unterminated string, expected '\"'");
      unsigned char c = static_cast<unsigned char>(text[pos]);
      if (c == '"') {
        ++pos;
        return true;
      }
      if (c < 0x20)
        return fail("control character " + describeByte(text, pos) +
                    " in string must be escaped");
      if (c >= 0x80) {
        size_t len = utf8SequenceLength(text, pos);
        if (len == 0)
          return fail("invalid UTF-8 in string at " + describeByte(text, pos));
        out.append(text.data() + pos, len);
        pos += len;
        continue;
      }
      // Backslash escape.
      size_t escPos = pos;
      ++pos;
      if (atEnd())
        return fail("unterminated escape sequence in string");
      char e = text[pos++];
      switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp = 0;
        if (!parseHex4(cp))
          return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
          return failAt(escPos, "unpaired low surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          // A high surrogate must be followed by an escaped low surrogate;
          // together they encode one supplementary-plane code point.
          if (text.substr(pos, 2) != "\\u")
            return failAt(escPos, "unpaired high surrogate in \\u escape, "
                                  "expected a following \\uDC00-\\uDFFF");
          pos += 2;
          uint32_t lo = 0;
          if (!parseHex4(lo))
            return false;
          if (lo < 0xDC00 || lo > 0xDFFF)
            return failAt(escPos, "unpaired high surrogate in \\u escape, "
                                  "expected a following \\uDC00-\\uDFFF");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        return failAt(escPos, "invalid escape sequence '\\" +
                                  std::string(1, e) +
                                  "', expected one of \\\" \\\\ \\/ \\b \\f "
                                  "\\n \\r \\t \\uXXXX");
      }
    }
  }

  bool parseNumber(JsonValue &out) {
    size_t start = pos;
    if (peek() == '-')
      ++pos;
    if (peek() == '0') {
      ++pos;
      if (isDigit(peek()))
        return fail("leading zeros are not allowed in numbers");
    } else if (isDigit(peek())) {
      while (isDigit(peek()))
        ++pos;
    } else {
      return fail("expected a digit after '-', found " +
                  describeByte(text, pos));
    }
    bool integer = true;
    if (peek() == '.') {
      integer = false;
      ++pos;
      if (!isDigit(peek()))
        return fail("expected a digit after '.', found " +
                    describeByte(text, pos));
      while (isDigit(peek()))
        ++pos;
    }
    if (peek() == 'e' || peek() == 'E') {
      integer = false;
      ++pos;
      if (peek() == '+' || peek() == '-')
        ++pos;
      if (!isDigit(peek()))
        return fail("expected a digit in exponent, found " +
                    describeByte(text, pos));
      while (isDigit(peek()))
        ++pos;
    }
    std::string_view lit = text.substr(start, pos - start);
    const char *first = lit.data(), *last = lit.data() + lit.size();

    out = JsonValue();
    out.kind_ = JsonValue::Kind::Number;
    out.integer_ = integer;
    if (integer) {
      auto r = std::from_chars(first, last, out.int64_);
      out.int64Valid_ = r.ec == std::errc() && r.ptr == last;
      if (!out.int64Valid_) {
        out.int64_ = 0;
        // Keep the literal so that the writer reproduces it exactly.
        out.text_ = std::string(lit);
      }
    }
    auto r = std::from_chars(first, last, out.double_);
    if (r.ec == std::errc::result_out_of_range) {
      double sign = lit[0] == '-' ? -1.0 : 1.0;
      if (literalUnderflows(lit)) {
        out.double_ = sign * 0.0;
      } else if (integer) {
        // A huge integer is still exact via getInt64()/text; its double
        // approximation is infinite.
        out.double_ = sign * std::numeric_limits<double>::infinity();
      } else {
        return failAt(start, "number " + std::string(lit.substr(0, 40)) +
                                 " is too large for a double");
      }
    } else if (r.ec != std::errc() || r.ptr != last) {
      return failAt(start, "malformed number");
    }
    return true;
  }
};

StatusOr<JsonValue> parseJson(std::string_view text) {
  // The runtime reports all failures as values; running out of memory on a
  // huge document is one of them.
  try {
    return JsonParser(text).parseDocument();
  } catch (const std::bad_alloc &) {
    return Status::error("JSON parse error: out of memory");
  }
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

void appendJsonString(std::string &out, std::string_view s) {
  out += '"';
  size_t runStart = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c != '"' && c != '\\' && c >= 0x20)
      continue;
    out.append(s.data() + runStart, i - runStart);
    runStart = i + 1;
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default: {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    }
    }
  }
  out.append(s.data() + runStart, s.size() - runStart);
  out += '"';
}

class JsonWriter {
public:
  JsonWriter(std::string &out, int indent, bool spaced = false)
      : out(out), indent(indent), spaced(spaced) {}

  void write(const JsonValue &v, int level) {
    switch (v.kind_) {
    case JsonValue::Kind::Null:
      out += "null";
      return;
    case JsonValue::Kind::Bool:
      out += v.bool_ ? "true" : "false";
      return;
    case JsonValue::Kind::Number:
      writeNumber(v);
      return;
    case JsonValue::Kind::String:
      appendJsonString(out, v.text_);
      return;
    case JsonValue::Kind::Array:
      if (v.elements_.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < v.elements_.size(); ++i) {
        if (i)
          out += separator();
        newline(level + 1);
        write(v.elements_[i], level + 1);
      }
      newline(level);
      out += ']';
      return;
    case JsonValue::Kind::Object:
      if (v.members_.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      for (size_t i = 0; i < v.members_.size(); ++i) {
        if (i)
          out += separator();
        newline(level + 1);
        appendJsonString(out, v.members_[i].first);
        out += indent < 0 && !spaced ? ":" : ": ";
        write(v.members_[i].second, level + 1);
      }
      newline(level);
      out += '}';
      return;
    }
  }

private:
  std::string &out;
  int indent;
  /// One line with a space after each ',' and ':' (toJsonLine).
  bool spaced;

  const char *separator() const { return spaced ? ", " : ","; }

  void newline(int level) {
    if (indent < 0)
      return;
    out += '\n';
    out.append(static_cast<size_t>(indent) * static_cast<size_t>(level), ' ');
  }

  void writeNumber(const JsonValue &v) {
    if (v.integer_) {
      if (v.int64Valid_)
        out += std::to_string(v.int64_);
      else
        out += v.text_;
      return;
    }
    if (!std::isfinite(v.double_)) {
      out += "null";
      return;
    }
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof(buf), v.double_);
    std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
    out += s;
    // Shortest form of 2.0 is "2", which would read back as an integer.
    if (s.find_first_of(".eE") == std::string_view::npos)
      out += ".0";
  }
};

std::string toJson(const JsonValue &value, int indent) {
  std::string out;
  JsonWriter(out, indent).write(value, 0);
  return out;
}

std::string toJsonLine(const JsonValue &value) {
  std::string out;
  JsonWriter(out, /*indent=*/-1, /*spaced=*/true).write(value, 0);
  return out;
}

} // namespace growc::rt
