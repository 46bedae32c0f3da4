//===- PlanParser.h - The plan parser, shared by its parts ------*- C++ -*-===//
//
// Private to the plan parser (runtime/lib, not installed). PlanParser reads
// one *.plan.json (docs/plan.md) into a Plan, section by section; its parts
// live in three files so that each stays readable:
//
//   Plan.cpp          the entry points (parsePlan, loadPlan), the order of
//                     the sections and the field readers every section uses;
//   PlanSections.cpp  the header fields, buffers, tensors, kernels with
//                     their launches, and growth;
//   PlanSteps.cpp     the steps: kernel, gemm, attention, attention_grad
//                     and all_reduce;
//   PlanAdamW.cpp     the adamw step and its flat layout.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_LIB_PLANPARSER_H
#define GROWC_RUNTIME_LIB_PLANPARSER_H

#include "growc/runtime/Json.h"
#include "growc/runtime/Plan.h"
#include "growc/runtime/Text.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#define GROWC_RETURN_IF_ERROR(expr)                                            \
  do {                                                                         \
    Status growcStatus_ = (expr);                                              \
    if (!growcStatus_.isOk())                                                  \
      return growcStatus_;                                                     \
  } while (false)

namespace growc::rt::detail {

/// "ctx.key", or "key" at the top level.
inline std::string fieldPath(const std::string &ctx, std::string_view key) {
  return ctx.empty() ? std::string(key) : ctx + "." + std::string(key);
}

/// Reads one plan. Each method returns a Status whose message names the
/// field at fault; parsePlan() prefixes the plan's path.
class PlanParser {
public:
  explicit PlanParser(Plan &plan) : plan(plan) {}

  Status parse(const JsonValue &root);
  /// A kernels file's signature table (a "kernels" array on its own), read
  /// with the rules of the plan's kernels for plan.target.
  Status parseKernelTable(const JsonValue &table);

private:
  /// Frozen parameters have no optimizer state (PlanSections.cpp).
  Status checkFrozenParams() const;
  /// The rules of tensors of one section sharing a buffer.
  Status checkSharedBuffers(std::string_view section) const;
  /// Each bf16_copy is a buffer of its own, apart from every other one
  /// (PlanSections.cpp).
  Status checkBf16Copies() const;
  /// A zeroed buffer holds no tensor and shares no bytes (PlanSections.cpp).
  Status checkZeroedBuffers() const;

  // Field access (Plan.cpp). `ctx` is the path of the enclosing object ("" for
  // the top level, "buffers[3]", ...).
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
  /// Reads "symbols": `count` entry points of the GPU kernel library
  /// (`growc_*`); `what` says what they are when the count is wrong
  /// (PlanSteps.cpp).
  Status getLibrarySymbols(const JsonValue &step, const std::string &ctx,
                           size_t count, const std::string &what,
                           std::vector<std::string> &out);

  // Sections (PlanSections.cpp).
  Status parseHeader(const JsonValue &root);
  Status parseBuffers(const JsonValue &root);
  Status parseTensors(const JsonValue &root, std::string_view section,
                      bool isParam);
  Status parseKernels(const JsonValue &root);
  Status parseLaunch(const JsonValue &entry, const std::string &ctx,
                     PlanKernel &kernel);
  Status parseGrowth(const JsonValue &root);

  // Steps (PlanSteps.cpp).
  Status parseSteps(const JsonValue &root);
  Status parseKernelStep(const JsonValue &step, const std::string &ctx,
                         PlanStep &out);
  Status parseGemmStep(const JsonValue &step, const std::string &ctx,
                       PlanStep &out);
  Status parseAttentionStep(const JsonValue &step, const std::string &ctx,
                            PlanStep &out);
  Status parseAllReduceStep(const JsonValue &step, const std::string &ctx,
                            PlanStep &out);

  // The adamw step (PlanAdamW.cpp).
  Status parseAdamWStep(const JsonValue &step, const std::string &ctx,
                        PlanStep &out);
  Status checkAdamWLayout(const std::string &ctx, const PlanStep &step) const;
  /// `delta`: the params' offsets from params[0] (D_k).
  Status checkAdamWBf16Layout(const std::string &ctx, const PlanStep &step,
                              const std::vector<int64_t> &delta) const;

  Plan &plan;
  /// Tensor name -> where it was first defined, for duplicate messages.
  std::map<std::string, std::string, std::less<>> tensorNames;
};

} // namespace growc::rt::detail

#endif // GROWC_RUNTIME_LIB_PLANPARSER_H
