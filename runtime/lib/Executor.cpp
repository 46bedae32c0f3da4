//===- Executor.cpp - Load and migration tables shared by every executor --===//

#include "growc/runtime/Executor.h"

#include "growc/runtime/Json.h"
#include "growc/runtime/Text.h"

#include <cstring>

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
    // Growth runs (MIDAS, LIDAS, GradStack) only copy; a zero or scaled
    // initialiser would need a kernel on the GPU, so it is refused rather
    // than silently copied.
    if (prefix.empty() && param.scale != 1.0)
      return Status::error(
          to.path + ": " + inQuotes(param.name) + " starts at " +
          describeJson(JsonValue::number(param.scale)) + " times " +
          inQuotes(param.source.empty() ? param.name : param.source) +
          "; migrating live training state applies only plain copies (grow "
          "the checkpoint with growc --weights-in/--weights-out instead)");
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

//===----------------------------------------------------------------------===//
// Loading a checkpoint
//===----------------------------------------------------------------------===//

void ParamLoad::writeTo(void *dst) const {
  if (tensor)
    convertTensor(*tensor, param->dtype, dst);
  else
    std::memset(dst, 0, static_cast<size_t>(param->byteSize));
}

/// Why a tensor of `from` cannot be the value of a parameter of `to`, as
/// the end of a message.
static std::string conversionAdvice(DType from, DType to) {
  bool floats = (from == DType::F32 || from == DType::BF16 ||
                 from == DType::F16) &&
                (to == DType::BF16 || to == DType::F16);
  if (!floats)
    return "";
  // Rounding on load would silently change the model; the user decides.
  return ": growc does not round weights when loading them; save the "
         "checkpoint in " +
         std::string(dtypeName(to)) +
         " (in PyTorch: model.to(torch." +
         (to == DType::BF16 ? "bfloat16" : "float16") +
         ").save_pretrained(DIR)), or import the model with --param-dtype "
         "f32 (the plan then takes F32, BF16 and F16 checkpoints)";
}

static StatusOr<std::vector<ParamLoad>>
loadTable(const Plan &plan, const Checkpoint &checkpoint) {
  const std::string ofModel = " of model " + inQuotes(plan.model) + " (plan " +
                              plan.path + ")";
  std::vector<ParamLoad> loads;
  size_t missing = 0;
  const PlanParam *firstMissing = nullptr;
  for (const PlanParam &param : plan.params) {
    const TensorView *tensor = checkpoint.find(param.name);
    // A training step's optimizer state starts at zero when the checkpoint
    // has none yet (a fresh run).
    if (!tensor && startsWith(param.name, "optimizer.")) {
      loads.push_back({&param, nullptr});
      continue;
    }
    if (!tensor) {
      if (!missing++)
        firstMissing = &param;
      continue;
    }
    loads.push_back({&param, tensor});
  }
  if (missing)
    return Status::error(
        checkpoint.path() + ": missing parameter " +
        inQuotes(firstMissing->name) +
        (missing > 1 ? " (and " + std::to_string(missing - 1) + " more)"
                     : std::string()) +
        ofModel);
  for (const ParamLoad &load : loads) {
    if (!load.tensor)
      continue;
    const TensorView &tensor = *load.tensor;
    const PlanParam &param = *load.param;
    const std::string where = checkpoint.fileOf(tensor) + ": parameter " +
                              inQuotes(param.name);
    if (!convertsExactly(tensor.dtype, param.dtype))
      return Status::error(where + " is " + dtypeName(tensor.dtype) +
                           ", the plan expects " + dtypeName(param.dtype) +
                           conversionAdvice(tensor.dtype, param.dtype));
    if (tensor.shape != param.shape)
      return Status::error(where + " has shape " + formatShape(tensor.shape) +
                           ", the plan expects " + formatShape(param.shape));
  }

  const PlanParam *embed = plan.findParam(kEmbedName);
  const bool tied = embed && !plan.findParam(kLmHeadName);
  for (const TensorView &tensor : checkpoint.tensors()) {
    // Optimizer state (moments) and the training loop's position live
    // beside the weights in training checkpoints; they are not inputs of
    // this graph. The RoPE buffers are recomputed from the config.
    if (startsWith(tensor.name, "optimizer.") ||
        startsWith(tensor.name, "growc.train.") || isIgnoredBuffer(tensor.name))
      continue;
    if (plan.findParam(tensor.name))
      continue;
    // A tied model saved with its head (as transformers may): accepted
    // when it is the embedding, which the model uses in its place.
    if (tied && tensor.name == kLmHeadName) {
      const TensorView *embedTensor = checkpoint.find(kEmbedName);
      if (!convertsExactly(tensor.dtype, embed->dtype))
        return Status::error(checkpoint.fileOf(tensor) + ": " +
                             inQuotes(tensor.name) + " is " +
                             dtypeName(tensor.dtype) + ", the embedding it " +
                             "ties to is " + dtypeName(embed->dtype));
      if (Status status =
              checkTiedHead(checkpoint, tensor, *embedTensor, embed->dtype);
          !status.isOk())
        return status;
      continue;
    }
    return Status::error(checkpoint.fileOf(tensor) + ": tensor " +
                         inQuotes(tensor.name) + " is not a parameter" +
                         ofModel +
                         "; is this the checkpoint of a different model?");
  }
  return loads;
}

StatusOr<std::vector<ParamLoad>>
growc::rt::planParamLoad(const Plan &plan, const Checkpoint &checkpoint) {
  try {
    return loadTable(plan, checkpoint);
  } catch (const std::bad_alloc &) {
    return Status::error(checkpoint.path() + ": out of memory");
  }
}
