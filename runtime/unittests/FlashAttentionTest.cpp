//===- FlashAttentionTest.cpp - Tensor-core attention on the PTX interpreter //
//
// The compiler's FlashAttention-2 kernels (lib/Codegen/Kernels/
// FlashAttention.cu, PTX by clang) run on the test driver's PTX
// interpreter, mma.sync and ldmatrix included, against causal grouped
// attention and its gradients computed here in float64 from the same
// bf16-rounded inputs: several head sizes, grouped and single KV heads,
// sequence lengths that leave partial tiles, f32 and bf16 activations (in
// the backward too), the forward's log-sum-exp, and the two-launch
// backward that reads the forward's own o and log-sum-exp (prep, then dK
// and dV per key tile with dQ by atomic adds; bf16 through cp.async). The
// kernels round P (and dS) to bf16 for their second products, so results
// agree to bf16's precision, not exactly.
//
//===----------------------------------------------------------------------===//

#include "PtxInterpreter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
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

/// Host buffers that kernels get as device memory.
class Device {
public:
  void *add(std::vector<uint8_t> bytes) {
    buffers.push_back(std::make_unique<std::vector<uint8_t>>(std::move(bytes)));
    return buffers.back()->data();
  }
  void *add(const std::vector<float> &values) {
    std::vector<uint8_t> bytes(values.size() * 4);
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return add(std::move(bytes));
  }
  static std::vector<float> floats(const void *data, size_t count) {
    std::vector<float> out(count);
    std::memcpy(out.data(), data, count * 4);
    return out;
  }
  growc::ptx::GlobalCheck check() const {
    return [this](uint64_t address, uint64_t &base, uint64_t &size) {
      for (const auto &buffer : buffers) {
        uint64_t start = reinterpret_cast<uint64_t>(buffer->data());
        if (address >= start && address < start + buffer->size()) {
          base = start;
          size = buffer->size();
          return true;
        }
      }
      return false;
    };
  }

private:
  std::vector<std::unique_ptr<std::vector<uint8_t>>> buffers;
};

/// Launches `name` over `grid` blocks of 128 threads with `pointers` then
/// `scalars` as its parameters; returns the interpreter's error.
std::string launch(const Module &module, const std::string &name,
                   unsigned gridX, unsigned gridY, unsigned gridZ,
                   const std::vector<const void *> &pointers,
                   const std::vector<int32_t> &scalars, const Device &device) {
  const growc::ptx::Kernel *kernel = module.find(name);
  if (!kernel)
    return "no kernel " + name;
  std::vector<unsigned> want(pointers.size(), 8);
  want.insert(want.end(), scalars.size(), 4);
  if (Module::paramSizes(*kernel) != want)
    return name + " takes other parameters";
  Launch config;
  config.grid[0] = gridX, config.grid[1] = gridY, config.grid[2] = gridZ;
  config.block[0] = 128;
  for (const void *pointer : pointers) {
    uint64_t address = reinterpret_cast<uint64_t>(pointer);
    config.params.insert(config.params.end(),
                         reinterpret_cast<uint8_t *>(&address),
                         reinterpret_cast<uint8_t *>(&address) + 8);
  }
  for (int32_t scalar : scalars)
    config.params.insert(config.params.end(),
                         reinterpret_cast<const uint8_t *>(&scalar),
                         reinterpret_cast<const uint8_t *>(&scalar) + 4);
  return growc::ptx::run(module, *kernel, config, device.check());
}

/// Causal grouped attention in float64: inputs, probabilities, output.
struct Reference {
  int hd, heads, kvHeads, T, B;
  std::vector<float> q, k, v;
  /// P[b][h][t][j] for j <= t, and the log-sum-exp of each row.
  std::vector<std::vector<double>> probs;
  std::vector<double> lse, o;

  size_t qIndex(int b, int t, int h, int d) const {
    return ((size_t(b) * T + t) * heads + h) * hd + d;
  }
  size_t kvIndex(int b, int t, int h, int d) const {
    return ((size_t(b) * T + t) * kvHeads + h) * hd + d;
  }
  size_t row(int b, int h, int t) const {
    return (size_t(b) * heads + h) * T + t;
  }

  Reference(int hd, int heads, int kvHeads, int T, int B)
      : hd(hd), heads(heads), kvHeads(kvHeads), T(T), B(B) {
    std::mt19937 rng(hd * 131 + T);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    q.resize(size_t(B) * T * heads * hd);
    k.resize(size_t(B) * T * kvHeads * hd);
    v.resize(k.size());
    // The kernels round their inputs to bf16 on the way into shared
    // memory; the reference reads the same rounded values.
    for (std::vector<float> *x : {&q, &k, &v})
      for (float &value : *x)
        value = roundToBf16(normal(rng) * 1.5f);
    const int group = heads / kvHeads;
    probs.resize(size_t(B) * heads * T);
    lse.resize(probs.size());
    o.assign(q.size(), 0.0);
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < heads; ++h)
        for (int t = 0; t < T; ++t) {
          std::vector<double> &p = probs[row(b, h, t)];
          p.resize(size_t(t) + 1);
          double maxScore = -INFINITY, total = 0;
          for (int j = 0; j <= t; ++j) {
            double dot = 0;
            for (int d = 0; d < hd; ++d)
              dot += double(q[qIndex(b, t, h, d)]) *
                     k[kvIndex(b, j, h / group, d)];
            p[j] = dot / std::sqrt(double(hd));
            maxScore = std::max(maxScore, p[j]);
          }
          for (double &x : p)
            total += (x = std::exp(x - maxScore));
          for (double &x : p)
            x /= total;
          lse[row(b, h, t)] = maxScore + std::log(total);
          for (int j = 0; j <= t; ++j)
            for (int d = 0; d < hd; ++d)
              o[qIndex(b, t, h, d)] += p[j] * v[kvIndex(b, j, h / group, d)];
        }
  }
};

/// The largest |got - want| over the largest |want|.
double relativeError(const std::vector<float> &got,
                     const std::vector<double> &want) {
  double worst = 0, largest = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::fabs(got[i] - want[i]));
    largest = std::max(largest, std::fabs(want[i]));
  }
  return worst / largest;
}

struct Case {
  const char *kernel;
  int headDim, heads, kvHeads, seqLen, batch;
  bool bf16;    // the activations (q, k, v; o and dout of the backward)
  bool bf16Out; // the forward's output
};

/// `count` values the device holds from `data`, f32 or bf16 (widened).
std::vector<float> hostFloats(const void *data, size_t count, bool bf16) {
  std::vector<float> out(count);
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits = 0;
    if (bf16)
      std::memcpy(reinterpret_cast<uint8_t *>(&bits) + 2,
                  static_cast<const uint8_t *>(data) + 2 * i, 2);
    else
      std::memcpy(&bits, static_cast<const uint8_t *>(data) + 4 * i, 4);
    std::memcpy(&out[i], &bits, 4);
  }
  return out;
}

/// `values` as the device holds them: f32, or bf16 (the upper halves:
/// the values must be bf16 already).
std::vector<uint8_t> deviceBytes(const std::vector<float> &values, bool bf16) {
  std::vector<uint8_t> bytes(values.size() * (bf16 ? 2 : 4));
  for (size_t i = 0; i < values.size(); ++i) {
    if (bf16)
      std::memcpy(bytes.data() + 2 * i,
                  reinterpret_cast<const uint8_t *>(&values[i]) + 2, 2);
    else
      std::memcpy(bytes.data() + 4 * i, &values[i], 4);
  }
  return bytes;
}

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
  static void TearDownTestSuite() {
    delete module;
    module = nullptr;
  }
  void SetUp() override {
    if (std::string(GROWC_FLASH_ATTENTION_PTX_PATH).empty())
      GTEST_SKIP() << "built without the compiler (standalone runtime)";
    ASSERT_TRUE(module) << parseError;
  }
  static Module *module;
  static std::string parseError;
};
Module *FlashAttentionTest::module = nullptr;
std::string FlashAttentionTest::parseError;

TEST_P(FlashAttentionTest, ForwardMatchesFloat64CausalAttention) {
  const Case c = GetParam();
  Reference ref(c.headDim, c.heads, c.kvHeads, c.seqLen, c.batch);
  Device device;
  void *q = device.add(deviceBytes(ref.q, c.bf16)),
       *k = device.add(deviceBytes(ref.k, c.bf16)),
       *v = device.add(deviceBytes(ref.v, c.bf16));
  void *o =
      device.add(std::vector<uint8_t>(ref.q.size() * (c.bf16Out ? 2 : 4)));
  void *lse = device.add(std::vector<float>(ref.lse.size()));
  ASSERT_EQ(launch(*module, c.kernel, unsigned((c.seqLen + 63) / 64),
                   unsigned(c.heads), unsigned(c.batch), {q, k, v, o, lse},
                   {c.seqLen, c.heads, c.kvHeads}, device),
            "");
  std::vector<float> out = hostFloats(o, ref.q.size(), c.bf16Out);
  // P is rounded to bf16 (relative 2^-9) before P*V, and bf16 outputs once
  // more: 1e-2 of the largest output covers both with room (measured:
  // 8e-4 in f32, 2.3e-3 in bf16).
  EXPECT_LT(relativeError(out, ref.o), 1e-2);
  std::vector<float> gotLse = Device::floats(lse, ref.lse.size());
  double worstLse = 0;
  for (size_t i = 0; i < ref.lse.size(); ++i)
    worstLse = std::max(worstLse, std::fabs(gotLse[i] - ref.lse[i]));
  EXPECT_LT(worstLse, 2e-3);
}

/// hd<head size>_h<heads>_kv<KV heads>_t<T>_b<B>_<in>_<out>.
std::string caseName(const ::testing::TestParamInfo<Case> &info) {
  const Case &c = info.param;
  return "hd" + std::to_string(c.headDim) + "_h" + std::to_string(c.heads) +
         "_kv" + std::to_string(c.kvHeads) + "_t" + std::to_string(c.seqLen) +
         "_b" + std::to_string(c.batch) + (c.bf16 ? "_bf16" : "_f32") +
         (c.bf16Out ? "_bf16" : "_f32");
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, FlashAttentionTest,
    ::testing::Values(
        // Grouped KV heads, two tiles with a partial one, batch of 2.
        Case{"growc_flash_forward_hd16_f32_f32", 16, 4, 2, 70, 2, false, false},
        Case{"growc_flash_forward_hd32_f32_f32", 32, 2, 1, 33, 1, false, false},
        // SmolLM's head size: three query heads on one KV head, 3 tiles.
        Case{"growc_flash_forward_hd64_f32_f32", 64, 3, 1, 130, 1, false,
             false},
        // bf16 activations (growc-demote-activations' graphs), bf16 or f32
        // out.
        Case{"growc_flash_forward_hd16_bf16_bf16", 16, 4, 2, 70, 2, true, true},
        Case{"growc_flash_forward_hd32_bf16_f32", 32, 2, 1, 33, 1, true, false},
        Case{"growc_flash_forward_hd64_bf16_bf16", 64, 2, 2, 80, 1, true,
             true}),
    caseName);

// The backward against float64 gradients of the same attention for a
// random output cotangent: dV = P^T dO, dS = P o (dP - D) with dP = dO
// V^T and D = rowsum(dO o O), dQ = dS K / sqrt(hd), dK = dS^T Q /
// sqrt(hd), dK and dV summed over each KV head's query heads.

/// A random output cotangent (rounded to bf16 where stored so).
std::vector<float> randomCotangent(const Reference &ref, bool bf16) {
  std::mt19937 rng(7 + ref.T);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> dout(ref.q.size());
  for (float &x : dout)
    x = bf16 ? roundToBf16(normal(rng)) : normal(rng);
  return dout;
}

/// The float64 gradients of `ref`'s attention for the output cotangent
/// `dout`, with D computed from `o` (the output as the kernels read it).
void referenceGradients(const Reference &ref, const std::vector<float> &o,
                        const std::vector<float> &dout, std::vector<double> &dq,
                        std::vector<double> &dk, std::vector<double> &dv) {
  const int hd = ref.hd, T = ref.T, B = ref.B, G = ref.heads / ref.kvHeads;
  dq.assign(ref.q.size(), 0.0);
  dk.assign(ref.k.size(), 0.0);
  dv.assign(ref.v.size(), 0.0);
  const double scale = 1.0 / std::sqrt(double(hd));
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < ref.heads; ++h)
      for (int t = 0; t < T; ++t) {
        const std::vector<double> &p = ref.probs[ref.row(b, h, t)];
        double D = 0;
        for (int d = 0; d < hd; ++d)
          D += double(dout[ref.qIndex(b, t, h, d)]) * o[ref.qIndex(b, t, h, d)];
        for (int j = 0; j <= t; ++j) {
          double dP = 0;
          for (int d = 0; d < hd; ++d) {
            dP += double(dout[ref.qIndex(b, t, h, d)]) *
                  ref.v[ref.kvIndex(b, j, h / G, d)];
            dv[ref.kvIndex(b, j, h / G, d)] +=
                p[j] * dout[ref.qIndex(b, t, h, d)];
          }
          double dS = p[j] * (dP - D) * scale;
          for (int d = 0; d < hd; ++d) {
            dq[ref.qIndex(b, t, h, d)] +=
                dS * ref.k[ref.kvIndex(b, j, h / G, d)];
            dk[ref.kvIndex(b, j, h / G, d)] +=
                dS * ref.q[ref.qIndex(b, t, h, d)];
          }
        }
      }
}

/// The kernels' gradients against the float64 ones: dO and dS also pass
/// through bf16, so within 2e-2 of the largest gradient (measured 2.1e-3
/// to 5.0e-3).
void expectGradients(const void *dqBuffer, const void *dkBuffer,
                     const void *dvBuffer, const std::vector<double> &dq,
                     const std::vector<double> &dk,
                     const std::vector<double> &dv) {
  EXPECT_LT(relativeError(Device::floats(dqBuffer, dq.size()), dq), 2e-2);
  EXPECT_LT(relativeError(Device::floats(dkBuffer, dk.size()), dk), 2e-2);
  EXPECT_LT(relativeError(Device::floats(dvBuffer, dv.size()), dv), 2e-2);
}

/// The backward's shapes: grouped KV heads (G = 2, 3, where several main
/// blocks add into one dk/dv row, and G = 1, where one stores it),
/// partial tiles, batch of 2.
const Case kBackwardCases[] = {Case{"", 16, 4, 2, 70, 2, false, false},
                               Case{"", 32, 2, 1, 33, 1, false, false},
                               Case{"", 64, 3, 1, 130, 1, false, false},
                               Case{"", 32, 2, 2, 33, 1, false, false},
                               // bf16 q, k, v, o and dout; f32 gradients.
                               Case{"", 16, 4, 2, 70, 2, true, false},
                               Case{"", 64, 3, 1, 130, 1, true, false}};

// The backward in two launches (prep: delta and zeros in dq, dk and dv;
// main: per key tile and query head, dQ, dK and dV by atomic adds) as a
// training step runs it: the forward kernel first, whose o and log-sum-exps
// (natural log) the backward reads.
class FlashAttentionLseBackwardTest : public FlashAttentionTest {};

TEST_P(FlashAttentionLseBackwardTest, GradientsMatchFloat64) {
  const Case c = GetParam();
  Reference ref(c.headDim, c.heads, c.kvHeads, c.seqLen, c.batch);
  const int hd = c.headDim, T = c.seqLen, B = c.batch;
  const std::string dtype = c.bf16 ? "bf16" : "f32";
  Device device;
  const void *q = device.add(deviceBytes(ref.q, c.bf16)),
             *k = device.add(deviceBytes(ref.k, c.bf16)),
             *v = device.add(deviceBytes(ref.v, c.bf16));
  void *oBuffer =
      device.add(std::vector<uint8_t>(ref.q.size() * (c.bf16 ? 2 : 4)));
  void *lse = device.add(std::vector<float>(ref.lse.size()));
  const unsigned tiles = unsigned((T + 63) / 64);
  ASSERT_EQ(launch(*module,
                   "growc_flash_forward_hd" + std::to_string(hd) + "_" + dtype +
                       "_" + dtype,
                   tiles, unsigned(c.heads), unsigned(B),
                   {q, k, v, oBuffer, lse}, {T, c.heads, c.kvHeads}, device),
            "");
  // The reference's D reads the forward's o as stored.
  std::vector<float> o = hostFloats(oBuffer, ref.q.size(), c.bf16);
  std::vector<float> dout = randomCotangent(ref, c.bf16);
  std::vector<double> dq, dk, dv;
  referenceGradients(ref, o, dout, dq, dk, dv);

  const void *dBuffer = device.add(deviceBytes(dout, c.bf16));
  void *delta = device.add(std::vector<float>(size_t(B) * c.heads * T));
  // dq, dk and dv start as garbage: the prep pass must zero dq, and dk and
  // dv where the main pass adds into them (KV heads shared); with one
  // query head per KV head the main pass stores them.
  void *dqBuffer = device.add(std::vector<float>(dq.size(), 1e3f));
  void *dkBuffer = device.add(std::vector<float>(dk.size(), 1e3f));
  void *dvBuffer = device.add(std::vector<float>(dv.size(), 1e3f));
  std::string suffix = std::to_string(hd) + "_" + dtype;
  std::vector<int32_t> shape = {T, c.heads, c.kvHeads, B};
  ASSERT_EQ(launch(*module, "growc_flash_backward_prep_hd" + suffix, tiles,
                   unsigned(c.heads), unsigned(B),
                   {oBuffer, dBuffer, delta, dqBuffer, dkBuffer, dvBuffer},
                   shape, device),
            "");
  // One block per key tile and query head: G blocks add into each KV
  // head's dk and dv rows.
  ASSERT_EQ(launch(*module, "growc_flash_backward_hd" + suffix, tiles,
                   unsigned(c.heads), unsigned(B),
                   {q, k, v, dBuffer, lse, delta, dqBuffer, dkBuffer, dvBuffer},
                   shape, device),
            "");
  expectGradients(dqBuffer, dkBuffer, dvBuffer, dq, dk, dv);
}

// The same shapes; the bf16 ones go through cp.async.
INSTANTIATE_TEST_SUITE_P(Shapes, FlashAttentionLseBackwardTest,
                         ::testing::ValuesIn(kBackwardCases), caseName);

} // namespace
