//===- KernelsFile.cpp - Checking a kernels file against its plan ---------===//
//
// KernelsFile.h: the content-hash check and the signature-table check that
// both executors make before they load a kernels file's code. Messages
// start with the plan's path and name the kernels file, the kernel and the
// field, so that a user sees which file is stale and what differs.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/KernelsFile.h"

#include "growc/runtime/ContentHash.h"
#include "growc/runtime/Text.h"

#include <map>

namespace growc::rt {
namespace {

std::string formatArray(const int64_t *begin, const int64_t *end) {
  return formatShape(std::vector<int64_t>(begin, end));
}

std::string formatArg(const PlanKernelArg &arg) {
  return dtypeName(arg.dtype) + std::string(" ") + formatShape(arg.shape) +
         (arg.zeroed ? " zeroed" : "");
}

/// The first field in which `planned` differs from `compiled`, as
/// "<field>: ..."; empty when they agree.
std::string firstDifference(const PlanKernel &planned,
                            const PlanKernel &compiled) {
  auto differs = [](const std::string &field, const std::string &plan,
                    const std::string &file) {
    return field + ": the plan says " + plan +
           ", the kernels file was compiled for " + file;
  };
  if (planned.name != compiled.name)
    return differs("name", inQuotes(planned.name), inQuotes(compiled.name));
  if (planned.args.size() != compiled.args.size())
    return differs("args", std::to_string(planned.args.size()) + " arguments",
                   std::to_string(compiled.args.size()));
  for (size_t i = 0; i < planned.args.size(); ++i)
    if (planned.args[i].dtype != compiled.args[i].dtype ||
        planned.args[i].shape != compiled.args[i].shape ||
        planned.args[i].zeroed != compiled.args[i].zeroed)
      return differs("argument " + std::to_string(i),
                     formatArg(planned.args[i]), formatArg(compiled.args[i]));
  if (planned.blocks != compiled.blocks)
    return "blocks " + std::to_string(planned.blocks) + " but compiled with " +
           std::to_string(compiled.blocks);
  if (planned.launch.has_value() != compiled.launch.has_value())
    return differs("launch", planned.launch ? "a launch" : "none",
                   compiled.launch ? "a launch" : "none");
  if (planned.launch) {
    const PlanLaunch &p = *planned.launch, &c = *compiled.launch;
    if (!std::equal(p.grid, p.grid + 3, c.grid))
      return differs("launch.grid", formatArray(p.grid, p.grid + 3),
                     formatArray(c.grid, c.grid + 3));
    if (!std::equal(p.block, p.block + 3, c.block))
      return differs("launch.block", formatArray(p.block, p.block + 3),
                     formatArray(c.block, c.block + 3));
    if (p.params != c.params)
      return differs("launch.params", formatShape(p.params),
                     formatShape(c.params));
    if (p.sharedBytes != c.sharedBytes)
      return differs("launch.shared_bytes", std::to_string(p.sharedBytes),
                     std::to_string(c.sharedBytes));
  }
  if (planned.kind != compiled.kind)
    return differs("kind", inQuotes(planned.kind), inQuotes(compiled.kind));
  return {};
}

} // namespace

std::string ptxSignatureLine(std::string_view table) {
  return std::string(kPtxSignaturesPrefix) + std::string(table) + "\n";
}

Status checkKernelsHash(const Plan &plan, const std::string &actualHash) {
  if (actualHash == plan.kernelsHash)
    return Status::ok();
  return Status::error(plan.path + ": kernels file " + plan.kernelsPath +
                       " does not match this plan (its content hash is " +
                       actualHash + ", the plan was compiled with " +
                       plan.kernelsHash +
                       "); recompile or use the plan written with it");
}

Status checkKernelsFileHash(const Plan &plan) {
  StatusOr<std::string> hash = hashFile(plan.kernelsPath);
  if (!hash.isOk())
    return Status::error(plan.path + ": cannot load kernels file " +
                         hash.status().message());
  return checkKernelsHash(plan, *hash);
}

StatusOr<std::string_view> findPtxSignatureTable(const Plan &plan,
                                                 std::string_view ptx) {
  // The line growc appends: at the start of a line, up to its end.
  size_t pos = 0;
  while ((pos = ptx.find(kPtxSignaturesPrefix, pos)) !=
             std::string_view::npos &&
         pos > 0 && ptx[pos - 1] != '\n')
    pos += kPtxSignaturesPrefix.size();
  if (pos == std::string_view::npos)
    return Status::error(plan.path + ": kernels file " + plan.kernelsPath +
                         " has no kernel signature table (a '" +
                         std::string(kPtxSignaturesPrefix) +
                         "...' line); recompile it with this growc");
  std::string_view table = ptx.substr(pos + kPtxSignaturesPrefix.size());
  return table.substr(0, table.find('\n'));
}

Status checkKernelSignatures(const Plan &plan, std::string_view table) {
  StatusOr<std::vector<PlanKernel>> compiled =
      parseKernelTable(table, plan.target);
  if (!compiled.isOk())
    return Status::error(
        plan.path + ": kernels file " + plan.kernelsPath +
        ": bad kernel signature table: " + compiled.status().message());
  std::map<std::string_view, const PlanKernel *> bySymbol;
  for (const PlanKernel &kernel : *compiled)
    bySymbol[kernel.symbol] = &kernel;
  for (const PlanKernel &kernel : plan.kernels) {
    auto it = bySymbol.find(kernel.symbol);
    std::string prefix = plan.path + ": kernel " + inQuotes(kernel.name);
    if (it == bySymbol.end())
      return Status::error(prefix + ": the kernels file " + plan.kernelsPath +
                           " was not compiled with a kernel " +
                           inQuotes(kernel.symbol));
    std::string difference = firstDifference(kernel, *it->second);
    if (!difference.empty())
      return Status::error(prefix + " " + difference + " (kernels file " +
                           plan.kernelsPath + ")");
  }
  return Status::ok();
}

} // namespace growc::rt
