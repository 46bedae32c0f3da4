//===- PlanWriter.cpp - a Plan back to its JSON text
//-----------------------===//
//
// The other half of the plan schema: Plan.cpp parses and verifies
// *.plan.json into rt::Plan, this file writes an rt::Plan as the same JSON.
// The compiler fills a plan, verifies it with parsePlan and writes what
// serializePlan returns, so one schema (Plan.h, docs/plan.md) describes
// both sides. The text is canonical: object keys sorted, two-space
// indentation, optional fields only where they say something (the layout
// LLVM's JSON printer gives, so plans written before the schema existed
// read back unchanged).
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Json.h"
#include "growc/runtime/Plan.h"

#include <algorithm>
#include <utility>

namespace growc::rt {
namespace {

/// An object whose members are written in sorted key order.
class Fields {
public:
  Fields &add(std::string key, JsonValue value) {
    members.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  Fields &add(std::string key, int64_t value) {
    return add(std::move(key), JsonValue::number(value));
  }
  Fields &add(std::string key, const std::string &value) {
    return add(std::move(key), JsonValue::string(value));
  }
  Fields &add(std::string key, const char *value) {
    return add(std::move(key), JsonValue::string(value));
  }

  JsonValue take() {
    std::stable_sort(
        members.begin(), members.end(),
        [](const auto &a, const auto &b) { return a.first < b.first; });
    JsonValue object = JsonValue::object();
    for (auto &[key, value] : members)
      object.set(key, std::move(value));
    return object;
  }

private:
  std::vector<std::pair<std::string, JsonValue>> members;
};

JsonValue intArray(const int64_t *begin, const int64_t *end) {
  JsonValue array = JsonValue::array();
  for (const int64_t *it = begin; it != end; ++it)
    array.push(JsonValue::number(*it));
  return array;
}

JsonValue intArray(const std::vector<int64_t> &values) {
  return intArray(values.data(), values.data() + values.size());
}

/// An input, parameter or output.
Fields tensorFields(const PlanTensor &tensor) {
  Fields fields;
  fields.add("name", tensor.name)
      .add("buffer", tensor.buffer)
      .add("dtype", dtypeName(tensor.dtype))
      .add("shape", intArray(tensor.shape));
  // Optional: only a tensor that shares its buffer starts past byte 0.
  if (tensor.offset != 0)
    fields.add("offset", tensor.offset);
  return fields;
}

JsonValue kernelJson(const PlanKernel &kernel) {
  JsonValue args = JsonValue::array();
  for (const PlanKernelArg &arg : kernel.args) {
    Fields argFields;
    argFields.add("dtype", dtypeName(arg.dtype))
        .add("shape", intArray(arg.shape));
    if (arg.zeroed)
      argFields.add("zeroed", JsonValue::boolean(true));
    args.push(argFields.take());
  }
  Fields fields;
  fields.add("name", kernel.name)
      .add("symbol", kernel.symbol)
      .add("args", std::move(args));
  if (kernel.launch) {
    const PlanLaunch &launch = *kernel.launch;
    Fields launchFields;
    launchFields.add("grid", intArray(launch.grid, launch.grid + 3))
        .add("block", intArray(launch.block, launch.block + 3))
        .add("params", intArray(launch.params));
    if (launch.sharedBytes > 0)
      launchFields.add("shared_bytes", launch.sharedBytes);
    fields.add("launch", launchFields.take());
  } else {
    fields.add("blocks", kernel.blocks);
  }
  if (!kernel.kind.empty())
    fields.add("kind", kernel.kind);
  return fields.take();
}

/// The operands of an attention step, named as docs/plan.md names them.
const char *const kAttentionOperands[] = {"q",  "k",  "v",  "o",  "dout",
                                          "dq", "dk", "dv", "lse"};

JsonValue stepJson(const PlanStep &step) {
  Fields fields;
  switch (step.op) {
  case PlanStep::Op::Kernel:
    fields.add("op", "kernel")
        .add("kernel", step.kernel)
        .add("args", intArray(step.args));
    break;
  case PlanStep::Op::Gemm:
    fields.add("op", "gemm")
        .add("a", step.a)
        .add("b", step.b)
        .add("c", step.c)
        .add("a_offset", step.aOffset)
        .add("b_offset", step.bOffset)
        .add("c_offset", step.cOffset)
        .add("m", step.m)
        .add("n", step.n)
        .add("k", step.k)
        .add("trans_a", step.transA)
        .add("trans_b", step.transB)
        .add("beta", step.beta);
    // An all-F32 GEMM names no element types (docs/plan.md).
    if (step.aType != DType::F32 || step.bType != DType::F32 ||
        step.cType != DType::F32)
      fields.add("a_dtype", dtypeName(step.aType))
          .add("b_dtype", dtypeName(step.bType))
          .add("c_dtype", dtypeName(step.cType))
          .add("compute", "F32");
    break;
  case PlanStep::Op::AllReduce:
    fields.add("op", "all_reduce")
        .add("buffers", intArray(step.buffers))
        .add("reduction",
             step.reduction == PlanReduction::Mean ? "mean" : "sum")
        .add("when", step.when);
    break;
  case PlanStep::Op::Attention:
  case PlanStep::Op::AttentionGrad: {
    if (step.op == PlanStep::Op::Attention) {
      fields.add("op", "attention").add("symbol", step.symbols.at(0));
    } else {
      JsonValue symbols = JsonValue::array();
      for (const std::string &symbol : step.symbols)
        symbols.push(JsonValue::string(symbol));
      fields.add("op", "attention_grad").add("symbols", std::move(symbols));
    }
    fields.add("batch", step.batch)
        .add("seq_len", step.seqLen)
        .add("heads", step.heads)
        .add("kv_heads", step.kvHeads)
        .add("head_dim", step.headDim);
    // F32 activations name no element types (docs/plan.md).
    if (step.activationType != DType::F32)
      fields.add("activation_dtype", dtypeName(step.activationType));
    if (step.op == PlanStep::Op::Attention && step.outputType != DType::F32)
      fields.add("o_dtype", dtypeName(step.outputType));
    if (step.rope)
      fields.add("row_stride", step.rowStride);
    // The forward's optional lse is its fifth operand; the RoPE tables
    // come last.
    size_t tables = step.rope ? 2 : 0, n = step.operands.size();
    for (size_t i = 0; i < n; ++i) {
      const char *name = i + tables >= n ? (i + 2 == n ? "cos" : "sin")
                         : step.op == PlanStep::Op::Attention && i == 4
                             ? "lse"
                             : kAttentionOperands[i];
      fields.add(name, step.operands[i])
          .add(std::string(name) + "_offset", step.operandOffsets[i]);
    }
    break;
  }
  case PlanStep::Op::AdamW: {
    fields.add("op", "adamw")
        .add("params", intArray(step.adamParams))
        .add("grads", intArray(step.adamGrads))
        .add("exp_avg", intArray(step.adamExpAvg))
        .add("exp_avg_sq", intArray(step.adamExpAvgSq))
        .add("lr", step.adamLr)
        .add("step", step.adamStep)
        .add("apply", step.adamApply)
        .add("loss_nonfinite", step.adamLossNonfinite)
        .add("grad_norm", step.adamGradNorm)
        .add("nonfinite", step.adamNonfinite)
        .add("beta1", JsonValue::number(step.beta1))
        .add("beta2", JsonValue::number(step.beta2))
        .add("eps", JsonValue::number(step.eps))
        .add("weight_decay", JsonValue::number(step.weightDecay))
        .add("max_grad_norm", JsonValue::number(step.maxGradNorm));
    // Gradient accumulation only; the kernel library's entries on nvptx
    // only.
    if (!step.adamGradSums.empty())
      fields.add("grad_sums", intArray(step.adamGradSums));
    // Mixed precision only: the parameters' bf16 copies.
    if (!step.adamBf16Params.empty())
      fields.add("bf16_params", intArray(step.adamBf16Params));
    if (!step.symbols.empty()) {
      JsonValue symbols = JsonValue::array();
      for (const std::string &symbol : step.symbols)
        symbols.push(JsonValue::string(symbol));
      fields.add("symbols", std::move(symbols));
    }
    break;
  }
  }
  return fields.take();
}

JsonValue growthJson(const PlanGrowth &growth) {
  JsonValue stages = JsonValue::array();
  for (const PlanGrowthStage &stage : growth.stages)
    stages.push(Fields()
                    .add("stage", stage.stage)
                    .add("layers", stage.layers)
                    .add("plan", stage.planFile)
                    .take());
  return Fields()
      .add("method", growth.method)
      .add("block_size", growth.blockSize)
      .add("stages", std::move(stages))
      .take();
}

} // namespace

std::string serializePlan(const Plan &plan) {
  JsonValue buffers = JsonValue::array();
  for (const PlanBuffer &buffer : plan.buffers) {
    Fields fields;
    fields.add("id", buffer.id)
        .add("offset", buffer.offset)
        .add("size", buffer.size);
    if (buffer.zeroed)
      fields.add("zeroed", JsonValue::boolean(true));
    buffers.push(fields.take());
  }
  JsonValue inputs = JsonValue::array(), params = JsonValue::array(),
            outputs = JsonValue::array();
  for (const PlanTensor &input : plan.inputs)
    inputs.push(tensorFields(input).take());
  for (const PlanParam &param : plan.params) {
    Fields fields = tensorFields(param);
    fields.add("source", param.source)
        .add("copy", JsonValue::boolean(param.copy));
    if (param.scale != 1.0)
      fields.add("scale", JsonValue::number(param.scale));
    if (param.frozen)
      fields.add("frozen", JsonValue::boolean(true));
    if (param.bf16Copy >= 0)
      fields.add("bf16_copy", param.bf16Copy);
    params.push(fields.take());
  }
  for (const PlanTensor &output : plan.outputs)
    outputs.push(tensorFields(output).take());
  JsonValue kernels = JsonValue::array(), steps = JsonValue::array();
  for (const PlanKernel &kernel : plan.kernels)
    kernels.push(kernelJson(kernel));
  for (const PlanStep &step : plan.steps)
    steps.push(stepJson(step));

  Fields root;
  root.add("format", "growc-plan")
      .add("version", Plan::kVersion)
      .add("graph", plan.graph)
      .add("target", plan.target)
      .add("model", plan.model)
      .add("kernels_file", plan.kernelsFile)
      .add("kernels_hash", plan.kernelsHash)
      .add("batch", plan.batch)
      .add("seq", plan.seq)
      .add("vocab_size", plan.vocabSize)
      .add("alignment", plan.alignment)
      .add("arena_size", plan.arenaSize)
      .add("buffers", std::move(buffers))
      .add("inputs", std::move(inputs))
      .add("params", std::move(params))
      .add("outputs", std::move(outputs))
      .add("kernels", std::move(kernels))
      .add("steps", std::move(steps));
  if (plan.microBatches != 1)
    root.add("micro_batches", plan.microBatches);
  if (plan.growth)
    root.add("growth", growthJson(*plan.growth));
  return toJson(root.take(), /*indent=*/2) + "\n";
}

std::string serializeKernelTable(const std::vector<PlanKernel> &kernels) {
  JsonValue table = JsonValue::array();
  for (const PlanKernel &kernel : kernels)
    table.push(kernelJson(kernel));
  // Compact: the table is one line (a PTX comment, a C string).
  return toJson(table);
}

} // namespace growc::rt
