//===- TrainOptions.cpp - growc-run train's options and a resume's --------===//
//
// What a checkpoint records of a run's options and how --resume uses it
// (TrainOptions.h): the options that decide the result, as they take
// effect, compared by resolveResumedOptions (runtime/lib/TrainOutputs.cpp).
//
//===----------------------------------------------------------------------===//

#include "TrainOptions.h"

#include "growc/runtime/Json.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

namespace growc::rt {

/// The options a checkpoint records (docs/training.md): what decides the
/// run's result. Not recorded, so free to change on a resume: --stop-at,
/// --val-every, --val-data, --save-every, --keep-every, --threads, --device, --on-nonfinite,
/// the metrics, and the number of ranks as long as the global batch stays.
std::vector<RunOption> runOptionsOf(const TrainOptions &opts, const Plan &plan,
                                    int world) {
  std::vector<RunOption> options;
  auto add = [&](const char *name, JsonValue value) {
    auto it = opts.recorded.find(name);
    bool given = it != opts.recorded.end() && it->second->count() > 0;
    options.push_back({name, std::move(value), given, false});
  };
  add("steps", JsonValue::number(opts.steps));
  add("warmup", opts.warmup < 0 ? JsonValue::string("auto")
                                : JsonValue::number(opts.warmup));
  add("lr", JsonValue::number(opts.lr));
  add("seed", JsonValue::number(opts.seed));
  add("data", JsonValue::string(opts.data));
  // Absolute, so that a resume from another folder compares the same file
  // and `growc-run export` finds the tokenizer files to copy.
  add("tokenizer",
      opts.tokenizer.empty()
          ? JsonValue::null()
          : JsonValue::string(std::filesystem::absolute(opts.tokenizer)
                                  .lexically_normal()
                                  .string()));
  // The growth options as they take effect (all of ART's stages, its
  // block size), so that leaving one out records what giving it would.
  const PlanGrowth *growth = plan.growth ? &*plan.growth : nullptr;
  add("stages", JsonValue::number(opts.stages || !growth
                                      ? opts.stages
                                      : (long long)growth->stages.size()));
  add("alpha", JsonValue::number(opts.alpha));
  add("grow-fraction", JsonValue::number(opts.growFraction));
  add("block-size",
      JsonValue::number(opts.blockSize || !growth ? opts.blockSize
                                                  : growth->blockSize));
  add("zero-new-moments", JsonValue::boolean(opts.zeroNewMoments));
  // Rows per optimizer step over every rank and micro-batch, and the
  // sequence length: the artifact's and the job's, not flags.
  options.push_back({"global_batch",
                     JsonValue::number(plan.batch * plan.microBatches * world),
                     true, true});
  options.push_back({"seq", JsonValue::number(plan.seq), true, true});
  return options;
}

namespace {

/// Sets the options of `opts` from a resumed run's `options`.
void applyRunOptions(TrainOptions &opts,
                     const std::vector<RunOption> &options) {
  for (const RunOption &option : options) {
    const std::string &name = option.name;
    const JsonValue &value = option.value;
    if (name == "steps")
      opts.steps = value.asInt64().value_or(opts.steps);
    else if (name == "warmup")
      opts.warmup = value.isString() ? -1 : value.asInt64().value_or(-1);
    else if (name == "lr")
      opts.lr = value.asDouble();
    else if (name == "seed")
      opts.seed = (unsigned long long)value.asInt64().value_or(0);
    else if (name == "data")
      opts.data = value.asString();
    else if (name == "tokenizer")
      opts.tokenizer = value.isString() ? value.asString() : "";
    else if (name == "stages")
      opts.stages = value.asInt64().value_or(0);
    else if (name == "alpha")
      opts.alpha = value.asDouble();
    else if (name == "grow-fraction")
      opts.growFraction = value.asDouble();
    else if (name == "block-size")
      opts.blockSize = value.asInt64().value_or(0);
    else if (name == "zero-new-moments")
      opts.zeroNewMoments = value.asBool();
  }
}

} // namespace

/// A resumed run: the options its checkpoint recorded for those this
/// command leaves out, and an error for those it changes without
/// --override; says on stderr (rank 0) what it took. The checkpoint's step.
StatusOr<int64_t> resumeOptions(TrainOptions &opts, const Plan &plan,
                                const Checkpoint &checkpoint, int world,
                                bool leader, std::string &recordedText) {
  const TensorView *stepT = checkpoint.find("growc.train.step");
  if (!stepT || stepT->byteSize != 8)
    return Status::error(checkpoint.path() +
                         ": not a growc-run train checkpoint (it lacks "
                         "growc.train.step, .data_position or .seed)");
  int64_t step;
  std::memcpy(&step, stepT->data, 8);
  std::optional<JsonValue> recorded;
  for (const auto &[key, text] : checkpoint.metadata()) {
    if (key != kRunOptionsKey)
      continue;
    StatusOr<JsonValue> parsed = parseJson(text);
    if (!parsed.isOk() || !parsed->isObject())
      return Status::error(checkpoint.path() + ": its " + kRunOptionsKey +
                           " metadata is not a JSON object");
    recorded = std::move(*parsed);
  }
  std::vector<std::string> overrides;
  for (size_t begin = 0; begin < opts.overrides.size();) {
    size_t comma =
        std::min(opts.overrides.find(',', begin), opts.overrides.size());
    if (comma > begin)
      overrides.push_back(opts.overrides.substr(begin, comma - begin));
    begin = comma + 1;
  }
  StatusOr<ResumedOptions> resumed = resolveResumedOptions(
      recorded, runOptionsOf(opts, plan, world), overrides);
  if (!resumed.isOk())
    return resumed.status();
  applyRunOptions(opts, resumed->options);
  recordedText = toJson(runOptionsJson(resumed->options));
  auto named = [&](const std::vector<std::string> &names) {
    std::vector<RunOption> chosen;
    for (const RunOption &option : resumed->options)
      if (std::count(names.begin(), names.end(), option.name))
        chosen.push_back(option);
    return formatRunOptions(chosen);
  };
  if (leader && !recorded)
    std::fprintf(stderr,
                 "growc-run: %s records no run options (written by an "
                 "older growc-run); resuming with this command's\n",
                 checkpoint.path().c_str());
  if (leader && !resumed->taken.empty())
    std::fprintf(stderr,
                 "growc-run: resuming %s at step %lld with the run's %s\n",
                 checkpoint.path().c_str(), (long long)step,
                 named(resumed->taken).c_str());
  if (leader && !resumed->overridden.empty())
    std::fprintf(stderr, "growc-run: --override: now %s\n",
                 named(resumed->overridden).c_str());
  return step;
}

} // namespace growc::rt
