//===- PlanSteps.cpp - The plan's steps -----------------------------------===//
//
// The steps of a plan (docs/plan.md), the list an executor runs: generated
// kernels, GEMMs, library attention (forward and backward), all-reduces and
// the flat AdamW step.
// Each step is checked against the buffers and kernels read before it
// (PlanSections.cpp): every buffer it names exists and holds the bytes it
// addresses, so that an executor runs a loaded plan without further checks.
// Once all steps are read, the buffers' lifetimes over them are known, and no
// two buffers that are live at the same step may share bytes: otherwise one
// step's output overwrites a value that a later step still reads (a token
// buffer filled with floats, say), which no per-step check can see.
//
//===----------------------------------------------------------------------===//

#include "PlanParser.h"

#include "growc/runtime/Limits.h"

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <queue>
#include <utility>

namespace growc::rt::detail {

namespace {

/// cblas_sgemm takes int dimensions (32-bit in Debian's OpenBLAS).
constexpr int64_t kMaxGemmDim = limits::kMaxGemmDim;

/// The buffers a step reads or writes (its flag included).
std::vector<int64_t> touchedBuffers(const PlanStep &step) {
  switch (step.op) {
  case PlanStep::Op::Kernel:
    return step.args;
  case PlanStep::Op::Gemm:
    return {step.a, step.b, step.c};
  case PlanStep::Op::Attention:
  case PlanStep::Op::AttentionGrad:
    return step.operands;
  case PlanStep::Op::AllReduce: {
    std::vector<int64_t> ids = step.buffers;
    if (step.when >= 0)
      ids.push_back(step.when);
    return ids;
  }
  case PlanStep::Op::AdamW: {
    std::vector<int64_t> ids;
    for (const std::vector<int64_t> *list :
         {&step.adamParams, &step.adamGrads, &step.adamExpAvg,
          &step.adamExpAvgSq, &step.adamGradSums, &step.adamBf16Params})
      ids.insert(ids.end(), list->begin(), list->end());
    for (int64_t id :
         {step.adamLr, step.adamStep, step.adamApply, step.adamLossNonfinite,
          step.adamGradNorm, step.adamNonfinite})
      if (id >= 0)
        ids.push_back(id);
    return ids;
  }
  }
  return {};
}

/// Checks that no two buffers share bytes while both are live. A buffer is
/// live from the first to the last step that touches it, both included
/// (the rule by which the compiler's PlanEmitter::assignOffsets shares
/// bytes, over host ops rather than steps: its lifetimes contain these).
/// Inputs, parameters and outputs are live for the whole run and across
/// runs (the runtime writes them before the first step and reads them after
/// the last). A sweep over the steps keeps the live buffers in a map by
/// offset: they are disjoint, so a new one can only overlap its neighbours,
/// O(n log n) for n buffers.
Status checkLiveBuffersDisjoint(const Plan &plan) {
  const int64_t numSteps = static_cast<int64_t>(plan.steps.size());
  constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  // [first, last] per buffer; first = kNever: never live.
  std::vector<std::pair<int64_t, int64_t>> live(plan.buffers.size(),
                                                {kNever, -1});
  const std::pair<int64_t, int64_t> wholeRun = {-1, numSteps};
  auto persistent = [&](int64_t id) { live[id] = wholeRun; };
  for (const PlanTensor &t : plan.inputs)
    persistent(t.buffer);
  for (const PlanParam &t : plan.params) {
    persistent(t.buffer);
    // Kept equal to bf16(parameter) across runs.
    if (t.bf16Copy >= 0)
      persistent(t.bf16Copy);
  }
  for (const PlanTensor &t : plan.outputs)
    persistent(t.buffer);
  for (int64_t s = 0; s < numSteps; ++s)
    for (int64_t id : touchedBuffers(plan.steps[s])) {
      if (live[id] == wholeRun)
        continue;
      live[id].first = std::min(live[id].first, s);
      live[id].second = std::max(live[id].second, s);
    }

  std::vector<int64_t> order;
  for (const PlanBuffer &buffer : plan.buffers)
    if (buffer.size > 0 && live[buffer.id].first != kNever)
      order.push_back(buffer.id);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
    return live[x].first < live[y].first;
  });
  auto describe = [&](int64_t id) {
    const PlanBuffer &b = plan.buffers[id];
    return "buffers[" + std::to_string(id) + "] (bytes [" +
           std::to_string(b.offset) + ", " + std::to_string(b.offset + b.size) +
           "))";
  };
  auto lifetime = [&](int64_t id) {
    return live[id] == wholeRun ? std::string("the whole run")
                                : "steps " + std::to_string(live[id].first) +
                                      ".." + std::to_string(live[id].second);
  };
  // Live buffers by offset, and by the step after which they end.
  std::map<int64_t, int64_t> byOffset;
  using Ending = std::pair<int64_t, int64_t>; // (last step, id)
  std::priority_queue<Ending, std::vector<Ending>, std::greater<Ending>> ends;
  for (int64_t id : order) {
    const PlanBuffer &buffer = plan.buffers[id];
    // Closed intervals: a buffer whose last step is this one's first is
    // still live.
    while (!ends.empty() && ends.top().first < live[id].first) {
      byOffset.erase(plan.buffers[ends.top().second].offset);
      ends.pop();
    }
    std::optional<int64_t> clash;
    auto next = byOffset.lower_bound(buffer.offset);
    if (next != byOffset.end() && next->first < buffer.offset + buffer.size)
      clash = next->second;
    else if (next != byOffset.begin()) {
      const PlanBuffer &prev = plan.buffers[std::prev(next)->second];
      if (prev.offset + prev.size > buffer.offset)
        clash = prev.id;
    }
    if (clash)
      return Status::error(describe(id) + " overlaps " + describe(*clash) +
                           " while both are live (" + lifetime(id) + " and " +
                           lifetime(*clash) + ")");
    byOffset.emplace(buffer.offset, id);
    ends.emplace(live[id].second, id);
  }
  return Status::ok();
}

/// Kernel steps bind zeroed buffers to counter arguments only
/// (parseKernelStep); no other step may touch one (a GEMM or attention
/// output there would leave it nonzero for the next run), and one that no
/// kernel counts in is not a counter.
Status checkZeroedBufferUses(const Plan &plan) {
  std::vector<bool> counted(plan.buffers.size(), false);
  for (size_t s = 0; s < plan.steps.size(); ++s)
    for (int64_t id : touchedBuffers(plan.steps[s])) {
      if (!plan.buffers[id].zeroed)
        continue;
      if (plan.steps[s].op != PlanStep::Op::Kernel)
        return Status::error("steps[" + std::to_string(s) + "]: buffer " +
                             std::to_string(id) +
                             " is zeroed (a completion counter); only a "
                             "kernel step's counter argument may use it");
      counted[id] = true;
    }
  for (const PlanBuffer &buffer : plan.buffers)
    if (buffer.zeroed && !counted[buffer.id])
      return Status::error("buffers[" + std::to_string(buffer.id) +
                           "]: a zeroed buffer that no kernel step counts in");
  return Status::ok();
}

} // namespace

Status PlanParser::parseSteps(const JsonValue &root) {
  const JsonValue *steps;
  GROWC_RETURN_IF_ERROR(getArray(root, "", "steps", steps));
  for (size_t i = 0; i < steps->size(); ++i) {
    const JsonValue &entry = steps->elements()[i];
    std::string ctx = "steps[" + std::to_string(i) + "]";
    GROWC_RETURN_IF_ERROR(expectObject(entry, ctx));
    std::string op;
    GROWC_RETURN_IF_ERROR(getString(entry, ctx, "op", op));
    PlanStep step;
    if (op == "kernel")
      GROWC_RETURN_IF_ERROR(parseKernelStep(entry, ctx, step));
    else if (op == "gemm")
      GROWC_RETURN_IF_ERROR(parseGemmStep(entry, ctx, step));
    else if (op == "all_reduce")
      GROWC_RETURN_IF_ERROR(parseAllReduceStep(entry, ctx, step));
    else if (op == "attention" || op == "attention_grad")
      GROWC_RETURN_IF_ERROR(parseAttentionStep(entry, ctx, step));
    else if (op == "adamw")
      GROWC_RETURN_IF_ERROR(parseAdamWStep(entry, ctx, step));
    else
      return Status::error(ctx + ".op: unknown op " + inQuotes(op) +
                           " (expected 'kernel', 'gemm', 'attention', "
                           "'attention_grad', 'all_reduce' or 'adamw')");
    // The optimizer step updates the whole training state once; a second
    // one would apply every update twice.
    if (step.op == PlanStep::Op::AdamW)
      for (size_t j = 0; j < plan.steps.size(); ++j)
        if (plan.steps[j].op == PlanStep::Op::AdamW)
          return Status::error(ctx + ": a second adamw step (also steps[" +
                               std::to_string(j) +
                               "]); a plan has at most one");
    plan.steps.push_back(std::move(step));
  }
  GROWC_RETURN_IF_ERROR(checkZeroedBufferUses(plan));
  return checkLiveBuffersDisjoint(plan);
}

Status PlanParser::parseKernelStep(const JsonValue &step,
                                   const std::string &ctx, PlanStep &out) {
  GROWC_RETURN_IF_ERROR(checkKeys(step, ctx, {"op", "kernel", "args"}));
  out.op = PlanStep::Op::Kernel;
  const JsonValue *index;
  GROWC_RETURN_IF_ERROR(getField(step, ctx, "kernel", index));
  if (!index->isInteger() || !index->getInt64(out.kernel) || out.kernel < 0 ||
      out.kernel >= static_cast<int64_t>(plan.kernels.size()))
    return Status::error(ctx + ".kernel: kernel index " + describeJson(*index) +
                         " out of range (the plan has " +
                         std::to_string(plan.kernels.size()) + " kernels)");
  const PlanKernel &kernel = plan.kernels[out.kernel];

  const JsonValue *args;
  GROWC_RETURN_IF_ERROR(getArray(step, ctx, "args", args));
  if (args->size() != kernel.args.size())
    return Status::error(ctx + ": passes " + std::to_string(args->size()) +
                         " buffers but kernel " + std::to_string(out.kernel) +
                         " (" + inQuotes(kernel.name) + ") takes " +
                         std::to_string(kernel.args.size()) + " arguments");
  for (size_t j = 0; j < args->size(); ++j) {
    const JsonValue &arg = args->elements()[j];
    std::string argCtx = ctx + ".args[" + std::to_string(j) + "]";
    int64_t id;
    if (!arg.isInteger() || !arg.getInt64(id) || id < 0 ||
        id >= static_cast<int64_t>(plan.buffers.size()))
      return Status::error(argCtx + ": unknown buffer id " + describeJson(arg) +
                           " (the plan has " +
                           std::to_string(plan.buffers.size()) + " buffers)");
    const PlanKernelArg &expected = kernel.args[j];
    if (expected.byteSize > plan.buffers[id].size)
      return Status::error(
          argCtx + ": buffer " + std::to_string(id) + " holds " +
          std::to_string(plan.buffers[id].size) + " bytes but argument " +
          std::to_string(j) + " of kernel " + inQuotes(kernel.name) + " (" +
          dtypeName(expected.dtype) + " " + formatShape(expected.shape) +
          ") needs " + std::to_string(expected.byteSize));
    // A counter must be zero when the kernel starts, which only a zeroed
    // buffer guarantees (any other holds what the last step wrote); a
    // zeroed buffer elsewhere would be left nonzero for the next run.
    if (expected.zeroed && !plan.buffers[id].zeroed)
      return Status::error(argCtx + ": argument " + std::to_string(j) +
                           " of kernel " + inQuotes(kernel.name) +
                           " is a completion counter but buffer " +
                           std::to_string(id) +
                           " is not zeroed (only a zeroed buffer is zero "
                           "when the kernel starts)");
    if (!expected.zeroed && plan.buffers[id].zeroed)
      return Status::error(argCtx + ": buffer " + std::to_string(id) +
                           " is zeroed (a completion counter) but argument " +
                           std::to_string(j) + " of kernel " +
                           inQuotes(kernel.name) +
                           " is not a counter (the kernel would leave it "
                           "nonzero for the next run)");
    out.args.push_back(id);
  }
  return Status::ok();
}

Status PlanParser::parseGemmStep(const JsonValue &step, const std::string &ctx,
                                 PlanStep &out) {
  GROWC_RETURN_IF_ERROR(
      checkKeys(step, ctx,
                {"op", "a", "b", "c", "a_offset", "b_offset", "c_offset", "m",
                 "n", "k", "trans_a", "trans_b", "beta", "a_dtype", "b_dtype",
                 "c_dtype", "compute"}));
  out.op = PlanStep::Op::Gemm;
  // Mixed precision (docs/plan.md): the four fields come together; a plan
  // without them is all-F32.
  const char *precisionKeys[] = {"a_dtype", "b_dtype", "c_dtype", "compute"};
  int present = 0;
  for (const char *key : precisionKeys)
    present += step.find(key) != nullptr;
  if (present != 0 && present != 4)
    return Status::error(ctx + ": a gemm names a_dtype, b_dtype, c_dtype and "
                               "compute together or none of them");
  if (present) {
    DType *types[] = {&out.aType, &out.bType, &out.cType};
    for (int i = 0; i < 3; ++i) {
      std::string name;
      GROWC_RETURN_IF_ERROR(getString(step, ctx, precisionKeys[i], name));
      std::optional<DType> dtype = parseDType(name);
      if (!dtype || (*dtype != DType::F32 && *dtype != DType::BF16))
        return Status::error(fieldPath(ctx, precisionKeys[i]) + ": " +
                             inQuotes(name) + " is not a gemm element type " +
                             "(F32 or BF16)");
      *types[i] = *dtype;
    }
    std::string compute;
    GROWC_RETURN_IF_ERROR(getString(step, ctx, "compute", compute));
    if (compute != "F32")
      return Status::error(fieldPath(ctx, "compute") + ": " +
                           inQuotes(compute) +
                           " is not a compute type (expected 'F32')");
    // A and B are read by one library call in one precision.
    if (out.aType != out.bType)
      return Status::error(ctx + ": gemm operands A (" + dtypeName(out.aType) +
                           ") and B (" + dtypeName(out.bType) +
                           ") differ in element type");
  }
  GROWC_RETURN_IF_ERROR(getBufferRef(step, ctx, "a", out.a));
  GROWC_RETURN_IF_ERROR(getBufferRef(step, ctx, "b", out.b));
  GROWC_RETURN_IF_ERROR(getBufferRef(step, ctx, "c", out.c));
  // Bounded by the arena's size below (offset + bytes within the buffer).
  constexpr int64_t kMaxOffset = std::numeric_limits<int64_t>::max() / 2;
  GROWC_RETURN_IF_ERROR(
      getInt(step, ctx, "a_offset", 0, kMaxOffset, out.aOffset));
  GROWC_RETURN_IF_ERROR(
      getInt(step, ctx, "b_offset", 0, kMaxOffset, out.bOffset));
  GROWC_RETURN_IF_ERROR(
      getInt(step, ctx, "c_offset", 0, kMaxOffset, out.cOffset));
  GROWC_RETURN_IF_ERROR(getInt(step, ctx, "m", 1, kMaxGemmDim, out.m));
  GROWC_RETURN_IF_ERROR(getInt(step, ctx, "n", 1, kMaxGemmDim, out.n));
  GROWC_RETURN_IF_ERROR(getInt(step, ctx, "k", 1, kMaxGemmDim, out.k));
  GROWC_RETURN_IF_ERROR(getInt(step, ctx, "trans_a", 0, 1, out.transA));
  GROWC_RETURN_IF_ERROR(getInt(step, ctx, "trans_b", 0, 1, out.transB));
  GROWC_RETURN_IF_ERROR(getInt(step, ctx, "beta", 0, 1, out.beta));

  // Dimensions are below 2^31, so the products fit in int64_t.
  struct Operand {
    const char *name;
    int64_t buffer;
    int64_t offset; ///< bytes into the buffer
    int64_t rows, cols;
    int64_t elementSize;
    int64_t bytes() const { return rows * cols * elementSize; }
  };
  const Operand a{"A",   out.a, out.aOffset,
                  out.m, out.k, int64_t(dtypeSize(out.aType))};
  const Operand b{"B",   out.b, out.bOffset,
                  out.n, out.k, int64_t(dtypeSize(out.bType))};
  const Operand c{"C",   out.c, out.cOffset,
                  out.m, out.n, int64_t(dtypeSize(out.cType))};
  for (const Operand &op : {a, b, c}) {
    const PlanBuffer &buffer = plan.buffers[op.buffer];
    std::string what = std::string("gemm operand ") + op.name + " [" +
                       std::to_string(op.rows) + ", " +
                       std::to_string(op.cols) + "]";
    // The executor addresses whole elements from here.
    if (op.offset % op.elementSize != 0)
      return Status::error(ctx + ": " + what + " starts at byte " +
                           std::to_string(op.offset) + " of buffer " +
                           std::to_string(op.buffer) + ", not a multiple of " +
                           std::to_string(op.elementSize));
    // Both terms are below 2^62 (offset bound, dimensions below 2^31).
    if (op.offset + op.bytes() > buffer.size)
      return Status::error(
          ctx + ": " + what + " needs " + std::to_string(op.bytes()) +
          " bytes" +
          (op.offset ? " from byte " + std::to_string(op.offset) : "") +
          " but buffer " + std::to_string(op.buffer) + " holds " +
          std::to_string(buffer.size));
  }
  // BLAS leaves an output that aliases an input undefined; the memory
  // planner must never place C over a live operand.
  auto overlaps = [&](const Operand &x, const Operand &y) {
    int64_t xBegin = plan.buffers[x.buffer].offset + x.offset;
    int64_t yBegin = plan.buffers[y.buffer].offset + y.offset;
    return xBegin < yBegin + y.bytes() && yBegin < xBegin + x.bytes();
  };
  for (const Operand &op : {a, b})
    if (overlaps(c, op))
      return Status::error(ctx + ": gemm output C (buffer " +
                           std::to_string(c.buffer) + ") overlaps operand " +
                           op.name + " (buffer " + std::to_string(op.buffer) +
                           ")");
  return Status::ok();
}

Status PlanParser::parseAttentionStep(const JsonValue &step,
                                      const std::string &ctx, PlanStep &out) {
  std::string op;
  GROWC_RETURN_IF_ERROR(getString(step, ctx, "op", op));
  const bool backward = op == "attention_grad";
  // Forward: q, k, v, o and optionally lse; backward: q, k, v, o, dout,
  // dq, dk, dv, lse. The k-like ones have KV heads' width.
  std::vector<std::string> names = {"q", "k", "v", "o"};
  if (backward)
    names.insert(names.end(), {"dout", "dq", "dk", "dv"});
  if (backward || step.find("lse"))
    names.push_back("lse");
  // RoPE on load: q, k and v rows of row_stride elements, and the tables.
  const bool rope =
      step.find("cos") || step.find("sin") || step.find("row_stride");
  if (rope)
    names.insert(names.end(), {"cos", "sin"});
  std::vector<std::string> keys = {"op",
                                   "batch",
                                   "seq_len",
                                   "heads",
                                   "kv_heads",
                                   "head_dim",
                                   "activation_dtype",
                                   backward ? "symbols" : "symbol"};
  if (!backward)
    keys.insert(keys.end(), {"o_dtype", "lse", "lse_offset"});
  if (rope)
    keys.push_back("row_stride");
  for (const std::string &name : names) {
    keys.push_back(name);
    keys.push_back(name + "_offset");
  }
  GROWC_RETURN_IF_ERROR(checkKeys(
      step, ctx, std::vector<std::string_view>(keys.begin(), keys.end())));
  out.op = backward ? PlanStep::Op::AttentionGrad : PlanStep::Op::Attention;
  if (plan.target != "nvptx")
    return Status::error(ctx + ": an " + op + " step in a " + plan.target +
                         " plan (its kernels are the GPU library's)");
  if (backward) {
    GROWC_RETURN_IF_ERROR(getLibrarySymbols(
        step, ctx, 2,
        "the backward has 2 passes (rowsum(dO o O), then dK, dV and dQ)",
        out.symbols));
  } else {
    out.symbols.emplace_back();
    GROWC_RETURN_IF_ERROR(getString(step, ctx, "symbol", out.symbols[0]));
    if (out.symbols[0].rfind("growc_", 0) != 0)
      return Status::error(fieldPath(ctx, "symbol") + ": " +
                           inQuotes(out.symbols[0]) +
                           " is not a kernel library entry point (growc_*)");
  }
  // Each symbol is launched with its pass's arguments (the rope main pass
  // takes 11 pointers and 5 scalars, the prep pass 6 and 4): a pass named
  // in another's place would read arguments it was not given.
  for (size_t i = 0; i < out.symbols.size(); ++i) {
    const std::string &symbol = out.symbols[i];
    const bool prep = symbol.rfind("growc_flash_backward_prep_", 0) == 0;
    const char *role = !backward ? "growc_flash_forward_"
                       : i == 0  ? "growc_flash_backward_prep_"
                                 : "growc_flash_backward_";
    if (symbol.rfind(role, 0) != 0 || (backward && i == 1 && prep))
      return Status::error(ctx + ": " + inQuotes(symbol) +
                           " is not the attention" +
                           (!backward ? " forward ("
                            : i == 0  ? " backward's prep pass ("
                                      : " backward's main pass (") +
                           role + (i == 1 ? "*, not *_prep_*)" : "*)"));
  }
  // A rope entry point rotates q and k: it needs the tables and the
  // stride, and only it takes them.
  for (const std::string &symbol : out.symbols) {
    bool ropeSymbol = symbol.find("_rope_") != std::string::npos;
    if (symbol.find("_prep_") == std::string::npos && ropeSymbol != rope)
      return Status::error(
          ctx + ": " + inQuotes(symbol) +
          (ropeSymbol ? " rotates q and k on load: the step needs row_stride, "
                        "cos and sin (RoPE tables)"
                      : " reads rotated q and k: row_stride, cos and sin "
                        "belong to a *_rope_* entry point"));
  }
  constexpr int64_t kMaxDim = limits::kMaxSeq;
  // The kernels' grids are (tiles, heads, batch): CUDA caps y and z at
  // 65535.
  GROWC_RETURN_IF_ERROR(getInt(step, ctx, "batch", 1, 65535, out.batch));
  GROWC_RETURN_IF_ERROR(getInt(step, ctx, "seq_len", 1, kMaxDim, out.seqLen));
  GROWC_RETURN_IF_ERROR(getInt(step, ctx, "heads", 1, 4096, out.heads));
  GROWC_RETURN_IF_ERROR(getInt(step, ctx, "kv_heads", 1, 4096, out.kvHeads));
  GROWC_RETURN_IF_ERROR(getInt(step, ctx, "head_dim", 1, 4096, out.headDim));
  if (out.heads % out.kvHeads != 0)
    return Status::error(ctx + ": " + std::to_string(out.heads) +
                         " heads do not group over " +
                         std::to_string(out.kvHeads) + " KV heads");
  // Element types (optional, F32 by default): the activations' and the
  // forward output's.
  auto elementType = [&](const char *key, DType &type) -> Status {
    if (!step.find(key))
      return Status::ok();
    std::string name;
    GROWC_RETURN_IF_ERROR(getString(step, ctx, key, name));
    std::optional<DType> dtype = parseDType(name);
    if (!dtype || (*dtype != DType::F32 && *dtype != DType::BF16))
      return Status::error(fieldPath(ctx, key) + ": " + inQuotes(name) +
                           " is not an attention element type (F32 or BF16)");
    type = *dtype;
    return Status::ok();
  };
  GROWC_RETURN_IF_ERROR(elementType("activation_dtype", out.activationType));
  out.rope = rope;
  if (rope) {
    // The rope instances read bf16 q, k and v (the fp32 pipeline keeps
    // the generated RoPE kernel).
    if (out.activationType != DType::BF16)
      return Status::error(ctx + ": RoPE on load reads bf16 q, k and v: "
                                 "the step's activation_dtype must be BF16");
    GROWC_RETURN_IF_ERROR(
        getInt(step, ctx, "row_stride", 1, kMaxDim * 64, out.rowStride));
    int64_t widest = std::max(out.heads, out.kvHeads) * out.headDim;
    if (out.rowStride < widest || out.headDim % 2 != 0)
      return Status::error(
          fieldPath(ctx, "row_stride") + ": " + std::to_string(out.rowStride) +
          " elements per row of q, k and v cannot hold " +
          std::to_string(widest) + " columns (or head_dim is odd)");
  }
  if (!backward)
    GROWC_RETURN_IF_ERROR(elementType("o_dtype", out.outputType));
  // The operand sizes below follow the step's dtypes, the entry point's
  // accesses its own name's (growc_flash_forward_*_<in>_<out>,
  // growc_flash_backward_*_<in>): an f32 instance on buffers verified for
  // bf16 would read (and write) past them.
  auto dtypeSuffix = [](DType type) {
    return std::string(type == DType::BF16 ? "_bf16" : "_f32");
  };
  std::string suffix = dtypeSuffix(out.activationType);
  std::string types =
      "activation_dtype " + std::string(dtypeName(out.activationType));
  if (!backward) {
    suffix += dtypeSuffix(out.outputType);
    types += " and o_dtype " + std::string(dtypeName(out.outputType));
  }
  for (const std::string &symbol : out.symbols)
    if (symbol.size() < suffix.size() ||
        symbol.compare(symbol.size() - suffix.size(), suffix.size(), suffix) !=
            0)
      return Status::error(ctx + ": " + inQuotes(symbol) +
                           " is not the instance for " + types +
                           " (its name would end " + suffix + ")");
  for (const std::string &name : names) {
    int64_t id, offset;
    GROWC_RETURN_IF_ERROR(getBufferRef(step, ctx, name.c_str(), id));
    std::string key = name + "_offset";
    GROWC_RETURN_IF_ERROR(getInt(step, ctx, key.c_str(), 0,
                                 std::numeric_limits<int64_t>::max() / 2,
                                 offset));
    bool kvWidth = name == "k" || name == "v" || name == "dk" || name == "dv";
    int64_t width = (kvWidth ? out.kvHeads : out.heads) * out.headDim;
    // The gradients, the log-sum-exps ([batch * heads, seq_len]) and the
    // RoPE tables ([batch * seq_len, head_dim / 2]) are f32.
    bool table = name == "cos" || name == "sin";
    bool f32 = (name[0] == 'd' && name != "dout") || name == "lse" || table;
    DType type = name == "o" && !backward ? out.outputType
                 : f32                    ? DType::F32
                                          : out.activationType;
    int64_t rows = out.batch * out.seqLen;
    if (name == "lse")
      rows = out.batch * out.heads, width = out.seqLen;
    if (table)
      width = out.headDim / 2;
    int64_t elementBytes = type == DType::BF16 ? 2 : 4;
    int64_t bytes = rows * width * elementBytes;
    // With RoPE on load, q, k and v are rows of row_stride elements.
    if (rope && (name == "q" || name == "k" || name == "v"))
      bytes = ((rows - 1) * out.rowStride + width) * elementBytes;
    const PlanBuffer &buffer = plan.buffers[id];
    if (offset % elementBytes != 0 || offset + bytes > buffer.size)
      return Status::error(
          ctx + ": " + op + " operand " + name + " (" + dtypeName(type) + " [" +
          std::to_string(rows) + ", " + std::to_string(width) + "]) needs " +
          std::to_string(bytes) + " bytes from byte " + std::to_string(offset) +
          " but buffer " + std::to_string(id) + " holds " +
          std::to_string(buffer.size));
    out.operands.push_back(id);
    out.operandOffsets.push_back(offset);
  }
  return Status::ok();
}

Status PlanParser::getLibrarySymbols(const JsonValue &step,
                                     const std::string &ctx, size_t count,
                                     const std::string &what,
                                     std::vector<std::string> &out) {
  const JsonValue *symbols;
  GROWC_RETURN_IF_ERROR(getArray(step, ctx, "symbols", symbols));
  for (const JsonValue &symbol : symbols->elements()) {
    if (!symbol.isString())
      return Status::error(fieldPath(ctx, "symbols") +
                           ": entries must be strings");
    out.push_back(symbol.asString());
  }
  if (out.size() != count)
    return Status::error(fieldPath(ctx, "symbols") + ": " + what + ", not " +
                         std::to_string(out.size()));
  // Generated kernels' symbols never start so.
  for (const std::string &symbol : out)
    if (symbol.rfind("growc_", 0) != 0)
      return Status::error(fieldPath(ctx, "symbols") + ": " + inQuotes(symbol) +
                           " is not a kernel library entry point (growc_*)");
  return Status::ok();
}

Status PlanParser::parseAllReduceStep(const JsonValue &step,
                                      const std::string &ctx, PlanStep &out) {
  GROWC_RETURN_IF_ERROR(
      checkKeys(step, ctx, {"op", "buffers", "reduction", "when"}));
  out.op = PlanStep::Op::AllReduce;
  std::string reduction;
  GROWC_RETURN_IF_ERROR(getString(step, ctx, "reduction", reduction));
  if (reduction == "mean")
    out.reduction = PlanReduction::Mean;
  else if (reduction == "sum")
    out.reduction = PlanReduction::Sum;
  else
    return Status::error(ctx + ".reduction: unknown reduction " +
                         inQuotes(reduction) + " (expected 'mean' or 'sum')");
  const JsonValue *buffers;
  GROWC_RETURN_IF_ERROR(getArray(step, ctx, "buffers", buffers));
  if (buffers->size() == 0)
    return Status::error(ctx + ".buffers: an all_reduce step needs at least "
                               "one buffer");
  for (size_t j = 0; j < buffers->size(); ++j) {
    const JsonValue &entry = buffers->elements()[j];
    std::string entryCtx = ctx + ".buffers[" + std::to_string(j) + "]";
    int64_t id;
    if (!entry.isInteger() || !entry.getInt64(id) || id < 0 ||
        id >= static_cast<int64_t>(plan.buffers.size()))
      return Status::error(entryCtx + ": unknown buffer id " +
                           describeJson(entry) + " (the plan has " +
                           std::to_string(plan.buffers.size()) + " buffers)");
    const PlanBuffer &buffer = plan.buffers[id];
    // The executor reduces the buffer's floats.
    if (buffer.size % int64_t(sizeof(float)) != 0)
      return Status::error(entryCtx + ": buffer " + std::to_string(id) +
                           " holds " + std::to_string(buffer.size) +
                           " bytes, not a whole number of floats");
    // Two buffers over the same bytes would be reduced twice.
    for (int64_t other : out.buffers) {
      const PlanBuffer &o = plan.buffers[other];
      if (other == id || (buffer.offset < o.offset + o.size &&
                          o.offset < buffer.offset + buffer.size))
        return Status::error(entryCtx + ": buffer " + std::to_string(id) +
                             (other == id ? " is listed twice"
                                          : " overlaps buffer " +
                                                std::to_string(other) +
                                                " of the same step"));
    }
    out.buffers.push_back(id);
  }
  const JsonValue *when;
  GROWC_RETURN_IF_ERROR(getField(step, ctx, "when", when));
  if (!when->isInteger() || !when->getInt64(out.when) || out.when < -1 ||
      out.when >= static_cast<int64_t>(plan.buffers.size()))
    return Status::error(
        ctx + ".when: must be -1 (always) or the id of a flag buffer, got " +
        describeJson(*when) + " (the plan has " +
        std::to_string(plan.buffers.size()) + " buffers)");
  if (out.when >= 0) {
    const PlanBuffer &flag = plan.buffers[out.when];
    if (flag.size < int64_t(sizeof(float)))
      return Status::error(ctx + ".when: flag buffer " +
                           std::to_string(out.when) + " holds " +
                           std::to_string(flag.size) + " bytes, not a float");
    for (int64_t id : out.buffers) {
      const PlanBuffer &b = plan.buffers[id];
      if (flag.offset < b.offset + b.size && b.offset < flag.offset + flag.size)
        return Status::error(ctx + ".when: flag buffer " +
                             std::to_string(out.when) +
                             " overlaps reduced buffer " + std::to_string(id));
    }
  }
  return Status::ok();
}

} // namespace growc::rt::detail
