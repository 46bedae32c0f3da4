//===- Text.cpp - small text helpers for runtime messages -----------------===//

#include "growc/runtime/Text.h"

#include "growc/runtime/Json.h"

namespace growc::rt {

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
