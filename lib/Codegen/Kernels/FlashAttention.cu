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
// hd + 8 bf16, so that ldmatrix's eight rows hit distinct banks), double-
// buffered: bf16 tiles arrive by cp.async while the previous tile
// computes. `lse` (optional) receives each row's log-sum-exp of the scaled
// scores (natural log), [B, H, T], for the backward. Work of a forward
// block with query tile x: x + 1 key tiles of 64 (S and PV, 4 * 64 * 64 *
// hd FLOPs each); the block dispatched first takes the last query tile,
// the heaviest (placeHeavyFirst). The backward follows below.
//
// Tiles live in dynamic shared memory laid out by growc/runtime/
// FlashAttentionLayout.h, which the runtime sizes each launch by: at head
// size 128 (Llama-3's) the forward's tiles take 85 KiB and the backward's 54
// KiB, beyond the 48 KiB a block may declare statically (the launch opts in,
// up to the H100's 227 KiB). Tile sizes per head size, by ptxas's registers
// (sm_90): the forward keeps 64 x 64 at 128 (as FlashAttention-2 does for
// causal hd 128 on sm_86/89; its 128 x 64 on sm_80/90 gives each of 4 warps
// 32 rows, 128 output accumulators a thread, where ours keep 16 rows and 64:
// 166-168 registers, no spills but 16 bytes with f32 inputs, 2 blocks per SM
// bound by shared memory; the RoPE-on-load forward 248). The backward's
// query steps shrink from 32 rows to 16 at head size 128: each thread holds
// its 16 keys' dK and dV (128 f32) across the steps, and beside 32-row
// steps' P and dS ptxas spills 264 bytes a thread at 255 registers; with 16
// rows 8 (bf16) or 36 (f32). FlashAttention-2's hd 128 backward keeps the
// same 128 accumulators a thread with 8 warps on 64 x 128 or 64 x 64 tiles.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/FlashAttentionLayout.h"

#define GROWC_DEVICE __attribute__((device)) static inline
#define GROWC_SHARED __attribute__((shared))

typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned long long u64;

namespace flash = growc::flash;

/// The block's dynamic shared memory, which every entry point carves its
/// tiles from (sharedAt): one module-scope declaration.
extern "C" GROWC_SHARED __attribute__((aligned(16))) unsigned char
    growc_flash_shared[];

namespace {

// Query rows per block (16 per warp), keys per tile, threads; the
// layouts of the dynamic shared memory the blocks carve their tiles from
// (growc/runtime/FlashAttentionLayout.h, which the runtime sizes the
// launches by).
using flash::kBlockKeys;
using flash::kBlockRows;
using flash::kThreads;

GROWC_DEVICE u32 threadIndex() { return __nvvm_read_ptx_sreg_tid_x(); }
GROWC_DEVICE void barrier() { __nvvm_bar_sync(0); }

/// `T` at byte `offset` of the block's dynamic shared memory (the
/// launch's sharedMemBytes, sized by flash::sharedBytes): head size 128's
/// tiles exceed the 48 KiB a block may have statically.
template <typename T> GROWC_DEVICE T *sharedAt(long long offset) {
  return reinterpret_cast<T *>(growc_flash_shared + offset);
}

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

typedef float float2v __attribute__((ext_vector_type(2)));

/// p[0] = lo and p[1] = hi, in one 8-byte (f32) or 4-byte (bf16) store
/// with `pair` (p aligned to it).
GROWC_DEVICE void storePair(float *p, float lo, float hi, bool pair) {
  if (pair) {
    *reinterpret_cast<float2v *>(p) = float2v{lo, hi};
    return;
  }
  p[0] = lo;
  p[1] = hi;
}
GROWC_DEVICE void storePair(u16 *p, float lo, float hi, bool pair) {
  if (pair) {
    *reinterpret_cast<u32 *>(p) = packBf16(lo, hi);
    return;
  }
  store(p, lo);
  store(p + 1, hi);
}

GROWC_DEVICE u64 sharedAddress(const void *generic) {
  u64 address;
  asm("cvta.to.shared.u64 %0, %1;" : "=l"(address) : "l"(generic));
  return address;
}

GROWC_DEVICE u64 globalAddress(const void *generic) {
  u64 address;
  asm("cvta.to.global.u64 %0, %1;" : "=l"(address) : "l"(generic));
  return address;
}

/// p[0] += lo and p[1] += hi, each atomically (dQ's accumulation across
/// key tiles, dK's and dV's across a KV group's heads): one
/// red.global.add.v2.f32 (PTX ISA 8.1, sm_90) where p is 8-byte aligned,
/// else two scalar adds. The lanes of an mma fragment's row hold adjacent
/// column pairs: paired, a row's 4 lanes add 32 contiguous bytes in one
/// request, where scalar adds take two requests that each fill half the
/// sector. The alignment test is predication inside the asm, not a C++
/// branch: with both forms as C++ paths the unrolled adds exist twice, the
/// hd 128 main passes are no longer inlined (a .func, which the library
/// linker cannot carry), and inlined by force ptxas spills at 255
/// registers (rope hd 64: 8 bytes a thread, from 0).
GROWC_DEVICE void atomicAddPair(float *p, float lo, float hi) {
  asm volatile("{\n\t.reg .pred pair;\n\t.reg .b64 low;\n\t"
               "and.b64 low, %0, 7;\n\t"
               "setp.eq.b64 pair, low, 0;\n\t"
               "@pair red.global.add.v2.f32 [%0], {%1, %2};\n\t"
               "@!pair red.global.add.f32 [%0], %1;\n\t"
               "@!pair red.global.add.f32 [%0+4], %2;\n\t}" ::"l"(
                   globalAddress(p)),
               "f"(lo), "f"(hi)
               : "memory");
}

/// cp.async (sm_80): 16 bytes global -> shared, bypassing the registers;
/// `bytes` of them read (0 or 16), the rest zeros.
GROWC_DEVICE void copyAsync16(u16 *destination, const u16 *source, u32 bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"l"(
                   sharedAddress(destination)),
               "l"(globalAddress(source)), "r"(bytes)
               : "memory");
}
/// Closes the copies started since the last commit into a group.
GROWC_DEVICE void commitCopies() {
  asm volatile("cp.async.commit_group;" ::: "memory");
}
/// Waits until this thread's groups but the newest have landed.
GROWC_DEVICE void waitAllButNewest() {
  asm volatile("cp.async.wait_group 1;" ::: "memory");
}

GROWC_DEVICE bool aligned16(const void *p) { return u64(p) % 16 == 0; }

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
#pragma unroll
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

/// Copies `Rows` x HD elements (row stride `stride`, from row `first`)
/// into a shared tile as bf16, zeros past `limit`.
template <int HD, int Rows = kBlockKeys, typename In>
GROWC_DEVICE void loadTile(u16 *tile, const In *source, long stride, int first,
                           int limit) {
  constexpr int kStride = HD + 8;
  for (int i = int(threadIndex()); i < Rows * HD / 2; i += kThreads) {
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

/// Starts filling a tile as loadTile does: bf16 sources with `async` by
/// cp.async, 16 bytes per copy (the caller commits and waits), otherwise
/// (f32 sources convert on the way) loaded now.
template <int HD, int Rows = kBlockKeys, typename In>
GROWC_DEVICE void startTile(u16 *tile, const In *source, long stride, int first,
                            int limit, bool async) {
  if constexpr (sizeof(In) == 2) {
    if (async) {
      constexpr int kStride = HD + 8, kChunks = HD / 8;
      for (int i = int(threadIndex()); i < Rows * kChunks; i += kThreads) {
        int row = i / kChunks, col = 8 * (i % kChunks);
        bool inside = first + row < limit;
        // Rows past the end read nothing (a valid address all the same).
        const In *from = source + (inside ? (long)(first + row) * stride : 0);
        copyAsync16(tile + row * kStride + col, from + col, inside ? 16 : 0);
      }
      return;
    }
  }
  loadTile<HD, Rows>(tile, source, stride, first, limit);
}

typedef float float4v __attribute__((ext_vector_type(4)));
typedef u16 u16x4 __attribute__((ext_vector_type(4)));

/// Elements i .. i + 3 of a row as floats, in one 16- (f32) or 8-byte
/// (bf16) load.
GROWC_DEVICE float4v load4(const float *p) {
  return *reinterpret_cast<const float4v *>(p);
}
GROWC_DEVICE float4v load4(const u16 *p) {
  u16x4 bits = *reinterpret_cast<const u16x4 *>(p);
  return float4v{asFloat(u32(bits.x) << 16), asFloat(u32(bits.y) << 16),
                 asFloat(u32(bits.z) << 16), asFloat(u32(bits.w) << 16)};
}

/// p[0 .. 3] = v rounded to bf16, in one 8-byte store.
GROWC_DEVICE void store4(u16 *p, float4v v) {
  typedef u32 u32x2 __attribute__((ext_vector_type(2)));
  *reinterpret_cast<u32x2 *>(p) =
      u32x2{packBf16(v.x, v.y), packBf16(v.z, v.w)};
}

/// RoPE (transformers' rotate_half) of a shared tile's `Rows` rows in
/// place, rows from `first` below `limit`: with c and s the tables' angle
/// j < HD / 2 of the row, element j becomes x_j c - x_{j + HD/2} s and
/// element j + HD/2 becomes x_{j + HD/2} c + x_j s. The arithmetic is the
/// generated RoPE kernel's: f32, each product and the sum rounded on their
/// own (no fma), the result rounded once to bf16, so the rotated tile
/// holds exactly the q or k that kernel would have written. `cos` and
/// `sin` are the tables' [T, HD / 2] rows of the block's sample.
template <int HD, int Rows, bool kVector>
GROWC_DEVICE void rotateTile(u16 *tile, const float *cos, const float *sin,
                             int first, int limit) {
  // kVector: four angles a thread, 16-byte table loads and 8-byte shared
  // accesses (table rows are HD / 2 floats, a multiple of 16 bytes, so only
  // the tables' base decides the alignment). The backward main pass rotates
  // one angle a thread: at 255 registers, the wider form spills there.
  constexpr int kStride = HD + 8, kHalf = HD / 2, kWidth = kVector ? 4 : 1;
  static_assert(kHalf % 4 == 0, "RoPE rotates four angles a thread");
  bool vectors = kVector && aligned16(cos) && aligned16(sin);
  // x_j c - x_{j + HD/2} s; with the halves swapped, the second half.
  auto rotate = [](float x, float other, float c, float s, float sign) {
    return __nvvm_add_rn_f(__nvvm_mul_rn_f(x, c),
                           __nvvm_mul_rn_f(sign * other, s));
  };
  for (int i = int(threadIndex()); i < Rows * kHalf / kWidth; i += kThreads) {
    int row = i / (kHalf / kWidth), j = i % (kHalf / kWidth) * kWidth;
    if (first + row >= limit)
      continue; // zeros, and no table row to read
    u16 *x = tile + row * kStride;
    long at = (long)(first + row) * kHalf + j;
    if constexpr (!kVector) {
      float lo = asFloat(u32(x[j]) << 16), hi = asFloat(u32(x[j + kHalf]) << 16);
      store(x + j, rotate(lo, hi, cos[at], sin[at], -1.0f));
      store(x + j + kHalf, rotate(hi, lo, cos[at], sin[at], 1.0f));
    } else {
      float4v lo = load4(x + j), hi = load4(x + j + kHalf), c, s, a, b;
      if (vectors) {
        c = load4(cos + at);
        s = load4(sin + at);
      } else {
        c = float4v{cos[at], cos[at + 1], cos[at + 2], cos[at + 3]};
        s = float4v{sin[at], sin[at + 1], sin[at + 2], sin[at + 3]};
      }
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        a[e] = rotate(lo[e], hi[e], c[e], s[e], -1.0f);
        b[e] = rotate(hi[e], lo[e], c[e], s[e], 1.0f);
      }
      store4(x + j, a);
      store4(x + j + kHalf, b);
    }
  }
}

/// The tables' rows of a block's sample (null without RoPE).
struct RopeTables {
  const float *cos, *sin;
};

/// The warp's 16 rows of a 64-row tile as mma A fragments, one per 16
/// head dimensions.
template <int HD>
GROWC_DEVICE void loadRowFragments(u32 (&a)[HD / 16][4], const u16 *tile,
                                   int warp, int lane) {
  constexpr int kStride = HD + 8;
#pragma unroll
  for (int ks = 0; ks < HD / 16; ++ks) {
    int row = warp * 16 + lane % 8 + 8 * ((lane / 8) % 2);
    ldmatrixX4(a[ks], tile + row * kStride + ks * 16 + 8 * (lane / 16));
  }
}

/// acc = A * tile^T: the warp's 16 rows against N rows of a tile (S =
/// Q K^T, dP = dO V^T, and transposed, S^T = K Q^T, dP^T = V dO^T).
template <int HD, int N = kBlockKeys>
GROWC_DEVICE void rowsTimesTileT(float (&acc)[N / 8][4],
                                 const u32 (&a)[HD / 16][4], const u16 *tile,
                                 int lane) {
  constexpr int kStride = HD + 8;
#pragma unroll
  for (int n = 0; n < N / 8; ++n) {
#pragma unroll
    for (int i = 0; i < 4; ++i)
      acc[n][i] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < HD / 16; ++ks) {
      u32 b[2];
      ldmatrixX2(b, tile + (n * 8 + lane % 8) * kStride + ks * 16 +
                        8 * ((lane / 8) % 2));
      mma(acc[n], a[ks], b);
    }
  }
}

/// out += P * tile, P the warp's 16 x N accumulators (as bf16: their
/// fragments are already mma's A layout), the tile N rows of HD (O += P
/// V, dV += P^T dO, dK += dS^T Q, dQ += dS K).
template <int HD, int N = kBlockKeys>
GROWC_DEVICE void accumulateTimesTile(float (&out)[HD / 8][4],
                                      const float (&p)[N / 8][4],
                                      const u16 *tile, int lane) {
  constexpr int kStride = HD + 8;
#pragma unroll
  for (int kk = 0; kk < N / 16; ++kk) {
    u32 a[4] = {packBf16(p[2 * kk][0], p[2 * kk][1]),
                packBf16(p[2 * kk][2], p[2 * kk][3]),
                packBf16(p[2 * kk + 1][0], p[2 * kk + 1][1]),
                packBf16(p[2 * kk + 1][2], p[2 * kk + 1][3])};
#pragma unroll
    for (int d = 0; d < HD / 8; ++d) {
      u32 b[2];
      ldmatrixX2Trans(b, tile + (kk * 16 + lane % 16) * kStride + d * 8);
      mma(out[d], a, b);
    }
  }
}

/// Where a block works: its tile, head, sample, the warp and lane, and the
/// softmax scale in log2 units (exp(x / sqrt(hd)) = exp2(x * scale)).
struct Place {
  int tile, head, sample, warp, lane, group, inGroup;
  float scale;
};

template <int HD> GROWC_DEVICE Place place(int tile, int head, int sample) {
  Place at;
  at.tile = tile * kBlockRows;
  at.head = head;
  at.sample = sample;
  at.lane = int(threadIndex() % 32);
  at.warp = int(threadIndex() / 32);
  at.group = at.lane / 4;
  at.inGroup = at.lane % 4;
  at.scale = 1.4426950408889634f / __nvvm_sqrt_rn_f(float(HD));
  return at;
}

/// The block's place in its grid's (x, y, z) = (tiles, heads, samples).
template <int HD> GROWC_DEVICE Place place() {
  return place<HD>(int(__nvvm_read_ptx_sreg_ctaid_x()),
                   int(__nvvm_read_ptx_sreg_ctaid_y()),
                   int(__nvvm_read_ptx_sreg_ctaid_z()));
}

/// The same grid, heaviest blocks first: blocks are dispatched in linear
/// order (x fastest), so the n-th y * z blocks dispatched take the n-th
/// heaviest tile of every (head, sample), counting tiles from the last
/// (`lastHeaviest`, the forward's query tiles) or from the first (the
/// backward's key tiles).
template <int HD> GROWC_DEVICE Place placeHeavyFirst(bool lastHeaviest) {
  u32 tiles = __nvvm_read_ptx_sreg_nctaid_x();
  u32 heads = __nvvm_read_ptx_sreg_nctaid_y();
  u32 perTile = heads * __nvvm_read_ptx_sreg_nctaid_z();
  u32 linear = __nvvm_read_ptx_sreg_ctaid_x() +
               tiles * (__nvvm_read_ptx_sreg_ctaid_y() +
                        heads * __nvvm_read_ptx_sreg_ctaid_z());
  u32 rank = linear / perTile, rest = linear % perTile;
  return place<HD>(int(lastHeaviest ? tiles - 1 - rank : rank),
                   int(rest % heads), int(rest / heads));
}

/// Writes the warp's 16 x HD accumulator rows (times `factor`, per row r
/// of the lane's two) to `base` (rows of `stride` elements from `first`),
/// rows below `limit` only.
template <int HD, typename Out>
GROWC_DEVICE void storeRows(Out *base, long stride, int first, int limit,
                            const Place &at, const float (&acc)[HD / 8][4],
                            const float (&factor)[2]) {
  // Each lane's two adjacent columns in one store where the base allows
  // (the stride and column are even).
  const bool pairs = u64(base) % (2 * sizeof(Out)) == 0;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    int row = first + at.warp * 16 + at.group + 8 * r;
    if (row >= limit)
      continue;
    Out *out = base + (long)row * stride;
#pragma unroll
    for (int d = 0; d < HD / 8; ++d)
      storePair(out + d * 8 + 2 * at.inGroup, acc[d][2 * r] * factor[r],
                acc[d][2 * r + 1] * factor[r], pairs);
  }
}

/// Adds the warp's 16 x HD accumulator rows times `factor` to `base`
/// (rows of `stride` floats from `first`), rows below `limit` only, by
/// atomic adds (several blocks add into the same rows).
template <int HD>
GROWC_DEVICE void addRows(float *base, long stride, int first, int limit,
                          const Place &at, const float (&acc)[HD / 8][4],
                          float factor) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    int row = first + at.warp * 16 + at.group + 8 * r;
    if (row >= limit)
      continue;
    float *out = base + (long)row * stride + 2 * at.inGroup;
#pragma unroll
    for (int d = 0; d < HD / 8; ++d)
      atomicAddPair(out + d * 8, acc[d][2 * r] * factor,
                    acc[d][2 * r + 1] * factor);
  }
}

/// `qStride` and `kvStride`: elements per row of q and of k and v (their
/// heads' widths, or wider where they are column blocks of one
/// projection's output). With `kRope`, q and k are rotated (RoPE, the
/// tables `rope` of [B * T, HD / 2] f32) as their tiles land.
template <int HD, bool kRope = false, typename In, typename Out>
GROWC_DEVICE void flashForward(const In *q, const In *k, const In *v, Out *o,
                               float *lse, int seqLen, int heads, int kvHeads,
                               long qStride, long kvStride, RopeTables rope) {
  typedef u16 KeyTile[kBlockKeys * (HD + 8)];
  constexpr flash::ForwardShared kShared = flash::forwardShared(HD);
  u16 *qTile = sharedAt<u16>(kShared.queries);
  // Key and value tiles, double-buffered: the next pair is on its way
  // (cp.async) while this one is used.
  KeyTile *kTiles = sharedAt<KeyTile>(kShared.keys);
  KeyTile *vTiles = sharedAt<KeyTile>(kShared.values);
  const Place at = placeHeavyFirst<HD>(true);
  // Keys per online-softmax step: at head size 64 a whole tile's scores
  // beside the output accumulators exceed the registers.
  constexpr int kColumns = HD >= 64 ? 32 : 64;
  const int kvHead = at.head / (heads / kvHeads);
  const long oStride = (long)heads * HD;
  const In *qBase = q + (long)at.sample * seqLen * qStride + at.head * HD;
  const In *kBase = k + (long)at.sample * seqLen * kvStride + kvHead * HD;
  const In *vBase = v + (long)at.sample * seqLen * kvStride + kvHead * HD;
  const int firstQuery = at.tile;
  constexpr bool kBf16 = sizeof(In) == 2;
  const bool async = kBf16 && aligned16(q) && aligned16(k) && aligned16(v) &&
                     qStride % 8 == 0 && kvStride % 8 == 0;
  const long tableBase = (long)at.sample * seqLen * (HD / 2);

  startTile<HD, kBlockRows>(qTile, qBase, qStride, firstQuery, seqLen, async);
  u32 qFragment[HD / 16][4] = {};

  // Rows group and group + 8 of the warp's 16: running max, partial sums
  // (this lane's columns only, summed over the quad at the end), output.
  float rowMax[2] = {-__builtin_inff(), -__builtin_inff()};
  float rowSum[2] = {0.0f, 0.0f};
  float out[HD / 8][4] = {};

  const int lastKey = firstQuery + kBlockRows - 1 < seqLen - 1
                          ? firstQuery + kBlockRows - 1
                          : seqLen - 1;
  startTile<HD>(kTiles[0], kBase, kvStride, 0, seqLen, async);
  startTile<HD>(vTiles[0], vBase, kvStride, 0, seqLen, async);
  if constexpr (kBf16)
    commitCopies(); // the first group: q and the first k, v tiles
  for (int firstKey = 0; firstKey <= lastKey; firstKey += kBlockKeys) {
    const int buffer = (firstKey / kBlockKeys) % 2;
    const u16 *kTile = kTiles[buffer], *vTile = vTiles[buffer];
    // The next tiles go to the other buffers, which the last iteration's
    // closing barrier freed.
    if (firstKey + kBlockKeys <= lastKey) {
      startTile<HD>(kTiles[1 - buffer], kBase, kvStride, firstKey + kBlockKeys,
                    seqLen, async);
      startTile<HD>(vTiles[1 - buffer], vBase, kvStride, firstKey + kBlockKeys,
                    seqLen, async);
    }
    if constexpr (kBf16) {
      commitCopies(); // possibly empty: the last tile has no successor
      waitAllButNewest();
    }
    barrier(); // this tile (and at first the query tile) is in place
    if constexpr (kRope) {
      rotateTile<HD, kBlockKeys, true>(kTiles[buffer], rope.cos + tableBase,
                                       rope.sin + tableBase, firstKey, seqLen);
      if (firstKey == 0)
        rotateTile<HD, kBlockRows, true>(qTile, rope.cos + tableBase,
                                         rope.sin + tableBase, firstQuery,
                                         seqLen);
      barrier(); // rotated
    }
    if (firstKey == 0)
      loadRowFragments<HD>(qFragment, qTile, at.warp, at.lane);

// kColumns keys at a time: each part is a step of the online softmax.
#pragma unroll 1
    for (int part = 0; part < kBlockKeys; part += kColumns) {
      float s[kColumns / 8][4];
      rowsTimesTileT<HD, kColumns>(s, qFragment, kTile + part * (HD + 8),
                                   at.lane);
      // Scale, causal mask, online softmax.
      float tileMax[2] = {-__builtin_inff(), -__builtin_inff()};
#pragma unroll
      for (int n = 0; n < kColumns / 8; ++n)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          int query = firstQuery + at.warp * 16 + at.group + 8 * (i / 2);
          int key = firstKey + part + n * 8 + 2 * at.inGroup + i % 2;
          s[n][i] = key <= query && key < seqLen ? s[n][i] * at.scale
                                                 : -__builtin_inff();
          tileMax[i / 2] = __builtin_fmaxf(tileMax[i / 2], s[n][i]);
        }
      float rescale[2], base[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float newMax = __builtin_fmaxf(rowMax[r], quadReduce(tileMax[r], true));
        // A row with no visible key yet (padding rows) stays at zero.
        base[r] = newMax == -__builtin_inff() ? 0.0f : newMax;
        rescale[r] = exp2Approx(rowMax[r] - base[r]);
        rowMax[r] = newMax;
        rowSum[r] *= rescale[r];
      }
#pragma unroll
      for (int d = 0; d < HD / 8; ++d)
#pragma unroll
        for (int i = 0; i < 4; ++i)
          out[d][i] *= rescale[i / 2];
#pragma unroll
      for (int n = 0; n < kColumns / 8; ++n)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          s[n][i] = exp2Approx(s[n][i] - base[i / 2]);
          rowSum[i / 2] += s[n][i];
        }
      accumulateTimesTile<HD, kColumns>(out, s, vTile + part * (HD + 8),
                                        at.lane);
    }
    barrier(); // this tile's buffers are free for the one after next
  }

  float inverse[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float total = quadReduce(rowSum[r], false);
    inverse[r] = 1.0f / total;
    int query = firstQuery + at.warp * 16 + at.group + 8 * r;
    if (lse && at.inGroup == 0 && query < seqLen)
      lse[((long)at.sample * heads + at.head) * seqLen + query] =
          (rowMax[r] + __nvvm_lg2_approx_f(total)) * 0.6931471805599453f;
  }
  storeRows<HD>(o + (long)at.sample * seqLen * oStride + at.head * HD, oStride,
                firstQuery, seqLen, at, out, inverse);
}

/// The backward's two score-shaped products over N columns: first =
/// (own rows of firstRows) * firstPart^T and second = (own rows of
/// secondRows) * secondPart^T. The warp's own fragments are reloaded from
/// shared memory each time: held in registers beside the accumulators
/// they spill.
template <int HD, int N>
GROWC_DEVICE void twoProducts(float (&first)[N / 8][4], const u16 *firstRows,
                              const u16 *firstPart, float (&second)[N / 8][4],
                              const u16 *secondRows, const u16 *secondPart,
                              const Place &at) {
  u32 fragment[HD / 16][4];
  loadRowFragments<HD>(fragment, firstRows, at.warp, at.lane);
  rowsTimesTileT<HD, N>(first, fragment, firstPart, at.lane);
  loadRowFragments<HD>(fragment, secondRows, at.warp, at.lane);
  rowsTimesTileT<HD, N>(second, fragment, secondPart, at.lane);
}

//===----------------------------------------------------------------------===//
// The backward in two launches (FlashAttention-2's, with dQ by atomics),
// reading the forward's log-sum-exps (natural log, [B, H, T]):
//  - prep, per 64 query rows of one head (grid (ceil(T / 64), H, B)):
//    delta = rowsum(dO o O) [B, H, T] and zeros in the rows' dq columns;
//    where KV heads are shared (G = H / KVH > 1) the block of the first
//    query head of each KV group also zeroes its rows of dk and dv;
//  - main, per 64-key tile of one query head (grid (ceil(T / 64), H, B),
//    128 threads): over each 32-row query step at or after the key tile,
//    five products per step: S^T = K Q^T and dP^T = V dO^T (each warp its
//    16 keys), P = exp(S / sqrt(hd) - lse), dS = P o (dP - delta), dV +=
//    P^T dO, dK += dS^T Q, and, with dS through shared memory, dQ += dS K
//    added to dq atomically (red.global.add.v2.f32: each lane's two
//    adjacent columns at once; two scalar adds where dq is not 8-byte
//    aligned). At the end the head's dK and dV partials are added to dk
//    and dv the same way (the G blocks of a KV group's key tile share
//    those rows), or stored where G = 1.
// One block per query head rather than per KV head: with the G heads in
// one block, key tile 0's blocks took G * n steps each and bounded the
// launch (SmolLM-135M: 1.33x the balanced time on 264 block slots);
// split, the launch has G times as many blocks, each G times lighter.
// Work of a main block with key tile x (tiles of 64 keys, n = ceil(T / 64)
// of them): ceil((T - 64 x) / 32) query steps of 5 products of 64 keys x
// 32 queries x hd (2 * 64 * 32 * hd FLOPs each), i.e. about 2 (n - x)
// steps, plus the dk/dv adds. Key tile 0 is the heaviest (n times tile
// n - 1's work): blocks are dispatched x fastest, so block (x, y, z) takes
// the key tile of its linear index's rank, tile 0 for the first H * B
// blocks dispatched and so on (placeHeavyFirst). Greedy dispatch of work
// sorted largest first onto the SMs' block slots is LPT scheduling: the
// makespan is within 4/3 of the optimum (Graham), in practice within one
// light block's work of the mean.
// bf16 instances double-buffer the query steps' Q and dO tiles with
// cp.async (a step's copies are issued while the previous step computes);
// f32 ones convert on the way into shared memory, synchronously.
//===----------------------------------------------------------------------===//

/// Zeros in the block's 64 rows (from `first`, below `limit`) of HD
/// columns at `base` (rows of `stride` floats), 16 bytes a store with
/// `vectors`.
template <int HD>
GROWC_DEVICE void zeroRows(float *base, long stride, int first, int limit,
                           bool vectors) {
  for (int i = int(threadIndex()); i < kBlockRows * HD / 4; i += kThreads) {
    int row = first + i / (HD / 4), col = 4 * (i % (HD / 4));
    if (row >= limit)
      continue;
    float *out = base + (long)row * stride + col;
    if (vectors)
      *reinterpret_cast<float4v *>(out) = float4v{0.0f, 0.0f, 0.0f, 0.0f};
    else
      out[0] = out[1] = out[2] = out[3] = 0.0f;
  }
}

template <int HD, typename In>
GROWC_DEVICE void flashBackwardPrep(const In *o, const In *dout, float *delta,
                                    float *dq, float *dk, float *dv, int seqLen,
                                    int heads, int kvHeads) {
  const Place at = place<HD>();
  const int group = heads / kvHeads;
  const long qStride = (long)heads * HD, kvStride = (long)kvHeads * HD;
  const long rowBase = (long)at.sample * seqLen;
  const bool vectors = aligned16(o) && aligned16(dout) && aligned16(dq) &&
                       aligned16(dk) && aligned16(dv);
  // delta: HD / 4 adjacent lanes per row, 4 elements each (a warp's
  // request covers whole rows), summed across them by shuffles.
  constexpr int kLanes = HD / 4, kRowsPerPass = kThreads / kLanes;
  for (int first = 0; first < kBlockRows; first += kRowsPerPass) {
    int row = at.tile + first + int(threadIndex()) / kLanes;
    int col = 4 * (int(threadIndex()) % kLanes);
    float sum = 0.0f;
    if (row < seqLen) {
      const In *oRow = o + (rowBase + row) * qStride + at.head * HD + col;
      const In *dRow = dout + (rowBase + row) * qStride + at.head * HD + col;
      if (vectors) {
        float4v a = load4(oRow), b = load4(dRow);
        sum = a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
      } else {
        for (int e = 0; e < 4; ++e)
          sum += load(oRow + e) * load(dRow + e);
      }
    }
#pragma unroll
    for (int offset = 1; offset < kLanes; offset *= 2) {
      u32 other;
      asm volatile("shfl.sync.bfly.b32 %0, %1, %2, 31, -1;"
                   : "=r"(other)
                   : "r"(asBits(sum)), "r"(offset));
      sum += asFloat(other);
    }
    if (row < seqLen && col == 0)
      delta[((long)at.sample * heads + at.head) * seqLen + row] = sum;
  }
  // The main pass adds each key tile's dQ share into dq: zeros first.
  zeroRows<HD>(dq + rowBase * qStride + at.head * HD, qStride, at.tile, seqLen,
               vectors);
  // And each query head's dK and dV partials into dk and dv where KV heads
  // are shared: zeros once per KV head, by its group's first query head.
  if (group > 1 && at.head % group == 0) {
    const long kv = rowBase * kvStride + (at.head / group) * HD;
    zeroRows<HD>(dk + kv, kvStride, at.tile, seqLen, vectors);
    zeroRows<HD>(dv + kv, kvStride, at.tile, seqLen, vectors);
  }
}

/// `qStride`, `kvStride` and `kRope` as flashForward's: dq and dk stay
/// the gradients of the rotated q and k (the generated RoPE backward turns
/// them back).
template <int HD, bool kRope = false, typename In>
GROWC_DEVICE void flashBackward(const In *q, const In *k, const In *v,
                                const In *dout, const float *lse,
                                const float *delta, float *dq, float *dk,
                                float *dv, int seqLen, int heads, int kvHeads,
                                long qStride, long kvStride, RopeTables rope) {
  constexpr int kStride = HD + 8;
  // Query rows per step (16 at head size 128: flash::backwardStepRows).
  constexpr int kSteps = flash::backwardStepRows(HD);
  constexpr int kDsStride = kBlockKeys + 8;
  typedef u16 StepTile[kSteps * kStride];
  typedef float StepRows[kSteps];
  constexpr flash::BackwardShared kShared = flash::backwardShared(HD);
  u16 *kTile = sharedAt<u16>(kShared.key);
  u16 *vTile = sharedAt<u16>(kShared.value);
  StepTile *qTiles = sharedAt<StepTile>(kShared.queries);
  StepTile *dTiles = sharedAt<StepTile>(kShared.douts);
  // dS of the step, [query][key], for dQ += dS K.
  u16 *dsTile = sharedAt<u16>(kShared.ds);
  StepRows *lseTiles = sharedAt<StepRows>(kShared.lse);
  StepRows *deltaTiles = sharedAt<StepRows>(kShared.delta);
  const Place at = placeHeavyFirst<HD>(false); // head: the query head
  const int group = heads / kvHeads, head = at.head;
  // dout and dq, dk and dv have their heads' widths.
  const long dStride = (long)heads * HD, dkvStride = (long)kvHeads * HD;
  const long rowBase = (long)at.sample * seqLen;
  // The KV head's rows of k and v, and of dk and dv.
  const long kvBase = rowBase * kvStride + (head / group) * HD;
  const long dkvBase = rowBase * dkvStride + (head / group) * HD;
  const long tableBase = rowBase * (HD / 2);
  const int firstKey = at.tile;
  constexpr bool kBf16 = sizeof(In) == 2;
  const bool async = kBf16 && aligned16(q) && aligned16(k) && aligned16(v) &&
                     aligned16(dout) && qStride % 8 == 0 && kvStride % 8 == 0;
  // Query steps: those at or after the key tile (causal).
  const int steps = (seqLen - firstKey + kSteps - 1) / kSteps;

  // Starts step `step`'s tiles (Q, dO, the rows' lse in log2 units and
  // delta) into buffer `buffer`.
  auto start = [&](int step, int buffer) {
    int firstQuery = firstKey + step * kSteps;
    startTile<HD, kSteps>(qTiles[buffer], q + rowBase * qStride + head * HD,
                          qStride, firstQuery, seqLen, async);
    startTile<HD, kSteps>(dTiles[buffer], dout + rowBase * dStride + head * HD,
                          dStride, firstQuery, seqLen, async);
    int i = int(threadIndex()), row = firstQuery + i % kSteps;
    const long stats = ((long)at.sample * heads + head) * seqLen;
    if (i < kSteps)
      lseTiles[buffer][i] =
          row < seqLen ? lse[stats + row] * 1.4426950408889634f : 0.0f;
    else if (i < 2 * kSteps)
      deltaTiles[buffer][i % kSteps] = row < seqLen ? delta[stats + row] : 0.0f;
  };

  startTile<HD>(kTile, k + kvBase, kvStride, firstKey, seqLen, async);
  startTile<HD>(vTile, v + kvBase, kvStride, firstKey, seqLen, async);
  start(0, 0);
  if constexpr (kBf16)
    commitCopies(); // the first group: k, v and the first step
  float dKey[HD / 8][4] = {}, dValue[HD / 8][4] = {};
  const float scale = 1.0f / __nvvm_sqrt_rn_f(float(HD));

  for (int step = 0; step < steps; ++step) {
    const int buffer = step % 2;
    const int firstQuery = firstKey + step * kSteps;
    // The next step's tiles go to the other buffers, which the last
    // iteration's closing barrier freed.
    if (step + 1 < steps)
      start(step + 1, 1 - buffer);
    if constexpr (kBf16) {
      commitCopies(); // possibly empty: the last step has no successor
      waitAllButNewest();
    }
    barrier(); // this step's tiles are in place
    if constexpr (kRope) {
      if (step == 0)
        rotateTile<HD, kBlockKeys, false>(kTile, rope.cos + tableBase,
                                          rope.sin + tableBase, firstKey,
                                          seqLen);
      rotateTile<HD, kSteps, false>(qTiles[buffer], rope.cos + tableBase,
                                    rope.sin + tableBase, firstQuery, seqLen);
      barrier(); // rotated
    }
    const u16 *qTile = qTiles[buffer], *dTile = dTiles[buffer];
    const float *lseTile = lseTiles[buffer], *deltaTile = deltaTiles[buffer];

    // Transposed: the warp's 16 keys by the step's queries.
    float p[kSteps / 8][4], dS[kSteps / 8][4];
    twoProducts<HD, kSteps>(p, kTile, qTile, dS, vTile, dTile, at);
#pragma unroll
    for (int n = 0; n < kSteps / 8; ++n)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        int key = firstKey + at.warp * 16 + at.group + 8 * (i / 2);
        int column = n * 8 + 2 * at.inGroup + i % 2;
        int query = firstQuery + column;
        bool visible = key <= query && query < seqLen && key < seqLen;
        float prob =
            visible ? exp2Approx(p[n][i] * at.scale - lseTile[column]) : 0.0f;
        p[n][i] = prob;
        dS[n][i] = prob * (dS[n][i] - deltaTile[column]);
        dsTile[column * kDsStride + key - firstKey] =
            u16(packBf16(dS[n][i], 0.0f));
      }
    accumulateTimesTile<HD, kSteps>(dValue, p, dTile, at.lane);
    accumulateTimesTile<HD, kSteps>(dKey, dS, qTile, at.lane);
    barrier(); // dS is whole

    // dQ += dS K over the tile's 64 keys: with R = kSteps / 16 groups of
    // 16 rows, warp w the step's rows 16 (w % R) on, HD R / 4 head
    // dimensions from HD R / 4 * (w / R) on (32-row steps: halves, 16-row
    // steps: quarters).
    {
      constexpr int kRowGroups = kSteps / 16;
      constexpr int kWidth = HD * kRowGroups / 4; // columns per warp
      const int rows = 16 * (at.warp % kRowGroups);
      const int cols = kWidth * (at.warp / kRowGroups);
      float dQuery[kWidth / 8][4] = {};
#pragma unroll
      for (int kk = 0; kk < kBlockKeys / 16; ++kk) {
        u32 a[4];
        ldmatrixX4(a, dsTile +
                          (rows + at.lane % 8 + 8 * ((at.lane / 8) % 2)) *
                              kDsStride +
                          kk * 16 + 8 * (at.lane / 16));
#pragma unroll
        for (int d = 0; d < kWidth / 8; ++d) {
          u32 b[2];
          ldmatrixX2Trans(b, kTile + (kk * 16 + at.lane % 16) * kStride + cols +
                                 d * 8);
          mma(dQuery[d], a, b);
        }
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        int query = firstQuery + rows + at.group + 8 * r;
        if (query >= seqLen)
          continue;
        float *out = dq + (rowBase + query) * dStride + head * HD + cols +
                     2 * at.inGroup;
#pragma unroll
        for (int d = 0; d < kWidth / 8; ++d)
          atomicAddPair(out + d * 8, dQuery[d][2 * r] * scale,
                        dQuery[d][2 * r + 1] * scale);
      }
    }
    barrier(); // this step's buffers and dS are free
  }
  const float one[2] = {1.0f, 1.0f};
  const float scaled[2] = {scale, scale};
  if (group == 1) {
    storeRows<HD>(dv + dkvBase, dkvStride, firstKey, seqLen, at, dValue, one);
    storeRows<HD>(dk + dkvBase, dkvStride, firstKey, seqLen, at, dKey, scaled);
    return;
  }
  // The G query heads' blocks of this key tile share the rows: add.
  addRows<HD>(dv + dkvBase, dkvStride, firstKey, seqLen, at, dValue, 1.0f);
  addRows<HD>(dk + dkvBase, dkvStride, firstKey, seqLen, at, dKey, scale);
}

} // namespace

// The instances growc uses (their names are
// include/growc/Codegen/FlashAttentionKernels.h's): head dimensions 16,
// 32, 64 and 128, f32 or bf16 activations in, f32 or bf16 out. Grid
// (ceil(T / 64), H, B), 128 threads, flash::sharedBytes of dynamic shared
// memory (above 48 KiB at head size 128: the launch opts in).
#define GROWC_FLASH_FORWARD(HD, IN, OUT, NAME)                                 \
  extern "C" __attribute__((global)) __attribute__((launch_bounds(128))) void  \
  NAME(const IN *q, const IN *k, const IN *v, OUT *o, float *lse, int seqLen,  \
       int heads, int kvHeads) {                                               \
    flashForward<HD>(q, k, v, o, lse, seqLen, heads, kvHeads,                  \
                     (long)heads * HD, (long)kvHeads * HD, RopeTables{});      \
  }
#define GROWC_FLASH_FORWARDS(HD)                                               \
  GROWC_FLASH_FORWARD(HD, float, float, growc_flash_forward_hd##HD##_f32_f32)  \
  GROWC_FLASH_FORWARD(HD, u16, u16, growc_flash_forward_hd##HD##_bf16_bf16)    \
  GROWC_FLASH_FORWARD(HD, u16, float, growc_flash_forward_hd##HD##_bf16_f32)

GROWC_FLASH_FORWARDS(16)
GROWC_FLASH_FORWARDS(32)
GROWC_FLASH_FORWARDS(64)
GROWC_FLASH_FORWARDS(128)

// The backward in two launches (the prep pass and the main pass each over
// (ceil(T / 64), H, B), 128 threads); q, k, v, o and dout f32 or bf16 (IN,
// named DT), lse and delta [B, H, T] f32, dq, dk and dv f32 (the prep
// pass zeroes dq, and dk and dv where KVH < H, for the main pass's adds).
#define GROWC_FLASH_BACKWARD(HD, IN, DT)                                       \
  extern "C" __attribute__((global)) __attribute__((launch_bounds(128))) void  \
      growc_flash_backward_prep_hd##HD##_##DT(                                 \
          const IN *o, const IN *dout, float *delta, float *dq, float *dk,     \
          float *dv, int seqLen, int heads, int kvHeads, int batch) {          \
    flashBackwardPrep<HD>(o, dout, delta, dq, dk, dv, seqLen, heads, kvHeads); \
  }                                                                            \
  extern "C" __attribute__((global))                                           \
  __attribute__((launch_bounds(128))) void growc_flash_backward_hd##HD##_##DT( \
      const IN *q, const IN *k, const IN *v, const IN *dout, const float *lse, \
      const float *delta, float *dq, float *dk, float *dv, int seqLen,         \
      int heads, int kvHeads, int batch) {                                     \
    flashBackward<HD>(q, k, v, dout, lse, delta, dq, dk, dv, seqLen, heads,    \
                      kvHeads, (long)heads * HD, (long)kvHeads * HD,           \
                      RopeTables{});                                           \
  }

GROWC_FLASH_BACKWARD(16, float, f32)
GROWC_FLASH_BACKWARD(32, float, f32)
GROWC_FLASH_BACKWARD(64, float, f32)
GROWC_FLASH_BACKWARD(128, float, f32)
GROWC_FLASH_BACKWARD(16, u16, bf16)
GROWC_FLASH_BACKWARD(32, u16, bf16)
GROWC_FLASH_BACKWARD(64, u16, bf16)
GROWC_FLASH_BACKWARD(128, u16, bf16)

// RoPE on load (growc-attention-to-tensor-cores' fused form): q, k and v
// bf16 column blocks of the QKV projection's output, rows of `rowStride`
// elements, read unrotated; the forward and the backward's main pass
// rotate q and k tiles in shared memory as they land (rotateTile), with
// the tables cos and sin f32 [B * T, HD / 2]. The backward's prep pass
// (which reads neither q nor k) is growc_flash_backward_prep_hd<HD>_bf16;
// dq and dk are the gradients of the rotated q and k.
#define GROWC_FLASH_ROPE(HD)                                                   \
  GROWC_FLASH_FORWARD_ROPE(HD, u16,                                            \
                           growc_flash_forward_rope_hd##HD##_bf16_bf16)        \
  GROWC_FLASH_FORWARD_ROPE(HD, float,                                          \
                           growc_flash_forward_rope_hd##HD##_bf16_f32)         \
  extern "C" __attribute__((global))                                           \
  __attribute__((launch_bounds(128))) void                                     \
      growc_flash_backward_rope_hd##HD##_bf16(                                 \
          const u16 *q, const u16 *k, const u16 *v, const u16 *dout,           \
          const float *lse, const float *delta, float *dq, float *dk,          \
          float *dv, const float *cos, const float *sin, int seqLen,           \
          int heads, int kvHeads, int batch, int rowStride) {                  \
    flashBackward<HD, true>(q, k, v, dout, lse, delta, dq, dk, dv, seqLen,     \
                            heads, kvHeads, rowStride, rowStride,              \
                            RopeTables{cos, sin});                             \
  }
#define GROWC_FLASH_FORWARD_ROPE(HD, OUT, NAME)                                \
  extern "C" __attribute__((global)) __attribute__((launch_bounds(128))) void  \
  NAME(const u16 *q, const u16 *k, const u16 *v, OUT *o, float *lse,           \
       const float *cos, const float *sin, int seqLen, int heads, int kvHeads, \
       int rowStride) {                                                        \
    flashForward<HD, true>(q, k, v, o, lse, seqLen, heads, kvHeads, rowStride, \
                           rowStride, RopeTables{cos, sin});                   \
  }

GROWC_FLASH_ROPE(16)
GROWC_FLASH_ROPE(32)
GROWC_FLASH_ROPE(64)
GROWC_FLASH_ROPE(128)
