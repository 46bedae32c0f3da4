//===- Options.h - command-line option helpers of growc-run -----*- C++ -*-===//
//
// What every growc-run command parses the same way: `--name=value` or
// `--name value`, bounded integers, and depth ranges (`K` or `MIN-MAX`).
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TOOLS_GROWC_RUN_OPTIONS_H
#define GROWC_RUNTIME_TOOLS_GROWC_RUN_OPTIONS_H

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace growc::rt {

/// Splits `--name=value` (shortening `name`) or takes the value from the
/// next argument (advancing `i`); nothing if there is none.
inline std::optional<std::string>
optionValue(const std::vector<std::string_view> &args, size_t &i,
            std::string_view &name) {
  if (size_t eq = name.find('='); eq != std::string_view::npos) {
    std::string value(name.substr(eq + 1));
    name = name.substr(0, eq);
    return value;
  }
  if (i + 1 < args.size())
    return std::string(args[++i]);
  return std::nullopt;
}

/// A whole decimal integer in [min, max].
template <typename Int>
bool parseInteger(const std::string &text, long long min, long long max,
                  Int &out) {
  char *end = nullptr;
  errno = 0;
  long long n = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno || n < min || n > max)
    return false;
  out = static_cast<Int>(n);
  return true;
}

/// `K` or `MIN-MAX` with 0 <= MIN <= MAX <= maxDepth.
inline bool parseDepthRange(const std::string &text, long maxDepth,
                            long &minDepth, long &maxOut) {
  int a = 0, b = 0, used = 0;
  if (std::sscanf(text.c_str(), "%d-%d%n", &a, &b, &used) == 2 &&
      size_t(used) == text.size()) {
    minDepth = a;
    maxOut = b;
  } else if (parseInteger(text, 0, maxDepth, minDepth)) {
    maxOut = minDepth;
  } else {
    return false;
  }
  return 0 <= minDepth && minDepth <= maxOut && maxOut <= maxDepth;
}

} // namespace growc::rt

#endif // GROWC_RUNTIME_TOOLS_GROWC_RUN_OPTIONS_H
