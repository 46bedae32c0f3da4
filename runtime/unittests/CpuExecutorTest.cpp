//===- CpuExecutorTest.cpp - Tests for the CPU executor -------------------===//
//
// End-to-end runs of the toy artifact (ToyModel.h, kernels from
// TestKernels.cpp) checked against the reference computed here, a GEMM
// checked against a naive triple loop, the adamw step against the
// docs/plan.md semantics written out per tensor, and the executor's errors:
// kernels file and symbols, checkpoints, tokens, and plans it cannot run.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/CpuExecutor.h"
#include "growc/runtime/Text.h"

#include "AdamWPlan.h"
#include "AdamWReference.h"
#include "ToyModel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace growc::rt;
using namespace growc::rt::test;

namespace {

/// A hand-built int32 tensor view over `data`.
TensorView tokensView(const std::vector<int32_t> &data,
                      std::vector<int64_t> shape) {
  return TensorView{"tokens", DType::I32, std::move(shape),
                    reinterpret_cast<const uint8_t *>(data.data()),
                    data.size() * sizeof(int32_t)};
}

void expectNear(const std::vector<float> &actual,
                const std::vector<float> &expected, const char *what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], 1e-5f) << what << "[" << i << "]";
}

class CpuExecutorTest : public TempDirTest {
protected:
  /// Writes the artifact (with `plan`) and loads it through its kernels
  /// file's name.
  std::unique_ptr<CpuExecutor> load(const std::string &plan = kToyPlan,
                                    int threads = 0) {
    writeArtifact(plan);
    StatusOr<std::unique_ptr<CpuExecutor>> executor =
        CpuExecutor::load(file("fwd.so"), threads);
    EXPECT_TRUE(executor.isOk()) << executor.status().message();
    return executor.isOk() ? std::move(*executor) : nullptr;
  }

  /// Loading the artifact with `plan` must fail with a message containing
  /// every string of `expected`.
  void expectLoadFails(const std::string &plan,
                       const std::vector<std::string> &expected) {
    writeArtifact(plan);
    StatusOr<std::unique_ptr<CpuExecutor>> executor =
        CpuExecutor::load(file("fwd.plan.json"));
    ASSERT_FALSE(executor.isOk());
    for (const std::string &part : expected)
      EXPECT_TRUE(contains(executor.status().message(), part));
  }

  /// Writes `tensors` as a checkpoint and opens it.
  SafetensorsFile checkpoint(const std::vector<TensorToWrite> &tensors) {
    writeTensors("weights.safetensors", tensors);
    StatusOr<SafetensorsFile> file =
        SafetensorsFile::open(this->file("weights.safetensors"));
    EXPECT_TRUE(file.isOk()) << file.status().message();
    return std::move(*file);
  }

  /// Loading `tensors` as parameters must fail with a message containing
  /// every string of `expected`.
  void expectParamsRejected(const std::vector<TensorToWrite> &tensors,
                            const std::vector<std::string> &expected) {
    std::unique_ptr<CpuExecutor> executor = load();
    ASSERT_TRUE(executor);
    Status status = executor->loadParams(checkpoint(tensors));
    ASSERT_FALSE(status.isOk());
    for (const std::string &part : expected)
      EXPECT_TRUE(contains(status.message(), part));
  }

  /// A toy executor with `weights` loaded.
  std::unique_ptr<CpuExecutor> loaded(const ToyWeights &weights,
                                      int threads = 0) {
    std::unique_ptr<CpuExecutor> executor = load(kToyPlan, threads);
    if (!executor)
      return nullptr;
    Status status = executor->loadParams(checkpoint(weights.tensors()));
    EXPECT_TRUE(status.isOk()) << status.message();
    return status.isOk() ? std::move(executor) : nullptr;
  }

  /// The toy artifact with `input` (a plan input's JSON) after `tokens`,
  /// with `weights` loaded.
  std::unique_ptr<CpuExecutor> loadedWithInput(const std::string &input,
                                               const ToyWeights &weights) {
    std::string plan = replaceOnce(
        kToyPlan,
        R"("inputs": [{"name": "tokens", "buffer": 0, "dtype": "I32", "shape": [2, 3]}],)",
        R"("inputs": [{"name": "tokens", "buffer": 0, "dtype": "I32", "shape": [2, 3]}, )" +
            input + "],");
    std::unique_ptr<CpuExecutor> executor = load(plan);
    if (!executor)
      return nullptr;
    Status status = executor->loadParams(checkpoint(weights.tensors()));
    EXPECT_TRUE(status.isOk()) << status.message();
    return status.isOk() ? std::move(executor) : nullptr;
  }

  /// Running the toy model on `tokens` of `shape` must fail with a message
  /// containing every string of `expected`.
  void expectTokensRejected(const std::vector<int32_t> &tokens,
                            std::vector<int64_t> shape,
                            const std::vector<std::string> &expected) {
    std::unique_ptr<CpuExecutor> executor = loaded(ToyWeights());
    ASSERT_TRUE(executor);
    TensorView view = tokensView(tokens, std::move(shape));
    auto result = executor->forward(view);
    ASSERT_FALSE(result.isOk());
    for (const std::string &part : expected)
      EXPECT_TRUE(contains(result.status().message(), part));
    EXPECT_FALSE(executor->checkTokens(view).isOk());
  }
};

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

TEST_F(CpuExecutorTest, ForwardMatchesReference) {
  ToyWeights weights;
  std::unique_ptr<CpuExecutor> executor = loaded(weights);
  ASSERT_TRUE(executor);
  std::vector<int32_t> tokens = {0, 4, 2, 3, 3, 1};
  auto outputs = executor->forward(tokensView(tokens, {kBatch, kSeq}));
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  ASSERT_EQ(outputs->size(), 2u);

  ToyReference ref = toyReference(weights, tokens);
  const OutputTensor &logits = outputs->at("logits");
  EXPECT_EQ(logits.shape, (std::vector<int64_t>{kBatch, kSeq, kVocab}));
  expectNear(logits.toVector(), ref.logits, "logits");
  // The full compiled shape is returned in place, without a copy.
  EXPECT_TRUE(logits.sliced.empty());
  EXPECT_EQ(logits.numElements, kBatch * kSeq * kVocab);
  const OutputTensor &hidden = outputs->at("hidden");
  EXPECT_EQ(hidden.shape, (std::vector<int64_t>{kBatch, kSeq, kDim}));
  expectNear(hidden.toVector(), ref.hidden, "hidden");

  const ExecutorTimings &timings = executor->timings();
  EXPECT_EQ(timings.kernel.calls, 2);
  EXPECT_EQ(timings.gemm.calls, 1);
  EXPECT_GE(timings.gemm.seconds, 0.0);
  executor->resetTimings();
  EXPECT_EQ(executor->timings().kernel.calls, 0);
}

// Kernel blocks and GEMM rows split over 1, 2, 3 and 7 threads (more
// threads than the GEMM's 6 rows) give the reference result each time.
TEST_F(CpuExecutorTest, ThreadCountsGiveTheSameOutputs) {
  ToyWeights weights;
  std::vector<int32_t> tokens = {2, 0, 1, 4, 3, 3};
  ToyReference ref = toyReference(weights, tokens);
  for (int threads : {1, 2, 3, 7}) {
    std::unique_ptr<CpuExecutor> executor = loaded(weights, threads);
    ASSERT_TRUE(executor);
    EXPECT_EQ(executor->threads(), threads);
    auto outputs = executor->forward(tokensView(tokens, {kBatch, kSeq}));
    ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
    expectNear(outputs->at("logits").toVector(), ref.logits, "logits");
    expectNear(outputs->at("hidden").toVector(), ref.hidden, "hidden");
  }
}

TEST_F(CpuExecutorTest, RepeatedRunsReuseTheArena) {
  ToyWeights weights;
  std::unique_ptr<CpuExecutor> executor = loaded(weights);
  ASSERT_TRUE(executor);
  std::vector<int32_t> first = {1, 1, 1, 1, 1, 1};
  std::vector<int32_t> second = {4, 3, 2, 1, 0, 4};
  ASSERT_TRUE(executor->forward(tokensView(first, {kBatch, kSeq})).isOk());
  auto outputs = executor->forward(tokensView(second, {kBatch, kSeq}));
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  expectNear(outputs->at("logits").toVector(),
             toyReference(weights, second).logits, "logits");
}

TEST_F(CpuExecutorTest, FewerTokensArePaddedAndOutputsSliced) {
  ToyWeights weights;
  std::unique_ptr<CpuExecutor> executor = loaded(weights);
  ASSERT_TRUE(executor);
  // Leave other tokens in the input buffer first: the small run must not
  // see them.
  std::vector<int32_t> full = {4, 4, 4, 4, 4, 4};
  ASSERT_TRUE(executor->forward(tokensView(full, {kBatch, kSeq})).isOk());

  std::vector<int32_t> tokens = {2, 3};
  auto outputs = executor->forward(tokensView(tokens, {1, 2}));
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  ToyReference ref = toyReference(weights, tokens);
  EXPECT_EQ(outputs->at("logits").shape, (std::vector<int64_t>{1, 2, kVocab}));
  EXPECT_EQ(outputs->at("logits").sliced.size(), size_t(2 * kVocab));
  EXPECT_EQ(outputs->at("logits").data, outputs->at("logits").sliced.data());
  expectNear(outputs->at("logits").toVector(), ref.logits, "logits");
  EXPECT_EQ(outputs->at("hidden").shape, (std::vector<int64_t>{1, 2, kDim}));
  expectNear(outputs->at("hidden").toVector(), ref.hidden, "hidden");

  // Two rows of one token: the rows are strided in the compiled output.
  std::vector<int32_t> column = {1, 3};
  outputs = executor->forward(tokensView(column, {2, 1}));
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  EXPECT_EQ(outputs->at("logits").shape, (std::vector<int64_t>{2, 1, kVocab}));
  expectNear(outputs->at("logits").toVector(),
             toyReference(weights, column).logits, "logits");
}

TEST_F(CpuExecutorTest, GemmMatchesNaiveLoop) {
  // C[m, n] = op(A) * op(B) with A and B as parameters and sizes that are
  // not multiples of any vector width, then C += op(A) * op(B) (beta 1), in
  // each storage layout (A [m, k] or [k, m], B [n, k] or [k, n]) and over
  // three threads, so row splits of a transposed A are covered.
  for (auto [transA, transB] :
       {std::pair{0, 1}, std::pair{1, 1}, std::pair{0, 0}, std::pair{1, 0}}) {
    SCOPED_TRACE("trans_a " + std::to_string(transA) + ", trans_b " +
                 std::to_string(transB));
    const int64_t m = 37, n = 29, k = 53;
    auto padded = [](int64_t bytes) { return (bytes + 63) / 64 * 64; };
    const int64_t aOff = 64, bOff = aOff + padded(m * k * 4),
                  cOff = bOff + padded(n * k * 4),
                  arena = cOff + padded(m * n * 4);
    auto num = [](int64_t v) { return std::to_string(v); };
    std::string plan =
        R"({"format": "growc-plan", "version": 2,
    "kernels_hash": "xxh3-128:00000000000000000000000000000000", "graph": "forward",
      "target": "cpu", "model": "gemm", "kernels_file": "fwd.so",
      "batch": 1, "seq": 1, "vocab_size": 2, "alignment": 64,
      "arena_size": )" +
        num(arena) + R"(, "buffers": [{"id": 0, "offset": 0, "size": 64},
        {"id": 1, "offset": )" +
        num(aOff) + R"(, "size": )" + num(m * k * 4) +
        R"(}, {"id": 2, "offset": )" + num(bOff) + R"(, "size": )" +
        num(n * k * 4) + R"(}, {"id": 3, "offset": )" + num(cOff) +
        R"(, "size": )" + num(m * n * 4) + R"(}],
      "inputs": [{"name": "tokens", "buffer": 0, "dtype": "I32", "shape": [1, 1]}],
      "params": [
        {"name": "a", "buffer": 1, "dtype": "F32", "shape": [)" +
        (transA ? num(k) + ", " + num(m) : num(m) + ", " + num(k)) +
        R"(], "source": "a", "copy": false},
        {"name": "b", "buffer": 2, "dtype": "F32", "shape": [)" +
        (transB ? num(n) + ", " + num(k) : num(k) + ", " + num(n)) +
        R"(], "source": "b", "copy": false}],
      "outputs": [{"name": "c", "buffer": 3, "dtype": "F32", "shape": [)" +
        num(m) + ", " + num(n) + R"(]}],
      "kernels": [],
      "steps": [{"op": "gemm", "a": 1, "b": 2, "c": 3,
        "a_offset": 0, "b_offset": 0, "c_offset": 0, "m": )" +
        num(m) + R"(, "n": )" + num(n) + R"(, "k": )" + num(k) +
        R"(, "trans_a": )" + num(transA) + R"(, "trans_b": )" + num(transB) +
        R"(, "beta": 0},
        {"op": "gemm", "a": 1, "b": 2, "c": 3,
        "a_offset": 0, "b_offset": 0, "c_offset": 0, "m": )" +
        num(m) + R"(, "n": )" + num(n) + R"(, "k": )" + num(k) +
        R"(, "trans_a": )" + num(transA) + R"(, "trans_b": )" + num(transB) +
        R"(, "beta": 1}]})";

    std::mt19937 rng(7);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> a(m * k), b(n * k);
    for (float &x : a)
      x = dist(rng);
    for (float &x : b)
      x = dist(rng);
    std::vector<float> expected(m * n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t l = 0; l < k; ++l)
          sum += double(a[transA ? l * m + i : i * k + l]) *
                 b[transB ? j * k + l : l * n + j];
        // The second, accumulating GEMM (beta 1) adds the product again.
        expected[i * n + j] = float(2 * sum);
      }

    std::unique_ptr<CpuExecutor> executor = load(plan, /*threads=*/3);
    ASSERT_TRUE(executor);
    std::vector<int64_t> aShape =
        transA ? std::vector<int64_t>{k, m} : std::vector<int64_t>{m, k};
    std::vector<int64_t> bShape =
        transB ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n};
    Status status = executor->loadParams(
        checkpoint({{"a", DType::F32, aShape, a.data(), a.size() * 4},
                    {"b", DType::F32, bShape, b.data(), b.size() * 4}}));
    ASSERT_TRUE(status.isOk()) << status.message();
    std::vector<int32_t> tokens = {1};
    auto outputs = executor->forward(tokensView(tokens, {1, 1}));
    ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
    // Not laid out per token: returned whole, in the plan's shape.
    EXPECT_EQ(outputs->at("c").shape, (std::vector<int64_t>{m, n}));
    ASSERT_EQ(static_cast<size_t>(outputs->at("c").numElements),
              expected.size());
    for (size_t i = 0; i < expected.size(); ++i)
      EXPECT_NEAR(outputs->at("c").data[i], expected[i], 1e-4f)
          << "c[" << i << "]";

    // ... and cannot be cut down to fewer tokens.
    std::vector<int32_t> none;
    auto sliced = executor->forward(tokensView(none, {0, 0}));
    ASSERT_FALSE(sliced.isOk());
    EXPECT_TRUE(
        contains(sliced.status().message(),
                 "output 'c' of shape [37, 29] is not [batch, seq, ...]"));
  }
}

TEST_F(CpuExecutorTest, Bf16GemmsWidenAndRound) {
  // Mixed precision (--precision=bf16): T = A·Bᵀ with bf16 A, B and a bf16
  // T, then the fp32 C = T·Dᵀ. Products are summed in fp32 and T is rounded
  // to nearest even once, so C must equal a float64 loop over the bf16
  // values with T rounded the same way.
  const int64_t m = 5, n = 7, k = 9, p = 3;
  auto toBf16 = [](float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return uint16_t(bits >> 16);
  };
  auto toFloat = [](uint16_t h) {
    uint32_t bits = uint32_t(h) << 16;
    float x;
    std::memcpy(&x, &bits, 4);
    return x;
  };
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<uint16_t> a(m * k), b(n * k), d(p * n);
  for (std::vector<uint16_t> *v : {&a, &b, &d})
    for (uint16_t &x : *v)
      x = toBf16(dist(rng));
  std::vector<double> expected(m * p, 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double t = 0;
      for (int64_t l = 0; l < k; ++l)
        t += double(toFloat(a[i * k + l])) * toFloat(b[j * k + l]);
      float rounded = toFloat(toBf16(float(t)));
      for (int64_t q = 0; q < p; ++q)
        expected[i * p + q] += double(rounded) * toFloat(d[q * n + j]);
    }
  std::string plan = R"({"format": "growc-plan", "version": 2,
    "kernels_hash": "xxh3-128:00000000000000000000000000000000",
    "graph": "forward", "target": "cpu", "model": "gemm",
    "kernels_file": "fwd.so", "batch": 1, "seq": 1, "vocab_size": 2,
    "alignment": 64, "arena_size": 576,
    "buffers": [{"id": 0, "offset": 0, "size": 64},
      {"id": 1, "offset": 64, "size": 90}, {"id": 2, "offset": 192, "size": 126},
      {"id": 3, "offset": 320, "size": 42}, {"id": 4, "offset": 384, "size": 60},
      {"id": 5, "offset": 448, "size": 70}],
    "inputs": [{"name": "tokens", "buffer": 0, "dtype": "I32", "shape": [1, 1]}],
    "params": [
      {"name": "a", "buffer": 1, "dtype": "BF16", "shape": [5, 9], "source": "a", "copy": false},
      {"name": "b", "buffer": 2, "dtype": "BF16", "shape": [7, 9], "source": "b", "copy": false},
      {"name": "d", "buffer": 3, "dtype": "BF16", "shape": [3, 7], "source": "d", "copy": false}],
    "outputs": [{"name": "c", "buffer": 4, "dtype": "F32", "shape": [5, 3]}],
    "kernels": [],
    "steps": [{"op": "gemm", "a": 1, "b": 2, "c": 5, "a_offset": 0,
      "b_offset": 0, "c_offset": 0, "m": 5, "n": 7, "k": 9, "trans_a": 0,
      "trans_b": 1, "beta": 0, "a_dtype": "BF16", "b_dtype": "BF16",
      "c_dtype": "BF16", "compute": "F32"},
      {"op": "gemm", "a": 5, "b": 3, "c": 4, "a_offset": 0,
      "b_offset": 0, "c_offset": 0, "m": 5, "n": 3, "k": 7, "trans_a": 0,
      "trans_b": 1, "beta": 0, "a_dtype": "BF16", "b_dtype": "BF16",
      "c_dtype": "F32", "compute": "F32"}]})";
  std::unique_ptr<CpuExecutor> executor = load(plan, /*threads=*/2);
  ASSERT_TRUE(executor);
  Status status = executor->loadParams(
      checkpoint({{"a", DType::BF16, {m, k}, a.data(), a.size() * 2},
                  {"b", DType::BF16, {n, k}, b.data(), b.size() * 2},
                  {"d", DType::BF16, {p, n}, d.data(), d.size() * 2}}));
  ASSERT_TRUE(status.isOk()) << status.message();
  std::vector<int32_t> tokens = {1};
  auto outputs = executor->forward(tokensView(tokens, {1, 1}));
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  ASSERT_EQ(static_cast<size_t>(outputs->at("c").numElements), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(outputs->at("c").data[i], expected[i], 1e-5)
        << "c[" << i << "]";
}

TEST_F(CpuExecutorTest, GemmOnRowBlocks) {
  // Operands at offsets into their buffers, as the chunked cross-entropy
  // uses them: C = X · Wᵀ written in two row blocks of C (rows of X from
  // an offset too), and F = X · W[3:7]ᵀ, the last four rows of W as B.
  const int64_t m = 6, v = 7, k = 3;
  std::string plan = R"({"format": "growc-plan", "version": 2,
    "kernels_hash": "xxh3-128:00000000000000000000000000000000",
    "graph": "forward", "target": "cpu", "model": "blocks",
    "kernels_file": "fwd.so", "batch": 1, "seq": 1, "vocab_size": 2,
    "alignment": 64, "arena_size": 576,
    "buffers": [{"id": 0, "offset": 0, "size": 64},
                {"id": 1, "offset": 64, "size": 72},
                {"id": 2, "offset": 192, "size": 84},
                {"id": 3, "offset": 320, "size": 168},
                {"id": 4, "offset": 512, "size": 64}],
    "inputs": [{"name": "tokens", "buffer": 0, "dtype": "I32", "shape": [1, 1]}],
    "params": [
      {"name": "x", "buffer": 1, "dtype": "F32", "shape": [6, 3],
       "source": "x", "copy": false},
      {"name": "w", "buffer": 2, "dtype": "F32", "shape": [7, 3],
       "source": "w", "copy": false}],
    "outputs": [{"name": "c", "buffer": 3, "dtype": "F32", "shape": [6, 7]},
                {"name": "f", "buffer": 4, "dtype": "F32", "shape": [4, 4]}],
    "kernels": [],
    "steps": [
      {"op": "gemm", "a": 1, "b": 2, "c": 3, "a_offset": 0, "b_offset": 0,
       "c_offset": 0, "m": 4, "n": 7, "k": 3, "trans_a": 0, "trans_b": 1,
       "beta": 0},
      {"op": "gemm", "a": 1, "b": 2, "c": 3, "a_offset": 48, "b_offset": 0,
       "c_offset": 112, "m": 2, "n": 7, "k": 3, "trans_a": 0, "trans_b": 1,
       "beta": 0},
      {"op": "gemm", "a": 1, "b": 2, "c": 4, "a_offset": 0, "b_offset": 36,
       "c_offset": 0, "m": 4, "n": 4, "k": 3, "trans_a": 0, "trans_b": 1,
       "beta": 0}]})";
  std::vector<float> x(m * k), w(v * k);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = 0.25f * float(i) - 1.0f;
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = 0.5f - 0.125f * float(i);
  auto dot = [&](int64_t row, int64_t wRow) {
    float sum = 0;
    for (int64_t l = 0; l < k; ++l)
      sum += x[row * k + l] * w[wRow * k + l];
    return sum;
  };
  std::unique_ptr<CpuExecutor> executor = load(plan, /*threads=*/2);
  ASSERT_TRUE(executor);
  Status status = executor->loadParams(
      checkpoint({{"x", DType::F32, {m, k}, x.data(), x.size() * 4},
                  {"w", DType::F32, {v, k}, w.data(), w.size() * 4}}));
  ASSERT_TRUE(status.isOk()) << status.message();
  std::vector<int32_t> tokens = {1};
  auto outputs = executor->forward(tokensView(tokens, {1, 1}));
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  const auto &c = outputs->at("c");
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < v; ++j)
      EXPECT_NEAR(c.data[i * v + j], dot(i, j), 1e-5f)
          << "c[" << i << ", " << j << "]";
  const auto &f = outputs->at("f");
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 4; ++j)
      EXPECT_NEAR(f.data[i * 4 + j], dot(i, 3 + j), 1e-5f)
          << "f[" << i << ", " << j << "]";
}

//===----------------------------------------------------------------------===//
// Kernels file
//===----------------------------------------------------------------------===//

TEST_F(CpuExecutorTest, MissingSymbol) {
  expectLoadFails(replaceOnce(kToyPlan, R"("symbol": "add_one_packed")",
                              R"("symbol": "no_such_kernel")"),
                  {"does not export symbol 'no_such_kernel'",
                   "of kernel 'add_one'", file("fwd.so"), "undefined symbol"});
}

TEST_F(CpuExecutorTest, MissingKernelsFile) {
  writeText("fwd.plan.json", kToyPlan);
  // Through loadPlan: the file check.
  StatusOr<std::unique_ptr<CpuExecutor>> viaLoad =
      CpuExecutor::load(file("fwd.plan.json"));
  ASSERT_FALSE(viaLoad.isOk());
  EXPECT_TRUE(contains(viaLoad.status().message(), "kernels file"));
  EXPECT_TRUE(contains(viaLoad.status().message(), file("fwd.so")));

  // A plan parsed from text: dlopen's error.
  StatusOr<Plan> plan = parsePlan(kToyPlan, file("fwd.plan.json"));
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  auto executor = CpuExecutor::create(std::move(*plan));
  ASSERT_FALSE(executor.isOk());
  EXPECT_TRUE(contains(executor.status().message(),
                       "cannot load kernels file " + file("fwd.so")));
}

TEST_F(CpuExecutorTest, KernelsFileIsNotASharedObject) {
  writeText("fwd.so", "this is not an ELF file");
  writeText("fwd.so.plan.json", bindPlan(kToyPlan, file("fwd.so")));
  auto executor = CpuExecutor::load(file("fwd.so"));
  ASSERT_FALSE(executor.isOk());
  EXPECT_TRUE(contains(executor.status().message(),
                       "cannot load kernels file " + file("fwd.so")));
}

TEST_F(CpuExecutorTest, GpuPlanIsRejected) {
  expectLoadFails(gpuPlan(), {"targets 'nvptx'", "CPU executor cannot run it"});
}

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

TEST_F(CpuExecutorTest, ParamsMissing) {
  ToyWeights w;
  expectParamsRejected({w.tensors()[0]}, {"weights.safetensors",
                                          "missing parameter "
                                          "'lm_head.weight'",
                                          "model 'toy'"});
  std::vector<float> other(4);
  expectParamsRejected(
      {{"optimizer.exp_avg.lm_head.weight", DType::F32, {4}, other.data(), 16}},
      {"missing parameter 'model.embed_tokens.weight' (and 1 more)"});
}

TEST_F(CpuExecutorTest, ParamWrongShape) {
  ToyWeights w;
  std::vector<TensorToWrite> tensors = w.tensors();
  tensors[1].shape = {kDim, kVocab};
  expectParamsRejected(tensors, {"parameter 'lm_head.weight' has shape [4, 5]",
                                 "the plan expects [5, 4]"});
}

TEST_F(CpuExecutorTest, ParamWrongDType) {
  ToyWeights w;
  std::vector<TensorToWrite> tensors = w.tensors();
  tensors[0].dtype = DType::I32;
  expectParamsRejected(tensors, {"parameter 'model.embed_tokens.weight' is I32",
                                 "the plan expects F32"});
}

TEST_F(CpuExecutorTest, UnknownTensorInCheckpoint) {
  ToyWeights w;
  std::vector<TensorToWrite> tensors = w.tensors();
  std::vector<float> extra(3);
  tensors.push_back(
      {"model.layers.0.mlp.up_proj.weight", DType::F32, {3}, extra.data(), 12});
  expectParamsRejected(tensors,
                       {"tensor 'model.layers.0.mlp.up_proj.weight' is not a "
                        "parameter of model 'toy'"});
}

TEST_F(CpuExecutorTest, OptimizerStateIsIgnored) {
  ToyWeights w;
  std::vector<TensorToWrite> tensors = w.tensors();
  std::vector<float> moment(kVocab * kDim);
  tensors.push_back({"optimizer.exp_avg.lm_head.weight",
                     DType::F32,
                     {kVocab, kDim},
                     moment.data(),
                     moment.size() * 4});
  std::unique_ptr<CpuExecutor> executor = load();
  ASSERT_TRUE(executor);
  Status status = executor->loadParams(checkpoint(tensors));
  EXPECT_TRUE(status.isOk()) << status.message();
}

TEST_F(CpuExecutorTest, ForwardNeedsParams) {
  std::unique_ptr<CpuExecutor> executor = load();
  ASSERT_TRUE(executor);
  std::vector<int32_t> tokens(kBatch * kSeq, 0);
  auto outputs = executor->forward(tokensView(tokens, {kBatch, kSeq}));
  ASSERT_FALSE(outputs.isOk());
  EXPECT_TRUE(
      contains(outputs.status().message(), "parameters have not been loaded"));
}

TEST_F(CpuExecutorTest, RejectedCheckpointKeepsLoadedParams) {
  ToyWeights weights;
  std::unique_ptr<CpuExecutor> executor = loaded(weights);
  ASSERT_TRUE(executor);
  // Valid first tensor, bad second one: nothing may be copied.
  ToyWeights other(99);
  std::vector<TensorToWrite> bad = other.tensors();
  bad[1].shape = {kDim, kVocab};
  writeTensors("bad.safetensors", bad);
  StatusOr<SafetensorsFile> badFile =
      SafetensorsFile::open(file("bad.safetensors"));
  ASSERT_TRUE(badFile.isOk());
  EXPECT_FALSE(executor->loadParams(*badFile).isOk());

  std::vector<int32_t> tokens = {0, 1, 2, 3, 4, 0};
  auto outputs = executor->forward(tokensView(tokens, {kBatch, kSeq}));
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  expectNear(outputs->at("logits").toVector(),
             toyReference(weights, tokens).logits, "logits");
}

//===----------------------------------------------------------------------===//
// Growth inside a run (migrateFrom)
//===----------------------------------------------------------------------===//

/// The toy plan with one AdamW moment, `moment`, as a parameter (buffer
/// 6): the model before a growth step.
std::string toyPlanWithMoment(
    const std::string &moment = "optimizer.exp_avg.model.embed_tokens.weight") {
  std::string text =
      replaceOnce(kToyPlan, R"("arena_size": 704)", R"("arena_size": 832)");
  text = replaceOnce(text, R"({"id": 5, "offset": 576, "size": 128})",
                     R"({"id": 5, "offset": 576, "size": 128},
    {"id": 6, "offset": 704, "size": 128})");
  return replaceOnce(text, R"("source": "lm_head.weight", "copy": true})",
                     R"("source": "lm_head.weight", "copy": true},
    {"name": ")" + moment +
                         R"(", "buffer": 6, "dtype": "F32",
     "shape": [5, 4], "source": ")" +
                         moment + R"(", "copy": false})");
}

/// After the step: lm_head starts as a copy of the embedding, and the
/// moment now belongs to lm_head (so it follows lm_head's provenance).
std::string grownToyPlan(const std::string &headSource) {
  return replaceOnce(toyPlanWithMoment("optimizer.exp_avg.lm_head.weight"),
                     R"("source": "lm_head.weight", "copy": true})",
                     R"("source": ")" + headSource + R"(", "copy": true})");
}

TEST_F(CpuExecutorTest, MigrateFromFollowsProvenance) {
  ToyWeights w;
  std::vector<float> moment(kVocab * kDim);
  for (size_t i = 0; i < moment.size(); ++i)
    moment[i] = 0.5f + float(i);
  std::vector<TensorToWrite> tensors = w.tensors();
  tensors.push_back({"optimizer.exp_avg.model.embed_tokens.weight",
                     DType::F32,
                     {kVocab, kDim},
                     moment.data(),
                     moment.size() * 4});
  std::unique_ptr<CpuExecutor> before = load(toyPlanWithMoment());
  ASSERT_TRUE(before);
  ASSERT_TRUE(before->loadParams(checkpoint(tensors)).isOk());
  writeText(
      "grown.plan.json",
      bindPlan(grownToyPlan("model.embed_tokens.weight"), file("fwd.so")));

  for (bool zero : {false, true}) {
    StatusOr<std::unique_ptr<CpuExecutor>> grown =
        CpuExecutor::load(file("grown.plan.json"));
    ASSERT_TRUE(grown.isOk()) << grown.status().message();
    StatusOr<CpuExecutor::Migration> moved =
        (*grown)->migrateFrom(*before, /*zeroCopiedMoments=*/zero);
    ASSERT_TRUE(moved.isOk()) << moved.status().message();
    EXPECT_EQ(moved->copied, zero ? 2 : 3);
    EXPECT_EQ(moved->duplicated, zero ? 1 : 2);
    EXPECT_EQ(moved->zeroedMoments, zero ? 1 : 0);
    std::map<std::string, std::vector<float>> after;
    for (const TensorToWrite &t : (*grown)->paramTensors()) {
      const float *data = static_cast<const float *>(t.data);
      after[t.name].assign(data, data + t.byteSize / 4);
    }
    EXPECT_EQ(after["model.embed_tokens.weight"], w.embed);
    EXPECT_EQ(after["lm_head.weight"], w.embed);
    EXPECT_EQ(after["optimizer.exp_avg.lm_head.weight"],
              zero ? std::vector<float>(moment.size(), 0.0f) : moment);
    // The migrated executor runs: lm_head = embedding in the reference.
    ToyWeights tied = w;
    tied.head = w.embed;
    std::vector<int32_t> tokens = {0, 1, 2, 3, 4, 0};
    auto outputs = (*grown)->forward(tokensView(tokens, {kBatch, kSeq}));
    ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
    expectNear(outputs->at("logits").toVector(),
               toyReference(tied, tokens).logits, "logits");
  }
}

TEST_F(CpuExecutorTest, MigrateFromRejectsAnUnknownSource) {
  std::unique_ptr<CpuExecutor> before = load(toyPlanWithMoment());
  ASSERT_TRUE(before);
  writeText(
      "grown.plan.json",
      bindPlan(grownToyPlan("model.layers.7.mlp.up_proj"), file("fwd.so")));
  StatusOr<std::unique_ptr<CpuExecutor>> grown =
      CpuExecutor::load(file("grown.plan.json"));
  ASSERT_TRUE(grown.isOk()) << grown.status().message();
  StatusOr<CpuExecutor::Migration> moved = (*grown)->migrateFrom(*before);
  ASSERT_FALSE(moved.isOk());
  EXPECT_TRUE(contains(moved.status().message(), "model.layers.7.mlp.up_proj"));
  EXPECT_TRUE(contains(moved.status().message(), "does not have"));
}

//===----------------------------------------------------------------------===//
// Tokens
//===----------------------------------------------------------------------===//

TEST_F(CpuExecutorTest, TokenOutsideVocabulary) {
  expectTokensRejected({0, 1, 2, 3, 4, 5}, {kBatch, kSeq},
                       {"token 5 at [1, 2] is outside the vocabulary [0, 5)"});
  expectTokensRejected({0, -1}, {1, 2},
                       {"token -1 at [0, 1] is outside the vocabulary"});
}

TEST_F(CpuExecutorTest, TokensLargerThanCompiledShape) {
  expectTokensRejected(std::vector<int32_t>(9, 0), {3, 3},
                       {"tokens of shape [3, 3] exceed the compiled shape "
                        "[2, 3]"});
  expectTokensRejected(std::vector<int32_t>(8, 0), {2, 4},
                       {"tokens of shape [2, 4] exceed"});
}

TEST_F(CpuExecutorTest, TokensWrongDTypeOrRank) {
  std::unique_ptr<CpuExecutor> executor = loaded(ToyWeights());
  ASSERT_TRUE(executor);
  std::vector<float> floats(6, 0.0f);
  TensorView view{"tokens",
                  DType::F32,
                  {kBatch, kSeq},
                  reinterpret_cast<const uint8_t *>(floats.data()),
                  24};
  auto result = executor->forward(view);
  ASSERT_FALSE(result.isOk());
  EXPECT_TRUE(contains(result.status().message(),
                       "tokens must be int32 (I32), got F32"));

  expectTokensRejected(std::vector<int32_t>(6, 0), {6},
                       {"tokens must have rank 2", "got shape [6]"});
}

TEST_F(CpuExecutorTest, TokensViewInconsistent) {
  std::vector<int32_t> tokens(4, 0);
  // Claims more elements than it has bytes.
  expectTokensRejected(tokens, {2, 3},
                       {"shape [2, 3] does not match its 16 bytes"});
}

//===----------------------------------------------------------------------===//
// Plans the forward run cannot drive
//===----------------------------------------------------------------------===//

TEST_F(CpuExecutorTest, PlanWithOtherInputs) {
  std::string plan = replaceOnce(
      kToyPlan,
      R"("inputs": [{"name": "tokens", "buffer": 0, "dtype": "I32", "shape": [2, 3]}],)",
      R"("inputs": [{"name": "tokens", "buffer": 0, "dtype": "I32", "shape": [2, 3]},
                    {"name": "labels", "buffer": 0, "offset": 32, "dtype": "I32", "shape": [2, 3]}],)");
  std::unique_ptr<CpuExecutor> executor = load(plan);
  ASSERT_TRUE(executor);
  ToyWeights w;
  ASSERT_TRUE(executor->loadParams(checkpoint(w.tensors())).isOk());
  std::vector<int32_t> tokens(6, 0);
  auto result = executor->forward(tokensView(tokens, {kBatch, kSeq}));
  ASSERT_FALSE(result.isOk());
  EXPECT_TRUE(contains(result.status().message(),
                       "needs a plan whose inputs are 'tokens' and, for a "
                       "loss graph, 'targets'"));
  EXPECT_TRUE(contains(result.status().message(), "has 2 input(s)"));
}

// A plan with a `targets` input (a loss graph) needs targets of the tokens'
// shape, each in the vocabulary or -100; a plan without one takes none.
TEST_F(CpuExecutorTest, TargetsAreChecked) {
  ToyWeights w;
  std::unique_ptr<CpuExecutor> executor = loadedWithInput(
      R"({"name": "targets", "buffer": 5, "dtype": "I32", "shape": [2, 3]})",
      w);
  ASSERT_TRUE(executor);
  std::vector<int32_t> tokens = {0, 1, 2, 3, 4, 0};
  TensorView tokenView = tokensView(tokens, {kBatch, kSeq});
  auto missing = executor->forward(tokenView);
  ASSERT_FALSE(missing.isOk());
  EXPECT_TRUE(contains(missing.status().message(),
                       "graph needs targets as well as tokens"));
  std::vector<int32_t> targets = {1, 2, 3, 4, -100, -100};
  TensorView targetView = tokensView(targets, {kBatch, kSeq});
  EXPECT_TRUE(executor->forward(tokenView, &targetView).isOk());
  targets[2] = 5; // == vocab size
  auto outside = executor->forward(tokenView, &targetView);
  ASSERT_FALSE(outside.isOk());
  EXPECT_TRUE(contains(outside.status().message(),
                       "target 5 at [0, 2] is neither in the vocabulary "
                       "[0, 5) nor -100 (ignored)"));
  std::vector<int32_t> fewer = {1, 2};
  TensorView fewerView = tokensView(fewer, {1, 2});
  auto shape = executor->forward(tokenView, &fewerView);
  ASSERT_FALSE(shape.isOk());
  EXPECT_TRUE(contains(shape.status().message(),
                       "targets must be int32 of the tokens' shape [2, 3]"));

  std::unique_ptr<CpuExecutor> plain = loaded(w);
  ASSERT_TRUE(plain);
  auto extra = plain->forward(tokenView, &targetView);
  ASSERT_FALSE(extra.isOk());
  EXPECT_TRUE(contains(extra.status().message(), "graph takes no targets"));
}

// A plan with a `split` input (a depth-score graph of growc
// --analysis-suite) needs one I32 split per row of the tokens, each in
// [0, seq]; a plan without one takes none.
TEST_F(CpuExecutorTest, SplitIsChecked) {
  ToyWeights w;
  std::unique_ptr<CpuExecutor> executor = loadedWithInput(
      R"({"name": "split", "buffer": 5, "dtype": "I32", "shape": [2]})", w);
  ASSERT_TRUE(executor);
  std::vector<int32_t> tokens = {0, 1, 2, 3, 4, 0};
  TensorView tokenView = tokensView(tokens, {kBatch, kSeq});
  auto missing = executor->forward(tokenView);
  ASSERT_FALSE(missing.isOk());
  EXPECT_TRUE(contains(missing.status().message(),
                       "graph needs 'split', a split position per row"));
  std::vector<int32_t> split = {1, 3};
  TensorView splitView = tokensView(split, {kBatch});
  EXPECT_TRUE(executor->forward(tokenView, nullptr, {}, &splitView).isOk());
  split[1] = kSeq + 1;
  auto outside = executor->forward(tokenView, nullptr, {}, &splitView);
  ASSERT_FALSE(outside.isOk());
  EXPECT_TRUE(contains(outside.status().message(),
                       "'split' of row 1 is 4, outside [0, 3]"));
  split[1] = -1;
  EXPECT_FALSE(executor->forward(tokenView, nullptr, {}, &splitView).isOk());
  TensorView wrongShape = tokensView(split, {1, 2});
  auto shape = executor->forward(tokenView, nullptr, {}, &wrongShape);
  ASSERT_FALSE(shape.isOk());
  EXPECT_TRUE(contains(shape.status().message(),
                       "'split' must be I32 [2] (one per row of the tokens), "
                       "got I32 [1, 2]"));
  std::vector<float> floats = {1, 2};
  TensorView wrongType{"split",
                       DType::F32,
                       {kBatch},
                       reinterpret_cast<const uint8_t *>(floats.data()),
                       8};
  auto dtype = executor->forward(tokenView, nullptr, {}, &wrongType);
  ASSERT_FALSE(dtype.isOk());
  EXPECT_TRUE(contains(dtype.status().message(), "got F32 [2]"));

  std::unique_ptr<CpuExecutor> plain = loaded(w);
  ASSERT_TRUE(plain);
  split[1] = 2;
  auto extra = plain->forward(tokenView, nullptr, {}, &splitView);
  ASSERT_FALSE(extra.isOk());
  EXPECT_TRUE(contains(extra.status().message(), "takes no 'split' input"));
}

TEST_F(CpuExecutorTest, NonFloatOutput) {
  std::string plan =
      replaceOnce(kToyPlan, R"({"name": "hidden", "buffer": 3, "dtype": "F32")",
                  R"({"name": "hidden", "buffer": 3, "dtype": "I32")");
  std::unique_ptr<CpuExecutor> executor = load(plan);
  ASSERT_TRUE(executor);
  ToyWeights w;
  ASSERT_TRUE(executor->loadParams(checkpoint(w.tensors())).isOk());
  std::vector<int32_t> tokens(6, 0);
  auto result = executor->forward(tokensView(tokens, {kBatch, kSeq}));
  ASSERT_FALSE(result.isOk());
  EXPECT_TRUE(contains(result.status().message(),
                       "output 'hidden' is I32; forward runs return F32"));
}

//===----------------------------------------------------------------------===//
// A plan bound to its kernels file (docs/plan.md, "The kernels file")
//===----------------------------------------------------------------------===//

/// A real compiled forward artifact (PlanMutationTest's), copied into the
/// test's directory: its plan, and a loader for edits of it.
class CompiledArtifactTest : public TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    const std::string artifacts = GROWC_MUTATION_ARTIFACTS_DIR;
    if (artifacts.empty())
      GTEST_SKIP() << "a runtime-only build compiles no artifacts";
    std::filesystem::copy_file(artifacts + "/fwd.so", file("fwd.so"));
    StatusOr<Plan> loaded = loadPlan(artifacts + "/fwd.so.plan.json");
    ASSERT_TRUE(loaded.isOk()) << loaded.status().message();
    plan = std::move(*loaded);
  }

  /// Loads `edited` as fwd.so's plan.
  Status load(const Plan &edited) {
    writeText("fwd.so.plan.json", serializePlan(edited));
    return CpuExecutor::load(file("fwd.so")).status();
  }

  Plan plan;
};

TEST_F(CompiledArtifactTest, UneditedPlanLoads) {
  Status status = load(plan);
  EXPECT_TRUE(status.isOk()) << status.message();
}

TEST_F(CompiledArtifactTest, EditedBlockCountIsRefused) {
  // One more block than compiled would run past the kernel's buffers.
  auto kernel = std::find_if(plan.kernels.begin(), plan.kernels.end(),
                             [](const PlanKernel &k) { return k.blocks > 1; });
  ASSERT_NE(kernel, plan.kernels.end());
  int64_t compiled = kernel->blocks;
  kernel->blocks = compiled + 1;
  Status status = load(plan);
  ASSERT_FALSE(status.isOk());
  EXPECT_TRUE(contains(status.message(),
                       "kernel '" + kernel->name + "' blocks " +
                           std::to_string(compiled + 1) +
                           " but compiled with " + std::to_string(compiled)));
}

TEST_F(CompiledArtifactTest, EditedArgumentShapeIsRefused) {
  // A smaller argument still fits its buffer (the verifier accepts it), but
  // the kernel was compiled for the larger shape.
  PlanKernel &kernel = plan.kernels.front();
  size_t index = kernel.args.size() - 1;
  PlanKernelArg &arg = kernel.args[index];
  ASSERT_GT(arg.shape.at(0), 1);
  std::string compiled = formatShape(arg.shape);
  arg.shape[0] /= 2;
  Status status = load(plan);
  ASSERT_FALSE(status.isOk());
  EXPECT_TRUE(contains(status.message(),
                       "kernel '" + kernel.name + "' argument " +
                           std::to_string(index) + ": the plan says " +
                           dtypeName(arg.dtype) + " " + formatShape(arg.shape) +
                           ", the kernels file was compiled for " +
                           dtypeName(arg.dtype) + " " + compiled));
}

TEST_F(CompiledArtifactTest, OtherKernelsFileIsRefused) {
  // The test kernels under fwd.so's name: the content hash differs.
  std::filesystem::copy_file(GROWC_TEST_KERNELS_PATH, file("fwd.so"),
                             std::filesystem::copy_options::overwrite_existing);
  Status status = load(plan);
  ASSERT_FALSE(status.isOk());
  EXPECT_TRUE(contains(status.message(),
                       "kernels file " + file("fwd.so") +
                           " does not match this plan (its content hash is " +
                           *hashFile(file("fwd.so")) +
                           ", the plan was compiled with " + plan.kernelsHash +
                           "); recompile or use the plan written with it"));
}

//===----------------------------------------------------------------------===//
// The adamw step
//===----------------------------------------------------------------------===//

using TensorValues = std::map<std::string, std::vector<float>>;

/// The scalars of one adamw run.
struct AdamWRun {
  float lr = 1e-2f, step = 3.0f, lossNonfinite = 0.0f;
  float apply = -1.0f; ///< -1: the plan has no apply input
};

/// What docs/plan.md says the step computes, written out per tensor, in
/// double where the order of operations does not matter.
struct AdamWReference {
  double gradNorm = 0;
  float nonfinite = 0;
  TensorValues state;
};

AdamWReference adamWReference(const TensorValues &before, size_t params,
                              const AdamWRun &run) {
  const double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, decay = 0.01;
  AdamWReference ref;
  ref.state = before;
  double sq = 0;
  for (size_t k = 0; k < params; ++k)
    for (float g : before.at("grad.p" + std::to_string(k)))
      sq += double(g) * g;
  ref.gradNorm = std::sqrt(sq);
  const double coef = std::min(1.0, 1.0 / (ref.gradNorm + 1e-6));
  ref.nonfinite = run.lossNonfinite > 0.5f || !std::isfinite(sq) ? 1.0f : 0.0f;
  const bool update = ref.nonfinite == 0 && (run.apply < 0 || run.apply > 0.5f);
  const double c1 = 1 - std::pow(beta1, run.step);
  const double c2 = 1 - std::pow(beta2, run.step);
  for (size_t k = 0; k < params; ++k) {
    const std::string name = "p" + std::to_string(k);
    const std::vector<float> &grad = before.at("grad." + name);
    std::vector<float> &p = ref.state[name];
    std::vector<float> &m = ref.state["optimizer.exp_avg." + name];
    std::vector<float> &v = ref.state["optimizer.exp_avg_sq." + name];
    for (size_t i = 0; update && i < p.size(); ++i) {
      double g = grad[i] * coef;
      double mi = beta1 * m[i] + (1 - beta1) * g;
      double vi = beta2 * v[i] + (1 - beta2) * g * g;
      p[i] = float(p[i] * (1 - run.lr * decay) -
                   run.lr / c1 * mi / (std::sqrt(vi) / std::sqrt(c2) + eps));
      m[i] = float(mi);
      v[i] = float(vi);
    }
    auto sums = ref.state.find("optimizer.grad_sum." + name);
    if (sums != ref.state.end())
      for (size_t i = 0; i < grad.size(); ++i)
        sums->second[i] = run.apply > 0.5f ? 0.0f : grad[i];
  }
  return ref;
}

class CpuAdamWTest : public CpuExecutorTest {
protected:
  void SetUp() override {
    CpuExecutorTest::SetUp();
    // A gap after p0 and p1 (not multiples of 32), and p2 over two of the
    // squared norm's 65536-float chunks.
    options.sizes = {40, 7, 66000};
  }

  /// Random parameters, moments and sums, and gradients of about
  /// `gradScale` (the global norm is ~150 · gradScale).
  void randomState(float gradScale) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    for (const PlanParam &param : adamWPlan(options).params) {
      std::vector<float> &values = state[param.name];
      const bool moment2 = param.name.rfind("optimizer.exp_avg_sq.", 0) == 0;
      const bool moment1 = param.name.rfind("optimizer.exp_avg.", 0) == 0;
      const float scale = param.name.rfind("grad.", 0) == 0 ? gradScale
                          : moment1                         ? 0.1f
                          : moment2                         ? 0.01f
                                                            : 1.0f;
      for (int64_t i = 0; i < param.shape[0]; ++i)
        values.push_back(moment2 ? scale * std::abs(unit(rng))
                                 : scale * unit(rng));
    }
  }

  std::unique_ptr<CpuExecutor> loadedAdamW(int threads = 2) {
    std::unique_ptr<CpuExecutor> executor =
        load(adamWPlanText(options), threads);
    if (!executor)
      return nullptr;
    std::vector<TensorToWrite> tensors;
    for (const auto &[name, values] : state)
      tensors.push_back({name,
                         DType::F32,
                         {int64_t(values.size())},
                         values.data(),
                         values.size() * sizeof(float)});
    Status status = executor->loadParams(checkpoint(tensors));
    EXPECT_TRUE(status.isOk()) << status.message();
    return status.isOk() ? std::move(executor) : nullptr;
  }

  /// One trainStep; returns grad_norm and nonfinite.
  std::pair<float, float> trainStep(CpuExecutor &executor, const AdamWRun &run,
                                    bool commit = true) {
    static const std::vector<int32_t> tokens = {1, 2}, targets = {2, 3};
    std::map<std::string, float> scalars = {
        {"lr", run.lr},
        {"step", run.step},
        {"loss_nonfinite", run.lossNonfinite}};
    if (options.accumulate)
      scalars["apply"] = run.apply;
    auto outputs =
        executor.trainStep(tokensView(tokens, {1, 2}),
                           tokensView(targets, {1, 2}), scalars, commit);
    EXPECT_TRUE(outputs.isOk()) << outputs.status().message();
    if (!outputs.isOk())
      return {-1, -1};
    // Next values are not outputs of a step.
    EXPECT_EQ(outputs->count("p0"), 0u);
    return {outputs->at("grad_norm").data[0], outputs->at("nonfinite").data[0]};
  }

  static TensorValues read(const CpuExecutor &executor) {
    TensorValues values;
    for (const TensorToWrite &t : executor.paramTensors()) {
      const auto *data = static_cast<const float *>(t.data);
      values[t.name].assign(data, data + t.byteSize / sizeof(float));
    }
    return values;
  }

  /// Checks `actual` against the reference, every element, to float
  /// rounding: relative to the element and to its tensor's largest value
  /// (an update that nearly cancels a parameter keeps the parameter's
  /// absolute error).
  void expectState(const TensorValues &actual, const TensorValues &expected) {
    ASSERT_EQ(actual.size(), expected.size());
    for (const auto &[name, want] : expected) {
      const std::vector<float> &got = actual.at(name);
      ASSERT_EQ(got.size(), want.size()) << name;
      float scale = 0;
      for (float x : want)
        scale = std::max(scale, std::abs(x));
      int bad = 0;
      for (size_t i = 0; i < want.size() && bad < 5; ++i)
        if (!(std::abs(got[i] - want[i]) <=
              2e-6f * std::abs(want[i]) + 2e-7f * scale))
          ADD_FAILURE() << name << "[" << i << "]: " << got[i] << " vs "
                        << want[i] << " (" << ++bad << ")";
    }
  }

  /// Runs one committing step and checks it against the reference.
  void checkStep(const AdamWRun &run, int threads = 2) {
    std::unique_ptr<CpuExecutor> executor = loadedAdamW(threads);
    ASSERT_TRUE(executor);
    AdamWReference ref = adamWReference(state, options.sizes.size(), run);
    auto [norm, nonfinite] = trainStep(*executor, run);
    EXPECT_NEAR(norm, ref.gradNorm, 1e-6 * ref.gradNorm);
    EXPECT_EQ(nonfinite, ref.nonfinite);
    expectState(read(*executor), ref.state);
  }

  AdamWPlanOptions options;
  TensorValues state;
};

TEST_F(CpuAdamWTest, ClippedStepMatchesReference) {
  randomState(0.02f);
  ASSERT_GT(adamWReference(state, 3, {}).gradNorm, 2.0);
  checkStep({});
}

TEST_F(CpuAdamWTest, UnclippedStepMatchesReference) {
  randomState(0.001f);
  ASSERT_LT(adamWReference(state, 3, {}).gradNorm, 0.5);
  checkStep({/*lr=*/3e-3f, /*step=*/1.0f});
}

TEST_F(CpuAdamWTest, NonfiniteLossOrGradientChangesNothing) {
  randomState(0.02f);
  AdamWRun badLoss;
  badLoss.lossNonfinite = 1.0f;
  ASSERT_EQ(adamWReference(state, 3, badLoss).state, state);
  checkStep(badLoss);
  state["grad.p1"][3] = std::numeric_limits<float>::quiet_NaN();
  std::unique_ptr<CpuExecutor> executor = loadedAdamW();
  ASSERT_TRUE(executor);
  auto [norm, nonfinite] = trainStep(*executor, {});
  EXPECT_TRUE(std::isnan(norm));
  EXPECT_EQ(nonfinite, 1.0f);
  TensorValues after = read(*executor);
  for (const auto &[name, values] : state)
    if (name.rfind("grad.", 0) != 0)
      EXPECT_EQ(after.at(name), values) << name;
}

TEST_F(CpuAdamWTest, AccumulationAppliesAndResetsOnApply) {
  options.accumulate = true;
  randomState(0.02f);
  for (float apply : {0.0f, 1.0f}) {
    AdamWRun run;
    run.apply = apply;
    // Not applying: the state stays, the sums carry the gradients.
    ASSERT_EQ(adamWReference(state, 3, run).state.at("p2") == state.at("p2"),
              apply == 0.0f);
    checkStep(run);
  }
  // A bad step still carries or resets the sums.
  AdamWRun bad;
  bad.apply = 1.0f;
  bad.lossNonfinite = 1.0f;
  checkStep(bad);
}

TEST_F(CpuAdamWTest, NonCommittingStepLeavesEverythingUnchanged) {
  options.accumulate = true;
  randomState(0.02f);
  std::unique_ptr<CpuExecutor> executor = loadedAdamW();
  ASSERT_TRUE(executor);
  AdamWRun run;
  run.apply = 1.0f;
  auto [norm, nonfinite] = trainStep(*executor, run, /*commit=*/false);
  // Not even grad_norm is written (the arena starts at zero).
  EXPECT_EQ(norm, 0.0f);
  EXPECT_EQ(nonfinite, 0.0f);
  EXPECT_EQ(read(*executor), state);
}

TEST_F(CpuAdamWTest, ThreadCountsGiveTheSameBits) {
  randomState(0.02f);
  std::unique_ptr<CpuExecutor> one = loadedAdamW(1);
  ASSERT_TRUE(one);
  auto first = trainStep(*one, {});
  TensorValues firstState = read(*one);
  std::unique_ptr<CpuExecutor> three = loadedAdamW(3);
  ASSERT_TRUE(three);
  EXPECT_EQ(trainStep(*three, {}), first);
  EXPECT_EQ(read(*three), firstState);
}

// Mixed precision: each trained parameter's bf16 copy is bf16(parameter)
// after the load, after a step that applies the update (written by the
// step with the parameter) and after one that does not (left alone).
class CpuAdamWBf16Test : public CpuAdamWTest {
protected:
  void SetUp() override {
    CpuAdamWTest::SetUp();
    options.bf16Copies = true;
  }

  /// Each of p0..p2's copy against bf16 of its value now.
  static void expectCopiesRound(const CpuExecutor &executor) {
    for (const char *name : {"p0", "p1", "p2"}) {
      const PlanParam &param = *executor.plan().findParam(name);
      const uint16_t *copy = executor.bf16Copy(param);
      ASSERT_NE(copy, nullptr) << name;
      const auto *value = reinterpret_cast<const float *>(
          executor.paramTensors()[&param - executor.plan().params.data()].data);
      EXPECT_TRUE(copiesRoundParams(
          std::vector<uint16_t>(copy, copy + param.numElements),
          std::vector<float>(value, value + param.numElements)))
          << name;
    }
  }
};

TEST_F(CpuAdamWBf16Test, StepWritesTheCopiesWhereItApplies) {
  options.accumulate = true;
  randomState(0.02f);
  std::unique_ptr<CpuExecutor> executor = loadedAdamW();
  ASSERT_TRUE(executor);
  // Filled on load.
  expectCopiesRound(*executor);
  // Not applied (apply 0, then a bad loss): parameters and copies stay.
  for (float lossNonfinite : {0.0f, 1.0f}) {
    AdamWRun skip;
    skip.apply = lossNonfinite > 0 ? 1.0f : 0.0f;
    skip.lossNonfinite = lossNonfinite;
    trainStep(*executor, skip);
    EXPECT_EQ(read(*executor).at("p2"), state.at("p2"));
    expectCopiesRound(*executor);
  }
  // Applied: the rounded new values, the f32 update as without copies.
  AdamWRun run;
  run.apply = 1.0f;
  AdamWReference ref = adamWReference(state, 3, run);
  trainStep(*executor, run);
  TensorValues after = read(*executor);
  EXPECT_NE(after.at("p2"), state.at("p2"));
  expectState(after, ref.state);
  expectCopiesRound(*executor);
}

TEST_F(CpuAdamWBf16Test, MigrationFillsTheCopies) {
  randomState(0.02f);
  std::unique_ptr<CpuExecutor> before = loadedAdamW();
  ASSERT_TRUE(before);
  trainStep(*before, {});
  // A fresh executor of the same model takes the state by provenance
  // (every source is itself): parameters and copies.
  std::unique_ptr<CpuExecutor> after = load(adamWPlanText(options), 2);
  ASSERT_TRUE(after);
  StatusOr<CpuExecutor::Migration> moved = after->migrateFrom(*before);
  ASSERT_TRUE(moved.isOk()) << moved.status().message();
  EXPECT_EQ(read(*after), read(*before));
  expectCopiesRound(*after);
  const PlanParam &p0 = *after->plan().findParam("p0");
  EXPECT_EQ(std::memcmp(after->bf16Copy(p0), before->bf16Copy(p0),
                        size_t(p0.numElements) * 2),
            0);
}

// Parameters sharing one buffer at byte offsets (the compiler's fused
// Q/K/V): p0 and p1 lie back to back in one buffer per list and one bf16
// copy buffer. Each tensor is loaded, stepped, saved and migrated at its
// own bytes, by name.
class CpuAdamWFusedTest : public CpuAdamWBf16Test {
protected:
  void SetUp() override {
    CpuAdamWBf16Test::SetUp();
    options.fused = 2;
  }

  /// The bytes of `name` as paramTensors() gives them.
  static const uint8_t *bytesOf(const CpuExecutor &executor,
                                const std::string &name) {
    for (const TensorToWrite &t : executor.paramTensors())
      if (t.name == name)
        return static_cast<const uint8_t *>(t.data);
    return nullptr;
  }
};

TEST_F(CpuAdamWFusedTest, LoadStepSaveAndReload) {
  randomState(0.02f);
  std::unique_ptr<CpuExecutor> executor = loadedAdamW();
  ASSERT_TRUE(executor);
  const Plan &plan = executor->plan();
  const PlanParam &p0 = *plan.findParam("p0"), &p1 = *plan.findParam("p1");
  ASSERT_EQ(p0.buffer, p1.buffer);
  ASSERT_EQ(p1.offset, 160);
  // Each tensor at its offset of the shared buffers, read back by name.
  for (const char *prefix :
       {"", "grad.", "optimizer.exp_avg.", "optimizer.exp_avg_sq."})
    EXPECT_EQ(bytesOf(*executor, std::string(prefix) + "p1"),
              bytesOf(*executor, std::string(prefix) + "p0") + 160)
        << prefix;
  EXPECT_EQ(read(*executor), state);
  // The copies at half the offsets.
  EXPECT_EQ(executor->bf16Copy(p1), executor->bf16Copy(p0) + 40);
  expectCopiesRound(*executor);

  // One step over the shared buffers is the per-tensor update.
  AdamWReference ref = adamWReference(state, 3, {});
  trainStep(*executor, {});
  TensorValues after = read(*executor);
  expectState(after, ref.state);
  expectCopiesRound(*executor);

  // Saved by name, loaded back into a fresh executor at the same bytes.
  std::vector<TensorToWrite> saved = executor->paramTensors();
  std::unique_ptr<CpuExecutor> reloaded = load(adamWPlanText(options), 2);
  ASSERT_TRUE(reloaded);
  Status status = reloaded->loadParams(checkpoint(saved));
  ASSERT_TRUE(status.isOk()) << status.message();
  EXPECT_EQ(read(*reloaded), after);
  expectCopiesRound(*reloaded);
}

// Migration follows provenance between layouts: shared buffers to buffers
// of their own and back, and a growth whose parameters swap places inside
// the shared buffer (p0 starts from p1 and p1 from p0, moments following).
TEST_F(CpuAdamWFusedTest, MigrationKeepsEachTensor) {
  options.sizes = {24, 24, 40};
  randomState(0.02f);
  std::unique_ptr<CpuExecutor> fused = loadedAdamW();
  ASSERT_TRUE(fused);
  ASSERT_EQ(read(*fused), state);
  trainStep(*fused, {});
  const TensorValues trained = read(*fused);
  expectState(trained, adamWReference(state, 3, {}).state);

  AdamWPlanOptions apart = options;
  apart.fused = 0;
  std::unique_ptr<CpuExecutor> own = load(adamWPlanText(apart), 2);
  ASSERT_TRUE(own);
  ASSERT_NE(own->plan().findParam("p0")->buffer,
            own->plan().findParam("p1")->buffer);
  StatusOr<CpuExecutor::Migration> moved = own->migrateFrom(*fused);
  ASSERT_TRUE(moved.isOk()) << moved.status().message();
  EXPECT_EQ(read(*own), trained);
  expectCopiesRound(*own);

  Plan swapped = adamWPlan(options);
  for (PlanParam &param : swapped.params)
    if (param.name == "p0")
      param.source = "p1";
    else if (param.name == "p1")
      param.source = "p0";
  std::unique_ptr<CpuExecutor> grown = load(serializePlan(swapped), 2);
  ASSERT_TRUE(grown);
  moved = grown->migrateFrom(*own);
  ASSERT_TRUE(moved.isOk()) << moved.status().message();
  TensorValues expected = trained;
  for (const char *prefix : {"", "optimizer.exp_avg.", "optimizer.exp_avg_sq."})
    std::swap(expected[std::string(prefix) + "p0"],
              expected[std::string(prefix) + "p1"]);
  EXPECT_EQ(read(*grown), expected);
  expectCopiesRound(*grown);
}

// Next values in their parameters' buffers are not copied; older plans'
// next values are (planNextValues lists exactly those).
TEST(CpuAdamWPlanTest, PlanNextValuesListsOnlySeparateBuffers) {
  StatusOr<Plan> shared = parsePlan(adamWPlanText(), "a.plan.json");
  ASSERT_TRUE(shared.isOk()) << shared.status().message();
  EXPECT_TRUE(planNextValues(*shared).empty());
  AdamWPlanOptions own;
  own.ownNextValueBuffers = true;
  StatusOr<Plan> separate = parsePlan(adamWPlanText(own), "a.plan.json");
  ASSERT_TRUE(separate.isOk()) << separate.status().message();
  // p0..p2 and both moments of each.
  EXPECT_EQ(planNextValues(*separate).size(), 9u);
}

} // namespace
