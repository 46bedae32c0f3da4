//===- SafetensorsFuzzer.cpp - libFuzzer target: the safetensors reader ---===//
//
// Feeds arbitrary bytes to SafetensorsFile::fromBytes, the validator behind
// every checkpoint and batch file the runtime opens. Checks that it never
// crashes or reads out of bounds (ASan, UBSan), and that what it accepts
// keeps the promises of Safetensors.h: each tensor's bytes lie inside the
// file's data buffer, its byte size is its element count times the dtype's
// size, the tensors are sorted by name and find() returns each of them.
// The same bytes, as text, go to parseCheckpointIndex (the sharded
// checkpoints' model.safetensors.index.json), whose entries must be sorted,
// unique and name shards inside the index's directory.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Checkpoint.h"
#include "growc/runtime/Safetensors.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using namespace growc::rt;

/// The promises of parseCheckpointIndex for what it accepts.
static void checkIndex(const uint8_t *data, size_t size) {
  StatusOr<std::vector<CheckpointIndexEntry>> entries = parseCheckpointIndex(
      std::string_view(reinterpret_cast<const char *>(data), size),
      "fuzz.index.json");
  if (!entries.isOk())
    return;
  for (size_t i = 0; i < entries->size(); ++i) {
    const std::string &shard = (*entries)[i].shard;
    if (i > 0 && !((*entries)[i - 1].tensor < (*entries)[i].tensor))
      std::abort();
    if (shard.empty() || shard[0] == '/' || shard == ".." ||
        shard.rfind("../", 0) == 0 || shard.find("/../") != std::string::npos ||
        (shard.size() >= 3 && shard.compare(shard.size() - 3, 3, "/..") == 0))
      std::abort();
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  checkIndex(data, size);
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
