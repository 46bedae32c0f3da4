//===- GemmTuning.h - Choosing cuBLASLt algorithms per GEMM -----*- C++ -*-===//
//
// The CUDA executor's GEMMs run the cuBLASLt algorithm that was fastest on
// the device for their shape: the heuristic's first candidates are timed on
// the real operands, and the winner is cached on disk per device and shape
// (algorithmCachePath), so that only the first run of a shape on a machine
// pays for the timing. growc-run --profile uses the same timing to put each
// GEMM against the fastest candidate for its shape. CudaExecutor.cpp keeps
// the execution; this is the choosing.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_GEMMTUNING_H
#define GROWC_RUNTIME_GEMMTUNING_H

#include "growc/runtime/CudaLibraries.h"
#include "growc/runtime/Status.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace growc::rt {

/// cuBLASLt workspace for every GEMM (NVIDIA recommends 32 MiB on Hopper).
inline constexpr size_t kGemmWorkspaceBytes = size_t(32) << 20;

/// Where cuBLASLt algorithm choices are cached: $GROWC_CACHE_DIR, else
/// $XDG_CACHE_HOME/growc, else $HOME/.cache/growc; file
/// cublaslt-algorithms.txt.
std::string algorithmCachePath();

/// One GEMM as cuBLASLt runs it: D = C = alpha · A · B + beta · C with the
/// descriptor and layouts made by the executor, on device operands.
struct GemmCall {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  CUdeviceptr aPtr = 0, bPtr = 0, cPtr = 0;
  float beta = 0;
  /// The alignment (a power of two, at most 256) of A, B and C/D: the
  /// heuristic assumes 256 unless told, and an algorithm that needs more
  /// than an operand has may fault.
  uint32_t alignment[3] = {256, 256, 256};
  /// Shape, transposes, beta, element types and alignments, for messages
  /// and the cache.
  std::string key;
};

/// What GEMMs are timed with: the libraries, a handle, the stream and the
/// workspace (kGemmWorkspaceBytes) of an executor.
struct GemmDevice {
  cuda::Driver *cu = nullptr;
  cuda::BlasLt *lt = nullptr;
  cublasLtHandle_t handle = nullptr;
  CUstream stream = nullptr;
  CUdeviceptr workspace = 0;
};

struct TimedAlgorithm {
  cublasLtMatmulAlgo_t algo;
  double ms;
};

/// The heuristic's first `count` candidates for `call`, each timed on its
/// operands (mean of 5 calls); those that cannot run the shape are left
/// out, and none running is an error. What the timing writes to C does not
/// matter to the executor: its steps recompute every buffer afterwards.
StatusOr<std::vector<TimedAlgorithm>>
timeGemmCandidates(const GemmDevice &device, const GemmCall &call, int count);

/// The fastest of `count` candidates for `call`.
StatusOr<cublasLtMatmulAlgo_t> tuneGemm(const GemmDevice &device,
                                        const GemmCall &call, int count);

/// The on-disk cache of chosen algorithms: one line
/// "<device name>|<GemmCall::key> <algorithm as hex>" per GEMM.
class GemmAlgorithmCache {
public:
  /// The cache at `path` (empty if it does not exist or cannot be read).
  explicit GemmAlgorithmCache(std::string path = algorithmCachePath());

  bool find(const std::string &deviceName, const std::string &key,
            cublasLtMatmulAlgo_t &algo) const;
  void insert(const std::string &deviceName, const std::string &key,
              const cublasLtMatmulAlgo_t &algo);
  /// Writes the cache back if anything was inserted: best effort (a
  /// read-only home must not fail a run), atomically.
  void save() const;

private:
  std::string path;
  std::map<std::string, std::string> entries;
  bool changed = false;
};

} // namespace growc::rt

#endif // GROWC_RUNTIME_GEMMTUNING_H
