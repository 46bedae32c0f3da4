//===- growc-run.cpp - The growc runtime's command line -------------------===//
//
// Runs compiled growc artifacts without MLIR or LLVM:
//
//   growc-run forward ART --weights W.safetensors --tokens T.safetensors
//                         --out O.safetensors [--device=cpu] [--verbose]
//
// ART is the artifact's plan (x.plan.json) or its kernels file (x.so, x.ptx).
// The tokens file holds the tensor `tokens` (int32 [B, T]); the output file
// gets one float32 tensor per output of the plan (`logits` [B, T, V], and
// the other named outputs of analysis graphs). Nothing is printed on
// success unless --verbose is given; every error is one line on stderr and
// exit status 1.
//
//===----------------------------------------------------------------------===//

#include "Analyze.h"
#include "DataParallel.h"
#include "Options.h"
#include "Profile.h"

#include "growc/runtime/Collective.h"
#include "growc/runtime/CpuExecutor.h"
#ifdef GROWC_HAVE_CUDA
#include "growc/runtime/CudaExecutor.h"
#include "growc/runtime/NcclCollective.h"
#endif
#include "growc/runtime/Data.h"
#include "growc/runtime/Eval.h"
#include "growc/runtime/GrowthSchedule.h"
#include "growc/runtime/Json.h"
#include "growc/runtime/Plan.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Text.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

using namespace growc::rt;

namespace {

constexpr const char *kUsage =
    "usage: growc-run <command> [options]\n"
    "\n"
    "Runs a compiled growc artifact (ART: its plan x.plan.json, or its\n"
    "kernels file x.so / x.ptx with the plan beside it).\n"
    "\n"
    "Commands:\n"
    "  forward ART --weights W.safetensors --tokens T.safetensors\n"
    "              --out O.safetensors\n"
    "      Runs the forward graph on the tensor 'tokens' of T (int32 [B, T],\n"
    "      B and T at most the compiled shape; a file with a single tensor\n"
    "      may name it differently) with the parameters of W, and writes\n"
    "      every output of the graph to O as float32 [B, T, ...] (for a\n"
    "      plain forward graph: 'logits' [B, T, V]). For a loss graph\n"
    "      (growc --graph=loss) T must also hold 'targets' (int32 [B, T],\n"
    "      -100 = ignored; --batch is a synonym of --tokens) and O gets\n"
    "      'loss' [1], the mean cross-entropy.\n"
    "\n"
    "  grad ART --weights W.safetensors --batch B.safetensors\n"
    "           --out O.safetensors\n"
    "      Runs a grad graph (growc --graph=grad) on the 'tokens' and\n"
    "      'targets' of B and writes 'loss' and 'grad.<parameter>' for every\n"
    "      parameter (before any clipping) to O.\n"
    "\n"
    "  train-step ART --weights W.safetensors --batch B.safetensors\n"
    "                 --lr LR --step N --out O.safetensors\n"
    "      One training step (growc --graph=train): loss, gradients clipped\n"
    "      at global norm 1, AdamW (SPEC.md section 3) at learning rate LR\n"
    "      as its N-th step; O is the updated checkpoint (weights and\n"
    "      'optimizer.exp_avg[_sq].<name>' moments, which start at zero when\n"
    "      W has none) plus 'loss'.\n"
    "\n"
    "  train ART (--weights W.safetensors | --resume C.safetensors)\n"
    "        --data SPEC --steps N --out C.safetensors [--lr 3e-3]\n"
    "        [--warmup K] [--seed S] [--val-every K] [--save-every K]\n"
    "        [--metrics M.jsonl] [--stop-at K] [--threads N]\n"
    "        [--grow M] [--stages K] [--alpha A] [--grow-fraction G]\n"
    "        [--block-size B] [--zero-new-moments] [--nproc N]\n"
    "        [--device=cpu|cuda]\n"
    "      Trains with a train graph: batches from SPEC (primitives:NAME\n"
    "      [:MIN-MAX][:answers] -- :answers scores only the answer tokens --,\n"
    "      text:PATH, u16:PATH, u32:PATH), warmup-stable-decay\n"
    "      learning rate peaking at --lr, a JSON line per step in M, a\n"
    "      progress bar on a terminal (plain lines otherwise), validation\n"
    "      loss every K steps, and C: weights, AdamW moments, step, data\n"
    "      seed and position, written atomically; --resume C continues\n"
    "      exactly where C stopped (--stop-at K ends a run after step K of\n"
    "      the N-step schedule, as a preemption would).\n"
    "      Growth runs: for ART compiled with growc --grow=M --stages=K, the\n"
    "      run follows the Prop-alpha schedule (SPEC.md section 3) over the N\n"
    "      steps and moves to the next stage's model at each boundary,\n"
    "      migrating weights and AdamW moments by its provenance table;\n"
    "      --grow M and --block-size B must match ART, --stages K (at most\n"
    "      ART's, default all), --alpha A (1), --grow-fraction G (0.8),\n"
    "      --zero-new-moments (inserted copies start with zero moments).\n"
    "      The run ends with the compute it used against the same run\n"
    "      without growth (FLOPs, and measured time per stage).\n"
    "      Data parallelism: --nproc N runs N ranks on this machine (under\n"
    "      mpirun, started by growc-run); a job started by mpirun, or with\n"
    "      RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set, is one rank\n"
    "      of a run across machines. Each rank trains on its own B rows of\n"
    "      every global batch of ranks x B rows, gradients are averaged\n"
    "      over the ranks, and rank 0 alone writes metrics and checkpoints\n"
    "      (which resume on any number of ranks).\n"
    "      On a GPU (a PTX artifact, --device=cuda) each rank drives the\n"
    "      GPU of its local rank and gradients are all-reduced by NCCL.\n"
    "\n"
    "  eval ART --weights C.safetensors --primitive NAME [--depth K|MIN-MAX]\n"
    "       [--shots 5] [--count 200] [--seed S]\n"
    "      Accuracy of a forward graph with the weights of C on seeded\n"
    "      k-shot prompts of a reasoning primitive (SPEC.md section 6): the\n"
    "      answer token by argmax after the prompt, exact match. Prompts are\n"
    "      laid out like the training stream (each example after an EOS).\n"
    "      Prints one JSON line per depth.\n"
    "\n"
    "  analyze SUITE --weights C.safetensors --out R.json [--html R.html]\n"
    "          [--primitive NAME] [--depth MIN-MAX] [--shots 5] [--count 100]\n"
    "          [--seed S] [--data SPEC] [--windows 4] [--aggregate max|mean]\n"
    "          [--plotly-js PATH] [--threads N] [--verbose]\n"
    "      The depth analyses of SPEC.md section 5 on checkpoint C, from the\n"
    "      graphs of SUITE (growc model.mlir --analysis-suite -o suite.so;\n"
    "      SUITE is suite.so or suite.analysis.json): logit-lens overlap and\n"
    "      KL, early-exit accuracy, the depth score (r, e, o), block swaps,\n"
    "      layer skips and window reversals (task accuracy and held-out\n"
    "      loss), residual-stream statistics and weight similarity. Task:\n"
    "      NAME's prompts (default var-assign-math, depths 0-2, COUNT per\n"
    "      depth); held-out windows: SPEC (default the task's examples).\n"
    "      R.json has every number; R.html plots them (docs/analysis.md).\n"
    "\n"
    "  report R1.json [R2.json ...] [--label NAME ...] --html OUT.html\n"
    "         [--title T] [--plotly-js PATH]\n"
    "      One self-contained HTML page comparing analysis reports.\n"
    "\n"
    "  sample --primitive NAME [--depth K] [--shots N] [--seed S]\n"
    "         [--count C]\n"
    "      Prints C generated reasoning-primitive prompts (NAME: var-assign-\n"
    "      math, var-assign-code, induction-copy; SPEC.md section 6) as JSON\n"
    "      lines {\"prompt\", \"answer\"}; the same seed gives the same\n"
    "      lines on every machine. Defaults: depth 0, 5 shots, seed 0,\n"
    "      count 1.\n"
    "\n"
    "Options:\n"
    "  --device=cpu|cuda  Where forward, grad, train-step and train run "
    "(default:\n"
    "                 the artifact's target): cuda runs a PTX artifact with\n"
    "                 libcuda and cuBLASLt (opened at run time). Not yet run\n"
    "                 on a GPU: see docs/gpu.md.\n"
    "  --verbose      Print what is run and its timing to stderr.\n"
    "  --repeat N     Run the forward pass N times (benchmarks; --verbose\n"
    "                 reports the fastest).\n"
    "  --profile      forward, grad, train-step: where the time goes, by\n"
    "                 kernel and GEMM shape (the fastest of --repeat runs;\n"
    "                 on the GPU the steps run one by one between CUDA\n"
    "                 events, kernels are measured against the copy\n"
    "                 bandwidth and GEMMs against the fastest cuBLASLt\n"
    "                 candidate for their shape). --profile-json F also\n"
    "                 writes it to F.\n"
    "  --threads N    Threads that kernels and GEMMs are split over\n"
    "                 (default: GROWC_NUM_THREADS, else the core count).\n"
    "  -h, --help     Print this help.\n"
    "\n"
    "Environment:\n"
    "  GROWC_NUM_THREADS  Default for --threads. OpenBLAS runs single-\n"
    "                     threaded inside growc's own threads. A rank of a\n"
    "                     data-parallel run defaults to the cores divided\n"
    "                     by the ranks on its machine.\n"
    "  GROWC_MPIRUN       The mpirun that --nproc uses (default: PATH's).\n"
    "  GROWC_LIBCUDA, GROWC_LIBCUBLASLT, GROWC_LIBNCCL\n"
    "                     Paths of the CUDA libraries opened at run time\n"
    "                     (default: libcuda.so.1, libcublasLt.so.13/.12,\n"
    "                     libnccl.so.2 from the loader's search path).\n"
    "  GROWC_COLLECTIVE   auto (default), single, mpi or tcp: how ranks\n"
    "                     communicate (docs/training.md).\n";

#ifndef GROWC_HAVE_CUDA
constexpr const char *kCudaMissing =
    "this growc-run was built without the CUDA headers, so it has no CUDA "
    "executor (use --device=cpu "
    "with an artifact compiled with --target=cpu)";
#endif

/// Prints "growc-run: <message>" to stderr and returns exit status 1.
int fail(const std::string &message) {
  std::fprintf(stderr, "growc-run: %s\n", message.c_str());
  return 1;
}

int fail(const Status &status) { return fail(status.message()); }

struct ForwardOptions {
  std::string artifact;
  std::string weights;
  std::string tokens;
  std::string out;
  std::optional<std::string> device;
  bool verbose = false;
  bool help = false;
  /// Forward passes to run (benchmarks); the fastest is reported.
  int repeat = 1;
  /// 0: the executor's default.
  int threads = 0;
  /// Scalar inputs of a training step: lr and step.
  std::map<std::string, float> scalars;
  /// --profile: where the time of a run goes, step by step; --profile-json
  /// also writes it to a file.
  bool profile = false;
  std::string profileJson;
};

/// Parses the arguments after "forward". Options take their value either
/// as "--opt=value" or as the next argument.
Status parseForwardArgs(const std::vector<std::string_view> &args,
                        ForwardOptions &opts) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "-h" || arg == "--help") {
      opts.help = true;
      return Status::ok();
    }
    if (arg.size() < 2 || arg.substr(0, 2) != "--") {
      if (arg.size() > 1 && arg[0] == '-')
        return Status::error("forward: unknown option '" + std::string(arg) +
                             "' (see growc-run --help)");
      positional.emplace_back(arg);
      continue;
    }
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (name == "--verbose") {
      if (value)
        return Status::error("forward: --verbose takes no value");
      opts.verbose = true;
      continue;
    }
    if (name == "--profile") {
      if (value)
        return Status::error("forward: --profile takes no value (use "
                             "--profile-json FILE for a file)");
      opts.profile = true;
      continue;
    }
    if (name == "--lr" || name == "--step") {
      if (!value) {
        if (i + 1 >= args.size())
          return Status::error("forward: " + std::string(name) +
                               " needs a value");
        value = args[++i];
      }
      std::string text(*value);
      char *end = nullptr;
      double x = std::strtod(text.c_str(), &end);
      bool isStep = name == "--step";
      if (text.empty() || *end != '\0' || !(x >= (isStep ? 1 : 0)) || x > 1e9 ||
          (isStep && x != double(int64_t(x))))
        return Status::error("forward: " + std::string(name) + " must be " +
                             (isStep ? "a step count >= 1" : "a rate >= 0") +
                             ", got '" + text + "'");
      opts.scalars[std::string(name.substr(2))] = float(x);
      continue;
    }
    if (name == "--repeat" || name == "--threads") {
      if (!value) {
        if (i + 1 >= args.size())
          return Status::error("forward: " + std::string(name) +
                               " needs a value");
        value = args[++i];
      }
      char *end = nullptr;
      std::string text(*value);
      long n = std::strtol(text.c_str(), &end, 10);
      long max = name == "--repeat" ? 1000000 : 1024;
      if (text.empty() || *end != '\0' || n < 1 || n > max)
        return Status::error("forward: " + std::string(name) +
                             " must be a count in [1, " + std::to_string(max) +
                             "], got '" + text + "'");
      (name == "--repeat" ? opts.repeat : opts.threads) = int(n);
      continue;
    }
    std::string *target = nullptr;
    std::optional<std::string> *optionalTarget = nullptr;
    if (name == "--weights")
      target = &opts.weights;
    else if (name == "--tokens" || name == "--batch")
      target = &opts.tokens;
    else if (name == "--out")
      target = &opts.out;
    else if (name == "--device")
      optionalTarget = &opts.device;
    else if (name == "--profile-json")
      target = &opts.profileJson;
    else
      return Status::error("forward: unknown option '" + std::string(name) +
                           "' (see growc-run --help)");
    if (!value) {
      if (i + 1 >= args.size())
        return Status::error("forward: " + std::string(name) +
                             " needs a value");
      value = args[++i];
    }
    if (value->empty())
      return Status::error("forward: " + std::string(name) +
                           " needs a non-empty value");
    bool alreadySet = target ? !target->empty() : optionalTarget->has_value();
    if (alreadySet)
      return Status::error("forward: " + std::string(name) +
                           " is given more than once");
    if (target)
      *target = std::string(*value);
    else
      *optionalTarget = std::string(*value);
  }
  if (positional.empty())
    return Status::error("forward: missing the artifact ART (see growc-run "
                         "--help)");
  if (positional.size() > 1)
    return Status::error("forward: unexpected argument '" + positional[1] +
                         "' (only one artifact can be run)");
  opts.artifact = positional[0];
  for (auto [value, name] :
       {std::pair{&opts.weights, "--weights"},
        std::pair{&opts.tokens, "--tokens"}, std::pair{&opts.out, "--out"}})
    if (value->empty())
      return Status::error(std::string("forward: missing ") + name);
  opts.profile = opts.profile || !opts.profileJson.empty();
  return Status::ok();
}

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

double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

/// `forward`, or `grad` (the same run, requiring a grad graph: loss and
/// grad.<parameter> written to O).
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
  StatusOr<SafetensorsFile> weights = SafetensorsFile::open(opts.weights);
  if (!weights.isOk())
    return fail(weights.status());
  if (Status status = exec.loadParams(*weights); !status.isOk())
    return fail(status);
  StatusOr<SafetensorsFile> tokensFile = SafetensorsFile::open(opts.tokens);
  if (!tokensFile.isOk())
    return fail(tokensFile.status());
  StatusOr<const TensorView *> tokens = findTokens(*tokensFile);
  if (!tokens.isOk())
    return fail(tokens.status());
  const TensorView *targets =
      exec.plan().findInput("targets") ? tokensFile->find("targets") : nullptr;
  // Input problems name the tokens file; a failure on the device after
  // that is the device's (its message says which call).
  if (Status status = checkTokens(exec.plan(), **tokens); !status.isOk())
    return fail(opts.tokens + ": " + status.message());
  if (targets)
    if (Status status = checkTargets(exec.plan(), **tokens, *targets);
        !status.isOk())
      return fail(opts.tokens + ": " + status.message());
  StatusOr<std::map<std::string, OutputTensor>> outputs =
      Status::error("no forward pass ran");
  double bestMs = 0;
  for (int i = 0; i < opts.repeat; ++i) {
    start = Clock::now();
    outputs = exec.forward(**tokens, targets, opts.scalars);
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
    StatusOr<CudaExecutor::StepProfile> profile =
        exec.profile(**tokens, targets, opts.scalars, opts.repeat);
    if (!profile.isOk())
      return fail(profile.status());
    StepTimes times{profile->stepMs, profile->bestGemmMs,
                    profile->copyBytesPerSecond, exec.deviceName()};
    if (Status status =
            reportProfile(stderr, exec.plan(), times, opts.profileJson);
        !status.isOk())
      return fail(status);
  }
  return 0;
}
#endif

int runForward(const std::vector<std::string_view> &args,
               std::string_view requiredGraph = {}) {
  ForwardOptions opts;
  if (Status status = parseForwardArgs(args, opts); !status.isOk())
    return fail(status);
  if (opts.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (opts.device && *opts.device != "cpu" && *opts.device != "cuda")
    return fail("unknown device '" + *opts.device +
                "' (expected 'cpu' or 'cuda')");
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
  if (opts.device && *opts.device == "cuda" && plan->target != "nvptx")
    return fail(plan->path + " is a CPU artifact; --device=cuda runs GPU "
                             "artifacts (growc -o model.ptx)");
  if (plan->target == "nvptx") {
    if (opts.device && *opts.device == "cpu")
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
  StatusOr<SafetensorsFile> weights = SafetensorsFile::open(opts.weights);
  if (!weights.isOk())
    return fail(weights.status());
  if (Status status = exec.loadParams(*weights); !status.isOk())
    return fail(status);
  double loadMs = millisecondsSince(start);

  StatusOr<SafetensorsFile> tokensFile = SafetensorsFile::open(opts.tokens);
  if (!tokensFile.isOk())
    return fail(tokensFile.status());
  StatusOr<const TensorView *> tokens = findTokens(*tokensFile);
  if (!tokens.isOk())
    return fail(tokens.status());

  if (Status status = exec.checkTokens(**tokens); !status.isOk())
    return fail(opts.tokens + ": " + status.message());
  // A loss graph reads its targets from the same file.
  const TensorView *targets = nullptr;
  if (exec.plan().findInput("targets")) {
    targets = tokensFile->find("targets");
    if (!targets || !tokensFile->find("tokens"))
      return fail(opts.tokens + ": a " + exec.plan().graph +
                  " graph needs tensors 'tokens' and 'targets' (int32 [B, "
                  "T]; -100 = ignored)");
    if (Status status = exec.checkTargets(**tokens, *targets); !status.isOk())
      return fail(opts.tokens + ": " + status.message());
  }

  // With --repeat the fastest pass is reported and its per-kind timings
  // kept (the first pass also faults the arena pages in).
  StatusOr<std::map<std::string, OutputTensor>> outputs =
      Status::error("no forward pass ran");
  double forwardMs = 0;
  ExecutorTimings best;
  for (int i = 0; i < opts.repeat; ++i) {
    exec.resetTimings();
    start = Clock::now();
    outputs = exec.forward(**tokens, targets, opts.scalars);
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

/// Decoder layers of a plan's model: parameters model.layers.<i>.*.
int64_t countLayers(const Plan &plan) {
  int64_t layers = 0;
  const std::string prefix = "model.layers.";
  for (const PlanParam &param : plan.params)
    if (param.name.compare(0, prefix.size(), prefix) == 0)
      layers = std::max<int64_t>(
          layers, std::atoll(param.name.c_str() + prefix.size()) + 1);
  return layers;
}

/// The plans of a growth run's stages (stage 1 = `first`), each checked to
/// be a train graph of the same shape with the layer count its stage entry
/// says, so that a broken stage fails before the first step, not hours in.
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

/// Training FLOPs per token of `plan`'s model (GrowthSchedule's model:
/// layer parameters, the unembedding, attention at the compiled length).
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

/// The end of a growth run: the compute its schedule uses against the same
/// run without growth (training FLOPs of the whole schedule, the paper's
/// measure), and the measured time per stage of this invocation with the
/// non-grown run's time estimated from the full-depth step time.
void reportGrowthCompute(const GrowthSchedule &schedule,
                         const std::vector<Plan> &stagePlans,
                         const std::vector<double> &stageSeconds,
                         const std::vector<int64_t> &stageSteps,
                         std::FILE *metrics) {
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
  if (metrics)
    std::fprintf(metrics,
                 "{\"event\": \"growth_compute\", \"flops\": %.6g, "
                 "\"baseline_flops\": %.6g, \"flop_saving\": %.6f, "
                 "\"layer_flop_saving\": %.6f, \"seconds\": %.4f, "
                 "\"baseline_seconds_estimate\": %.4f}\n",
                 grown, baseline, schedule.modelFlopSaving(flops),
                 schedule.layerFlopSaving(), seconds, fullStep * double(steps));
}

/// growc-run train: the training loop over a train graph.
int runTrain(const std::vector<std::string_view> &args) {
  std::string artifact, weights, resume, data, out, metricsPath, growMethod,
      device;
  long long steps = 0, warmup = -1, valEvery = 0, saveEvery = 0, threads = 0,
            stopAt = 0, stagesOpt = 0, blockSizeOpt = 0, nproc = 0;
  unsigned long long seed = 0;
  double lr = 3e-3, alpha = 1.0, growFraction = 0.8;
  bool zeroNewMoments = false;
  // The arguments the ranks get when --nproc starts them: all but --nproc.
  std::vector<std::string_view> rankArgs;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view name = args[i];
    if (name == "--nproc" || name.substr(0, 8) == "--nproc=") {
      std::optional<std::string> value = optionValue(args, i, name);
      if (!value || !parseInteger(*value, 1, 4096, nproc))
        return fail("train: --nproc must be a number of ranks in [1, 4096], "
                    "got '" +
                    value.value_or("") + "'");
      continue;
    }
    rankArgs.push_back(args[i]);
    if (name == "--zero-new-moments") {
      zeroNewMoments = true;
      continue;
    }
    if (name.size() < 2 || name.substr(0, 2) != "--") {
      if (!artifact.empty())
        return fail("train: unexpected argument '" + std::string(name) + "'");
      artifact = std::string(name);
      continue;
    }
    size_t optionIndex = i;
    std::optional<std::string> value = optionValue(args, i, name);
    if (!value || value->empty())
      return fail("train: " + std::string(name) + " needs a value");
    if (i != optionIndex)
      rankArgs.push_back(args[i]); // the value, given separately
    auto integer = [&](long long min, long long &outValue) {
      return parseInteger(*value, min, std::numeric_limits<long long>::max(),
                          outValue);
    };
    bool ok = true;
    if (name == "--weights")
      weights = *value;
    else if (name == "--resume")
      resume = *value;
    else if (name == "--data")
      data = *value;
    else if (name == "--out")
      out = *value;
    else if (name == "--metrics")
      metricsPath = *value;
    else if (name == "--device")
      device = *value;
    else if (name == "--steps")
      ok = integer(1, steps);
    else if (name == "--warmup")
      ok = integer(0, warmup);
    else if (name == "--val-every")
      ok = integer(0, valEvery);
    else if (name == "--save-every")
      ok = integer(0, saveEvery);
    else if (name == "--stop-at")
      ok = integer(1, stopAt);
    else if (name == "--threads")
      ok = integer(1, threads) && threads <= 1024;
    else if (name == "--grow")
      growMethod = *value;
    else if (name == "--stages")
      ok = integer(1, stagesOpt);
    else if (name == "--block-size")
      ok = integer(1, blockSizeOpt);
    else if (name == "--alpha" || name == "--grow-fraction") {
      char *end = nullptr;
      double x = std::strtod(value->c_str(), &end);
      ok = *end == '\0' && std::isfinite(x);
      (name == "--alpha" ? alpha : growFraction) = x;
    } else if (name == "--seed") {
      long long n;
      ok = integer(0, n);
      seed = static_cast<unsigned long long>(n);
    } else if (name == "--lr") {
      char *end = nullptr;
      lr = std::strtod(value->c_str(), &end);
      ok = *end == '\0' && lr > 0 && lr < 10;
    } else
      return fail("train: unknown option '" + std::string(name) +
                  "' (see growc-run --help)");
    if (!ok)
      return fail("train: bad value '" + *value + "' for " + std::string(name));
  }
  if (artifact.empty())
    return fail("train: missing the artifact ART (see growc-run --help)");
  if (weights.empty() == resume.empty())
    return fail("train: give exactly one of --weights (a new run) and "
                "--resume (a checkpoint of this loop)");
  if (data.empty() || out.empty() || steps == 0)
    return fail("train: --data, --steps and --out are required");
  if (!device.empty() && device != "cpu" && device != "cuda")
    return fail("train: unknown device '" + device +
                "' (expected 'cpu' or 'cuda')");

  StatusOr<Plan> plan = loadPlan(planPathFor(artifact));
  if (!plan.isOk())
    return fail(plan.status());
  if (plan->graph != "train")
    return fail(plan->path + " is a " + plan->graph +
                " graph; growc-run train runs a train graph (growc "
                "--graph=train)");
  const bool onGpu = plan->target == "nvptx";
  if (device == "cuda" && !onGpu)
    return fail(plan->path + " is a CPU artifact; --device=cuda trains with "
                             "a GPU artifact (growc --graph=train -o "
                             "train.ptx)");
  if (device == "cpu" && onGpu)
    return fail(plan->path + " is a GPU (nvptx) artifact and cannot run "
                             "with --device=cpu; compile it with "
                             "--target=cpu (-o train.so)");
#ifndef GROWC_HAVE_CUDA
  if (onGpu)
    return fail(plan->path + " is a GPU (nvptx) artifact, and " + kCudaMissing);
#endif
  const int64_t batch = plan->batch, seq = plan->seq;
  const int64_t vocab = plan->vocabSize;

  // A growth run: the artifact holds every stage's plan (growc --grow=M
  // --stages=K), the Prop-alpha schedule over --steps says when to move to
  // the next one, and the state migrates by the next plan's provenance.
  std::vector<Plan> stagePlans;
  std::optional<GrowthSchedule> schedule;
  if (plan->growth) {
    StatusOr<std::vector<Plan>> plans = loadGrowthStages(*plan);
    if (!plans.isOk())
      return fail(plans.status());
    stagePlans = std::move(*plans);
    const PlanGrowth &growth = *plan->growth;
    if (!growMethod.empty() && growMethod != growth.method)
      return fail("train: --grow=" + growMethod + ", but " + plan->path +
                  " was compiled for " + growth.method +
                  " growth (growc --grow=" + growMethod + " --stages=K)");
    if (blockSizeOpt && blockSizeOpt != growth.blockSize)
      return fail("train: --block-size " + std::to_string(blockSizeOpt) +
                  ", but " + plan->path + " grows by blocks of " +
                  std::to_string(growth.blockSize));
    if (stagesOpt > int64_t(stagePlans.size()))
      return fail("train: --stages " + std::to_string(stagesOpt) + ", but " +
                  plan->path + " holds " + std::to_string(stagePlans.size()) +
                  " stages (compile more with growc --stages)");
    if (stagesOpt)
      stagePlans.resize(stagesOpt);
    ScheduleOptions options;
    options.totalSteps = steps;
    options.stages = int64_t(stagePlans.size());
    options.alpha = alpha;
    options.growFraction = growFraction;
    options.blockSize = growth.blockSize;
    options.startBlocks = growth.stages[0].layers / growth.blockSize;
    StatusOr<GrowthSchedule> planned = planGrowthSchedule(options);
    if (!planned.isOk())
      return fail("train: " + planned.status().message());
    schedule = std::move(*planned);
  } else if (!growMethod.empty() || stagesOpt || blockSizeOpt ||
             zeroNewMoments) {
    return fail("train: " + plan->path +
                " has no growth stages; compile a growth run with growc "
                "START.mlir --graph=train --grow=" +
                (growMethod.empty() ? std::string("lidas") : growMethod) +
                " --stages=K -o run.so");
  }

  // Data parallelism (docs/training.md): --nproc N becomes N ranks under
  // mpirun; a rank learns its place from the environment.
  if (nproc > 0 && insideDistributedJob())
    return fail("train: --nproc starts its own ranks; inside an mpirun job "
                "or with WORLD_SIZE set, leave it out");
  bool allReduces = hasAllReduceSteps(*plan);
  for (const Plan &stagePlan : stagePlans)
    allReduces = allReduces && hasAllReduceSteps(stagePlan);
  auto noAllReduce = [&] {
    return plan->path + " has no all_reduce steps (compiled by a growc "
                        "without data parallelism), so its ranks would "
                        "never average their gradients; recompile it with "
                        "growc --graph=train";
  };
  if (nproc > 1) {
    if (!allReduces)
      return fail("train: --nproc " + std::to_string(nproc) + ": " +
                  noAllReduce());
    return fail(relaunchUnderMpirun(nproc, rankArgs));
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
  // From here on a rank that fails ends the whole job (the others would
  // wait for it at the next all_reduce forever), naming itself.
  auto fail = [&](const auto &error) -> int {
    std::string message;
    if constexpr (std::is_same_v<std::decay_t<decltype(error)>, Status>)
      message = error.message();
    else
      message = error;
    if (world == 1)
      return ::fail(message);
    ::fail("rank " + std::to_string(rank) + " of " + std::to_string(world) +
           ": " + message);
    std::fflush(stderr);
    collective->abort(1);
    return 1; // not reached: abort ends the process
  };
  if (world > 1) {
    if (!allReduces)
      return fail(noAllReduce());
    if (threads == 0)
      threads = threadsPerRank(*collective);
  }
#ifdef GROWC_HAVE_CUDA
  // On GPUs the gradients are reduced in device memory by NCCL, which
  // bootstraps over the host collective (and keeps it for the loop's
  // scalars).
  if (onGpu && world > 1) {
    StatusOr<std::unique_ptr<Collective>> nccl =
        createNcclCollective(std::move(collective));
    if (!nccl.isOk())
      return ::fail("rank " + std::to_string(rank) + " of " +
                    std::to_string(world) + ": " + nccl.status().message());
    collective = std::move(*nccl);
  }
#endif
  // One executor per growth stage, on this rank's device.
  auto makeExecutor =
      [&](Plan stagePlan) -> StatusOr<std::unique_ptr<Executor>> {
    std::unique_ptr<Executor> made;
    if (onGpu) {
#ifdef GROWC_HAVE_CUDA
      CudaExecutor::Options options;
      options.device = collective->localRank();
      StatusOr<std::unique_ptr<CudaExecutor>> gpu =
          CudaExecutor::create(std::move(stagePlan), options);
      if (!gpu.isOk())
        return gpu.status();
      made = std::move(*gpu);
#endif
    } else {
      StatusOr<std::unique_ptr<CpuExecutor>> cpu =
          CpuExecutor::create(std::move(stagePlan), int(threads));
      if (!cpu.isOk())
        return cpu.status();
      made = std::move(*cpu);
    }
    made->setCollective(collective.get());
    return made;
  };
  if (schedule && leader) {
    FlopModel flops = flopModelOf(stagePlans.back());
    std::fprintf(stderr, "growc-run: %s growth run\n%s",
                 stagePlans[0].growth->method.c_str(),
                 schedule->format(&flops).c_str());
  }

  std::unique_ptr<Executor> exec;
  {
    StatusOr<std::unique_ptr<Executor>> executor = makeExecutor(*plan);
    if (!executor.isOk())
      return fail(executor.status());
    exec = std::move(*executor);
  }

  // Where the run starts: step 0 of a new run, or a checkpoint's step,
  // data seed, position and growth stage (so that it continues
  // bit-identically).
  StatusOr<SafetensorsFile> start =
      SafetensorsFile::open(resume.empty() ? weights : resume);
  if (!start.isOk())
    return fail(start.status());
  int64_t stage = 1;
  const TensorView *stageT = start->find("growc.train.stage");
  if (stageT || stagePlans.size() > 1) {
    if (stageT && stageT->byteSize != 8)
      return fail(start->path() + ": growc.train.stage is not one int64");
    if (stageT) {
      std::memcpy(&stage, stageT->data, 8);
    } else {
      // A checkpoint from outside this run (say, grown by growc between
      // two runs): the stage whose model has its layers.
      int64_t layers = 0;
      const std::string prefix = "model.layers.";
      for (const TensorView &t : start->tensors())
        if (t.name.compare(0, prefix.size(), prefix) == 0)
          layers = std::max<int64_t>(
              layers, std::atoll(t.name.c_str() + prefix.size()) + 1);
      for (size_t i = 0; i < stagePlans.size(); ++i)
        if (countLayers(stagePlans[i]) == layers)
          stage = int64_t(i) + 1;
    }
    if (stage != 1 && (stage < 1 || stage > int64_t(stagePlans.size())))
      return fail(start->path() + ": a checkpoint of growth stage " +
                  std::to_string(stage) + ", but this run has " +
                  std::to_string(std::max<size_t>(1, stagePlans.size())) +
                  " stage(s)");
    if (stage > 1) {
      exec.reset(); // one stage's arena on the device at a time
      StatusOr<std::unique_ptr<Executor>> executor =
          makeExecutor(stagePlans[stage - 1]);
      if (!executor.isOk())
        return fail(executor.status());
      exec = std::move(*executor);
    }
  }
  if (Status status = exec->loadParams(*start); !status.isOk())
    return fail(status);
  long long firstStep = 0;
  uint64_t position = 0;
  if (!resume.empty()) {
    const TensorView *stepT = start->find("growc.train.step");
    const TensorView *positionT = start->find("growc.train.data_position");
    const TensorView *seedT = start->find("growc.train.seed");
    for (const TensorView *t : {stepT, positionT, seedT})
      if (!t || t->byteSize != 8)
        return fail(resume + ": not a growc-run train checkpoint (it lacks "
                             "growc.train.step, .data_position or .seed)");
    int64_t savedStep;
    std::memcpy(&savedStep, stepT->data, 8);
    std::memcpy(&position, positionT->data, 8);
    std::memcpy(&seed, seedT->data, 8);
    firstStep = savedStep;
    if (firstStep >= steps)
      return fail(resume + ": the checkpoint is at step " +
                  std::to_string(firstStep) + ", not before --steps " +
                  std::to_string(steps));
  }
  StatusOr<std::unique_ptr<TokenStream>> stream =
      openDataSpec(data, seed, vocab);
  if (!stream.isOk())
    return fail(stream.status());
  (*stream)->seek(position);
  StatusOr<std::unique_ptr<TokenStream>> validation =
      openDataSpec(data, seed ^ 0x5eedULL, vocab);
  if (!validation.isOk())
    return fail(validation.status());
  if (warmup < 0)
    warmup = std::min<long long>(10, steps / 10);
  // Every rank must run the same plans and schedule from the same state:
  // the collectives only line up if they do, and the replicas only stay
  // equal if they start equal.
  auto paramsHash = [&]() -> StatusOr<uint64_t> {
    StatusOr<std::vector<TensorToWrite>> params = exec->readParams();
    if (!params.isOk())
      return params.status();
    uint64_t hash = hashBytes(nullptr, 0);
    for (const TensorToWrite &t : *params)
      hash = hashBytes(t.data, t.byteSize, hash);
    return hash;
  };
  if (world > 1) {
    uint64_t hash = hashFile(exec->plan().path, hashBytes(nullptr, 0));
    for (const Plan &stagePlan : stagePlans)
      hash = hashFile(stagePlan.path, hash);
    char options[512];
    std::snprintf(options, sizeof options,
                  "%lld %lld %lld %lld %lld %llu %.17g %.17g %.17g %d %lld "
                  "%lld %llu %lld",
                  steps, warmup, valEvery, saveEvery, stopAt, seed, lr, alpha,
                  growFraction, int(zeroNewMoments), stagesOpt, firstStep,
                  (unsigned long long)position, (long long)stage);
    hash = hashBytes(options, std::strlen(options), hash);
    hash = hashBytes(data.data(), data.size(), hash);
    if (Status s = agreeWithRankZero(*collective, hash,
                                     "plans, data or training options");
        !s.isOk())
      return ::fail(s);
    StatusOr<uint64_t> startHash = paramsHash();
    if (!startHash.isOk())
      return fail(startHash.status());
    if (Status s =
            agreeWithRankZero(*collective, *startHash, "starting weights");
        !s.isOk())
      return ::fail(s.message() + " (every rank must start from the same "
                                  "--weights or --resume checkpoint)");
  }

  std::FILE *metrics = nullptr;
  if (!metricsPath.empty() && leader) {
    metrics = std::fopen(metricsPath.c_str(), resume.empty() ? "w" : "a");
    if (!metrics)
      return fail("train: cannot write " + metricsPath + ": " +
                  std::strerror(errno));
  }
  bool terminal = leader && ::isatty(2);
  std::vector<int32_t> tokens(batch * seq), targets(batch * seq);
  auto view = [&](std::vector<int32_t> &values) {
    return TensorView{"",
                      DType::I32,
                      {batch, seq},
                      reinterpret_cast<const uint8_t *>(values.data()),
                      values.size() * 4};
  };
  int64_t step = firstStep;
  auto save = [&](const std::string &path) -> Status {
    StatusOr<std::vector<TensorToWrite>> params = exec->readParams();
    if (!params.isOk())
      return params.status();
    std::vector<TensorToWrite> tensors = std::move(*params);
    int64_t savedStep = step;
    uint64_t savedPosition = (*stream)->position(), savedSeed = seed;
    tensors.push_back({"growc.train.step", DType::I64, {1}, &savedStep, 8});
    tensors.push_back(
        {"growc.train.data_position", DType::U64, {1}, &savedPosition, 8});
    tensors.push_back({"growc.train.seed", DType::U64, {1}, &savedSeed, 8});
    int64_t savedStage = stage;
    if (schedule)
      tensors.push_back({"growc.train.stage", DType::I64, {1}, &savedStage, 8});
    // Every rank holds the same model; rank 0 writes it, after checking
    // that the replicas are still equal (they are, bit for bit, unless a
    // collective returned different bits to different ranks).
    if (world > 1) {
      StatusOr<uint64_t> hash = paramsHash();
      if (!hash.isOk())
        return hash.status();
      if (Status s = agreeWithRankZero(
              *collective, *hash, "weights after step " + std::to_string(step));
          !s.isOk())
        return Status::error("the replicas diverged: " + s.message());
    }
    if (!leader)
      return Status::ok();
    return writeSafetensors(path, tensors);
  };
  // Rank r's rows of a global batch: rank r takes micro-batches
  // [r·M, (r+1)·M) of the world·M micro-batches of B rows that one
  // optimizer step draws from the stream (every rank draws them all, keeps
  // its own), so the stream's position stays global.
  std::vector<int32_t> skippedTokens(batch * seq), skippedTargets(batch * seq);
  auto skipBatches = [&](TokenStream &from, int64_t count) {
    for (int64_t i = 0; i < count; ++i)
      from.nextBatch(batch, seq, skippedTokens.data(), skippedTargets.data());
  };
  auto began = std::chrono::steady_clock::now();
  double firstLoss = 0, lastLoss = 0;
  long long lastStep = stopAt > 0 ? std::min(stopAt, steps) : steps;
  // Wall time and steps per stage in this invocation, for the compute
  // report.
  std::vector<double> stageSeconds(stagePlans.size() + 1, 0.0);
  std::vector<int64_t> stageSteps(stagePlans.size() + 1, 0);
  for (; step < lastStep; ++step) {
    while (schedule && stage < int64_t(stagePlans.size()) &&
           step >= schedule->stages[stage - 1].endStep) {
      StatusOr<std::unique_ptr<Executor>> next =
          makeExecutor(stagePlans[stage]);
      if (!next.isOk())
        return fail(next.status());
      StatusOr<MigrationReport> moved =
          (*next)->migrateFrom(*exec, zeroNewMoments);
      if (!moved.isOk())
        return fail(moved.status());
      if (terminal)
        std::fputc('\n', stderr);
      if (leader)
        std::fprintf(
            stderr,
            "growc-run: after step %lld: %s growth to stage %lld/%zu, %lld "
            "-> %lld layers (%lld tensors migrated, %lld start an "
            "inserted copy%s)\n",
            (long long)step, stagePlans[0].growth->method.c_str(),
            (long long)stage + 1, stagePlans.size(),
            (long long)schedule->stages[stage - 1].layers,
            (long long)schedule->stages[stage].layers, (long long)moved->copied,
            (long long)moved->duplicated,
            moved->zeroedMoments ? ", their moments zeroed" : "");
      if (metrics)
        std::fprintf(metrics,
                     "{\"event\": \"grow\", \"at_step\": %lld, "
                     "\"stage\": %lld, \"layers\": %lld}\n",
                     (long long)step, (long long)stage + 1,
                     (long long)schedule->stages[stage].layers);
      exec = std::move(*next);
      ++stage;
    }
    auto stepBegan = std::chrono::steady_clock::now();
    double rate = wsdLearningRate(step, steps, warmup, lr);
    // One optimizer step: the plan's micro-batches, the last one applying
    // the accumulated gradient (a plain train graph has one).
    const int64_t micro = exec->plan().microBatches;
    double loss = 0;
    skipBatches(**stream, rank * micro);
    for (int64_t k = 0; k < micro; ++k) {
      (*stream)->nextBatch(batch, seq, tokens.data(), targets.data());
      TensorView tokenView = view(tokens), targetView = view(targets);
      std::map<std::string, float> scalars = {{"lr", float(rate)},
                                              {"step", float(step + 1)}};
      if (micro > 1)
        scalars["apply"] = k + 1 == micro ? 1.0f : 0.0f;
      auto outputs =
          exec->trainStep(tokenView, targetView, scalars, /*commit=*/true);
      if (!outputs.isOk())
        return fail(outputs.status());
      loss += outputs->at("loss").data[0] / double(micro);
    }
    skipBatches(**stream, (world - 1 - rank) * micro);
    // The global loss: the mean of the ranks' (equally weighted, like the
    // gradients they average).
    if (Status status = collective->allReduce(&loss, 1, ReduceOp::Mean);
        !status.isOk())
      return fail(status);
    if (step == firstStep)
      firstLoss = loss;
    lastLoss = loss;
    // This optimizer step's wall time (data, every micro-batch, the loss's
    // reduction; not validation): what benchmarks read.
    const double stepSeconds = std::chrono::duration<double>(
                                   std::chrono::steady_clock::now() - stepBegan)
                                   .count();
    stageSeconds[stage] += stepSeconds;
    ++stageSteps[stage];
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began)
            .count();
    double tokensPerSecond = double(step + 1 - firstStep) * batch * seq *
                             double(exec->plan().microBatches) * world /
                             std::max(seconds, 1e-9);
    std::string valText;
    if (valEvery > 0 && (step + 1) % valEvery == 0) {
      // The step graph with learning rate 0 and its outputs not committed:
      // the loss of held-out batches at the current weights.
      // With several ranks, rank r scores batch r of `world` held-out
      // batches, without communicating: nothing is applied.
      std::vector<int32_t> vt(batch * seq), vy(batch * seq);
      skipBatches(**validation, rank);
      (*validation)->nextBatch(batch, seq, vt.data(), vy.data());
      skipBatches(**validation, world - 1 - rank);
      TensorView vtView = view(vt), vyView = view(vy);
      std::map<std::string, float> valScalars = {{"lr", 0.0f},
                                                 {"step", float(step + 1)}};
      if (exec->plan().microBatches > 1)
        valScalars["apply"] = 0.0f;
      exec->setCollective(nullptr);
      auto val = exec->trainStep(vtView, vyView, valScalars, /*commit=*/false);
      exec->setCollective(collective.get());
      if (!val.isOk())
        return fail(val.status());
      double valLoss = val->at("loss").data[0];
      if (Status status = collective->allReduce(&valLoss, 1, ReduceOp::Mean);
          !status.isOk())
        return fail(status);
      char buf[64];
      std::snprintf(buf, sizeof buf, ", \"val_loss\": %.6f", valLoss);
      valText = buf;
    }
    if (schedule) {
      char buf[48];
      std::snprintf(buf, sizeof buf, ", \"layers\": %lld",
                    (long long)schedule->stages[stage - 1].layers);
      valText += buf;
    }
    if (metrics)
      std::fprintf(metrics,
                   "{\"step\": %lld, \"loss\": %.6f, \"lr\": %.6g, "
                   "\"tokens_per_s\": %.1f, \"step_ms\": %.3f%s}\n",
                   (long long)step + 1, loss, rate, tokensPerSecond,
                   stepSeconds * 1e3, valText.c_str());
    double eta =
        seconds / double(step + 1 - firstStep) * double(steps - step - 1);
    if (terminal) {
      int width = 30, done = int(width * (step + 1) / steps);
      std::fprintf(
          stderr, "\r[%.*s%*s] step %lld/%lld loss %.4f %.0f tok/s ETA %.0fs ",
          done, "##############################", width - done, "",
          (long long)step + 1, (long long)steps, loss, tokensPerSecond, eta);
    } else if (leader &&
               ((step + 1) % std::max<long long>(1, steps / 10) == 0 ||
                step + 1 == steps)) {
      std::fprintf(stderr,
                   "growc-run: step %lld/%lld loss %.4f lr %.3g %.0f tok/s "
                   "ETA %.0fs\n",
                   (long long)step + 1, (long long)steps, loss, rate,
                   tokensPerSecond, eta);
    }
    if (saveEvery > 0 && (step + 1) % saveEvery == 0 && step + 1 < steps) {
      ++step; // the checkpoint is at the next step to run
      Status status = save(out);
      --step;
      if (!status.isOk())
        return fail(status);
    }
  }
  if (terminal)
    std::fputc('\n', stderr);
  if (schedule && leader)
    reportGrowthCompute(*schedule, stagePlans, stageSeconds, stageSteps,
                        metrics);
  if (metrics)
    std::fclose(metrics);
  if (Status status = save(out); !status.isOk())
    return fail(status);
  if (leader)
    std::fprintf(stderr,
                 "growc-run: trained steps %lld..%lld of %lld, loss %.4f -> "
                 "%.4f; wrote %s%s\n",
                 firstStep + 1, lastStep, (long long)steps, firstLoss, lastLoss,
                 out.c_str(),
                 world > 1 ? (" (" + std::to_string(world) + " " +
                              collective->engine() + " ranks)")
                                 .c_str()
                           : "");
  return 0;
}

/// growc-run eval: primitive accuracy of a checkpoint (SPEC.md §6).
int runEval(const std::vector<std::string_view> &args) {
  std::string artifact, weights, primitiveName;
  long minDepth = 0, maxDepth = 0, shots = 5, count = 200, threads = 0;
  unsigned long long seed = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view name = args[i];
    if (name.size() < 2 || name.substr(0, 2) != "--") {
      if (!artifact.empty())
        return fail("eval: unexpected argument '" + std::string(name) + "'");
      artifact = std::string(name);
      continue;
    }
    std::optional<std::string> value = optionValue(args, i, name);
    if (!value || value->empty())
      return fail("eval: " + std::string(name) + " needs a value");
    auto number = [&](long min, long max, long &out) {
      return parseInteger(*value, min, max, out);
    };
    bool ok = true;
    if (name == "--weights")
      weights = *value;
    else if (name == "--primitive")
      primitiveName = *value;
    else if (name == "--depth")
      ok = parseDepthRange(*value, 8, minDepth, maxDepth);
    else if (name == "--shots")
      ok = number(0, 64, shots);
    else if (name == "--count")
      ok = number(1, 1000000, count);
    else if (name == "--threads")
      ok = number(1, 1024, threads);
    else if (name == "--seed") {
      long n;
      ok = number(0, std::numeric_limits<long>::max(), n);
      seed = static_cast<unsigned long long>(n);
    } else
      return fail("eval: unknown option '" + std::string(name) +
                  "' (see growc-run --help)");
    if (!ok)
      return fail("eval: bad value '" + *value + "' for " + std::string(name));
  }
  if (artifact.empty() || weights.empty() || primitiveName.empty())
    return fail("eval: ART, --weights and --primitive are required");
  StatusOr<Primitive> primitive = parsePrimitive(primitiveName);
  if (!primitive.isOk())
    return fail("eval: " + primitive.status().message());
  if (*primitive == Primitive::InductionCopy)
    maxDepth = minDepth = 0;
  StatusOr<std::unique_ptr<CpuExecutor>> exec =
      CpuExecutor::load(artifact, int(threads));
  if (!exec.isOk())
    return fail(exec.status());
  if ((*exec)->plan().graph != "forward")
    return fail((*exec)->plan().path + " is a " + (*exec)->plan().graph +
                " graph; eval runs a forward graph (growc --graph=forward)");
  StatusOr<SafetensorsFile> checkpoint = SafetensorsFile::open(weights);
  if (!checkpoint.isOk())
    return fail(checkpoint.status());
  if (Status status = (*exec)->loadParams(*checkpoint); !status.isOk())
    return fail(status);
  for (long depth = minDepth; depth <= maxDepth; ++depth) {
    AccuracyOptions options;
    options.primitive = *primitive;
    options.depth = int(depth);
    options.shots = int(shots);
    options.count = count;
    // One prompt set per depth, the same for every checkpoint.
    options.seed = seed + uint64_t(depth);
    StatusOr<AccuracyResult> result = primitiveAccuracy(**exec, options);
    if (!result.isOk())
      return fail("eval: " + result.status().message());
    std::printf("{\"primitive\": \"%s\", \"depth\": %ld, \"shots\": %ld, "
                "\"count\": %lld, \"correct\": %lld, \"accuracy\": %.4f}\n",
                primitiveName.c_str(), depth, shots, (long long)result->count,
                (long long)result->correct.at("logits"),
                result->accuracy("logits"));
  }
  return 0;
}

/// `text` as a JSON string literal.
std::string jsonString(const std::string &text) {
  std::string out;
  appendJsonString(out, text);
  return out;
}

int runSample(const std::vector<std::string_view> &args) {
  std::string primitiveName;
  long depth = 0, shots = 5, count = 1;
  unsigned long long seed = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view name = args[i];
    std::optional<std::string> value = optionValue(args, i, name);
    if (!value)
      return fail("sample: " + std::string(name) + " needs a value");
    auto number = [&](long min, long max, long &out) {
      return parseInteger(*value, min, max, out);
    };
    if (name == "--primitive") {
      primitiveName = *value;
    } else if (name == "--depth") {
      if (!number(0, 8, depth))
        return fail("sample: --depth must be in [0, 8], got '" + *value + "'");
    } else if (name == "--shots") {
      if (!number(0, 64, shots))
        return fail("sample: --shots must be in [0, 64], got '" + *value + "'");
    } else if (name == "--count") {
      if (!number(1, 1000000, count))
        return fail("sample: --count must be in [1, 1000000], got '" + *value +
                    "'");
    } else if (name == "--seed") {
      char *end = nullptr;
      seed = std::strtoull(value->c_str(), &end, 10);
      if (value->empty() || *end != '\0' || (*value)[0] == '-')
        return fail("sample: --seed must be a non-negative integer, got '" +
                    *value + "'");
    } else {
      return fail("sample: unknown option '" + std::string(name) +
                  "' (see growc-run --help)");
    }
  }
  if (primitiveName.empty())
    return fail("sample: --primitive is required");
  StatusOr<Primitive> primitive = parsePrimitive(primitiveName);
  if (!primitive.isOk())
    return fail("sample: " + primitive.status().message());
  Rng rng(seed);
  for (long i = 0; i < count; ++i) {
    StatusOr<PrimitiveExample> example =
        generatePrompt(*primitive, int(depth), int(shots), rng);
    if (!example.isOk())
      return fail("sample: " + example.status().message());
    std::printf("{\"prompt\": %s, \"answer\": %s}\n",
                jsonString(example->prompt).c_str(),
                jsonString(example->answer).c_str());
  }
  return 0;
}

int run(int argc, char **argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty())
    return fail("missing command (see growc-run --help)");
  std::string_view command = args[0];
  if (command == "-h" || command == "--help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "forward")
    return runForward({args.begin() + 1, args.end()});
  if (command == "grad")
    return runForward({args.begin() + 1, args.end()}, "grad");
  if (command == "train-step")
    return runForward({args.begin() + 1, args.end()}, "train");
  if (command == "train")
    return runTrain({args.begin() + 1, args.end()});
  if (command == "sample")
    return runSample({args.begin() + 1, args.end()});
  if (command == "eval")
    return runEval({args.begin() + 1, args.end()});
  if (command == "analyze")
    return runAnalyze({args.begin() + 1, args.end()});
  if (command == "report")
    return runReport({args.begin() + 1, args.end()});
  if (!command.empty() && command[0] == '-')
    return fail("unknown option '" + std::string(command) +
                "' before the command (see growc-run --help)");
  return fail("unknown command '" + std::string(command) +
              "' (see growc-run --help)");
}

} // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc &) {
    return fail("out of memory");
  } catch (const std::exception &e) {
    return fail(std::string("internal error: ") + e.what());
  }
}
