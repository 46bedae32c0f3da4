//===- TokenFileFuzzer.cpp - libFuzzer target: the token-file readers -----===//
//
// Feeds arbitrary bytes to the readers behind `growc-run train --data`
// (runtime/lib/Data.cpp, TokenFiles.cpp): the first byte picks the format
// (headerless uint16/uint32, an llm.c shard, text) and the vocabulary
// size, the rest is the file (written to /dev/shm, since the
// readers take paths) or, for the last format, the data spec itself
// (primitives:NAME[:MIN-MAX][:answers] and mixes of them; specs naming files
// are skipped, so an input never opens an arbitrary path). Checks that
// opening never crashes (ASan, UBSan) and that an opened stream gives
// batches of tokens and targets inside the vocabulary, and the same batch
// again after seeking back to where it was.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Data.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

using namespace growc::rt;

namespace {
constexpr int64_t kBatch = 2, kSeq = 7;

/// A stream's next batch (tokens, then targets).
std::vector<int32_t> nextBatch(TokenStream &stream) {
  std::vector<int32_t> batch(2 * kBatch * kSeq);
  stream.nextBatch(kBatch, kSeq, batch.data(), batch.data() + kBatch * kSeq);
  return batch;
}

/// Aborts (a finding) unless `stream` yields in-vocabulary batches and
/// replays one after a seek. Targets may also be the ignore index (-100),
/// which the primitive streams use for prompt positions.
void checkStream(TokenStream &stream, int64_t vocabSize) {
  nextBatch(stream);
  uint64_t position = stream.position();
  std::vector<int32_t> first = nextBatch(stream);
  for (size_t i = 0; i < first.size(); ++i) {
    bool target = i >= size_t(kBatch * kSeq);
    if ((first[i] < 0 || first[i] >= vocabSize) &&
        !(target && first[i] == -100))
      std::abort();
  }
  stream.seek(position);
  if (nextBatch(stream) != first)
    std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  // Vocabulary sizes around the formats' limits: the byte tokenizer's, u16's
  // range, and one that small token values already exceed.
  static const int64_t kVocabSizes[] = {ByteTokenizer::kVocabSize, 65536, 3,
                                        int64_t(1) << 31};
  int64_t vocabSize = kVocabSizes[(data[0] >> 2) % 4];
  std::string body(reinterpret_cast<const char *>(data + 1), size - 1);
  std::string spec;
  static const std::string path =
      "/dev/shm/growc-fuzz-tokens." + std::to_string(::getpid());
  // Bit 4 reads the file as an llm.c shard (its header says the width).
  const bool llmc = data[0] & 0x10;
  switch (data[0] % 4) {
  case 0:
    spec = (llmc ? "tokens:" : "u16:") + path;
    break;
  case 1:
    spec = (llmc ? "tokens:" : "u32:") + path;
    break;
  case 2:
    spec = "text:" + path;
    // Text is tokenized bytewise, whatever vocabulary the model has.
    vocabSize = ByteTokenizer::kVocabSize;
    break;
  default:
    for (const char *kind : {"text:", "u16:", "u32:", "tokens:"})
      if (body.find(kind) != std::string::npos)
        return 0;
    spec = body;
    vocabSize = ByteTokenizer::kVocabSize;
    break;
  }
  if (data[0] % 4 != 3) {
    std::FILE *file = std::fopen(path.c_str(), "wb");
    if (!file || std::fwrite(body.data(), 1, body.size(), file) != body.size())
      std::abort(); // The harness, not the reader: /dev/shm must work.
    std::fclose(file);
  }
  StatusOr<std::unique_ptr<TokenStream>> stream =
      openDataSpec(spec, /*seed=*/data[0], vocabSize);
  if (data[0] % 4 != 3)
    std::remove(path.c_str());
  if (stream.isOk())
    checkStream(**stream, vocabSize);
  return 0;
}
