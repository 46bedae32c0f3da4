//===- JsonFuzzer.cpp - libFuzzer target: the runtime's JSON parser -------===//
//
// Feeds arbitrary text to parseJson (runtime/lib/Json.cpp), which reads
// every plan, safetensors header, manifest and checkpoint option the runtime
// sees. Checks that it never crashes, overflows the stack or reads out of
// bounds (ASan, UBSan), and that the writer and parser agree: whatever
// parses is written by toJson (compact and indented) as text that parses back
// to an equal value, and writing that value again gives the same text.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Json.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace growc::rt;

namespace {
/// Aborts (a finding) unless `text`, written by toJson from `value`, parses
/// back to `value` and is written again unchanged.
void checkRoundTrip(const JsonValue &value, int indent) {
  std::string text = toJson(value, indent);
  StatusOr<JsonValue> again = parseJson(text);
  if (!again.isOk() || *again != value || toJson(*again, indent) != text)
    std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  StatusOr<JsonValue> value =
      parseJson(std::string_view(reinterpret_cast<const char *>(data), size));
  if (!value.isOk())
    return 0;
  checkRoundTrip(*value, -1);
  checkRoundTrip(*value, 2);
  return 0;
}
