//===- ReplayMain.cpp - Runs a fuzz target on files, without libFuzzer ----===//
//
// In a normal build (GROWC_FUZZ off) each fuzz target is linked with this
// main instead of libFuzzer's, so that the lit suite replays the seed
// corpora and the inputs the fuzzers found (test/Fuzz/replay.test) with
// the same checks, on the ordinary binaries: a crash found once stays a
// test. Usage mirrors libFuzzer's: growc-fuzz-<name> FILE|DIR... runs
// every file given and every file in every directory given, in name order.
//
//===----------------------------------------------------------------------===//

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
// Optional, as in libFuzzer.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int *argc,
                                                          char ***argv);

int main(int argc, char **argv) {
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::error_code error;
    if (!fs::is_directory(argv[i], error)) {
      files.push_back(argv[i]);
      continue;
    }
    std::vector<std::string> entries;
    for (const fs::directory_entry &entry : fs::directory_iterator(argv[i]))
      if (entry.is_regular_file())
        entries.push_back(entry.path().string());
    std::sort(entries.begin(), entries.end());
    files.insert(files.end(), entries.begin(), entries.end());
  }
  for (const std::string &file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot open %s\n", argv[0], file.c_str());
      return 1;
    }
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    // Named before running, so that a crash's output says which input.
    std::fprintf(stderr, "replaying %s\n", file.c_str());
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  }
  std::printf("replayed %zu inputs\n", files.size());
  return 0;
}
