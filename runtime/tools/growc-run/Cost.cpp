//===- Cost.cpp - growc-run cost ------------------------------------------===//
//
//   growc-run cost ART [--gpu h100|h200] [--json] [--top N]
//       [--node-us U] [--gemm-efficiency F] [--attention-efficiency F]
//       [--memory-efficiency F] [--attention-blocks-per-sm N]
//       [--scalar-bandwidth-factor F] [--memory-profile FILE]
//       [--profile --weights W [--repeat N]]
//
// One step's GPU cost from the plan alone, on a machine without a GPU
// (runtime/lib/CostModel.cpp): graph nodes, FLOPs and bytes counted from
// the plan, times, tokens/s and MFU predicted from datasheet constants.
// With --memory-profile, the emulated GPU's memory report of the same
// model at a small shape (GROWC_FAKE_CUDA_PROFILE) derates the generated
// kernels it measured.
// With --profile (a PTX artifact, a GPU) the step also runs, and the
// measured time of each kind and of the whole step stands beside the
// prediction, labelled with the device that measured it.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Profile.h"

#include "growc/runtime/Checkpoint.h"
#include "growc/runtime/CostModel.h"
#include "growc/runtime/Json.h"
#include "growc/runtime/Plan.h"

#ifdef GROWC_HAVE_CUDA
#include "growc/runtime/CudaExecutor.h"
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

using namespace growc::rt;

namespace {

struct CostOptions {
  std::string artifact, gpu = "h100";
  bool json = false;
  int top = 10;
  CostAssumptions assumptions;
  /// --memory-profile: the fake driver's memory report.
  std::string memoryProfile;
  /// --profile: run the step on the GPU and measure it.
  bool profile = false;
  std::string weights;
  int repeat = 10;
};

/// What --profile measured: per cost kind the summed mean time of its
/// steps (run one by one between CUDA events), and the whole step replayed
/// as the CUDA graph the training loop uses (best of the repeats).
struct Measured {
  std::string device;
  int repeat = 0;
  std::map<std::string, double> kindMs;
  double stepsMs = 0, graphMs = 0;
};

/// The cost model's kind of plan step `step` ("" for one that adds no
/// graph node on one GPU: all_reduce).
std::string costKindOf(const PlanStep &step) {
  switch (step.op) {
  case PlanStep::Op::Kernel:
    return "kernel";
  case PlanStep::Op::Gemm:
    return "gemm";
  case PlanStep::Op::Attention:
  case PlanStep::Op::AttentionGrad:
    return "attention";
  case PlanStep::Op::AdamW:
    return "optimizer";
  case PlanStep::Op::AllReduce:
    return "";
  }
  return "";
}

#ifdef GROWC_HAVE_CUDA
StatusOr<Measured> measureStep(const Plan &plan, const CostOptions &opts) {
  if (plan.target != "nvptx")
    return Status::error("--profile runs a PTX artifact on the GPU; " +
                         plan.path + " is a " + plan.target + " plan");
  StatusOr<std::unique_ptr<CudaExecutor>> executor =
      CudaExecutor::create(plan, CudaExecutor::Options());
  if (!executor.isOk())
    return executor.status();
  CudaExecutor &exec = **executor;
  StatusOr<Checkpoint> weights = Checkpoint::open(opts.weights);
  if (!weights.isOk())
    return weights.status();
  if (Status status = exec.loadParams(*weights); !status.isOk())
    return status;
  // A full batch of fixed pseudo-random tokens, each row's targets its
  // next tokens: the time does not depend on the values.
  std::vector<int32_t> ids(plan.batch * plan.seq), next(ids.size());
  uint32_t state = 12345;
  for (int32_t &id : ids) {
    state = state * 1664525u + 1013904223u;
    id = int32_t((state >> 8) % uint32_t(plan.vocabSize));
  }
  for (size_t i = 0; i < ids.size(); ++i)
    next[i] = (i + 1) % plan.seq == 0 ? -100 : ids[i + 1];
  auto view = [&](const char *name, const std::vector<int32_t> &data) {
    return TensorView{name,
                      DType::I32,
                      {plan.batch, plan.seq},
                      reinterpret_cast<const uint8_t *>(data.data()),
                      data.size() * sizeof(int32_t)};
  };
  TensorView tokens = view("tokens", ids), targets = view("targets", next);
  bool scored = plan.findInput("targets") != nullptr;
  std::map<std::string, float> scalars;
  if (plan.graph == "train") {
    // A small step, so that repeated updates leave the weights sane.
    scalars = {{"lr", 1e-6f}, {"step", 1.0f}};
    if (plan.microBatches > 1)
      scalars["apply"] = 1.0f;
  }
  Measured measured;
  measured.device = exec.deviceName();
  measured.repeat = opts.repeat;
  // The whole step as the training loop runs it: a CUDA graph, replayed
  // (the first run captures it).
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i <= opts.repeat; ++i) {
    Clock::time_point start = Clock::now();
    auto outputs =
        plan.graph == "train"
            ? exec.trainStep(tokens, targets, scalars, true)
            : exec.forward(tokens, scored ? &targets : nullptr, scalars);
    if (!outputs.isOk())
      return outputs.status();
    double ms =
        std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (i == 1 || (i > 1 && ms < measured.graphMs))
      measured.graphMs = ms;
  }
  StatusOr<CudaExecutor::StepProfile> profile =
      exec.profile(tokens, scored ? &targets : nullptr, scalars, opts.repeat);
  if (!profile.isOk())
    return profile.status();
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    std::string kind = costKindOf(plan.steps[i]);
    if (kind.empty())
      continue;
    measured.kindMs[kind] += profile->stepMs[i];
    measured.stepsMs += profile->stepMs[i];
  }
  return measured;
}
#else
StatusOr<Measured> measureStep(const Plan &, const CostOptions &) {
  return Status::error("--profile runs the step on a GPU, and this "
                       "growc-run was built without the CUDA executor");
}
#endif

/// The measured column: per kind beside the prediction, then the step.
/// A train graph's step is `cost.calls` calls of the graph.
std::string formatMeasured(const StepCost &cost, const Measured &m) {
  std::string out;
  auto line = [&](const char *format, auto... args) {
    char buffer[256];
    std::snprintf(buffer, sizeof buffer, format, args...);
    out += buffer;
  };
  double calls = double(cost.calls);
  line("\nMeasured on %s (--profile): each kind's steps one by one between "
       "CUDA events (mean of %d), the whole step as a CUDA graph (best of "
       "%d)\n",
       m.device.c_str(), m.repeat, m.repeat);
  line("  %-10s %6s %13s %12s %9s\n", "kind", "nodes", "predicted ms",
       "measured ms", "measured/predicted");
  for (const KindCost &kind : cost.kinds) {
    auto it = m.kindMs.find(kind.kind);
    if (it == m.kindMs.end()) {
      if (kind.nodes)
        line("  %-10s %6lld %13.3f %12s\n", kind.kind.c_str(),
             static_cast<long long>(kind.nodes), kind.predictedSeconds * 1e3,
             "not run");
      continue;
    }
    double ms = it->second * calls, predicted = kind.predictedSeconds * 1e3;
    line("  %-10s %6lld %13.3f %12.3f %9.2f\n", kind.kind.c_str(),
         static_cast<long long>(kind.nodes), predicted, ms,
         predicted > 0 ? ms / predicted : 0.0);
  }
  double stepsMs = m.stepsMs * calls, graphMs = m.graphMs * calls;
  double predicted = cost.predicted.seconds * 1e3;
  line("  step, launches one by one %13.3f %12.3f\n", predicted, stepsMs);
  line("  step, CUDA graph          %13.3f %12.3f\n", predicted, graphMs);
  if (graphMs > 0) {
    StepThroughput got = stepThroughput(cost.tokens, graphMs / 1e3,
                                        cost.mfuFlopsPerToken, cost.mfuPeak);
    line("  tokens/s (graph)          %13.0f %12.0f\n",
         cost.predicted.throughput.tokensPerSecond, got.tokensPerSecond);
    if (got.mfu && cost.predicted.throughput.mfu)
      line("  MFU (graph)               %12.1f%% %11.1f%%\n",
           100 * *cost.predicted.throughput.mfu, 100 * *got.mfu);
  }
  return out;
}

/// stepCostJson's object with `measured` added.
StatusOr<std::string> measuredJson(const StepCost &cost, int top,
                                   const Measured &m) {
  StatusOr<JsonValue> root = parseJson(stepCostJson(cost, top));
  if (!root.isOk())
    return root.status();
  double calls = double(cost.calls);
  JsonValue measured = JsonValue::object(), kinds = JsonValue::object();
  for (const auto &[kind, ms] : m.kindMs)
    kinds.set(kind, JsonValue::number(ms * calls));
  measured.set("device", JsonValue::string(m.device));
  measured.set("repeat", JsonValue::number(m.repeat));
  measured.set("kind_ms", std::move(kinds));
  measured.set("steps_ms", JsonValue::number(m.stepsMs * calls));
  measured.set("graph_step_ms", JsonValue::number(m.graphMs * calls));
  if (m.graphMs > 0) {
    StepThroughput got = stepThroughput(cost.tokens, m.graphMs * calls / 1e3,
                                        cost.mfuFlopsPerToken, cost.mfuPeak);
    measured.set("tokens_per_s", JsonValue::number(got.tokensPerSecond));
    if (got.mfu)
      measured.set("mfu", JsonValue::number(*got.mfu));
  }
  root->set("measured", std::move(measured));
  return toJson(*root, 2) + "\n";
}

/// The fake driver's memory report at `path` as the cost model's
/// measurements (KernelMemory, Profile.h).
StatusOr<MemoryProfile> readMemoryProfile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  StatusOr<std::vector<KernelMemory>> kernels =
      parseMemoryReport(text.str(), path);
  if (!kernels.isOk())
    return kernels.status();
  MemoryProfile profile;
  profile.source = path;
  for (const KernelMemory &k : *kernels)
    profile.kernels.push_back(MeasuredKernel{
        k.name, k.bytes(), k.bytes64 + k.bytes128, k.sectors, k.idealSectors});
  return profile;
}

int runCost(const CostOptions &opts) {
  const std::string planPath = planPathFor(opts.artifact);
  StatusOr<Plan> plan = loadPlan(planPath);
  if (!plan.isOk()) {
    // A file taken for a plan only because of its name: say what ART is.
    bool named =
        planPath != opts.artifact ||
        (planPath.size() >= 10 &&
         planPath.compare(planPath.size() - 10, 10, ".plan.json") == 0);
    return fail("cost: " + plan.status().message() +
                (named ? ""
                       : " (ART is a kernels file x.ptx or x.so with its "
                         "plan x.ptx.plan.json or x.so.plan.json beside "
                         "it, or that plan)"));
  }
  StatusOr<GpuRates> gpu = gpuRatesFor(opts.gpu);
  if (!gpu.isOk())
    return fail("cost: --gpu: " + gpu.status().message());
  std::optional<MemoryProfile> memory;
  if (!opts.memoryProfile.empty()) {
    StatusOr<MemoryProfile> read = readMemoryProfile(opts.memoryProfile);
    if (!read.isOk())
      return fail("cost: --memory-profile: " + read.status().message());
    memory = std::move(*read);
  }
  StepCost cost = estimateStepCost(*plan, *gpu, opts.assumptions,
                                   memory ? &*memory : nullptr);
  std::string text =
      opts.json ? stepCostJson(cost, opts.top) : formatStepCost(cost, opts.top);
  if (opts.profile) {
    StatusOr<Measured> measured = measureStep(*plan, opts);
    if (!measured.isOk())
      return fail("cost: --profile: " + measured.status().message());
    if (!opts.json) {
      text += formatMeasured(cost, *measured);
    } else {
      StatusOr<std::string> json = measuredJson(cost, opts.top, *measured);
      if (!json.isOk())
        return fail("cost: " + json.status().message());
      text = *json;
    }
  }
  if (plan->growth && !opts.json)
    text += "Stage 1 of a " + std::to_string(plan->growth->stages.size()) +
            "-stage growth run; each stage's plan has its own cost.\n";
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
      std::fflush(stdout) != 0)
    return fail("cost: cannot write to standard output");
  return 0;
}

} // namespace

Command growc::rt::addCostCommand(CLI::App &app) {
  auto opts = std::make_shared<CostOptions>();
  CLI::App *command = addCommand(
      app, "cost", "One step's GPU cost, predicted from the plan (no GPU)",
      "For one step of ART's graph (a train graph: one optimizer step, all\n"
      "its micro-batches; forward, loss, grad: one call), counted exactly\n"
      "from the plan: the CUDA graph's nodes by kind (generated kernels,\n"
      "cuBLASLt GEMMs, attention launches, the adamw step's three optimizer\n"
      "launches, the executor's device copies of next values outside their\n"
      "parameters' buffers),\n"
      "GEMM FLOPs executed against the model's (6·N·tokens for train and\n"
      "grad, 2·N·tokens otherwise, N the weights of matrix products),\n"
      "attention FLOPs executed and causal, and the bytes each launch must\n"
      "move at least (every operand once); predicted for the GPU named: the\n"
      "time per kind (roofline per launch plus a cost per graph node), the\n"
      "step time, tokens/s and MFU, at the datasheet limits and with the\n"
      "efficiency factors; attention launches by a block-level simulation\n"
      "of their grids over the SMs. Every constant is printed. With\n"
      "--memory-profile the generated kernels' memory times follow what\n"
      "the emulated GPU measured. A CPU artifact's\n"
      "plan is counted the same way (its own kernels). docs/gpu.md, \"Cost\n"
      "model\".");
  command->add_option("ART", opts->artifact, "x.ptx, x.so or a plan")
      ->required();
  oneOf(command->add_option("--gpu", opts->gpu,
                            "The GPU to predict for: h100 (SXM, default) or "
                            "h200"),
        costModelGpus());
  addFlag(*command, "--json", opts->json,
          "Print one JSON object instead of the report");
  integerIn(command->add_option("--top", opts->top,
                                "Generated kernels listed by bytes "
                                "(default 10)"),
            0, 1000000, "a count in [0, 1000000]");
  numberWhere(
      command->add_option("--node-us", opts->assumptions.nodeMicroseconds,
                          "Cost of one graph node, microseconds "
                          "(default 2)"),
      [](double x) { return x >= 0 && x <= 1e6; }, "a time >= 0");
  auto fraction = [](double x) { return x > 0 && x <= 1; };
  numberWhere(command->add_option("--gemm-efficiency",
                                  opts->assumptions.gemmEfficiency,
                                  "Fraction of the tensor peak GEMMs reach "
                                  "(default 0.7)"),
              fraction, "a fraction in (0, 1]");
  numberWhere(command->add_option("--attention-efficiency",
                                  opts->assumptions.attentionEfficiency,
                                  "Fraction of the bf16 peak attention "
                                  "launches reach when their blocks are "
                                  "balanced: it scales every simulated "
                                  "block's tile rate (default 0.2)"),
              fraction, "a fraction in (0, 1]");
  integerIn(command->add_option("--attention-blocks-per-sm",
                                opts->assumptions.attentionBlocksPerSm,
                                "Attention blocks resident per SM in the "
                                "block simulation, for every pass (default: "
                                "per pass, from the library's registers)"),
            1, 64, "a count in [1, 64]");
  numberWhere(command->add_option("--memory-efficiency",
                                  opts->assumptions.memoryEfficiency,
                                  "Fraction of the HBM bandwidth "
                                  "memory-bound launches reach (default 0.7)"),
              fraction, "a fraction in (0, 1]");
  numberWhere(command->add_option("--scalar-bandwidth-factor",
                                  opts->assumptions.scalarBandwidthFactor,
                                  "With --memory-profile: the bandwidth "
                                  "factor of a kernel measured to move less "
                                  "than half its bytes by 64/128-bit "
                                  "accesses (default 0.8)"),
              fraction, "a fraction in (0, 1]");
  command->add_option("--memory-profile", opts->memoryProfile,
                      "The emulated GPU's memory report of this model at a "
                      "small shape (GROWC_FAKE_CUDA_PROFILE=FILE under the "
                      "fake driver): each generated kernel it measured has "
                      "its memory time multiplied by its sectors per "
                      "request over the ideal and divided by the scalar "
                      "bandwidth factor below half vector share");
  addFlag(*command, "--profile", opts->profile,
          "Also run the step on the GPU (a PTX artifact; needs --weights) "
          "and print the measured time of each kind and of the whole step "
          "beside the prediction");
  command->add_option("--weights", opts->weights,
                      "The parameters --profile runs with (safetensors or a "
                      "Hub folder, as growc-run train reads them)");
  integerIn(command->add_option("--repeat", opts->repeat,
                                "--profile: runs measured (default 10)"),
            1, 100000, "a count in [1, 100000]");
  return {command, [opts] {
            if (opts->profile && opts->weights.empty())
              return fail("cost: --profile needs --weights W (the "
                          "parameters to run the step with)");
            if (!opts->profile && !opts->weights.empty())
              return fail("cost: --weights is read only with --profile");
            return runCost(*opts);
          }};
}
