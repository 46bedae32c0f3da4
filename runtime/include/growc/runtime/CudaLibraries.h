//===- CudaLibraries.h - libcuda, cuBLASLt and NCCL through dlopen -*- C++
//-*-===//
//
// The runtime never links a CUDA library: it opens them at run time, so the
// same growc-run binary builds and runs its CPU path on machines with no
// GPU, no driver and no CUDA toolkit (DESIGN.md "Runtime independence").
// Each table below is the set of entry points the GPU executor uses, typed
// from the toolkit's own headers (decltype of the declarations, so the
// signatures cannot drift) and resolved by their ABI names (cuda.h maps
// cuMemAlloc to cuMemAlloc_v2 and so on; the names are taken after that
// macro expansion).
//
// Only compiled where the CUDA headers were found at configure time
// (GROWC_HAVE_CUDA_HEADERS); headers are types and constants only.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_CUDALIBRARIES_H
#define GROWC_RUNTIME_CUDALIBRARIES_H

#include "growc/runtime/Status.h"

#include <cublasLt.h>
#include <cuda.h>
#include <nccl.h>

#include <memory>
#include <string>

namespace growc::rt::cuda {

/// A dlopen handle, closed with the table that owns it.
class Library {
public:
  static StatusOr<std::shared_ptr<Library>> open(const std::string &name,
                                                 const std::string &what);
  ~Library();
  /// The symbol, or an error naming it and the library.
  StatusOr<void *> symbol(const char *name) const;
  const std::string &name() const { return name_; }

private:
  Library(void *handle, std::string name)
      : handle_(handle), name_(std::move(name)) {}
  void *handle_;
  std::string name_;
};

/// The library to open for `what`: `configured` if given, else the
/// environment variable `variable` (GROWC_LIBCUDA, GROWC_LIBCUBLASLT,
/// GROWC_LIBNCCL: a path, for libraries outside the loader's search path),
/// else "" (the default sonames).
std::string libraryPath(const std::string &configured, const char *variable);

/// The CUDA driver API (libcuda.so.1, installed with the NVIDIA driver).
struct Driver {
  std::shared_ptr<Library> library;
#define GROWC_CUDA_DRIVER_FUNCTIONS(X)                                         \
  X(cuInit)                                                                    \
  X(cuDriverGetVersion)                                                        \
  X(cuGetErrorName)                                                            \
  X(cuGetErrorString)                                                          \
  X(cuDeviceGetCount)                                                          \
  X(cuDeviceGet)                                                               \
  X(cuDeviceGetName)                                                           \
  X(cuDeviceGetAttribute)                                                      \
  X(cuDevicePrimaryCtxRetain)                                                  \
  X(cuDevicePrimaryCtxRelease)                                                 \
  X(cuCtxSetCurrent)                                                           \
  X(cuModuleLoadDataEx)                                                        \
  X(cuModuleUnload)                                                            \
  X(cuModuleGetFunction)                                                       \
  X(cuFuncGetAttribute)                                                        \
  X(cuFuncSetAttribute)                                                        \
  X(cuMemAlloc)                                                                \
  X(cuMemFree)                                                                 \
  X(cuMemcpyHtoD)                                                              \
  X(cuMemcpyDtoH)                                                              \
  X(cuMemcpyHtoDAsync)                                                         \
  X(cuMemcpyDtoHAsync)                                                         \
  X(cuMemcpyDtoDAsync)                                                         \
  X(cuMemsetD8Async)                                                           \
  X(cuStreamCreate)                                                            \
  X(cuStreamDestroy)                                                           \
  X(cuStreamSynchronize)                                                       \
  X(cuStreamWaitEvent)                                                         \
  X(cuStreamBeginCapture)                                                      \
  X(cuStreamEndCapture)                                                        \
  X(cuGraphInstantiate)                                                        \
  X(cuGraphLaunch)                                                             \
  X(cuGraphDestroy)                                                            \
  X(cuGraphExecDestroy)                                                        \
  X(cuLaunchKernel)                                                            \
  X(cuEventCreate)                                                             \
  X(cuEventRecord)                                                             \
  X(cuEventSynchronize)                                                        \
  X(cuEventElapsedTime)                                                        \
  X(cuEventDestroy)
#define GROWC_DECLARE(name) decltype(&::name) name = nullptr;
  GROWC_CUDA_DRIVER_FUNCTIONS(GROWC_DECLARE)

  /// Opens `path` (default: the driver's soname) and resolves every entry
  /// point; does not call cuInit.
  static StatusOr<std::shared_ptr<Driver>>
  load(const std::string &path = "libcuda.so.1");
  /// "cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY (out of memory)" for a failed
  /// call, ok for CUDA_SUCCESS.
  Status check(CUresult result, const char *call) const;
};

/// cuBLASLt (libcublasLt.so, from the CUDA toolkit).
struct BlasLt {
  std::shared_ptr<Library> library;
#define GROWC_CUBLASLT_FUNCTIONS(X)                                            \
  X(cublasLtCreate)                                                            \
  X(cublasLtDestroy)                                                           \
  X(cublasLtGetStatusString)                                                   \
  X(cublasLtMatmulDescCreate)                                                  \
  X(cublasLtMatmulDescDestroy)                                                 \
  X(cublasLtMatmulDescSetAttribute)                                            \
  X(cublasLtMatrixLayoutCreate)                                                \
  X(cublasLtMatrixLayoutDestroy)                                               \
  X(cublasLtMatmulPreferenceCreate)                                            \
  X(cublasLtMatmulPreferenceDestroy)                                           \
  X(cublasLtMatmulPreferenceSetAttribute)                                      \
  X(cublasLtMatmulAlgoGetHeuristic)                                            \
  X(cublasLtMatmul)
  GROWC_CUBLASLT_FUNCTIONS(GROWC_DECLARE)

  /// Tries `path`, else the toolkit's sonames (libcublasLt.so.13, .so).
  static StatusOr<std::shared_ptr<BlasLt>> load(const std::string &path = "");
  Status check(cublasStatus_t status, const char *call) const;
};

/// NCCL (libnccl.so.2), for data-parallel runs.
struct Nccl {
  std::shared_ptr<Library> library;
#define GROWC_NCCL_FUNCTIONS(X)                                                \
  X(ncclGetVersion)                                                            \
  X(ncclGetErrorString)                                                        \
  X(ncclGetUniqueId)                                                           \
  X(ncclCommInitRank)                                                          \
  X(ncclCommDestroy)                                                           \
  X(ncclCommAbort)                                                             \
  X(ncclAllReduce)                                                             \
  X(ncclGroupStart)                                                            \
  X(ncclGroupEnd)
  GROWC_NCCL_FUNCTIONS(GROWC_DECLARE)
#undef GROWC_DECLARE

  static StatusOr<std::shared_ptr<Nccl>>
  load(const std::string &path = "libnccl.so.2");
  Status check(ncclResult_t result, const char *call) const;
};

} // namespace growc::rt::cuda

#endif // GROWC_RUNTIME_CUDALIBRARIES_H
