//===- PeriodicityTest.cpp - Tests for the period-b metric ----------------===//
//
// periodPowerFraction on synthetic series: a pure period-b sinusoid (any
// phase, any offset, b dividing the length or not) reads 1; a period-2b
// one reads 0 where the bins are orthogonal; white noise reads about the
// two degrees of freedom of the fit out of n - 1 (2 / n); the undefined
// cases are empty; and the report picks layers 1..L-1 of each series.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Periodicity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace growc::rt;

namespace {

const double kPi = std::acos(-1.0);

std::vector<double> sinusoid(int64_t n, double period, double phase,
                             double offset = 0, double amplitude = 1) {
  std::vector<double> s(n);
  for (int64_t i = 0; i < n; ++i)
    s[i] = offset + amplitude * std::cos(2 * kPi * double(i) / period + phase);
  return s;
}

TEST(PeriodicityTest, PurePeriodBIsOne) {
  for (int64_t b : {2, 3, 4, 6})
    for (int64_t n : {12, 24, 13, 29})
      for (double phase : {0.0, 0.7, 2.0}) {
        if (b >= n)
          continue;
        auto p =
            periodPowerFraction(sinusoid(n, double(b), phase, 3.5, 0.2), b);
        ASSERT_TRUE(p.has_value()) << "b=" << b << " n=" << n;
        EXPECT_NEAR(*p, 1.0, 1e-12) << "b=" << b << " n=" << n;
      }
}

TEST(PeriodicityTest, PeriodTwoBIsZero) {
  // n a multiple of 2b: the period-2b sinusoid is orthogonal to period b's.
  for (int64_t b : {2, 3, 4})
    for (double phase : {0.0, 0.4}) {
      int64_t n = 4 * b;
      auto p = periodPowerFraction(sinusoid(n, double(2 * b), phase), b);
      ASSERT_TRUE(p.has_value());
      EXPECT_NEAR(*p, 0.0, 1e-12) << "b=" << b;
    }
}

TEST(PeriodicityTest, MatchesTheDftBinsWhenBDividesN) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  const int64_t n = 24, b = 4, k = n / b;
  std::vector<double> s(n);
  for (double &x : s)
    x = normal(rng);
  double mean = 0;
  for (double x : s)
    mean += x / double(n);
  double total = 0, atB = 0;
  for (int64_t f = 1; f < n; ++f) {
    double re = 0, im = 0;
    for (int64_t i = 0; i < n; ++i) {
      re += (s[i] - mean) * std::cos(2 * kPi * double(f * i) / double(n));
      im -= (s[i] - mean) * std::sin(2 * kPi * double(f * i) / double(n));
    }
    double power = re * re + im * im;
    total += power;
    if (f == k || f == n - k)
      atB += power;
  }
  EXPECT_NEAR(*periodPowerFraction(s, b), atB / total, 1e-12);
}

TEST(PeriodicityTest, NoiseIsAboutTwoOverN) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal;
  const int64_t n = 30;
  for (int64_t b : {3, 4, 7}) {
    double sum = 0;
    const int trials = 4000;
    for (int t = 0; t < trials; ++t) {
      std::vector<double> s(n);
      for (double &x : s)
        x = 5.0 + normal(rng);
      sum += *periodPowerFraction(s, b);
    }
    // Two regressors of n - 1 degrees of freedom: E[R^2] = 2 / (n - 1).
    EXPECT_NEAR(sum / trials, 2.0 / double(n - 1), 0.01) << "b=" << b;
  }
}

TEST(PeriodicityTest, UndefinedCases) {
  std::vector<double> s = sinusoid(12, 3, 0.1);
  EXPECT_FALSE(periodPowerFraction(s, 1).has_value());
  EXPECT_FALSE(periodPowerFraction(s, 12).has_value());
  EXPECT_FALSE(periodPowerFraction(std::vector<double>(12, 0.25), 3));
  s[4] = std::nan("");
  EXPECT_FALSE(periodPowerFraction(s, 3).has_value());
}

TEST(PeriodicityTest, ReportDropsLayerZero) {
  // Layer 0 is huge; layers 1..12 are a pure period-3 sinusoid.
  std::vector<double> layers = sinusoid(12, 3, 0.3, 1.0, 0.1);
  JsonValue series = JsonValue::array();
  series.push(JsonValue::number(80.0));
  for (double x : layers)
    series.push(JsonValue::number(x));
  JsonValue residual = JsonValue::object();
  residual.set("rel_attn", series);
  residual.set("cos_mlp", JsonValue::array());
  JsonValue report = periodicityReport(residual, 3);
  EXPECT_EQ(report.find("period")->asDouble(), 3.0);
  const JsonValue *bySeries = report.find("series");
  EXPECT_NEAR(bySeries->find("rel_attn")->asDouble(), 1.0, 1e-12);
  EXPECT_TRUE(bySeries->find("cos_mlp")->isNull());
  EXPECT_TRUE(bySeries->find("rel_mlp")->isNull());
  EXPECT_TRUE(report.find("definition")->isString());
}

} // namespace
