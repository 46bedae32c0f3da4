//===- OptimizerKernelTest.cpp - The flat AdamW kernels on the interpreter ===//
//
// The kernel library's AdamW step (lib/Codegen/Kernels/Optimizer.cu, PTX
// by clang) runs its three entry points (block partials of Σ g², the
// scalars, the update) on the test driver's PTX interpreter against the
// plan's adamw semantics (docs/plan.md) computed here: a region of a few
// thousand elements whose length leaves a tail after the 128-bit groups,
// over several blocks that each stride more than once; with clipping on and
// off, a nonfinite gradient and a nonfinite loss (nothing updated),
// gradient accumulation with and without the applying micro-batch, and a
// region that is not 16-byte aligned (the scalar path throughout). The
// kernels round each f32 operation as the reference does and sum the
// squares in double, so the results agree to a few ulps.
//
//===----------------------------------------------------------------------===//

#include "PtxInterpreter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <random>
#include <sstream>

namespace {

using growc::ptx::Launch;
using growc::ptx::Module;

constexpr float kBeta1 = 0.9f, kBeta2 = 0.95f, kEps = 1e-8f;
constexpr double kBeta1d = 0.9, kBeta2d = 0.95, kWeightDecay = 0.01;

/// The regions, the scalars and the scratch one step reads and writes, in
/// host memory the interpreter takes for device memory.
struct Step {
  int64_t n = 0;
  std::vector<float> params, grads, expAvg, expAvgSq, gradSums;
  float lr = 3e-3f, step = 3, apply = -1, lossNonfinite = 0;
  double maxGradNorm = 1.0;
  bool accumulate = false;
  /// Elements before each region's first (1: misaligned by 4 bytes).
  int64_t shift = 0;
};

struct Result {
  std::vector<float> params, expAvg, expAvgSq, gradSums;
  float gradNorm = 0, nonfinite = 0;
};

/// The contract's semantics (docs/plan.md, the adamw step), written from it.
Result reference(const Step &s) {
  double sum = 0;
  for (float g : s.grads)
    sum += double(g) * double(g);
  float sq = float(sum);
  Result r{s.params, s.expAvg, s.expAvgSq, {}, 0, 0};
  if (s.accumulate)
    r.gradSums = s.gradSums;
  r.gradNorm = std::sqrt(sq);
  float coef = std::fmin(float(s.maxGradNorm) / (r.gradNorm + 1e-6f), 1.0f);
  r.nonfinite = s.lossNonfinite > 0.5f ? 1.0f : (std::isfinite(sq) ? 0 : 1);
  float update = r.nonfinite > 0.5f ? 0.0f : (s.accumulate ? s.apply : 1.0f);
  float c1 = 1 - std::exp(s.step * float(std::log(kBeta1d)));
  float c2 = 1 - std::exp(s.step * float(std::log(kBeta2d)));
  float stepSize = s.lr / c1, decay = 1 - s.lr * float(kWeightDecay);
  const float b1 = float(kBeta1d), b2 = float(kBeta2d);
  const float omb1 = float(1 - kBeta1d), omb2 = float(1 - kBeta2d);
  for (int64_t i = 0; i < s.n; ++i) {
    if (update > 0.5f) {
      float g = s.grads[i] * coef;
      float m = s.expAvg[i] * b1 + g * omb1;
      float v = s.expAvgSq[i] * b2 + (g * g) * omb2;
      float denom = std::sqrt(v) / std::sqrt(c2) + kEps;
      r.params[i] = s.params[i] * decay - stepSize * (m / denom);
      r.expAvg[i] = m;
      r.expAvgSq[i] = v;
    }
    if (s.accumulate)
      r.gradSums[i] = s.apply > 0.5f ? 0.0f : s.grads[i];
  }
  return r;
}

/// Parameters packed as a kernel takes them: each aligned to its size.
class Params {
public:
  template <typename T> Params &add(T value) {
    size_t at = (bytes.size() + sizeof(T) - 1) / sizeof(T) * sizeof(T);
    bytes.resize(at + sizeof(T));
    std::memcpy(bytes.data() + at, &value, sizeof(T));
    sizes.push_back(unsigned(sizeof(T)));
    return *this;
  }
  std::vector<uint8_t> bytes;
  std::vector<unsigned> sizes;
};

class OptimizerKernelTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    const std::string path = GROWC_OPTIMIZER_PTX_PATH;
    if (path.empty())
      return;
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    module = Module::parse(text.str(), parseError).release();
  }
  static void TearDownTestSuite() {
    delete module;
    module = nullptr;
  }
  void SetUp() override {
    if (std::string(GROWC_OPTIMIZER_PTX_PATH).empty())
      GTEST_SKIP() << "built without the compiler (standalone runtime)";
    ASSERT_TRUE(module) << parseError;
  }

  /// Runs `name` on `blocks` blocks of 256 threads; the interpreter's error.
  std::string launch(const std::string &name, unsigned blocks,
                     const Params &params) {
    const growc::ptx::Kernel *kernel = module->find(name);
    if (!kernel)
      return "no kernel " + name;
    if (Module::paramSizes(*kernel) != params.sizes)
      return name + " takes other parameters";
    Launch config;
    config.grid[0] = blocks;
    config.block[0] = 256;
    config.params = params.bytes;
    return growc::ptx::run(
        *module, *kernel, config,
        [&](uint64_t address, uint64_t &base, uint64_t &size) {
          for (const auto &b : memory) {
            uint64_t at = reinterpret_cast<uint64_t>(b->data());
            uint64_t bytes = b->size() * sizeof(Quad);
            if (address >= at && address < at + bytes) {
              base = at;
              size = bytes;
              return true;
            }
          }
          return false;
        });
  }

  /// A device buffer holding `values` after `shift` unused floats, in
  /// 16-byte aligned storage as a GPU allocation is (so that `shift` alone
  /// decides the alignment); returns the address of the first value.
  float *device(const std::vector<float> &values, int64_t shift = 0) {
    size_t count = size_t(shift) + values.size();
    memory.push_back(std::make_unique<std::vector<Quad>>((count + 3) / 4));
    float *first = reinterpret_cast<float *>(memory.back()->data()) + shift;
    std::memcpy(first, values.data(), values.size() * 4);
    return first;
  }

  /// The three launches of one adamw step, like CudaExecutor's.
  Result run(const Step &s, unsigned partialBlocks, unsigned updateBlocks) {
    Result r;
    float *params = device(s.params, s.shift),
          *grads = device(s.grads, s.shift),
          *expAvg = device(s.expAvg, s.shift),
          *expAvgSq = device(s.expAvgSq, s.shift);
    float *gradSums = s.accumulate ? device(s.gradSums, s.shift) : nullptr;
    float *lr = device({s.lr}), *step = device({s.step}),
          *apply = s.accumulate ? device({s.apply}) : nullptr,
          *lossNonfinite = device({s.lossNonfinite}), *gradNorm = device({-1}),
          *nonfinite = device({-1}),
          *scalars = device(std::vector<float>(8, -1));
    auto *partials = reinterpret_cast<double *>(
        device(std::vector<float>(2 * partialBlocks, -1)));
    EXPECT_EQ(launch("growc_adamw_sumsq", partialBlocks,
                     Params().add(grads).add(int64_t(s.n)).add(partials)),
              "");
    EXPECT_EQ(launch("growc_adamw_scalars", 1,
                     Params()
                         .add(partials)
                         .add(lossNonfinite)
                         .add(apply)
                         .add(lr)
                         .add(step)
                         .add(gradNorm)
                         .add(nonfinite)
                         .add(scalars)
                         .add(int32_t(partialBlocks))
                         .add(float(std::log(kBeta1d)))
                         .add(float(std::log(kBeta2d)))
                         .add(float(kWeightDecay))
                         .add(float(s.maxGradNorm))),
              "");
    EXPECT_EQ(launch("growc_adamw_update", updateBlocks,
                     Params()
                         .add(params)
                         .add(grads)
                         .add(expAvg)
                         .add(expAvgSq)
                         .add(gradSums)
                         .add(static_cast<const float *>(scalars))
                         .add(int64_t(s.n))
                         .add(kBeta1)
                         .add(kBeta2)
                         .add(float(1 - kBeta1d))
                         .add(float(1 - kBeta2d))
                         .add(kEps)),
              "");
    auto read = [&](const float *at) {
      return std::vector<float>(at, at + s.n);
    };
    r.params = read(params);
    r.expAvg = read(expAvg);
    r.expAvgSq = read(expAvgSq);
    if (gradSums)
      r.gradSums = read(gradSums);
    r.gradNorm = *gradNorm;
    r.nonfinite = *nonfinite;
    return r;
  }

  /// A step over n elements of random state; gradients scaled by `scale`.
  static Step randomStep(int64_t n, float scale) {
    Step s;
    s.n = n;
    std::mt19937 rng(static_cast<unsigned>(n));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (std::vector<float> *x : {&s.params, &s.grads, &s.expAvg, &s.gradSums})
      for (int64_t i = 0; i < n; ++i)
        x->push_back(normal(rng));
    for (float &g : s.grads)
      g *= scale;
    for (int64_t i = 0; i < n; ++i)
      s.expAvgSq.push_back(std::fabs(normal(rng)) * 1e-2f);
    return s;
  }

  struct alignas(16) Quad {
    float v[4];
  };
  std::vector<std::unique_ptr<std::vector<Quad>>> memory;
  static Module *module;
  static std::string parseError;
};
Module *OptimizerKernelTest::module = nullptr;
std::string OptimizerKernelTest::parseError;

/// Whether got and want agree to `ulps` units in the last place (NaNs
/// agree with NaNs).
::testing::AssertionResult close(const std::vector<float> &got,
                                 const std::vector<float> &want,
                                 const char *what, float ulps = 4) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << what << ": sizes differ";
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] == want[i] || (std::isnan(want[i]) && std::isnan(got[i])))
      continue;
    float tolerance = ulps * std::numeric_limits<float>::epsilon() *
                      std::max(std::fabs(want[i]), 1e-30f);
    if (!(std::fabs(got[i] - want[i]) <= tolerance))
      return ::testing::AssertionFailure()
             << what << "[" << i << "] = " << got[i] << ", want " << want[i];
  }
  return ::testing::AssertionSuccess();
}

void expectSame(const Result &got, const Result &want) {
  EXPECT_TRUE(close({got.gradNorm}, {want.gradNorm}, "grad_norm", 1));
  EXPECT_EQ(got.nonfinite, want.nonfinite);
  EXPECT_TRUE(close(got.params, want.params, "params"));
  EXPECT_TRUE(close(got.expAvg, want.expAvg, "exp_avg"));
  EXPECT_TRUE(close(got.expAvgSq, want.expAvgSq, "exp_avg_sq"));
  EXPECT_TRUE(close(got.gradSums, want.gradSums, "grad_sums"));
}

// 4,099 elements: 1,024 groups of four and a tail of three. Two partial
// blocks and three update blocks of 256 threads: each thread strides over
// the groups more than once.
constexpr int64_t kN = 4099;

TEST_F(OptimizerKernelTest, ClippedUpdateMatchesTheContract) {
  Step s = randomStep(kN, 1.0f); // norm about 64: clipped to 1
  Result want = reference(s);
  ASSERT_GT(want.gradNorm, 10.0f);
  Result got = run(s, 2, 3);
  expectSame(got, want);
  // Every element moved, the tail included.
  for (int64_t i = 0; i < kN; ++i)
    ASSERT_NE(got.params[i], s.params[i]) << i;
}

TEST_F(OptimizerKernelTest, UnclippedUpdateMatchesTheContract) {
  Step s = randomStep(kN, 1e-3f); // norm about 0.064: coefficient 1
  Result want = reference(s);
  ASSERT_LT(want.gradNorm, 1.0f);
  expectSame(run(s, 3, 2), want);
}

TEST_F(OptimizerKernelTest, MisalignedRegionsTakeTheScalarPath) {
  Step s = randomStep(kN, 1.0f);
  s.shift = 1; // 4 bytes past a 16-byte boundary: no 128-bit access
  s.step = 1;
  s.maxGradNorm = 0.5;
  expectSame(run(s, 2, 2), reference(s));
}

TEST_F(OptimizerKernelTest, NonfiniteGradientSkipsTheUpdate) {
  Step s = randomStep(kN, 1.0f);
  s.grads[kN - 1] = std::numeric_limits<float>::infinity(); // in the tail
  Result got = run(s, 2, 3);
  EXPECT_EQ(got.nonfinite, 1.0f);
  EXPECT_TRUE(std::isinf(got.gradNorm));
  EXPECT_EQ(got.params, s.params);
  EXPECT_EQ(got.expAvg, s.expAvg);
  EXPECT_EQ(got.expAvgSq, s.expAvgSq);
  expectSame(got, reference(s));
}

TEST_F(OptimizerKernelTest, NonfiniteLossSkipsTheUpdate) {
  Step s = randomStep(kN, 1.0f);
  s.lossNonfinite = 1;
  Result got = run(s, 2, 3);
  EXPECT_EQ(got.nonfinite, 1.0f);
  EXPECT_EQ(got.params, s.params);
  expectSame(got, reference(s));
}

TEST_F(OptimizerKernelTest, AccumulationCarriesOrResetsTheSums) {
  for (float apply : {0.0f, 1.0f}) {
    SCOPED_TRACE(apply);
    Step s = randomStep(kN, 1.0f);
    s.accumulate = true;
    s.apply = apply;
    Result got = run(s, 2, 3);
    if (apply == 0.0f) {
      EXPECT_EQ(got.params, s.params); // not the applying micro-batch
      EXPECT_EQ(got.gradSums, s.grads);
    } else {
      EXPECT_EQ(got.gradSums, std::vector<float>(kN, 0.0f));
    }
    expectSame(got, reference(s));
  }
  // A nonfinite step keeps the parameters but still resets the sums.
  Step s = randomStep(kN, 1.0f);
  s.accumulate = true;
  s.apply = 1;
  s.grads[5] = std::numeric_limits<float>::quiet_NaN();
  Result got = run(s, 2, 3);
  EXPECT_EQ(got.nonfinite, 1.0f);
  EXPECT_EQ(got.params, s.params);
  EXPECT_EQ(got.gradSums, std::vector<float>(kN, 0.0f));
}

} // namespace
