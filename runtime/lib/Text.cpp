//===- Text.cpp - small text helpers for runtime messages -----------------===//

#include "growc/runtime/Text.h"

#include "growc/runtime/Json.h"

#include <cstdarg>
#include <cstdio>

namespace growc::rt {

std::string printfString(const char *format, ...) {
  va_list args, again;
  va_start(args, format);
  va_copy(again, args);
  int size = std::vsnprintf(nullptr, 0, format, args);
  va_end(args);
  std::string text(size > 0 ? size_t(size) : 0, '\0');
  if (size > 0)
    std::vsnprintf(text.data(), text.size() + 1, format, again);
  va_end(again);
  return text;
}

std::string formatShape(const std::vector<int64_t> &shape,
                        const char *separator) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += separator;
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string describeJson(const JsonValue &value) {
  std::string s = toJson(value);
  if (s.size() > 64)
    s = s.substr(0, 60) + " ...";
  return s;
}

} // namespace growc::rt
