//===- Json.h - Minimal JSON document model for the runtime -----*- C++ -*-===//
//
// A small, strict JSON (RFC 8259) parser and writer. The runtime reads
// safetensors headers and growc's own manifests with it and must not depend
// on LLVM or a third-party library, hence this one.
//
// Design points:
//  * Numbers remember whether they were written as integers (no '.', 'e' or
//    'E'), and integers are kept exactly (not through a double), because
//    tensor shapes and byte offsets must be exact beyond 2^53.
//  * Objects keep their members in insertion order (so that a parsed
//    document is rewritten in the same order) and the parser rejects
//    duplicate keys, which RFC 8259 leaves undefined and which would
//    otherwise let two readers disagree about a file.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_JSON_H
#define GROWC_RUNTIME_JSON_H

#include "growc/runtime/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace growc::rt {

class JsonValue {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };
  using Member = std::pair<std::string, JsonValue>;

  /// Nesting depth (arrays + objects) beyond which parseJson fails, so that
  /// hostile input cannot exhaust the stack of the recursive parser.
  static constexpr int kMaxDepth = 256;

  /// A null value.
  JsonValue() = default;

  //===--------------------------------------------------------------------===//
  // Builders
  //===--------------------------------------------------------------------===//

  static JsonValue null() { return JsonValue(); }
  static JsonValue boolean(bool b);
  static JsonValue number(int64_t i);
  static JsonValue number(double d);
  /// Any other integer type (int, size_t, ...); without this, number(42)
  /// would be ambiguous between the int64_t and double overloads. Unsigned
  /// values above INT64_MAX stay integers but getInt64() rejects them.
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>,
                             int> = 0>
  static JsonValue number(T i) {
    if constexpr (std::is_unsigned_v<T>)
      return numberFromUnsigned(static_cast<uint64_t>(i));
    else
      return number(static_cast<int64_t>(i));
  }
  static JsonValue string(std::string s);
  static JsonValue array();
  static JsonValue object();

  /// Object: sets `key` to `value`, replacing an existing member of that name
  /// in place (keeping its position). Does nothing if this is not an object.
  /// Returns *this for chaining. Linear in the number of members.
  JsonValue &set(std::string key, JsonValue value);
  /// Array: appends `value`. Does nothing if this is not an array.
  JsonValue &push(JsonValue value);

  //===--------------------------------------------------------------------===//
  // Inspection
  //===--------------------------------------------------------------------===//

  Kind kind() const { return kind_; }
  bool isNull() const { return kind_ == Kind::Null; }
  bool isBool() const { return kind_ == Kind::Bool; }
  bool isNumber() const { return kind_ == Kind::Number; }
  bool isString() const { return kind_ == Kind::String; }
  bool isArray() const { return kind_ == Kind::Array; }
  bool isObject() const { return kind_ == Kind::Object; }

  /// True for a number written without '.', 'e' or 'E' (or built from an
  /// integer), whether or not it fits in int64_t.
  bool isInteger() const { return kind_ == Kind::Number && integer_; }

  /// The boolean; false if this is not a Bool.
  bool asBool() const { return kind_ == Kind::Bool && bool_; }
  /// The number as a double (rounded for large integers); 0 if not a Number.
  double asDouble() const { return kind_ == Kind::Number ? double_ : 0.0; }
  /// Stores the exact value and returns true if this is an integer that fits
  /// in int64_t; otherwise returns false and leaves `out` unchanged.
  bool getInt64(int64_t &out) const;
  /// Same as getInt64, as an optional.
  std::optional<int64_t> asInt64() const;
  /// The string; empty if this is not a String.
  const std::string &asString() const;
  /// Array elements; empty if this is not an Array.
  const std::vector<JsonValue> &elements() const { return elements_; }
  /// Object members in insertion order; empty if this is not an Object.
  const std::vector<Member> &members() const { return members_; }
  /// Number of elements or members; 0 for scalars.
  size_t size() const;

  /// Object: the member named `key`, or nullptr (also for non-objects).
  const JsonValue *find(std::string_view key) const;

  /// Deep structural equality. Numbers compare by kind (integer or not) and
  /// exact value.
  friend bool operator==(const JsonValue &a, const JsonValue &b);
  friend bool operator!=(const JsonValue &a, const JsonValue &b) {
    return !(a == b);
  }

private:
  // The parser and writer (in Json.cpp) fill in and read the number
  // representation directly.
  friend class JsonParser;
  friend class JsonWriter;
  static JsonValue numberFromUnsigned(uint64_t u);

  Kind kind_ = Kind::Null;
  bool bool_ = false;
  // Number representation: integer_ says it was written as an integer. Then
  // int64Valid_ says int64_ holds it exactly; if not (it overflows), text_
  // keeps the literal so that the writer reproduces it unchanged. double_ is
  // always the (possibly rounded) value.
  bool integer_ = false;
  bool int64Valid_ = false;
  int64_t int64_ = 0;
  double double_ = 0.0;
  // String contents, or the literal of an out-of-range integer.
  std::string text_;
  std::vector<JsonValue> elements_;
  std::vector<Member> members_;
};

/// Parses a complete JSON text (RFC 8259, strict: no comments, no trailing
/// commas, no leading '+' or zeros, strings must be valid UTF-8 without raw
/// control characters, at most JsonValue::kMaxDepth nesting levels,
/// duplicate object keys rejected). Whitespace may surround the value;
/// anything else after it is an error. Error messages contain the byte
/// offset and what was expected.
StatusOr<JsonValue> parseJson(std::string_view text);

/// Serializes `value`. indent < 0 gives the compact form; indent >= 0 puts
/// each element and member on its own line, indented by `indent` spaces per
/// level. Doubles are written in the shortest form that reads back exactly
/// and always with a '.' or exponent, so they read back as non-integers;
/// NaN and infinities, which JSON cannot represent, are written as null.
std::string toJson(const JsonValue &value, int indent = -1);

/// `value` on one line with a space after each ',' and ':' (`{"step": 1,
/// "loss": 2.5}`): the form of JSON-lines logs that people read too.
/// Numbers and non-finite values as in toJson.
std::string toJsonLine(const JsonValue &value);

/// Appends `s` as a quoted JSON string literal to `out`, escaping '"', '\\'
/// and control characters. Other bytes (including UTF-8) are copied as is.
void appendJsonString(std::string &out, std::string_view s);

} // namespace growc::rt

#endif // GROWC_RUNTIME_JSON_H
