//===- PlanSections.cpp - The plan's header, buffers, tensors, kernels ----===//
//
// The sections of a plan (docs/plan.md) that the steps refer to: the header
// fields (format, version, target, kernels file, arena), the buffers, the
// inputs, parameters and outputs, the kernels with their launch
// configurations, and the optional growth schedule. Each is verified as it is
// read, so that the steps (PlanSteps.cpp) can check their references against
// what is already known.
//
//===----------------------------------------------------------------------===//

#include "PlanParser.h"

#include "growc/runtime/ContentHash.h"
#include "growc/runtime/Limits.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <tuple>

namespace growc::rt::detail {

namespace fs = std::filesystem;

namespace {

constexpr const char *kFormat = "growc-plan";
/// Upper bound for `alignment`: page-sized alignments are plausible, more
/// than this is a corrupt value.
constexpr int64_t kMaxAlignment = int64_t(1) << 30;

} // namespace

Status PlanParser::parseHeader(const JsonValue &root) {
  // Format and version first: for a file that is not a plan (or a newer
  // one), that is the only useful message.
  std::string format;
  GROWC_RETURN_IF_ERROR(getString(root, "", "format", format));
  if (format != kFormat)
    return Status::error("not a growc plan: format is " + inQuotes(format) +
                         ", expected " + inQuotes(kFormat));
  const JsonValue *version;
  GROWC_RETURN_IF_ERROR(getField(root, "", "version", version));
  int64_t v;
  if (!version->isInteger() || !version->getInt64(v) || v > Plan::kVersion ||
      v < 1)
    return Status::error("unsupported plan version " + describeJson(*version) +
                         " (this runtime reads version " +
                         std::to_string(Plan::kVersion) + ")");
  // Older plans are not bound to their kernels file (no kernels_hash):
  // running one could silently use kernels compiled for another shape.
  if (v < Plan::kVersion)
    return Status::error("plan version " + std::to_string(v) +
                         " comes from an older growc (this runtime reads "
                         "version " +
                         std::to_string(Plan::kVersion) +
                         "); recompile the model with this growc");

  GROWC_RETURN_IF_ERROR(checkKeys(
      root, "",
      {"format",       "version",      "graph",   "target", "model",
       "kernels_file", "kernels_hash", "batch",   "seq",    "vocab_size",
       "alignment",    "arena_size",   "buffers", "inputs", "params",
       "outputs",      "kernels",      "steps",   "growth", "micro_batches"}));

  GROWC_RETURN_IF_ERROR(getString(root, "", "graph", plan.graph));
  if (plan.graph.empty())
    return Status::error("graph must not be empty");
  GROWC_RETURN_IF_ERROR(getString(root, "", "target", plan.target));
  if (plan.target != "cpu" && plan.target != "nvptx")
    return Status::error("target: unknown target " + inQuotes(plan.target) +
                         " (expected 'cpu' or 'nvptx')");
  GROWC_RETURN_IF_ERROR(getString(root, "", "model", plan.model));

  GROWC_RETURN_IF_ERROR(getString(root, "", "kernels_file", plan.kernelsFile));
  if (plan.kernelsFile.empty())
    return Status::error("kernels_file must not be empty");
  if (plan.kernelsFile.find('\0') != std::string::npos)
    return Status::error("kernels_file contains a NUL character");
  if (plan.kernelsFile.front() == '/')
    return Status::error("kernels_file " + inQuotes(plan.kernelsFile) +
                         " must be relative to the plan's directory");
  // Always with a directory part: dlopen searches the library path for a
  // bare file name instead of opening the file next to the plan.
  plan.kernelsPath =
      (fs::path(plan.directory) / fs::path(plan.kernelsFile)).string();
  GROWC_RETURN_IF_ERROR(getString(root, "", "kernels_hash", plan.kernelsHash));
  if (!isContentHash(plan.kernelsHash))
    return Status::error("kernels_hash " + inQuotes(plan.kernelsHash) +
                         " is not a content hash (expected " +
                         std::string(kContentHashPrefix) +
                         " and 32 lowercase hex digits)");

  const int64_t kMax = std::numeric_limits<int64_t>::max();
  GROWC_RETURN_IF_ERROR(getInt(root, "", "batch", 1, kMax, plan.batch));
  GROWC_RETURN_IF_ERROR(getInt(root, "", "seq", 1, kMax, plan.seq));
  GROWC_RETURN_IF_ERROR(
      getInt(root, "", "vocab_size", 1, kMax, plan.vocabSize));
  GROWC_RETURN_IF_ERROR(
      getInt(root, "", "alignment", 1, kMaxAlignment, plan.alignment));
  if ((plan.alignment & (plan.alignment - 1)) != 0)
    return Status::error("alignment must be a power of two, got " +
                         std::to_string(plan.alignment));
  // The arena is allocated with `alignment` slack; keep the sum in range.
  GROWC_RETURN_IF_ERROR(getInt(root, "", "arena_size", 0,
                               limits::kMaxArenaBytes, plan.arenaSize));
  if (root.find("micro_batches"))
    GROWC_RETURN_IF_ERROR(getInt(root, "", "micro_batches", 1,
                                 limits::kMaxMicroBatches, plan.microBatches));
  return Status::ok();
}

Status PlanParser::parseBuffers(const JsonValue &root) {
  const JsonValue *buffers;
  GROWC_RETURN_IF_ERROR(getArray(root, "", "buffers", buffers));
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  for (size_t i = 0; i < buffers->size(); ++i) {
    const JsonValue &entry = buffers->elements()[i];
    std::string ctx = "buffers[" + std::to_string(i) + "]";
    GROWC_RETURN_IF_ERROR(expectObject(entry, ctx));
    GROWC_RETURN_IF_ERROR(
        checkKeys(entry, ctx, {"id", "offset", "size", "zeroed"}));
    PlanBuffer buffer;
    GROWC_RETURN_IF_ERROR(getInt(entry, ctx, "id", 0, kMax, buffer.id));
    if (buffer.id != static_cast<int64_t>(i))
      return Status::error(ctx + ": id " + std::to_string(buffer.id) +
                           ", expected " + std::to_string(i) +
                           " (buffer ids must be dense 0..n-1, in order)");
    GROWC_RETURN_IF_ERROR(getInt(entry, ctx, "offset", 0, kMax, buffer.offset));
    GROWC_RETURN_IF_ERROR(getInt(entry, ctx, "size", 0, kMax, buffer.size));
    if (entry.find("zeroed")) {
      GROWC_RETURN_IF_ERROR(getBool(entry, ctx, "zeroed", buffer.zeroed));
      if (!buffer.zeroed)
        return Status::error(ctx + ": \"zeroed\" is written only where "
                                   "true");
    }
    if (buffer.offset % plan.alignment != 0)
      return Status::error(ctx + ": offset " + std::to_string(buffer.offset) +
                           " is not a multiple of the alignment " +
                           std::to_string(plan.alignment));
    if (buffer.offset > plan.arenaSize ||
        buffer.size > plan.arenaSize - buffer.offset)
      return Status::error(ctx + ": bytes [" + std::to_string(buffer.offset) +
                           ", " + std::to_string(buffer.offset) + " + " +
                           std::to_string(buffer.size) +
                           ") lie outside the arena of " +
                           std::to_string(plan.arenaSize) + " bytes");
    plan.buffers.push_back(buffer);
  }
  return Status::ok();
}

Status PlanParser::parseTensors(const JsonValue &root, std::string_view section,
                                bool isParam) {
  const JsonValue *entries;
  GROWC_RETURN_IF_ERROR(getArray(root, "", section, entries));
  for (size_t i = 0; i < entries->size(); ++i) {
    const JsonValue &entry = entries->elements()[i];
    std::string ctx = std::string(section) + "[" + std::to_string(i) + "]";
    GROWC_RETURN_IF_ERROR(expectObject(entry, ctx));
    if (isParam)
      GROWC_RETURN_IF_ERROR(
          checkKeys(entry, ctx,
                    {"name", "buffer", "offset", "dtype", "shape", "source",
                     "copy", "scale", "frozen", "bf16_copy"}));
    else
      GROWC_RETURN_IF_ERROR(checkKeys(
          entry, ctx, {"name", "buffer", "offset", "dtype", "shape"}));

    PlanParam tensor;
    GROWC_RETURN_IF_ERROR(getString(entry, ctx, "name", tensor.name));
    if (tensor.name.empty())
      return Status::error(ctx + ": name must not be empty");
    auto [it, inserted] = tensorNames.emplace(tensor.name, ctx);
    // A training step's outputs are the parameters' next values, under the
    // parameters' names (the output file is the next checkpoint).
    bool nextValue = section == "outputs" && plan.graph == "train" &&
                     it->second.rfind("params[", 0) == 0;
    if (!inserted && !nextValue)
      return Status::error(ctx + ": duplicate tensor name " +
                           inQuotes(tensor.name) + " (also " + it->second +
                           "); input, parameter and output names must be "
                           "unique (outputs of a train graph may name a "
                           "parameter)");
    if (!inserted)
      it->second = ctx; // a second output of that name is a duplicate
    ctx += " (" + inQuotes(tensor.name) + ")";

    GROWC_RETURN_IF_ERROR(getBufferRef(entry, ctx, "buffer", tensor.buffer));
    GROWC_RETURN_IF_ERROR(getDType(entry, ctx, tensor.dtype));
    GROWC_RETURN_IF_ERROR(getShape(entry, ctx, tensor.dtype, tensor.shape,
                                   tensor.numElements, tensor.byteSize));
    if (nextValue)
      if (const PlanParam *param = plan.findParam(tensor.name);
          param &&
          (param->dtype != tensor.dtype || param->shape != tensor.shape))
        return Status::error(ctx + ": the next value of parameter " +
                             inQuotes(tensor.name) + " must be " +
                             dtypeName(param->dtype) + " " +
                             formatShape(param->shape));
    if (nextValue)
      if (const PlanParam *param = plan.findParam(tensor.name);
          param && param->frozen)
        return Status::error(ctx + ": parameter " + inQuotes(tensor.name) +
                             " is frozen; a train graph never writes it");
    // Optional (absent: 0, the buffer's start); the writer writes it only
    // where it is not 0.
    if (entry.find("offset"))
      GROWC_RETURN_IF_ERROR(getInt(entry, ctx, "offset", 0,
                                   std::numeric_limits<int64_t>::max(),
                                   tensor.offset));
    const PlanBuffer &buffer = plan.buffers[tensor.buffer];
    // The executors address whole elements from here.
    const int64_t elementSize = int64_t(dtypeSize(tensor.dtype));
    if (tensor.offset % elementSize != 0)
      return Status::error(ctx + ": offset " + std::to_string(tensor.offset) +
                           " is not a multiple of the " +
                           dtypeName(tensor.dtype) + " element size " +
                           std::to_string(elementSize));
    // Both sides are at most the arena size (below 2^63) apart.
    if (tensor.offset > buffer.size ||
        tensor.byteSize > buffer.size - tensor.offset)
      return Status::error(
          ctx + ": " + dtypeName(tensor.dtype) + " " +
          formatShape(tensor.shape) + " needs " +
          std::to_string(tensor.byteSize) + " bytes" +
          (tensor.offset ? " from byte " + std::to_string(tensor.offset) : "") +
          " but buffer " + std::to_string(buffer.id) + " holds " +
          std::to_string(buffer.size));
    if (isParam) {
      GROWC_RETURN_IF_ERROR(getString(entry, ctx, "source", tensor.source));
      GROWC_RETURN_IF_ERROR(getBool(entry, ctx, "copy", tensor.copy));
      // Optional (absent: 1, a plain copy); the writer writes it only
      // where it is not 1.
      if (const JsonValue *scale = entry.find("scale")) {
        if (!scale->isNumber() || !std::isfinite(scale->asDouble()))
          return Status::error(ctx + ": scale must be a finite number, got " +
                               describeJson(*scale));
        tensor.scale = scale->asDouble();
      }
      // Optional; the writer writes it only where true.
      if (entry.find("frozen"))
        GROWC_RETURN_IF_ERROR(getBool(entry, ctx, "frozen", tensor.frozen));
      // Optional (mixed precision); the writer writes it only where present.
      if (entry.find("bf16_copy"))
        GROWC_RETURN_IF_ERROR(
            getBufferRef(entry, ctx, "bf16_copy", tensor.bf16Copy));
      plan.params.push_back(std::move(tensor));
    } else if (section == "inputs") {
      plan.inputs.push_back(std::move(static_cast<PlanTensor &>(tensor)));
    } else {
      plan.outputs.push_back(std::move(static_cast<PlanTensor &>(tensor)));
    }
  }
  GROWC_RETURN_IF_ERROR(checkSharedBuffers(section));
  if (isParam)
    return checkFrozenParams();
  return Status::ok();
}

/// Tensors of one section that share a buffer lie apart (a next value is
/// its parameter's bytes only through the other section). Parameters that
/// share a buffer are one unit for the adamw step, which updates buffers
/// whole, and for the fused GEMMs that read their bf16 copies as one
/// matrix: the same dtype, the same `frozen` flag and the same copy buffer
/// (or none).
Status PlanParser::checkSharedBuffers(std::string_view section) const {
  struct Entry {
    size_t index;
    const PlanTensor *tensor;
  };
  std::vector<Entry> entries;
  auto collect = [&](const auto &tensors) {
    for (size_t i = 0; i < tensors.size(); ++i)
      entries.push_back({i, &tensors[i]});
  };
  if (section == "inputs")
    collect(plan.inputs);
  else if (section == "params")
    collect(plan.params);
  else
    collect(plan.outputs);
  // By buffer, then offset: only neighbours can overlap.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry &x, const Entry &y) {
                     return std::make_pair(x.tensor->buffer, x.tensor->offset) <
                            std::make_pair(y.tensor->buffer, y.tensor->offset);
                   });
  auto describe = [&](const Entry &e) {
    return std::string(section) + "[" + std::to_string(e.index) + "] (" +
           inQuotes(e.tensor->name) + ")";
  };
  auto span = [](const PlanTensor &t) {
    return "bytes [" + std::to_string(t.offset) + ", " +
           std::to_string(t.offset + t.byteSize) + ")";
  };
  for (size_t k = 1; k < entries.size(); ++k) {
    const Entry &prev = entries[k - 1], &cur = entries[k];
    const PlanTensor &a = *prev.tensor, &b = *cur.tensor;
    if (a.buffer != b.buffer)
      continue;
    const std::string ctx = describe(cur);
    // Empty tensors hold no bytes, so they overlap nothing.
    if (b.offset < a.offset + a.byteSize && a.byteSize > 0 && b.byteSize > 0)
      return Status::error(ctx + ": " + span(b) + " of buffer " +
                           std::to_string(b.buffer) + " overlap " +
                           describe(prev) + " (" + span(a) +
                           "); tensors sharing a buffer lie apart");
    if (section != "params")
      continue;
    const auto &pa = static_cast<const PlanParam &>(a);
    const auto &pb = static_cast<const PlanParam &>(b);
    const std::string shares = " but shares buffer " +
                               std::to_string(b.buffer) + " with " +
                               describe(prev);
    if (pa.dtype != pb.dtype)
      return Status::error(ctx + " is " + dtypeName(pb.dtype) + shares +
                           ", which is " + dtypeName(pa.dtype) +
                           "; parameters sharing a buffer have one dtype");
    if (pa.frozen != pb.frozen)
      return Status::error(ctx + (pb.frozen ? " is" : " is not") + " frozen" +
                           shares +
                           (pa.frozen ? ", which is" : ", which is not") +
                           "; the adamw step updates a buffer whole");
    if (pa.bf16Copy != pb.bf16Copy) {
      auto copyOf = [](const PlanParam &p) {
        return p.bf16Copy < 0 ? std::string("no bf16_copy")
                              : "bf16_copy " + std::to_string(p.bf16Copy);
      };
      return Status::error(ctx + " has " + copyOf(pb) + shares +
                           ", which has " + copyOf(pa) +
                           "; parameters sharing a buffer share its copy");
    }
  }
  return Status::ok();
}

/// A frozen parameter has no optimizer state (nor is it state itself): the
/// train graph neither computes nor updates any for it.
Status PlanParser::checkFrozenParams() const {
  for (size_t i = 0; i < plan.params.size(); ++i) {
    const PlanParam &param = plan.params[i];
    if (!param.frozen)
      continue;
    const std::string ctx =
        "params[" + std::to_string(i) + "] (" + inQuotes(param.name) + ")";
    if (param.name.rfind("optimizer.", 0) == 0)
      return Status::error(ctx + ": optimizer state cannot be frozen");
    for (const char *kind : {"exp_avg", "exp_avg_sq", "grad_sum"}) {
      std::string state = std::string("optimizer.") + kind + "." + param.name;
      if (plan.findParam(state))
        return Status::error(ctx +
                             " is frozen but the plan has its "
                             "optimizer state " +
                             inQuotes(state));
    }
  }
  return Status::ok();
}

/// A parameter's bf16 copy is derived state the executor keeps equal to
/// bf16(parameter) at all times: a buffer of its own, half the size of the
/// parameter's buffer (the copy of a parameter at byte offset o is at o /
/// 2), that no step's intermediate may reuse (it lives across runs like the
/// parameter), and that no other tensor, nor the copy of another
/// parameter buffer, shares. Checked once the outputs are read (they may
/// not use it either).
Status PlanParser::checkBf16Copies() const {
  std::map<int64_t, std::string> tensorIn; // buffer -> a tensor in it
  for (const PlanTensor &t : plan.inputs)
    tensorIn.emplace(t.buffer, inQuotes(t.name));
  for (const PlanTensor &t : plan.params)
    tensorIn.emplace(t.buffer, inQuotes(t.name));
  for (const PlanTensor &t : plan.outputs)
    tensorIn.emplace(t.buffer, inQuotes(t.name));
  // copy buffer -> the first parameter it is the copy of
  std::map<int64_t, const PlanParam *> copyOf;
  for (size_t i = 0; i < plan.params.size(); ++i) {
    const PlanParam &param = plan.params[i];
    if (param.bf16Copy < 0)
      continue;
    const std::string ctx = "params[" + std::to_string(i) + "] (" +
                            inQuotes(param.name) + ").bf16_copy";
    const PlanBuffer &copy = plan.buffers[param.bf16Copy];
    const std::string which = "buffer " + std::to_string(copy.id);
    if (param.dtype != DType::F32)
      return Status::error(ctx + ": the parameter is " +
                           dtypeName(param.dtype) +
                           "; only F32 parameters have a bf16 copy");
    // The rounded buffer: the rounded tensor's size where the buffer holds
    // one parameter, all of them back to back where it holds several.
    const PlanBuffer &own = plan.buffers[param.buffer];
    if (2 * copy.size != own.size)
      return Status::error(
          ctx + ": " + which + " holds " + std::to_string(copy.size) +
          " bytes, but the parameter's buffer " + std::to_string(own.id) +
          " holds " + std::to_string(own.size) +
          " (F32), so its BF16 copy is " + std::to_string(own.size / 2));
    if (auto it = tensorIn.find(copy.id); it != tensorIn.end())
      return Status::error(ctx + ": " + which + " holds the tensor " +
                           it->second +
                           "; a bf16 copy has a buffer of its own");
    // Parameters of one buffer share their copy (checkSharedBuffers); any
    // other sharing is an error.
    if (auto [it, inserted] = copyOf.emplace(copy.id, &param);
        !inserted && it->second->buffer != param.buffer)
      return Status::error(ctx + ": " + which + " is also the bf16_copy of " +
                           inQuotes(it->second->name) + " (buffer " +
                           std::to_string(it->second->buffer) + ")");
    for (const PlanBuffer &other : plan.buffers)
      if (other.id != copy.id && other.size > 0 &&
          other.offset < copy.offset + copy.size &&
          copy.offset < other.offset + other.size)
        return Status::error(
            ctx + ": " + which + " (bytes [" + std::to_string(copy.offset) +
            ", " + std::to_string(copy.offset + copy.size) +
            ")) overlaps buffer " + std::to_string(other.id) + " (bytes [" +
            std::to_string(other.offset) + ", " +
            std::to_string(other.offset + other.size) +
            ")); a bf16 copy lives for the whole run, apart from every other "
            "buffer");
  }
  return Status::ok();
}

/// A zeroed buffer (a completion counter) must still be zero when a later
/// run starts: no tensor lives in it and no other buffer shares its bytes
/// (an intermediate placed there would leave garbage for the next run).
Status PlanParser::checkZeroedBuffers() const {
  std::map<int64_t, std::string> tensorIn; // buffer -> a tensor in it
  for (const auto *section : {&plan.inputs, &plan.outputs})
    for (const PlanTensor &t : *section)
      tensorIn.emplace(t.buffer, inQuotes(t.name));
  for (const PlanParam &p : plan.params) {
    tensorIn.emplace(p.buffer, inQuotes(p.name));
    if (p.bf16Copy >= 0)
      tensorIn.emplace(p.bf16Copy, "the bf16 copy of " + inQuotes(p.name));
  }
  for (const PlanBuffer &zeroed : plan.buffers) {
    if (!zeroed.zeroed)
      continue;
    const std::string ctx = "buffers[" + std::to_string(zeroed.id) + "]";
    if (zeroed.size == 0)
      return Status::error(ctx + ": a zeroed buffer is not empty");
    if (auto it = tensorIn.find(zeroed.id); it != tensorIn.end())
      return Status::error(ctx + ": a zeroed buffer holds " + it->second +
                           "; it holds no tensor");
    for (const PlanBuffer &other : plan.buffers)
      if (other.id != zeroed.id && other.size > 0 &&
          other.offset < zeroed.offset + zeroed.size &&
          zeroed.offset < other.offset + other.size)
        return Status::error(
            ctx + ": the zeroed bytes [" + std::to_string(zeroed.offset) +
            ", " + std::to_string(zeroed.offset + zeroed.size) +
            ") overlap buffer " + std::to_string(other.id) + " (bytes [" +
            std::to_string(other.offset) + ", " +
            std::to_string(other.offset + other.size) +
            ")); a zeroed buffer lives across runs, apart from every other");
  }
  return Status::ok();
}

Status PlanParser::parseLaunch(const JsonValue &entry, const std::string &ctx,
                               PlanKernel &kernel) {
  const JsonValue *launch = entry.find("launch");
  bool gpu = plan.target == "nvptx";
  if (gpu && entry.find("blocks"))
    return Status::error(ctx + ": \"blocks\" is only for cpu kernels");
  if (!gpu)
    GROWC_RETURN_IF_ERROR(
        getInt(entry, ctx, "blocks", 1, INT32_MAX, kernel.blocks));
  if (!launch) {
    if (gpu)
      return Status::error(ctx + ": an nvptx kernel needs \"launch\"");
    return Status::ok();
  }
  if (!gpu)
    return Status::error(ctx + ": \"launch\" is only for nvptx kernels");
  std::string launchCtx = ctx + ".launch";
  GROWC_RETURN_IF_ERROR(expectObject(*launch, launchCtx));
  GROWC_RETURN_IF_ERROR(checkKeys(*launch, launchCtx,
                                  {"grid", "block", "params", "shared_bytes"}));
  PlanLaunch out;
  // CUDA's limits: grid x < 2^31, y and z <= 65535; at most 1024 threads.
  for (auto [key, sizes, limits] :
       {std::tuple<std::string_view, int64_t *, std::array<int64_t, 3>>{
            "grid", out.grid, {2147483647, 65535, 65535}},
        {"block", out.block, {1024, 1024, 64}}}) {
    const JsonValue *array;
    GROWC_RETURN_IF_ERROR(getArray(*launch, launchCtx, key, array));
    if (array->size() != 3)
      return Status::error(fieldPath(launchCtx, key) +
                           " must have 3 sizes, got " +
                           std::to_string(array->size()));
    for (size_t d = 0; d < 3; ++d) {
      const JsonValue &size = array->elements()[d];
      int64_t n;
      if (!size.isInteger() || !size.getInt64(n) || n < 1 || n > limits[d])
        return Status::error(fieldPath(launchCtx, key) + "[" +
                             std::to_string(d) + "] must be in [1, " +
                             std::to_string(limits[d]) + "], got " +
                             describeJson(size));
      sizes[d] = n;
    }
  }
  if (out.block[0] * out.block[1] * out.block[2] > 1024)
    return Status::error(launchCtx + ": more than 1024 threads per block");
  const JsonValue *params;
  GROWC_RETURN_IF_ERROR(getArray(*launch, launchCtx, "params", params));
  std::vector<bool> seen(kernel.args.size(), false);
  for (const JsonValue &param : params->elements()) {
    int64_t index;
    if (!param.isInteger() || !param.getInt64(index) || index < 0 ||
        index >= static_cast<int64_t>(kernel.args.size()) || seen[index])
      return Status::error(fieldPath(launchCtx, "params") +
                           ": entries must be distinct argument indices "
                           "below " +
                           std::to_string(kernel.args.size()) + ", got " +
                           describeJson(param));
    seen[index] = true;
    out.params.push_back(index);
  }
  // Dynamic shared memory, at most what an sm_90 block can opt in to.
  if (launch->find("shared_bytes"))
    GROWC_RETURN_IF_ERROR(getInt(*launch, launchCtx, "shared_bytes", 0,
                                 227 * 1024, out.sharedBytes));
  kernel.launch = std::move(out);
  return Status::ok();
}

Status PlanParser::parseKernels(const JsonValue &root) {
  const JsonValue *kernels;
  GROWC_RETURN_IF_ERROR(getArray(root, "", "kernels", kernels));
  std::map<std::string, size_t, std::less<>> names, symbols;
  for (size_t i = 0; i < kernels->size(); ++i) {
    const JsonValue &entry = kernels->elements()[i];
    std::string ctx = "kernels[" + std::to_string(i) + "]";
    GROWC_RETURN_IF_ERROR(expectObject(entry, ctx));
    GROWC_RETURN_IF_ERROR(checkKeys(
        entry, ctx, {"name", "symbol", "blocks", "args", "launch", "kind"}));
    PlanKernel kernel;
    GROWC_RETURN_IF_ERROR(getString(entry, ctx, "name", kernel.name));
    if (kernel.name.empty())
      return Status::error(ctx + ": name must not be empty");
    if (auto [it, inserted] = names.emplace(kernel.name, i); !inserted)
      return Status::error(ctx + ": duplicate kernel name " +
                           inQuotes(kernel.name) + " (also kernels[" +
                           std::to_string(it->second) + "])");
    GROWC_RETURN_IF_ERROR(getString(entry, ctx, "symbol", kernel.symbol));
    if (entry.find("kind")) {
      GROWC_RETURN_IF_ERROR(getString(entry, ctx, "kind", kernel.kind));
      if (kernel.kind != "attention")
        return Status::error(ctx + ": unknown kind " + inQuotes(kernel.kind) +
                             " (expected 'attention')");
    }
    // dlsym takes a C string: an empty name or an embedded NUL would look
    // up a different symbol than the plan names.
    if (kernel.symbol.empty() || kernel.symbol.find('\0') != std::string::npos)
      return Status::error(ctx + ": symbol " + inQuotes(kernel.symbol) +
                           " is not a valid symbol name");
    if (auto [it, inserted] = symbols.emplace(kernel.symbol, i); !inserted)
      return Status::error(ctx + ": duplicate kernel symbol " +
                           inQuotes(kernel.symbol) + " (also kernels[" +
                           std::to_string(it->second) + "])");

    const JsonValue *args;
    GROWC_RETURN_IF_ERROR(getArray(entry, ctx, "args", args));
    for (size_t j = 0; j < args->size(); ++j) {
      const JsonValue &argEntry = args->elements()[j];
      std::string argCtx = ctx + ".args[" + std::to_string(j) + "]";
      GROWC_RETURN_IF_ERROR(expectObject(argEntry, argCtx));
      GROWC_RETURN_IF_ERROR(
          checkKeys(argEntry, argCtx, {"dtype", "shape", "zeroed"}));
      PlanKernelArg arg;
      GROWC_RETURN_IF_ERROR(getDType(argEntry, argCtx, arg.dtype));
      GROWC_RETURN_IF_ERROR(getShape(argEntry, argCtx, arg.dtype, arg.shape,
                                     arg.numElements, arg.byteSize));
      if (argEntry.find("zeroed")) {
        GROWC_RETURN_IF_ERROR(getBool(argEntry, argCtx, "zeroed", arg.zeroed));
        if (!arg.zeroed)
          return Status::error(argCtx + ": \"zeroed\" is written only where "
                                        "true");
      }
      kernel.args.push_back(std::move(arg));
    }
    GROWC_RETURN_IF_ERROR(parseLaunch(entry, ctx, kernel));
    plan.kernels.push_back(std::move(kernel));
  }
  return Status::ok();
}

Status PlanParser::parseKernelTable(const JsonValue &table) {
  if (!table.isArray())
    return Status::error("the table must be a JSON array, got " +
                         describeJson(table));
  JsonValue root = JsonValue::object();
  root.set("kernels", table);
  return parseKernels(root);
}

Status PlanParser::parseGrowth(const JsonValue &root) {
  const JsonValue *growth = root.find("growth");
  if (!growth)
    return Status::ok();
  const std::string ctx = "growth";
  GROWC_RETURN_IF_ERROR(expectObject(*growth, ctx));
  GROWC_RETURN_IF_ERROR(
      checkKeys(*growth, ctx, {"method", "block_size", "stages"}));
  PlanGrowth out;
  GROWC_RETURN_IF_ERROR(getString(*growth, ctx, "method", out.method));
  if (out.method != "midas" && out.method != "lidas" &&
      out.method != "gradstack")
    return Status::error(ctx + ".method: unknown growth operator " +
                         inQuotes(out.method) +
                         " (expected 'midas', 'lidas' or 'gradstack')");
  GROWC_RETURN_IF_ERROR(
      getInt(*growth, ctx, "block_size", 1, 1 << 20, out.blockSize));
  const JsonValue *stages;
  GROWC_RETURN_IF_ERROR(getArray(*growth, ctx, "stages", stages));
  if (stages->size() < 1)
    return Status::error(ctx + ".stages must list at least stage 1");
  for (size_t i = 0; i < stages->size(); ++i) {
    const JsonValue &entry = stages->elements()[i];
    std::string sctx = ctx + ".stages[" + std::to_string(i) + "]";
    GROWC_RETURN_IF_ERROR(expectObject(entry, sctx));
    GROWC_RETURN_IF_ERROR(checkKeys(entry, sctx, {"stage", "layers", "plan"}));
    PlanGrowthStage stage;
    GROWC_RETURN_IF_ERROR(
        getInt(entry, sctx, "stage", 1, 1 << 20, stage.stage));
    if (stage.stage != int64_t(i) + 1)
      return Status::error(sctx + ".stage is " + std::to_string(stage.stage) +
                           ", expected " + std::to_string(i + 1));
    GROWC_RETURN_IF_ERROR(
        getInt(entry, sctx, "layers", 1, 1 << 20, stage.layers));
    if (i > 0 && stage.layers != out.stages.back().layers + out.blockSize)
      return Status::error(sctx + ": " + std::to_string(stage.layers) +
                           " layers; each stage adds one block of " +
                           std::to_string(out.blockSize) + " to the " +
                           std::to_string(out.stages.back().layers) +
                           " layers of the previous one");
    GROWC_RETURN_IF_ERROR(getString(entry, sctx, "plan", stage.planFile));
    if (stage.planFile.empty() || stage.planFile.front() == '/' ||
        stage.planFile.find('\0') != std::string::npos)
      return Status::error(sctx + ".plan " + inQuotes(stage.planFile) +
                           " must be a file name relative to the plan");
    stage.planPath =
        (fs::path(plan.directory) / fs::path(stage.planFile)).string();
    out.stages.push_back(std::move(stage));
  }
  plan.growth = std::move(out);
  return Status::ok();
}

} // namespace growc::rt::detail
