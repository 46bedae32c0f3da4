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
// squares in double, so the results agree to a few ulps. The parameters'
// bf16 copies (--precision=bf16) are bf16 of the new parameters bit for
// bit where the update applies (64-bit quads, the scalar tail, a region
// only 2-byte aligned, a NaN) and keep their old bits where it does not.
//
//===----------------------------------------------------------------------===//

#include "AdamWReference.h"
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
using growc::rt::test::AdamWCase;
using growc::rt::test::closeFloats;
using growc::rt::test::copiesRoundParams;
using growc::rt::test::isBf16Nan;

/// A step and where its regions start.
struct Step : AdamWCase {
  /// Floats before each region's first (1: misaligned by 4 bytes).
  int64_t shift = 0;
  /// bf16 values before the copies' first (odd: not 8-byte aligned).
  int64_t bf16Shift = 0;
  int64_t size() const { return int64_t(params.size()); }
};

/// What the kernels left, in an AdamWCase (state and scalars).
AdamWCase expected(const Step &s) {
  AdamWCase want = s;
  want.run();
  return want;
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
  template <typename T>
  T *device(const std::vector<T> &values, int64_t shift = 0) {
    size_t bytes = (size_t(shift) + values.size()) * sizeof(T);
    memory.push_back(
        std::make_unique<std::vector<Quad>>((bytes + 15) / sizeof(Quad)));
    T *first = reinterpret_cast<T *>(memory.back()->data()) + shift;
    std::memcpy(first, values.data(), values.size() * sizeof(T));
    return first;
  }
  float *device(std::initializer_list<float> values) {
    return device(std::vector<float>(values));
  }

  /// The three launches of one adamw step, like CudaExecutor's; the
  /// state and the two written scalars afterwards.
  AdamWCase run(const Step &s, unsigned partialBlocks, unsigned updateBlocks) {
    const bool sums = s.accumulates();
    float *params = device(s.params, s.shift),
          *grads = device(s.grads, s.shift),
          *expAvg = device(s.expAvg, s.shift),
          *expAvgSq = device(s.expAvgSq, s.shift);
    float *gradSums = sums ? device(s.gradSums, s.shift) : nullptr;
    uint16_t *bf16 =
        s.bf16Params.empty() ? nullptr : device(s.bf16Params, s.bf16Shift);
    float *lr = device({s.lr}), *step = device({s.step}),
          *apply = sums ? device({s.apply}) : nullptr,
          *lossNonfinite = device({s.lossNonfinite}), *gradNorm = device({-1}),
          *nonfinite = device({-1}),
          *scalars = device(std::vector<float>(8, -1));
    auto *partials = reinterpret_cast<double *>(
        device(std::vector<float>(2 * partialBlocks, -1)));
    EXPECT_EQ(launch("growc_adamw_sumsq", partialBlocks,
                     Params().add(grads).add(s.size()).add(partials)),
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
                         .add(float(std::log(s.beta1)))
                         .add(float(std::log(s.beta2)))
                         .add(float(s.weightDecay))
                         .add(float(s.maxGradNorm))),
              "");
    EXPECT_EQ(launch("growc_adamw_update", updateBlocks,
                     Params()
                         .add(params)
                         .add(grads)
                         .add(expAvg)
                         .add(expAvgSq)
                         .add(gradSums)
                         .add(bf16)
                         .add(static_cast<const float *>(scalars))
                         .add(s.size())
                         .add(float(s.beta1))
                         .add(float(s.beta2))
                         .add(float(1 - s.beta1))
                         .add(float(1 - s.beta2))
                         .add(float(s.eps))),
              "");
    auto read = [&](const float *at) {
      return std::vector<float>(at, at + s.size());
    };
    AdamWCase got = s;
    got.params = read(params);
    got.expAvg = read(expAvg);
    got.expAvgSq = read(expAvgSq);
    if (gradSums)
      got.gradSums = read(gradSums);
    if (bf16)
      got.bf16Params.assign(bf16, bf16 + s.size());
    got.gradNorm = *gradNorm;
    got.nonfinite = *nonfinite;
    return got;
  }

  /// A step over n elements of random state; gradients scaled by `scale`;
  /// bf16 copies holding bits no parameter rounds to (denormals), so that
  /// a copy left alone is told from one written.
  static Step randomStep(int64_t n, float scale) {
    Step s;
    std::mt19937 rng(static_cast<unsigned>(n));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (std::vector<float> *x : {&s.params, &s.grads, &s.expAvg, &s.gradSums})
      for (int64_t i = 0; i < n; ++i)
        x->push_back(normal(rng));
    for (float &g : s.grads)
      g *= scale;
    for (int64_t i = 0; i < n; ++i)
      s.expAvgSq.push_back(std::fabs(normal(rng)) * 1e-2f);
    for (int64_t i = 0; i < n; ++i)
      s.bf16Params.push_back(uint16_t(1 + i % 64));
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

void expectSame(const AdamWCase &got, const AdamWCase &want) {
  EXPECT_TRUE(closeFloats({got.gradNorm}, {want.gradNorm}, "grad_norm", 1));
  EXPECT_EQ(got.nonfinite, want.nonfinite);
  EXPECT_TRUE(closeFloats(got.params, want.params, "params"));
  EXPECT_TRUE(closeFloats(got.expAvg, want.expAvg, "exp_avg"));
  EXPECT_TRUE(closeFloats(got.expAvgSq, want.expAvgSq, "exp_avg_sq"));
  EXPECT_TRUE(closeFloats(got.gradSums, want.gradSums, "grad_sums"));
  // The copies are the rounded parameters the kernel wrote, bit for bit,
  // and where the update was skipped what they were.
  if (want.bf16Params.empty() || want.nonfinite > 0.5f ||
      (want.accumulates() && want.apply <= 0.5f))
    EXPECT_EQ(got.bf16Params, want.bf16Params);
  else
    EXPECT_TRUE(copiesRoundParams(got.bf16Params, got.params));
}

// 4,099 elements: 1,024 groups of four and a tail of three. Two partial
// blocks and three update blocks of 256 threads: each thread strides over
// the groups more than once.
constexpr int64_t kN = 4099;

TEST_F(OptimizerKernelTest, ClippedUpdateMatchesTheContract) {
  Step s = randomStep(kN, 1.0f); // norm about 64: clipped to 1
  s.params[6] = std::numeric_limits<float>::quiet_NaN(); // its copy a NaN
  AdamWCase want = expected(s);
  ASSERT_GT(want.gradNorm, 10.0f);
  AdamWCase got = run(s, 2, 3);
  expectSame(got, want);
  // Every element moved, the tail included, and every copy was written.
  for (int64_t i = 0; i < kN; ++i) {
    ASSERT_NE(got.params[i], s.params[i]) << i;
    ASSERT_NE(got.bf16Params[i], s.bf16Params[i]) << i;
  }
  EXPECT_TRUE(isBf16Nan(got.bf16Params[6]));
}

TEST_F(OptimizerKernelTest, UpdateWithoutCopiesMatchesTheContract) {
  Step s = randomStep(kN, 1.0f); // fp32: no copies (a null pointer)
  s.bf16Params.clear();
  AdamWCase got = run(s, 2, 3);
  expectSame(got, expected(s));
  EXPECT_TRUE(got.bf16Params.empty());
}

TEST_F(OptimizerKernelTest, CopiesOnlyTwoByteAlignedTakeTheScalarPath) {
  Step s = randomStep(kN, 1.0f);
  s.bf16Shift = 1; // 2 bytes past an 8-byte boundary: no 64-bit store
  AdamWCase got = run(s, 2, 3);
  expectSame(got, expected(s));
  for (int64_t i = 0; i < kN; ++i)
    ASSERT_NE(got.bf16Params[i], s.bf16Params[i]) << i;
}

TEST_F(OptimizerKernelTest, UnclippedUpdateMatchesTheContract) {
  Step s = randomStep(kN, 1e-3f); // norm about 0.064: coefficient 1
  AdamWCase want = expected(s);
  ASSERT_LT(want.gradNorm, 1.0f);
  expectSame(run(s, 3, 2), want);
}

TEST_F(OptimizerKernelTest, MisalignedRegionsTakeTheScalarPath) {
  Step s = randomStep(kN, 1.0f);
  s.shift = 1; // 4 bytes past a 16-byte boundary: no 128-bit access
  s.bf16Shift = 1;
  s.step = 1;
  s.maxGradNorm = 0.5;
  expectSame(run(s, 2, 2), expected(s));
}

TEST_F(OptimizerKernelTest, NonfiniteGradientSkipsTheUpdate) {
  Step s = randomStep(kN, 1.0f);
  s.grads[kN - 1] = std::numeric_limits<float>::infinity(); // in the tail
  AdamWCase got = run(s, 2, 3);
  EXPECT_EQ(got.nonfinite, 1.0f);
  EXPECT_TRUE(std::isinf(got.gradNorm));
  EXPECT_EQ(got.params, s.params);
  EXPECT_EQ(got.expAvg, s.expAvg);
  EXPECT_EQ(got.expAvgSq, s.expAvgSq);
  EXPECT_EQ(got.bf16Params, s.bf16Params);
  expectSame(got, expected(s));
}

TEST_F(OptimizerKernelTest, NonfiniteLossSkipsTheUpdate) {
  Step s = randomStep(kN, 1.0f);
  s.lossNonfinite = 1;
  AdamWCase got = run(s, 2, 3);
  EXPECT_EQ(got.nonfinite, 1.0f);
  EXPECT_EQ(got.params, s.params);
  expectSame(got, expected(s));
}

TEST_F(OptimizerKernelTest, AccumulationCarriesOrResetsTheSums) {
  for (float apply : {0.0f, 1.0f}) {
    SCOPED_TRACE(apply);
    Step s = randomStep(kN, 1.0f);
    s.apply = apply;
    AdamWCase got = run(s, 2, 3);
    if (apply == 0.0f) {
      EXPECT_EQ(got.params, s.params); // not the applying micro-batch
      EXPECT_EQ(got.bf16Params, s.bf16Params);
      EXPECT_EQ(got.gradSums, s.grads);
    } else {
      EXPECT_EQ(got.gradSums, std::vector<float>(kN, 0.0f));
    }
    expectSame(got, expected(s));
  }
  // A nonfinite step keeps the parameters but still resets the sums.
  Step s = randomStep(kN, 1.0f);
  s.apply = 1;
  s.grads[5] = std::numeric_limits<float>::quiet_NaN();
  AdamWCase got = run(s, 2, 3);
  EXPECT_EQ(got.nonfinite, 1.0f);
  EXPECT_EQ(got.params, s.params);
  EXPECT_EQ(got.gradSums, std::vector<float>(kN, 0.0f));
}

} // namespace
