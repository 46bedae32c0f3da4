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
#include "growc/runtime/FlashAttentionLayout.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
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

/// The dynamic shared memory the runtime launches the library entry point
/// `name` (growc_flash_<pass>[_rope]_hd<HD>_<types>) with.
long long sharedBytesOf(const std::string &name) {
  namespace flash = growc::flash;
  const int headDim = std::atoi(name.c_str() + name.find("_hd") + 3);
  const flash::Pass pass =
      name.find("_prep_") != std::string::npos       ? flash::Pass::BackwardPrep
      : name.find("_backward_") != std::string::npos ? flash::Pass::BackwardMain
                                                     : flash::Pass::Forward;
  return flash::sharedBytes(pass, headDim);
}

/// Launches `name` over `grid` blocks of 128 threads with `pointers` then
/// `scalars` as its parameters and the runtime's dynamic shared memory;
/// returns the interpreter's error.
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
  config.dynamicShared = unsigned(sharedBytesOf(name));
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

/// RoPE of element `x` whose rotate_half partner is `partner` (x in the
/// head's low half: x c - partner s, else x c + partner s), as the
/// generated RoPE kernel computes it: f32 products and sum each rounded
/// (no fma), the result rounded once to bf16.
float ropeElement(float x, float partner, bool low, float c, float s) {
  float product = x * c, other = (low ? -partner : partner) * s;
  return roundToBf16(product + other);
}

/// Causal grouped attention in float64: inputs, probabilities, output.
/// With `rope`, q and k are first rotated (ropeElement) by tables of
/// [B * T, hd / 2] angles (t + 3 b) * 10000^(-2j / hd) (positions differ
/// across samples, so reading another sample's table rows shows), and
/// qRaw and kRaw keep the unrotated values.
struct Reference {
  int hd, heads, kvHeads, T, B;
  std::vector<float> q, k, v;
  std::vector<float> qRaw, kRaw, cos, sin;
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

  Reference(int hd, int heads, int kvHeads, int T, int B, bool rope = false)
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
    if (rope)
      rotate();
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
  void rotate();
};

void Reference::rotate() {
  const int half = hd / 2;
  cos.resize(size_t(B) * T * half);
  sin.resize(cos.size());
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int j = 0; j < half; ++j) {
        double angle =
            double(t + 3 * b) * std::pow(10000.0, -2.0 * j / double(hd));
        cos[(size_t(b) * T + t) * half + j] = float(std::cos(angle));
        sin[(size_t(b) * T + t) * half + j] = float(std::sin(angle));
      }
  qRaw = q, kRaw = k;
  auto rotateRows = [&](const std::vector<float> &raw, std::vector<float> &out,
                        int n) {
    for (size_t row = 0; row < size_t(B) * T; ++row)
      for (int h = 0; h < n; ++h)
        for (int i = 0; i < hd; ++i) {
          bool low = i < half;
          int j = i % half;
          size_t at = (row * n + h) * hd;
          out[at + i] =
              ropeElement(raw[at + i], raw[at + (low ? i + half : j)], low,
                          cos[row * half + j], sin[row * half + j]);
        }
  };
  rotateRows(qRaw, q, heads);
  rotateRows(kRaw, k, kvHeads);
}

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
        Case{"growc_flash_forward_hd64_bf16_bf16", 64, 2, 2, 80, 1, true, true},
        // Llama-3's head size (tiles in 85 KiB of dynamic shared memory):
        // grouped, partial tiles, each type pair.
        Case{"growc_flash_forward_hd128_f32_f32", 128, 2, 1, 70, 1, false,
             false},
        Case{"growc_flash_forward_hd128_bf16_bf16", 128, 4, 2, 100, 1, true,
             true},
        Case{"growc_flash_forward_hd128_bf16_f32", 128, 2, 2, 33, 2, true,
             false}),
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
                               Case{"", 64, 3, 1, 130, 1, true, false},
                               // Head size 128: 16-row query steps.
                               Case{"", 128, 2, 1, 70, 1, false, false},
                               Case{"", 128, 3, 3, 33, 1, true, false},
                               Case{"", 128, 4, 2, 100, 1, true, false}};

// The backward in two launches (prep: delta and zeros in dq, dk and dv;
// main: per key tile and query head, dQ, dK and dV by atomic adds) as a
// training step runs it: the forward kernel first, whose o and log-sum-exps
// (natural log) the backward reads.
class FlashAttentionLseBackwardTest : public FlashAttentionTest {
protected:
  /// Runs the forward and both backward passes of `c` with dq, dk and dv
  /// `shift` bytes into their buffers, and checks the gradients.
  static void check(const Case &c, size_t shift);
};

TEST_P(FlashAttentionLseBackwardTest, GradientsMatchFloat64) {
  check(GetParam(), 0);
}

// The plan only guarantees f32 alignment for the gradients: 4 bytes past
// an 8-byte boundary, the main pass adds their column pairs one element
// at a time (red.global.add.v2.f32 needs 8 bytes; the emulator faults on
// a misaligned one, as a GPU does).
TEST_P(FlashAttentionLseBackwardTest, GradientsMatchFloat64Unaligned) {
  check(GetParam(), 4);
}

void FlashAttentionLseBackwardTest::check(const Case &c, size_t shift) {
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
  auto gradient = [&](size_t count) {
    void *buffer = device.add(std::vector<float>(count + 8, 1e3f));
    return static_cast<uint8_t *>(buffer) + 16 + shift;
  };
  void *dqBuffer = gradient(dq.size()), *dkBuffer = gradient(dk.size()),
       *dvBuffer = gradient(dv.size());
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

// RoPE on load: the rope instances read q, k and v unrotated as column
// blocks of one bf16 [B * T, (H + 2 KVH) * hd] buffer (the fused QKV
// projection's output) and rotate q and k tiles in shared memory. Against
// float64 attention of the rotated inputs, and bit for bit against the
// plain instances run on q and k rotated as the generated RoPE kernel
// rotates them (same rounding, so the same o, lse and gradients).
class FlashAttentionRopeTest : public FlashAttentionTest {
protected:
  /// ref's unrotated q and k, and v, as the packed bf16 qkv buffer.
  static std::vector<uint8_t> packedQkv(const Reference &ref) {
    const int hd = ref.hd, qw = ref.heads * hd, kw = ref.kvHeads * hd;
    const size_t rows = size_t(ref.B) * ref.T, width = qw + 2 * kw;
    std::vector<float> qkv(rows * width);
    for (size_t r = 0; r < rows; ++r) {
      std::copy_n(&ref.qRaw[r * qw], qw, &qkv[r * width]);
      std::copy_n(&ref.kRaw[r * kw], kw, &qkv[r * width + qw]);
      std::copy_n(&ref.v[r * kw], kw, &qkv[r * width + qw + kw]);
    }
    return deviceBytes(qkv, true);
  }
  /// Pointers to q, k and v in the packed buffer at `qkv`, and its row
  /// stride in elements.
  static std::vector<const void *> columns(const Reference &ref,
                                           const void *qkv) {
    const uint8_t *base = static_cast<const uint8_t *>(qkv);
    size_t qw = size_t(ref.heads) * ref.hd, kw = size_t(ref.kvHeads) * ref.hd;
    return {base, base + 2 * qw, base + 2 * (qw + kw)};
  }
  static int32_t rowStride(const Reference &ref) {
    return (ref.heads + 2 * ref.kvHeads) * ref.hd;
  }
  static bool sameBytes(const void *a, const void *b, size_t bytes) {
    return std::memcmp(a, b, bytes) == 0;
  }
};

TEST_P(FlashAttentionRopeTest, ForwardRotatesOnLoad) {
  const Case c = GetParam();
  Reference ref(c.headDim, c.heads, c.kvHeads, c.seqLen, c.batch, true);
  const int T = c.seqLen, B = c.batch;
  const std::string out = c.bf16Out ? "bf16" : "f32";
  const size_t oBytes = ref.q.size() * (c.bf16Out ? 2 : 4);
  Device device;
  const void *qkv = device.add(packedQkv(ref));
  const void *cos = device.add(ref.cos), *sin = device.add(ref.sin);
  void *o = device.add(std::vector<uint8_t>(oBytes));
  void *lse = device.add(std::vector<float>(ref.lse.size()));
  std::vector<const void *> pointers = columns(ref, qkv);
  pointers.insert(pointers.end(), {o, lse, cos, sin});
  const unsigned tiles = unsigned((T + 63) / 64);
  ASSERT_EQ(launch(*module,
                   "growc_flash_forward_rope_hd" + std::to_string(c.headDim) +
                       "_bf16_" + out,
                   tiles, unsigned(c.heads), unsigned(B), pointers,
                   {T, c.heads, c.kvHeads, rowStride(ref)}, device),
            "");
  EXPECT_LT(relativeError(hostFloats(o, ref.q.size(), c.bf16Out), ref.o), 1e-2);
  // The plain instance on q and k rotated beforehand: the same bits.
  const void *q = device.add(deviceBytes(ref.q, true)),
             *k = device.add(deviceBytes(ref.k, true)),
             *v = device.add(deviceBytes(ref.v, true));
  void *oPlain = device.add(std::vector<uint8_t>(oBytes));
  void *lsePlain = device.add(std::vector<float>(ref.lse.size()));
  ASSERT_EQ(launch(*module,
                   "growc_flash_forward_hd" + std::to_string(c.headDim) +
                       "_bf16_" + out,
                   tiles, unsigned(c.heads), unsigned(B),
                   {q, k, v, oPlain, lsePlain}, {T, c.heads, c.kvHeads},
                   device),
            "");
  EXPECT_TRUE(sameBytes(o, oPlain, oBytes));
  EXPECT_TRUE(sameBytes(lse, lsePlain, ref.lse.size() * 4));
}

TEST_P(FlashAttentionRopeTest, BackwardRotatesOnLoad) {
  const Case c = GetParam();
  Reference ref(c.headDim, c.heads, c.kvHeads, c.seqLen, c.batch, true);
  const int T = c.seqLen, B = c.batch;
  const std::string suffix = std::to_string(c.headDim) + "_bf16";
  Device device;
  const void *qkv = device.add(packedQkv(ref));
  const void *cos = device.add(ref.cos), *sin = device.add(ref.sin);
  void *oBuffer = device.add(std::vector<uint8_t>(ref.q.size() * 2));
  void *lse = device.add(std::vector<float>(ref.lse.size()));
  std::vector<const void *> qkvColumns = columns(ref, qkv);
  const unsigned tiles = unsigned((T + 63) / 64);
  std::vector<const void *> forward = qkvColumns;
  forward.insert(forward.end(), {oBuffer, lse, cos, sin});
  ASSERT_EQ(launch(*module, "growc_flash_forward_rope_hd" + suffix + "_bf16",
                   tiles, unsigned(c.heads), unsigned(B), forward,
                   {T, c.heads, c.kvHeads, rowStride(ref)}, device),
            "");
  std::vector<float> o = hostFloats(oBuffer, ref.q.size(), true);
  std::vector<float> dout = randomCotangent(ref, true);
  std::vector<double> dq, dk, dv;
  referenceGradients(ref, o, dout, dq, dk, dv);
  const void *dBuffer = device.add(deviceBytes(dout, true));
  std::vector<int32_t> shape = {T, c.heads, c.kvHeads, B};
  // The rope main pass, then the plain one on rotated q and k: each after
  // the (shared) prep pass, into gradients that start as garbage.
  const void *q = device.add(deviceBytes(ref.q, true)),
             *k = device.add(deviceBytes(ref.k, true)),
             *v = device.add(deviceBytes(ref.v, true));
  std::vector<void *> grads[2];
  for (int rope = 1; rope >= 0; --rope) {
    void *delta = device.add(std::vector<float>(size_t(B) * c.heads * T));
    for (size_t size : {dq.size(), dk.size(), dv.size()})
      grads[rope].push_back(device.add(std::vector<float>(size, 1e3f)));
    ASSERT_EQ(launch(*module, "growc_flash_backward_prep_hd" + suffix, tiles,
                     unsigned(c.heads), unsigned(B),
                     {oBuffer, dBuffer, delta, grads[rope][0], grads[rope][1],
                      grads[rope][2]},
                     shape, device),
              "");
    std::vector<const void *> main =
        rope ? qkvColumns : std::vector<const void *>{q, k, v};
    main.insert(main.end(), {dBuffer, lse, delta, grads[rope][0],
                             grads[rope][1], grads[rope][2]});
    std::vector<int32_t> scalars = shape;
    if (rope) {
      main.insert(main.end(), {cos, sin});
      scalars.push_back(rowStride(ref));
    }
    ASSERT_EQ(launch(*module,
                     std::string("growc_flash_backward_") +
                         (rope ? "rope_hd" : "hd") + suffix,
                     tiles, unsigned(c.heads), unsigned(B), main, scalars,
                     device),
              "");
  }
  expectGradients(grads[1][0], grads[1][1], grads[1][2], dq, dk, dv);
  EXPECT_TRUE(sameBytes(grads[1][0], grads[0][0], dq.size() * 4));
  EXPECT_TRUE(sameBytes(grads[1][1], grads[0][1], dk.size() * 4));
  EXPECT_TRUE(sameBytes(grads[1][2], grads[0][2], dv.size() * 4));
}

// Grouped KV heads (G = 2, 3) and not (G = 1), partial tiles (T = 70, 130,
// 33), two samples; bf16 and f32 outputs of the forward.
INSTANTIATE_TEST_SUITE_P(
    Shapes, FlashAttentionRopeTest,
    ::testing::Values(Case{"", 16, 4, 2, 70, 2, true, true},
                      Case{"", 32, 2, 2, 33, 1, true, false},
                      Case{"", 64, 3, 1, 130, 1, true, true}),
    caseName);

} // namespace
