//===- Optimizer.cu - The flat, in-place AdamW step of a train graph ------===//
//
// The plan's `adamw` step (docs/plan.md) on the GPU: the whole optimizer of
// a training step in three launches over the flat arena regions of the
// trained parameters, their gradients and AdamW moments (and the gradient
// sums with accumulation), in place. Before it, every parameter had a
// sum-of-squares kernel, a dependent add into the clip norm and three AdamW
// kernels writing new buffers that the executor copied back: about 2,400
// graph nodes for SmolLM-135M (816 of them copies), now 3.
//
// 1. growc_adamw_sumsq: Σ g² over the gradient region in double, each of
//    P blocks writing its own partial (no atomics, so the sum does not
//    depend on scheduling: the emulated GPU rejects atomics, and a run is
//    reproducible bit for bit).
// 2. growc_adamw_scalars (one block): the partials summed in a fixed
//    order, the clip coefficient, the nonfinite flag, whether to update,
//    the bias corrections; the per-element constants go to a scratch
//    vector the update reads.
// 3. growc_adamw_update: elementwise over the regions, grid-stride, with
//    128-bit loads and stores where every region is 16-byte aligned (the
//    compiler aligns them to 128 bytes) and a scalar tail. Under
//    --precision=bf16 it also writes each updated parameter's bf16 copy
//    (the GEMMs' operand, which no cast kernel makes any more): round to
//    nearest even by cvt.rn.bf16x2.f32, four copies as one 64-bit store.
//
// The arithmetic is the step's semantics (docs/plan.md), which is what the
// CPU executor computes: f32 operations rounded one by one (the file is
// compiled with -ffp-contract=off: no FMAs, which the CPU build does not
// form either), correctly rounded division and square root, and e^x in
// double rounded once (glibc's expf is correctly rounded in practice).
// On the PTX interpreter the results equal a host reference bit for bit.
// ptxas -arch=sm_90: 32 to 44 registers, no spills.
//
// Compiled to PTX at build time like FlashAttention.cu (clang's CUDA
// device mode, no CUDA headers) and linked into artifacts whose plan has
// an `adamw` step (lib/Codegen/KernelLibrary.cpp); OptimizerKernelTest runs
// it on the PTX interpreter against a host reference.
//
//===----------------------------------------------------------------------===//

#define GROWC_DEVICE __attribute__((device)) static inline
#define GROWC_SHARED __attribute__((shared))
#define GROWC_KERNEL                                                           \
  extern "C" __attribute__((global)) __attribute__((launch_bounds(256)))

typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long i64;

namespace {

/// Threads per block of every entry point; the runtime launches 256.
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

/// The scratch vector growc_adamw_scalars writes for growc_adamw_update.
enum Scalar {
  kCoef,      // the clip coefficient
  kUpdate,    // 1 where the parameters and moments are updated, else 0
  kStepSize,  // lr / (1 - β1^step)
  kDecay,     // 1 - lr · weight_decay
  kSqrtC2,    // sqrt(1 - β2^step)
  kResetSums, // 1 where the gradient sums restart from zero, else 0
  kScalarCount
};

GROWC_DEVICE u32 threadIndex() { return __nvvm_read_ptx_sreg_tid_x(); }
GROWC_DEVICE u32 blockIndex() { return __nvvm_read_ptx_sreg_ctaid_x(); }
GROWC_DEVICE u32 blockCount() { return __nvvm_read_ptx_sreg_nctaid_x(); }
GROWC_DEVICE void barrier() { __nvvm_bar_sync(0); }

GROWC_DEVICE float divide(float a, float b) { return __nvvm_div_rn_f(a, b); }
GROWC_DEVICE float squareRoot(float x) { return __nvvm_sqrt_rn_f(x); }

/// The sum over the warp of each lane's `x`, the same in every lane.
GROWC_DEVICE double warpSum(double x) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    u64 bits = __builtin_bit_cast(u64, x);
    u32 lo = u32(bits), hi = u32(bits >> 32);
    lo = u32(__nvvm_shfl_sync_bfly_i32(0xffffffffu, int(lo), offset, 31));
    hi = u32(__nvvm_shfl_sync_bfly_i32(0xffffffffu, int(hi), offset, 31));
    x += __builtin_bit_cast(double, u64(hi) << 32 | lo);
  }
  return x;
}

/// The sum over the block of each thread's `x`, in thread 0: warps by
/// shuffles, then the warps' sums in order through shared memory.
GROWC_DEVICE double blockSum(double x, double (&warpSums)[kWarps]) {
  x = warpSum(x);
  u32 t = threadIndex();
  if (t % 32 == 0)
    warpSums[t / 32] = x;
  barrier();
  double total = 0;
  if (t == 0)
    for (int w = 0; w < kWarps; ++w)
      total += warpSums[w];
  return total;
}

/// e^x for a float x, as a float: e^x in double to about 1e-15 relative,
/// rounded once (no libdevice here). x = k·ln2 + r with |r| <= ln2/2, the
/// Taylor series of e^r to r^12, and 2^k through the exponent bits.
GROWC_DEVICE float exponential(float x) {
  if (x != x)
    return x;
  if (x < -104.0f) // below half the smallest subnormal float
    return 0.0f;
  if (x > 89.0f) // above the largest float
    return __builtin_inff();
  const double kLog2e = 1.4426950408889634;
  const double kLn2Hi = 0.6931471803691238, kLn2Lo = 1.9082149292705877e-10;
  double k = __builtin_rint(double(x) * kLog2e);
  double r = (double(x) - k * kLn2Hi) - k * kLn2Lo;
  double sum = 1.0, term = 1.0;
#pragma unroll
  for (int i = 1; i <= 12; ++i) {
    term = term * r / double(i);
    sum += term;
  }
  double scale = __builtin_bit_cast(double, u64(int(k) + 1023) << 52);
  return float(sum * scale);
}

/// The contract's AdamW of one element, clipped gradient g0 · coef.
struct Adam {
  float coef, stepSize, decay, sqrtC2, beta1, beta2, oneMinusBeta1,
      oneMinusBeta2, eps;
  __attribute__((device)) void apply(float &p, float grad, float &m,
                                     float &v) const {
    float g = grad * coef;
    float mNew = m * beta1 + g * oneMinusBeta1;
    float vNew = v * beta2 + (g * g) * oneMinusBeta2;
    float denom = divide(squareRoot(vNew), sqrtC2) + eps;
    p = p * decay - stepSize * divide(mNew, denom);
    m = mNew;
    v = vNew;
  }
};

/// Four floats moved as one 128-bit access (ld/st.global.v4.f32).
typedef float Float4 __attribute__((ext_vector_type(4)));

GROWC_DEVICE Float4 load4(const float *p) {
  return *reinterpret_cast<const Float4 *>(p);
}
GROWC_DEVICE void store4(float *p, Float4 v) {
  *reinterpret_cast<Float4 *>(p) = v;
}

GROWC_DEVICE bool aligned(const void *p, u64 bytes) {
  return (__builtin_bit_cast(u64, p) & (bytes - 1)) == 0;
}
GROWC_DEVICE bool aligned16(const void *p) { return aligned(p, 16); }

typedef unsigned short u16;
/// Four bf16 values as one 64-bit access (st.global.v2.u32).
typedef u32 Bf16Quad __attribute__((ext_vector_type(2)));

/// bf16(x), round to nearest even, NaN a NaN (cvt.rn.bf16.f32).
GROWC_DEVICE u16 toBf16(float x) {
  return __builtin_bit_cast(u16, __nvvm_f2bf16_rn(x));
}
/// bf16 of four floats in memory order (cvt.rn.bf16x2.f32 puts its first
/// operand in the upper half).
GROWC_DEVICE Bf16Quad toBf16(Float4 x) {
  return Bf16Quad{__builtin_bit_cast(u32, __nvvm_ff2bf16x2_rn(x.y, x.x)),
                  __builtin_bit_cast(u32, __nvvm_ff2bf16x2_rn(x.w, x.z))};
}

} // namespace

/// Σ grads[i]² over [0, n) in double: block b's share into partials[b].
/// Each thread takes every (gridDim · 256)-th group of four elements (one
/// 128-bit load where `grads` is 16-byte aligned), then the tail.
GROWC_KERNEL void growc_adamw_sumsq(const float *grads, i64 n,
                                    double *partials) {
  GROWC_SHARED double warpSums[kWarps];
  const i64 first = i64(blockIndex()) * kThreads + threadIndex();
  const i64 stride = i64(blockCount()) * kThreads;
  double sum = 0;
  i64 groups = aligned16(grads) ? n / 4 : 0;
  for (i64 i = first; i < groups; i += stride) {
    Float4 g = load4(grads + 4 * i);
    sum += double(g.x) * double(g.x) + double(g.y) * double(g.y) +
           double(g.z) * double(g.z) + double(g.w) * double(g.w);
  }
  for (i64 i = 4 * groups + first; i < n; i += stride) {
    double g = double(grads[i]);
    sum += g * g;
  }
  double total = blockSum(sum, warpSums);
  if (threadIndex() == 0)
    partials[blockIndex()] = total;
}

/// One block: the squared norm from the p partials (in block order), then
/// grad_norm, the nonfinite flag and the update's constants into
/// `scalars` (Scalar). `apply` is null without gradient accumulation;
/// logBeta1/2 are (float)log(β1), (float)log(β2).
GROWC_KERNEL void growc_adamw_scalars(const double *partials,
                                      const float *lossNonfinite,
                                      const float *apply, const float *lr,
                                      const float *step, float *gradNorm,
                                      float *nonfinite, float *scalars, int p,
                                      float logBeta1, float logBeta2,
                                      float weightDecay, float maxGradNorm) {
  GROWC_SHARED double warpSums[kWarps];
  double sum = 0;
  for (int i = int(threadIndex()); i < p; i += kThreads)
    sum += partials[i];
  double total = blockSum(sum, warpSums);
  if (threadIndex() != 0)
    return;
  float squared = float(total);
  float norm = squareRoot(squared);
  *gradNorm = norm;
  float coef = __builtin_fminf(divide(maxGradNorm, norm + 1e-6f), 1.0f);
  bool badNorm = !(__builtin_fabsf(squared) < __builtin_inff());
  float flag = *lossNonfinite > 0.5f ? 1.0f : (badNorm ? 1.0f : 0.0f);
  *nonfinite = flag;
  float update = flag > 0.5f ? 0.0f : (apply ? *apply : 1.0f);
  float rate = *lr, t = *step;
  scalars[kCoef] = coef;
  scalars[kUpdate] = update > 0.5f ? 1.0f : 0.0f;
  scalars[kStepSize] = divide(rate, 1.0f - exponential(t * logBeta1));
  scalars[kDecay] = 1.0f - rate * weightDecay;
  scalars[kSqrtC2] = squareRoot(1.0f - exponential(t * logBeta2));
  scalars[kResetSums] = !apply || *apply > 0.5f ? 1.0f : 0.0f;
}

/// The update over [0, n) in place, where scalars[kUpdate] says, with
/// each new parameter's bf16 copy (`bf16`, null: none) where it updates;
/// the gradient sums (null: none) become 0 or the gradient, as
/// scalars[kResetSums] says, whether or not the update happens.
GROWC_KERNEL void growc_adamw_update(float *params, const float *grads,
                                     float *expAvg, float *expAvgSq,
                                     float *gradSums, u16 *bf16,
                                     const float *scalars, i64 n, float beta1,
                                     float beta2, float oneMinusBeta1,
                                     float oneMinusBeta2, float eps) {
  const bool update = scalars[kUpdate] > 0.5f;
  const bool reset = scalars[kResetSums] > 0.5f;
  if (!update && !gradSums)
    return;
  const Adam adam{scalars[kCoef],
                  scalars[kStepSize],
                  scalars[kDecay],
                  scalars[kSqrtC2],
                  beta1,
                  beta2,
                  oneMinusBeta1,
                  oneMinusBeta2,
                  eps};
  const i64 first = i64(blockIndex()) * kThreads + threadIndex();
  const i64 stride = i64(blockCount()) * kThreads;
  const bool vector = aligned16(params) && aligned16(grads) &&
                      aligned16(expAvg) && aligned16(expAvgSq) &&
                      (!gradSums || aligned16(gradSums)) &&
                      (!bf16 || aligned(bf16, 8));
  i64 groups = vector ? n / 4 : 0;
  for (i64 i = first; i < groups; i += stride) {
    Float4 g = load4(grads + 4 * i);
    if (update) {
      Float4 p = load4(params + 4 * i), m = load4(expAvg + 4 * i),
             v = load4(expAvgSq + 4 * i);
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        float pj = p[j], mj = m[j], vj = v[j];
        adam.apply(pj, g[j], mj, vj);
        p[j] = pj, m[j] = mj, v[j] = vj;
      }
      store4(params + 4 * i, p);
      store4(expAvg + 4 * i, m);
      store4(expAvgSq + 4 * i, v);
      if (bf16)
        *reinterpret_cast<Bf16Quad *>(bf16 + 4 * i) = toBf16(p);
    }
    if (gradSums)
      store4(gradSums + 4 * i, reset ? Float4(0.0f) : g);
  }
  for (i64 i = 4 * groups + first; i < n; i += stride) {
    float g = grads[i];
    if (update) {
      float p = params[i], m = expAvg[i], v = expAvgSq[i];
      adam.apply(p, g, m, v);
      params[i] = p, expAvg[i] = m, expAvgSq[i] = v;
      if (bf16)
        bf16[i] = toBf16(p);
    }
    if (gradSums)
      gradSums[i] = reset ? 0.0f : g;
  }
}
