//===- Train.cpp - growc-run train ----------------------------------------===//
//
//   growc-run train ART (--weights W | --resume C) --data SPEC --steps N
//       --out C.safetensors [--lr 3e-3] [--metrics M.jsonl] ...
//
// The command line of the training loop (runtime/lib/TrainLoop.cpp): it
// checks the options against the artifact, starts the ranks of a
// data-parallel run, picks the executors (CPU or GPU) and prints what the
// loop reports: a JSON line per step, a progress bar on a terminal, growth
// steps and the compute a growth run saved.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "DataParallel.h"
#include "TrainOptions.h"

#include "growc/runtime/Collective.h"
#include "growc/runtime/CpuExecutor.h"
#ifdef GROWC_HAVE_CUDA
#include "growc/runtime/CudaExecutor.h"
#include "growc/runtime/NcclCollective.h"
#endif
#include "growc/runtime/Data.h"
#include "growc/runtime/GrowthSchedule.h"
#include "growc/runtime/Json.h"
#include "growc/runtime/Plan.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Throughput.h"
#include "growc/runtime/Tokenizer.h"
#include "growc/runtime/TrainLoop.h"
#include "growc/runtime/TrainOutputs.h"
#include "growc/runtime/Trainable.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

using namespace growc::rt;

namespace {

constexpr const char *kTrainDetails =
    "Trains with a train graph: batches from SPEC (primitives:NAME\n"
    "[:MIN-MAX][:answers] -- :answers scores only the answer tokens --,\n"
    "text:PATH, tokens:PATH_OR_GLOB for llm.c shards, u16:PATH_OR_GLOB or\n"
    "u32:PATH_OR_GLOB for headerless token files, mix:SPEC,SPEC,...;\n"
    "docs/data.md), warmup-stable-decay learning rate peaking at --lr, a\n"
    "JSON line per step in M, a progress bar on a terminal (plain lines\n"
    "otherwise), validation loss every K steps on --val-data (held-out\n"
    "data; primitives without it validate on unseen examples, files get\n"
    "no val_loss), and C: weights, AdamW moments, step, data seed and\n"
    "position, written atomically; --resume C continues exactly where C\n"
    "stopped (--stop-at K ends a run after step K of the N-step schedule,\n"
    "as a preemption would).\n"
    "\n"
    "Text and primitives are byte tokens for the 259-token byte\n"
    "vocabulary; a model with another vocabulary needs --tokenizer T (its\n"
    "tokenizer.json or the folder holding it), which C records.\n"
    "\n"
    "Metrics (docs/training.md): each line has the gradient norm before\n"
    "clipping, tokens/s, achieved model TFLOP/s and MFU against a GPU's\n"
    "datasheet peak or --peak-tflops (none on a CPU without it), and the\n"
    "time (ISO-8601 UTC) and seconds since the first step.\n"
    "\n"
    "Growth runs: for ART compiled with growc --grow=M --stages=K, the run\n"
    "follows the Prop-alpha schedule (SPEC.md section 3) over the N steps\n"
    "and moves to the next stage's model at each boundary, migrating\n"
    "weights and AdamW moments by its provenance table. The run ends with\n"
    "the compute it used against the same run without growth (FLOPs, and\n"
    "measured time per stage).\n"
    "\n"
    "Data parallelism: --nproc N runs N ranks on this machine (under\n"
    "mpirun, started by growc-run; GROWC_MPIRUN names another mpirun); a\n"
    "job started by mpirun, or with RANK, WORLD_SIZE, MASTER_ADDR and\n"
    "MASTER_PORT set, is one rank of a run across machines. Each rank\n"
    "trains on its own B rows of every global batch of ranks x B rows,\n"
    "gradients are averaged over the ranks, and rank 0 alone writes metrics\n"
    "and checkpoints (which resume on any number of ranks). On a GPU (a PTX\n"
    "artifact, --device=cuda) each rank drives the GPU of its local rank\n"
    "and gradients are all-reduced by NCCL. GROWC_COLLECTIVE (auto, single,\n"
    "mpi or tcp) says how ranks communicate (docs/training.md).\n"
    "\n"
    "Safety: a step whose loss or gradient norm is NaN or Inf changes\n"
    "nothing and stops the run (--on-nonfinite=skip: skipped, 10 in a row\n"
    "stop); one run at a time writes C (C.lock); C's folder and M are\n"
    "checked before the first step. C records the run's options: --resume\n"
    "takes those the command leaves out and refuses different ones unless\n"
    "--override names them (--override steps,lr). M is cut back to C's\n"
    "step on --resume.";

/// A loss as printed: NaN without the sign printf gives a negative one.
double shown(double loss) { return std::isnan(loss) ? std::fabs(loss) : loss; }

/// The end of a growth run: the compute its schedule uses against the same
/// run without growth (training FLOPs of the whole schedule, the paper's
/// measure), and the measured time per stage of this invocation with the
/// non-grown run's time estimated from the full-depth step time.
Status reportGrowthCompute(const GrowthSchedule &schedule,
                           const std::vector<Plan> &stagePlans,
                           const TrainSummary &summary, MetricsLog *metrics) {
  const std::vector<double> &stageSeconds = summary.stageSeconds;
  const std::vector<int64_t> &stageSteps = summary.stageSteps;
  FlopModel flops = flopModelOf(stagePlans.back());
  double perToken = flops.trainFlopsPerToken(schedule.finalLayers());
  double tokens = double(schedule.options.totalSteps) * stagePlans[0].batch *
                  stagePlans[0].seq;
  double baseline = perToken * tokens;
  double grown = baseline / schedule.modelFlopSaving(flops);
  std::fprintf(stderr,
               "growc-run: growth compute over the %lld-step schedule: "
               "%.3g training FLOPs vs %.3g for the non-grown %lld-layer run "
               "(%.3fx less; layer FLOPs %.3fx)\n",
               (long long)schedule.options.totalSteps, grown, baseline,
               (long long)schedule.finalLayers(),
               schedule.modelFlopSaving(flops), schedule.layerFlopSaving());
  double seconds = 0;
  int64_t steps = 0;
  std::string perStage;
  for (size_t i = 1; i < stageSteps.size(); ++i) {
    if (!stageSteps[i])
      continue;
    seconds += stageSeconds[i];
    steps += stageSteps[i];
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%lld layers %.2f ms/step",
                  perStage.empty() ? "" : ", ",
                  (long long)schedule.stages[i - 1].layers,
                  1e3 * stageSeconds[i] / double(stageSteps[i]));
    perStage += buf;
  }
  double fullStep =
      stageSteps.back() ? stageSeconds.back() / double(stageSteps.back()) : 0.0;
  if (steps)
    std::fprintf(stderr, "growc-run: measured (%lld steps here): %s\n",
                 (long long)steps, perStage.c_str());
  if (steps && fullStep > 0)
    std::fprintf(stderr,
                 "growc-run: these %lld steps took %.2f s; at the measured "
                 "full-depth step time the non-grown run would take %.2f s "
                 "(%.3fx)\n",
                 (long long)steps, seconds, fullStep * double(steps),
                 fullStep * double(steps) / seconds);
  if (!metrics)
    return Status::ok();
  JsonValue line = JsonValue::object();
  line.set("event", JsonValue::string("growth_compute"))
      .set("flops", JsonValue::number(grown))
      .set("baseline_flops", JsonValue::number(baseline))
      .set("flop_saving", JsonValue::number(schedule.modelFlopSaving(flops)))
      .set("layer_flop_saving", JsonValue::number(schedule.layerFlopSaving()))
      .set("seconds", JsonValue::number(seconds))
      .set("baseline_seconds_estimate",
           JsonValue::number(fullStep * double(steps)));
  return metrics->write(line);
}

/// The plans of the run: `first`, or every growth stage of it, checked
/// against the growth options.
StatusOr<TrainPlans> trainPlansFor(const Plan &first,
                                   const TrainOptions &opts) {
  TrainPlans plans;
  if (!first.growth) {
    if (!opts.growMethod.empty() || opts.stages || opts.blockSize ||
        opts.zeroNewMoments)
      return Status::error(
          "train: " + first.path +
          " has no growth stages; compile a growth run with growc "
          "START.mlir --graph=train --grow=" +
          (opts.growMethod.empty() ? std::string("lidas") : opts.growMethod) +
          " --stages=K -o run.so");
    plans.stages.push_back(first);
    return plans;
  }
  StatusOr<std::vector<Plan>> stagePlans = loadGrowthStages(first);
  if (!stagePlans.isOk())
    return stagePlans.status();
  plans.stages = std::move(*stagePlans);
  const PlanGrowth &growth = *first.growth;
  if (!opts.growMethod.empty() && opts.growMethod != growth.method)
    return Status::error("train: --grow=" + opts.growMethod + ", but " +
                         first.path + " was compiled for " + growth.method +
                         " growth (growc --grow=" + opts.growMethod +
                         " --stages=K)");
  if (opts.blockSize && opts.blockSize != growth.blockSize)
    return Status::error(
        "train: --block-size " + std::to_string(opts.blockSize) + ", but " +
        first.path + " grows by blocks of " + std::to_string(growth.blockSize));
  if (opts.stages > int64_t(plans.stages.size()))
    return Status::error("train: --stages " + std::to_string(opts.stages) +
                         ", but " + first.path + " holds " +
                         std::to_string(plans.stages.size()) +
                         " stages (compile more with growc --stages)");
  if (opts.stages)
    plans.stages.resize(opts.stages);
  ScheduleOptions options;
  options.totalSteps = opts.steps;
  options.stages = int64_t(plans.stages.size());
  options.alpha = opts.alpha;
  options.growFraction = opts.growFraction;
  options.blockSize = growth.blockSize;
  options.startBlocks = growth.stages[0].layers / growth.blockSize;
  StatusOr<GrowthSchedule> planned = planGrowthSchedule(options);
  if (!planned.isOk())
    return Status::error("train: " + planned.status().message());
  plans.schedule = std::move(*planned);
  return plans;
}

/// The arguments the ranks get when --nproc starts them: all but --nproc.
std::vector<std::string_view> rankArgsOf(const std::vector<std::string> &args) {
  std::vector<std::string_view> rankArgs;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--nproc") {
      ++i;
      continue;
    }
    if (args[i].rfind("--nproc=", 0) == 0)
      continue;
    rankArgs.push_back(args[i]);
  }
  return rankArgs;
}

int runTrain(const TrainOptions &given, const RawArgs &raw) {
  TrainOptions opts = given; // a resume fills in its checkpoint's options
  if (opts.weights.empty() == opts.resume.empty())
    return fail("train: give exactly one of --weights (a new run) and "
                "--resume (a checkpoint of this loop)");
  if (opts.resume.empty() && opts.data.empty())
    return fail("train: --data is required");
  if (opts.resume.empty() && opts.steps == 0)
    return fail("train: --steps is required");
  if (!opts.overrides.empty() && opts.resume.empty())
    return fail("train: --override changes options of a resumed run; a new "
                "run (--weights) takes its options as given");
  StatusOr<Plan> plan = loadPlan(planPathFor(opts.artifact));
  if (!plan.isOk())
    return fail(plan.status());
  if (plan->graph != "train")
    return fail(plan->path + " is a " + plan->graph +
                " graph; growc-run train runs a train graph (growc "
                "--graph=train)");
  // What trains is compiled into the graph: --trainable only checks it.
  if (!opts.trainable.empty())
    if (Status status = checkTrainable(*plan, opts.trainable); !status.isOk())
      return fail("train: " + status.message());
  const bool onGpu = plan->target == "nvptx";
  if (opts.device == "cuda" && !onGpu)
    return fail(plan->path + " is a CPU artifact; --device=cuda trains with "
                             "a GPU artifact (growc --graph=train -o "
                             "train.ptx)");
  if (opts.device == "cpu" && onGpu)
    return fail(plan->path + " is a GPU (nvptx) artifact and cannot run "
                             "with --device=cpu; compile it with "
                             "--target=cpu (-o train.so)");
#ifndef GROWC_HAVE_CUDA
  if (onGpu)
    return fail(plan->path + " is a GPU (nvptx) artifact, and " + kCudaMissing);
#endif

  // The start (new weights or a checkpoint whose recorded options a
  // resume takes), then the plans: a growth run's artifact holds every
  // stage's plan (growc --grow=M --stages=K), the Prop-alpha schedule over
  // --steps says when to move to the next one, and the state migrates by
  // the next plan's provenance.
  std::optional<Checkpoint> start;
  std::optional<int64_t> resumeStep;
  std::string recordedOptions;
  // The longest sequence the weights will have been trained at: this
  // run's (a growth run's stages share it) or the one the start recorded.
  int64_t trainedContext = 0;
  StatusOr<TrainPlans> plans = Status::error("no plans");
  auto prepare = [&](int world, bool leader) -> Status {
    StatusOr<Checkpoint> opened =
        Checkpoint::open(opts.resume.empty() ? opts.weights : opts.resume);
    if (!opened.isOk())
      return opened.status();
    start = std::move(*opened);
    if (!opts.resume.empty()) {
      StatusOr<int64_t> step =
          resumeOptions(opts, *plan, *start, world, leader, recordedOptions);
      if (!step.isOk())
        return Status::error("train: " + step.status().message());
      resumeStep = *step;
    } else {
      recordedOptions =
          toJson(runOptionsJson(runOptionsOf(opts, *plan, world)));
    }
    if (opts.steps == 0)
      return Status::error("train: --steps is required");
    if (opts.data.empty())
      return Status::error("train: --data is required");
    plans = trainPlansFor(*plan, opts);
    if (!plans.isOk())
      return plans.status();
    StatusOr<std::optional<int64_t>> inherited =
        recordedTrainedContext(start->path(), start->metadata());
    if (!inherited.isOk())
      return Status::error("train: " + inherited.status().message());
    trainedContext = inherited->value_or(0);
    for (const Plan &stagePlan : plans->stages)
      trainedContext = std::max(trainedContext, stagePlan.seq);
    return Status::ok();
  };

  // Data parallelism (docs/training.md): --nproc N becomes N ranks under
  // mpirun; a rank learns its place from the environment.
  if (opts.nproc > 0 && insideDistributedJob())
    return fail("train: --nproc starts its own ranks; inside an mpirun job "
                "or with WORLD_SIZE set, leave it out");
  if (opts.nproc > 1) {
    if (Status status = prepare(int(opts.nproc), /*leader=*/false);
        !status.isOk())
      return fail(status);
    for (const Plan &stagePlan : plans->stages)
      if (!hasAllReduceSteps(stagePlan))
        return fail("train: --nproc " + std::to_string(opts.nproc) + ": " +
                    plan->path +
                    " has no all_reduce steps (compiled by a growc without "
                    "data parallelism), so its ranks would never average "
                    "their gradients; recompile it with growc --graph=train");
    return fail(relaunchUnderMpirun(opts.nproc, rankArgsOf(raw.afterCommand)));
  }
  std::unique_ptr<Collective> collective;
  {
    StatusOr<std::unique_ptr<Collective>> made = createCollective();
    if (!made.isOk())
      return fail("train: " + made.status().message());
    collective = std::move(*made);
  }
  const int rank = collective->rank(), world = collective->size();
  const bool leader = rank == 0;
  if (Status status = prepare(world, leader); !status.isOk())
    return fail(status);
  if (leader && trainedContext > plan->seq)
    std::fprintf(stderr,
                 "growc-run: %s was trained at %lld tokens, this run at "
                 "%lld: its checkpoints record the longer (%s)\n",
                 start->path().c_str(), (long long)trainedContext,
                 (long long)plan->seq, kTrainedContextKey);
  // A rank's own failure before the loop ends the whole job (the others
  // would wait for it at the next collective forever), naming itself.
  auto rankFailed = [&](const std::string &message) {
    fail("rank " + std::to_string(rank) + " of " + std::to_string(world) +
         ": " + message);
    std::fflush(stderr);
  };
  auto failRank = [&](const std::string &message) -> int {
    if (world == 1)
      return fail(message);
    rankFailed(message);
    collective->abort(1);
  };
  int threads = int(opts.threads);
  if (world > 1 && threads == 0)
    threads = threadsPerRank(*collective);
#ifdef GROWC_HAVE_CUDA
  // On GPUs the gradients are reduced in device memory by NCCL, which
  // bootstraps over the host collective (and keeps it for the loop's
  // scalars).
  if (onGpu && world > 1) {
    StatusOr<std::unique_ptr<Collective>> nccl =
        createNcclCollective(std::move(collective));
    if (!nccl.isOk())
      return fail("rank " + std::to_string(rank) + " of " +
                  std::to_string(world) + ": " + nccl.status().message());
    collective = std::move(*nccl);
  }
#endif
  // What MFU is measured against (Throughput.h): --peak-tflops, else the
  // datasheet peak of the GPU the first executor runs on for the plan's
  // GEMM precision; a CPU has no standard peak, so none, never a guess.
  // Per device: a job of N ranks has N times the peak.
  std::optional<PeakRate> peak;
  std::string deviceName;
  if (opts.peakTflops > 0)
    peak = PeakRate{opts.peakTflops, "--peak-tflops"};
  // One executor per growth stage, on this rank's device.
  ExecutorFactory makeExecutor =
      [&](const Plan &stagePlan) -> StatusOr<std::unique_ptr<Executor>> {
    if (onGpu) {
#ifdef GROWC_HAVE_CUDA
      CudaExecutor::Options options;
      options.device = collective->localRank();
      StatusOr<std::unique_ptr<CudaExecutor>> gpu =
          CudaExecutor::create(stagePlan, options);
      if (!gpu.isOk())
        return gpu.status();
      deviceName = (*gpu)->deviceName();
      if (!peak)
        peak = gpuPeak(deviceName, gemmsInBf16(stagePlan));
      return std::unique_ptr<Executor>(std::move(*gpu));
#endif
    }
    StatusOr<std::unique_ptr<CpuExecutor>> cpu =
        CpuExecutor::create(stagePlan, threads);
    if (!cpu.isOk())
      return cpu.status();
    return std::unique_ptr<Executor>(std::move(*cpu));
  };
  const int64_t vocab = plan->vocabSize;
  // The tokenizer renders text and primitives (and is recorded for
  // export); without one they are byte tokens, for the byte vocabulary
  // only (openDataSpec refuses them for another).
  StatusOr<std::unique_ptr<Tokenizer>> loaded =
      loadTokenizerOption(opts.tokenizer);
  if (!loaded.isOk())
    return failRank("train: " + loaded.status().message());
  const std::unique_ptr<Tokenizer> tokenizer = std::move(*loaded);
  if (tokenizer && tokenizer->vocabSize() > vocab)
    return failRank("train: --tokenizer " + opts.tokenizer + " has " +
                    std::to_string(tokenizer->vocabSize()) +
                    " ids, more than the vocabulary of " + plan->path + " (" +
                    std::to_string(vocab) + ")");
  // Held-out windows: --val-data, or the primitives' unseen examples (the
  // validation seed); never the training file's own windows.
  const bool heldOut = !opts.valData.empty() || !dataSpecReadsFiles(opts.data);
  if (leader && opts.valEvery > 0 && !heldOut)
    std::fprintf(stderr,
                 "growc-run: no val_loss: --data %s has no held-out part "
                 "(validating on it would score windows it trains on); "
                 "--val-data SPEC names held-out data\n",
                 opts.data.c_str());
  if (leader && !opts.valData.empty() && opts.valEvery == 0)
    std::fprintf(stderr, "growc-run: --val-data is used every --val-every K "
                         "steps; without it, never\n");
  DataOpener openData =
      [&](uint64_t seed,
          bool validation) -> StatusOr<std::unique_ptr<TokenStream>> {
    if (validation && !heldOut)
      return std::unique_ptr<TokenStream>();
    StatusOr<std::unique_ptr<TokenStream>> stream = openDataSpec(
        validation && !opts.valData.empty() ? opts.valData : opts.data, seed,
        vocab, tokenizer.get());
    if (!stream.isOk() && validation && !opts.valData.empty())
      return Status::error("--val-data: " + stream.status().message());
    return stream;
  };
  if (leader && hasFrozenParams(*plan)) {
    std::fprintf(stderr, "growc-run: %s\n", describeTraining(*plan).c_str());
    if (std::string note = frozenStateNote(*plan, *start); !note.empty())
      std::fprintf(stderr, "growc-run: note: %s\n", note.c_str());
  }
  if (plans->schedule && leader) {
    FlopModel flops = flopModelOf(plans->stages.back());
    std::fprintf(stderr, "growc-run: %s growth run\n%s",
                 plan->growth->method.c_str(),
                 plans->schedule->format(&flops).c_str());
  }

  // Rank 0 writes the outputs: before the first step it holds --out's
  // lock, removes what a killed run left, and checks that the checkpoint
  // and the metrics can be written (a typo must not cost the whole run).
  std::unique_ptr<OutputLock> lock;
  std::unique_ptr<MetricsLog> metrics;
  if (leader) {
    if (Status status = checkCheckpointWritable(opts.out); !status.isOk())
      return failRank("train: " + status.message());
    StatusOr<std::unique_ptr<OutputLock>> locked =
        OutputLock::acquire(opts.out);
    if (!locked.isOk())
      return failRank("train: " + locked.status().message());
    lock = std::move(*locked);
    for (const std::string &stale : removeStaleTemporaries(opts.out))
      std::fprintf(stderr,
                   "growc-run: removed %s, the temporary checkpoint of a run "
                   "that was killed\n",
                   stale.c_str());
    if (!opts.metricsPath.empty()) {
      int64_t dropped = 0;
      StatusOr<std::unique_ptr<MetricsLog>> opened =
          MetricsLog::open(opts.metricsPath, resumeStep, &dropped);
      if (!opened.isOk())
        return failRank("train: " + opened.status().message());
      metrics = std::move(*opened);
      if (dropped)
        std::fprintf(stderr,
                     "growc-run: --metrics %s: cut %lld line(s) after step "
                     "%lld, the checkpoint's\n",
                     opts.metricsPath.c_str(), (long long)dropped,
                     (long long)*resumeStep);
    }
  }

  TrainLoopOptions loop;
  loop.steps = opts.steps;
  loop.warmup = opts.warmup;
  loop.lr = opts.lr;
  loop.valEvery = opts.valEvery;
  loop.saveEvery = opts.saveEvery;
  loop.keepEvery = opts.keepEvery;
  loop.stopAt = opts.stopAt;
  loop.seed = opts.seed;
  loop.resume = !opts.resume.empty();
  loop.overrideSeed = opts.overrides.find("seed") != std::string::npos;
  loop.onNonfinite = opts.onNonfinite == "skip" ? NonfinitePolicy::Skip
                                                : NonfinitePolicy::Stop;
  loop.runOptions = recordedOptions;
  loop.trainedContext = trainedContext;
  loop.zeroNewMoments = opts.zeroNewMoments;
  loop.out = opts.out;
  char growthText[128];
  std::snprintf(growthText, sizeof growthText, " %.17g %.17g %lld", opts.alpha,
                opts.growFraction, opts.stages);
  loop.fingerprint =
      opts.data + growthText + " " + opts.tokenizer + " " + opts.valData;

  const bool terminal = leader && ::isatty(2);
  Status metricsError = Status::ok();
  TrainCallbacks callbacks;
  callbacks.onFatal = rankFailed;
  callbacks.onGrow = [&](const GrowthStepReport &grow) {
    if (terminal)
      std::fputc('\n', stderr);
    if (leader)
      std::fprintf(stderr,
                   "growc-run: after step %lld: %s growth to stage %lld/%lld, "
                   "%lld -> %lld layers (%lld tensors migrated, %lld start an "
                   "inserted copy%s)\n",
                   (long long)grow.afterStep, plan->growth->method.c_str(),
                   (long long)grow.stage, (long long)grow.stages,
                   (long long)grow.fromLayers, (long long)grow.toLayers,
                   (long long)grow.migration.copied,
                   (long long)grow.migration.duplicated,
                   grow.migration.zeroedMoments ? ", their moments zeroed"
                                                : "");
    if (metrics && metricsError.isOk()) {
      JsonValue line = JsonValue::object();
      line.set("event", JsonValue::string("grow"))
          .set("at_step", JsonValue::number(grow.afterStep))
          .set("stage", JsonValue::number(grow.stage))
          .set("layers", JsonValue::number(grow.toLayers));
      metricsError = metrics->write(line);
    }
  };
  // A JSON line per step through the runtime's writer: NaN and Inf are
  // null; timings rounded (they differ from run to run anyway).
  callbacks.record = [&](const TrainStepReport &step) -> Status {
    if (!metrics || !metricsError.isOk())
      return metricsError;
    auto now = std::chrono::system_clock::now();
    StepThroughput rate = stepThroughput(step.stepTokens, step.stepSeconds,
                                         step.flopsPerToken, peak, world);
    // To `digits` decimals, printed as such (x / 10^d reads back exactly in
    // the shortest form; x · 10^-d need not).
    auto rounded = [](double x, int digits) {
      double scale = std::pow(10.0, digits);
      return JsonValue::number(std::round(x * scale) / scale);
    };
    // To 6 significant digits: rates that span orders of magnitude (a tiny
    // model on a CPU, a large one on a GPU).
    auto significant = [](double x) {
      char text[32];
      std::snprintf(text, sizeof text, "%.6g", x);
      return JsonValue::number(std::strtod(text, nullptr));
    };
    JsonValue line = JsonValue::object();
    line.set("step", JsonValue::number(step.step))
        .set("loss", JsonValue::number(step.loss));
    if (step.gradNorm)
      line.set("grad_norm", JsonValue::number(*step.gradNorm));
    line.set("lr", JsonValue::number(step.lr))
        .set("tokens_per_s",
             JsonValue::number(std::round(step.tokensPerSecond * 10) / 10))
        .set("step_ms",
             JsonValue::number(std::round(step.stepSeconds * 1e6) / 1e3))
        .set("step_tokens_per_s", rounded(rate.tokensPerSecond, 1))
        .set("model_tflops", significant(rate.modelTflops))
        .set("mfu", rate.mfu ? significant(*rate.mfu) : JsonValue::null())
        .set("time", JsonValue::string(isoTimestamp(now)))
        .set("unix_time", JsonValue::number(unixSeconds(now)))
        .set("elapsed_s", rounded(step.elapsedSeconds, 6));
    if (step.valLoss)
      line.set("val_loss", JsonValue::number(*step.valLoss));
    if (step.layers)
      line.set("layers", JsonValue::number(*step.layers));
    if (step.nonfinite)
      line.set("nonfinite", JsonValue::boolean(true));
    if (loop.onNonfinite == NonfinitePolicy::Skip && step.skippedSteps)
      line.set("skipped_steps", JsonValue::number(step.skippedSteps));
    return metrics->write(line);
  };
  // The metrics on disk hold every step a checkpoint holds.
  callbacks.beforeCheckpoint = [&](int64_t) -> Status {
    if (!metrics || !metricsError.isOk())
      return metricsError;
    return metrics->sync();
  };
  // The progress line shows this step's figures, as llm.c's does: the
  // gradient norm, tokens/s and MFU (where there is a peak), said once.
  bool peakSaid = false;
  callbacks.onStep = [&](const TrainStepReport &step) {
    if (leader && !peakSaid) {
      peakSaid = true;
      std::string ranks =
          world > 1 ? std::to_string(world) + " ranks x " : std::string();
      if (peak)
        std::fprintf(stderr, "growc-run: MFU against %s%.1f TFLOP/s (%s)\n",
                     ranks.c_str(), peak->tflops, peak->source.c_str());
      else if (onGpu)
        std::fprintf(stderr,
                     "growc-run: no MFU: no datasheet peak for %s "
                     "(--peak-tflops X gives one); model TFLOP/s are in the "
                     "metrics\n",
                     deviceName.c_str());
      else
        std::fprintf(stderr,
                     "growc-run: no MFU: a CPU has no standard peak "
                     "(--peak-tflops X gives one); model TFLOP/s are in the "
                     "metrics\n");
    }
    StepThroughput rate = stepThroughput(step.stepTokens, step.stepSeconds,
                                         step.flopsPerToken, peak, world);
    char figures[96] = "";
    int used = 0;
    if (step.gradNorm)
      used = std::snprintf(figures, sizeof figures, "norm %.4f ",
                           shown(*step.gradNorm));
    used += std::snprintf(figures + used, sizeof figures - size_t(used),
                          "%.0f tok/s", rate.tokensPerSecond);
    if (rate.mfu)
      used += std::snprintf(figures + used, sizeof figures - size_t(used),
                            " mfu %.1f%%", 100 * *rate.mfu);
    // The held-out loss of this step, where it was measured.
    if (step.valLoss)
      std::snprintf(figures + used, sizeof figures - size_t(used), " val %.4f",
                    shown(*step.valLoss));
    if (terminal) {
      int width = 30, done = int(width * step.step / step.totalSteps);
      std::fprintf(stderr, "\r[%.*s%*s] step %lld/%lld loss %.4f %s ETA %.0fs ",
                   done, "##############################", width - done, "",
                   (long long)step.step, (long long)step.totalSteps,
                   shown(step.loss), figures, step.etaSeconds);
    } else if (leader &&
               (step.step % std::max<int64_t>(1, step.totalSteps / 10) == 0 ||
                step.step == step.totalSteps)) {
      std::fprintf(stderr,
                   "growc-run: step %lld/%lld loss %.4f lr %.3g %s ETA %.0fs\n",
                   (long long)step.step, (long long)step.totalSteps,
                   shown(step.loss), step.lr, figures, step.etaSeconds);
    }
  };

  StatusOr<TrainSummary> summary = runTrainLoop(
      *plans, *start, makeExecutor, openData, *collective, loop, callbacks);
  if (terminal)
    std::fputc('\n', stderr);
  if (!summary.isOk())
    return fail(summary.status());
  if (leader && summary->skippedSteps)
    std::fprintf(stderr,
                 "growc-run: skipped %lld non-finite step(s) "
                 "(--on-nonfinite=skip)\n",
                 (long long)summary->skippedSteps);
  if (plans->schedule && leader)
    if (Status status = reportGrowthCompute(*plans->schedule, plans->stages,
                                            *summary, metrics.get());
        !status.isOk())
      return fail(status);
  if (metrics)
    if (Status status = metrics->close(); !status.isOk())
      return fail(status);
  if (leader)
    std::fprintf(stderr,
                 "growc-run: trained steps %lld..%lld of %lld, loss %.4f -> "
                 "%.4f; wrote %s%s\n",
                 (long long)summary->firstStep + 1,
                 (long long)summary->lastStep, opts.steps,
                 shown(summary->firstLoss), shown(summary->lastLoss),
                 opts.out.c_str(),
                 world > 1 ? (" (" + std::to_string(world) + " " +
                              collective->engine() + " ranks)")
                                 .c_str()
                           : "");
  return 0;
}

} // namespace

Command growc::rt::addTrainCommand(CLI::App &app, const RawArgs &raw) {
  auto opts = std::make_shared<TrainOptions>();
  CLI::App *command =
      addCommand(app, "train", "Train with a train graph", kTrainDetails);
  command->add_option("ART", opts->artifact, "The train artifact")->required();
  CLI::Option *weights = command->add_option("--weights", opts->weights,
                                             "Starting weights of a new run");
  CLI::Option *resume = command->add_option(
      "--resume", opts->resume, "A checkpoint of this loop to continue");
  weights->excludes(resume);
  command->add_option(
      "--trainable", opts->trainable,
      "Check that the plan trains exactly SPEC (all, inserted, or layers "
      "N, ranges A:B, embed, norm, lm_head); what trains is compiled in "
      "(growc --trainable=SPEC)");
  // --data and --steps are required of a new run; a resume takes its
  // checkpoint's.
  CLI::Option *data = command->add_option("--data", opts->data,
                                          "Where batches come from (SPEC)");
  command->add_option("--val-data", opts->valData,
                      "Held-out data for the validation loss (SPEC)");
  CLI::Option *tokenizerOption = command->add_option(
      "--tokenizer", opts->tokenizer,
      "tokenizer.json (or its folder) rendering text and primitives");
  CLI::Option *steps = integerIn(
      command->add_option("--steps", opts->steps, "Steps of the schedule"), 1,
      std::numeric_limits<long long>::max(), "a step count >= 1");
  command->add_option("--out", opts->out, "The checkpoint written")->required();
  CLI::Option *lr = numberWhere(
      command->add_option("--lr", opts->lr, "Peak learning rate (3e-3)"),
      [](double x) { return x > 0 && x < 10; }, "a rate in (0, 10)");
  CLI::Option *warmup =
      integerIn(command->add_option("--warmup", opts->warmup,
                                    "Warmup steps (default: min(10, N/10))"),
                0, std::numeric_limits<long long>::max(), "a step count >= 0");
  CLI::Option *seed = integerIn(
      command->add_option("--seed", opts->seed, "Data seed (0)"), 0,
      std::numeric_limits<long long>::max(), "a non-negative integer");
  integerIn(command->add_option("--val-every", opts->valEvery,
                                "Validation loss every K steps"),
            0, std::numeric_limits<long long>::max(), "a step count >= 0");
  integerIn(command->add_option("--save-every", opts->saveEvery,
                                "A checkpoint every K steps"),
            0, std::numeric_limits<long long>::max(), "a step count >= 0");
  integerIn(
      command->add_option("--keep-every", opts->keepEvery,
                          "Also keep the checkpoint of every K-th step as "
                          "OUT's name with .step<K> before .safetensors"),
      0, std::numeric_limits<long long>::max(), "a step count >= 0");
  command->add_option("--metrics", opts->metricsPath,
                      "A JSON line per step to this file");
  integerIn(command->add_option("--stop-at", opts->stopAt,
                                "End after step K of the schedule"),
            1, std::numeric_limits<long long>::max(), "a step count >= 1");
  integerIn(command->add_option("--threads", opts->threads,
                                "Threads of the CPU executor"),
            1, 1024, "a count in [1, 1024]");
  command->add_option("--grow", opts->growMethod,
                      "The growth method ART was compiled for (M)");
  CLI::Option *stages =
      integerIn(command->add_option("--stages", opts->stages,
                                    "Growth stages to run (at most ART's; "
                                    "default all)"),
                1, std::numeric_limits<long long>::max(), "a count >= 1");
  CLI::Option *alpha = numberWhere(
      command->add_option("--alpha", opts->alpha, "Prop-alpha's alpha (1)"),
      [](double) { return true; }, "a finite number");
  CLI::Option *growFraction = numberWhere(
      command->add_option("--grow-fraction", opts->growFraction,
                          "Fraction of the steps spent growing "
                          "(0.8)"),
      [](double) { return true; }, "a finite number");
  CLI::Option *blockSize =
      integerIn(command->add_option("--block-size", opts->blockSize,
                                    "Layers per growth block (must match ART)"),
                1, std::numeric_limits<long long>::max(), "a count >= 1");
  CLI::Option *zeroNewMoments =
      addFlag(*command, "--zero-new-moments", opts->zeroNewMoments,
              "Inserted copies start with zero AdamW moments");
  oneOf(command->add_option("--on-nonfinite", opts->onNonfinite,
                            "At a NaN/Inf loss or gradient norm: stop "
                            "(default) or skip the step"),
        {"stop", "skip"});
  numberWhere(
      command->add_option("--peak-tflops", opts->peakTflops,
                          "Peak TFLOP/s of one device (rank) the metrics' "
                          "MFU is measured against (default: the GPU's "
                          "datasheet peak; none on a CPU)"),
      [](double x) { return x > 0 && x < 1e9; }, "a rate in TFLOP/s > 0");
  command->add_option("--override", opts->overrides,
                      "With --resume: options (seed,lr,...) that may differ "
                      "from the checkpoint's run");
  opts->recorded = {{"steps", steps},
                    {"warmup", warmup},
                    {"lr", lr},
                    {"seed", seed},
                    {"data", data},
                    {"tokenizer", tokenizerOption},
                    {"stages", stages},
                    {"alpha", alpha},
                    {"grow-fraction", growFraction},
                    {"block-size", blockSize},
                    {"zero-new-moments", zeroNewMoments}};
  integerIn(command->add_option("--nproc", opts->nproc,
                                "Run N data-parallel ranks on this machine"),
            1, 4096, "a number of ranks in [1, 4096]");
  addDevice(*command, opts->device);
  return {command, [opts, &raw] { return runTrain(*opts, raw); }};
}
