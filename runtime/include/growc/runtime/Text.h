//===- Text.h - small text helpers for runtime messages ---------*- C++ -*-===//
//
// Shapes and JSON snippets as they appear in error messages and headers,
// written once for the formats library, the executor and growc-run.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TEXT_H
#define GROWC_RUNTIME_TEXT_H

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace growc::rt {

class JsonValue;

/// "[2, 3]" for messages; pass "," for the compact "[2,3]" of safetensors
/// headers.
std::string formatShape(const std::vector<int64_t> &shape,
                        const char *separator = ", ");

/// printf into a std::string (any length).
std::string printfString(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

/// "'name'".
inline std::string inQuotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

/// A JSON value for an error message, shortened so that a hostile file
/// cannot produce a megabyte-long message.
std::string describeJson(const JsonValue &value);

} // namespace growc::rt

#endif // GROWC_RUNTIME_TEXT_H
