//===- AdamWPlan.h - A hand-built train plan with an adamw step -*- C++ -*-===//
//
// Test infrastructure for PlanTest, CpuExecutorTest and CostModelTest: a
// train plan whose only step is the flat AdamW step (docs/plan.md), laid
// out as the compiler lays it out (each list one region, tensor k at
// D_k = 4·Σ_{j<k} roundUp(n_j, 32) bytes, regions 128-byte aligned). It is
// built as an rt::Plan, so a test can break one field and write it with
// serializePlan to see the parser refuse it.
//
// To run it without kernels that compute gradients, the gradients are
// parameters of the plan (`grad.<p>`, loaded from the checkpoint) and the
// loss flag is a scalar input (`loss_nonfinite`), like `lr`, `step` and,
// with accumulation, `apply`. With bf16Copies, the parameters' bf16 copies
// follow the regions at half their offsets (roundUp(n_j, 32) elements of 2
// bytes, 64-byte aligned). With `fused`, the first parameters share one
// buffer per list at byte offsets, as the compiler places Q/K/V.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_UNITTESTS_ADAMWPLAN_H
#define GROWC_RUNTIME_UNITTESTS_ADAMWPLAN_H

#include "growc/runtime/Plan.h"

#include "ToyModel.h"

#include <string>
#include <vector>

namespace growc::rt::test {

struct AdamWPlanOptions {
  /// Elements of each trained parameter p0, p1, ... (F32 [n]).
  std::vector<int64_t> sizes = {40, 7, 32};
  /// Gradient accumulation: the `apply` input and the `grad_sums` list.
  bool accumulate = false;
  std::string target = "cpu";
  /// Next values in their own buffers (plans before the flat step) instead
  /// of sharing the parameters'.
  bool ownNextValueBuffers = false;
  /// Mixed precision: each trained parameter has a bf16 copy, laid out as
  /// one region at half the params' offsets, and the step's `bf16_params`.
  bool bf16Copies = false;
  /// The first `fused` parameters lie back to back in one buffer (at byte
  /// offsets, as the compiler places Q/K/V), and so do their gradients,
  /// moments and bf16 copies; the step lists each such buffer once.
  size_t fused = 0;
};

inline Plan adamWPlan(const AdamWPlanOptions &options = {}) {
  Plan plan;
  plan.graph = "train";
  plan.target = options.target;
  plan.model = "toy";
  plan.kernelsFile = options.target == "cpu" ? "fwd.so" : "fwd.ptx";
  plan.kernelsHash = std::string(kUnboundHash);
  plan.batch = 1;
  plan.seq = 2;
  plan.vocabSize = 5;
  plan.alignment = 64;
  if (options.accumulate)
    plan.microBatches = 2;

  int64_t end = 0;
  auto addBuffer = [&](int64_t offset, int64_t size) {
    plan.buffers.push_back({int64_t(plan.buffers.size()), offset, size});
    end = std::max(end, offset + size);
    return plan.buffers.back().id;
  };
  auto alignedEnd = [&] { return (end + 127) / 128 * 128; };
  auto tensor = [](std::string name, int64_t buffer, DType dtype,
                   std::vector<int64_t> shape) {
    PlanTensor t;
    t.name = std::move(name);
    t.buffer = buffer;
    t.dtype = dtype;
    t.shape = std::move(shape);
    return t;
  };
  for (const char *name : {"tokens", "targets"})
    plan.inputs.push_back(
        tensor(name, addBuffer(alignedEnd(), 8), DType::I32, {1, 2}));
  std::vector<const char *> scalars = {"lr", "step", "loss_nonfinite"};
  if (options.accumulate)
    scalars.push_back("apply");
  for (const char *name : scalars)
    plan.inputs.push_back(
        tensor(name, addBuffer(alignedEnd(), 4), DType::F32, {1}));
  for (const char *name : {"grad_norm", "nonfinite"})
    plan.outputs.push_back(
        tensor(name, addBuffer(alignedEnd(), 4), DType::F32, {1}));

  PlanStep step;
  step.op = PlanStep::Op::AdamW;
  step.adamLr = plan.inputs[2].buffer;
  step.adamStep = plan.inputs[3].buffer;
  step.adamLossNonfinite = plan.inputs[4].buffer;
  step.adamApply = options.accumulate ? plan.inputs[5].buffer : -1;
  step.adamGradNorm = plan.outputs[0].buffer;
  step.adamNonfinite = plan.outputs[1].buffer;
  // One region per list: "grad." for the gradients, the optimizer's
  // checkpoint names for the state.
  std::vector<std::pair<std::string, std::vector<int64_t> *>> regions = {
      {"", &step.adamParams},
      {"grad.", &step.adamGrads},
      {"optimizer.exp_avg.", &step.adamExpAvg},
      {"optimizer.exp_avg_sq.", &step.adamExpAvgSq}};
  if (options.accumulate)
    regions.push_back({"optimizer.grad_sum.", &step.adamGradSums});
  // Elements of each buffer of a list: the fused group first, then one
  // buffer per parameter; and each parameter's element offset in its
  // buffer.
  std::vector<int64_t> bufferElements, bufferOf, elementOffset;
  for (size_t k = 0; k < options.sizes.size(); ++k) {
    int64_t n = options.sizes[k];
    bool joins = k > 0 && k < options.fused;
    if (!joins)
      bufferElements.push_back(0);
    bufferOf.push_back(int64_t(bufferElements.size()) - 1);
    elementOffset.push_back(bufferElements.back());
    bufferElements.back() += n;
  }
  // One list's buffers, `bytes` per element, laid out as the compiler lays
  // them out; their ids are appended to `ids`.
  auto addList = [&](int64_t bytes, std::vector<int64_t> &ids) {
    int64_t base = alignedEnd(), delta = 0;
    for (int64_t n : bufferElements) {
      ids.push_back(addBuffer(base + delta, bytes * n));
      delta += bytes * ((n + 31) / 32 * 32);
    }
  };
  for (auto &[prefix, ids] : regions) {
    addList(4, *ids);
    for (size_t k = 0; k < options.sizes.size(); ++k) {
      PlanParam param;
      static_cast<PlanTensor &>(param) =
          tensor(prefix + "p" + std::to_string(k), (*ids)[bufferOf[k]],
                 DType::F32, {options.sizes[k]});
      param.offset = 4 * elementOffset[k];
      param.source = param.name;
      plan.params.push_back(param);
    }
  }
  if (options.bf16Copies) {
    addList(2, step.adamBf16Params);
    for (size_t k = 0; k < options.sizes.size(); ++k)
      plan.params[k].bf16Copy = step.adamBf16Params[bufferOf[k]];
  }
  // The next values, named like the parameters they replace (at their
  // bytes: updated in place).
  for (const PlanParam &param : std::vector<PlanParam>(plan.params))
    if (param.name.rfind("grad.", 0) != 0) {
      PlanTensor next =
          tensor(param.name, param.buffer, DType::F32, param.shape);
      next.offset = param.offset;
      if (options.ownNextValueBuffers) {
        next.buffer = addBuffer(alignedEnd(), param.shape[0] * 4);
        next.offset = 0;
      }
      plan.outputs.push_back(next);
    }
  if (options.target == "nvptx")
    step.symbols = {"growc_adamw_sumsq", "growc_adamw_scalars",
                    "growc_adamw_update"};
  plan.steps.push_back(step);
  plan.arenaSize = alignedEnd();
  return plan;
}

/// Its text, as growc would write it.
inline std::string adamWPlanText(const AdamWPlanOptions &options = {}) {
  return serializePlan(adamWPlan(options));
}

} // namespace growc::rt::test

#endif // GROWC_RUNTIME_UNITTESTS_ADAMWPLAN_H
