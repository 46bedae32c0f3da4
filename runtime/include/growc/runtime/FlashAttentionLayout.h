//===- FlashAttentionLayout.h - The library attention's block shapes -----===//
//
// What the launches of the kernel library's attention (lib/Codegen/
// Kernels/FlashAttention.cu) depend on: rows and keys per tile, threads
// per block, and the dynamic shared memory each kernel carves its tiles
// from. One definition for the kernels, the runtime that launches them
// (CudaExecutor: sharedMemBytes, and the opt-in above 48 KiB that head
// size 128 needs) and the cost model, which derives resident blocks per
// SM from the bytes. Plain constexpr C++ with no includes: clang's CUDA
// device mode compiles the kernels without a standard library.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_FLASHATTENTIONLAYOUT_H
#define GROWC_RUNTIME_FLASHATTENTIONLAYOUT_H

namespace growc::flash {

/// Query rows of a forward block (16 per warp), keys per tile, threads
/// per block (four warps) of every pass.
constexpr int kBlockRows = 64;
constexpr int kBlockKeys = 64;
constexpr int kThreads = 128;

/// bf16 elements per row of a shared tile: 8 more than the head size, so
/// that ldmatrix's eight rows hit distinct banks.
constexpr int tileStride(int headDim) { return headDim + 8; }

/// Query rows per step of the backward's main pass. 32, and 16 at head
/// size 128: there each thread holds its warp's 16 keys' dK and dV (128
/// f32 accumulators) beside the step's P and dS, and with 32-row steps
/// ptxas spills 264 bytes per thread at 255 registers; 16-row steps spill
/// 8 (bf16) or 36 bytes (f32).
constexpr int backwardStepRows(int headDim) { return headDim >= 128 ? 16 : 32; }

/// Byte offsets of the forward's tiles in its dynamic shared memory: the
/// block's query tile, then two key tiles and two value tiles (double-
/// buffered), all bf16; `bytes` in all.
struct ForwardShared {
  long long queries, keys, values, bytes;
};
constexpr ForwardShared forwardShared(int headDim) {
  const long long tile = 2LL * kBlockKeys * tileStride(headDim);
  const long long queries = 2LL * kBlockRows * tileStride(headDim);
  return {0, queries, queries + 2 * tile, queries + 4 * tile};
}

/// The backward main pass's: the key tile and the value tile, two query
/// and two dO tiles of a step's rows (double-buffered), dS of a step
/// ([query][key], row stride kBlockKeys + 8 bf16), then two steps' lse
/// and delta (f32).
struct BackwardShared {
  long long key, value, queries, douts, ds, lse, delta, bytes;
};
constexpr BackwardShared backwardShared(int headDim) {
  const long long rows = backwardStepRows(headDim);
  const long long keyTile = 2LL * kBlockKeys * tileStride(headDim);
  const long long stepTile = 2 * rows * tileStride(headDim);
  const long long ds = 2 * rows * (kBlockKeys + 8);
  BackwardShared at{};
  at.key = 0;
  at.value = keyTile;
  at.queries = 2 * keyTile;
  at.douts = at.queries + 2 * stepTile;
  at.ds = at.douts + 2 * stepTile;
  at.lse = at.ds + ds;
  at.delta = at.lse + 4 * 2 * rows;
  at.bytes = at.delta + 4 * 2 * rows;
  return at;
}

/// The library's attention launches: the forward, and the backward's two
/// passes.
enum class Pass { Forward, BackwardPrep, BackwardMain };

/// Dynamic shared bytes per block of `pass` at `headDim` (the prep pass
/// has no tiles).
constexpr long long sharedBytes(Pass pass, int headDim) {
  return pass == Pass::Forward        ? forwardShared(headDim).bytes
         : pass == Pass::BackwardMain ? backwardShared(headDim).bytes
                                      : 0;
}

} // namespace growc::flash

#endif // GROWC_RUNTIME_FLASHATTENTIONLAYOUT_H
