//===- Profile.h - Where a run's time goes, step by step --------*- C++ -*-===//
//
// growc-run forward|grad|train-step --profile: each plan step's time, with
// what it moved and computed, grouped by kernel and by GEMM shape, and a
// summary against the device's limits. On the GPU the summary is what the
// performance targets are stated in: each memory-bound kernel's bandwidth
// as a fraction of the device-to-device copy bandwidth, and each GEMM's
// time against the fastest cuBLASLt candidate for its shape timed alone.
// On the emulated GPU (the fake driver, runtime/testing/FakeCuda.cpp) the
// times are the PTX interpreter's, and what it reports instead is each
// kernel's memory behaviour, which the interpreter measures (KernelMemory).
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUN_PROFILE_H
#define GROWC_RUN_PROFILE_H

#include "growc/runtime/Plan.h"
#include "growc/runtime/Status.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace growc::rt {

/// One kernel's memory behaviour on the emulated GPU, summed over its
/// launches: the fake driver's counts (ptx::MemoryStats; docs/gpu.md,
/// "Memory behaviour on the emulated GPU"). Global bytes are what the
/// lanes asked for; a request is one ld/st of one warp; caches are not
/// modelled.
struct KernelMemory {
  std::string name;
  int64_t launches = 0, loadBytes = 0, storeBytes = 0;
  /// Global bytes moved by 8- and by 16-byte accesses per lane.
  int64_t bytes64 = 0, bytes128 = 0;
  /// Global requests, the 32-byte sectors they touched, and the fewest
  /// they could have (bytes / 32 per request, rounded up).
  int64_t requests = 0, sectors = 0, idealSectors = 0;
  /// Shared-memory requests (ldmatrix included), their bytes, their
  /// wavefronts (32 banks of 4 bytes) and the fewest possible.
  int64_t sharedRequests = 0, sharedBytes = 0, wavefronts = 0,
          idealWavefronts = 0;

  int64_t bytes() const { return loadBytes + storeBytes; }
  /// The share of global bytes moved by 64- or 128-bit accesses (0-1).
  double vectorShare() const;
  double sectorsPerRequest() const;
  double idealSectorsPerRequest() const;
  /// Shared wavefronts over the conflict-free count: 1 without bank
  /// conflicts, 0 without shared accesses.
  double bankConflicts() const;
  /// The counts of `other` added (the same kernel, or a total).
  void add(const KernelMemory &other);
};

/// The kernels of a memory report, as the fake driver writes it
/// (GROWC_FAKE_CUDA_PROFILE); errors name `what` (the file).
StatusOr<std::vector<KernelMemory>> parseMemoryReport(std::string_view json,
                                                      const std::string &what);

/// The fake driver's memory counting, through its extension entry points
/// (growcFakeCudaProfileMemory, growcFakeCudaMemoryProfile) in the CUDA
/// driver this process loaded (GROWC_LIBCUDA, else libcuda.so.1).
class EmulatedMemory {
public:
  /// Starts counting from zero; null where the driver is a real one (or
  /// not loaded yet).
  static std::unique_ptr<EmulatedMemory> start();
  /// Stops counting.
  ~EmulatedMemory();
  /// The counts since start().
  StatusOr<std::vector<KernelMemory>> read() const;

private:
  void *library = nullptr;
  void (*profileMemory)(int) = nullptr;
  const char *(*report)() = nullptr;
};

struct StepTimes {
  /// Per plan step, milliseconds (mean over the profiled runs).
  std::vector<double> stepMs;
  /// Per plan step: a GEMM's best plain cuBLASLt time for its shape, 0 for
  /// other steps; empty where unknown (the CPU).
  std::vector<double> bestGemmMs;
  /// The device's copy bandwidth (bytes read and written per second), 0
  /// where unknown.
  double copyBytesPerSecond = 0;
  /// "cpu (2 threads)", the GPU's name.
  std::string device;
  /// On the emulated GPU: each kernel's memory behaviour over `runs` runs
  /// of the step; the times are then the interpreter's.
  bool emulated = false;
  std::vector<KernelMemory> memory;
  int runs = 1;
};

/// Prints the grouped table and the summary to `out`; with `jsonPath`,
/// also writes them as JSON (atomically).
Status reportProfile(std::FILE *out, const Plan &plan, const StepTimes &times,
                     const std::string &jsonPath);

} // namespace growc::rt

#endif // GROWC_RUN_PROFILE_H
