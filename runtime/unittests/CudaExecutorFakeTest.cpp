//===- CudaExecutorFakeTest.cpp - the CUDA executor on a fake driver ------===//
//
// The executor's host logic without a GPU: FakeCuda.cpp stands in for
// libcuda and cuBLASLt, doing their documented work in host memory. What
// this checks: a plan's steps run in order on device buffers and give the
// toy model's reference outputs, the second run (a CUDA graph replay) gives
// them again, every GEMM transposition and offset of the plan maps onto
// cuBLASLt's column-major convention correctly (against a row-major
// reference), a training step commits its next values on the device inside
// the graph and a scoring step does not, readParams and migrateFrom move
// the state, and profiles time every step. The toy plans' kernels are host
// functions; growc's real PTX runs on the same fake driver through its PTX
// interpreter in the lit tests (test/Runtime/gpu*.test). Neither checks
// real cuBLASLt numerics or timings (docs/gpu.md).
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/CudaExecutor.h"
#include "growc/runtime/CudaLibraries.h"

#include "AdamWPlan.h"
#include "AdamWReference.h"
#include "EchoCollective.h"
#include "ToyModel.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <list>
#include <map>
#include <random>
#include <sstream>

#include <cuda.h>
#include <dlfcn.h>
#include <fstream>
#include <functional>
#include <iterator>
#include <unistd.h>

using namespace growc::rt;
using namespace growc::rt::test;

namespace {

/// The toy training step of the fake's "sgd" kernel: w [5, 4] is the
/// parameter, loss = Σ w and w's next value w - lr.
const char *const kTrainPlan = R"({
  "format": "growc-plan", "version": 2,
    "kernels_hash": "xxh3-128:00000000000000000000000000000000", "graph": "train", "target": "nvptx",
  "model": "toy", "kernels_file": "fwd.ptx", "batch": 2, "seq": 3,
  "vocab_size": 5, "alignment": 64, "arena_size": 576,
  "buffers": [
    {"id": 0, "offset": 0, "size": 64}, {"id": 1, "offset": 64, "size": 64},
    {"id": 2, "offset": 128, "size": 64}, {"id": 3, "offset": 192, "size": 128},
    {"id": 4, "offset": 320, "size": 128}, {"id": 5, "offset": 448, "size": 64},
    {"id": 6, "offset": 512, "size": 64}
  ],
  "inputs": [
    {"name": "tokens", "buffer": 0, "dtype": "I32", "shape": [2, 3]},
    {"name": "targets", "buffer": 1, "dtype": "I32", "shape": [2, 3]},
    {"name": "lr", "buffer": 2, "dtype": "F32", "shape": [1]},
    {"name": "step", "buffer": 6, "dtype": "F32", "shape": [1]}
  ],
  "params": [{"name": "w", "buffer": 3, "dtype": "F32", "shape": [5, 4],
              "source": "w", "copy": false}],
  "outputs": [
    {"name": "loss", "buffer": 5, "dtype": "F32", "shape": [1]},
    {"name": "w", "buffer": 4, "dtype": "F32", "shape": [5, 4]}
  ],
  "kernels": [
    {"name": "sgd", "symbol": "sgd",
     "launch": {"grid": [1, 1, 1], "block": [32, 1, 1], "params": [0, 1, 2, 3]},
     "args": [{"dtype": "F32", "shape": [5, 4]}, {"dtype": "F32", "shape": [1]},
              {"dtype": "F32", "shape": [5, 4]}, {"dtype": "F32", "shape": [1]}]}
  ],
  "steps": [{"op": "kernel", "kernel": 0, "args": [3, 2, 4, 5]}]
})";

class CudaExecutorFakeTest : public CudaCacheDirTest {
protected:
  std::unique_ptr<CudaExecutor> create(const std::string &planText,
                                       bool useGraphs = true) {
    writePtxArtifact("fwd.plan.json", planText);
    return createWritten(useGraphs);
  }

  /// An executor of the artifact written as fwd.plan.json, on the fake
  /// driver.
  std::unique_ptr<CudaExecutor> createWritten(bool useGraphs = true) {
    StatusOr<Plan> plan = loadPlan(file("fwd.plan.json"));
    EXPECT_TRUE(plan.isOk()) << plan.status().message();
    if (!plan.isOk())
      return nullptr;
    CudaExecutor::Options options;
    options.driverPath = GROWC_FAKE_CUDA_PATH;
    options.blasPath = GROWC_FAKE_CUDA_PATH;
    options.useGraphs = useGraphs;
    StatusOr<std::unique_ptr<CudaExecutor>> executor =
        CudaExecutor::create(std::move(*plan), options);
    EXPECT_TRUE(executor.isOk()) << executor.status().message();
    return executor.isOk() ? std::move(*executor) : nullptr;
  }

  /// An executor of the hand-built adamw plan (AdamWPlan.h) on nvptx, its
  /// kernels the kernel library's optimizer PTX.
  std::unique_ptr<CudaExecutor> createAdamW(AdamWPlanOptions options) {
    options.target = "nvptx";
    const std::string plan = adamWPlanText(options);
    std::ifstream library(GROWC_OPTIMIZER_PTX_PATH);
    std::stringstream ptx;
    ptx << library.rdbuf();
    writeText("fwd.ptx", ptx.str() + ptxSignatureLine(kernelTableOf(plan)));
    writeText("fwd.plan.json", bindPlan(plan, file("fwd.ptx")));
    return createWritten();
  }
  /// A new adamw executor for `options` that took `previous`'s training
  /// state by provenance (a growth stage's migration).
  std::unique_ptr<CudaExecutor> migratedAdamW(AdamWPlanOptions options,
                                              const CudaExecutor &previous) {
    std::unique_ptr<CudaExecutor> executor = createAdamW(std::move(options));
    if (!executor)
      return nullptr;
    StatusOr<MigrationReport> moved = executor->migrateFrom(previous, false);
    EXPECT_TRUE(moved.isOk()) << moved.status().message();
    return moved.isOk() ? std::move(executor) : nullptr;
  }
  /// The adamw plan's tokens or targets ([1, 2], unused by its step).
  static TensorView adamWBatch(const std::vector<int32_t> &data,
                               const char *name) {
    return TensorView{name,
                      DType::I32,
                      {1, 2},
                      reinterpret_cast<const uint8_t *>(data.data()),
                      8};
  }

  Status load(CudaExecutor &executor,
              const std::vector<TensorToWrite> &tensors) {
    writeTensors("weights.safetensors", tensors);
    StatusOr<SafetensorsFile> file =
        SafetensorsFile::open(this->file("weights.safetensors"));
    if (!file.isOk())
      return file.status();
    return executor.loadParams(*file);
  }
};

std::string gpuToyPlan() {
  return replaceOnce(gpuPlan(), R"("kernels_file": "fwd.so")",
                     R"("kernels_file": "fwd.ptx")");
}

TEST_F(CudaExecutorFakeTest, ForwardMatchesTheReferenceAndGraphReplays) {
  for (bool graphs : {false, true}) {
    std::unique_ptr<CudaExecutor> executor = create(gpuToyPlan(), graphs);
    ASSERT_TRUE(executor);
    EXPECT_EQ(executor->deviceName(), "growc fake GPU");
    ToyWeights weights;
    ASSERT_TRUE(load(*executor, weights.tensors()).isOk());
    // Different tokens each run: a replay must read the new ones.
    for (std::vector<int32_t> tokens :
         {std::vector<int32_t>{0, 1, 2, 3, 4, 0},
          std::vector<int32_t>{4, 4, 1, 0, 2, 3},
          std::vector<int32_t>{1, 2, 3, 4, 0, 1}}) {
      auto outputs = executor->forward(int32View(tokens, "tokens"));
      ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
      ToyReference want = toyReference(weights, tokens);
      std::vector<float> logits = outputs->at("logits").toVector();
      std::vector<float> hidden = outputs->at("hidden").toVector();
      ASSERT_EQ(logits.size(), want.logits.size());
      for (size_t i = 0; i < logits.size(); ++i)
        EXPECT_NEAR(logits[i], want.logits[i], 1e-5f) << "logits " << i;
      EXPECT_EQ(hidden, want.hidden);
    }
  }
}

// A launch with more per-block buffers than static shared memory holds:
// the executor opts the kernel in to its dynamic shared memory (the fake,
// like a GPU, rejects the launch otherwise).
TEST_F(CudaExecutorFakeTest, DynamicSharedMemoryIsOptedInTo) {
  std::string plan =
      replaceOnce(gpuToyPlan(), R"("params": [0, 2, 1]})",
                  R"("params": [0, 2, 1], "shared_bytes": 65536})");
  std::unique_ptr<CudaExecutor> executor = create(plan);
  ASSERT_TRUE(executor);
  ASSERT_EQ(executor->plan().kernels[0].launch->sharedBytes, 65536);
  ToyWeights weights;
  ASSERT_TRUE(load(*executor, weights.tensors()).isOk());
  std::vector<int32_t> tokens = {0, 1, 2, 3, 4, 0};
  auto outputs = executor->forward(int32View(tokens, "tokens"));
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  EXPECT_EQ(outputs->at("hidden").toVector(),
            toyReference(weights, tokens).hidden);
}

/// A plan of one GEMM, C[m, n] = op(A) · op(B), over the parameters A and B
/// (at byte offsets aOffset, bOffset into their buffers), checked against
/// the plan's row-major definition.
void checkGemm(
    const std::function<std::unique_ptr<CudaExecutor>(const std::string &)>
        &create,
    const std::function<Status(CudaExecutor &,
                               const std::vector<TensorToWrite> &)> &load,
    int m, int n, int k, bool transA, bool transB, int aOffset, int bOffset) {
  SCOPED_TRACE(testing::Message()
               << "m " << m << " n " << n << " k " << k << " transA " << transA
               << " transB " << transB << " offsets " << aOffset << " "
               << bOffset);
  const int aFloats = m * k + aOffset / 4, bFloats = k * n + bOffset / 4;
  std::string plan = R"({
  "format": "growc-plan", "version": 2,
    "kernels_hash": "xxh3-128:00000000000000000000000000000000", "graph": "forward",
  "target": "nvptx", "model": "gemm", "kernels_file": "fwd.ptx",
  "batch": 2, "seq": 3, "vocab_size": 5, "alignment": 64,
  "arena_size": 1024,
  "buffers": [{"id": 0, "offset": 0, "size": 64},
              {"id": 1, "offset": 64, "size": 256},
              {"id": 2, "offset": 320, "size": 256},
              {"id": 3, "offset": 576, "size": 256}],
  "inputs": [{"name": "tokens", "buffer": 0, "dtype": "I32", "shape": [2, 3]}],
  "params": [
    {"name": "a", "buffer": 1, "dtype": "F32", "shape": [AF],
     "source": "a", "copy": false},
    {"name": "b", "buffer": 2, "dtype": "F32", "shape": [BF],
     "source": "b", "copy": false}],
  "outputs": [{"name": "c", "buffer": 3, "dtype": "F32", "shape": [M, N]}],
  "kernels": [],
  "steps": [{"op": "gemm", "a": 1, "b": 2, "c": 3, "m": M, "n": N, "k": K,
             "a_offset": AO, "b_offset": BO, "c_offset": 0,
             "trans_a": TA, "trans_b": TB, "beta": 0}]
})";
  for (auto [key, value] : {std::pair<std::string, int>{"AF", aFloats},
                            {"BF", bFloats},
                            {"M", m},
                            {"N", n},
                            {"K", k},
                            {"AO", aOffset},
                            {"BO", bOffset},
                            {"TA", transA},
                            {"TB", transB}})
    for (size_t at; (at = plan.find(key)) != std::string::npos;)
      plan.replace(at, key.size(), std::to_string(value));
  std::unique_ptr<CudaExecutor> executor = create(plan);
  ASSERT_TRUE(executor);
  std::vector<float> a(static_cast<size_t>(aFloats)),
      b(static_cast<size_t>(bFloats));
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = float(int(i * 7 % 11) - 5);
  for (size_t i = 0; i < b.size(); ++i)
    b[i] = float(int(i * 5 % 13) - 6) * 0.5f;
  ASSERT_TRUE(
      load(*executor, {{"a", DType::F32, {aFloats}, a.data(), a.size() * 4},
                       {"b", DType::F32, {bFloats}, b.data(), b.size() * 4}})
          .isOk());
  std::vector<int32_t> tokens(6, 0);
  for (int run = 0; run < 2; ++run) {
    auto outputs = executor->forward(int32View(tokens, "tokens"));
    ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
    std::vector<float> c = outputs->at("c").toVector();
    ASSERT_EQ(c.size(), size_t(m * n));
    // Row-major, as the plan defines: A stored [m, k] or, transposed,
    // [k, m]; B stored [k, n] or [n, k].
    const float *pa = a.data() + aOffset / 4, *pb = b.data() + bOffset / 4;
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        float sum = 0;
        for (int p = 0; p < k; ++p)
          sum += (transA ? pa[p * m + i] : pa[i * k + p]) *
                 (transB ? pb[j * k + p] : pb[p * n + j]);
        EXPECT_EQ(c[size_t(i * n + j)], sum) << "c[" << i << ", " << j << "]";
      }
  }
}

TEST_F(CudaExecutorFakeTest, GemmLayoutsMapOntoColumnMajor) {
  auto create = [&](const std::string &plan) { return this->create(plan); };
  auto load = [&](CudaExecutor &e, const std::vector<TensorToWrite> &t) {
    return this->load(e, t);
  };
  for (bool transA : {false, true})
    for (bool transB : {false, true}) {
      checkGemm(create, load, 3, 5, 4, transA, transB, 0, 0);
      checkGemm(create, load, 2, 3, 7, transA, transB, 8, 20);
    }
}

TEST_F(CudaExecutorFakeTest, TrainStepCommitsOnTheDevice) {
  std::unique_ptr<CudaExecutor> executor = create(kTrainPlan);
  ASSERT_TRUE(executor);
  std::vector<float> w(20);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = float(i);
  ASSERT_TRUE(
      load(*executor, {{"w", DType::F32, {5, 4}, w.data(), 80}}).isOk());
  std::vector<int32_t> tokens(6, 1), targets(6, 2);
  TensorView t = int32View(tokens, "tokens"), y = int32View(targets, "targets");
  auto step = [&](float lr, bool commit) -> float {
    auto outputs =
        executor->trainStep(t, y, {{"lr", lr}, {"step", 1.0f}}, commit);
    EXPECT_TRUE(outputs.isOk()) << outputs.status().message();
    if (!outputs.isOk())
      return 0;
    // Only the loss comes back.
    EXPECT_EQ(outputs->size(), 1u);
    return outputs->at("loss").data[0];
  };
  auto params = [&]() {
    StatusOr<std::vector<TensorToWrite>> read = executor->readParams();
    EXPECT_TRUE(read.isOk()) << read.status().message();
    const auto *data = static_cast<const float *>((*read)[0].data);
    return std::vector<float>(data, data + 20);
  };
  // Σ 0..19 = 190; each committed step subtracts lr from all 20 entries.
  EXPECT_EQ(step(0.5f, true), 190.0f); // first run: enqueued, then captured
  EXPECT_EQ(step(0.5f, true), 180.0f); // a graph replay commits too
  EXPECT_EQ(step(0.25f, true), 170.0f);
  EXPECT_EQ(step(1.0f, false), 165.0f); // scoring: a graph of its own
  EXPECT_EQ(step(1.0f, false), 165.0f); // ... that commits nothing
  std::vector<float> now = params();
  for (size_t i = 0; i < now.size(); ++i)
    EXPECT_EQ(now[i], float(i) - 1.25f);
  EXPECT_EQ(step(0.0f, true), 165.0f);

  // The state moves device to device into another executor of the plan.
  std::unique_ptr<CudaExecutor> next = create(kTrainPlan);
  ASSERT_TRUE(next);
  StatusOr<MigrationReport> moved = next->migrateFrom(*executor, false);
  ASSERT_TRUE(moved.isOk()) << moved.status().message();
  EXPECT_EQ(moved->copied, 1);
  auto outputs = next->trainStep(t, y, {{"lr", 0.0f}, {"step", 1.0f}}, false);
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  EXPECT_EQ(outputs->at("loss").data[0], 165.0f);
}

// The flat AdamW step (AdamWPlan.h: three parameters of 40, 7 and 32
// floats, gradients loaded as parameters) runs as the kernel library's
// three launches on the fake driver's PTX interpreter: a committing step
// and its graph replay update the parameters and moments in place as the
// contract says (AdamWReference.h), a validation step leaves them, and
// forward() runs the optimizer.
// The gaps between the tensors of each region are read by the squared
// norm: they are zero only because the executor zeroes its arena (the fake
// driver's allocations start as NaNs, which would make every step
// nonfinite).
TEST_F(CudaExecutorFakeTest, AdamWStepUpdatesInPlace) {
  if (std::string(GROWC_OPTIMIZER_PTX_PATH).empty())
    GTEST_SKIP() << "built without the compiler (standalone runtime)";
  AdamWPlanOptions options;
  std::unique_ptr<CudaExecutor> created = createAdamW(options);
  ASSERT_TRUE(created);
  CudaExecutor &executor = *created;

  // Random parameters and gradients; the moments start at zero.
  AdamWCase want;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<float>> values;
  std::vector<TensorToWrite> tensors;
  for (const std::string prefix : {"", "grad."})
    for (size_t k = 0; k < options.sizes.size(); ++k) {
      values.emplace_back();
      for (int64_t i = 0; i < options.sizes[k]; ++i)
        values.back().push_back(normal(rng));
      std::vector<float> &flat = prefix.empty() ? want.params : want.grads;
      flat.insert(flat.end(), values.back().begin(), values.back().end());
    }
  for (size_t j = 0; j < values.size(); ++j) {
    size_t k = j % options.sizes.size();
    tensors.push_back(
        {(j < options.sizes.size() ? "p" : "grad.p") + std::to_string(k),
         DType::F32,
         {options.sizes[k]},
         values[j].data(),
         values[j].size() * 4});
  }
  want.expAvg.assign(want.params.size(), 0.0f);
  want.expAvgSq.assign(want.params.size(), 0.0f);
  ASSERT_TRUE(load(executor, tensors).isOk());

  // The trained state, concatenated in the lists' order.
  auto state = [&](const std::string &prefix) {
    StatusOr<std::vector<TensorToWrite>> read = executor.readParams();
    EXPECT_TRUE(read.isOk()) << read.status().message();
    std::vector<float> flat;
    for (size_t k = 0; read.isOk() && k < options.sizes.size(); ++k)
      for (const TensorToWrite &t : *read)
        if (t.name == prefix + "p" + std::to_string(k)) {
          const auto *data = static_cast<const float *>(t.data);
          flat.insert(flat.end(), data, data + options.sizes[k]);
        }
    return flat;
  };
  std::vector<int32_t> tokens(2, 1), targets(2, 2);
  TensorView t = adamWBatch(tokens, "tokens"),
             y = adamWBatch(targets, "targets");
  auto step = [&](float number, bool commit) {
    want.step = number;
    return executor.trainStep(
        t, y, {{"lr", want.lr}, {"step", number}, {"loss_nonfinite", 0.0f}},
        commit);
  };
  auto expectState = [&](const char *when) {
    SCOPED_TRACE(when);
    EXPECT_TRUE(closeFloats(state(""), want.params, "params"));
    EXPECT_TRUE(
        closeFloats(state("optimizer.exp_avg."), want.expAvg, "exp_avg"));
    EXPECT_TRUE(closeFloats(state("optimizer.exp_avg_sq."), want.expAvgSq,
                            "exp_avg_sq"));
  };
  for (float number : {1.0f, 2.0f}) { // enqueued and captured, then replayed
    auto outputs = step(number, /*commit=*/true);
    ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
    want.run();
    ASSERT_EQ(want.nonfinite, 0.0f);
    EXPECT_TRUE(closeFloats({outputs->at("grad_norm").data[0]}, {want.gradNorm},
                            "grad_norm", 1));
    EXPECT_EQ(outputs->at("nonfinite").data[0], 0.0f);
    expectState(number == 1 ? "first step" : "graph replay");
  }
  // Validation: the optimizer does not run.
  ASSERT_TRUE(step(3.0f, /*commit=*/false).isOk());
  expectState("validation");
  // forward(): the train graph's outputs are the next values.
  auto forward = executor.forward(
      t, &y, {{"lr", want.lr}, {"step", 3.0f}, {"loss_nonfinite", 0.0f}});
  ASSERT_TRUE(forward.isOk()) << forward.status().message();
  want.step = 3;
  want.run();
  EXPECT_TRUE(closeFloats(
      forward->at("p1").toVector(),
      std::vector<float>(want.params.begin() + 40, want.params.begin() + 47),
      "forward's p1"));
  expectState("forward");
}

// Mixed precision: each trained parameter's bf16 copy (the GEMMs' operand)
// is bf16(parameter) bit for bit after loading (rounded on the host), after
// committing steps (the update kernel writes it) and a validation step
// (untouched), and after a growth migration, both from a stage with copies
// (device to device) and from one without (rounded on the host).
TEST_F(CudaExecutorFakeTest, Bf16CopiesFollowLoadStepAndMigration) {
  if (std::string(GROWC_OPTIMIZER_PTX_PATH).empty())
    GTEST_SKIP() << "built without the compiler (standalone runtime)";
  AdamWPlanOptions bf16, noCopies;
  bf16.bf16Copies = true;
  const std::vector<int64_t> sizes = AdamWPlanOptions().sizes;
  // The parameters and their copies, each concatenated in the lists' order.
  auto params = [&](CudaExecutor &executor) {
    StatusOr<std::vector<TensorToWrite>> read = executor.readParams();
    EXPECT_TRUE(read.isOk()) << read.status().message();
    std::vector<float> flat;
    for (size_t k = 0; read.isOk() && k < sizes.size(); ++k) {
      const auto *data = static_cast<const float *>((*read)[k].data);
      flat.insert(flat.end(), data, data + sizes[k]);
    }
    return flat;
  };
  auto copies = [&](CudaExecutor &executor) {
    std::vector<uint16_t> flat;
    for (size_t k = 0; k < sizes.size(); ++k) {
      StatusOr<std::vector<uint8_t>> bytes =
          executor.readBuffer(executor.plan().params[k].bf16Copy);
      EXPECT_TRUE(bytes.isOk()) << bytes.status().message();
      if (!bytes.isOk())
        return flat;
      EXPECT_EQ(int64_t(bytes->size()), 2 * sizes[k]);
      size_t at = flat.size();
      flat.resize(at + bytes->size() / 2);
      std::memcpy(flat.data() + at, bytes->data(), bytes->size());
    }
    return flat;
  };

  std::unique_ptr<CudaExecutor> executor = createAdamW(bf16);
  ASSERT_TRUE(executor);
  // Random parameters (one a NaN, one a tie that rounds to even) and
  // gradients.
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<float>> values;
  std::vector<TensorToWrite> tensors;
  for (const std::string prefix : {"", "grad."})
    for (size_t k = 0; k < sizes.size(); ++k) {
      values.emplace_back();
      for (int64_t i = 0; i < sizes[k]; ++i)
        values.back().push_back(normal(rng));
      tensors.push_back({prefix + "p" + std::to_string(k),
                         DType::F32,
                         {sizes[k]},
                         values.back().data(),
                         size_t(sizes[k]) * 4});
    }
  values[0][3] = std::numeric_limits<float>::quiet_NaN();
  values[1][2] = 1.00390625f; // 1 + 2^-8: halfway, rounds down to 1
  for (size_t j = 0; j < tensors.size(); ++j)
    tensors[j].data = values[j].data();
  ASSERT_TRUE(load(*executor, tensors).isOk());
  std::vector<float> loaded = params(*executor);
  EXPECT_TRUE(copiesRoundParams(copies(*executor), loaded)) << "after load";
  EXPECT_EQ(copies(*executor)[40 + 2], 0x3f80) << "the tie";

  values[0][3] = 0.5f; // a finite state to step from
  ASSERT_TRUE(load(*executor, tensors).isOk());
  std::vector<int32_t> tokens(2, 1), targets(2, 2);
  TensorView t = adamWBatch(tokens, "tokens"),
             y = adamWBatch(targets, "targets");
  auto step = [&](float number, bool commit) {
    auto outputs = executor->trainStep(
        t, y, {{"lr", 3e-3f}, {"step", number}, {"loss_nonfinite", 0.0f}},
        commit);
    ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
    ASSERT_EQ(outputs->at("nonfinite").data[0], 0.0f);
  };
  for (float number : {1.0f, 2.0f}) { // enqueued and captured, then replayed
    std::vector<float> before = params(*executor);
    step(number, /*commit=*/true);
    std::vector<float> after = params(*executor);
    ASSERT_NE(after, before);
    EXPECT_TRUE(copiesRoundParams(copies(*executor), after))
        << "after step " << number;
  }
  std::vector<uint16_t> trained = copies(*executor);
  step(3.0f, /*commit=*/false);
  EXPECT_EQ(copies(*executor), trained) << "after validation";

  // Growth: the copies move with the parameters device to device ...
  std::unique_ptr<CudaExecutor> next = migratedAdamW(bf16, *executor);
  ASSERT_TRUE(next);
  EXPECT_EQ(params(*next), params(*executor));
  EXPECT_EQ(copies(*next), trained) << "after migration";
  // ... or, from a stage without copies (fp32), are rounded on the host.
  std::unique_ptr<CudaExecutor> fp32 = migratedAdamW(noCopies, *executor);
  ASSERT_TRUE(fp32);
  std::unique_ptr<CudaExecutor> rounded = migratedAdamW(bf16, *fp32);
  ASSERT_TRUE(rounded);
  EXPECT_EQ(copies(*rounded), trained) << "after migration from fp32";
}

// Parameters sharing one buffer at byte offsets (fused Q/K/V): p0 and p1
// lie back to back in one buffer, their bf16 copies in one copy buffer at
// half the offsets. Loading writes each copy at its offset / 2, the step
// keeps them, and migration moves them device to device (to and from a
// layout with a buffer per parameter) or rounds them on the host (from an
// fp32 stage); values are read back by name.
TEST_F(CudaExecutorFakeTest, Bf16CopiesOfSharedBuffersAtHalfOffsets) {
  if (std::string(GROWC_OPTIMIZER_PTX_PATH).empty())
    GTEST_SKIP() << "built without the compiler (standalone runtime)";
  AdamWPlanOptions fused;
  fused.bf16Copies = true;
  fused.fused = 2;
  AdamWPlanOptions apart = fused, fp32 = fused;
  apart.fused = 0;
  fp32.bf16Copies = false;
  const std::vector<int64_t> sizes = fused.sizes;
  const std::vector<std::string> names = {"p0", "p1", "p2"};
  auto valueOf = [](CudaExecutor &executor, const std::string &name) {
    StatusOr<std::vector<TensorToWrite>> read = executor.readParams();
    EXPECT_TRUE(read.isOk()) << read.status().message();
    for (size_t k = 0; read.isOk() && k < read->size(); ++k)
      if ((*read)[k].name == name) {
        const auto *data = static_cast<const float *>((*read)[k].data);
        return std::vector<float>(data, data + (*read)[k].byteSize / 4);
      }
    ADD_FAILURE() << "no parameter " << name;
    return std::vector<float>();
  };
  // The copy of `name`: offset / 2 into its copy buffer.
  auto copyOf = [](CudaExecutor &executor, const std::string &name) {
    const PlanParam &param = *executor.plan().findParam(name);
    StatusOr<std::vector<uint8_t>> bytes = executor.readBuffer(param.bf16Copy);
    EXPECT_TRUE(bytes.isOk()) << bytes.status().message();
    std::vector<uint16_t> copy(size_t(param.numElements));
    if (bytes.isOk() &&
        int64_t(bytes->size()) >= param.offset / 2 + param.numElements * 2)
      std::memcpy(copy.data(), bytes->data() + param.offset / 2,
                  copy.size() * 2);
    return copy;
  };
  auto expectCopiesRound = [&](CudaExecutor &executor, const char *when) {
    for (const std::string &name : names)
      EXPECT_TRUE(
          copiesRoundParams(copyOf(executor, name), valueOf(executor, name)))
          << name << " " << when;
  };

  std::unique_ptr<CudaExecutor> executor = createAdamW(fused);
  ASSERT_TRUE(executor);
  const Plan &plan = executor->plan();
  ASSERT_EQ(plan.findParam("p0")->bf16Copy, plan.findParam("p1")->bf16Copy);
  ASSERT_EQ(plan.findParam("p1")->offset, 160);
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::map<std::string, std::vector<float>> values;
  std::vector<TensorToWrite> tensors;
  for (const std::string prefix : {"", "grad."})
    for (size_t k = 0; k < sizes.size(); ++k) {
      std::vector<float> &v = values[prefix + names[k]];
      for (int64_t i = 0; i < sizes[k]; ++i)
        v.push_back(normal(rng));
      tensors.push_back(
          {prefix + names[k], DType::F32, {sizes[k]}, v.data(), v.size() * 4});
    }
  ASSERT_TRUE(load(*executor, tensors).isOk());
  for (const std::string &name : names)
    EXPECT_EQ(valueOf(*executor, name), values[name]) << name;
  expectCopiesRound(*executor, "after load");

  std::vector<int32_t> tokens(2, 1), targets(2, 2);
  auto outputs = executor->trainStep(
      adamWBatch(tokens, "tokens"), adamWBatch(targets, "targets"),
      {{"lr", 3e-3f}, {"step", 1.0f}, {"loss_nonfinite", 0.0f}}, true);
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  ASSERT_NE(valueOf(*executor, "p1"), values["p1"]);
  expectCopiesRound(*executor, "after a step");
  // forward(): the next values, read from the shared buffer's offsets.
  TensorView y = adamWBatch(targets, "targets");
  auto forward = executor->forward(
      adamWBatch(tokens, "tokens"), &y,
      {{"lr", 3e-3f}, {"step", 2.0f}, {"loss_nonfinite", 0.0f}});
  ASSERT_TRUE(forward.isOk()) << forward.status().message();
  for (const std::string &name : names)
    EXPECT_EQ(forward->at(name).toVector(), valueOf(*executor, name)) << name;

  // Device to device, from offset / 2 to a buffer of its own and back.
  std::unique_ptr<CudaExecutor> own = migratedAdamW(apart, *executor);
  ASSERT_TRUE(own);
  std::unique_ptr<CudaExecutor> back = migratedAdamW(fused, *own);
  ASSERT_TRUE(back);
  for (const std::string &name :
       {"p0", "p1", "p2", "optimizer.exp_avg.p1", "optimizer.exp_avg_sq.p1"}) {
    EXPECT_EQ(valueOf(*own, name), valueOf(*executor, name)) << name;
    EXPECT_EQ(valueOf(*back, name), valueOf(*executor, name)) << name;
  }
  for (const std::string &name : names) {
    EXPECT_EQ(copyOf(*own, name), copyOf(*executor, name)) << name;
    EXPECT_EQ(copyOf(*back, name), copyOf(*executor, name)) << name;
  }
  // From an fp32 stage: rounded on the host into offset / 2.
  std::unique_ptr<CudaExecutor> single = migratedAdamW(fp32, *executor);
  ASSERT_TRUE(single);
  std::unique_ptr<CudaExecutor> rounded = migratedAdamW(fused, *single);
  ASSERT_TRUE(rounded);
  for (const std::string &name : names)
    EXPECT_EQ(copyOf(*rounded, name), copyOf(*executor, name)) << name;
}

// growc-run train on the GPU path end to end (GROWC_LIBCUDA and
// GROWC_LIBCUBLASLT name the fake): every loss is Σ w before its step, the
// validation losses (file data validates on --val-data) Σ w after it, and the
// checkpoint read back from the device is w minus the learning rates of the
// steps.
TEST_F(CudaExecutorFakeTest, GrowcRunTrainsOnTheDevice) {
  writePtxArtifact("fwd.plan.json", kTrainPlan);
  std::vector<float> w(20);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = float(i) * 0.25f;
  writeTensors("w.safetensors", {{"w", DType::F32, {5, 4}, w.data(), 80}});
  {
    std::ofstream data(file("tokens.u32"), std::ios::binary);
    for (uint32_t i = 0; i < 200; ++i) {
      uint32_t token = i % 5;
      data.write(reinterpret_cast<const char *>(&token), 4);
    }
  }
  std::string command =
      "GROWC_LIBCUDA='" + std::string(GROWC_FAKE_CUDA_PATH) +
      "' GROWC_LIBCUBLASLT='" + GROWC_FAKE_CUDA_PATH + "' '" + GROWC_RUN_PATH +
      "' train '" + file("fwd.plan.json") + "' --weights '" +
      file("w.safetensors") + "' --data u32:'" + file("tokens.u32") +
      "' --val-data u32:'" + file("tokens.u32") +
      "' --steps 6 --lr 0.1 --val-every 3 --metrics '" + file("m.jsonl") +
      "' --out '" + file("c.safetensors") + "' 2>'" + file("err.txt") + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << [&] {
    std::ifstream err(file("err.txt"));
    return std::string(std::istreambuf_iterator<char>(err), {});
  }();
  std::ifstream metrics(file("m.jsonl"));
  double sum = 0;
  for (float x : w)
    sum += x;
  int steps = 0;
  for (std::string line; std::getline(metrics, line); ++steps) {
    auto number = [&](const std::string &key) {
      size_t at = line.find("\"" + key + "\": ");
      EXPECT_NE(at, std::string::npos) << key << " in " << line;
      return std::strtod(line.c_str() + at + key.size() + 4, nullptr);
    };
    EXPECT_NEAR(number("loss"), sum, 1e-4) << line;
    sum -= 20 * number("lr");
    if (steps % 3 == 2)
      EXPECT_NEAR(number("val_loss"), sum, 1e-4) << line;
    else
      EXPECT_EQ(line.find("val_loss"), std::string::npos) << line;
  }
  EXPECT_EQ(steps, 6);
  StatusOr<SafetensorsFile> checkpoint =
      SafetensorsFile::open(file("c.safetensors"));
  ASSERT_TRUE(checkpoint.isOk()) << checkpoint.status().message();
  const TensorView *saved = checkpoint->find("w");
  ASSERT_NE(saved, nullptr);
  double savedSum = 0;
  for (int i = 0; i < 20; ++i)
    savedSum += reinterpret_cast<const float *>(saved->data)[i];
  EXPECT_NEAR(savedSum, sum, 1e-4);
}

// growc-run forward --profile on the GPU path: the table and the summary
// against the copy bandwidth and the best GEMM candidates.
TEST_F(CudaExecutorFakeTest, GrowcRunProfilesOnTheDevice) {
  writePtxArtifact("fwd.plan.json", gpuToyPlan());
  writeTensors("w.safetensors", ToyWeights().tensors());
  std::vector<int32_t> tokens = {0, 1, 2, 3, 4, 0};
  writeTensors("t.safetensors",
               {{"tokens", DType::I32, {kBatch, kSeq}, tokens.data(), 24}});
  std::string command = "GROWC_LIBCUDA='" + std::string(GROWC_FAKE_CUDA_PATH) +
                        "' GROWC_LIBCUBLASLT='" + GROWC_FAKE_CUDA_PATH + "' '" +
                        GROWC_RUN_PATH + "' forward '" + file("fwd.plan.json") +
                        "' --weights '" + file("w.safetensors") +
                        "' --tokens '" + file("t.safetensors") + "' --out '" +
                        file("o.safetensors") + "' --profile --profile-json '" +
                        file("p.json") + "' 2>'" + file("err.txt") + "'";
  int status = std::system(command.c_str());
  std::ifstream errFile(file("err.txt"));
  std::string err(std::istreambuf_iterator<char>(errFile), {});
  ASSERT_EQ(status, 0) << err;
  EXPECT_TRUE(contains(err, "on growc fake GPU: 3 steps"));
  EXPECT_TRUE(contains(err, "device-to-device copy bandwidth"));
  EXPECT_TRUE(contains(err, "% of copy"));
  EXPECT_TRUE(contains(err, "x best"));
  EXPECT_TRUE(contains(err, "memory-bound kernels:"));
  EXPECT_TRUE(contains(err, "GEMMs:"));
  std::ifstream json(file("p.json"));
  std::string text(std::istreambuf_iterator<char>(json), {});
  EXPECT_TRUE(contains(text, "\"gemm_worst_ratio\""));
  EXPECT_TRUE(contains(text, "\"memory_bound_copy_fraction\""));
}

/// A data-parallel toy step (the training plan's interface): g = the mean
/// token of this rank's batch ("tokgrad"), averaged over the ranks
/// (all_reduce), then w -= lr·g ("sgd_g"). Ranks see different batches, so
/// their replicas stay equal only if the reduction happens.
std::string dataParallelPlan() {
  std::string plan =
      replaceOnce(kTrainPlan, R"("arena_size": 576)", R"("arena_size": 640)");
  plan = replaceOnce(plan, R"({"id": 6, "offset": 512, "size": 64})",
                     R"({"id": 6, "offset": 512, "size": 64},
    {"id": 7, "offset": 576, "size": 64})");
  size_t kernels = plan.find(R"("kernels": [)");
  return plan.substr(0, kernels) + R"("kernels": [
    {"name": "tokgrad", "symbol": "tokgrad",
     "launch": {"grid": [1, 1, 1], "block": [32, 1, 1], "params": [0, 1]},
     "args": [{"dtype": "I32", "shape": [2, 3]}, {"dtype": "F32", "shape": [1]}]},
    {"name": "sgd_g", "symbol": "sgd_g",
     "launch": {"grid": [1, 1, 1], "block": [32, 1, 1],
                "params": [0, 1, 2, 3, 4]},
     "args": [{"dtype": "F32", "shape": [5, 4]}, {"dtype": "F32", "shape": [1]},
              {"dtype": "F32", "shape": [1]}, {"dtype": "F32", "shape": [5, 4]},
              {"dtype": "F32", "shape": [1]}]}
  ],
  "steps": [
    {"op": "kernel", "kernel": 0, "args": [0, 7]},
    {"op": "all_reduce", "buffers": [7], "reduction": "mean", "when": -1},
    {"op": "kernel", "kernel": 1, "args": [3, 2, 7, 4, 5]}
  ]
})";
}

// growc-run train on two ranks of the GPU path (the TCP bootstrap, NCCL and
// the driver all the fake): the gradients are averaged on the device, so
// the replicas agree when the checkpoint is written.
TEST_F(CudaExecutorFakeTest, GrowcRunTrainsDataParallelThroughNccl) {
  writePtxArtifact("fwd.plan.json", dataParallelPlan());
  std::vector<float> w(20, 1.0f);
  writeTensors("w.safetensors", {{"w", DType::F32, {5, 4}, w.data(), 80}});
  {
    std::ofstream data(file("tokens.u32"), std::ios::binary);
    uint32_t state = 12345;
    for (int i = 0; i < 400; ++i) {
      state = state * 1103515245u + 12345u;
      uint32_t token = (state >> 16) % 5;
      data.write(reinterpret_cast<const char *>(&token), 4);
    }
  }
  const int port = 20000 + int((::getpid() * 7919 + ::time(nullptr)) % 40000);
  std::string fake = GROWC_FAKE_CUDA_PATH;
  auto rank = [&](int r) {
    return "RANK=" + std::to_string(r) + " LOCAL_RANK=" + std::to_string(r) +
           " WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 "
           "MASTER_PORT=" +
           std::to_string(port) +
           " GROWC_COLLECTIVE=tcp GROWC_RENDEZVOUS_TIMEOUT=60 "
           "GROWC_FAKE_CUDA_DEVICES=2 GROWC_LIBCUDA='" +
           fake + "' GROWC_LIBCUBLASLT='" + fake + "' GROWC_LIBNCCL='" + fake +
           "' '" + GROWC_RUN_PATH + "' train '" + file("fwd.plan.json") +
           "' --weights '" + file("w.safetensors") + "' --data u32:'" +
           file("tokens.u32") + "' --steps 5 --lr 0.1 --out '" +
           file("c.safetensors") + "' 2>'" + file("err" + std::to_string(r)) +
           "'; echo $? >'" + file("rc" + std::to_string(r)) + "'";
  };
  std::string command = "(" + rank(0) + ") & (" + rank(1) + ") & wait";
  ASSERT_EQ(std::system(command.c_str()), 0);
  auto read = [&](const std::string &name) {
    std::ifstream in(file(name));
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(read("rc0"), "0\n") << read("err0");
  EXPECT_EQ(read("rc1"), "0\n") << read("err1");
  EXPECT_TRUE(contains(read("err0"), "(2 nccl ranks)"));
  StatusOr<SafetensorsFile> checkpoint =
      SafetensorsFile::open(file("c.safetensors"));
  ASSERT_TRUE(checkpoint.isOk()) << checkpoint.status().message();
}

TEST_F(CudaExecutorFakeTest, ProfileTimesEveryStep) {
  std::unique_ptr<CudaExecutor> executor = create(gpuToyPlan());
  ASSERT_TRUE(executor);
  ASSERT_TRUE(load(*executor, ToyWeights().tensors()).isOk());
  std::vector<int32_t> tokens = {0, 1, 2, 3, 4, 0};
  StatusOr<CudaExecutor::StepProfile> profile =
      executor->profile(int32View(tokens, "tokens"), nullptr, {}, 2);
  ASSERT_TRUE(profile.isOk()) << profile.status().message();
  ASSERT_EQ(profile->stepMs.size(), 3u);
  for (double ms : profile->stepMs)
    EXPECT_GT(ms, 0.0);
  EXPECT_EQ(profile->bestGemmMs[0], 0.0);
  EXPECT_GT(profile->bestGemmMs[1], 0.0); // the GEMM step
  EXPECT_GT(profile->copyBytesPerSecond, 0.0);
}

/// Two ranks holding the same values, for the plan's all_reduce steps on
/// the device: a sum doubles the floats, enqueued on the executor's
/// communication stream through the fake driver (so graphs capture it).
class EchoDeviceCollective : public EchoCollectiveBase {
public:
  using Collective::allReduce;
  Status allReduce(void *, int64_t, ElementType, ReduceOp) override {
    return Status::error("host memory is not reduced here");
  }
  Status allReduceDevice(uint64_t data, int64_t count, ReduceOp op,
                         void *stream) override {
    calls.push_back(count);
    if (op != ReduceOp::Sum)
      return Status::error("the test reduces sums only");
    using Enqueue = void (*)(CUstream, void (*)(void *), void *);
    void *fake = ::dlopen(GROWC_FAKE_CUDA_PATH, RTLD_NOW | RTLD_NOLOAD);
    auto enqueue =
        fake ? reinterpret_cast<Enqueue>(::dlsym(fake, "growcFakeEnqueue"))
             : nullptr;
    if (!enqueue)
      return Status::error("the fake driver is not loaded");
    pending.push_back({reinterpret_cast<float *>(data), count});
    enqueue(static_cast<CUstream>(stream), &doubleFloats, &pending.back());
    ::dlclose(fake);
    return Status::ok();
  }
  std::vector<int64_t> calls;

private:
  struct Span {
    float *data;
    int64_t count;
  };
  static void doubleFloats(void *argument) {
    auto *span = static_cast<Span *>(argument);
    for (int64_t i = 0; i < span->count; ++i)
      span->data[i] *= 2;
  }
  std::list<Span> pending; // stable addresses for recorded work
};

TEST_F(CudaExecutorFakeTest, AllReduceStepsRunOnTheDevice) {
  // The toy forward with the logits (buffer 5) summed over two ranks.
  std::string plan = replaceOnce(
      gpuToyPlan(), R"({"op": "kernel", "kernel": 1, "args": [4, 5]})",
      R"({"op": "kernel", "kernel": 1, "args": [4, 5]},
         {"op": "all_reduce", "buffers": [5], "reduction": "sum", "when": -1})");
  std::unique_ptr<CudaExecutor> executor = create(plan);
  ASSERT_TRUE(executor);
  ToyWeights weights;
  ASSERT_TRUE(load(*executor, weights.tensors()).isOk());
  std::vector<int32_t> tokens = {1, 2, 3, 4, 0, 1};
  std::vector<float> want = toyReference(weights, tokens).logits;
  auto logits = [&] {
    auto outputs = executor->forward(int32View(tokens, "tokens"));
    EXPECT_TRUE(outputs.isOk()) << outputs.status().message();
    return outputs.isOk() ? outputs->at("logits").toVector()
                          : std::vector<float>();
  };
  auto expectScaled = [&](const std::vector<float> &got, float scale) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], want[i] * scale, 1e-5f) << i;
  };
  // Without a collective the step does nothing.
  expectScaled(logits(), 1);
  EchoDeviceCollective echo;
  executor->setCollective(&echo);
  // Enqueued, then captured with the reduction, then replayed: each run
  // reduces its own logits once.
  for (int run = 0; run < 3; ++run)
    expectScaled(logits(), 2);
  // The whole 128-byte buffer, once when run and once when captured.
  EXPECT_EQ(echo.calls, (std::vector<int64_t>{32, 32}));
  executor->setCollective(nullptr);
  expectScaled(logits(), 1);
}

TEST_F(CudaExecutorFakeTest, GatedAllReduceFollowsItsFlag) {
  // The toy training step's next value summed over two ranks when the
  // scalar `step` (an input) is positive: an accumulation step's flag.
  std::string plan = replaceOnce(kTrainPlan, R"("args": [3, 2, 4, 5]}])",
                                 R"("args": [3, 2, 4, 5]},
      {"op": "all_reduce", "buffers": [4], "reduction": "sum", "when": 6}])");
  std::unique_ptr<CudaExecutor> executor = create(plan);
  ASSERT_TRUE(executor);
  std::vector<float> w(20, 1.0f);
  ASSERT_TRUE(
      load(*executor, {{"w", DType::F32, {5, 4}, w.data(), 80}}).isOk());
  EchoDeviceCollective echo;
  executor->setCollective(&echo);
  std::vector<int32_t> tokens(6, 1), targets(6, 2);
  auto loss = [&](float flag) {
    auto outputs = executor->trainStep(int32View(tokens, "tokens"),
                                       int32View(targets, "targets"),
                                       {{"lr", 0.5f}, {"step", flag}}, true);
    EXPECT_TRUE(outputs.isOk()) << outputs.status().message();
    return outputs.isOk() ? outputs->at("loss").data[0] : -1.0f;
  };
  EXPECT_EQ(loss(0.0f), 20.0f);  // w = 1 - 0.5, not reduced
  EXPECT_EQ(loss(1.0f), 10.0f);  // w = 2 (0.5 - 0.5) = 0
  EXPECT_EQ(loss(0.0f), 0.0f);   // w = -0.5; a gated plan is never a graph
  EXPECT_EQ(loss(1.0f), -10.0f); // w = 2 (-0.5 - 0.5) = -2
  EXPECT_EQ(loss(0.0f), -40.0f);
  EXPECT_EQ(echo.calls.size(), 2u);
}

// The fake driver's shared memory limits, as a GPU's: a kernel reports its
// static shared memory, may opt in to up to 227 KiB of dynamic shared
// memory, and a launch whose static plus dynamic bytes exceed 227 KiB
// fails (the runtime names such a kernel before launching it:
// gpu-faults.test).
TEST_F(CudaExecutorFakeTest, BlocksGetAtMostTheDevicesSharedMemory) {
  auto driver = cuda::Driver::load(GROWC_FAKE_CUDA_PATH);
  ASSERT_TRUE(driver.isOk()) << driver.status().message();
  cuda::Driver &cu = **driver;
  ASSERT_EQ(cu.cuInit(0), CUDA_SUCCESS);
  int optIn = 0;
  ASSERT_EQ(
      cu.cuDeviceGetAttribute(
          &optIn, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 0),
      CUDA_SUCCESS);
  EXPECT_EQ(optIn, 227 * 1024);
  const char *ptx = ".version 8.0\n.target sm_90\n.address_size 64\n"
                    ".visible .entry tile()\n{\n"
                    "\t.shared .align 16 .b8 buffer[1024];\n\tret;\n}\n";
  CUmodule module = nullptr;
  ASSERT_EQ(cu.cuModuleLoadDataEx(&module, ptx, 0, nullptr, nullptr),
            CUDA_SUCCESS);
  CUfunction fn = nullptr;
  ASSERT_EQ(cu.cuModuleGetFunction(&fn, module, "tile"), CUDA_SUCCESS);
  int staticBytes = 0;
  ASSERT_EQ(cu.cuFuncGetAttribute(&staticBytes,
                                  CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, fn),
            CUDA_SUCCESS);
  EXPECT_EQ(staticBytes, 1024);
  auto launch = [&](unsigned dynamicBytes) {
    return cu.cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, dynamicBytes, nullptr,
                             nullptr, nullptr);
  };
  // Beyond 48 KiB of dynamic shared memory only after opting in.
  EXPECT_EQ(launch(64 * 1024), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(
      cu.cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                            227 * 1024 + 1),
      CUDA_ERROR_INVALID_VALUE);
  ASSERT_EQ(
      cu.cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                            227 * 1024),
      CUDA_SUCCESS);
  EXPECT_EQ(launch(227 * 1024 - 1024), CUDA_SUCCESS);
  EXPECT_EQ(launch(227 * 1024 - 1023), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cu.cuStreamSynchronize(nullptr), CUDA_SUCCESS);
}

} // namespace
