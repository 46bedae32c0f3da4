//===- FakeCuda.cpp - A host-memory CUDA driver and cuBLASLt for tests ----===//
//
// A test double of the two libraries the CUDA executor opens (test
// infrastructure, not a product): the driver-API entry points and the
// cuBLASLt ones of CudaLibraries.h, exported under their ABI names, doing
// the work in host memory on the calling thread. It lets CudaExecutorTest
// run the executor's host logic on a machine without a GPU: device memory
// and copies, the steps in order, stream capture into CUDA graphs and
// their replay, the commits of a training step, readParams, migrations,
// profiling events and the algorithm cache.
//
// - Device pointers are host pointers; fresh allocations hold NaNs (all
//   bits set), as CUDA's hold what was there. Every stream runs its work at
//   once, unless it is capturing: then the work is recorded, and a graph launch
//   runs the recording. A stream that waits for an event recorded during a
//   capture joins that capture (CUDA's fork into a second stream).
// - Kernels: a module whose image is PTX with entry points is parsed and
//   its kernels run by the PTX interpreter (PtxInterpreter.h): real
//   growc artifacts run end to end, every access checked against the
//   allocations, and a fault is sticky, as CUDA_ERROR_ILLEGAL_ADDRESS is:
//   the next synchronising call returns it (the details go to stderr).
//   PTX the interpreter cannot run fails to load, with the reason in the
//   JIT error log. An image without entry points (the executor tests'
//   toy plans) gets the toy kernels by name (ToyModel.h,
//   CudaExecutorTest), run on the host with the launch's parameters.
// - growcFakeEnqueue lets a test's collective put its reduction on a
//   stream, as NCCL does.
// - Memory behaviour (docs/gpu.md, "Memory behaviour on the emulated
//   GPU"): with GROWC_FAKE_CUDA_PROFILE=<file> in the environment, the
//   interpreter counts each kernel's global bytes, access widths, sectors
//   per request and shared-memory wavefronts (ptx::MemoryStats) per entry
//   point, summed over launches, and the report is written to the file as
//   JSON at exit (atomically: a temporary file renamed). growc-run
//   --profile reads the same report in-process through two extension
//   entry points, found with dlsym: growcFakeCudaProfileMemory(1) starts
//   counting from zero (0 stops it), growcFakeCudaMemoryProfile() returns
//   the report so far. A real driver has neither. Counting slows the
//   interpreter, so nothing is counted otherwise.
// - NCCL: ranks in separate processes (each with this library) meet on a
//   Unix socket named in the unique id; an all-reduce sends every rank's
//   floats to rank 0, which reduces them in rank order and sends the
//   result back, as work on the calling stream.
// - The device count is GROWC_FAKE_CUDA_DEVICES (default 1), so that a
//   data-parallel test can give each rank a device.
// - cuBLASLt's algorithms need the operand alignment the preference asked
//   for (256 bytes by default), which cublasLtMatmul checks.
// - cublasLtMatmul computes D = alpha·op(A)·op(B) + beta·C in cuBLASLt's
//   column-major convention from the matrix layouts (rows, columns,
//   leading dimension) and the descriptor's TRANSA/TRANSB, fp32 or bf16
//   elements, fp32 accumulation: the documented semantics, written
//   independently of the executor's row-major mapping that it checks.
//
//===----------------------------------------------------------------------===//

#include <cublasLt.h>
#include <cuda.h>
#include <nccl.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "PtxInterpreter.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#define FAKE_EXPORT __attribute__((visibility("default")))

struct CUctx_st {};
struct CUmod_st {
  /// The parsed PTX; null for an image without entry points.
  std::unique_ptr<growc::ptx::Module> ptx;
};
struct CUfunc_st {
  std::string name;
  const growc::ptx::Module *module = nullptr;
  const growc::ptx::Kernel *kernel = nullptr;
  /// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: what a launch may ask
  /// for beyond the 48 KiB every kernel has.
  int maxDynamicShared = 48 * 1024;
};
struct CUstream_st {
  bool capturing = false;
  std::vector<std::function<void()>> recording;
  /// A stream that joined this one's capture by waiting for an event
  /// recorded in it (as CUDA's cross-stream capture does) records here.
  CUstream_st *joined = nullptr;
  std::vector<CUstream_st *> joiners;
};
struct CUevent_st {
  uint64_t tick = 0;
  /// The capturing stream it was last recorded in, if any.
  CUstream_st *capture = nullptr;
};
struct CUgraph_st {
  std::vector<std::function<void()>> work;
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> work;
};

namespace {

/// Shared memory a block may have, static and dynamic together, once its
/// kernel opts in (an H100's 227 KiB).
constexpr int kMaxSharedPerBlock = 227 * 1024;
CUctx_st theContext;
/// The live device allocations, base -> bytes, for checking accesses.
std::map<uint64_t, uint64_t> allocations;
/// A kernel's fault, returned by every synchronising call from then on.
CUresult stickyError = CUDA_SUCCESS;

/// What the kernels' memory accesses did, per entry point, while counting
/// is on: from the start where GROWC_FAKE_CUDA_PROFILE names a file, which
/// gets the report at exit, or from growcFakeCudaProfileMemory(1).
struct MemoryProfile {
  bool on = false;
  std::string path;
  std::map<std::string, growc::ptx::MemoryStats> kernels;
  /// The last report growcFakeCudaMemoryProfile returned.
  std::string report;

  MemoryProfile() {
    if (const char *file = std::getenv("GROWC_FAKE_CUDA_PROFILE");
        file && *file) {
      path = file;
      on = true;
    }
  }
  ~MemoryProfile() {
    if (path.empty())
      return;
    std::string text = json(),
                temporary = path + ".tmp" + std::to_string(::getpid());
    std::FILE *file = std::fopen(temporary.c_str(), "w");
    bool written =
        file && std::fwrite(text.data(), 1, text.size(), file) == text.size() &&
        std::fclose(file) == 0;
    if (!written || std::rename(temporary.c_str(), path.c_str()) != 0)
      std::fprintf(stderr,
                   "fake driver: cannot write the memory profile %s "
                   "(GROWC_FAKE_CUDA_PROFILE)\n",
                   path.c_str());
  }

  /// {"emulated": true, "kernels": [{"name": ..., "launches": ..., ...}]}:
  /// every MemoryStats field, in snake case.
  std::string json() const {
    std::ostringstream out;
    out << "{\"emulated\": true, \"kernels\": [";
    const char *separator = "\n  ";
    for (const auto &[name, s] : kernels) {
      out << separator << "{\"name\": \"";
      for (char c : name)
        out << (c == '"' || c == '\\' ? "\\" : "") << c;
      out << "\", \"launches\": " << s.launches
          << ", \"load_bytes\": " << s.loadBytes
          << ", \"store_bytes\": " << s.storeBytes
          << ", \"bytes_64\": " << s.bytes64
          << ", \"bytes_128\": " << s.bytes128
          << ", \"requests\": " << s.requests << ", \"sectors\": " << s.sectors
          << ", \"ideal_sectors\": " << s.idealSectors
          << ", \"shared_requests\": " << s.sharedRequests
          << ", \"shared_bytes\": " << s.sharedBytes
          << ", \"wavefronts\": " << s.wavefronts
          << ", \"ideal_wavefronts\": " << s.idealWavefronts << "}";
      separator = ",\n  ";
    }
    out << "\n]}\n";
    return out.str();
  }
};
MemoryProfile memoryProfile;

/// The allocation that holds `address`.
bool findAllocation(uint64_t address, uint64_t &base, uint64_t &size) {
  auto it = allocations.upper_bound(address);
  if (it == allocations.begin())
    return false;
  --it;
  if (address >= it->first + it->second)
    return false;
  base = it->first;
  size = it->second;
  return true;
}

bool isAllocated(uint64_t address, uint64_t bytes) {
  uint64_t base, size;
  return findAllocation(address, base, size) && address + bytes <= base + size;
}
/// Advances with every piece of work, so events measure "time".
uint64_t ticks = 0;

/// Runs `work` on `stream`, or records it while the stream captures.
void enqueue(CUstream stream, std::function<void()> work) {
  if (stream && stream->joined) {
    stream->joined->recording.push_back(std::move(work));
    return;
  }
  if (stream && stream->capturing) {
    stream->recording.push_back(std::move(work));
    return;
  }
  ++ticks;
  work();
}

float *f32(CUdeviceptr p) { return reinterpret_cast<float *>(p); }

// The executor tests' kernels, by name; `p` are the launch's parameters.
void runKernel(const std::string &name, const std::vector<CUdeviceptr> &p) {
  if (name == "embed") {
    // ToyModel.h, launch params [0, 2, 1]: tokens, out, table.
    const auto *tokens = reinterpret_cast<const int32_t *>(p[0]);
    for (int i = 0; i < 6; ++i)
      for (int d = 0; d < 4; ++d)
        f32(p[1])[i * 4 + d] = f32(p[2])[tokens[i] * 4 + d];
  } else if (name == "add_one") {
    // Launch params [1, 0]: out, in.
    for (int i = 0; i < 30; ++i)
      f32(p[0])[i] = f32(p[1])[i] + 1.0f;
  } else if (name == "tokgrad") {
    // CudaExecutorFakeTest's data-parallel step: params tokens [6], g [1]:
    // g = the mean token, a "gradient" that differs between ranks.
    const auto *tokens = reinterpret_cast<const int32_t *>(p[0]);
    float sum = 0;
    for (int i = 0; i < 6; ++i)
      sum += float(tokens[i]);
    f32(p[1])[0] = sum / 6;
  } else if (name == "sgd_g") {
    // params w [20], lr [1], g [1], w_next [20], loss [1]:
    // loss = Σ w, w_next = w - lr·g.
    float sum = 0;
    for (int i = 0; i < 20; ++i) {
      sum += f32(p[0])[i];
      f32(p[3])[i] = f32(p[0])[i] - f32(p[1])[0] * f32(p[2])[0];
    }
    f32(p[4])[0] = sum;
  } else if (name == "sgd") {
    // CudaExecutorTest's toy training step: params w [20], lr [1],
    // w_next [20], loss [1]: loss = Σ w, w_next = w - lr.
    float sum = 0;
    for (int i = 0; i < 20; ++i) {
      sum += f32(p[0])[i];
      f32(p[2])[i] = f32(p[0])[i] - f32(p[1])[0];
    }
    f32(p[3])[0] = sum;
  } else {
    std::abort(); // cuModuleGetFunction only hands out the names above
  }
}

struct Layout {
  cudaDataType type;
  uint64_t rows, cols;
  int64_t ld;
};
struct Desc {
  cublasOperation_t transA = CUBLAS_OP_N, transB = CUBLAS_OP_N;
};
/// The minimum alignments (A, B, C, D) a preference asks algorithms for.
struct Preference {
  uint32_t alignment[4] = {256, 256, 256, 256};
};
static_assert(sizeof(Preference) <= sizeof(cublasLtMatmulPreferenceOpaque_t));
static_assert(sizeof(Layout) <= sizeof(cublasLtMatrixLayoutOpaque_t));
static_assert(sizeof(Desc) <= sizeof(cublasLtMatmulDescOpaque_t));

float load(const void *base, cudaDataType type, size_t index) {
  if (type == CUDA_R_32F)
    return static_cast<const float *>(base)[index];
  uint32_t bits = uint32_t(static_cast<const uint16_t *>(base)[index]) << 16;
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

void store(void *base, cudaDataType type, size_t index, float value) {
  if (type == CUDA_R_32F) {
    static_cast<float *>(base)[index] = value;
    return;
  }
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  bits += 0x7fff + ((bits >> 16) & 1); // round to nearest even
  static_cast<uint16_t *>(base)[index] = uint16_t(bits >> 16);
}

/// Element (i, j) of op(X) for X stored column-major as `layout`.
float element(const void *x, const Layout &layout, cublasOperation_t op,
              uint64_t i, uint64_t j) {
  if (op == CUBLAS_OP_T)
    std::swap(i, j);
  return load(x, layout.type, i + j * uint64_t(layout.ld));
}

} // namespace

// The driver API.
extern "C" {

FAKE_EXPORT CUresult cuInit(unsigned int) { return CUDA_SUCCESS; }
FAKE_EXPORT CUresult cuDriverGetVersion(int *version) {
  *version = 13000;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuGetErrorName(CUresult error, const char **name) {
  switch (error) {
  case CUDA_ERROR_ILLEGAL_ADDRESS:
    *name = "CUDA_ERROR_ILLEGAL_ADDRESS";
    break;
  case CUDA_ERROR_INVALID_PTX:
    *name = "CUDA_ERROR_INVALID_PTX";
    break;
  case CUDA_ERROR_INVALID_VALUE:
    *name = "CUDA_ERROR_INVALID_VALUE";
    break;
  case CUDA_ERROR_NOT_FOUND:
    *name = "CUDA_ERROR_NOT_FOUND";
    break;
  default:
    *name = "CUDA_ERROR_FAKE";
  }
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuGetErrorString(CUresult error, const char **text) {
  *text = error == CUDA_ERROR_ILLEGAL_ADDRESS
              ? "a kernel or GEMM accessed memory outside the allocations "
                "(details above)"
              : "an error of the fake driver";
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDeviceGetCount(int *count) {
  const char *devices = std::getenv("GROWC_FAKE_CUDA_DEVICES");
  *count = devices ? std::atoi(devices) : 1;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  int count = 0;
  cuDeviceGetCount(&count);
  if (ordinal < 0 || ordinal >= count)
    return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDeviceGetName(char *name, int length, CUdevice) {
  std::strncpy(name, "growc fake GPU", size_t(length));
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDeviceGetAttribute(int *value,
                                          CUdevice_attribute attribute,
                                          CUdevice) {
  // An H100's opt-in shared memory per block; 0 for the rest.
  *value = attribute == CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
               ? kMaxSharedPerBlock
               : 0;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice) {
  *context = &theContext;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice) {
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuCtxSetCurrent(CUcontext) { return CUDA_SUCCESS; }
FAKE_EXPORT CUresult cuModuleLoadDataEx(CUmodule *module, const void *image,
                                        unsigned int count,
                                        CUjit_option *options, void **values) {
  std::string text = static_cast<const char *>(image);
  auto loaded = std::make_unique<CUmod_st>();
  if (text.find(".entry") != std::string::npos) {
    std::string error;
    loaded->ptx = growc::ptx::Module::parse(text, error);
    if (!loaded->ptx) {
      // As the JIT does: the reason in the error log buffer.
      char *log = nullptr;
      size_t size = 0;
      for (unsigned i = 0; i < count; ++i) {
        if (options[i] == CU_JIT_ERROR_LOG_BUFFER)
          log = static_cast<char *>(values[i]);
        if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
          size = size_t(reinterpret_cast<uintptr_t>(values[i]));
      }
      if (log && size)
        std::snprintf(log, size, "fake driver: %s", error.c_str());
      return CUDA_ERROR_INVALID_PTX;
    }
  }
  *module = loaded.release();
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuModuleUnload(CUmodule module) {
  delete module;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuModuleGetFunction(CUfunction *function, CUmodule module,
                                         const char *name) {
  std::string known = name;
  if (module->ptx) {
    const growc::ptx::Kernel *kernel = module->ptx->find(known);
    if (!kernel)
      return CUDA_ERROR_NOT_FOUND;
    *function = new CUfunc_st{known, module->ptx.get(), kernel};
    return CUDA_SUCCESS;
  }
  if (known != "embed" && known != "add_one" && known != "sgd" &&
      known != "tokgrad" && known != "sgd_g")
    return CUDA_ERROR_NOT_FOUND;
  *function = new CUfunc_st{known}; // lives as long as the test process
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuFuncGetAttribute(int *value,
                                        CUfunction_attribute attribute,
                                        CUfunction function) {
  if (attribute != CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES)
    return CUDA_ERROR_INVALID_VALUE;
  *value = function->kernel ? int(function->kernel->staticShared) : 0;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuFuncSetAttribute(CUfunction function,
                                        CUfunction_attribute attribute,
                                        int value) {
  if (attribute != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES ||
      value < 0 || value > kMaxSharedPerBlock)
    return CUDA_ERROR_INVALID_VALUE;
  function->maxDynamicShared = value;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuMemAlloc(CUdeviceptr *pointer, size_t bytes) {
  // 256-byte aligned, as the driver's allocations are, so that the PTX
  // interpreter's alignment checks see what a GPU would.
  size_t rounded = ((bytes ? bytes : 1) + 255) / 256 * 256;
  void *memory = std::aligned_alloc(256, rounded);
  if (!memory)
    return CUDA_ERROR_OUT_OF_MEMORY;
  // A GPU allocation holds whatever was there before: here all bits set
  // (NaN as floats), so that reading memory nothing wrote shows.
  std::memset(memory, 0xff, rounded);
  *pointer = reinterpret_cast<CUdeviceptr>(memory);
  allocations[uint64_t(*pointer)] = bytes;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuMemFree(CUdeviceptr pointer) {
  allocations.erase(uint64_t(pointer));
  std::free(reinterpret_cast<void *>(pointer));
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuMemcpyHtoD(CUdeviceptr to, const void *from,
                                  size_t bytes) {
  std::memcpy(reinterpret_cast<void *>(to), from, bytes);
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuMemcpyDtoH(void *to, CUdeviceptr from, size_t bytes) {
  std::memcpy(to, reinterpret_cast<void *>(from), bytes);
  return stickyError;
}
FAKE_EXPORT CUresult cuMemcpyHtoDAsync(CUdeviceptr to, const void *from,
                                       size_t bytes, CUstream stream) {
  enqueue(stream,
          [=] { std::memcpy(reinterpret_cast<void *>(to), from, bytes); });
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuMemcpyDtoHAsync(void *to, CUdeviceptr from, size_t bytes,
                                       CUstream stream) {
  enqueue(stream,
          [=] { std::memcpy(to, reinterpret_cast<void *>(from), bytes); });
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuMemcpyDtoDAsync(CUdeviceptr to, CUdeviceptr from,
                                       size_t bytes, CUstream stream) {
  enqueue(stream, [=] {
    std::memmove(reinterpret_cast<void *>(to), reinterpret_cast<void *>(from),
                 bytes);
  });
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuMemsetD8Async(CUdeviceptr to, unsigned char value,
                                     size_t bytes, CUstream stream) {
  enqueue(stream,
          [=] { std::memset(reinterpret_cast<void *>(to), value, bytes); });
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamCreate(CUstream *stream, unsigned int) {
  *stream = new CUstream_st;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamDestroy(CUstream stream) {
  delete stream;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamSynchronize(CUstream stream) {
  // Synchronising a capturing stream is an error in CUDA too.
  return stream && stream->capturing ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED
                                     : stickyError;
}
FAKE_EXPORT CUresult cuStreamWaitEvent(CUstream stream, CUevent event,
                                       unsigned int) {
  // Work runs in order on the calling thread, so waiting is only about
  // capture: a stream waiting for an event of a capture joins it.
  CUstream origin = event->capture;
  if (origin && stream && origin != stream && !stream->joined &&
      !stream->capturing) {
    stream->joined = origin;
    origin->joiners.push_back(stream);
  }
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamBeginCapture(CUstream stream,
                                          CUstreamCaptureMode) {
  if (stream->capturing)
    return CUDA_ERROR_ILLEGAL_STATE;
  stream->capturing = true;
  stream->recording.clear();
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamEndCapture(CUstream stream, CUgraph *graph) {
  if (!stream->capturing)
    return CUDA_ERROR_ILLEGAL_STATE;
  stream->capturing = false;
  for (CUstream joiner : stream->joiners)
    joiner->joined = nullptr;
  stream->joiners.clear();
  *graph = new CUgraph_st{std::move(stream->recording)};
  stream->recording.clear();
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuGraphInstantiate(CUgraphExec *exec, CUgraph graph,
                                        unsigned long long) {
  *exec = new CUgraphExec_st{graph->work};
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  for (const std::function<void()> &work : exec->work)
    enqueue(stream, work);
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuGraphDestroy(CUgraph graph) {
  delete graph;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuGraphExecDestroy(CUgraphExec exec) {
  delete exec;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gridX,
                                    unsigned int gridY, unsigned int gridZ,
                                    unsigned int blockX, unsigned int blockY,
                                    unsigned int blockZ,
                                    unsigned int sharedMemBytes,
                                    CUstream stream, void **params, void **) {
  // As on a GPU: more dynamic shared memory than the kernel opted in to,
  // or more shared memory in all than a block may have, is an invalid
  // launch (said on stderr here).
  if (int64_t(sharedMemBytes) > f->maxDynamicShared)
    return CUDA_ERROR_INVALID_VALUE;
  const int64_t staticShared = f->kernel ? f->kernel->staticShared : 0;
  if (staticShared + int64_t(sharedMemBytes) > kMaxSharedPerBlock) {
    std::fprintf(stderr,
                 "fake driver: kernel '%s' launched with %lld bytes of "
                 "shared memory per block (%lld static, %u dynamic), more "
                 "than the device's %d\n",
                 f->name.c_str(), (long long)(staticShared + sharedMemBytes),
                 (long long)staticShared, sharedMemBytes, kMaxSharedPerBlock);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (stickyError != CUDA_SUCCESS)
    return stickyError;
  if (f->kernel) {
    // The parameters' bytes now, as the kernel declares them: a graph
    // keeps what was launched.
    growc::ptx::Launch launch;
    launch.grid[0] = gridX, launch.grid[1] = gridY, launch.grid[2] = gridZ;
    launch.block[0] = blockX, launch.block[1] = blockY,
    launch.block[2] = blockZ;
    launch.dynamicShared = sharedMemBytes;
    // GROWC_FAKE_CUDA_BLOCK_ORDER=reverse: blocks last to first.
    static const char *order = std::getenv("GROWC_FAKE_CUDA_BLOCK_ORDER");
    if (order && *order && std::strcmp(order, "reverse") != 0 &&
        std::strcmp(order, "forward") != 0) {
      std::fprintf(stderr,
                   "fake driver: GROWC_FAKE_CUDA_BLOCK_ORDER must be forward "
                   "or reverse, got '%s'\n",
                   order);
      return CUDA_ERROR_INVALID_VALUE;
    }
    launch.reverseBlocks = order && std::strcmp(order, "reverse") == 0;
    std::vector<unsigned> sizes = growc::ptx::Module::paramSizes(*f->kernel);
    for (size_t i = 0; i < sizes.size(); ++i) {
      size_t offset =
          (launch.params.size() + sizes[i] - 1) / sizes[i] * sizes[i];
      launch.params.resize(offset + sizes[i]);
      std::memcpy(launch.params.data() + offset, params[i], sizes[i]);
    }
    const growc::ptx::Module *module = f->module;
    const growc::ptx::Kernel *kernel = f->kernel;
    enqueue(stream, [=] {
      if (stickyError != CUDA_SUCCESS)
        return;
      std::string error = growc::ptx::run(
          *module, *kernel, launch, findAllocation,
          memoryProfile.on ? &memoryProfile.kernels[kernel->name] : nullptr);
      if (!error.empty()) {
        std::fprintf(stderr, "fake driver: %s\n", error.c_str());
        stickyError = CUDA_ERROR_ILLEGAL_ADDRESS;
      }
    });
    return CUDA_SUCCESS;
  }
  // The toy kernels' parameters' values now.
  size_t count = f->name == "embed"     ? 3
                 : f->name == "add_one" ? 2
                 : f->name == "tokgrad" ? 2
                 : f->name == "sgd_g"   ? 5
                                        : 4;
  std::vector<CUdeviceptr> values;
  for (size_t i = 0; i < count; ++i)
    values.push_back(*static_cast<CUdeviceptr *>(params[i]));
  std::string name = f->name;
  enqueue(stream, [=] { runKernel(name, values); });
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuEventCreate(CUevent *event, unsigned int) {
  *event = new CUevent_st;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuEventRecord(CUevent event, CUstream stream) {
  event->capture = !stream             ? nullptr
                   : stream->joined    ? stream->joined
                   : stream->capturing ? stream
                                       : nullptr;
  enqueue(stream, [=] { event->tick = ticks; });
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuEventSynchronize(CUevent) { return stickyError; }
FAKE_EXPORT CUresult cuEventElapsedTime(float *ms, CUevent start, CUevent end) {
  // A microsecond per piece of work in between.
  *ms = float(end->tick - start->tick) * 1e-3f;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuEventDestroy(CUevent event) {
  delete event;
  return CUDA_SUCCESS;
}

// For test collectives (CudaExecutorFakeTest): work on `stream` like any
// other, recorded while it captures, so that a graph replays it.
FAKE_EXPORT void growcFakeEnqueue(CUstream stream, void (*work)(void *),
                                  void *argument) {
  enqueue(stream, [=] { work(argument); });
}

// growc-run --profile on the emulated GPU: counting memory behaviour
// from zero (1) or not (0), and the report so far, as
// GROWC_FAKE_CUDA_PROFILE writes it (valid until the next call).
FAKE_EXPORT void growcFakeCudaProfileMemory(int on) {
  if (on)
    memoryProfile.kernels.clear();
  memoryProfile.on = on != 0;
}
FAKE_EXPORT const char *growcFakeCudaMemoryProfile() {
  memoryProfile.report = memoryProfile.json();
  return memoryProfile.report.c_str();
}

// NCCL.

struct ncclComm {
  int rank = 0, size = 1;
  /// Rank 0: a connection per other rank (index rank - 1); others: one to
  /// rank 0.
  std::vector<int> peers;
  std::string path;
};

namespace {

bool sendAll(int fd, const void *data, size_t bytes) {
  const char *p = static_cast<const char *>(data);
  while (bytes > 0) {
    ssize_t n = ::write(fd, p, bytes);
    if (n <= 0)
      return false;
    p += n;
    bytes -= size_t(n);
  }
  return true;
}

bool receiveAll(int fd, void *data, size_t bytes) {
  char *p = static_cast<char *>(data);
  while (bytes > 0) {
    ssize_t n = ::read(fd, p, bytes);
    if (n <= 0)
      return false;
    p += n;
    bytes -= size_t(n);
  }
  return true;
}

} // namespace

FAKE_EXPORT ncclResult_t ncclGetVersion(int *version) {
  *version = 22800;
  return ncclSuccess;
}
FAKE_EXPORT const char *ncclGetErrorString(ncclResult_t) {
  return "an error of the fake NCCL";
}
FAKE_EXPORT ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
  std::memset(id, 0, sizeof *id);
  static int made = 0;
  std::snprintf(id->internal, sizeof id->internal, "/tmp/growc-fake-nccl-%d-%d",
                int(::getpid()), made++);
  return ncclSuccess;
}
FAKE_EXPORT ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks,
                                          ncclUniqueId id, int rank) {
  auto *c = new ncclComm;
  c->rank = rank;
  c->size = nranks;
  c->path = std::string(id.internal, strnlen(id.internal, sizeof id.internal));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, c->path.c_str(), sizeof address.sun_path - 1);
  if (rank == 0) {
    int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ::unlink(c->path.c_str());
    if (listener < 0 ||
        ::bind(listener, reinterpret_cast<sockaddr *>(&address),
               sizeof address) != 0 ||
        ::listen(listener, nranks) != 0)
      return ncclSystemError;
    c->peers.assign(size_t(nranks - 1), -1);
    for (int i = 1; i < nranks; ++i) {
      int fd = ::accept(listener, nullptr, nullptr);
      int32_t peer = 0;
      if (fd < 0 || !receiveAll(fd, &peer, 4) || peer < 1 || peer >= nranks)
        return ncclSystemError;
      c->peers[size_t(peer - 1)] = fd;
    }
    ::close(listener);
  } else {
    int fd = -1;
    for (int tries = 0; tries < 1000; ++tries) { // rank 0 may not listen yet
      fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      if (::connect(fd, reinterpret_cast<sockaddr *>(&address),
                    sizeof address) == 0)
        break;
      ::close(fd);
      fd = -1;
      ::usleep(10000);
    }
    int32_t me = rank;
    if (fd < 0 || !sendAll(fd, &me, 4))
      return ncclSystemError;
    c->peers.push_back(fd);
  }
  *comm = c;
  return ncclSuccess;
}
FAKE_EXPORT ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  for (int fd : comm->peers)
    ::close(fd);
  if (comm->rank == 0)
    ::unlink(comm->path.c_str());
  delete comm;
  return ncclSuccess;
}
FAKE_EXPORT ncclResult_t ncclCommAbort(ncclComm_t comm) {
  return ncclCommDestroy(comm);
}
FAKE_EXPORT ncclResult_t ncclGroupStart() { return ncclSuccess; }
FAKE_EXPORT ncclResult_t ncclGroupEnd() { return ncclSuccess; }
FAKE_EXPORT ncclResult_t ncclAllReduce(const void *send, void *receive,
                                       size_t count, ncclDataType_t type,
                                       ncclRedOp_t op, ncclComm_t comm,
                                       cudaStream_t stream) {
  if (type != ncclFloat32 || (op != ncclSum && op != ncclAvg))
    return ncclInvalidArgument;
  enqueue(reinterpret_cast<CUstream>(stream), [=] {
    std::vector<float> values(static_cast<const float *>(send),
                              static_cast<const float *>(send) + count);
    size_t bytes = count * sizeof(float);
    if (comm->rank == 0) {
      std::vector<float> other(count);
      for (int fd : comm->peers) {
        if (!receiveAll(fd, other.data(), bytes))
          std::abort();
        for (size_t i = 0; i < count; ++i)
          values[i] += other[i];
      }
      if (op == ncclAvg)
        for (float &v : values)
          v /= float(comm->size);
      for (int fd : comm->peers)
        if (!sendAll(fd, values.data(), bytes))
          std::abort();
    } else if (!sendAll(comm->peers[0], values.data(), bytes) ||
               !receiveAll(comm->peers[0], values.data(), bytes)) {
      std::abort();
    }
    std::memcpy(receive, values.data(), bytes);
  });
  return ncclSuccess;
}

// cuBLASLt.

FAKE_EXPORT cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle) {
  *handle = reinterpret_cast<cublasLtHandle_t>(&theContext);
  return CUBLAS_STATUS_SUCCESS;
}
FAKE_EXPORT cublasStatus_t cublasLtDestroy(cublasLtHandle_t) {
  return CUBLAS_STATUS_SUCCESS;
}
FAKE_EXPORT const char *cublasLtGetStatusString(cublasStatus_t) {
  return "CUBLAS_STATUS_FAKE";
}
FAKE_EXPORT cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc,
                                                    cublasComputeType_t,
                                                    cudaDataType_t) {
  *desc = new cublasLtMatmulDescOpaque_t{};
  new (*desc) Desc();
  return CUBLAS_STATUS_SUCCESS;
}
FAKE_EXPORT cublasStatus_t
cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
  delete desc;
  return CUBLAS_STATUS_SUCCESS;
}
FAKE_EXPORT cublasStatus_t cublasLtMatmulDescSetAttribute(
    cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attribute,
    const void *value, size_t size) {
  Desc &d = *reinterpret_cast<Desc *>(desc);
  if (size != sizeof(cublasOperation_t))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (attribute == CUBLASLT_MATMUL_DESC_TRANSA)
    std::memcpy(&d.transA, value, size);
  else if (attribute == CUBLASLT_MATMUL_DESC_TRANSB)
    std::memcpy(&d.transB, value, size);
  else
    return CUBLAS_STATUS_NOT_SUPPORTED;
  return CUBLAS_STATUS_SUCCESS;
}
FAKE_EXPORT cublasStatus_t
cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType type,
                           uint64_t rows, uint64_t cols, int64_t ld) {
  if ((type != CUDA_R_32F && type != CUDA_R_16BF) || ld < int64_t(rows))
    return CUBLAS_STATUS_INVALID_VALUE;
  *layout = new cublasLtMatrixLayoutOpaque_t{};
  new (*layout) Layout{type, rows, cols, ld};
  return CUBLAS_STATUS_SUCCESS;
}
FAKE_EXPORT cublasStatus_t
cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
  delete layout;
  return CUBLAS_STATUS_SUCCESS;
}
FAKE_EXPORT cublasStatus_t
cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *preference) {
  *preference = new cublasLtMatmulPreferenceOpaque_t{};
  new (*preference) Preference();
  return CUBLAS_STATUS_SUCCESS;
}
FAKE_EXPORT cublasStatus_t
cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t preference) {
  delete preference;
  return CUBLAS_STATUS_SUCCESS;
}
FAKE_EXPORT cublasStatus_t cublasLtMatmulPreferenceSetAttribute(
    cublasLtMatmulPreference_t preference,
    cublasLtMatmulPreferenceAttributes_t attribute, const void *value,
    size_t size) {
  auto &wanted = reinterpret_cast<Preference *>(preference)->alignment;
  int operand = attribute == CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES   ? 0
                : attribute == CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES ? 1
                : attribute == CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES ? 2
                : attribute == CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES ? 3
                                                                          : -1;
  if (operand >= 0) {
    if (size != sizeof(uint32_t))
      return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(&wanted[operand], value, sizeof(uint32_t));
  }
  return CUBLAS_STATUS_SUCCESS;
}
FAKE_EXPORT cublasStatus_t cublasLtMatmulAlgoGetHeuristic(
    cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t,
    cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
    cublasLtMatmulPreference_t preference, int requested,
    cublasLtMatmulHeuristicResult_t results[], int *returned) {
  // Two candidates, told apart by their first word. Like cuBLASLt's, they
  // need the operands aligned as the preference said (256 bytes unless
  // told otherwise); words 1-4 record it for cublasLtMatmul to check.
  const auto &wanted = reinterpret_cast<Preference *>(preference)->alignment;
  *returned = std::min(requested, 2);
  for (int i = 0; i < *returned; ++i) {
    results[i] = cublasLtMatmulHeuristicResult_t{};
    results[i].algo.data[0] = uint64_t(i + 1);
    for (int operand = 0; operand < 4; ++operand)
      results[i].algo.data[1 + operand] = wanted[operand];
    results[i].state = CUBLAS_STATUS_SUCCESS;
  }
  return CUBLAS_STATUS_SUCCESS;
}
FAKE_EXPORT cublasStatus_t cublasLtMatmul(
    cublasLtHandle_t, cublasLtMatmulDesc_t desc, const void *alpha,
    const void *a, cublasLtMatrixLayout_t aLayout, const void *b,
    cublasLtMatrixLayout_t bLayout, const void *beta, const void *c,
    cublasLtMatrixLayout_t cLayout, void *d, cublasLtMatrixLayout_t dLayout,
    const cublasLtMatmulAlgo_t *algo, void *, size_t, cudaStream_t stream) {
  Desc op = *reinterpret_cast<Desc *>(desc);
  Layout la = *reinterpret_cast<Layout *>(aLayout),
         lb = *reinterpret_cast<Layout *>(bLayout),
         lc = *reinterpret_cast<Layout *>(cLayout),
         ld = *reinterpret_cast<Layout *>(dLayout);
  // op(A) is m x k, op(B) k x n, C and D m x n.
  uint64_t m = op.transA == CUBLAS_OP_T ? la.cols : la.rows;
  uint64_t k = op.transA == CUBLAS_OP_T ? la.rows : la.cols;
  uint64_t kb = op.transB == CUBLAS_OP_T ? lb.cols : lb.rows;
  uint64_t n = op.transB == CUBLAS_OP_T ? lb.rows : lb.cols;
  if (!algo || algo->data[0] == 0 || k != kb || lc.rows != m || lc.cols != n ||
      ld.rows != m || ld.cols != n)
    return CUBLAS_STATUS_INVALID_VALUE;
  // An algorithm needs its operands as aligned as it was chosen for.
  const void *operands[4] = {a, b, c, d};
  for (int i = 0; i < 4; ++i)
    if (algo->data[1 + i] &&
        reinterpret_cast<uintptr_t>(operands[i]) % algo->data[1 + i] != 0) {
      std::fprintf(stderr,
                   "fake cuBLASLt: operand %c is less aligned than the %llu "
                   "bytes its algorithm was chosen for\n",
                   "ABCD"[i], (unsigned long long)algo -> data[1 + i]);
      return CUBLAS_STATUS_INVALID_VALUE;
    }
  float alphaValue = *static_cast<const float *>(alpha),
        betaValue = *static_cast<const float *>(beta);
  // The bytes a column-major matrix spans.
  auto span = [](const Layout &l) {
    return (l.cols - 1) * uint64_t(l.ld) * (l.type == CUDA_R_32F ? 4 : 2) +
           l.rows * (l.type == CUDA_R_32F ? 4 : 2);
  };
  enqueue(reinterpret_cast<CUstream>(stream), [=] {
    if (stickyError != CUDA_SUCCESS)
      return;
    // A GEMM outside the allocations faults on a GPU too.
    auto outside = [&](const void *x, const Layout &l) {
      return !isAllocated(reinterpret_cast<uint64_t>(x), span(l));
    };
    if (outside(a, la) || outside(b, lb) || outside(d, ld) ||
        (betaValue != 0 && outside(c, lc))) {
      std::fprintf(stderr,
                   "fake cuBLASLt: a %llux%llux%llu GEMM reads or "
                   "writes outside the allocations\n",
                   (unsigned long long)m, (unsigned long long)n,
                   (unsigned long long)k);
      stickyError = CUDA_ERROR_ILLEGAL_ADDRESS;
      return;
    }
    // Row by row into a temporary: C may be D.
    std::vector<float> out(m * n);
    for (uint64_t i = 0; i < m; ++i)
      for (uint64_t j = 0; j < n; ++j) {
        float sum = 0;
        for (uint64_t p = 0; p < k; ++p)
          sum +=
              element(a, la, op.transA, i, p) * element(b, lb, op.transB, p, j);
        float value = alphaValue * sum;
        if (betaValue != 0)
          value += betaValue * load(c, lc.type, i + j * uint64_t(lc.ld));
        out[i + j * m] = value;
      }
    for (uint64_t i = 0; i < m; ++i)
      for (uint64_t j = 0; j < n; ++j)
        store(d, ld.type, i + j * uint64_t(ld.ld), out[i + j * m]);
  });
  return CUBLAS_STATUS_SUCCESS;
}

} // extern "C"
