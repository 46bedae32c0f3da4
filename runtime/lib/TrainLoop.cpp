//===- TrainLoop.cpp - The training loop over a train graph ---------------===//
//
// The loop of `growc-run train` (TrainLoop.h): where a run starts (a new
// run or a checkpoint's step, data position and growth stage), one
// optimizer step per iteration over the plan's micro-batches and this
// rank's rows of the global batch, growth steps at the schedule's
// boundaries, validation and checkpoints. Everything that makes a resumed
// run equal an uninterrupted one bit for bit lives here: the checkpoint
// holds the step, the data seed and the stream's position, and every rank
// draws the whole global batch from the stream so that its position stays
// global.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/TrainLoop.h"

#include "growc/runtime/ThreadPool.h"
#include "growc/runtime/TrainOutputs.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

namespace growc::rt {

//===----------------------------------------------------------------------===//
// Plans of a run
//===----------------------------------------------------------------------===//

namespace {

/// The layer count of parameter names model.layers.<i>.*: the largest i
/// plus one.
template <typename Range, typename NameOf>
int64_t layersNamedIn(const Range &tensors, NameOf nameOf) {
  int64_t layers = 0;
  const std::string prefix = "model.layers.";
  for (const auto &tensor : tensors) {
    const std::string &name = nameOf(tensor);
    if (name.compare(0, prefix.size(), prefix) == 0)
      layers = std::max<int64_t>(layers,
                                 std::atoll(name.c_str() + prefix.size()) + 1);
  }
  return layers;
}

} // namespace

int64_t countLayers(const Plan &plan) {
  return layersNamedIn(
      plan.params,
      [](const PlanParam &param) -> const auto & { return param.name; });
}

FlopModel flopModelOf(const Plan &plan) {
  FlopModel model;
  for (const PlanParam &param : plan.params) {
    if (param.name.rfind("model.layers.0.", 0) == 0)
      model.layerParams += param.numElements;
    if (param.name == "model.embed_tokens.weight")
      model.headParams = param.numElements;
    if (param.name == "model.layers.0.self_attn.q_proj.weight")
      model.attentionWidth = param.shape[0];
  }
  model.seqLen = plan.seq;
  return model;
}

StatusOr<std::vector<Plan>> loadGrowthStages(const Plan &first) {
  std::vector<Plan> plans{first};
  const PlanGrowth &growth = *first.growth;
  for (size_t i = 1; i < growth.stages.size(); ++i) {
    StatusOr<Plan> plan = loadPlan(growth.stages[i].planPath);
    if (!plan.isOk())
      return plan.status();
    if (plan->graph != first.graph || plan->target != first.target ||
        plan->batch != first.batch || plan->seq != first.seq ||
        plan->vocabSize != first.vocabSize)
      return Status::error(
          plan->path + ": stage " + std::to_string(i + 1) + " is not a " +
          first.graph + " graph for " + first.target + " of batch " +
          std::to_string(first.batch) + ", seq " + std::to_string(first.seq) +
          " and vocabulary " + std::to_string(first.vocabSize) + " like " +
          first.path);
    plans.push_back(std::move(*plan));
  }
  for (size_t i = 0; i < plans.size(); ++i)
    if (countLayers(plans[i]) != growth.stages[i].layers)
      return Status::error(plans[i].path + ": its model has " +
                           std::to_string(countLayers(plans[i])) +
                           " layers, the growth table of " + first.path +
                           " says stage " + std::to_string(i + 1) + " has " +
                           std::to_string(growth.stages[i].layers));
  if (growth.stages[0].layers % growth.blockSize != 0)
    return Status::error(
        first.path + ": stage 1's " + std::to_string(growth.stages[0].layers) +
        " layers are not whole blocks of " + std::to_string(growth.blockSize));
  return plans;
}

//===----------------------------------------------------------------------===//
// Data parallelism
//===----------------------------------------------------------------------===//

bool hasAllReduceSteps(const Plan &plan) {
  return std::any_of(
      plan.steps.begin(), plan.steps.end(),
      [](const PlanStep &step) { return step.op == PlanStep::Op::AllReduce; });
}

uint64_t hashBytes(const void *data, size_t bytes, uint64_t hash) {
  const auto *p = static_cast<const unsigned char *>(data);
  for (size_t i = 0; i < bytes; ++i) {
    hash ^= p[i];
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

uint64_t hashFile(const std::string &path, uint64_t hash) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return hashBytes(path.data(), path.size(), hash);
  char buffer[1 << 16];
  while (in) {
    in.read(buffer, sizeof buffer);
    hash = hashBytes(buffer, size_t(in.gcount()), hash);
  }
  return hash;
}

Status agreeWithRankZero(Collective &collective, uint64_t fingerprint,
                         const std::string &what) {
  uint64_t rankZero = fingerprint;
  if (Status s = collective.broadcast(&rankZero, sizeof rankZero, 0); !s.isOk())
    return s;
  double differing = rankZero == fingerprint ? 0 : 1;
  if (Status s = collective.allReduce(&differing, 1, ReduceOp::Sum); !s.isOk())
    return s;
  if (differing == 0)
    return Status::ok();
  if (rankZero != fingerprint)
    return Status::error("rank " + std::to_string(collective.rank()) + "'s " +
                         what + " differ from rank 0's");
  return Status::error(std::to_string(int(differing)) + " of " +
                       std::to_string(collective.size()) + " ranks' " + what +
                       " differ from rank 0's");
}

int threadsPerRank(const Collective &collective) {
  if (const char *env = std::getenv("GROWC_NUM_THREADS"); env && *env)
    return ThreadPool::defaultThreads();
  unsigned cores = std::thread::hardware_concurrency();
  int perRank = int(std::max(1u, cores) / unsigned(collective.localSize()));
  return std::clamp(perRank, 1, 1024);
}

//===----------------------------------------------------------------------===//
// The loop
//===----------------------------------------------------------------------===//

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// One invocation of the loop: the state that checkpoints save and the
/// executor of the current stage.
class TrainLoop {
public:
  TrainLoop(const TrainPlans &plans, const ExecutorFactory &makeExecutor,
            const DataOpener &openData, Collective &collective,
            const TrainLoopOptions &options, const TrainCallbacks &callbacks)
      : plans(plans), makeExecutorFn(makeExecutor), openData(openData),
        collective(collective), options(options), callbacks(callbacks),
        rank(collective.rank()), world(collective.size()),
        batch(plans.stages[0].batch), seq(plans.stages[0].seq) {}

  StatusOr<TrainSummary> run(const Checkpoint &start);

private:
  /// A rank's own failure: returned on one rank; with several, reported
  /// and the job ended (the others would wait at the next collective).
  Status fatal(const Status &status);
  StatusOr<std::unique_ptr<Executor>> makeExecutor(const Plan &plan);
  Status startFrom(const Checkpoint &start);
  Status checkRanksAgree();
  StatusOr<uint64_t> paramsHash();
  /// Writes the loop's state to options.out and, when `keptPath` is not
  /// empty, to that file as well (--keep-every's copies).
  Status save(bool toOut = true, const std::string &keptPath = "");
  Status growIfDue();
  /// One optimizer step's global loss, whether it was non-finite and its
  /// global gradient norm (where the plan outputs it).
  struct StepResult {
    double loss = 0;
    bool nonfinite = false;
    std::optional<double> gradNorm;
  };
  StatusOr<StepResult> trainOneStep(double rate);
  /// The error that ends a run at non-finite step(s) `from`..step+1.
  Status nonfiniteStop(const StepResult &result, int64_t from) const;
  StatusOr<double> validationLoss();
  TensorView view(std::vector<int32_t> &values) const;
  void skipBatches(TokenStream &from, int64_t count);

  const TrainPlans &plans;
  const ExecutorFactory &makeExecutorFn;
  const DataOpener &openData;
  Collective &collective;
  const TrainLoopOptions &options;
  const TrainCallbacks &callbacks;
  const int rank, world;
  const int64_t batch, seq;

  std::unique_ptr<Executor> exec;
  std::unique_ptr<TokenStream> stream, validation;
  /// 1-based growth stage; 0-based next step to run.
  int64_t stage = 1, step = 0, firstStep = 0, warmup = 0;
  uint64_t seed = 0, position = 0;
  std::vector<int32_t> tokens, targets, skippedTokens, skippedTargets;
  TrainSummary summary;
  /// The newest checkpoint of the run (the resumed one until this
  /// invocation writes one) and its step; empty: none.
  std::string lastCheckpoint;
  int64_t lastCheckpointStep = 0;
};

Status TrainLoop::fatal(const Status &status) {
  if (world == 1)
    return status;
  std::string message = "rank " + std::to_string(rank) + " of " +
                        std::to_string(world) + ": " + status.message();
  if (callbacks.onFatal)
    callbacks.onFatal(message);
  collective.abort(1);
}

StatusOr<std::unique_ptr<Executor>> TrainLoop::makeExecutor(const Plan &plan) {
  StatusOr<std::unique_ptr<Executor>> made = makeExecutorFn(plan);
  if (made.isOk())
    (*made)->setCollective(&collective);
  return made;
}

TensorView TrainLoop::view(std::vector<int32_t> &values) const {
  return TensorView{"",
                    DType::I32,
                    {batch, seq},
                    reinterpret_cast<const uint8_t *>(values.data()),
                    values.size() * 4};
}

// Rank r's rows of a global batch: rank r takes micro-batches
// [r·M, (r+1)·M) of the world·M micro-batches of B rows that one optimizer
// step draws from the stream (every rank draws them all, keeps its own), so
// the stream's position stays global.
void TrainLoop::skipBatches(TokenStream &from, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    from.nextBatch(batch, seq, skippedTokens.data(), skippedTargets.data());
}

/// Where the run starts: step 0 of a new run, or a checkpoint's step, data
/// seed, position and growth stage (so that it continues bit-identically).
Status TrainLoop::startFrom(const Checkpoint &start) {
  const std::vector<Plan> &stagePlans = plans.stages;
  const TensorView *stageT = start.find("growc.train.stage");
  if (stageT || stagePlans.size() > 1) {
    if (stageT && stageT->byteSize != 8)
      return Status::error(start.path() +
                           ": growc.train.stage is not one int64");
    if (stageT) {
      std::memcpy(&stage, stageT->data, 8);
    } else {
      // A checkpoint from outside this run (say, grown by growc between
      // two runs): the stage whose model has its layers.
      int64_t layers = layersNamedIn(
          start.tensors(),
          [](const TensorView &t) -> const auto & { return t.name; });
      for (size_t i = 0; i < stagePlans.size(); ++i)
        if (countLayers(stagePlans[i]) == layers)
          stage = int64_t(i) + 1;
    }
    if (stage != 1 && (stage < 1 || stage > int64_t(stagePlans.size())))
      return Status::error(
          start.path() + ": a checkpoint of growth stage " +
          std::to_string(stage) + ", but this run has " +
          std::to_string(std::max<size_t>(1, stagePlans.size())) + " stage(s)");
    if (stage > 1) {
      exec.reset(); // one stage's arena on the device at a time
      StatusOr<std::unique_ptr<Executor>> executor =
          makeExecutor(stagePlans[stage - 1]);
      if (!executor.isOk())
        return executor.status();
      exec = std::move(*executor);
    }
  }
  if (Status status = exec->loadParams(start); !status.isOk())
    return status;
  seed = options.seed;
  if (options.resume) {
    const TensorView *stepT = start.find("growc.train.step");
    const TensorView *positionT = start.find("growc.train.data_position");
    const TensorView *seedT = start.find("growc.train.seed");
    for (const TensorView *t : {stepT, positionT, seedT})
      if (!t || t->byteSize != 8)
        return Status::error(start.path() +
                             ": not a growc-run train checkpoint (it lacks "
                             "growc.train.step, .data_position or .seed)");
    std::memcpy(&firstStep, stepT->data, 8);
    std::memcpy(&position, positionT->data, 8);
    if (!options.overrideSeed)
      std::memcpy(&seed, seedT->data, 8);
    lastCheckpoint = start.path();
    lastCheckpointStep = firstStep;
    if (firstStep >= options.steps)
      return Status::error(start.path() + ": the checkpoint is at step " +
                           std::to_string(firstStep) + ", not before --steps " +
                           std::to_string(options.steps));
  }
  StatusOr<std::unique_ptr<TokenStream>> opened =
      openData(seed, /*validation=*/false);
  if (!opened.isOk())
    return opened.status();
  stream = std::move(*opened);
  stream->seek(position);
  opened = openData(seed ^ 0x5eedULL, /*validation=*/true);
  if (!opened.isOk())
    return opened.status();
  validation = std::move(*opened);
  warmup = options.warmup >= 0 ? options.warmup
                               : std::min<int64_t>(10, options.steps / 10);
  step = firstStep;
  return Status::ok();
}

StatusOr<uint64_t> TrainLoop::paramsHash() {
  StatusOr<std::vector<TensorToWrite>> params = exec->readParams();
  if (!params.isOk())
    return params.status();
  uint64_t hash = hashBytes(nullptr, 0);
  for (const TensorToWrite &t : *params)
    hash = hashBytes(t.data, t.byteSize, hash);
  return hash;
}

// Every rank must run the same plans and schedule from the same state: the
// collectives only line up if they do, and the replicas only stay equal if
// they start equal. Both failures are every rank's, returned together.
Status TrainLoop::checkRanksAgree() {
  uint64_t hash = hashFile(exec->plan().path, hashBytes(nullptr, 0));
  for (const Plan &stagePlan : plans.stages)
    hash = hashFile(stagePlan.path, hash);
  char text[512];
  std::snprintf(text, sizeof text,
                "%lld %lld %lld %lld %lld %llu %.17g %d %lld %llu %lld",
                (long long)options.steps, (long long)warmup,
                (long long)options.valEvery, (long long)options.saveEvery,
                (long long)options.stopAt, (unsigned long long)seed, options.lr,
                int(options.zeroNewMoments), (long long)firstStep,
                (unsigned long long)position, (long long)stage);
  hash = hashBytes(text, std::strlen(text), hash);
  hash =
      hashBytes(options.fingerprint.data(), options.fingerprint.size(), hash);
  if (Status s = agreeWithRankZero(collective, hash,
                                   "plans, data or training options");
      !s.isOk())
    return s;
  StatusOr<uint64_t> startHash = paramsHash();
  if (!startHash.isOk())
    return fatal(startHash.status());
  if (Status s = agreeWithRankZero(collective, *startHash, "starting weights");
      !s.isOk())
    return Status::error(s.message() + " (every rank must start from the same "
                                       "--weights or --resume checkpoint)");
  return Status::ok();
}

/// A checkpoint at `step` (the next step to run) to options.out.
Status TrainLoop::save(bool toOut, const std::string &keptPath) {
  StatusOr<std::vector<TensorToWrite>> params = exec->readParams();
  if (!params.isOk())
    return params.status();
  std::vector<TensorToWrite> tensors = std::move(*params);
  int64_t savedStep = step;
  uint64_t savedPosition = stream->position(), savedSeed = seed;
  tensors.push_back({"growc.train.step", DType::I64, {1}, &savedStep, 8});
  tensors.push_back(
      {"growc.train.data_position", DType::U64, {1}, &savedPosition, 8});
  tensors.push_back({"growc.train.seed", DType::U64, {1}, &savedSeed, 8});
  int64_t savedStage = stage;
  if (plans.schedule)
    tensors.push_back({"growc.train.stage", DType::I64, {1}, &savedStage, 8});
  // Every rank holds the same model; rank 0 writes it, after checking that
  // the replicas are still equal (they are, bit for bit, unless a
  // collective returned different bits to different ranks).
  if (world > 1) {
    StatusOr<uint64_t> hash = paramsHash();
    if (!hash.isOk())
      return hash.status();
    if (Status s = agreeWithRankZero(
            collective, *hash, "weights after step " + std::to_string(step));
        !s.isOk())
      return Status::error("the replicas diverged: " + s.message());
  }
  if (callbacks.beforeCheckpoint)
    if (Status s = callbacks.beforeCheckpoint(step); !s.isOk())
      return s;
  if (rank != 0)
    return Status::ok();
  std::vector<std::pair<std::string, std::string>> metadata;
  if (!options.runOptions.empty())
    metadata.emplace_back(kRunOptionsKey, options.runOptions);
  if (options.trainedContext > 0)
    metadata.emplace_back(kTrainedContextKey,
                          std::to_string(options.trainedContext));
  if (!keptPath.empty())
    if (Status s = writeSafetensors(keptPath, tensors, metadata); !s.isOk())
      return s;
  if (!toOut)
    return Status::ok();
  if (Status s = writeSafetensors(options.out, tensors, metadata); !s.isOk())
    return s;
  lastCheckpoint = options.out;
  lastCheckpointStep = step;
  return Status::ok();
}

/// Moves to the next growth stage(s) whose boundary `step` has reached.
Status TrainLoop::growIfDue() {
  const std::optional<GrowthSchedule> &schedule = plans.schedule;
  const std::vector<Plan> &stagePlans = plans.stages;
  while (schedule && stage < int64_t(stagePlans.size()) &&
         step >= schedule->stages[stage - 1].endStep) {
    StatusOr<std::unique_ptr<Executor>> next = makeExecutor(stagePlans[stage]);
    if (!next.isOk())
      return next.status();
    StatusOr<MigrationReport> moved =
        (*next)->migrateFrom(*exec, options.zeroNewMoments);
    if (!moved.isOk())
      return moved.status();
    if (callbacks.onGrow) {
      GrowthStepReport report;
      report.afterStep = step;
      report.stage = stage + 1;
      report.stages = int64_t(stagePlans.size());
      report.fromLayers = schedule->stages[stage - 1].layers;
      report.toLayers = schedule->stages[stage].layers;
      report.migration = *moved;
      callbacks.onGrow(report);
    }
    exec = std::move(*next);
    ++stage;
  }
  return Status::ok();
}

/// One optimizer step: the plan's micro-batches, the last one applying the
/// accumulated gradient (a plain train graph has one); the global loss and
/// the graph's `nonfinite` flag and `grad_norm` of the applying
/// micro-batch, which are already global (the graph reduces them over the
/// ranks). On the GPU they come back in the copy that brings the loss
/// back, which every step waits for anyway: no extra synchronization.
StatusOr<TrainLoop::StepResult> TrainLoop::trainOneStep(double rate) {
  const int64_t micro = exec->plan().microBatches;
  double loss = 0;
  bool flagged = false;
  std::optional<double> gradNorm;
  skipBatches(*stream, rank * micro);
  for (int64_t k = 0; k < micro; ++k) {
    stream->nextBatch(batch, seq, tokens.data(), targets.data());
    TensorView tokenView = view(tokens), targetView = view(targets);
    std::map<std::string, float> scalars = {{"lr", float(rate)},
                                            {"step", float(step + 1)}};
    if (micro > 1)
      scalars["apply"] = k + 1 == micro ? 1.0f : 0.0f;
    auto outputs =
        exec->trainStep(tokenView, targetView, scalars, /*commit=*/true);
    if (!outputs.isOk())
      return outputs.status();
    loss += outputs->at("loss").data[0] / double(micro);
    // Plans compiled before the flag existed lack it: the loss alone.
    if (auto flag = outputs->find("nonfinite");
        flag != outputs->end() && k + 1 == micro)
      flagged = flag->second.data[0] > 0.5f;
    if (auto norm = outputs->find("grad_norm");
        norm != outputs->end() && k + 1 == micro)
      gradNorm = norm->second.data[0];
  }
  skipBatches(*stream, (world - 1 - rank) * micro);
  // The mean of the ranks' losses (equally weighted, like the gradients
  // they average).
  if (Status status = collective.allReduce(&loss, 1, ReduceOp::Mean);
      !status.isOk())
    return status;
  return StepResult{loss, flagged || !std::isfinite(loss), gradNorm};
}

Status TrainLoop::nonfiniteStop(const StepResult &result, int64_t from) const {
  char what[160];
  if (std::isnan(result.loss))
    std::snprintf(what, sizeof what, "the loss is nan");
  else if (!std::isfinite(result.loss))
    std::snprintf(what, sizeof what, "the loss is %s",
                  result.loss > 0 ? "inf" : "-inf");
  else
    std::snprintf(what, sizeof what,
                  "the gradient norm is NaN or Inf (the loss is %g)",
                  result.loss);
  std::string message =
      from == step + 1
          ? "step " + std::to_string(step + 1) + ": " + what
          : "steps " + std::to_string(from) + ".." + std::to_string(step + 1) +
                ": " + std::to_string(step + 2 - from) +
                " non-finite steps in a row, skipped (at the last, " + what +
                ")";
  message += "; stopping.";
  if (!lastCheckpoint.empty())
    message += " The last checkpoint, " + lastCheckpoint + " at step " +
               std::to_string(lastCheckpointStep) + ", is kept.";
  else
    message += " No checkpoint was written (--save-every K writes one every "
               "K steps).";
  return Status::error(message);
}

/// The step graph with learning rate 0 and its outputs not committed: the
/// loss of held-out batches at the current weights. With several ranks,
/// rank r scores batch r of `world` held-out batches, without
/// communicating: nothing is applied.
StatusOr<double> TrainLoop::validationLoss() {
  std::vector<int32_t> vt(batch * seq), vy(batch * seq);
  skipBatches(*validation, rank);
  validation->nextBatch(batch, seq, vt.data(), vy.data());
  skipBatches(*validation, world - 1 - rank);
  TensorView vtView = view(vt), vyView = view(vy);
  std::map<std::string, float> scalars = {{"lr", 0.0f},
                                          {"step", float(step + 1)}};
  if (exec->plan().microBatches > 1)
    scalars["apply"] = 0.0f;
  exec->setCollective(nullptr);
  auto val = exec->trainStep(vtView, vyView, scalars, /*commit=*/false);
  exec->setCollective(&collective);
  if (!val.isOk())
    return val.status();
  double valLoss = val->at("loss").data[0];
  if (Status status = collective.allReduce(&valLoss, 1, ReduceOp::Mean);
      !status.isOk())
    return status;
  return valLoss;
}

StatusOr<TrainSummary> TrainLoop::run(const Checkpoint &start) {
  const std::vector<Plan> &stagePlans = plans.stages;
  if (world > 1)
    for (const Plan &plan : stagePlans)
      if (!hasAllReduceSteps(plan))
        return fatal(Status::error(
            plan.path + " has no all_reduce steps (compiled by a growc "
                        "without data parallelism), so its ranks would "
                        "never average their gradients; recompile it with "
                        "growc --graph=train"));
  {
    StatusOr<std::unique_ptr<Executor>> executor = makeExecutor(stagePlans[0]);
    if (!executor.isOk())
      return fatal(executor.status());
    exec = std::move(*executor);
  }
  if (Status status = startFrom(start); !status.isOk())
    return fatal(status);
  if (world > 1)
    if (Status status = checkRanksAgree(); !status.isOk())
      return status;

  tokens.resize(batch * seq);
  targets.resize(batch * seq);
  skippedTokens.resize(batch * seq);
  skippedTargets.resize(batch * seq);
  const int64_t steps = options.steps;
  const int64_t lastStep =
      options.stopAt > 0 ? std::min(options.stopAt, steps) : steps;
  summary.firstStep = firstStep;
  summary.lastStep = lastStep;
  summary.stageSeconds.assign(stagePlans.size() + 1, 0.0);
  summary.stageSteps.assign(stagePlans.size() + 1, 0);
  Clock::time_point began = Clock::now();
  int64_t inARow = 0; // non-finite steps up to this one
  for (; step < lastStep; ++step) {
    if (Status status = growIfDue(); !status.isOk())
      return fatal(status);
    Clock::time_point stepBegan = Clock::now();
    TrainStepReport report;
    report.lr = wsdLearningRate(step, steps, warmup, options.lr);
    StatusOr<StepResult> result = trainOneStep(report.lr);
    if (!result.isOk())
      return fatal(result.status());
    report.loss = result->loss;
    report.nonfinite = result->nonfinite;
    report.gradNorm = result->gradNorm;
    if (result->nonfinite) {
      ++summary.skippedSteps;
      ++inARow;
    } else {
      inARow = 0;
    }
    report.skippedSteps = summary.skippedSteps;
    if (step == firstStep)
      summary.firstLoss = report.loss;
    summary.lastLoss = report.loss;
    // This optimizer step's wall time (data, every micro-batch, the loss's
    // reduction; not validation): what benchmarks read.
    report.stepSeconds = secondsSince(stepBegan);
    summary.stageSeconds[stage] += report.stepSeconds;
    ++summary.stageSteps[stage];
    double seconds = secondsSince(began);
    report.stepTokens = batch * seq * exec->plan().microBatches * world;
    report.tokensPerSecond = double(step + 1 - firstStep) *
                             double(report.stepTokens) /
                             std::max(seconds, 1e-9);
    report.flopsPerToken =
        flopModelOf(exec->plan()).trainFlopsPerToken(countLayers(exec->plan()));
    report.elapsedSeconds = seconds;
    if (validation && options.valEvery > 0 &&
        (step + 1) % options.valEvery == 0 && !result->nonfinite) {
      StatusOr<double> valLoss = validationLoss();
      if (!valLoss.isOk())
        return fatal(valLoss.status());
      report.valLoss = *valLoss;
    }
    if (plans.schedule)
      report.layers = plans.schedule->stages[stage - 1].layers;
    report.step = step + 1;
    report.totalSteps = steps;
    report.etaSeconds =
        seconds / double(step + 1 - firstStep) * double(steps - step - 1);
    if (callbacks.onStep)
      callbacks.onStep(report);
    if (callbacks.record)
      if (Status status = callbacks.record(report); !status.isOk())
        return fatal(status);
    // Every rank decides alike: the loss and the flag are global.
    if (result->nonfinite && (options.onNonfinite == NonfinitePolicy::Stop ||
                              inARow >= options.maxSkippedInARow))
      return nonfiniteStop(*result, step + 2 - inARow);
    bool due = options.saveEvery > 0 && (step + 1) % options.saveEvery == 0;
    bool keep = options.keepEvery > 0 && (step + 1) % options.keepEvery == 0;
    if ((due || keep) && step + 1 < steps) {
      ++step; // the checkpoint is at the next step to run
      Status status =
          save(due, keep ? keptCheckpointPath(options.out, step) : "");
      --step;
      if (!status.isOk())
        return fatal(status);
    }
  }
  if (Status status = save(); !status.isOk())
    return fatal(status);
  return summary;
}

} // namespace

std::string keptCheckpointPath(const std::string &out, int64_t step) {
  static const std::string suffix = ".safetensors";
  std::string tag = ".step" + std::to_string(step);
  if (out.size() > suffix.size() &&
      out.compare(out.size() - suffix.size(), suffix.size(), suffix) == 0)
    return out.substr(0, out.size() - suffix.size()) + tag + suffix;
  return out + tag;
}

StatusOr<TrainSummary>
runTrainLoop(const TrainPlans &plans, const Checkpoint &start,
             const ExecutorFactory &makeExecutor, const DataOpener &openData,
             Collective &collective, const TrainLoopOptions &options,
             const TrainCallbacks &callbacks) {
  if (plans.stages.empty())
    return Status::error("a training run needs a train plan");
  TrainLoop loop(plans, makeExecutor, openData, collective, options, callbacks);
  return loop.run(start);
}

} // namespace growc::rt
