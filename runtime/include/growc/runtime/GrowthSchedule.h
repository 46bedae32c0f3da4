//===- GrowthSchedule.h - the Prop-alpha gradual growth schedule -*- C++
//-*-===//
//
// SPEC.md §3: k stages, stage i trains i blocks (start + i - 1 with a larger
// start) for T_i = g·T·i^α / Σ_j j^α steps; after stage k the rest of the
// budget runs at full depth. Lives in the runtime (no LLVM) because both
// sides need it: growc --print-schedule prints it, growc-run train follows
// it in a growth run.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_GROWTHSCHEDULE_H
#define GROWC_RUNTIME_GROWTHSCHEDULE_H

#include "growc/runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace growc::rt {

struct ScheduleOptions {
  int64_t totalSteps = 0;
  int64_t stages = 0;
  double alpha = 1.0;
  /// Fraction g of the budget spent growing; the rest is the cooldown.
  double growFraction = 0.8;
  int64_t startBlocks = 1;
  int64_t blockSize = 4;
};

/// Per-token training FLOPs of a model, for the whole-model comparison.
struct FlopModel {
  /// Parameters of one decoder layer (excluding norms is fine: they are
  /// negligible).
  int64_t layerParams = 0;
  /// FLOPs per token of the unembedding (vocab · hidden), 0 to ignore.
  int64_t headParams = 0;
  /// Attention FLOPs per token per layer grow with sequence length:
  /// 2 · seq · heads · head_dim multiply-adds forward.
  int64_t attentionWidth = 0;
  int64_t seqLen = 0;

  /// 6·(L·P + V·D) + 12·L·seq·heads·head_dim: forward + backward.
  double trainFlopsPerToken(int64_t layers) const;
};

struct ScheduleStage {
  int64_t stage; ///< 1-based
  int64_t blocks;
  int64_t layers;
  int64_t beginStep; ///< first step of the stage
  int64_t endStep;   ///< one past the last step
};

struct GrowthSchedule {
  ScheduleOptions options;
  std::vector<ScheduleStage> stages;
  /// Σ_i steps_i · layers_i and its non-grown counterpart T · L_final.
  double grownLayerSteps = 0, baselineLayerSteps = 0;

  int64_t finalLayers() const { return stages.back().layers; }
  /// Baseline / grown layer FLOPs (Prop-1: 1.29 for k = 6, g = 0.8).
  double layerFlopSaving() const {
    return baselineLayerSteps / grownLayerSteps;
  }
  /// Baseline / grown training FLOPs under `model`.
  double modelFlopSaving(const FlopModel &model) const;
  /// The stage that trains `step` (0-based step, 1-based stage).
  const ScheduleStage &stageAt(int64_t step) const;
  /// The schedule as a table, one stage per line.
  std::string format(const FlopModel *model = nullptr) const;
};

/// Fails with a message for bad options (no steps, stages < 1, alpha < 0,
/// grow fraction outside (0, 1], a stage that would get no steps).
StatusOr<GrowthSchedule> planGrowthSchedule(const ScheduleOptions &opts);

} // namespace growc::rt

#endif // GROWC_RUNTIME_GROWTHSCHEDULE_H
