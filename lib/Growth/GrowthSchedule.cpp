//===- GrowthSchedule.cpp - the Prop-alpha gradual growth schedule --------===//
//
// Stage boundaries are rounded cumulative sums, so the stage lengths add up
// to exactly g·T (rounded) and the cooldown takes the rest of T.
//
//===----------------------------------------------------------------------===//

#include "growc/Growth/GrowthSchedule.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace growc;

double FlopModel::trainFlopsPerToken(int64_t layers) const {
  return 6.0 * (double(layers) * layerParams + double(headParams)) +
         12.0 * double(layers) * seqLen * attentionWidth;
}

llvm::Expected<GrowthSchedule>
growc::planGrowthSchedule(const ScheduleOptions &opts) {
  auto error = [](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "growth schedule: " + message);
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
      return error(llvm::formatv("stage {0} would get no steps; use more "
                                 "total steps or fewer stages",
                                 i)
                       .str());
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

std::string GrowthSchedule::format(const FlopModel *model) const {
  std::string out;
  llvm::raw_string_ostream os(out);
  os << llvm::formatv("Prop-alpha growth schedule: {0} steps, {1} stages, "
                      "alpha {2}, grow fraction {3}, block size {4}\n",
                      options.totalSteps, options.stages, options.alpha,
                      options.growFraction, options.blockSize);
  os << "stage  blocks  layers       begin         end       steps\n";
  for (const ScheduleStage &stage : stages)
    os << llvm::formatv("{0,5}  {1,6}  {2,6}  {3,10}  {4,10}  {5,10}\n",
                        stage.stage, stage.blocks, stage.layers,
                        stage.beginStep, stage.endStep,
                        stage.endStep - stage.beginStep);
  int64_t cooldownBegin =
      std::llround(options.growFraction * double(options.totalSteps));
  if (stages.size() > 1 || cooldownBegin < options.totalSteps)
    os << llvm::formatv("growth after stages 1..{0}; steps [{1}, {2}) are the "
                        "cooldown at full depth\n",
                        stages.size() - 1,
                        std::max(cooldownBegin, stages.back().beginStep),
                        options.totalSteps);
  os << llvm::formatv("layer-FLOP saving vs the non-grown {0}-layer baseline: "
                      "{1:F3}x ({2:F0} vs {3:F0} layer-steps)\n",
                      finalLayers(), layerFlopSaving(), grownLayerSteps,
                      baselineLayerSteps);
  if (model)
    os << llvm::formatv("training-FLOP saving with embedding/head and "
                        "attention at seq {0}: {1:F3}x\n",
                        model->seqLen, modelFlopSaving(*model));
  return out;
}
