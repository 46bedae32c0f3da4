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
// This file holds the entry points, the order of the sections and the field
// readers; the sections are in PlanSections.cpp and the steps in
// PlanSteps.cpp (the parser class in PlanParser.h).
//
//===----------------------------------------------------------------------===//

#include "PlanParser.h"

#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <new>
#include <optional>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace growc::rt {

namespace fs = std::filesystem;

namespace {

std::optional<int64_t> checkedMul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    return std::nullopt;
  return r;
}

} // namespace

namespace detail {

//===----------------------------------------------------------------------===//
// PlanParser: the sections in order
//===----------------------------------------------------------------------===//

Status PlanParser::parse(const JsonValue &root) {
  GROWC_RETURN_IF_ERROR(expectObject(root, ""));
  GROWC_RETURN_IF_ERROR(parseHeader(root));
  GROWC_RETURN_IF_ERROR(parseBuffers(root));
  GROWC_RETURN_IF_ERROR(parseTensors(root, "inputs", /*isParam=*/false));
  GROWC_RETURN_IF_ERROR(parseTensors(root, "params", /*isParam=*/true));
  GROWC_RETURN_IF_ERROR(parseTensors(root, "outputs", /*isParam=*/false));
  GROWC_RETURN_IF_ERROR(checkBf16Copies());
  GROWC_RETURN_IF_ERROR(checkZeroedBuffers());
  GROWC_RETURN_IF_ERROR(parseKernels(root));
  GROWC_RETURN_IF_ERROR(parseSteps(root));
  return parseGrowth(root);
}

//===----------------------------------------------------------------------===//
// PlanParser: field readers
//===----------------------------------------------------------------------===//

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

} // namespace detail

namespace {

/// Plans are small (a few entries per buffer and step); anything bigger than
/// this is not a plan, and reading it whole would only waste memory.
constexpr off_t kMaxPlanFileSize = off_t(1) << 30;

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
    detail::PlanParser parser(plan);
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

StatusOr<std::vector<PlanKernel>> parseKernelTable(std::string_view text,
                                                   const std::string &target) {
  try {
    StatusOr<JsonValue> json = parseJson(text);
    if (!json.isOk())
      return Status::error("invalid JSON: " + json.status().message());
    Plan plan;
    plan.target = target;
    detail::PlanParser parser(plan);
    GROWC_RETURN_IF_ERROR(parser.parseKernelTable(*json));
    return std::move(plan.kernels);
  } catch (const std::bad_alloc &) {
    return Status::error("out of memory");
  } catch (const std::exception &e) {
    return Status::error(e.what());
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
      return artifact + std::string(kPlanSuffix);
  return artifact;
}

} // namespace growc::rt
