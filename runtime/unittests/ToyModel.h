//===- ToyModel.h - A toy artifact for the runtime tests --------*- C++ -*-===//
//
// The toy forward graph that the plan, executor and growc-run tests start
// from: hidden = embed(tokens) (kernel), logits = hidden * lm_head^T (gemm),
// logits += 1 (kernel). Its kernels are in TestKernels.cpp. Tests derive
// invalid plans from it by replacing one exact piece of text, so every entry
// is written so that the text to replace is unique. Also: deterministic
// weights, the reference computation, and a temporary-directory fixture.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_UNITTESTS_TOYMODEL_H
#define GROWC_RUNTIME_UNITTESTS_TOYMODEL_H

#include "growc/runtime/ContentHash.h"
#include "growc/runtime/KernelsFile.h"
#include "growc/runtime/Plan.h"
#include "growc/runtime/Safetensors.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <stdlib.h>

namespace growc::rt::test {

// batch 2, seq 3, vocab 5, hidden 4.
inline constexpr int kBatch = 2, kSeq = 3, kVocab = 5, kDim = 4;

inline const char *const kToyPlan = R"({
  "format": "growc-plan",
  "version": 2,
  "graph": "forward",
  "target": "cpu",
  "model": "toy",
  "kernels_file": "fwd.so",
  "kernels_hash": "xxh3-128:00000000000000000000000000000000",
  "batch": 2,
  "seq": 3,
  "vocab_size": 5,
  "alignment": 64,
  "arena_size": 704,
  "buffers": [
    {"id": 0, "offset": 0, "size": 64},
    {"id": 1, "offset": 64, "size": 128},
    {"id": 2, "offset": 192, "size": 128},
    {"id": 3, "offset": 320, "size": 128},
    {"id": 4, "offset": 448, "size": 128},
    {"id": 5, "offset": 576, "size": 128}
  ],
  "inputs": [{"name": "tokens", "buffer": 0, "dtype": "I32", "shape": [2, 3]}],
  "params": [
    {"name": "model.embed_tokens.weight", "buffer": 1, "dtype": "F32",
     "shape": [5, 4], "source": "model.embed_tokens.weight", "copy": false},
    {"name": "lm_head.weight", "buffer": 2, "dtype": "F32",
     "shape": [5, 4], "source": "lm_head.weight", "copy": true}
  ],
  "outputs": [
    {"name": "logits", "buffer": 5, "dtype": "F32", "shape": [2, 3, 5]},
    {"name": "hidden", "buffer": 3, "dtype": "F32", "shape": [2, 3, 4]}
  ],
  "kernels": [
    {"name": "embed", "symbol": "embed_packed", "blocks": 6,
     "args": [{"dtype": "I32", "shape": [2, 3]},
              {"dtype": "F32", "shape": [5, 4]},
              {"dtype": "F32", "shape": [2, 3, 4]}]},
    {"name": "add_one", "symbol": "add_one_packed", "blocks": 30,
     "args": [{"dtype": "F32", "shape": [30]},
              {"dtype": "F32", "shape": [30]}]}
  ],
  "steps": [
    {"op": "kernel", "kernel": 0, "args": [0, 1, 3]},
    {"op": "gemm", "a": 3, "b": 2, "c": 4, "m": 6, "n": 5, "k": 4,
     "a_offset": 0, "b_offset": 0, "c_offset": 0,
     "trans_a": 0, "trans_b": 1, "beta": 0},
    {"op": "kernel", "kernel": 1, "args": [4, 5]}
  ]
})";

/// The kernels_hash of the tests' plan texts until a fixture binds them to
/// the kernels file it writes (bindPlan).
inline constexpr std::string_view kUnboundHash =
    "xxh3-128:00000000000000000000000000000000";

/// The signature table of the kernels `plan` describes: the kernels file a
/// test writes for its plan is compiled "as the plan says", so that each
/// test still checks what it checked before plans were bound to their
/// kernels ("[]" for a plan that does not parse: it fails before its
/// kernels file is read).
inline std::string kernelTableOf(const std::string &plan) {
  StatusOr<Plan> parsed = parsePlan(plan, "test.plan.json");
  return parsed.isOk() ? serializeKernelTable(parsed->kernels) : "[]";
}

/// `plan` with its kUnboundHash replaced by the content hash of the kernels
/// file at `kernelsPath`, as growc writes it.
inline std::string bindPlan(std::string plan, const std::string &kernelsPath) {
  StatusOr<std::string> hash = hashFile(kernelsPath);
  EXPECT_TRUE(hash.isOk()) << hash.status().message();
  size_t pos = plan.find(kUnboundHash);
  if (hash.isOk() && pos != std::string::npos)
    plan.replace(pos, kUnboundHash.size(), *hash);
  return plan;
}

/// Whether `message` contains `part`, for error-message checks.
inline ::testing::AssertionResult contains(const std::string &message,
                                           const std::string &part) {
  if (message.find(part) != std::string::npos)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "message '" << message << "' lacks '" << part << "'";
}

/// `text` with the single occurrence of `from` replaced by `to`; a test
/// failure if `from` does not occur exactly once (so that a typo in a test
/// does not silently test the valid plan).
inline std::string replaceOnce(std::string text, std::string_view from,
                               std::string_view to) {
  size_t pos = text.find(from);
  if (pos == std::string::npos ||
      text.find(from, pos + 1) != std::string::npos) {
    ADD_FAILURE() << "'" << from << "' does not occur exactly once";
    return text;
  }
  return text.replace(pos, from.size(), to);
}

/// Deterministic parameters of the toy model.
struct ToyWeights {
  std::vector<float> embed; // [kVocab, kDim]
  std::vector<float> head;  // [kVocab, kDim]

  explicit ToyWeights(unsigned seed = 1) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (int i = 0; i < kVocab * kDim; ++i)
      embed.push_back(dist(rng));
    for (int i = 0; i < kVocab * kDim; ++i)
      head.push_back(dist(rng));
  }

  /// The checkpoint tensors, named as the toy plan's parameters.
  std::vector<TensorToWrite> tensors() const {
    return {{"model.embed_tokens.weight",
             DType::F32,
             {kVocab, kDim},
             embed.data(),
             embed.size() * sizeof(float)},
            {"lm_head.weight",
             DType::F32,
             {kVocab, kDim},
             head.data(),
             head.size() * sizeof(float)}};
  }
};

/// What the toy graph computes for tokens [b, t], by the definition.
struct ToyReference {
  std::vector<float> hidden; // [b, t, kDim]
  std::vector<float> logits; // [b, t, kVocab]
};

inline ToyReference toyReference(const ToyWeights &w,
                                 const std::vector<int32_t> &tokens) {
  ToyReference ref;
  for (int32_t token : tokens) {
    for (int d = 0; d < kDim; ++d)
      ref.hidden.push_back(w.embed[token * kDim + d]);
    for (int v = 0; v < kVocab; ++v) {
      double dot = 0;
      for (int d = 0; d < kDim; ++d)
        dot += double(w.embed[token * kDim + d]) * w.head[v * kDim + d];
      ref.logits.push_back(float(dot) + 1.0f);
    }
  }
  return ref;
}

/// A fresh directory per test, removed afterwards.
class TempDirTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "growc-runtime-test-XXXXXX")
            .string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  std::string file(const std::string &name) const {
    return (std::filesystem::path(dir) / name).string();
  }
  void writeText(const std::string &name, const std::string &contents) const {
    std::ofstream out(file(name), std::ios::binary);
    out << contents;
    ASSERT_TRUE(out.good()) << "cannot write " << file(name);
  }
  /// Writes the test kernels as fwd.so, with the signature table of
  /// `plan`'s kernels (TestKernels.cpp's placeholder, overwritten in the
  /// copy), and `plan` bound to it as fwd.plan.json; the plan is also
  /// fwd.so.plan.json, where `growc-run CMD fwd.so` looks.
  void writeArtifact(const std::string &plan = kToyPlan) const {
    std::ifstream in(GROWC_TEST_KERNELS_PATH, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)),
                      std::istreambuf_iterator<char>());
    const std::string_view placeholder = "GROWC_TEST_KERNEL_SIGNATURES";
    size_t pos = bytes.find(placeholder);
    ASSERT_NE(pos, std::string::npos) << "the test kernels have no table";
    std::string table = kernelTableOf(plan);
    ASSERT_LT(table.size(), size_t(16384)) << "TestKernels.cpp's table size";
    bytes.replace(pos, table.size() + 1, table + '\0');
    // Write, then rename over fwd.so: rewriting a shared object in place
    // would change the code of a copy that an earlier executor of the same
    // test still has mapped.
    writeText("fwd.so.tmp", bytes);
    std::error_code ec;
    std::filesystem::rename(file("fwd.so.tmp"), file("fwd.so"), ec);
    ASSERT_FALSE(ec) << "cannot rename the test kernels: " << ec.message();
    writeText("fwd.plan.json", bindPlan(plan, file("fwd.so")));
    writeText("fwd.so.plan.json", bindPlan(plan, file("fwd.so")));
  }
  /// Writes a PTX kernels file `ptxName` for the fake driver (which
  /// compiles nothing) carrying the signature table of `plan`'s kernels,
  /// and `plan` bound to it as `planName`.
  void writePtxArtifact(const std::string &planName, const std::string &plan,
                        const std::string &ptxName = "fwd.ptx") const {
    writeText(ptxName, "// the fake driver compiles nothing\n" +
                           ptxSignatureLine(kernelTableOf(plan)));
    writeText(planName, bindPlan(plan, file(ptxName)));
  }
  void writeTensors(const std::string &name,
                    const std::vector<TensorToWrite> &tensors) const {
    Status status = writeSafetensors(file(name), tensors);
    ASSERT_TRUE(status.isOk()) << status.message();
  }

  std::string dir;
};

/// An int32 [batch, seq] view of `data` named `name` (tokens, targets).
inline TensorView int32View(const std::vector<int32_t> &data,
                            const char *name) {
  return TensorView{name,
                    DType::I32,
                    {kBatch, kSeq},
                    reinterpret_cast<const uint8_t *>(data.data()),
                    data.size() * sizeof(int32_t)};
}

/// The CUDA executor tests' fixture: the cuBLASLt algorithm cache goes to
/// the test's directory.
class CudaCacheDirTest : public TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    ::setenv("GROWC_CACHE_DIR", dir.c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("GROWC_CACHE_DIR");
    TempDirTest::TearDown();
  }
};

inline const char *const kEmbedLaunch =
    R"("launch": {"grid": [6, 1, 1], "block": [256, 1, 1], "params": [0, 2, 1]},)";
inline const char *const kAddOneLaunch =
    R"("launch": {"grid": [1, 2, 3], "block": [32, 4, 1], "params": [1, 0]},)";

/// The toy plan as an nvptx artifact, with `embedLaunch` and `addOneLaunch`
/// spliced into its two kernels.
inline std::string gpuPlan(const std::string &embedLaunch = kEmbedLaunch,
                           const std::string &addOneLaunch = kAddOneLaunch) {
  std::string text =
      replaceOnce(kToyPlan, R"("target": "cpu")", R"("target": "nvptx")");
  text = replaceOnce(
      text, R"("name": "embed", "symbol": "embed_packed", "blocks": 6,)",
      R"("name": "embed", "symbol": "embed",)" + embedLaunch);
  return replaceOnce(
      text, R"("name": "add_one", "symbol": "add_one_packed", "blocks": 30,)",
      R"("name": "add_one", "symbol": "add_one",)" + addOneLaunch);
}

} // namespace growc::rt::test

#endif // GROWC_RUNTIME_UNITTESTS_TOYMODEL_H
