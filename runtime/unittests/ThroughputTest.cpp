//===- ThroughputTest.cpp - Tokens/s, MFU and timestamps of the log -------===//
//
// The figures growc-run train's metrics carry (Throughput.h): the peak
// table by device name and precision, the per-step rates, and the
// timestamps (ISO-8601 UTC to the millisecond, Unix seconds naming the
// same millisecond).
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Throughput.h"

#include <gtest/gtest.h>

namespace growc::rt::test {
namespace {

TEST(ThroughputTest, PeaksComeFromTheDeviceNameAndPrecision) {
  // cuDeviceGetName's answers: the SXM part has no form factor in its name.
  std::optional<PeakRate> sxm = gpuPeak("NVIDIA H100 80GB HBM3", true);
  ASSERT_TRUE(sxm);
  EXPECT_DOUBLE_EQ(sxm->tflops, 989.4);
  EXPECT_EQ(sxm->source, "H100 SXM bf16 dense datasheet peak");
  EXPECT_DOUBLE_EQ(gpuPeak("NVIDIA H100 80GB HBM3", false)->tflops, 66.9);
  EXPECT_DOUBLE_EQ(gpuPeak("NVIDIA H100 PCIe", true)->tflops, 756.5);
  EXPECT_DOUBLE_EQ(gpuPeak("NVIDIA H100 NVL", true)->tflops, 835.5);
  EXPECT_DOUBLE_EQ(gpuPeak("NVIDIA H200", true)->tflops, 989.4);
  EXPECT_DOUBLE_EQ(gpuPeak("NVIDIA A100-SXM4-80GB", true)->tflops, 312);
  EXPECT_DOUBLE_EQ(gpuPeak("NVIDIA A100 80GB PCIe", false)->tflops, 19.5);
  // A GPU the table does not know has no peak (no guess).
  EXPECT_FALSE(gpuPeak("growc fake GPU", true));
  EXPECT_FALSE(gpuPeak("NVIDIA GeForce RTX 4090", true));
}

TEST(ThroughputTest, StepRatesAndMfu) {
  // 4096 tokens in 0.5 s of a model of 1e9 FLOPs per token: 8192 tokens/s,
  // 8.192 TFLOP/s, against 100 TFLOP/s 8.192 %.
  PeakRate peak{100, "--peak-tflops"};
  StepThroughput rate = stepThroughput(4096, 0.5, 1e9, peak);
  EXPECT_DOUBLE_EQ(rate.tokensPerSecond, 8192);
  EXPECT_DOUBLE_EQ(rate.modelTflops, 8.192);
  ASSERT_TRUE(rate.mfu);
  EXPECT_DOUBLE_EQ(*rate.mfu, 0.08192);
  // Two ranks of that peak: the job's MFU is of twice the peak.
  StepThroughput two = stepThroughput(4096, 0.5, 1e9, peak, 2);
  EXPECT_DOUBLE_EQ(two.modelTflops, 8.192);
  EXPECT_DOUBLE_EQ(*two.mfu, 0.04096);
  // No peak, no MFU; the achieved rate is still there.
  StepThroughput cpu = stepThroughput(4096, 0.5, 1e9, std::nullopt);
  EXPECT_FALSE(cpu.mfu);
  EXPECT_DOUBLE_EQ(cpu.modelTflops, 8.192);
}

TEST(ThroughputTest, TimestampsAreUtcToTheMillisecond) {
  using namespace std::chrono;
  auto at = [](int64_t ms) {
    return system_clock::time_point(
        duration_cast<system_clock::duration>(milliseconds(ms)));
  };
  EXPECT_EQ(isoTimestamp(at(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(isoTimestamp(at(1796634078564)), "2026-12-07T09:01:18.564Z");
  EXPECT_DOUBLE_EQ(unixSeconds(at(1796634078564)), 1796634078.564);
  // Before the epoch the millisecond part stays non-negative.
  EXPECT_EQ(isoTimestamp(at(-1)), "1969-12-31T23:59:59.999Z");
  EXPECT_DOUBLE_EQ(unixSeconds(at(-1)), -0.001);
  // Sub-millisecond parts are dropped, in both.
  auto later = at(1796634078564) + microseconds(999);
  EXPECT_EQ(isoTimestamp(later), "2026-12-07T09:01:18.564Z");
  EXPECT_DOUBLE_EQ(unixSeconds(later), 1796634078.564);
}

} // namespace
} // namespace growc::rt::test
