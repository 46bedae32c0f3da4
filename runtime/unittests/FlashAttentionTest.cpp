//===- FlashAttentionTest.cpp - Tensor-core attention on the PTX interpreter //
//
// The compiler's FlashAttention-2 kernels (lib/Codegen/Kernels/
// FlashAttention.cu, PTX by clang) run on the test driver's PTX
// interpreter, mma.sync and ldmatrix included, against causal grouped
// attention computed here in float64 from the same bf16-rounded inputs:
// several head sizes, grouped and single KV heads, sequence lengths that
// leave partial tiles, f32 and bf16 activations, and the log-sum-exp the
// backward reads. The kernels round P to bf16 for the P*V product, so the
// outputs agree to bf16's precision, not exactly.
//
//===----------------------------------------------------------------------===//

#include "PtxInterpreter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace {

using growc::ptx::Launch;
using growc::ptx::Module;

float roundToBf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  bits += 0x7fff + ((bits >> 16) & 1);
  bits &= 0xffff0000u;
  std::memcpy(&x, &bits, 4);
  return x;
}

struct Case {
  const char *kernel;
  int headDim, heads, kvHeads, seqLen, batch;
  bool bf16;
};

class FlashAttentionTest : public ::testing::TestWithParam<Case> {
protected:
  static void SetUpTestSuite() {
    const std::string path = GROWC_FLASH_ATTENTION_PTX_PATH;
    if (path.empty())
      return;
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    module = Module::parse(text.str(), parseError).release();
  }
  static void TearDownTestSuite() { delete module; }
  static Module *module;
  static std::string parseError;
};
Module *FlashAttentionTest::module = nullptr;
std::string FlashAttentionTest::parseError;

TEST_P(FlashAttentionTest, MatchesFloat64CausalAttention) {
  if (std::string(GROWC_FLASH_ATTENTION_PTX_PATH).empty())
    GTEST_SKIP() << "built without the compiler (standalone runtime)";
  ASSERT_TRUE(module) << parseError;
  const Case c = GetParam();
  const growc::ptx::Kernel *kernel = module->find(c.kernel);
  ASSERT_TRUE(kernel) << c.kernel;

  const int hd = c.headDim, T = c.seqLen, B = c.batch;
  const size_t qCount = size_t(B) * T * c.heads * hd;
  const size_t kvCount = size_t(B) * T * c.kvHeads * hd;
  std::mt19937 rng(hd * 131 + T);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // The kernel rounds its inputs to bf16 on the way into shared memory;
  // the reference reads the same rounded values.
  std::vector<float> q(qCount), k(kvCount), v(kvCount);
  for (std::vector<float> *x : {&q, &k, &v})
    for (float &value : *x)
      value = roundToBf16(normal(rng) * 1.5f);

  size_t element = c.bf16 ? 2 : 4;
  auto bytesOf = [&](const std::vector<float> &x) {
    std::vector<uint8_t> bytes(x.size() * element);
    for (size_t i = 0; i < x.size(); ++i) {
      if (c.bf16) {
        uint32_t bits;
        std::memcpy(&bits, &x[i], 4);
        uint16_t half = uint16_t(bits >> 16);
        std::memcpy(bytes.data() + 2 * i, &half, 2);
      } else {
        std::memcpy(bytes.data() + 4 * i, &x[i], 4);
      }
    }
    return bytes;
  };
  std::vector<uint8_t> qBytes = bytesOf(q), kBytes = bytesOf(k),
                       vBytes = bytesOf(v), oBytes(qCount * element, 0),
                       lseBytes(size_t(B) * c.heads * T * 4, 0);
  std::vector<std::vector<uint8_t> *> buffers = {&qBytes, &kBytes, &vBytes,
                                                 &oBytes, &lseBytes};
  Launch launch;
  launch.grid[0] = unsigned((T + 63) / 64);
  launch.grid[1] = unsigned(c.heads);
  launch.grid[2] = unsigned(B);
  launch.block[0] = 128;
  std::vector<unsigned> sizes = Module::paramSizes(*kernel);
  ASSERT_EQ(sizes, (std::vector<unsigned>{8, 8, 8, 8, 8, 4, 4, 4}));
  for (std::vector<uint8_t> *buffer : buffers) {
    uint64_t address = reinterpret_cast<uint64_t>(buffer->data());
    launch.params.insert(launch.params.end(),
                         reinterpret_cast<uint8_t *>(&address),
                         reinterpret_cast<uint8_t *>(&address) + 8);
  }
  for (int32_t scalar : {T, c.heads, c.kvHeads})
    launch.params.insert(launch.params.end(),
                         reinterpret_cast<uint8_t *>(&scalar),
                         reinterpret_cast<uint8_t *>(&scalar) + 4);
  growc::ptx::GlobalCheck inBuffers = [&](uint64_t address, uint64_t &base,
                                          uint64_t &size) {
    for (std::vector<uint8_t> *buffer : buffers) {
      uint64_t start = reinterpret_cast<uint64_t>(buffer->data());
      if (address >= start && address < start + buffer->size()) {
        base = start;
        size = buffer->size();
        return true;
      }
    }
    return false;
  };
  ASSERT_EQ(growc::ptx::run(*module, *kernel, launch, inBuffers), "");

  double worst = 0, largest = 0, worstLse = 0;
  const int group = c.heads / c.kvHeads;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < c.heads; ++h)
      for (int t = 0; t < T; ++t) {
        const float *qRow = &q[((size_t(b) * T + t) * c.heads + h) * hd];
        std::vector<double> scores(size_t(t) + 1);
        double maxScore = -INFINITY;
        for (int j = 0; j <= t; ++j) {
          const float *kRow =
              &k[((size_t(b) * T + j) * c.kvHeads + h / group) * hd];
          double dot = 0;
          for (int d = 0; d < hd; ++d)
            dot += double(qRow[d]) * kRow[d];
          scores[j] = dot / std::sqrt(double(hd));
          maxScore = std::max(maxScore, scores[j]);
        }
        double total = 0;
        for (double &s : scores)
          total += (s = std::exp(s - maxScore));
        float lse;
        std::memcpy(
            &lse, lseBytes.data() + 4 * ((size_t(b) * c.heads + h) * T + t), 4);
        worstLse =
            std::max(worstLse, std::fabs(lse - (maxScore + std::log(total))));
        for (int d = 0; d < hd; ++d) {
          double want = 0;
          for (int j = 0; j <= t; ++j)
            want += scores[j] / total *
                    v[((size_t(b) * T + j) * c.kvHeads + h / group) * hd + d];
          size_t index = ((size_t(b) * T + t) * c.heads + h) * hd + d;
          float got;
          if (c.bf16) {
            uint16_t half;
            std::memcpy(&half, oBytes.data() + 2 * index, 2);
            uint32_t bits = uint32_t(half) << 16;
            std::memcpy(&got, &bits, 4);
          } else {
            std::memcpy(&got, oBytes.data() + 4 * index, 4);
          }
          worst = std::max(worst, std::fabs(got - want));
          largest = std::max(largest, std::fabs(want));
        }
      }
  // P is rounded to bf16 (relative 2^-9) before P*V, and bf16 outputs once
  // more: 1e-2 of the largest output covers both with room.
  EXPECT_LT(worst, 1e-2 * largest) << "worst " << worst << " of " << largest;
  EXPECT_LT(worstLse, 2e-3);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, FlashAttentionTest,
    ::testing::Values(
        // Grouped KV heads, two tiles with a partial one, batch of 2.
        Case{"growc_flash_forward_hd16_f32_f32", 16, 4, 2, 70, 2, false},
        Case{"growc_flash_forward_hd32_f32_f32", 32, 2, 1, 33, 1, false},
        // SmolLM's head size: three query heads on one KV head, 3 tiles.
        Case{"growc_flash_forward_hd64_f32_f32", 64, 3, 1, 130, 1, false},
        Case{"growc_flash_forward_hd64_bf16_bf16", 64, 2, 2, 80, 1, true}));

} // namespace
