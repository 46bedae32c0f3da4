//===- JsonTest.cpp - Tests for the runtime JSON parser and writer --------===//
//
// Checks strict RFC 8259 acceptance and rejection (each rejection must come
// with a message naming the problem and its byte offset), exact integer
// handling, and that the writer's output reads back to the same document.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

using namespace growc::rt;

namespace {

JsonValue parseOk(std::string_view text) {
  StatusOr<JsonValue> v = parseJson(text);
  EXPECT_TRUE(v.isOk()) << "input: " << text
                        << "\nerror: " << v.status().message();
  return v.isOk() ? std::move(v).value() : JsonValue();
}

/// Asserts that parsing fails and returns the message.
std::string parseError(std::string_view text) {
  StatusOr<JsonValue> v = parseJson(text);
  EXPECT_FALSE(v.isOk()) << "unexpectedly parsed: " << text;
  return v.isOk() ? std::string() : v.status().message();
}

#define EXPECT_PARSE_ERROR(text, substring)                                    \
  do {                                                                         \
    std::string msg_ = parseError(text);                                       \
    EXPECT_NE(msg_.find(substring), std::string::npos)                         \
        << "input: " << (text) << "\nmessage: " << msg_;                       \
  } while (false)

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

TEST(JsonParse, Scalars) {
  EXPECT_TRUE(parseOk("null").isNull());
  JsonValue t = parseOk("true");
  ASSERT_TRUE(t.isBool());
  EXPECT_TRUE(t.asBool());
  JsonValue f = parseOk("false");
  ASSERT_TRUE(f.isBool());
  EXPECT_FALSE(f.asBool());
  JsonValue s = parseOk("\"hello\"");
  ASSERT_TRUE(s.isString());
  EXPECT_EQ(s.asString(), "hello");
  JsonValue empty = parseOk("\"\"");
  ASSERT_TRUE(empty.isString());
  EXPECT_EQ(empty.asString(), "");
}

TEST(JsonParse, IntegersAreExactAndRemembered) {
  JsonValue i = parseOk("42");
  ASSERT_TRUE(i.isNumber());
  EXPECT_TRUE(i.isInteger());
  EXPECT_EQ(i.asInt64(), std::optional<int64_t>(42));
  EXPECT_EQ(i.asDouble(), 42.0);

  JsonValue neg = parseOk("-7");
  EXPECT_EQ(neg.asInt64(), std::optional<int64_t>(-7));
  EXPECT_EQ(parseOk("0").asInt64(), std::optional<int64_t>(0));
  EXPECT_EQ(parseOk("-0").asInt64(), std::optional<int64_t>(0));

  // 2^53 + 1 is not representable as a double; it must survive exactly.
  EXPECT_EQ(parseOk("9007199254740993").asInt64(),
            std::optional<int64_t>(9007199254740993LL));
  EXPECT_EQ(parseOk("9223372036854775807").asInt64(),
            std::optional<int64_t>(std::numeric_limits<int64_t>::max()));
  EXPECT_EQ(parseOk("-9223372036854775808").asInt64(),
            std::optional<int64_t>(std::numeric_limits<int64_t>::min()));
}

TEST(JsonParse, NonIntegerNumbers) {
  for (const char *text : {"42.0", "4.2e1", "420E-1", "4.2E+1"}) {
    JsonValue v = parseOk(text);
    ASSERT_TRUE(v.isNumber()) << text;
    EXPECT_FALSE(v.isInteger()) << text;
    EXPECT_FALSE(v.asInt64().has_value()) << text;
    EXPECT_DOUBLE_EQ(v.asDouble(), 42.0) << text;
  }
  EXPECT_EQ(parseOk("-0.5").asDouble(), -0.5);
  EXPECT_EQ(parseOk("1e-400").asDouble(), 0.0);
  EXPECT_TRUE(std::signbit(parseOk("-1e-400").asDouble()));
  EXPECT_EQ(parseOk("0.000000000000000000001e-320").asDouble(), 0.0);
  EXPECT_EQ(parseOk("1.7976931348623157e308").asDouble(),
            std::numeric_limits<double>::max());
}

TEST(JsonParse, IntegerOverflowIsReportedByAccessor) {
  for (const char *text :
       {"9223372036854775808", "-9223372036854775809", "18446744073709551616",
        "100000000000000000000000000000"}) {
    JsonValue v = parseOk(text);
    ASSERT_TRUE(v.isNumber()) << text;
    EXPECT_TRUE(v.isInteger()) << text;
    int64_t out = 123;
    EXPECT_FALSE(v.getInt64(out)) << text;
    EXPECT_EQ(out, 123) << "getInt64 must not modify its output on failure";
    EXPECT_FALSE(v.asInt64().has_value()) << text;
    // The writer reproduces the literal instead of a rounded double.
    EXPECT_EQ(toJson(v), text);
  }
  EXPECT_DOUBLE_EQ(parseOk("9223372036854775808").asDouble(),
                   9223372036854775808.0);

  // An integer too large even for a double stays an exact integer literal.
  std::string huge(400, '9');
  JsonValue h = parseOk(huge);
  EXPECT_TRUE(h.isInteger());
  EXPECT_FALSE(h.asInt64().has_value());
  EXPECT_TRUE(std::isinf(h.asDouble()));
  EXPECT_EQ(toJson(h), huge);
}

TEST(JsonParse, DoubleOverflowIsAnError) {
  EXPECT_PARSE_ERROR("1e400", "too large");
  EXPECT_PARSE_ERROR("[-1.5e99999]", "too large");
}

TEST(JsonParse, ArraysAndObjects) {
  JsonValue v = parseOk(R"({"b": [1, 2.5, "x", null, true, {}, []], "a": {}})");
  ASSERT_TRUE(v.isObject());
  ASSERT_EQ(v.size(), 2u);
  // Insertion order, not sorted.
  EXPECT_EQ(v.members()[0].first, "b");
  EXPECT_EQ(v.members()[1].first, "a");

  const JsonValue *b = v.find("b");
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->isArray());
  ASSERT_EQ(b->size(), 7u);
  EXPECT_EQ(b->elements()[0].asInt64(), std::optional<int64_t>(1));
  EXPECT_EQ(b->elements()[1].asDouble(), 2.5);
  EXPECT_EQ(b->elements()[2].asString(), "x");
  EXPECT_TRUE(b->elements()[3].isNull());
  EXPECT_TRUE(b->elements()[4].asBool());
  EXPECT_TRUE(b->elements()[5].isObject());
  EXPECT_TRUE(b->elements()[6].isArray());

  EXPECT_EQ(v.find("missing"), nullptr);
  EXPECT_EQ(b->find("b"), nullptr) << "find on an array";
  EXPECT_EQ(parseOk("3").find("x"), nullptr) << "find on a number";
}

TEST(JsonParse, WhitespaceAroundValues) {
  JsonValue v = parseOk(" \t\r\n[ 1 ,\n2 ] \n\t");
  ASSERT_TRUE(v.isArray());
  EXPECT_EQ(v.size(), 2u);
  EXPECT_TRUE(parseOk("{ \"a\" : 1 }").find("a"));
}

//===----------------------------------------------------------------------===//
// Strings
//===----------------------------------------------------------------------===//

TEST(JsonParse, SimpleEscapes) {
  EXPECT_EQ(parseOk(R"("\"\\\/\b\f\n\r\t")").asString(), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(parseOk(R"("a\u0041b")").asString(), "aAb");
  std::string nul = parseOk(R"("\u0000")").asString();
  ASSERT_EQ(nul.size(), 1u);
  EXPECT_EQ(nul[0], '\0');
}

TEST(JsonParse, UnicodeEscapesBecomeUtf8) {
  EXPECT_EQ(parseOk(R"("\u00e9")").asString(), "\xC3\xA9");
  EXPECT_EQ(parseOk(R"("\u20AC")").asString(), "\xE2\x82\xAC");
  EXPECT_EQ(parseOk(R"("\uFFFF")").asString(), "\xEF\xBF\xBF");
}

TEST(JsonParse, SurrogatePairs) {
  // U+1F600 GRINNING FACE.
  EXPECT_EQ(parseOk(R"("\ud83d\ude00")").asString(), "\xF0\x9F\x98\x80");
  // U+10000 and U+10FFFF, the ends of the supplementary range.
  EXPECT_EQ(parseOk(R"("\uD800\uDC00")").asString(), "\xF0\x90\x80\x80");
  EXPECT_EQ(parseOk(R"("\uDBFF\uDFFF")").asString(), "\xF4\x8F\xBF\xBF");
}

TEST(JsonParse, RejectsBadSurrogates) {
  EXPECT_PARSE_ERROR(R"("\ud83d")", "unpaired high surrogate");
  EXPECT_PARSE_ERROR(R"("\ud83dx")", "unpaired high surrogate");
  EXPECT_PARSE_ERROR(R"("\ud83d\u0041")", "unpaired high surrogate");
  EXPECT_PARSE_ERROR(R"("\ud83d\ud83d")", "unpaired high surrogate");
  EXPECT_PARSE_ERROR(R"("\ude00")", "unpaired low surrogate");
}

TEST(JsonParse, RejectsBadEscapes) {
  EXPECT_PARSE_ERROR(R"("\x41")", "invalid escape sequence '\\x'");
  EXPECT_PARSE_ERROR(R"("\a")", "invalid escape sequence");
  EXPECT_PARSE_ERROR(R"("\')", "invalid escape sequence");
  EXPECT_PARSE_ERROR(R"("\u12")", "expected 4 hex digits");
  EXPECT_PARSE_ERROR(R"("\u12G4")", "expected 4 hex digits");
  EXPECT_PARSE_ERROR("\"\\u12", "expected 4 hex digits");
  EXPECT_PARSE_ERROR("\"\\", "unterminated escape");
}

TEST(JsonParse, RejectsControlCharacters) {
  EXPECT_PARSE_ERROR("\"a\nb\"", "control character byte 0x0A");
  EXPECT_PARSE_ERROR("\"a\tb\"", "control character");
  EXPECT_PARSE_ERROR(std::string_view("\"a\0b\"", 5), "control character");
  EXPECT_PARSE_ERROR("\"\x1f\"", "must be escaped");
  // DEL (0x7f) is not a control character in JSON's sense.
  EXPECT_EQ(parseOk("\"\x7f\"").asString(), "\x7f");
}

TEST(JsonParse, Utf8Validation) {
  EXPECT_EQ(parseOk("\"caf\xC3\xA9 \xF0\x9F\x98\x80\"").asString(),
            "caf\xC3\xA9 \xF0\x9F\x98\x80");
  for (const char *bad : {
           "\"\x80\"",             // lone continuation byte
           "\"\xC0\x80\"",         // overlong NUL
           "\"\xC1\xBF\"",         // overlong
           "\"\xE0\x80\x80\"",     // overlong 3-byte
           "\"\xED\xA0\x80\"",     // encoded surrogate U+D800
           "\"\xF4\x90\x80\x80\"", // above U+10FFFF
           "\"\xF5\x80\x80\x80\"", // invalid lead byte
           "\"\xE2\x82\"",         // truncated sequence
           "\"\xFF\"",
       })
    EXPECT_PARSE_ERROR(bad, "invalid UTF-8");
}

TEST(JsonParse, RejectsUnterminatedString) {
  EXPECT_PARSE_ERROR("\"abc", "unterminated string");
  EXPECT_PARSE_ERROR("[\"abc]", "unterminated string");
}

//===----------------------------------------------------------------------===//
// Structural rejections
//===----------------------------------------------------------------------===//

TEST(JsonParse, RejectsTrailingCommas) {
  EXPECT_PARSE_ERROR("[1,2,]", "trailing commas are not allowed");
  EXPECT_PARSE_ERROR("{\"a\":1,}", "trailing commas are not allowed");
  EXPECT_PARSE_ERROR("[,]", "expected a value");
  EXPECT_PARSE_ERROR("[1,,2]", "at byte 3: expected a value");
  EXPECT_PARSE_ERROR("{,}", "expected a string key");
}

TEST(JsonParse, RejectsDuplicateKeys) {
  EXPECT_PARSE_ERROR(R"({"x":1,"x":2})", "duplicate key 'x'");
  EXPECT_PARSE_ERROR(R"({"x":1,"y":{"z":1,"z":1}})", "duplicate key 'z'");
  // The offset points at the second occurrence of the key.
  EXPECT_PARSE_ERROR(R"({"x":1, "x":2})", "at byte 8: duplicate key 'x'");
  // Same key in different objects is fine.
  EXPECT_TRUE(parseOk(R"({"x":{"x":1},"y":{"x":2}})").isObject());
  // Escapes are decoded before comparison.
  EXPECT_PARSE_ERROR(R"({"a":1,"\u0061":2})", "duplicate key 'a'");
}

TEST(JsonParse, RejectsDuplicateKeysInLargeObjects) {
  // Large objects use a hash set; the duplicate may be anywhere.
  std::string text = "{";
  for (int i = 0; i < 100; ++i)
    text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  std::string ok = text + "\"last\":0}";
  EXPECT_EQ(parseOk(ok).size(), 101u);
  EXPECT_PARSE_ERROR(text + "\"k3\":0}", "duplicate key 'k3'");
  EXPECT_PARSE_ERROR(text + "\"k99\":0}", "duplicate key 'k99'");
}

TEST(JsonParse, DepthLimit) {
  auto nested = [](int depth) {
    return std::string(depth, '[') + std::string(depth, ']');
  };
  EXPECT_TRUE(parseOk(nested(JsonValue::kMaxDepth)).isArray());
  EXPECT_PARSE_ERROR(nested(JsonValue::kMaxDepth + 1),
                     "nesting depth exceeds the limit of 256");
  // Far beyond the limit must fail cleanly, not overflow the stack.
  EXPECT_PARSE_ERROR(std::string(1000000, '['), "nesting depth");

  std::string objects;
  for (int i = 0; i < JsonValue::kMaxDepth; ++i)
    objects += "{\"a\":";
  std::string okObjects =
      objects + "1" + std::string(JsonValue::kMaxDepth, '}');
  EXPECT_TRUE(parseOk(okObjects).isObject());
  std::string deepObjects =
      objects + "[1]" + std::string(JsonValue::kMaxDepth, '}');
  EXPECT_PARSE_ERROR(deepObjects, "nesting depth");
}

TEST(JsonParse, RejectsTrailingGarbage) {
  EXPECT_PARSE_ERROR("1 2", "at byte 2: expected end of input");
  EXPECT_PARSE_ERROR("{} x", "expected end of input");
  EXPECT_PARSE_ERROR("[]]", "expected end of input");
  EXPECT_PARSE_ERROR("nullx", "expected end of input");
  EXPECT_PARSE_ERROR(std::string_view("{}\0", 3), "expected end of input");
}

TEST(JsonParse, RejectsMalformedNumbers) {
  EXPECT_PARSE_ERROR("01", "leading zeros");
  EXPECT_PARSE_ERROR("-01", "leading zeros");
  EXPECT_PARSE_ERROR("-", "expected a digit after '-'");
  EXPECT_PARSE_ERROR("-a", "expected a digit after '-'");
  EXPECT_PARSE_ERROR("1.", "expected a digit after '.'");
  EXPECT_PARSE_ERROR("1.e5", "expected a digit after '.'");
  EXPECT_PARSE_ERROR("1e", "expected a digit in exponent");
  EXPECT_PARSE_ERROR("1e+", "expected a digit in exponent");
  EXPECT_PARSE_ERROR(".5", "expected a value");
  EXPECT_PARSE_ERROR("+1", "expected a value");
  EXPECT_PARSE_ERROR("0x10", "expected end of input");
  EXPECT_PARSE_ERROR("NaN", "expected a value");
  EXPECT_PARSE_ERROR("Infinity", "expected a value");
  EXPECT_PARSE_ERROR("-Infinity", "expected a digit after '-'");
}

TEST(JsonParse, RejectsOtherSyntaxErrors) {
  EXPECT_PARSE_ERROR("", "at byte 0: expected a value, found end of input");
  EXPECT_PARSE_ERROR("   ", "expected a value, found end of input");
  EXPECT_PARSE_ERROR("tru", "expected 'true'");
  EXPECT_PARSE_ERROR("nul", "expected 'null'");
  EXPECT_PARSE_ERROR("True", "expected a value");
  EXPECT_PARSE_ERROR("[1", "expected ',' or ']' after array element, found "
                           "end of input");
  EXPECT_PARSE_ERROR("[1 2]", "expected ',' or ']'");
  EXPECT_PARSE_ERROR("{\"a\" 1}", "expected ':' after object key");
  EXPECT_PARSE_ERROR("{\"a\":1 \"b\":2}", "expected ',' or '}'");
  EXPECT_PARSE_ERROR("{1:2}", "expected a string key in object, found '1'");
  EXPECT_PARSE_ERROR("{'a':1}", "expected a string key");
  EXPECT_PARSE_ERROR("{\"a\":}", "expected a value");
  EXPECT_PARSE_ERROR("// c\n1", "expected a value");
  EXPECT_PARSE_ERROR("[1 /* c */]", "expected ',' or ']'");
  EXPECT_PARSE_ERROR("\xEF\xBB\xBF{}", "found byte 0xEF");
  EXPECT_PARSE_ERROR("\f1", "expected a value");
}

//===----------------------------------------------------------------------===//
// Builders and writer
//===----------------------------------------------------------------------===//

TEST(JsonBuild, BuildersAndAccessors) {
  JsonValue o = JsonValue::object();
  o.set("n", JsonValue::number(42))
      .set("d", JsonValue::number(0.5))
      .set("s", JsonValue::string("x"))
      .set("b", JsonValue::boolean(true))
      .set("z", JsonValue::null());
  EXPECT_EQ(o.size(), 5u);
  EXPECT_EQ(o.find("n")->asInt64(), std::optional<int64_t>(42));
  EXPECT_TRUE(o.find("n")->isInteger());
  EXPECT_FALSE(o.find("d")->isInteger());
  EXPECT_EQ(o.find("d")->asDouble(), 0.5);
  EXPECT_TRUE(o.find("z")->isNull());

  // set() replaces in place, keeping the position.
  o.set("n", JsonValue::string("replaced"));
  EXPECT_EQ(o.size(), 5u);
  EXPECT_EQ(o.members()[0].first, "n");
  EXPECT_EQ(o.members()[0].second.asString(), "replaced");

  JsonValue a = JsonValue::array();
  a.push(JsonValue::number(1)).push(JsonValue::number(2));
  EXPECT_EQ(a.size(), 2u);

  // Wrong-kind operations are no-ops and accessors return neutral values.
  JsonValue n = JsonValue::number(3);
  n.push(JsonValue::null());
  n.set("a", JsonValue::null());
  EXPECT_EQ(n.size(), 0u);
  EXPECT_EQ(n.asString(), "");
  EXPECT_FALSE(n.asBool());
  EXPECT_EQ(JsonValue::string("7").asDouble(), 0.0);
  EXPECT_FALSE(JsonValue::string("7").asInt64().has_value());
  EXPECT_FALSE(JsonValue::number(1.0).asInt64().has_value());
}

TEST(JsonBuild, IntegerOverloads) {
  EXPECT_EQ(toJson(JsonValue::number(42)), "42");
  EXPECT_EQ(toJson(JsonValue::number(size_t(7))), "7");
  EXPECT_EQ(toJson(JsonValue::number(int64_t(-5))), "-5");
  JsonValue big = JsonValue::number(std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(big.isInteger());
  EXPECT_FALSE(big.asInt64().has_value());
  EXPECT_EQ(toJson(big), "18446744073709551615");
}

TEST(JsonWrite, CompactAndIndented) {
  JsonValue o = JsonValue::object();
  JsonValue arr = JsonValue::array();
  arr.push(JsonValue::number(1)).push(JsonValue::string("two"));
  o.set("b", std::move(arr));
  o.set("a", JsonValue::object().set("x", JsonValue::null()));
  o.set("e", JsonValue::array());
  o.set("f", JsonValue::object());
  EXPECT_EQ(toJson(o), R"({"b":[1,"two"],"a":{"x":null},"e":[],"f":{}})");
  EXPECT_EQ(toJson(o, 2), "{\n"
                          "  \"b\": [\n"
                          "    1,\n"
                          "    \"two\"\n"
                          "  ],\n"
                          "  \"a\": {\n"
                          "    \"x\": null\n"
                          "  },\n"
                          "  \"e\": [],\n"
                          "  \"f\": {}\n"
                          "}");
  EXPECT_EQ(toJson(JsonValue::array().push(JsonValue::boolean(false)), 0),
            "[\nfalse\n]");
}

TEST(JsonWrite, Doubles) {
  // Whole doubles keep a '.0' so that they read back as non-integers.
  EXPECT_EQ(toJson(JsonValue::number(2.0)), "2.0");
  EXPECT_EQ(toJson(JsonValue::number(0.1)), "0.1");
  EXPECT_EQ(toJson(JsonValue::number(-0.0)), "-0.0");
  EXPECT_EQ(toJson(JsonValue::number(1e300)), "1e+300");
  EXPECT_EQ(toJson(JsonValue::number(std::nan(""))), "null");
  EXPECT_EQ(toJson(JsonValue::number(std::numeric_limits<double>::infinity())),
            "null");
  for (double d : {2.0, 0.1, 1.0 / 3.0, 1e300, -2.5e-310, 123456789.125}) {
    JsonValue back = parseOk(toJson(JsonValue::number(d)));
    EXPECT_FALSE(back.isInteger()) << d;
    EXPECT_EQ(back.asDouble(), d) << "shortest form must round-trip";
  }
}

TEST(JsonWrite, StringEscaping) {
  std::string out;
  appendJsonString(out, "a\"b\\c\nd\te\x01\x1f/\x7f\xC3\xA9");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\te\\u0001\\u001f/\x7f\xC3\xA9\"");
  out.clear();
  appendJsonString(out, std::string_view("\0\b\f\r", 4));
  EXPECT_EQ(out, "\"\\u0000\\b\\f\\r\"");
  // appendJsonString appends rather than overwriting.
  out = "x=";
  appendJsonString(out, "");
  EXPECT_EQ(out, "x=\"\"");

  // Every byte below 0x80 survives a write/parse round trip.
  std::string all;
  for (int c = 1; c < 0x80; ++c)
    all += static_cast<char>(c);
  all += std::string(1, '\0');
  std::string encoded;
  appendJsonString(encoded, all);
  EXPECT_EQ(parseOk(encoded).asString(), all);
}

TEST(JsonRoundTrip, ParseWriteParse) {
  const char *texts[] = {
      R"({"b":[1,2.5,-3e-07,"x",null,true,false],"a":{"nested":{"k":[]}}})",
      R"([9223372036854775807,-9223372036854775808,18446744073709551616])",
      R"("\u0000\u001f\"\\ caf\u00e9 \ud83d\ude00")",
      R"({"":{"":""}})",
  };
  for (const char *text : texts) {
    JsonValue v = parseOk(text);
    for (int indent : {-1, 0, 2, 4}) {
      std::string written = toJson(v, indent);
      StatusOr<JsonValue> back = parseJson(written);
      ASSERT_TRUE(back.isOk()) << written << "\n" << back.status().message();
      EXPECT_TRUE(*back == v) << text << " vs " << written;
    }
  }
  // Canonical compact text is reproduced byte for byte.
  const char *canonical = R"({"b":[1,2.5,"x",null,true],)"
                          R"("a":{"k":-12,"big":123456789012345678901}})";
  EXPECT_EQ(toJson(parseOk(canonical)), canonical);
}

TEST(JsonRoundTrip, BuiltValues) {
  JsonValue o = JsonValue::object();
  o.set("int", JsonValue::number(int64_t(1) << 60))
      .set("dbl", JsonValue::number(3.0))
      .set("str", JsonValue::string("tab\tquote\"\xE2\x82\xAC"))
      .set("arr", JsonValue::array()
                      .push(JsonValue::null())
                      .push(JsonValue::boolean(true))
                      .push(JsonValue::object()));
  JsonValue back = parseOk(toJson(o));
  EXPECT_TRUE(back == o);
  EXPECT_EQ(back.find("int")->asInt64(),
            std::optional<int64_t>(int64_t(1) << 60));
  EXPECT_FALSE(back.find("dbl")->isInteger());

  // Equality is structural and distinguishes integer from double.
  EXPECT_FALSE(JsonValue::number(1) == JsonValue::number(1.0));
  EXPECT_TRUE(JsonValue::number(1) != JsonValue::number(2));
  EXPECT_FALSE(parseOk(R"({"a":1,"b":2})") == parseOk(R"({"b":2,"a":1})"));
}

} // namespace
