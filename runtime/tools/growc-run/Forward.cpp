//===- Forward.cpp - growc-run forward, grad and train-step ---------------===//
//
//   growc-run forward ART --weights W.safetensors --tokens T.safetensors
//                         --out O.safetensors [--device=cpu] [--verbose]
//
// One run of a graph on files: ART is the artifact's kernels file (x.so,
// x.ptx) or its plan (x.so.plan.json, x.ptx.plan.json); W is a checkpoint
// (a file, an index of shards or a model directory: Checkpoint.h). The
// tokens file holds the tensor `tokens` (int32, or int64 as PyTorch saves
// input_ids, [B, T]); the output file gets one float32 tensor per output
// of the plan (`logits` [B, T, V], and the other named outputs of analysis
// graphs). grad and train-step are the same run, insisting on a grad or a
// train graph. Nothing is printed on success unless --verbose is given.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Profile.h"

#include "growc/runtime/Checkpoint.h"
#include "growc/runtime/CpuExecutor.h"
#ifdef GROWC_HAVE_CUDA
#include "growc/runtime/CudaExecutor.h"
#endif
#include "growc/runtime/Plan.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Text.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/stat.h>

using namespace growc::rt;

namespace {

struct ForwardOptions {
  std::string artifact;
  std::string weights;
  std::string tokens;
  std::string out;
  std::string device;
  bool verbose = false;
  /// Forward passes to run (benchmarks); the fastest is reported.
  int repeat = 1;
  /// 0: the executor's default.
  int threads = 0;
  /// Scalar inputs of a training step (negative: not given).
  double lr = -1, step = -1;
  std::map<std::string, float> scalars;
  /// --profile: where the time of a run goes, step by step; --profile-json
  /// also writes it to a file.
  bool profile = false;
  std::string profileJson;
};

/// True if `a` and `b` name the same existing file.
bool sameFile(const std::string &a, const std::string &b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 &&
         sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/// The tokens tensor of a tokens file: the one called "tokens", or the only
/// tensor.
StatusOr<const TensorView *> findTokens(const SafetensorsFile &file) {
  if (const TensorView *tokens = file.find("tokens"))
    return tokens;
  if (file.tensors().size() == 1)
    return &file.tensors()[0];
  std::string names;
  for (size_t i = 0; i < file.tensors().size() && i < 8; ++i)
    names += (i ? ", '" : "'") + file.tensors()[i].name + "'";
  if (file.tensors().size() > 8)
    names += ", ...";
  return Status::error(file.path() + ": no tensor named 'tokens'" +
                       (names.empty() ? std::string(" (the file is empty)")
                                      : " (it has " + names + ")"));
}

/// Token ids as the int32 the plans take: int64 ids (PyTorch's input_ids,
/// torch.long) are narrowed into `storage`, each checked to fit (reported
/// as the int32 checks report ids outside the vocabulary); other tensors
/// come back as they are, for those checks.
StatusOr<const TensorView *> asInt32Ids(const TensorView *ids, const Plan &plan,
                                        TensorView &narrowed,
                                        std::vector<int32_t> &storage) {
  if (!ids || ids->dtype != DType::I64)
    return ids;
  const bool targets = ids->name == "targets";
  const int64_t count = ids->numElements();
  const int64_t cols = ids->shape.size() == 2 ? ids->shape[1] : count;
  storage.resize(size_t(count));
  for (int64_t i = 0; i < count; ++i) {
    int64_t id; // The data carries no alignment guarantee.
    std::memcpy(&id, ids->data + 8 * i, 8);
    if (id < std::numeric_limits<int32_t>::min() ||
        id > std::numeric_limits<int32_t>::max()) {
      std::string at = " at [" + std::to_string(i / cols) + ", " +
                       std::to_string(i % cols) + "]";
      std::string vocab = "[0, " + std::to_string(plan.vocabSize) + ")";
      return Status::error(
          targets ? "targets: target " + std::to_string(id) + at +
                        " is neither in the vocabulary " + vocab + " nor " +
                        std::to_string(kIgnoreIndex) + " (ignored)"
                  : "tokens: token " + std::to_string(id) + at +
                        " is outside the vocabulary " + vocab);
    }
    storage[size_t(i)] = int32_t(id);
  }
  narrowed = {ids->name, DType::I32, ids->shape,
              reinterpret_cast<const uint8_t *>(storage.data()),
              storage.size() * sizeof(int32_t)};
  return &narrowed;
}

/// The tokens of a tokens file, and its targets where the plan takes them
/// (null if the file has none), as int32 (asInt32Ids). Not movable: the
/// pointers may point into it.
struct TokenInputs {
  const TensorView *tokens = nullptr;
  const TensorView *targets = nullptr;
  TensorView narrowed[2];
  std::vector<int32_t> ids[2];
};

Status readTokenInputs(const SafetensorsFile &file, const Plan &plan,
                       TokenInputs &in) {
  StatusOr<const TensorView *> found = findTokens(file);
  if (!found.isOk())
    return found.status();
  StatusOr<const TensorView *> tokens =
      asInt32Ids(*found, plan, in.narrowed[0], in.ids[0]);
  if (!tokens.isOk())
    return Status::error(file.path() + ": " + tokens.status().message());
  in.tokens = *tokens;
  if (!plan.findInput("targets"))
    return Status::ok();
  StatusOr<const TensorView *> targets =
      asInt32Ids(file.find("targets"), plan, in.narrowed[1], in.ids[1]);
  if (!targets.isOk())
    return Status::error(file.path() + ": " + targets.status().message());
  in.targets = *targets;
  return Status::ok();
}

double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

/// A run's outputs as tensors to write, in the plan's order (so that a
/// file lists logits first).
std::vector<TensorToWrite>
outputsToWrite(const Plan &plan,
               const std::map<std::string, OutputTensor> &outputs) {
  std::vector<TensorToWrite> toWrite;
  for (const PlanTensor &output : plan.outputs) {
    const OutputTensor &result = outputs.at(output.name);
    toWrite.push_back(
        {output.name, DType::F32, result.shape, result.data,
         static_cast<size_t>(result.numElements) * sizeof(float)});
  }
  return toWrite;
}

#ifdef GROWC_HAVE_CUDA
/// growc-run forward on the GPU (CudaExecutor): the same files in and out
/// as on the CPU.
int runForwardOnGpu(Plan plan, const ForwardOptions &opts) {
  using Clock = std::chrono::steady_clock;
  Clock::time_point start = Clock::now();
  StatusOr<std::unique_ptr<CudaExecutor>> executor =
      CudaExecutor::create(std::move(plan), CudaExecutor::Options());
  if (!executor.isOk())
    return fail(executor.status());
  CudaExecutor &exec = **executor;
  double prepareMs = millisecondsSince(start);
  StatusOr<Checkpoint> weights = Checkpoint::open(opts.weights);
  if (!weights.isOk())
    return fail(weights.status());
  if (Status status = exec.loadParams(*weights); !status.isOk())
    return fail(status);
  StatusOr<SafetensorsFile> tokensFile = SafetensorsFile::open(opts.tokens);
  if (!tokensFile.isOk())
    return fail(tokensFile.status());
  TokenInputs inputs;
  if (Status status = readTokenInputs(*tokensFile, exec.plan(), inputs);
      !status.isOk())
    return fail(status);
  const TensorView *tokens = inputs.tokens, *targets = inputs.targets;
  // Input problems name the tokens file; a failure on the device after
  // that is the device's (its message says which call).
  if (Status status = checkTokens(exec.plan(), *tokens); !status.isOk())
    return fail(opts.tokens + ": " + status.message());
  if (targets)
    if (Status status = checkTargets(exec.plan(), *tokens, *targets);
        !status.isOk())
      return fail(opts.tokens + ": " + status.message());
  StatusOr<std::map<std::string, OutputTensor>> outputs =
      Status::error("no forward pass ran");
  double bestMs = 0;
  for (int i = 0; i < opts.repeat; ++i) {
    // A training step updates its state in place: each repeat starts from
    // the weights given, so that the outputs are one step's.
    if (i > 0 && exec.plan().graph == "train")
      if (Status status = exec.loadParams(*weights); !status.isOk())
        return fail(status);
    start = Clock::now();
    outputs = exec.forward(*tokens, targets, opts.scalars);
    if (!outputs.isOk())
      return fail(outputs.status());
    double ms = millisecondsSince(start);
    bestMs = i == 0 ? ms : std::min(bestMs, ms);
  }
  std::vector<TensorToWrite> toWrite = outputsToWrite(exec.plan(), *outputs);
  if (Status status = writeSafetensors(opts.out, toWrite); !status.isOk())
    return fail(status);
  if (opts.verbose)
    std::fprintf(stderr,
                 "growc-run: %s: prepare %.3f ms, forward %.3f ms (best of "
                 "%d, CUDA graph replay after the first)\n",
                 exec.deviceName().c_str(), prepareMs, bestMs, opts.repeat);
  if (opts.profile) {
    // On the emulated GPU, the kernels' memory behaviour in the profiled
    // runs (the first and `repeat` more).
    std::unique_ptr<EmulatedMemory> memory = EmulatedMemory::start();
    StatusOr<CudaExecutor::StepProfile> profile =
        exec.profile(*tokens, targets, opts.scalars, opts.repeat);
    if (!profile.isOk())
      return fail(profile.status());
    StepTimes times;
    times.stepMs = profile->stepMs;
    times.bestGemmMs = profile->bestGemmMs;
    times.copyBytesPerSecond = profile->copyBytesPerSecond;
    times.device = exec.deviceName();
    if (memory) {
      StatusOr<std::vector<KernelMemory>> kernels = memory->read();
      if (!kernels.isOk())
        return fail(kernels.status());
      times.emulated = true;
      times.memory = std::move(*kernels);
      times.runs = opts.repeat + 1;
    }
    if (Status status =
            reportProfile(stderr, exec.plan(), times, opts.profileJson);
        !status.isOk())
      return fail(status);
  }
  return 0;
}
#endif

int runForward(const ForwardOptions &opts, std::string_view requiredGraph) {
  if (sameFile(opts.out, opts.weights) || sameFile(opts.out, opts.tokens))
    return fail("--out " + opts.out +
                " would overwrite an input; choose another file");

  using Clock = std::chrono::steady_clock;
  Clock::time_point start = Clock::now();
  StatusOr<Plan> plan = loadPlan(planPathFor(opts.artifact));
  if (!plan.isOk())
    return fail(plan.status());
  if (!requiredGraph.empty() && plan->graph != requiredGraph)
    return fail(plan->path + " is a " + plan->graph + " graph; growc-run " +
                std::string(requiredGraph) + " runs a " +
                std::string(requiredGraph) +
                " graph (growc --graph=" + std::string(requiredGraph) + ")");
  if (requiredGraph.empty() && plan->graph != "forward" &&
      plan->graph != "loss")
    return fail(plan->path + " is a " + plan->graph +
                " graph (growc's default is the training step); growc-run "
                "forward runs forward and loss graphs: compile with "
                "growc --graph=forward, or run this one with growc-run " +
                (plan->graph == "grad" ? "grad" : "train-step or train"));
  if (opts.device == "cuda" && plan->target != "nvptx")
    return fail(plan->path + " is a CPU artifact; --device=cuda runs GPU "
                             "artifacts (growc -o model.ptx)");
  if (plan->target == "nvptx") {
    if (opts.device == "cpu")
      return fail(plan->path + " is a GPU (nvptx) artifact and cannot run " +
                  "with --device=cpu; compile it with --target=cpu");
#ifdef GROWC_HAVE_CUDA
    return runForwardOnGpu(std::move(*plan), opts);
#else
    return fail(plan->path + " is a GPU (nvptx) artifact, and " + kCudaMissing);
#endif
  }
  if (opts.verbose)
    std::fprintf(stderr,
                 "growc-run: %s: %s graph of model '%s', batch %lld, seq "
                 "%lld, vocab %lld, %zu steps, arena %lld bytes\n",
                 plan->path.c_str(), plan->graph.c_str(), plan->model.c_str(),
                 static_cast<long long>(plan->batch),
                 static_cast<long long>(plan->seq),
                 static_cast<long long>(plan->vocabSize), plan->steps.size(),
                 static_cast<long long>(plan->arenaSize));

  StatusOr<std::unique_ptr<CpuExecutor>> executor =
      CpuExecutor::create(std::move(*plan), opts.threads);
  if (!executor.isOk())
    return fail(executor.status());
  CpuExecutor &exec = **executor;
  double prepareMs = millisecondsSince(start);

  start = Clock::now();
  StatusOr<Checkpoint> weights = Checkpoint::open(opts.weights);
  if (!weights.isOk())
    return fail(weights.status());
  if (Status status = exec.loadParams(*weights); !status.isOk())
    return fail(status);
  double loadMs = millisecondsSince(start);

  StatusOr<SafetensorsFile> tokensFile = SafetensorsFile::open(opts.tokens);
  if (!tokensFile.isOk())
    return fail(tokensFile.status());
  TokenInputs inputs;
  if (Status status = readTokenInputs(*tokensFile, exec.plan(), inputs);
      !status.isOk())
    return fail(status);
  const TensorView *tokens = inputs.tokens, *targets = inputs.targets;

  if (Status status = exec.checkTokens(*tokens); !status.isOk())
    return fail(opts.tokens + ": " + status.message());
  // A loss graph reads its targets from the same file.
  if (exec.plan().findInput("targets")) {
    if (!targets || !tokensFile->find("tokens"))
      return fail(opts.tokens + ": a " + exec.plan().graph +
                  " graph needs tensors 'tokens' and 'targets' (int32 or "
                  "int64 [B, T]; -100 = ignored)");
    if (Status status = exec.checkTargets(*tokens, *targets); !status.isOk())
      return fail(opts.tokens + ": " + status.message());
  }

  // With --repeat the fastest pass is reported and its per-kind timings
  // kept (the first pass also faults the arena pages in).
  StatusOr<std::map<std::string, OutputTensor>> outputs =
      Status::error("no forward pass ran");
  double forwardMs = 0;
  ExecutorTimings best;
  for (int i = 0; i < opts.repeat; ++i) {
    // A training step updates its state in place: each repeat starts from
    // the weights given, so that the outputs are one step's.
    if (i > 0 && exec.plan().graph == "train")
      if (Status status = exec.loadParams(*weights); !status.isOk())
        return fail(status);
    exec.resetTimings();
    start = Clock::now();
    outputs = exec.forward(*tokens, targets, opts.scalars);
    if (!outputs.isOk())
      return fail(outputs.status());
    double ms = millisecondsSince(start);
    if (i == 0 || ms < forwardMs) {
      forwardMs = ms;
      best = exec.timings();
    }
  }

  std::vector<TensorToWrite> toWrite = outputsToWrite(exec.plan(), *outputs);
  if (Status status = writeSafetensors(opts.out, toWrite); !status.isOk())
    return fail(status);

  if (opts.verbose) {
    const ExecutorTimings &t = best;
    std::fprintf(stderr,
                 "growc-run: prepare %.3f ms, load parameters %.3f ms, "
                 "%s %.3f ms (best of %d, %d threads)\n",
                 prepareMs, loadMs,
                 exec.plan().graph == "forward" ? "forward" : "step", forwardMs,
                 opts.repeat, exec.threads());
    for (auto [kind, timing] :
         {std::pair{"kernel", t.kernel}, std::pair{"gemm", t.gemm}})
      std::fprintf(stderr, "growc-run:   %-6s %6lld calls %10.3f ms\n", kind,
                   static_cast<long long>(timing.calls), timing.seconds * 1e3);
    for (size_t k = 0; k < t.perKernel.size(); ++k)
      std::fprintf(stderr, "growc-run:     %-12s %4lld calls %10.3f ms\n",
                   exec.plan().kernels[k].name.c_str(),
                   static_cast<long long>(t.perKernel[k].calls),
                   t.perKernel[k].seconds * 1e3);
    std::fprintf(stderr, "growc-run:   tokens in and outputs out %10.3f ms\n",
                 t.other.seconds * 1e3);
    for (const TensorToWrite &tensor : toWrite)
      std::fprintf(stderr, "growc-run: wrote %s F32 %s to %s\n",
                   tensor.name.c_str(), formatShape(tensor.shape).c_str(),
                   opts.out.c_str());
  }
  if (opts.profile) {
    // The fastest run's steps.
    StepTimes times;
    times.device = exec.describe();
    for (const StepKindTiming &step : best.perStep)
      times.stepMs.push_back(step.calls ? step.seconds * 1e3 / step.calls : 0);
    if (Status status =
            reportProfile(stderr, exec.plan(), times, opts.profileJson);
        !status.isOk())
      return fail(status);
  }
  return 0;
}

constexpr const char *kForwardDetails =
    "Runs the forward graph on the tensor 'tokens' of T (int32 [B, T], B\n"
    "and T at most the compiled shape; a file with a single tensor may name\n"
    "it differently) with the parameters of W, and writes every output of\n"
    "the graph to O as float32 [B, T, ...] (for a plain forward graph:\n"
    "'logits' [B, T, V]). For a loss graph (growc --graph=loss) T must also\n"
    "hold 'targets' (int32 [B, T], -100 = ignored; --batch is a synonym of\n"
    "--tokens) and O gets 'loss' [1], the mean cross-entropy.";
constexpr const char *kGradDetails =
    "Runs a grad graph (growc --graph=grad) on the 'tokens' and 'targets'\n"
    "of B and writes 'loss' and 'grad.<parameter>' for every parameter\n"
    "(before any clipping) to O.";
constexpr const char *kTrainStepDetails =
    "One training step (growc --graph=train): loss, gradients clipped at\n"
    "global norm 1, AdamW (SPEC.md section 3) at learning rate LR as its\n"
    "N-th step; O is the updated checkpoint (weights and\n"
    "'optimizer.exp_avg[_sq].<name>' moments, which start at zero when W\n"
    "has none) plus 'loss'.";

Command addForwardLike(CLI::App &app, const std::string &name,
                       const std::string &requiredGraph,
                       const std::string &summary, const char *details) {
  auto opts = std::make_shared<ForwardOptions>();
  CLI::App *command = addCommand(app, name, summary, details);
  command
      ->add_option("ART", opts->artifact,
                   "The artifact: its kernels file x.so / x.ptx (the plan "
                   "x.so.plan.json / x.ptx.plan.json beside it), or the plan")
      ->required();
  command
      ->add_option("--weights", opts->weights,
                   "Parameters: a safetensors file, a "
                   "model.safetensors.index.json or a model directory")
      ->required();
  command
      ->add_option("--tokens,--batch", opts->tokens,
                   "'tokens' (and 'targets' for loss, grad and train "
                   "graphs), int32 or int64 [B, T]")
      ->required();
  command->add_option("--out", opts->out, "Outputs (safetensors)")->required();
  addDevice(*command, opts->device);
  addFlag(*command, "--verbose", opts->verbose,
          "Print what is run and its timing to stderr");
  integerIn(command->add_option("--repeat", opts->repeat,
                                "Run the graph N times (benchmarks; "
                                "--verbose reports the fastest)"),
            1, 1000000, "a count in [1, 1000000]");
  integerIn(command->add_option("--threads", opts->threads,
                                "Threads that kernels and GEMMs are split "
                                "over (default: GROWC_NUM_THREADS, else the "
                                "core count)"),
            1, 1024, "a count in [1, 1024]");
  numberWhere(
      command->add_option("--lr", opts->lr, "A train graph's learning rate"),
      [](double x) { return x >= 0 && x <= 1e9; }, "a rate >= 0");
  numberWhere(
      command->add_option("--step", opts->step,
                          "A train graph's step (1-based)"),
      [](double x) { return x >= 1 && x <= 1e9 && x == double(int64_t(x)); },
      "a step count >= 1");
  addFlag(*command, "--profile", opts->profile,
          "Where the time goes, by kernel and GEMM shape (the fastest of "
          "--repeat runs; on the GPU the steps run one by one between CUDA "
          "events, kernels are measured against the copy bandwidth and GEMMs "
          "against the fastest cuBLASLt candidate for their shape)");
  command->add_option("--profile-json", opts->profileJson,
                      "Also write the profile to this file (implies "
                      "--profile)");
  return {command, [opts, requiredGraph] {
            if (opts->lr >= 0)
              opts->scalars["lr"] = float(opts->lr);
            if (opts->step >= 0)
              opts->scalars["step"] = float(opts->step);
            opts->profile = opts->profile || !opts->profileJson.empty();
            return runForward(*opts, requiredGraph);
          }};
}

} // namespace

std::vector<Command> growc::rt::addForwardCommands(CLI::App &app) {
  return {addForwardLike(app, "forward", "",
                         "Run a forward or loss graph on a tokens file",
                         kForwardDetails),
          addForwardLike(app, "grad", "grad",
                         "Run a grad graph: the loss and every gradient",
                         kGradDetails),
          addForwardLike(app, "train-step", "train",
                         "Run one training step of a train graph",
                         kTrainStepDetails)};
}
