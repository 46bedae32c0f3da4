//===- GrowthSchedule.cpp - the Prop-alpha gradual growth schedule --------===//
//
// Stage boundaries are rounded cumulative sums, so the stage lengths add up
// to exactly g·T (rounded) and the cooldown takes the rest of T.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/GrowthSchedule.h"
#include "growc/runtime/Text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

using namespace growc::rt;

double FlopModel::trainFlopsPerToken(int64_t layers) const {
  return 6.0 * (double(layers) * layerParams + double(headParams)) +
         12.0 * double(layers) * seqLen * attentionWidth;
}

StatusOr<GrowthSchedule>
growc::rt::planGrowthSchedule(const ScheduleOptions &opts) {
  auto error = [](const std::string &message) {
    return Status::error("growth schedule: " + message);
  };
  if (opts.totalSteps < 1)
    return error("total steps must be at least 1");
  if (opts.stages < 1)
    return error("stages must be at least 1");
  if (!(opts.alpha >= 0) || !std::isfinite(opts.alpha))
    return error("alpha must be a finite number >= 0");
  if (!(opts.growFraction > 0 && opts.growFraction <= 1))
    return error("grow fraction must be in (0, 1]");
  if (opts.startBlocks < 1 || opts.blockSize < 1)
    return error("start blocks and block size must be at least 1");

  GrowthSchedule schedule;
  schedule.options = opts;
  double weightSum = 0;
  for (int64_t j = 1; j <= opts.stages; ++j)
    weightSum += std::pow(double(j), opts.alpha);
  double growSteps = opts.growFraction * double(opts.totalSteps);
  double cumulative = 0;
  int64_t begin = 0;
  for (int64_t i = 1; i <= opts.stages; ++i) {
    cumulative += std::pow(double(i), opts.alpha);
    int64_t end = i == opts.stages
                      ? opts.totalSteps
                      : std::llround(growSteps * cumulative / weightSum);
    if (end <= begin)
      return error("stage " + std::to_string(i) +
                   " would get no steps; use more total steps or fewer "
                   "stages");
    int64_t blocks = opts.startBlocks + i - 1;
    schedule.stages.push_back({i, blocks, blocks * opts.blockSize, begin, end});
    begin = end;
  }
  for (const ScheduleStage &stage : schedule.stages)
    schedule.grownLayerSteps +=
        double(stage.endStep - stage.beginStep) * stage.layers;
  schedule.baselineLayerSteps =
      double(opts.totalSteps) * schedule.finalLayers();
  return schedule;
}

double GrowthSchedule::modelFlopSaving(const FlopModel &model) const {
  double grown = 0;
  for (const ScheduleStage &stage : stages)
    grown += double(stage.endStep - stage.beginStep) *
             model.trainFlopsPerToken(stage.layers);
  return double(options.totalSteps) * model.trainFlopsPerToken(finalLayers()) /
         grown;
}

const ScheduleStage &GrowthSchedule::stageAt(int64_t step) const {
  for (const ScheduleStage &stage : stages)
    if (step < stage.endStep)
      return stage;
  return stages.back();
}

std::string GrowthSchedule::format(const FlopModel *model) const {
  std::string out = printfString(
      "Prop-alpha growth schedule: %lld steps, %lld stages, alpha %.2f, "
      "grow fraction %.2f, block size %lld\n",
      (long long)options.totalSteps, (long long)options.stages, options.alpha,
      options.growFraction, (long long)options.blockSize);
  out += "stage  blocks  layers       begin         end       steps\n";
  for (const ScheduleStage &stage : stages)
    out += printfString("%5lld  %6lld  %6lld  %10lld  %10lld  %10lld\n",
                        (long long)stage.stage, (long long)stage.blocks,
                        (long long)stage.layers, (long long)stage.beginStep,
                        (long long)stage.endStep,
                        (long long)(stage.endStep - stage.beginStep));
  int64_t cooldownBegin =
      std::llround(options.growFraction * double(options.totalSteps));
  if (stages.size() > 1 || cooldownBegin < options.totalSteps)
    out += printfString(
        "growth after stages 1..%zu; steps [%lld, %lld) are the "
        "cooldown at full depth\n",
        stages.size() - 1,
        (long long)std::max(cooldownBegin, stages.back().beginStep),
        (long long)options.totalSteps);
  out += printfString("layer-FLOP saving vs the non-grown %lld-layer baseline: "
                      "%.3fx (%.0f vs %.0f layer-steps)\n",
                      (long long)finalLayers(), layerFlopSaving(),
                      grownLayerSteps, baselineLayerSteps);
  if (model)
    out +=
        printfString("training-FLOP saving with embedding/head and attention "
                     "at seq %lld: %.3fx\n",
                     (long long)model->seqLen, modelFlopSaving(*model));
  return out;
}
