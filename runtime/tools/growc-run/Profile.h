//===- Profile.h - Where a run's time goes, step by step --------*- C++ -*-===//
//
// growc-run forward|grad|train-step --profile: each plan step's time, with
// what it moved and computed, grouped by kernel and by GEMM shape, and a
// summary against the device's limits. On the GPU the summary is what the
// performance targets are stated in: each memory-bound kernel's bandwidth
// as a fraction of the device-to-device copy bandwidth, and each GEMM's
// time against the fastest cuBLASLt candidate for its shape timed alone.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUN_PROFILE_H
#define GROWC_RUN_PROFILE_H

#include "growc/runtime/Plan.h"
#include "growc/runtime/Status.h"

#include <cstdio>
#include <string>
#include <vector>

namespace growc::rt {

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
};

/// Prints the grouped table and the summary to `out`; with `jsonPath`,
/// also writes them as JSON (atomically).
Status reportProfile(std::FILE *out, const Plan &plan, const StepTimes &times,
                     const std::string &jsonPath);

} // namespace growc::rt

#endif // GROWC_RUN_PROFILE_H
