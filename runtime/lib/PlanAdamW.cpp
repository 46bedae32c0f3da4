//===- PlanAdamW.cpp - The plan's adamw step ------------------------------===//
//
// The `adamw` step (docs/plan.md) is a train graph's whole optimizer: one
// step that clips the global gradient norm and updates every trained
// parameter, both AdamW moments and the gradient sums in place. Executors
// run it as one elementwise pass over flat arena regions (CPU: over the
// thread pool; GPU: three library launches), which is only correct when
// the lists' buffers really form such regions with one shared element
// layout and nothing else lives inside them. The compiler places them so;
// this file checks it, because an executor trusting a wrong layout would
// update bytes that belong to other tensors.
//
//===----------------------------------------------------------------------===//

#include "PlanParser.h"

#include <cmath>
#include <iterator>
#include <limits>
#include <set>

namespace growc::rt::detail {

namespace {

/// The step's buffer lists, in the order docs/plan.md lists them.
struct AdamWList {
  const char *key;
  std::vector<int64_t> PlanStep::*ids;
};
constexpr AdamWList kAdamWLists[] = {
    {"params", &PlanStep::adamParams},
    {"grads", &PlanStep::adamGrads},
    {"exp_avg", &PlanStep::adamExpAvg},
    {"exp_avg_sq", &PlanStep::adamExpAvgSq},
    {"grad_sums", &PlanStep::adamGradSums},
};

/// The [1] F32 scalars; `apply` may be -1.
struct AdamWScalar {
  const char *key;
  int64_t PlanStep::*id;
};
constexpr AdamWScalar kAdamWScalars[] = {
    {"lr", &PlanStep::adamLr},
    {"step", &PlanStep::adamStep},
    {"apply", &PlanStep::adamApply},
    {"loss_nonfinite", &PlanStep::adamLossNonfinite},
    {"grad_norm", &PlanStep::adamGradNorm},
    {"nonfinite", &PlanStep::adamNonfinite},
};

bool overlaps(int64_t aBegin, int64_t aEnd, int64_t bBegin, int64_t bEnd) {
  return aBegin < bEnd && bBegin < aEnd;
}

std::string bytesOf(const PlanBuffer &b) {
  return "bytes [" + std::to_string(b.offset) + ", " +
         std::to_string(b.offset + b.size) + ")";
}

} // namespace

Status PlanParser::parseAdamWStep(const JsonValue &step, const std::string &ctx,
                                  PlanStep &out) {
  GROWC_RETURN_IF_ERROR(
      checkKeys(step, ctx,
                {"op", "params", "grads", "exp_avg", "exp_avg_sq", "grad_sums",
                 "lr", "step", "apply", "loss_nonfinite", "grad_norm",
                 "nonfinite", "beta1", "beta2", "eps", "weight_decay",
                 "max_grad_norm", "symbols", "bf16_params"}));
  out.op = PlanStep::Op::AdamW;

  // The GPU runs the step as the kernel library's three entry points; the
  // CPU runtime runs it itself and has nothing to call.
  const JsonValue *symbols = step.find("symbols");
  if (plan.target == "nvptx") {
    GROWC_RETURN_IF_ERROR(getLibrarySymbols(
        step, ctx, 3,
        "the step has 3 launches (squared-norm partials, scalars, update)",
        out.symbols));
  } else if (symbols) {
    return Status::error(
        fieldPath(ctx, "symbols") +
        ": only nvptx plans name kernels for the adamw step (the " +
        plan.target + " runtime runs it itself)");
  }

  for (const AdamWList &list : kAdamWLists) {
    std::vector<int64_t> &ids = out.*list.ids;
    const JsonValue *array = step.find(list.key);
    // Only gradient accumulation carries sums.
    if (!array && std::string_view(list.key) == "grad_sums")
      continue;
    GROWC_RETURN_IF_ERROR(getArray(step, ctx, list.key, array));
    for (size_t k = 0; k < array->size(); ++k) {
      const JsonValue &entry = array->elements()[k];
      int64_t id;
      if (!entry.isInteger() || !entry.getInt64(id) || id < 0 ||
          id >= static_cast<int64_t>(plan.buffers.size()))
        return Status::error(fieldPath(ctx, list.key) + "[" +
                             std::to_string(k) + "]: unknown buffer id " +
                             describeJson(entry) + " (the plan has " +
                             std::to_string(plan.buffers.size()) + " buffers)");
      ids.push_back(id);
    }
    if (ids.empty())
      return Status::error(fieldPath(ctx, list.key) +
                           ": an adamw step updates at least one parameter");
    if (ids.size() != out.adamParams.size())
      return Status::error(fieldPath(ctx, list.key) + ": " +
                           std::to_string(ids.size()) +
                           " buffers, but the step has " +
                           std::to_string(out.adamParams.size()) +
                           " params (one per trained parameter in each list)");
  }

  for (const AdamWScalar &scalar : kAdamWScalars) {
    int64_t &id = out.*scalar.id;
    if (std::string_view(scalar.key) != "apply") {
      GROWC_RETURN_IF_ERROR(getBufferRef(step, ctx, scalar.key, id));
      continue;
    }
    const JsonValue *v;
    GROWC_RETURN_IF_ERROR(getField(step, ctx, "apply", v));
    if (!v->isInteger() || !v->getInt64(id) || id < -1 ||
        id >= static_cast<int64_t>(plan.buffers.size()))
      return Status::error(
          fieldPath(ctx, "apply") +
          ": must be -1 (no gradient accumulation) or a buffer id, got " +
          describeJson(*v) + " (the plan has " +
          std::to_string(plan.buffers.size()) + " buffers)");
  }
  // Mixed precision: the parameters' bf16 copies (checked with the layout).
  if (const JsonValue *array = step.find("bf16_params")) {
    GROWC_RETURN_IF_ERROR(getArray(step, ctx, "bf16_params", array));
    for (size_t k = 0; k < array->size(); ++k) {
      const JsonValue &entry = array->elements()[k];
      int64_t id;
      if (!entry.isInteger() || !entry.getInt64(id) || id < 0 ||
          id >= static_cast<int64_t>(plan.buffers.size()))
        return Status::error(fieldPath(ctx, "bf16_params") + "[" +
                             std::to_string(k) + "]: unknown buffer id " +
                             describeJson(entry) + " (the plan has " +
                             std::to_string(plan.buffers.size()) + " buffers)");
      out.adamBf16Params.push_back(id);
    }
  }
  // The sums are reset by `apply`; without it nothing says when.
  if (!out.adamGradSums.empty() && out.adamApply < 0)
    return Status::error(fieldPath(ctx, "grad_sums") +
                         ": gradient sums need an apply flag (apply is -1)");

  // AdamW's constants, as the compiler was given them. The bias corrections
  // take log(beta), so a beta must be in [0, 1).
  struct Constant {
    const char *key;
    double *value;
    double min;
    bool minIncluded;
    double max;
  };
  constexpr double kInf = std::numeric_limits<double>::infinity();
  for (Constant c :
       {Constant{"beta1", &out.beta1, 0.0, true, 1.0},
        Constant{"beta2", &out.beta2, 0.0, true, 1.0},
        Constant{"eps", &out.eps, 0.0, false, kInf},
        Constant{"weight_decay", &out.weightDecay, 0.0, true, kInf},
        Constant{"max_grad_norm", &out.maxGradNorm, 0.0, false, kInf}}) {
    const JsonValue *v;
    GROWC_RETURN_IF_ERROR(getField(step, ctx, c.key, v));
    double x = v->isNumber() ? v->asDouble() : std::nan("");
    bool ok = std::isfinite(x) && (c.minIncluded ? x >= c.min : x > c.min) &&
              x < c.max;
    if (!ok)
      return Status::error(
          fieldPath(ctx, c.key) + " must be a finite number in " +
          (c.minIncluded ? "[" : "(") + printfString("%g", c.min) + ", " +
          (c.max == kInf ? std::string("inf") : printfString("%g", c.max)) +
          "), got " + describeJson(*v));
    *c.value = x;
  }
  return checkAdamWLayout(ctx, out);
}

/// The layout rule of docs/plan.md: every list is one flat F32 region with
/// the params' element layout, alone in its bytes; the scalars are F32 [1]
/// buffers outside the regions, the two written ones apart from the read
/// ones.
Status PlanParser::checkAdamWLayout(const std::string &ctx,
                                    const PlanStep &step) const {
  // Which tensors live in which buffer, to check the element type.
  std::multimap<int64_t, const PlanTensor *> tensorsIn;
  for (const PlanTensor &t : plan.inputs)
    tensorsIn.emplace(t.buffer, &t);
  for (const PlanTensor &t : plan.params)
    tensorsIn.emplace(t.buffer, &t);
  for (const PlanTensor &t : plan.outputs)
    tensorsIn.emplace(t.buffer, &t);
  auto checkF32 = [&](const std::string &where, int64_t id) -> Status {
    auto [begin, end] = tensorsIn.equal_range(id);
    for (auto it = begin; it != end; ++it)
      if (it->second->dtype != DType::F32)
        return Status::error(where + ": buffer " + std::to_string(id) +
                             " holds " + inQuotes(it->second->name) + " (" +
                             dtypeName(it->second->dtype) +
                             "); the adamw step works on F32 data");
    return Status::ok();
  };

  // The params fix the element layout: D_k = offset(params[k]) -
  // offset(params[0]), increasing by at least each buffer's size.
  const std::vector<int64_t> &params = step.adamParams;
  std::vector<int64_t> delta(params.size());
  for (size_t k = 0; k < params.size(); ++k) {
    const PlanBuffer &b = plan.buffers[params[k]];
    delta[k] = b.offset - plan.buffers[params[0]].offset;
    if (k == 0)
      continue;
    const PlanBuffer &prev = plan.buffers[params[k - 1]];
    if (delta[k] < delta[k - 1] + prev.size)
      return Status::error(
          ctx + ".params[" + std::to_string(k) + "]: buffer " +
          std::to_string(b.id) + " (" + bytesOf(b) +
          ") does not follow buffer " + std::to_string(prev.id) + " (" +
          bytesOf(prev) + ") of params[" + std::to_string(k - 1) +
          "]; each list's buffers lie in order, one after the other");
  }

  struct Span {
    const char *key;
    int64_t begin, end;
  };
  std::vector<Span> spans;
  for (const AdamWList &list : kAdamWLists) {
    const std::vector<int64_t> &ids = step.*list.ids;
    if (ids.empty())
      continue;
    const std::string where = fieldPath(ctx, list.key);
    const int64_t base = plan.buffers[ids[0]].offset;
    for (size_t k = 0; k < ids.size(); ++k) {
      const std::string entry = where + "[" + std::to_string(k) + "]";
      const PlanBuffer &b = plan.buffers[ids[k]];
      const PlanBuffer &param = plan.buffers[params[k]];
      if (b.size <= 0 || b.size % 4 != 0)
        return Status::error(entry + ": buffer " + std::to_string(b.id) +
                             " holds " + std::to_string(b.size) +
                             " bytes, not a whole, non-zero number of floats");
      GROWC_RETURN_IF_ERROR(checkF32(entry, b.id));
      if (b.size != param.size)
        return Status::error(entry + ": buffer " + std::to_string(b.id) +
                             " holds " + std::to_string(b.size) +
                             " bytes but params[" + std::to_string(k) +
                             "] (buffer " + std::to_string(param.id) +
                             ") holds " + std::to_string(param.size));
      if (b.offset - base != delta[k])
        return Status::error(
            entry + ": buffer " + std::to_string(b.id) + " starts " +
            std::to_string(b.offset - base) + " bytes after " + list.key +
            "[0], but params[" + std::to_string(k) + "] starts " +
            std::to_string(delta[k]) +
            " bytes after params[0]; every list has the params' layout");
    }
    spans.push_back({list.key, base,
                     base + delta.back() + plan.buffers[params.back()].size});

    // Nothing else in the region: the step is elementwise over all of it,
    // gaps included.
    std::set<int64_t> members(ids.begin(), ids.end());
    const Span &span = spans.back();
    for (const PlanBuffer &other : plan.buffers)
      if (other.size > 0 && !members.count(other.id) &&
          overlaps(other.offset, other.offset + other.size, span.begin,
                   span.end))
        return Status::error(
            where + ": buffer " + std::to_string(other.id) + " (" +
            bytesOf(other) + ") lies inside the list's region [" +
            std::to_string(span.begin) + ", " + std::to_string(span.end) +
            "), which the adamw step updates whole");
  }

  GROWC_RETURN_IF_ERROR(checkAdamWBf16Layout(ctx, step, delta));

  for (const AdamWScalar &scalar : kAdamWScalars) {
    const int64_t id = step.*scalar.id;
    if (id < 0)
      continue;
    const std::string where = fieldPath(ctx, scalar.key);
    const PlanBuffer &b = plan.buffers[id];
    if (b.size != 4)
      return Status::error(where + ": buffer " + std::to_string(id) +
                           " holds " + std::to_string(b.size) +
                           " bytes; a scalar is F32 [1] (4 bytes)");
    GROWC_RETURN_IF_ERROR(checkF32(where, id));
    for (const Span &span : spans)
      if (overlaps(b.offset, b.offset + b.size, span.begin, span.end))
        return Status::error(where + ": buffer " + std::to_string(id) + " (" +
                             bytesOf(b) + ") lies inside the " + span.key +
                             " region [" + std::to_string(span.begin) + ", " +
                             std::to_string(span.end) + ")");
  }
  // The step writes grad_norm and nonfinite after reading the others: each
  // is apart from every scalar listed before it.
  for (size_t w = 0; w < std::size(kAdamWScalars); ++w) {
    const char *written = kAdamWScalars[w].key;
    if (std::string_view(written) != "grad_norm" &&
        std::string_view(written) != "nonfinite")
      continue;
    const PlanBuffer &wb = plan.buffers[step.*kAdamWScalars[w].id];
    for (size_t r = 0; r < w; ++r) {
      const int64_t read = step.*kAdamWScalars[r].id;
      if (read < 0)
        continue;
      const PlanBuffer &rb = plan.buffers[read];
      if (overlaps(wb.offset, wb.offset + wb.size, rb.offset,
                   rb.offset + rb.size))
        return Status::error(fieldPath(ctx, written) + ": buffer " +
                             std::to_string(wb.id) + " shares bytes with " +
                             kAdamWScalars[r].key + " (buffer " +
                             std::to_string(read) +
                             "); the step's outputs are apart from its "
                             "other scalars");
    }
  }
  return Status::ok();
}

/// The `bf16_params` list: the copy (PlanParam::bf16Copy) of each listed
/// parameter, at half the params' byte offsets (the same element layout in
/// 2-byte elements), alone in its span. Every listed parameter that has a
/// copy must be in it, or the step would leave that copy stale.
Status
PlanParser::checkAdamWBf16Layout(const std::string &ctx, const PlanStep &step,
                                 const std::vector<int64_t> &delta) const {
  const std::vector<int64_t> &params = step.adamParams;
  const std::vector<int64_t> &copies = step.adamBf16Params;
  const std::string where = fieldPath(ctx, "bf16_params");
  // The parameter whose buffer each params entry is (the first, where the
  // buffer holds several: they share one bf16_copy, checkSharedBuffers).
  std::map<int64_t, const PlanParam *> paramIn;
  for (const PlanParam &param : plan.params)
    paramIn.emplace(param.buffer, &param);
  if (copies.empty()) {
    for (size_t k = 0; k < params.size(); ++k)
      if (auto it = paramIn.find(params[k]);
          it != paramIn.end() && it->second->bf16Copy >= 0)
        return Status::error(
            fieldPath(ctx, "params") + "[" + std::to_string(k) +
            "]: parameter " + inQuotes(it->second->name) +
            " has a bf16_copy (buffer " + std::to_string(it->second->bf16Copy) +
            ") but the step has no bf16_params; the update would leave the "
            "copy stale");
    return Status::ok();
  }
  if (copies.size() != params.size())
    return Status::error(where + ": " + std::to_string(copies.size()) +
                         " buffers, but the step has " +
                         std::to_string(params.size()) +
                         " params (one bf16 copy per trained parameter)");
  const int64_t base = plan.buffers[copies[0]].offset;
  for (size_t k = 0; k < copies.size(); ++k) {
    const std::string entry = where + "[" + std::to_string(k) + "]";
    const PlanBuffer &b = plan.buffers[copies[k]];
    auto it = paramIn.find(params[k]);
    if (it == paramIn.end())
      return Status::error(entry + ": params[" + std::to_string(k) +
                           "] (buffer " + std::to_string(params[k]) +
                           ") is no parameter's buffer, so it has no bf16 "
                           "copy");
    const PlanParam &param = *it->second;
    if (param.bf16Copy != b.id)
      return Status::error(
          entry + ": buffer " + std::to_string(b.id) +
          " is not the bf16_copy of params[" + std::to_string(k) +
          "]'s parameter " + inQuotes(param.name) + " (" +
          (param.bf16Copy < 0
               ? std::string("it has none")
               : "that is buffer " + std::to_string(param.bf16Copy)) +
          ")");
    if (2 * b.size != plan.buffers[params[k]].size)
      return Status::error(entry + ": buffer " + std::to_string(b.id) +
                           " holds " + std::to_string(b.size) +
                           " bytes, not half of params[" + std::to_string(k) +
                           "]'s " +
                           std::to_string(plan.buffers[params[k]].size));
    if (2 * (b.offset - base) != delta[k])
      return Status::error(
          entry + ": buffer " + std::to_string(b.id) + " starts " +
          std::to_string(b.offset - base) +
          " bytes after bf16_params[0], but params[" + std::to_string(k) +
          "] starts " + std::to_string(delta[k]) +
          " bytes after params[0]; the bf16 copies lie at half the params' "
          "offsets");
  }
  const int64_t end =
      base + delta.back() / 2 + plan.buffers[copies.back()].size;
  std::set<int64_t> members(copies.begin(), copies.end());
  for (const PlanBuffer &other : plan.buffers)
    if (other.size > 0 && !members.count(other.id) &&
        overlaps(other.offset, other.offset + other.size, base, end))
      return Status::error(where + ": buffer " + std::to_string(other.id) +
                           " (" + bytesOf(other) +
                           ") lies inside the list's region [" +
                           std::to_string(base) + ", " + std::to_string(end) +
                           "), which the adamw step updates whole");
  return Status::ok();
}

} // namespace growc::rt::detail
