//===- Periodicity.h - period-b power of per-layer series -------*- C++ -*-===//
//
// The period-b metric of the cyclical intra-block dynamics (SPEC.md §5.6,
// issue 17 item 4): how much of a per-layer residual-stream series
// (rel_attn, rel_mlp, ...) oscillates with the model's block size b.
// docs/analysis.md "Periodicity" states the definition.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_PERIODICITY_H
#define GROWC_RUNTIME_PERIODICITY_H

#include "growc/runtime/Json.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace growc::rt {

/// The fraction of the variance of `series` (its non-DC spectral power)
/// explained by the least-squares sinusoid of period `period` (cos and sin
/// of 2*pi*n/b, plus a constant): the R^2 of that fit. When b divides the
/// length n, it is exactly the fraction of the non-DC DFT power in the bins
/// +-n/b; otherwise it generalises them without leakage (a pure period-b
/// sinusoid of any phase gives 1). Empty when b <= 1, b >= n, a value is
/// not finite, or the series is constant.
std::optional<double> periodPowerFraction(const std::vector<double> &series,
                                          int64_t period);

/// The report's `periodicity` object: for each residual series of
/// `residual` (the per-layer arrays of analyzeCheckpoint's "residual"
/// object), periodPowerFraction of its layers 1..L-1 (layer 0's
/// contributions are 60-100x the others' and would swamp the spectrum).
JsonValue periodicityReport(const JsonValue &residual, int64_t period);

/// One line saying what periodicityReport measures.
extern const char *const kPeriodicityDefinition;

} // namespace growc::rt

#endif // GROWC_RUNTIME_PERIODICITY_H
