//===- Limits.h - the largest sizes a growc artifact can have ---*- C++ -*-===//
//
// The bounds on what a model and a compile command may ask of the runtime,
// in one place. The compiler checks a model's config against them when it
// is imported or parsed (the #grow.config verifier) and a compile command
// before lowering (growc), naming the limit, so that a size that cannot run
// is an error at compile time instead of an artifact the runtime rejects or
// cannot allocate. The runtime's plan verifier enforces the same values on
// the fields they bound (noted per constant). docs/usage.md#limits lists
// them for users. Header-only and dependency-free: both sides include it.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_LIMITS_H
#define GROWC_RUNTIME_LIMITS_H

#include <cstdint>

namespace growc::rt::limits {

/// Token ids are int32 (a grow.model takes tensor<?x?xi32>, token files
/// hold int32), so a vocabulary has at most 2^31 - 1 entries.
inline constexpr int64_t kMaxVocab = INT32_MAX;

/// GEMM dimensions m, n, k: the BLAS and cuBLAS interfaces take int. Bounds
/// hidden, ffn, heads x head_dim, vocab and batch x seq (the rows of every
/// token-wise GEMM). The plan verifier's gemm m/n/k bound.
inline constexpr int64_t kMaxGemmDim = INT32_MAX;

/// The sequence length an attention step accepts (the plan verifier's
/// attention seq_len bound).
inline constexpr int64_t kMaxSeq = int64_t(1) << 24;

/// Micro-batches per training step (--accumulate; the plan verifier's
/// micro_batches bound).
inline constexpr int64_t kMaxMicroBatches = int64_t(1) << 20;

/// The arena, every buffer of a plan in one allocation: 2^47 bytes (128
/// TiB) is the whole user address space of x86-64 Linux, so the CPU
/// executor's single mapping can never be larger (and no GPU comes near).
inline constexpr int64_t kMaxArenaBytes = int64_t(1) << 47;

/// Layers of a model growc builds or grows. A compiler bound: the IR of
/// 2^16 layers is about a million operations (seconds and a few GB to
/// build); the runtime's growth plans accept up to 2^20 layers.
inline constexpr int64_t kMaxLayers = int64_t(1) << 16;

} // namespace growc::rt::limits

#endif // GROWC_RUNTIME_LIMITS_H
