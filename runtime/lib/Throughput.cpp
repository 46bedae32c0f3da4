//===- Throughput.cpp - Tokens/s, model FLOP/s and MFU of a run -----------===//
//
// The peak table, the per-step figures and the timestamps of the training
// log (Throughput.h). The peaks are NVIDIA's datasheet numbers, dense (the
// datasheets quote bf16 with 2:4 sparsity; half of it is the dense rate),
// per GPU: what llm.c's and nanoGPT's MFU divide by. The same table gives
// the cost model (CostModel.h) its memory bandwidths.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Throughput.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace growc::rt {

bool gemmsInBf16(const Plan &plan) {
  return std::any_of(
      plan.steps.begin(), plan.steps.end(), [](const PlanStep &step) {
        return step.op == PlanStep::Op::Gemm &&
               (step.aType == DType::BF16 || step.bType == DType::BF16);
      });
}

namespace {

struct GpuPeak {
  /// A part of cuDeviceGetName's answer; the first entry that matches
  /// wins, so the more specific names come first.
  std::string_view namePart;
  std::string_view model;
  double bf16, fp32;
  /// HBM bandwidth, TB/s; 0 where the name does not fix it (the A100's
  /// 40 and 80 GB parts differ).
  double memoryTBps;
};

// NVIDIA H100 / H200 / A100 datasheets: bf16 tensor-core dense, fp32 CUDA
// cores, HBM bandwidth. "NVIDIA H100 80GB HBM3" is the SXM part; the GH200
// superchip's GPU ("NVIDIA GH200 480GB") has the H100 SXM's rates.
// The H100 SXM and H200 figures are bench/gpu_train.py's.
constexpr GpuPeak kGpuPeaks[] = {
    {"H100 NVL", "H100 NVL", 835.5, 60, 3.9},
    {"H100 PCIe", "H100 PCIe", 756.5, 51.2, 2.0},
    {"H100", "H100 SXM", 989.4, 66.9, 3.35},
    {"H200 NVL", "H200 NVL", 835.5, 60, 4.8},
    {"H200", "H200 SXM", 989.4, 66.9, 4.8},
    {"A100", "A100", 312, 19.5, 0},
};

const GpuPeak *findGpu(std::string_view deviceName) {
  for (const GpuPeak &gpu : kGpuPeaks)
    if (deviceName.find(gpu.namePart) != std::string_view::npos)
      return &gpu;
  return nullptr;
}

} // namespace

std::optional<PeakRate> gpuPeak(std::string_view deviceName, bool bf16) {
  const GpuPeak *gpu = findGpu(deviceName);
  if (!gpu)
    return std::nullopt;
  PeakRate peak;
  peak.tflops = bf16 ? gpu->bf16 : gpu->fp32;
  peak.source = std::string(gpu->model) + (bf16 ? " bf16 dense" : " fp32") +
                " datasheet peak";
  return peak;
}

std::optional<MemoryRate> gpuMemoryBandwidth(std::string_view deviceName) {
  const GpuPeak *gpu = findGpu(deviceName);
  if (!gpu || gpu->memoryTBps <= 0)
    return std::nullopt;
  return MemoryRate{gpu->memoryTBps,
                    std::string(gpu->model) + " HBM datasheet bandwidth"};
}

StepThroughput stepThroughput(int64_t tokens, double seconds,
                              double flopsPerToken,
                              const std::optional<PeakRate> &peak,
                              int devices) {
  StepThroughput result;
  result.tokensPerSecond = double(tokens) / std::max(seconds, 1e-9);
  result.modelTflops = flopsPerToken * result.tokensPerSecond / 1e12;
  if (peak && peak->tflops > 0 && devices > 0)
    result.mfu = result.modelTflops / (peak->tflops * devices);
  return result;
}

namespace {

/// Milliseconds since the Unix epoch, rounded down (before it too), so
/// that the timestamp and the Unix seconds name the same millisecond.
int64_t epochMillis(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  return floor<milliseconds>(time.time_since_epoch()).count();
}

} // namespace

std::string isoTimestamp(std::chrono::system_clock::time_point time) {
  int64_t ms = epochMillis(time);
  int64_t millis = ((ms % 1000) + 1000) % 1000;
  std::time_t seconds = std::time_t((ms - millis) / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[48];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                utc.tm_min, utc.tm_sec, int(millis));
  return text;
}

double unixSeconds(std::chrono::system_clock::time_point time) {
  return double(epochMillis(time)) / 1000;
}

} // namespace growc::rt
