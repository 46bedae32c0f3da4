//===- GrowthScheduleTest.cpp - unit tests for the Prop-alpha schedule ----===//
//
// Compares the integer schedule with SPEC.md §3's closed form: with stage i
// of i blocks, the grown layer FLOPs are g·T·Σi^(α+1)/Σi^α·b + (1-g)·T·k·b,
// against T·k·b for the baseline.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/GrowthSchedule.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace growc::rt;

namespace {

double closedFormSaving(int64_t k, double alpha, double g) {
  double num = 0, den = 0;
  for (int64_t i = 1; i <= k; ++i) {
    num += std::pow(double(i), alpha + 1);
    den += std::pow(double(i), alpha);
  }
  return double(k) / (g * num / den + (1 - g) * double(k));
}

GrowthSchedule plan(ScheduleOptions opts) {
  StatusOr<GrowthSchedule> schedule = planGrowthSchedule(opts);
  EXPECT_TRUE(schedule.isOk()) << schedule.status().message();
  return std::move(schedule).value();
}

TEST(GrowthSchedule, MatchesClosedFormForLargeBudgets) {
  for (int64_t k : {2, 6, 8})
    for (double alpha : {0.0, 1.0, 2.0})
      for (double g : {0.5, 0.8, 1.0}) {
        ScheduleOptions opts;
        opts.totalSteps = 10'000'000;
        opts.stages = k;
        opts.alpha = alpha;
        opts.growFraction = g;
        GrowthSchedule s = plan(opts);
        EXPECT_NEAR(s.layerFlopSaving(), closedFormSaving(k, alpha, g), 1e-4)
            << "k=" << k << " alpha=" << alpha << " g=" << g;
      }
  // SPEC.md §3: ≈1.29x for Prop-1, g = 0.8, k = 6.
  EXPECT_NEAR(closedFormSaving(6, 1.0, 0.8), 1.2857, 1e-4);
}

TEST(GrowthSchedule, StagesTileTheBudget) {
  ScheduleOptions opts;
  opts.totalSteps = 1234;
  opts.stages = 5;
  opts.startBlocks = 3;
  opts.blockSize = 2;
  GrowthSchedule s = plan(opts);
  ASSERT_EQ(s.stages.size(), 5u);
  EXPECT_EQ(s.stages.front().beginStep, 0);
  EXPECT_EQ(s.stages.back().endStep, 1234);
  for (size_t i = 0; i < s.stages.size(); ++i) {
    EXPECT_EQ(s.stages[i].blocks, int64_t(3 + i));
    EXPECT_EQ(s.stages[i].layers, 2 * s.stages[i].blocks);
    EXPECT_LT(s.stages[i].beginStep, s.stages[i].endStep);
    if (i)
      EXPECT_EQ(s.stages[i].beginStep, s.stages[i - 1].endStep);
  }
  // Stage 4 ends at round(g·T·(1+2+3+4)/15) = round(987.2·10/15) = 658;
  // stage 5 (full depth) takes its T_5 and the cooldown.
  EXPECT_EQ(s.stages[3].endStep, 658);
}

TEST(GrowthSchedule, ModelFlopsIncludeHeadAndAttention) {
  ScheduleOptions opts;
  opts.totalSteps = 1000;
  opts.stages = 2;
  opts.growFraction = 1.0;
  GrowthSchedule s = plan(opts);
  // Stage 1: 333 steps of 4 layers; stage 2: 667 steps of 8 layers.
  FlopModel m;
  m.layerParams = 100;
  m.headParams = 1000;
  m.attentionWidth = 2;
  m.seqLen = 10;
  auto perToken = [](int64_t layers) {
    return 6.0 * (layers * 100 + 1000) + 12.0 * layers * 10 * 2;
  };
  EXPECT_DOUBLE_EQ(m.trainFlopsPerToken(8), perToken(8));
  double expected =
      1000 * perToken(8) / (333 * perToken(4) + 667 * perToken(8));
  EXPECT_NEAR(s.modelFlopSaving(m), expected, 1e-12);
}

TEST(GrowthSchedule, RejectsBadOptions) {
  auto error = [](ScheduleOptions opts) {
    StatusOr<GrowthSchedule> s = planGrowthSchedule(opts);
    EXPECT_FALSE(s.isOk());
    return s.isOk() ? std::string() : s.status().message();
  };
  ScheduleOptions ok;
  ok.totalSteps = 100;
  ok.stages = 4;
  ScheduleOptions o = ok;
  o.totalSteps = 0;
  EXPECT_NE(error(o).find("total steps"), std::string::npos);
  o = ok;
  o.stages = 0;
  EXPECT_NE(error(o).find("stages"), std::string::npos);
  o = ok;
  o.alpha = -1;
  EXPECT_NE(error(o).find("alpha"), std::string::npos);
  o = ok;
  o.growFraction = 0;
  EXPECT_NE(error(o).find("grow fraction"), std::string::npos);
  o = ok;
  o.totalSteps = 3;
  EXPECT_NE(error(o).find("no steps"), std::string::npos);
}

} // namespace
