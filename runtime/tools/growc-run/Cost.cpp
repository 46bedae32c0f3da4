//===- Cost.cpp - growc-run cost ------------------------------------------===//
//
//   growc-run cost ART [--gpu h100|h200] [--json] [--top N]
//       [--node-us U] [--gemm-efficiency F] [--attention-efficiency F]
//       [--memory-efficiency F]
//
// One step's GPU cost from the plan alone, on a machine without a GPU
// (runtime/lib/CostModel.cpp): graph nodes, FLOPs and bytes counted from
// the plan, times, tokens/s and MFU predicted from datasheet constants.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "growc/runtime/CostModel.h"
#include "growc/runtime/Plan.h"

#include <cstdio>
#include <memory>

using namespace growc::rt;

namespace {

struct CostOptions {
  std::string artifact, gpu = "h100";
  bool json = false;
  int top = 10;
  CostAssumptions assumptions;
};

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
  StepCost cost = estimateStepCost(*plan, *gpu, opts.assumptions);
  std::string text =
      opts.json ? stepCostJson(cost, opts.top) : formatStepCost(cost, opts.top);
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
      "efficiency factors. Every constant is printed. A CPU artifact's\n"
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
                                  "launches reach (default 0.2)"),
              fraction, "a fraction in (0, 1]");
  numberWhere(command->add_option("--memory-efficiency",
                                  opts->assumptions.memoryEfficiency,
                                  "Fraction of the HBM bandwidth "
                                  "memory-bound launches reach (default 0.7)"),
              fraction, "a fraction in (0, 1]");
  return {command, [opts] { return runCost(*opts); }};
}
