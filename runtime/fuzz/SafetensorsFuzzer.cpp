//===- SafetensorsFuzzer.cpp - libFuzzer target: the safetensors reader ---===//
//
// Feeds arbitrary bytes to SafetensorsFile::fromBytes, the validator behind
// every checkpoint and batch file the runtime opens. Checks that it never
// crashes or reads out of bounds (ASan, UBSan), and that what it accepts
// keeps the promises of Safetensors.h: each tensor's bytes lie inside the
// file's data buffer, its byte size is its element count times the dtype's
// size, the tensors are sorted by name and find() returns each of them.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Safetensors.h"

#include <cstdint>
#include <cstdlib>
#include <vector>

using namespace growc::rt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  StatusOr<SafetensorsFile> file = SafetensorsFile::fromBytes(
      std::vector<uint8_t>(data, data + size), "fuzz.safetensors");
  if (!file.isOk())
    return 0;
  const std::vector<TensorView> &tensors = file->tensors();
  unsigned checksum = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorView &tensor = tensors[i];
    int64_t elements = tensor.numElements();
    if (elements < 0 || tensor.byteSize != static_cast<size_t>(elements) *
                                               dtypeSize(tensor.dtype))
      std::abort();
    if (i > 0 && !(tensors[i - 1].name < tensor.name))
      std::abort();
    if (file->find(tensor.name) != &tensor)
      std::abort();
    // Touch every byte: ASan reports a view that points outside the image.
    for (size_t b = 0; b < tensor.byteSize; ++b)
      checksum += tensor.data[b];
  }
  for (const auto &[key, value] : file->metadata())
    checksum += key.size() + value.size();
  // Keeps the reads from being optimized away.
  volatile unsigned sink = checksum;
  (void)sink;
  return 0;
}
