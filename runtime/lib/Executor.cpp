//===- Executor.cpp - Migration tables shared by every executor -----------===//

#include "growc/runtime/Executor.h"

#include "growc/runtime/Text.h"

using namespace growc::rt;

Executor::~Executor() = default;

static bool startsWith(const std::string &s, const char *prefix) {
  return s.compare(0, std::char_traits<char>::length(prefix), prefix) == 0;
}

StatusOr<std::vector<ParamMove>>
growc::rt::planParamMigration(const Plan &to, const Plan &from,
                              bool zeroCopiedMoments) {
  std::vector<ParamMove> moves;
  for (const PlanParam &param : to.params) {
    // Moments follow their parameter's provenance: the plan records the
    // model's parameters' sources, and optimizer.<kind>.<name> is the
    // state of <name>.
    const PlanParam *owner = &param;
    std::string prefix;
    for (const char *kind :
         {"optimizer.exp_avg.", "optimizer.exp_avg_sq.", "optimizer.grad_sum."})
      if (startsWith(param.name, kind)) {
        prefix = kind;
        owner = to.findParam(param.name.substr(prefix.size()));
        if (!owner)
          return Status::error(to.path + ": optimizer state " +
                               inQuotes(param.name) +
                               " belongs to no parameter");
      }
    if (prefix.empty() && startsWith(param.name, "optimizer."))
      return Status::error(to.path + ": unknown optimizer state " +
                           inQuotes(param.name));
    const std::string &source =
        owner->source.empty() ? owner->name : owner->source;
    if (!prefix.empty() && owner->copy && zeroCopiedMoments) {
      moves.push_back({&param, nullptr, owner});
      continue;
    }
    const PlanParam *origin = from.findParam(prefix + source);
    if (!origin)
      return Status::error(to.path + ": " + inQuotes(param.name) +
                           " starts from " + inQuotes(prefix + source) +
                           ", which model " + inQuotes(from.model) + " (plan " +
                           from.path + ") does not have");
    if (origin->dtype != param.dtype || origin->shape != param.shape)
      return Status::error(to.path + ": " + inQuotes(param.name) + " (" +
                           dtypeName(param.dtype) + " " +
                           formatShape(param.shape) + ") cannot start from " +
                           inQuotes(origin->name) + " (" +
                           dtypeName(origin->dtype) + " " +
                           formatShape(origin->shape) + ") of " + from.path);
    moves.push_back({&param, origin, owner});
  }
  return moves;
}

MigrationReport growc::rt::reportOf(const std::vector<ParamMove> &moves) {
  MigrationReport report;
  for (const ParamMove &move : moves) {
    if (move.from) {
      ++report.copied;
      report.duplicated += move.owner->copy;
    } else {
      ++report.zeroedMoments;
    }
  }
  return report;
}
