//===- TrainLoop.h - The training loop over a train graph -------*- C++ -*-===//
//
// What `growc-run train` runs, as a library: steps of a train graph on
// batches of a token stream with a warmup-stable-decay learning rate,
// validation loss, atomic checkpoints that resume bit for bit, growth
// stages that migrate the training state into the next stage's model, and
// data parallelism over a Collective (docs/training.md). The caller loads
// the plans, chooses the executors (CPU or GPU) and the data, and prints;
// the loop reports each step, each growth step and its totals through
// callbacks and a summary.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TRAINLOOP_H
#define GROWC_RUNTIME_TRAINLOOP_H

#include "growc/runtime/Checkpoint.h"
#include "growc/runtime/Collective.h"
#include "growc/runtime/Data.h"
#include "growc/runtime/Executor.h"
#include "growc/runtime/GrowthSchedule.h"
#include "growc/runtime/Plan.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Status.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace growc::rt {

//===----------------------------------------------------------------------===//
// Plans of a run
//===----------------------------------------------------------------------===//

/// Decoder layers of a plan's model: parameters model.layers.<i>.*.
int64_t countLayers(const Plan &plan);

/// Training FLOPs per token of `plan`'s model (GrowthSchedule's model:
/// layer parameters, the unembedding, attention at the compiled length).
FlopModel flopModelOf(const Plan &plan);

/// The plans of a growth run's stages (stage 1 = `first`), each checked to
/// be a train graph of the same shape with the layer count its stage entry
/// says, so that a broken stage fails before the first step, not hours in.
StatusOr<std::vector<Plan>> loadGrowthStages(const Plan &first);

/// What a run moves through: one plan, or every growth stage's plan (stage
/// 1 first) with the schedule that says when to move on.
struct TrainPlans {
  std::vector<Plan> stages;
  std::optional<GrowthSchedule> schedule;
};

//===----------------------------------------------------------------------===//
// Data parallelism
//===----------------------------------------------------------------------===//

/// Whether `plan` has all_reduce steps (compiled by a growc that knows
/// data parallelism); every train plan of this growc has.
bool hasAllReduceSteps(const Plan &plan);

/// FNV-1a, 64 bits: a fingerprint of bytes, chained through `hash`.
uint64_t hashBytes(const void *data, size_t bytes,
                   uint64_t hash = 0xcbf29ce484222325ULL);
/// The bytes of the file at `path` chained into `hash`; an unreadable file
/// hashes its name only (loading it has already failed or will).
uint64_t hashFile(const std::string &path, uint64_t hash);

/// Every rank compares its `fingerprint` of `what` with rank 0's. Ok when
/// all agree; otherwise every rank returns an error (the differing ones
/// say so, rank 0 counts them), so that the job stops together.
Status agreeWithRankZero(Collective &collective, uint64_t fingerprint,
                         const std::string &what);

/// Threads for one rank's executor when none are asked for:
/// GROWC_NUM_THREADS, else the cores shared by the ranks on this machine.
int threadsPerRank(const Collective &collective);

//===----------------------------------------------------------------------===//
// The loop
//===----------------------------------------------------------------------===//

/// What the loop does at a step whose loss or global gradient norm is NaN
/// or Inf (the train graph's `nonfinite` output; the graph has already
/// left the weights and moments as they were).
enum class NonfinitePolicy {
  /// End the run with an error naming the step; no checkpoint is written
  /// after it, so the last one stays the last good state.
  Stop,
  /// Count it and go on with the next batch; a run of
  /// TrainLoopOptions::maxSkippedInARow such steps ends the run.
  Skip,
};

struct TrainLoopOptions {
  /// Length of the learning-rate (and growth) schedule.
  int64_t steps = 0;
  /// Warmup steps; negative: min(10, steps / 10).
  int64_t warmup = -1;
  /// Peak learning rate.
  double lr = 3e-3;
  /// Validation loss every K steps, a checkpoint every K steps (0: never).
  int64_t valEvery = 0, saveEvery = 0;
  /// Also keep a copy of the checkpoint every K steps (0: never), at
  /// keptCheckpointPath(out, step): the points a study scores later.
  int64_t keepEvery = 0;
  /// End after this step of the schedule (0: at its end), as a preemption
  /// would; the checkpoint then resumes where it stopped.
  int64_t stopAt = 0;
  /// The data seed of a new run (a resumed run takes its checkpoint's).
  uint64_t seed = 0;
  /// Whether the start file is a checkpoint of this loop to continue.
  bool resume = false;
  /// A resumed run takes its checkpoint's data seed unless this is set
  /// (--override seed).
  bool overrideSeed = false;
  NonfinitePolicy onNonfinite = NonfinitePolicy::Stop;
  int64_t maxSkippedInARow = 10;
  /// Recorded in every checkpoint's metadata under kRunOptionsKey
  /// (TrainOutputs.h): the run's options as a JSON object.
  std::string runOptions;
  /// Recorded in every checkpoint's metadata under kTrainedContextKey
  /// (TrainOutputs.h) when positive: the longest sequence the weights
  /// were trained at.
  int64_t trainedContext = 0;
  /// Inserted copies start with zero AdamW moments at a growth step.
  bool zeroNewMoments = false;
  /// Where checkpoints go (written by rank 0, atomically).
  std::string out;
  /// Whatever else every rank must agree on (the data spec, the growth
  /// options), hashed with the options above.
  std::string fingerprint;
};

/// One optimizer step, as the loop saw it.
struct TrainStepReport {
  int64_t step = 0;       ///< 1-based: steps done so far
  int64_t totalSteps = 0; ///< the schedule's length
  double loss = 0;        ///< mean over micro-batches and ranks
  double lr = 0;
  /// The global gradient norm before clipping (the train graph's
  /// `grad_norm`: of the accumulated, reduced gradient, NaN or Inf where
  /// it is); none for a plan compiled before the output existed.
  std::optional<double> gradNorm;
  double tokensPerSecond = 0; ///< over this invocation, all ranks
  double stepSeconds = 0;     ///< this step: data, micro-batches, loss
  /// Tokens of this step (all ranks and micro-batches): batch · seq ·
  /// micro-batches · ranks.
  int64_t stepTokens = 0;
  /// Training FLOPs per token of the model this step trained (FlopModel:
  /// 6·N + 12·L·T·d_attn), for achieved TFLOP/s and MFU.
  double flopsPerToken = 0;
  double elapsedSeconds = 0; ///< since this invocation's first step began
  double etaSeconds = 0;     ///< to the end of the schedule
  std::optional<double> valLoss;
  /// The model's layers in a growth run.
  std::optional<int64_t> layers;
  /// The loss or the global gradient norm was NaN or Inf: the step
  /// changed nothing.
  bool nonfinite = false;
  /// Non-finite steps skipped so far in this invocation (policy Skip).
  int64_t skippedSteps = 0;
};

/// A growth step inside the run.
struct GrowthStepReport {
  int64_t afterStep = 0; ///< steps done before it
  int64_t stage = 0;     ///< the stage it moved to (1-based)
  int64_t stages = 0;
  int64_t fromLayers = 0, toLayers = 0;
  MigrationReport migration;
};

/// What a run did in this invocation.
struct TrainSummary {
  int64_t firstStep = 0; ///< 0-based step it started at
  int64_t lastStep = 0;  ///< steps done when it ended
  double firstLoss = 0, lastLoss = 0;
  int64_t skippedSteps = 0;
  /// Wall time and steps per stage (index = 1-based stage), for the
  /// growth-compute report.
  std::vector<double> stageSeconds;
  std::vector<int64_t> stageSteps;
};

struct TrainCallbacks {
  std::function<void(const TrainStepReport &)> onStep;
  /// Records a step (the metrics); an error ends the run.
  std::function<Status(const TrainStepReport &)> record;
  /// Before each checkpoint is written, at `step` steps done (the metrics
  /// are synced to disk here, so that they hold every step the checkpoint
  /// holds); an error ends the run.
  std::function<Status(int64_t step)> beforeCheckpoint;
  std::function<void(const GrowthStepReport &)> onGrow;
  /// A rank of a multi-rank run failed with this message ("rank R of W:
  /// ..."); the loop then ends the whole job (Collective::abort), since
  /// the other ranks would wait for it forever.
  std::function<void(const std::string &)> onFatal;
};

/// Makes a stage's executor on this rank's device; the loop sets its
/// collective.
using ExecutorFactory =
    std::function<StatusOr<std::unique_ptr<Executor>>(const Plan &)>;
/// Opens the token stream for a seed: the training stream (the run's
/// seed), or with `validation` the held-out one (seed ^ 0x5eed), where a
/// null stream means the run has no held-out data and logs no val_loss.
using DataOpener = std::function<StatusOr<std::unique_ptr<TokenStream>>(
    uint64_t seed, bool validation)>;

/// Where --keep-every keeps the checkpoint of `step`: `out` with
/// `.step<step>` before its `.safetensors` suffix (appended when it has
/// none), e.g. run.safetensors -> run.step50.safetensors.
std::string keptCheckpointPath(const std::string &out, int64_t step);

/// Runs the loop from `start` (new weights, or a checkpoint with
/// options.resume) to options.stopAt or the schedule's end, writing
/// checkpoints to options.out (every options.saveEvery steps and at the
/// end). Each rank of `collective` trains on its own rows of every global
/// batch; gradients are averaged by the plans' all_reduce steps.
StatusOr<TrainSummary>
runTrainLoop(const TrainPlans &plans, const Checkpoint &start,
             const ExecutorFactory &makeExecutor, const DataOpener &openData,
             Collective &collective, const TrainLoopOptions &options,
             const TrainCallbacks &callbacks = {});

} // namespace growc::rt

#endif // GROWC_RUNTIME_TRAINLOOP_H
