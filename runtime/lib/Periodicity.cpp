//===- Periodicity.cpp - period-b power of per-layer series ---------------===//
//
// The period-b metric of SPEC.md §5.6's cyclical intra-block dynamics: the
// share of a per-layer series' variance carried by the sinusoid of period b
// (the block size). A least-squares fit rather than one DFT bin, so that it
// stays exact when b does not divide the series' length (a DFT or Goertzel
// power at a frequency between bins leaks into its neighbours, and a pure
// period-b signal would read less than 1); when b divides the length, the
// regressors are orthogonal and the fit is the DFT's +-n/b bins exactly.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Periodicity.h"

#include <cmath>

using namespace growc::rt;

const char *const growc::rt::kPeriodicityDefinition =
    "per series, layers 1..L-1 with the mean removed: the fraction of their "
    "variance (non-DC spectral power) in the least-squares sinusoid of period "
    "b = block_size (R^2; the DFT bins +-L'/b when b divides L' = L-1); null "
    "when b <= 1, b >= L' or the series is constant";

std::optional<double>
growc::rt::periodPowerFraction(const std::vector<double> &series,
                               int64_t period) {
  const int64_t n = int64_t(series.size());
  if (period <= 1 || period >= n)
    return std::nullopt;
  double mean = 0, scale = 0;
  for (double x : series) {
    if (!std::isfinite(x))
      return std::nullopt;
    mean += x;
    scale = std::max(scale, std::fabs(x));
  }
  mean /= double(n);
  std::vector<double> centred(n);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    centred[i] = series[i] - mean;
    total += centred[i] * centred[i];
  }
  // Constant up to rounding: the variance is noise of the mean's last bits.
  if (total <= double(n) * std::pow(1e-12 * std::max(scale, 1e-300), 2))
    return std::nullopt;
  // Gram-Schmidt of cos and sin of 2*pi*i/b against the constant and each
  // other; a regressor that vanishes (sin at b = 2) is dropped.
  const double pi = std::acos(-1.0);
  std::vector<std::vector<double>> basis;
  for (int k = 0; k < 2; ++k) {
    std::vector<double> v(n);
    double vmean = 0;
    for (int64_t i = 0; i < n; ++i) {
      double angle = 2 * pi * double(i % period) / double(period);
      v[i] = k == 0 ? std::cos(angle) : std::sin(angle);
      vmean += v[i];
    }
    vmean /= double(n);
    double raw = 0;
    for (double &x : v) {
      x -= vmean;
      raw += x * x;
    }
    for (const std::vector<double> &q : basis) {
      double c = 0;
      for (int64_t i = 0; i < n; ++i)
        c += v[i] * q[i];
      for (int64_t i = 0; i < n; ++i)
        v[i] -= c * q[i];
    }
    double norm2 = 0;
    for (double x : v)
      norm2 += x * x;
    if (norm2 <= 1e-20 * std::max(raw, double(n)))
      continue;
    for (double &x : v)
      x /= std::sqrt(norm2);
    basis.push_back(std::move(v));
  }
  double explained = 0;
  for (const std::vector<double> &q : basis) {
    double c = 0;
    for (int64_t i = 0; i < n; ++i)
      c += centred[i] * q[i];
    explained += c * c;
  }
  return std::min(1.0, explained / total);
}

JsonValue growc::rt::periodicityReport(const JsonValue &residual,
                                       int64_t period) {
  JsonValue series = JsonValue::object();
  for (const char *key :
       {"rel_attn", "rel_mlp", "rel_delta", "cos_attn", "cos_mlp"}) {
    std::vector<double> values;
    if (const JsonValue *array = residual.find(key); array && array->isArray())
      for (size_t l = 1; l < array->size(); ++l) {
        const JsonValue &v = array->elements()[l];
        values.push_back(v.isNumber() ? v.asDouble() : std::nan(""));
      }
    std::optional<double> p = periodPowerFraction(values, period);
    series.set(key, p ? JsonValue::number(*p) : JsonValue::null());
  }
  JsonValue result = JsonValue::object();
  result.set("period", JsonValue::number(period));
  result.set("series", std::move(series));
  result.set("definition", JsonValue::string(kPeriodicityDefinition));
  return result;
}
