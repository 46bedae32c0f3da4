//===- Plan.cpp - Loading and verifying artifact plans --------------------===//
//
// Parses a *.plan.json (docs/plan.md) into a Plan and verifies it. The
// verification is complete for everything that does not depend on a run, so
// that an executor can address every buffer, tensor and kernel argument of a
// loaded plan without further checks: a plan is written by the compiler, but
// it is a file on disk and may be stale, truncated, hand-edited or from a
// different growc version.
//
// Unknown fields are errors rather than being ignored: a field that this
// runtime does not understand (say, a GEMM epilogue) may change what a step
// computes, and silently running without it would produce wrong numbers.
// New fields come with a new format version.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Plan.h"
#include "growc/runtime/Json.h"
#include "growc/runtime/Text.h"

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <map>
#include <new>
#include <set>
#include <tuple>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace growc::rt {

namespace fs = std::filesystem;

#define GROWC_RETURN_IF_ERROR(expr)                                            \
  do {                                                                         \
    Status growcStatus_ = (expr);                                              \
    if (!growcStatus_.isOk())                                                  \
      return growcStatus_;                                                     \
  } while (false)

namespace {

constexpr const char *kFormat = "growc-plan";
/// Plans are small (a few entries per buffer and step); anything bigger than
/// this is not a plan, and reading it whole would only waste memory.
constexpr off_t kMaxPlanFileSize = off_t(1) << 30;
/// Upper bound for `alignment`: page-sized alignments are plausible, more
/// than this is a corrupt value.
constexpr int64_t kMaxAlignment = int64_t(1) << 30;
/// cblas_sgemm takes int dimensions (32-bit in Debian's OpenBLAS).
constexpr int64_t kMaxGemmDim = std::numeric_limits<int32_t>::max();

std::optional<int64_t> checkedMul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    return std::nullopt;
  return r;
}

/// "ctx.key", or "key" at the top level.
std::string fieldPath(const std::string &ctx, std::string_view key) {
  return ctx.empty() ? std::string(key) : ctx + "." + std::string(key);
}

/// Reads one plan. Each method returns a Status whose message names the
/// field at fault; run() prefixes the plan's path.
class PlanParser {
public:
  explicit PlanParser(Plan &plan) : plan(plan) {}

  Status parse(const JsonValue &root);

private:
  // Field access. `ctx` is the path of the enclosing object ("" for the
  // top level, "buffers[3]", ...).
  Status expectObject(const JsonValue &v, const std::string &ctx);
  Status checkKeys(const JsonValue &obj, const std::string &ctx,
                   const std::vector<std::string_view> &allowed);
  Status getField(const JsonValue &obj, const std::string &ctx,
                  std::string_view key, const JsonValue *&out);
  Status getString(const JsonValue &obj, const std::string &ctx,
                   std::string_view key, std::string &out);
  Status getBool(const JsonValue &obj, const std::string &ctx,
                 std::string_view key, bool &out);
  Status getInt(const JsonValue &obj, const std::string &ctx,
                std::string_view key, int64_t min, int64_t max, int64_t &out);
  Status getArray(const JsonValue &obj, const std::string &ctx,
                  std::string_view key, const JsonValue *&out);
  Status getDType(const JsonValue &obj, const std::string &ctx, DType &out);
  /// Reads "shape" and computes the element and byte counts of the tensor.
  Status getShape(const JsonValue &obj, const std::string &ctx, DType dtype,
                  std::vector<int64_t> &shape, int64_t &numElements,
                  int64_t &byteSize);
  Status getBufferRef(const JsonValue &obj, const std::string &ctx,
                      std::string_view key, int64_t &out);

  // Sections.
  Status parseHeader(const JsonValue &root);
  Status parseBuffers(const JsonValue &root);
  Status parseTensors(const JsonValue &root, std::string_view section,
                      bool isParam);
  Status parseKernels(const JsonValue &root);
  Status parseLaunch(const JsonValue &entry, const std::string &ctx,
                     PlanKernel &kernel);
  Status parseSteps(const JsonValue &root);
  Status parseKernelStep(const JsonValue &step, const std::string &ctx,
                         PlanStep &out);
  Status parseGemmStep(const JsonValue &step, const std::string &ctx,
                       PlanStep &out);
  Status parseAttentionStep(const JsonValue &step, const std::string &ctx,
                            PlanStep &out);
  Status parseAllReduceStep(const JsonValue &step, const std::string &ctx,
                            PlanStep &out);
  Status parseGrowth(const JsonValue &root);

  Plan &plan;
  /// Tensor name -> where it was first defined, for duplicate messages.
  std::map<std::string, std::string, std::less<>> tensorNames;
};

Status PlanParser::expectObject(const JsonValue &v, const std::string &ctx) {
  if (v.isObject())
    return Status::ok();
  return Status::error((ctx.empty() ? std::string("the plan") : ctx) +
                       " must be a JSON object, got " + describeJson(v));
}

Status PlanParser::checkKeys(const JsonValue &obj, const std::string &ctx,
                             const std::vector<std::string_view> &allowed) {
  for (const JsonValue::Member &member : obj.members()) {
    bool known = false;
    for (std::string_view key : allowed)
      known = known || member.first == key;
    if (!known)
      return Status::error((ctx.empty() ? std::string("the plan") : ctx) +
                           ": unknown field " + inQuotes(member.first) +
                           " (not part of plan format version " +
                           std::to_string(Plan::kVersion) + ")");
  }
  return Status::ok();
}

Status PlanParser::getField(const JsonValue &obj, const std::string &ctx,
                            std::string_view key, const JsonValue *&out) {
  out = obj.find(key);
  if (out)
    return Status::ok();
  return Status::error((ctx.empty() ? std::string("the plan") : ctx) +
                       ": missing field " + inQuotes(key));
}

Status PlanParser::getString(const JsonValue &obj, const std::string &ctx,
                             std::string_view key, std::string &out) {
  const JsonValue *v;
  GROWC_RETURN_IF_ERROR(getField(obj, ctx, key, v));
  if (!v->isString())
    return Status::error(fieldPath(ctx, key) + " must be a string, got " +
                         describeJson(*v));
  out = v->asString();
  return Status::ok();
}

Status PlanParser::getBool(const JsonValue &obj, const std::string &ctx,
                           std::string_view key, bool &out) {
  const JsonValue *v;
  GROWC_RETURN_IF_ERROR(getField(obj, ctx, key, v));
  if (!v->isBool())
    return Status::error(fieldPath(ctx, key) + " must be true or false, got " +
                         describeJson(*v));
  out = v->asBool();
  return Status::ok();
}

Status PlanParser::getInt(const JsonValue &obj, const std::string &ctx,
                          std::string_view key, int64_t min, int64_t max,
                          int64_t &out) {
  const JsonValue *v;
  GROWC_RETURN_IF_ERROR(getField(obj, ctx, key, v));
  int64_t value;
  if (!v->isInteger() || !v->getInt64(value) || value < min || value > max) {
    std::string range =
        max == std::numeric_limits<int64_t>::max()
            ? ">= " + std::to_string(min)
            : "in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
    return Status::error(fieldPath(ctx, key) + " must be an integer " + range +
                         ", got " + describeJson(*v));
  }
  out = value;
  return Status::ok();
}

Status PlanParser::getArray(const JsonValue &obj, const std::string &ctx,
                            std::string_view key, const JsonValue *&out) {
  GROWC_RETURN_IF_ERROR(getField(obj, ctx, key, out));
  if (!out->isArray())
    return Status::error(fieldPath(ctx, key) + " must be an array, got " +
                         describeJson(*out));
  return Status::ok();
}

Status PlanParser::getDType(const JsonValue &obj, const std::string &ctx,
                            DType &out) {
  std::string name;
  GROWC_RETURN_IF_ERROR(getString(obj, ctx, "dtype", name));
  std::optional<DType> dtype = parseDType(name);
  if (!dtype)
    return Status::error(fieldPath(ctx, "dtype") + ": unknown dtype " +
                         inQuotes(name) +
                         " (expected a safetensors dtype name such as 'F32')");
  out = *dtype;
  return Status::ok();
}

Status PlanParser::getShape(const JsonValue &obj, const std::string &ctx,
                            DType dtype, std::vector<int64_t> &shape,
                            int64_t &numElements, int64_t &byteSize) {
  const JsonValue *array;
  GROWC_RETURN_IF_ERROR(getArray(obj, ctx, "shape", array));
  shape.clear();
  std::optional<int64_t> n = 1;
  for (const JsonValue &dim : array->elements()) {
    int64_t d;
    if (!dim.isInteger() || !dim.getInt64(d) || d < 0)
      return Status::error(fieldPath(ctx, "shape") +
                           ": dimensions must be integers >= 0, got " +
                           describeJson(dim));
    shape.push_back(d);
    if (n)
      n = checkedMul(*n, d);
  }
  // A zero dimension makes the tensor empty even if the other dimensions
  // overflow when multiplied.
  for (int64_t d : shape)
    if (d == 0)
      n = 0;
  std::optional<int64_t> bytes =
      n ? checkedMul(*n, static_cast<int64_t>(dtypeSize(dtype))) : n;
  if (!bytes)
    return Status::error(fieldPath(ctx, "shape") + ": " + formatShape(shape) +
                         " is too large");
  numElements = *n;
  byteSize = *bytes;
  return Status::ok();
}

Status PlanParser::getBufferRef(const JsonValue &obj, const std::string &ctx,
                                std::string_view key, int64_t &out) {
  const JsonValue *v;
  GROWC_RETURN_IF_ERROR(getField(obj, ctx, key, v));
  int64_t id;
  if (!v->isInteger() || !v->getInt64(id) || id < 0 ||
      id >= static_cast<int64_t>(plan.buffers.size()))
    return Status::error(
        fieldPath(ctx, key) + ": unknown buffer id " + describeJson(*v) +
        " (the plan has " + std::to_string(plan.buffers.size()) +
        " buffers, ids 0.." + std::to_string(int64_t(plan.buffers.size()) - 1) +
        ")");
  out = id;
  return Status::ok();
}

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
  if (!version->isInteger() || !version->getInt64(v) || v != Plan::kVersion)
    return Status::error("unsupported plan version " + describeJson(*version) +
                         " (this runtime reads version " +
                         std::to_string(Plan::kVersion) + ")");

  GROWC_RETURN_IF_ERROR(checkKeys(
      root, "",
      {"format", "version", "graph", "target", "model", "kernels_file", "batch",
       "seq", "vocab_size", "alignment", "arena_size", "buffers", "inputs",
       "params", "outputs", "kernels", "steps", "growth", "micro_batches"}));

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
  GROWC_RETURN_IF_ERROR(
      getInt(root, "", "arena_size", 0, kMax - kMaxAlignment, plan.arenaSize));
  if (root.find("micro_batches"))
    GROWC_RETURN_IF_ERROR(
        getInt(root, "", "micro_batches", 1, 1 << 20, plan.microBatches));
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
    GROWC_RETURN_IF_ERROR(checkKeys(entry, ctx, {"id", "offset", "size"}));
    PlanBuffer buffer;
    GROWC_RETURN_IF_ERROR(getInt(entry, ctx, "id", 0, kMax, buffer.id));
    if (buffer.id != static_cast<int64_t>(i))
      return Status::error(ctx + ": id " + std::to_string(buffer.id) +
                           ", expected " + std::to_string(i) +
                           " (buffer ids must be dense 0..n-1, in order)");
    GROWC_RETURN_IF_ERROR(getInt(entry, ctx, "offset", 0, kMax, buffer.offset));
    GROWC_RETURN_IF_ERROR(getInt(entry, ctx, "size", 0, kMax, buffer.size));
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
      GROWC_RETURN_IF_ERROR(checkKeys(
          entry, ctx, {"name", "buffer", "dtype", "shape", "source", "copy"}));
    else
      GROWC_RETURN_IF_ERROR(
          checkKeys(entry, ctx, {"name", "buffer", "dtype", "shape"}));

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
    const PlanBuffer &buffer = plan.buffers[tensor.buffer];
    if (tensor.byteSize > buffer.size)
      return Status::error(ctx + ": " + dtypeName(tensor.dtype) + " " +
                           formatShape(tensor.shape) + " needs " +
                           std::to_string(tensor.byteSize) +
                           " bytes but buffer " + std::to_string(buffer.id) +
                           " holds " + std::to_string(buffer.size));
    if (isParam) {
      GROWC_RETURN_IF_ERROR(getString(entry, ctx, "source", tensor.source));
      GROWC_RETURN_IF_ERROR(getBool(entry, ctx, "copy", tensor.copy));
      plan.params.push_back(std::move(tensor));
    } else if (section == "inputs") {
      plan.inputs.push_back(std::move(static_cast<PlanTensor &>(tensor)));
    } else {
      plan.outputs.push_back(std::move(static_cast<PlanTensor &>(tensor)));
    }
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
      GROWC_RETURN_IF_ERROR(checkKeys(argEntry, argCtx, {"dtype", "shape"}));
      PlanKernelArg arg;
      GROWC_RETURN_IF_ERROR(getDType(argEntry, argCtx, arg.dtype));
      GROWC_RETURN_IF_ERROR(getShape(argEntry, argCtx, arg.dtype, arg.shape,
                                     arg.numElements, arg.byteSize));
      kernel.args.push_back(std::move(arg));
    }
    GROWC_RETURN_IF_ERROR(parseLaunch(entry, ctx, kernel));
    plan.kernels.push_back(std::move(kernel));
  }
  return Status::ok();
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
  // Forward: q, k, v, o; backward: q, k, v, o, dout, dq, dk, dv. The
  // k-like ones have KV heads' width.
  std::vector<std::string> names = {"q", "k", "v", "o"};
  if (backward)
    names.insert(names.end(), {"dout", "dq", "dk", "dv"});
  std::vector<std::string> keys = {"op",
                                   "batch",
                                   "seq_len",
                                   "heads",
                                   "kv_heads",
                                   "head_dim",
                                   backward ? "symbols" : "symbol"};
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
    const JsonValue *symbols;
    GROWC_RETURN_IF_ERROR(getArray(step, ctx, "symbols", symbols));
    for (const JsonValue &symbol : symbols->elements()) {
      if (!symbol.isString())
        return Status::error(fieldPath(ctx, "symbols") +
                             ": entries must be strings");
      out.symbols.push_back(symbol.asString());
    }
    if (out.symbols.size() != 3)
      return Status::error(fieldPath(ctx, "symbols") +
                           ": the backward has 3 passes (statistics, dK and "
                           "dV, dQ), not " +
                           std::to_string(out.symbols.size()));
  } else {
    out.symbols.emplace_back();
    GROWC_RETURN_IF_ERROR(getString(step, ctx, "symbol", out.symbols[0]));
  }
  for (const std::string &symbol : out.symbols)
    if (symbol.rfind("growc_", 0) != 0)
      return Status::error(fieldPath(ctx, backward ? "symbols" : "symbol") +
                           ": " + inQuotes(symbol) +
                           " is not a kernel library entry point (growc_*)");
  constexpr int64_t kMaxDim = 1 << 24;
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
  for (const std::string &name : names) {
    int64_t id, offset;
    GROWC_RETURN_IF_ERROR(getBufferRef(step, ctx, name.c_str(), id));
    std::string key = name + "_offset";
    GROWC_RETURN_IF_ERROR(getInt(step, ctx, key.c_str(), 0,
                                 std::numeric_limits<int64_t>::max() / 2,
                                 offset));
    bool kvWidth = name == "k" || name == "v" || name == "dk" || name == "dv";
    int64_t width = (kvWidth ? out.kvHeads : out.heads) * out.headDim;
    int64_t bytes = out.batch * out.seqLen * width * 4;
    const PlanBuffer &buffer = plan.buffers[id];
    if (offset % 4 != 0 || offset + bytes > buffer.size)
      return Status::error(
          ctx + ": " + op + " operand " + name + " (f32 [" +
          std::to_string(out.batch * out.seqLen) + ", " +
          std::to_string(width) + "]) needs " + std::to_string(bytes) +
          " bytes from byte " + std::to_string(offset) + " but buffer " +
          std::to_string(id) + " holds " + std::to_string(buffer.size));
    out.operands.push_back(id);
    out.operandOffsets.push_back(offset);
  }
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
    else
      return Status::error(ctx + ".op: unknown op " + inQuotes(op) +
                           " (expected 'kernel', 'gemm', 'attention', "
                           "'attention_grad' or 'all_reduce')");
    plan.steps.push_back(std::move(step));
  }
  return Status::ok();
}

Status PlanParser::parse(const JsonValue &root) {
  GROWC_RETURN_IF_ERROR(expectObject(root, ""));
  GROWC_RETURN_IF_ERROR(parseHeader(root));
  GROWC_RETURN_IF_ERROR(parseBuffers(root));
  GROWC_RETURN_IF_ERROR(parseTensors(root, "inputs", /*isParam=*/false));
  GROWC_RETURN_IF_ERROR(parseTensors(root, "params", /*isParam=*/true));
  GROWC_RETURN_IF_ERROR(parseTensors(root, "outputs", /*isParam=*/false));
  GROWC_RETURN_IF_ERROR(parseKernels(root));
  GROWC_RETURN_IF_ERROR(parseSteps(root));
  return parseGrowth(root);
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

/// Reads a whole (small) file.
StatusOr<std::string> readFile(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::error(path + ": cannot open: " + std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0)
    return Status::error(path + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return Status::error(path + ": not a regular file");
  if (st.st_size > kMaxPlanFileSize)
    return Status::error(path + ": " + std::to_string(st.st_size) +
                         " bytes is too large for a plan");
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return Status::error(path + ": read failed: " + std::strerror(errno));
    if (n == 0)
      break; // Shrunk while reading; parse what is there.
    done += static_cast<size_t>(n);
  }
  text.resize(done);
  return text;
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

} // namespace

//===----------------------------------------------------------------------===//
// Plan
//===----------------------------------------------------------------------===//

template <typename T>
static const T *findByName(const std::vector<T> &tensors,
                           std::string_view name) {
  for (const T &t : tensors)
    if (t.name == name)
      return &t;
  return nullptr;
}

const PlanTensor *Plan::findInput(std::string_view name) const {
  return findByName(inputs, name);
}
const PlanParam *Plan::findParam(std::string_view name) const {
  return findByName(params, name);
}
const PlanTensor *Plan::findOutput(std::string_view name) const {
  return findByName(outputs, name);
}

StatusOr<Plan> parsePlan(std::string_view text, const std::string &planPath) {
  try {
    StatusOr<JsonValue> json = parseJson(text);
    if (!json.isOk())
      return Status::error(planPath +
                           ": invalid JSON: " + json.status().message());
    Plan plan;
    plan.path = planPath;
    plan.directory = fs::path(planPath).parent_path().string();
    if (plan.directory.empty())
      plan.directory = ".";
    PlanParser parser(plan);
    Status status = parser.parse(*json);
    if (!status.isOk())
      return Status::error(planPath + ": " + status.message());
    return plan;
  } catch (const std::bad_alloc &) {
    return Status::error(planPath + ": out of memory");
  } catch (const std::exception &e) {
    return Status::error(planPath + ": " + e.what());
  }
}

StatusOr<Plan> loadPlan(const std::string &planPath) {
  try {
    StatusOr<std::string> text = readFile(planPath);
    if (!text.isOk())
      return text.status();
    StatusOr<Plan> plan = parsePlan(*text, planPath);
    if (!plan.isOk())
      return plan;
    struct stat st;
    if (::stat(plan->kernelsPath.c_str(), &st) != 0)
      return Status::error(planPath + ": kernels file " + plan->kernelsPath +
                           ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode))
      return Status::error(planPath + ": kernels file " + plan->kernelsPath +
                           " is not a regular file");
    return plan;
  } catch (const std::bad_alloc &) {
    return Status::error(planPath + ": out of memory");
  } catch (const std::exception &e) {
    return Status::error(planPath + ": " + e.what());
  }
}

std::string planPathFor(const std::string &artifact) {
  constexpr std::string_view kPlanSuffix = ".plan.json";
  if (endsWith(artifact, kPlanSuffix))
    return artifact;
  for (std::string_view kernelsSuffix : {".so", ".ptx"})
    if (endsWith(artifact, kernelsSuffix))
      return artifact.substr(0, artifact.size() - kernelsSuffix.size()) +
             std::string(kPlanSuffix);
  return artifact;
}

} // namespace growc::rt
