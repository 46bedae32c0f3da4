//===- Throughput.h - Tokens/s, model FLOP/s and MFU of a run ---*- C++ -*-===//
//
// The figures a training log carries so that runs compare with llm.c and
// nanoGPT (docs/training.md, "Metrics"): tokens per second of a step, the
// model FLOP/s they amount to (6·N + 12·L·T·d_attn per token, the PaLM
// appendix B estimate nanoGPT uses; FlopModel) and their fraction of a
// peak rate (MFU). A peak is only ever a datasheet figure for a GPU the
// table knows or one the user gives (--peak-tflops), never a guess: a CPU,
// or a GPU the table lacks, gets no MFU.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_THROUGHPUT_H
#define GROWC_RUNTIME_THROUGHPUT_H

#include "growc/runtime/Plan.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace growc::rt {

/// A peak rate to measure model FLOP/s against, and where it comes from
/// (printed once at the start of a run).
struct PeakRate {
  double tflops = 0;
  std::string source;
};

/// Whether `plan`'s GEMMs take bf16 operands (growc --precision=bf16): the
/// tensor cores' peak applies. fp32 GEMMs run with CUBLAS_COMPUTE_32F (no
/// TF32), so their peak is the FP32 one.
bool gemmsInBf16(const Plan &plan);

/// The dense (no sparsity) datasheet peak of the NVIDIA GPU `deviceName`
/// (as cuDeviceGetName reports it) for bf16 or fp32 GEMMs; none for a GPU
/// the table does not know.
std::optional<PeakRate> gpuPeak(std::string_view deviceName, bool bf16);

/// A GPU's memory bandwidth and where it comes from.
struct MemoryRate {
  double terabytesPerSecond = 0;
  std::string source;
};

/// The HBM bandwidth of the NVIDIA GPU `deviceName` from the same
/// datasheets as gpuPeak; none for a GPU the table does not know or whose
/// name does not fix it.
std::optional<MemoryRate> gpuMemoryBandwidth(std::string_view deviceName);

/// One step's throughput.
struct StepThroughput {
  double tokensPerSecond = 0;
  /// Achieved model TFLOP/s: flopsPerToken · tokensPerSecond / 1e12.
  double modelTflops = 0;
  /// modelTflops / (devices · peak); none without a peak.
  std::optional<double> mfu;
};

/// `tokens` trained in `seconds` by a model of `flopsPerToken` training
/// FLOPs per token on `devices` devices (the ranks of a data-parallel job),
/// each of peak `peak` (none: no MFU): MFU is of the job's total peak, as
/// each device's would be with the work spread evenly.
StepThroughput stepThroughput(int64_t tokens, double seconds,
                              double flopsPerToken,
                              const std::optional<PeakRate> &peak,
                              int devices = 1);

/// `time` as ISO-8601 UTC with milliseconds: 2026-12-07T09:01:02.345Z.
std::string isoTimestamp(std::chrono::system_clock::time_point time);

/// `time` as seconds since the Unix epoch, to the millisecond (the one
/// isoTimestamp shows).
double unixSeconds(std::chrono::system_clock::time_point time);

} // namespace growc::rt

#endif // GROWC_RUNTIME_THROUGHPUT_H
