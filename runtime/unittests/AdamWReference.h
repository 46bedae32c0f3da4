//===- AdamWReference.h - The adamw step's semantics on the host -*- C++ -*-=//
//
// Test infrastructure: the plan's adamw step (docs/plan.md, "Semantics") on
// flat host vectors, written from the contract rather than from either
// executor, for the tests of the GPU's kernels (OptimizerKernelTest) and of
// the CUDA executor running the step (CudaExecutorFakeTest). f32
// operations one by one (the test binary, like the runtime, is built
// without FMA contraction), the squared norm in double; the parameters'
// bf16 copies (--precision=bf16) rounded to nearest even.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_UNITTESTS_ADAMWREFERENCE_H
#define GROWC_RUNTIME_UNITTESTS_ADAMWREFERENCE_H

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace growc::rt::test {

/// bf16(x) as the contract says: round to nearest even, NaN a NaN.
inline uint16_t bf16Of(float x) {
  if (std::isnan(x))
    return 0x7fc0;
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  // Halfway cases go to the even upper half: add 0x7fff, plus one if odd.
  return uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

inline bool isBf16Nan(uint16_t bits) {
  return (bits & 0x7f80u) == 0x7f80u && (bits & 0x7fu) != 0;
}

/// Whether `copies` are bf16(params) bit for bit (any NaN for a NaN).
inline ::testing::AssertionResult
copiesRoundParams(const std::vector<uint16_t> &copies,
                  const std::vector<float> &params) {
  if (copies.size() != params.size())
    return ::testing::AssertionFailure() << copies.size() << " bf16 copies of "
                                         << params.size() << " parameters";
  for (size_t i = 0; i < params.size(); ++i) {
    uint16_t want = bf16Of(params[i]);
    if (copies[i] != want && !(isBf16Nan(want) && isBf16Nan(copies[i])))
      return ::testing::AssertionFailure()
             << "bf16 copy [" << i << "] = 0x" << std::hex << copies[i]
             << ", want 0x" << want << std::dec << " (bf16 of " << params[i]
             << ")";
  }
  return ::testing::AssertionSuccess();
}

/// One step's state and scalars; run() updates the state in place and
/// sets gradNorm and nonfinite.
struct AdamWCase {
  std::vector<float> params, grads, expAvg, expAvgSq;
  /// Mixed precision: the parameters' bf16 copies (empty: none), written
  /// where the update is applied.
  std::vector<uint16_t> bf16Params;
  /// Gradient accumulation: the sums, with apply >= 0 the flag's value.
  std::vector<float> gradSums;
  float apply = -1;
  float lr = 3e-3f, step = 3, lossNonfinite = 0;
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weightDecay = 0.01,
         maxGradNorm = 1.0;
  float gradNorm = 0, nonfinite = 0;

  bool accumulates() const { return apply >= 0; }

  void run() {
    double sum = 0;
    for (float g : grads)
      sum += double(g) * double(g);
    const float sq = float(sum);
    gradNorm = std::sqrt(sq);
    const float coef = std::fmin(float(maxGradNorm) / (gradNorm + 1e-6f), 1.0f);
    nonfinite = lossNonfinite > 0.5f ? 1.0f : (std::isfinite(sq) ? 0 : 1);
    const float update =
        nonfinite > 0.5f ? 0.0f : (accumulates() ? apply : 1.0f);
    const float c1 = 1 - std::exp(step * float(std::log(beta1)));
    const float c2 = 1 - std::exp(step * float(std::log(beta2)));
    const float stepSize = lr / c1, decay = 1 - lr * float(weightDecay);
    const float b1 = float(beta1), b2 = float(beta2);
    const float omb1 = float(1 - beta1), omb2 = float(1 - beta2);
    for (size_t i = 0; i < params.size(); ++i) {
      if (update > 0.5f) {
        float g = grads[i] * coef;
        float m = expAvg[i] * b1 + g * omb1;
        float v = expAvgSq[i] * b2 + (g * g) * omb2;
        float denom = std::sqrt(v) / std::sqrt(c2) + float(eps);
        params[i] = params[i] * decay - stepSize * (m / denom);
        expAvg[i] = m;
        expAvgSq[i] = v;
        if (!bf16Params.empty())
          bf16Params[i] = bf16Of(params[i]);
      }
      if (accumulates())
        gradSums[i] = apply > 0.5f ? 0.0f : grads[i];
    }
  }
};

/// Whether got and want agree to `ulps` units in the last place (NaNs
/// agree with NaNs): the executors sum the squares in another order, which
/// may move the rounded norm by an ulp.
inline ::testing::AssertionResult closeFloats(const std::vector<float> &got,
                                              const std::vector<float> &want,
                                              const char *what,
                                              float ulps = 4) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure()
           << what << ": " << got.size() << " values, want " << want.size();
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

} // namespace growc::rt::test

#endif // GROWC_RUNTIME_UNITTESTS_ADAMWREFERENCE_H
