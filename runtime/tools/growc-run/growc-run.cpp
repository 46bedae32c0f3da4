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

#include "growc/runtime/CpuExecutor.h"
#include "growc/runtime/Data.h"
#include "growc/runtime/Json.h"
#include "growc/runtime/Plan.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Text.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <string_view>
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
    "      Trains with a train graph: batches from SPEC (primitives:NAME\n"
    "      [:MIN-MAX], text:PATH, u16:PATH, u32:PATH), warmup-stable-decay\n"
    "      learning rate peaking at --lr, a JSON line per step in M, a\n"
    "      progress bar on a terminal (plain lines otherwise), validation\n"
    "      loss every K steps, and C: weights, AdamW moments, step, data\n"
    "      seed and position, written atomically; --resume C continues\n"
    "      exactly where C stopped (--stop-at K ends a run after step K of\n"
    "      the N-step schedule, as a preemption would).\n"
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
    "  --device=cpu   Where to run (default: the artifact's target). Only the\n"
    "                 CPU runtime is built into this binary for now.\n"
    "  --verbose      Print what is run and its timing to stderr.\n"
    "  --repeat N     Run the forward pass N times (benchmarks; --verbose\n"
    "                 reports the fastest).\n"
    "  --threads N    Threads that kernels and GEMMs are split over\n"
    "                 (default: GROWC_NUM_THREADS, else the core count).\n"
    "  -h, --help     Print this help.\n"
    "\n"
    "Environment:\n"
    "  GROWC_NUM_THREADS  Default for --threads. OpenBLAS runs single-\n"
    "                     threaded inside growc's own threads.\n";

constexpr const char *kCudaMissing =
    "the CUDA runtime is not built into this binary yet (use --device=cpu "
    "with an artifact compiled with --target=cpu)";

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
int runForward(const std::vector<std::string_view> &args,
               std::string_view requiredGraph = {}) {
  ForwardOptions opts;
  if (Status status = parseForwardArgs(args, opts); !status.isOk())
    return fail(status);
  if (opts.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (opts.device && *opts.device != "cpu") {
    if (*opts.device == "cuda")
      return fail(kCudaMissing);
    return fail("unknown device '" + *opts.device +
                "' (expected 'cpu' or 'cuda')");
  }
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
  if (plan->target == "nvptx") {
    if (!opts.device)
      return fail(plan->path + " is a GPU (nvptx) artifact, and " +
                  kCudaMissing);
    return fail(plan->path + " is a GPU (nvptx) artifact and cannot run " +
                "with --device=cpu; compile it with --target=cpu");
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

  // In the plan's order, so that the file lists logits first.
  std::vector<TensorToWrite> toWrite;
  for (const PlanTensor &output : exec.plan().outputs) {
    const OutputTensor &result = outputs->at(output.name);
    toWrite.push_back(
        {output.name, DType::F32, result.shape, result.data,
         static_cast<size_t>(result.numElements) * sizeof(float)});
  }
  if (Status status = writeSafetensors(opts.out, toWrite); !status.isOk())
    return fail(status);

  if (opts.verbose) {
    const ExecutorTimings &t = best;
    std::fprintf(stderr,
                 "growc-run: prepare %.3f ms, load parameters %.3f ms, "
                 "forward %.3f ms (best of %d, %d threads)\n",
                 prepareMs, loadMs, forwardMs, opts.repeat, exec.threads());
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
  return 0;
}

/// Splits `--name=value` or takes the value from the next argument
/// (advancing `i`); nothing if there is none.
std::optional<std::string>
optionValue(const std::vector<std::string_view> &args, size_t &i,
            std::string_view &name) {
  if (size_t eq = name.find('='); eq != std::string_view::npos) {
    std::string value(name.substr(eq + 1));
    name = name.substr(0, eq);
    return value;
  }
  if (i + 1 < args.size())
    return std::string(args[++i]);
  return std::nullopt;
}

/// The token stream a --data spec names: primitives:NAME[:MIN-MAX],
/// text:PATH, u16:PATH or u32:PATH.
StatusOr<std::unique_ptr<TokenStream>>
openData(const std::string &spec, uint64_t seed, int64_t vocabSize) {
  size_t colon = spec.find(':');
  std::string kind = spec.substr(0, colon);
  std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "text")
    return openTextFile(rest);
  if (kind == "u16" || kind == "u32")
    return openTokenFile(
        rest, kind == "u16" ? TokenFileDType::U16 : TokenFileDType::U32,
        vocabSize);
  if (kind == "primitives") {
    std::string name = rest.substr(0, rest.find(':'));
    int minDepth = 0, maxDepth = 0;
    if (size_t at = rest.find(':');
        at != std::string::npos &&
        std::sscanf(rest.c_str() + at + 1, "%d-%d", &minDepth, &maxDepth) != 2)
      return Status::error("--data " + spec +
                           ": depths are written MIN-MAX, e.g. 0-2");
    StatusOr<Primitive> primitive = parsePrimitive(name);
    if (!primitive.isOk())
      return Status::error("--data " + spec + ": " +
                           primitive.status().message());
    return primitiveStream(*primitive, minDepth, maxDepth, seed);
  }
  return Status::error("--data must be primitives:NAME[:MIN-MAX], text:PATH, "
                       "u16:PATH or u32:PATH, got '" +
                       spec + "'");
}

/// growc-run train: the training loop over a train graph.
int runTrain(const std::vector<std::string_view> &args) {
  std::string artifact, weights, resume, data, out, metricsPath;
  long long steps = 0, warmup = -1, valEvery = 0, saveEvery = 0, threads = 0,
            stopAt = 0;
  unsigned long long seed = 0;
  double lr = 3e-3;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view name = args[i];
    if (name.size() < 2 || name.substr(0, 2) != "--") {
      if (!artifact.empty())
        return fail("train: unexpected argument '" + std::string(name) + "'");
      artifact = std::string(name);
      continue;
    }
    std::optional<std::string> value = optionValue(args, i, name);
    if (!value || value->empty())
      return fail("train: " + std::string(name) + " needs a value");
    auto integer = [&](long long min, long long &outValue) -> bool {
      char *end = nullptr;
      long long n = std::strtoll(value->c_str(), &end, 10);
      if (*end != '\0' || n < min)
        return false;
      outValue = n;
      return true;
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
    else if (name == "--seed") {
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

  StatusOr<Plan> plan = loadPlan(planPathFor(artifact));
  if (!plan.isOk())
    return fail(plan.status());
  if (plan->graph != "train")
    return fail(plan->path + " is a " + plan->graph +
                " graph; growc-run train runs a train graph (growc "
                "--graph=train)");
  const int64_t batch = plan->batch, seq = plan->seq;
  const int64_t vocab = plan->vocabSize;
  StatusOr<std::unique_ptr<CpuExecutor>> executor =
      CpuExecutor::create(std::move(*plan), int(threads));
  if (!executor.isOk())
    return fail(executor.status());
  CpuExecutor &exec = **executor;

  // Where the run starts: step 0 of a new run, or a checkpoint's step,
  // data seed and position (so that it continues bit-identically).
  StatusOr<SafetensorsFile> start =
      SafetensorsFile::open(resume.empty() ? weights : resume);
  if (!start.isOk())
    return fail(start.status());
  if (Status status = exec.loadParams(*start); !status.isOk())
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
  StatusOr<std::unique_ptr<TokenStream>> stream = openData(data, seed, vocab);
  if (!stream.isOk())
    return fail(stream.status());
  (*stream)->seek(position);
  StatusOr<std::unique_ptr<TokenStream>> validation =
      openData(data, seed ^ 0x5eedULL, vocab);
  if (!validation.isOk())
    return fail(validation.status());
  if (warmup < 0)
    warmup = std::min<long long>(10, steps / 10);

  std::FILE *metrics = nullptr;
  if (!metricsPath.empty()) {
    metrics = std::fopen(metricsPath.c_str(), resume.empty() ? "w" : "a");
    if (!metrics)
      return fail("train: cannot write " + metricsPath + ": " +
                  std::strerror(errno));
  }
  bool terminal = ::isatty(2);
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
    std::vector<TensorToWrite> tensors = exec.paramTensors();
    int64_t savedStep = step;
    uint64_t savedPosition = (*stream)->position(), savedSeed = seed;
    tensors.push_back({"growc.train.step", DType::I64, {1}, &savedStep, 8});
    tensors.push_back(
        {"growc.train.data_position", DType::U64, {1}, &savedPosition, 8});
    tensors.push_back({"growc.train.seed", DType::U64, {1}, &savedSeed, 8});
    return writeSafetensors(path, tensors);
  };
  auto began = std::chrono::steady_clock::now();
  double firstLoss = 0, lastLoss = 0;
  long long lastStep = stopAt > 0 ? std::min(stopAt, steps) : steps;
  for (; step < lastStep; ++step) {
    (*stream)->nextBatch(batch, seq, tokens.data(), targets.data());
    double rate = wsdLearningRate(step, steps, warmup, lr);
    TensorView tokenView = view(tokens), targetView = view(targets);
    auto outputs =
        exec.forward(tokenView, &targetView,
                     {{"lr", float(rate)}, {"step", float(step + 1)}});
    if (!outputs.isOk())
      return fail(outputs.status());
    double loss = outputs->at("loss").data[0];
    if (Status status = exec.commitNextValues(*outputs); !status.isOk())
      return fail(status);
    if (step == firstStep)
      firstLoss = loss;
    lastLoss = loss;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began)
            .count();
    double tokensPerSecond =
        double(step + 1 - firstStep) * batch * seq / std::max(seconds, 1e-9);
    std::string valText;
    if (valEvery > 0 && (step + 1) % valEvery == 0) {
      // The step graph with learning rate 0 and its outputs not committed:
      // the loss of held-out batches at the current weights.
      std::vector<int32_t> vt(batch * seq), vy(batch * seq);
      (*validation)->nextBatch(batch, seq, vt.data(), vy.data());
      TensorView vtView = view(vt), vyView = view(vy);
      auto val = exec.forward(vtView, &vyView,
                              {{"lr", 0.0f}, {"step", float(step + 1)}});
      if (!val.isOk())
        return fail(val.status());
      char buf[64];
      std::snprintf(buf, sizeof buf, ", \"val_loss\": %.6f",
                    double(val->at("loss").data[0]));
      valText = buf;
    }
    if (metrics)
      std::fprintf(metrics,
                   "{\"step\": %lld, \"loss\": %.6f, \"lr\": %.6g, "
                   "\"tokens_per_s\": %.1f%s}\n",
                   (long long)step + 1, loss, rate, tokensPerSecond,
                   valText.c_str());
    double eta =
        seconds / double(step + 1 - firstStep) * double(steps - step - 1);
    if (terminal) {
      int width = 30, done = int(width * (step + 1) / steps);
      std::fprintf(
          stderr, "\r[%.*s%*s] step %lld/%lld loss %.4f %.0f tok/s ETA %.0fs ",
          done, "##############################", width - done, "",
          (long long)step + 1, (long long)steps, loss, tokensPerSecond, eta);
    } else if ((step + 1) % std::max<long long>(1, steps / 10) == 0 ||
               step + 1 == steps) {
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
  if (metrics)
    std::fclose(metrics);
  if (Status status = save(out); !status.isOk())
    return fail(status);
  std::fprintf(stderr,
               "growc-run: trained steps %lld..%lld of %lld, loss %.4f -> "
               "%.4f; wrote %s\n",
               firstStep + 1, lastStep, (long long)steps, firstLoss, lastLoss,
               out.c_str());
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
    auto number = [&](long min, long max, long &out) -> bool {
      char *end = nullptr;
      long n = std::strtol(value->c_str(), &end, 10);
      if (value->empty() || *end != '\0' || n < min || n > max)
        return false;
      out = n;
      return true;
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
