//===- FlashAttention.cu - Causal GQA attention on the tensor cores -------===//
//
// The forward of growk.attention as one FlashAttention-2 kernel for
// sm_80+ (the H100 runs it as is): bf16 tensor-core mma.sync m16n8k16
// with f32 accumulators, fragments from ldmatrix, the softmax online in
// registers. It exists because the distributed form (one thread per query
// row on the CUDA cores) and the GEMM form (T x T scores through memory)
// both leave most of an H100 idle at T = 2048 (docs/gpu.md).
//
// Compiled to PTX at build time by clang's CUDA device mode and LLVM's
// NVPTX backend (no CUDA headers: the few intrinsics are spelled out
// below); the PTX interpreter of the test fake driver runs it against a
// float64 reference on machines without a GPU (FlashAttentionTest).
//
// Layouts are growk.attention's: q and o are [B*T, H*hd], k and v
// [B*T, KVH*hd], rows batch-major, query head h reading KV head
// h / (H / KVH), scores scaled by 1/sqrt(hd), causal. A block of four
// warps owns 64 query rows of one (sample, head); each warp 16 of them.
// Key/value tiles of 64 rows pass through shared memory (row stride
// hd + 8 bf16, so that ldmatrix's eight rows hit distinct banks). `lse`
// (optional) receives each row's log-sum-exp of the scaled scores,
// [B, H, T], for the backward.
//
//===----------------------------------------------------------------------===//

#define GROWC_DEVICE __attribute__((device)) static inline
#define GROWC_SHARED __attribute__((shared))

typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned long long u64;

namespace {

constexpr int kBlockRows = 64; // query rows per block, 16 per warp
constexpr int kBlockKeys = 64; // keys per tile
constexpr int kThreads = 128;

GROWC_DEVICE u32 threadIndex() { return __nvvm_read_ptx_sreg_tid_x(); }
GROWC_DEVICE void barrier() { __nvvm_bar_sync(0); }

GROWC_DEVICE float asFloat(u32 bits) { return __builtin_bit_cast(float, bits); }
GROWC_DEVICE u32 asBits(float value) { return __builtin_bit_cast(u32, value); }

/// Two floats as bf16x2, `lo` in the low half (the element with the
/// smaller index in every mma fragment).
GROWC_DEVICE u32 packBf16(float lo, float hi) {
  u32 packed;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(packed) : "f"(hi), "f"(lo));
  return packed;
}

GROWC_DEVICE float load(const float *p) { return *p; }
GROWC_DEVICE float load(const u16 *p) { return asFloat(u32(*p) << 16); }

GROWC_DEVICE void store(float *p, float value) { *p = value; }
GROWC_DEVICE void store(u16 *p, float value) {
  *p = u16(packBf16(value, 0.0f)); // the low half: value rounded to bf16
}

GROWC_DEVICE u64 sharedAddress(const void *generic) {
  u64 address;
  asm("cvta.to.shared.u64 %0, %1;" : "=l"(address) : "l"(generic));
  return address;
}

GROWC_DEVICE void ldmatrixX4(u32 (&r)[4], const u16 *row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, "
               "[%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "l"(sharedAddress(row)));
}

GROWC_DEVICE void ldmatrixX2(u32 (&r)[2], const u16 *row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];"
               : "=r"(r[0]), "=r"(r[1])
               : "l"(sharedAddress(row)));
}

GROWC_DEVICE void ldmatrixX2Trans(u32 (&r)[2], const u16 *row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, "
               "[%2];"
               : "=r"(r[0]), "=r"(r[1])
               : "l"(sharedAddress(row)));
}

/// acc += a * b on the tensor cores (16x16 bf16 times 16x8 bf16).
GROWC_DEVICE void mma(float (&acc)[4], const u32 (&a)[4], const u32 (&b)[2]) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};"
               : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                 "r"(b[1]));
}

/// The maximum (or sum) over the four lanes that share an accumulator row.
GROWC_DEVICE float quadReduce(float x, bool maximum) {
  for (int offset = 1; offset < 4; offset *= 2) {
    u32 other;
    asm volatile("shfl.sync.bfly.b32 %0, %1, %2, 31, -1;"
                 : "=r"(other)
                 : "r"(asBits(x)), "r"(offset));
    x = maximum ? __builtin_fmaxf(x, asFloat(other)) : x + asFloat(other);
  }
  return x;
}

GROWC_DEVICE float exp2Approx(float x) { return __nvvm_ex2_approx_ftz_f(x); }

/// Copies `rows` x HD elements (row stride `stride`, from row `first`)
/// into a shared tile as bf16, zeros past `limit`.
template <int HD, typename In>
GROWC_DEVICE void loadTile(u16 *tile, const In *source, long stride,
                           int first, int limit) {
  constexpr int kStride = HD + 8;
  for (int i = int(threadIndex()); i < kBlockKeys * HD / 2; i += kThreads) {
    int row = i / (HD / 2), col = 2 * (i % (HD / 2));
    float lo = 0.0f, hi = 0.0f;
    if (first + row < limit) {
      const In *p = source + (long)(first + row) * stride + col;
      lo = load(p);
      hi = load(p + 1);
    }
    *reinterpret_cast<u32 *>(tile + row * kStride + col) = packBf16(lo, hi);
  }
}

template <int HD, typename In, typename Out>
GROWC_DEVICE void flashForward(const In *q, const In *k, const In *v, Out *o,
                               float *lse, int seqLen, int heads,
                               int kvHeads) {
  constexpr int kStride = HD + 8;
  GROWC_SHARED __attribute__((aligned(16))) u16 qTile[kBlockRows * kStride];
  GROWC_SHARED __attribute__((aligned(16))) u16 kTile[kBlockKeys * kStride];
  GROWC_SHARED __attribute__((aligned(16))) u16 vTile[kBlockKeys * kStride];

  const int queryBlock = int(__nvvm_read_ptx_sreg_ctaid_x());
  const int head = int(__nvvm_read_ptx_sreg_ctaid_y());
  const int sample = int(__nvvm_read_ptx_sreg_ctaid_z());
  const int kvHead = head / (heads / kvHeads);
  const long qStride = (long)heads * HD, kvStride = (long)kvHeads * HD;
  const In *qBase = q + (long)sample * seqLen * qStride + head * HD;
  const In *kBase = k + (long)sample * seqLen * kvStride + kvHead * HD;
  const In *vBase = v + (long)sample * seqLen * kvStride + kvHead * HD;
  const int lane = int(threadIndex() % 32), warp = int(threadIndex() / 32);
  const int group = lane / 4, inGroup = lane % 4;
  const int firstQuery = queryBlock * kBlockRows;
  // Scores in log2 units: exp(x * scale) = exp2(x * scale * log2(e)).
  const float scale = 1.4426950408889634f / __nvvm_sqrt_rn_f(float(HD));

  loadTile<HD>(qTile, qBase, qStride, firstQuery, seqLen);
  barrier();
  // This warp's 16 query rows as A fragments, one per 16 head dimensions.
  u32 qFragment[HD / 16][4];
  for (int ks = 0; ks < HD / 16; ++ks) {
    int row = warp * 16 + lane % 8 + 8 * ((lane / 8) % 2);
    int col = ks * 16 + 8 * (lane / 16);
    ldmatrixX4(qFragment[ks], qTile + row * kStride + col);
  }

  // Rows group and group + 8 of the warp's 16: running max, partial sums
  // (this lane's columns only, summed over the quad at the end), output.
  float rowMax[2] = {-__builtin_inff(), -__builtin_inff()};
  float rowSum[2] = {0.0f, 0.0f};
  float out[HD / 8][4];
  for (int d = 0; d < HD / 8; ++d)
    for (int i = 0; i < 4; ++i)
      out[d][i] = 0.0f;

  const int lastKey = firstQuery + kBlockRows - 1 < seqLen - 1
                          ? firstQuery + kBlockRows - 1
                          : seqLen - 1;
  for (int firstKey = 0; firstKey <= lastKey; firstKey += kBlockKeys) {
    barrier(); // the previous tiles are no longer read
    loadTile<HD>(kTile, kBase, kvStride, firstKey, seqLen);
    loadTile<HD>(vTile, vBase, kvStride, firstKey, seqLen);
    barrier();

    // S = Q K^T for this warp's 16 rows and the tile's 64 keys.
    float s[kBlockKeys / 8][4];
    for (int n = 0; n < kBlockKeys / 8; ++n) {
      for (int i = 0; i < 4; ++i)
        s[n][i] = 0.0f;
      for (int ks = 0; ks < HD / 16; ++ks) {
        u32 b[2];
        ldmatrixX2(b, kTile + (n * 8 + lane % 8) * kStride + ks * 16 +
                          8 * ((lane / 8) % 2));
        mma(s[n], qFragment[ks], b);
      }
    }

    // Scale, causal mask, online softmax.
    float tileMax[2] = {-__builtin_inff(), -__builtin_inff()};
    for (int n = 0; n < kBlockKeys / 8; ++n)
      for (int i = 0; i < 4; ++i) {
        int query = firstQuery + warp * 16 + group + 8 * (i / 2);
        int key = firstKey + n * 8 + 2 * inGroup + i % 2;
        s[n][i] = key <= query && key < seqLen ? s[n][i] * scale
                                               : -__builtin_inff();
        tileMax[i / 2] = __builtin_fmaxf(tileMax[i / 2], s[n][i]);
      }
    float rescale[2], base[2];
    for (int r = 0; r < 2; ++r) {
      float newMax = __builtin_fmaxf(rowMax[r], quadReduce(tileMax[r], true));
      // A row with no visible key yet (padding rows) stays at zero.
      base[r] = newMax == -__builtin_inff() ? 0.0f : newMax;
      rescale[r] = exp2Approx(rowMax[r] - base[r]);
      rowMax[r] = newMax;
      rowSum[r] *= rescale[r];
    }
    for (int d = 0; d < HD / 8; ++d)
      for (int i = 0; i < 4; ++i)
        out[d][i] *= rescale[i / 2];
    for (int n = 0; n < kBlockKeys / 8; ++n)
      for (int i = 0; i < 4; ++i) {
        s[n][i] = exp2Approx(s[n][i] - base[i / 2]);
        rowSum[i / 2] += s[n][i];
      }

    // O += P V: P's accumulator fragments are already mma's A layout.
    for (int kk = 0; kk < kBlockKeys / 16; ++kk) {
      u32 p[4] = {packBf16(s[2 * kk][0], s[2 * kk][1]),
                  packBf16(s[2 * kk][2], s[2 * kk][3]),
                  packBf16(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                  packBf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
      for (int d = 0; d < HD / 8; ++d) {
        u32 b[2];
        ldmatrixX2Trans(b, vTile + (kk * 16 + lane % 16) * kStride + d * 8);
        mma(out[d], p, b);
      }
    }
  }

  for (int r = 0; r < 2; ++r) {
    float total = quadReduce(rowSum[r], false);
    int query = firstQuery + warp * 16 + group + 8 * r;
    if (query >= seqLen)
      continue;
    float inverse = 1.0f / total;
    Out *row = o + ((long)sample * seqLen + query) * qStride + head * HD;
    for (int d = 0; d < HD / 8; ++d) {
      store(row + d * 8 + 2 * inGroup, out[d][2 * r] * inverse);
      store(row + d * 8 + 2 * inGroup + 1, out[d][2 * r + 1] * inverse);
    }
    if (lse && inGroup == 0)
      lse[((long)sample * heads + head) * seqLen + query] =
          (rowMax[r] + __nvvm_lg2_approx_f(total)) * 0.6931471805599453f;
  }
}

} // namespace

// The instances growc uses: head dimensions 16 to 64, f32 or bf16
// activations in, f32 or bf16 out. Grid (ceil(T / 64), H, B), 128 threads.
#define GROWC_FLASH_FORWARD(HD, IN, OUT, NAME)                                 \
  extern "C" __attribute__((global)) __attribute__((launch_bounds(128)))       \
  void NAME(const IN *q, const IN *k, const IN *v, OUT *o, float *lse,         \
            int seqLen, int heads, int kvHeads) {                              \
    flashForward<HD>(q, k, v, o, lse, seqLen, heads, kvHeads);                 \
  }

GROWC_FLASH_FORWARD(16, float, float, growc_flash_forward_hd16_f32_f32)
GROWC_FLASH_FORWARD(32, float, float, growc_flash_forward_hd32_f32_f32)
GROWC_FLASH_FORWARD(64, float, float, growc_flash_forward_hd64_f32_f32)
GROWC_FLASH_FORWARD(64, u16, u16, growc_flash_forward_hd64_bf16_bf16)
