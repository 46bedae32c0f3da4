//===- RunInterface.cpp - a run's inputs and outputs, on any device ------===//

#include "growc/runtime/RunInterface.h"
#include "growc/runtime/Text.h"

#include <algorithm>
#include <cstring>

using namespace growc::rt;

Status growc::rt::checkTokens(const Plan &plan, const TensorView &tokens) {
  if (tokens.dtype != DType::I32)
    return Status::error("tokens must be int32 (I32), got " +
                         std::string(dtypeName(tokens.dtype)));
  if (tokens.shape.size() != 2)
    return Status::error("tokens must have rank 2 [batch, seq], got shape " +
                         formatShape(tokens.shape));
  // A hand-built view may disagree with itself; one from a file never does.
  const int64_t b = tokens.shape[0], t = tokens.shape[1];
  if (b < 0 || t < 0 || tokens.numElements() < 0 ||
      tokens.byteSize != static_cast<size_t>(tokens.numElements()) * 4 ||
      (tokens.byteSize && !tokens.data))
    return Status::error("tokens: shape " + formatShape(tokens.shape) +
                         " does not match its " +
                         std::to_string(tokens.byteSize) + " bytes of data");
  if (b > plan.batch || t > plan.seq)
    return Status::error("tokens of shape " + formatShape(tokens.shape) +
                         " exceed the compiled shape " +
                         formatShape({plan.batch, plan.seq}) + " of " +
                         plan.path);
  for (int64_t i = 0; i < b * t; ++i) {
    int32_t token; // The data carries no alignment guarantee.
    std::memcpy(&token, tokens.data + i * 4, 4);
    if (token < 0 || token >= plan.vocabSize)
      return Status::error("tokens: token " + std::to_string(token) + " at [" +
                           std::to_string(i / t) + ", " +
                           std::to_string(i % t) +
                           "] is outside the vocabulary [0, " +
                           std::to_string(plan.vocabSize) + ")");
  }
  return Status::ok();
}

Status growc::rt::checkTargets(const Plan &plan, const TensorView &tokens,
                               const TensorView &targets) {
  if (targets.dtype != DType::I32 || targets.shape != tokens.shape ||
      targets.byteSize != tokens.byteSize ||
      (targets.byteSize && !targets.data))
    return Status::error("targets must be int32 of the tokens' shape " +
                         formatShape(tokens.shape) + ", got " +
                         dtypeName(targets.dtype) + " " +
                         formatShape(targets.shape));
  const int64_t t = tokens.shape[1];
  for (int64_t i = 0; i < targets.numElements(); ++i) {
    int32_t target;
    std::memcpy(&target, targets.data + i * 4, 4);
    if (target != kIgnoreIndex && (target < 0 || target >= plan.vocabSize))
      return Status::error("targets: target " + std::to_string(target) +
                           " at [" + std::to_string(i / t) + ", " +
                           std::to_string(i % t) +
                           "] is neither in the vocabulary [0, " +
                           std::to_string(plan.vocabSize) + ") nor " +
                           std::to_string(kIgnoreIndex) + " (ignored)");
  }
  return Status::ok();
}

Status growc::rt::stageRunInputs(
    const Plan &plan, bool paramsLoaded, const TensorView &tokens,
    const TensorView *targets, const std::map<std::string, float> &scalars,
    const std::function<uint8_t *(const PlanTensor &)> &bytesOf,
    const TensorView *split) {
  const std::string &path = plan.path;
  // The graph's interface: tokens, targets for a loss graph, the split per
  // row for a depth-score graph.
  const PlanTensor *input = plan.findInput("tokens");
  const PlanTensor *targetInput = plan.findInput("targets");
  const PlanTensor *splitInput = plan.findInput("split");
  const std::vector<int64_t> compiledShape = {plan.batch, plan.seq};
  auto isTokenTensor = [&](const PlanTensor *tensor) {
    return tensor && tensor->dtype == DType::I32 &&
           tensor->shape == compiledShape;
  };
  // Any other input is a scalar (a training step's lr and step).
  std::vector<const PlanTensor *> scalarInputs;
  bool scalarsOk = true;
  for (const PlanTensor &other : plan.inputs)
    if (&other != input && &other != targetInput && &other != splitInput) {
      scalarInputs.push_back(&other);
      scalarsOk = scalarsOk && other.dtype == DType::F32 &&
                  other.shape == std::vector<int64_t>{1};
    }
  if (!scalarsOk || !isTokenTensor(input) ||
      (targetInput && !isTokenTensor(targetInput)))
    return Status::error(
        path +
        ": a run needs a plan whose inputs are 'tokens' and, for a loss "
        "graph, 'targets' (I32 " +
        formatShape(compiledShape) + "); this " + plan.graph + " graph has " +
        std::to_string(plan.inputs.size()) + " input(s)" +
        (plan.inputs.empty() ? std::string()
                             : ", the first " + inQuotes(plan.inputs[0].name) +
                                   " " + dtypeName(plan.inputs[0].dtype) + " " +
                                   formatShape(plan.inputs[0].shape)));
  if (targetInput && !targets)
    return Status::error(path + ": the " + plan.graph +
                         " graph needs targets as well as tokens");
  if (!targetInput && targets)
    return Status::error(path + ": the " + plan.graph +
                         " graph takes no targets");
  for (const PlanTensor *scalar : scalarInputs)
    if (!scalars.count(scalar->name))
      return Status::error(path + ": the " + plan.graph +
                           " graph needs the scalar " + inQuotes(scalar->name));
  if (splitInput && (splitInput->dtype != DType::I32 ||
                     splitInput->shape != std::vector<int64_t>{plan.batch}))
    return Status::error(path + ": input 'split' is " +
                         dtypeName(splitInput->dtype) + " " +
                         formatShape(splitInput->shape) + ", not I32 [" +
                         std::to_string(plan.batch) + "]");
  if (splitInput && !split)
    return Status::error(path + ": the " + plan.graph +
                         " graph needs 'split', a split position per row "
                         "(a depth-score graph of growc --analysis-suite)");
  if (!splitInput && split)
    return Status::error(path + ": the " + plan.graph +
                         " graph takes no 'split' input");
  for (const auto &[name, value] : scalars)
    if (!plan.findInput(name) || name == "tokens" || name == "targets" ||
        name == "split")
      return Status::error(path + ": the " + plan.graph +
                           " graph has no scalar input " + inQuotes(name));
  for (const PlanTensor &output : plan.outputs)
    if (output.dtype != DType::F32)
      return Status::error(path + ": output " + inQuotes(output.name) + " is " +
                           dtypeName(output.dtype) +
                           "; forward runs return F32 outputs only");
  if (!paramsLoaded)
    return Status::error(path +
                         ": parameters have not been loaded (loadParams)");

  if (Status status = checkTokens(plan, tokens); !status.isOk())
    return status;
  if (targets)
    if (Status status = checkTargets(plan, tokens, *targets); !status.isOk())
      return status;
  const int64_t b = tokens.shape[0], t = tokens.shape[1];
  if (split) {
    if (split->dtype != DType::I32 || split->shape != std::vector<int64_t>{b})
      return Status::error(
          path + ": 'split' must be I32 [" + std::to_string(b) +
          "] (one per row of the tokens), "
          "got " +
          dtypeName(split->dtype) + " " + formatShape(split->shape));
    auto *out = reinterpret_cast<int32_t *>(bytesOf(*splitInput));
    std::fill_n(out, plan.batch, 0);
    for (int64_t i = 0; i < b; ++i) {
      int32_t value;
      std::memcpy(&value, split->data + i * 4, 4);
      if (value < 0 || value > plan.seq)
        return Status::error(path + ": 'split' of row " + std::to_string(i) +
                             " is " + std::to_string(value) + ", outside [0, " +
                             std::to_string(plan.seq) + "] (the compiled seq)");
      out[i] = value;
    }
  }

  // Pad into the [batch, seq] input: token 0 outside the top-left block,
  // and targets there ignored, so padding never enters a loss.
  uint8_t *in = bytesOf(*input);
  std::memset(in, 0, static_cast<size_t>(input->byteSize));
  for (int64_t i = 0; i < b; ++i)
    std::memcpy(in + i * plan.seq * 4, tokens.data + i * t * 4,
                static_cast<size_t>(t) * 4);
  for (const PlanTensor *scalar : scalarInputs) {
    float value = scalars.at(scalar->name);
    std::memcpy(bytesOf(*scalar), &value, sizeof value);
  }
  if (targets) {
    auto *out = reinterpret_cast<int32_t *>(bytesOf(*targetInput));
    std::fill_n(out, plan.batch * plan.seq, kIgnoreIndex);
    for (int64_t i = 0; i < b; ++i)
      std::memcpy(out + i * plan.seq, targets->data + i * t * 4,
                  static_cast<size_t>(t) * 4);
  }
  return Status::ok();
}

StatusOr<std::map<std::string, OutputTensor>> growc::rt::collectRunOutputs(
    const Plan &plan, const TensorView &tokens, const TensorView *targets,
    const std::function<const float *(const PlanTensor &)> &dataOf,
    const std::function<bool(const PlanTensor &)> &include) {
  const std::string &path = plan.path;
  const int64_t b = tokens.shape[0], t = tokens.shape[1];
  // The top-left [b, t, ...] block of each output. Rows are independent
  // and attention is causal, so it does not depend on the padding.
  std::map<std::string, OutputTensor> results;
  for (const PlanTensor &output : plan.outputs) {
    if (include && !include(output))
      continue;
    const float *data = dataOf(output);
    OutputTensor result;
    bool sliceable = output.shape.size() >= 2 &&
                     output.shape[0] == plan.batch &&
                     output.shape[1] == plan.seq;
    if (!sliceable) {
      // Not laid out per token: only meaningful for the full shape, or a
      // reduction over positions whose padding is ignored (the loss).
      if ((b != plan.batch || t != plan.seq) && !targets)
        return Status::error(path + ": output " + inQuotes(output.name) +
                             " of shape " + formatShape(output.shape) +
                             " is not [batch, seq, ...], so it " +
                             "cannot be cut down to tokens of shape " +
                             formatShape(tokens.shape));
      result.shape = output.shape;
      result.data = data;
      result.numElements = output.numElements;
    } else if (b == plan.batch && t == plan.seq) {
      result.shape = output.shape;
      result.data = data;
      result.numElements = output.numElements;
    } else {
      // Elements per token; the plan verified the product fits.
      int64_t inner = 1;
      for (size_t d = 2; d < output.shape.size(); ++d)
        inner *= output.shape[d];
      result.shape = output.shape;
      result.shape[0] = b;
      result.shape[1] = t;
      result.sliced.resize(static_cast<size_t>(b * t * inner));
      for (int64_t i = 0; i < b; ++i)
        std::copy_n(data + i * plan.seq * inner, t * inner,
                    result.sliced.data() + i * t * inner);
      result.data = result.sliced.data();
      result.numElements = b * t * inner;
    }
    results.emplace(output.name, std::move(result));
  }
  return results;
}

std::vector<NextValue> growc::rt::planNextValues(const Plan &plan) {
  std::vector<NextValue> next;
  for (const PlanTensor &output : plan.outputs)
    if (const PlanParam *param = plan.findParam(output.name);
        param &&
        (param->buffer != output.buffer || param->offset != output.offset))
      next.push_back({param, &output});
  return next;
}

int64_t growc::rt::adamWElementCount(const Plan &plan, const PlanStep &step) {
  const PlanBuffer &first = plan.buffers[step.adamParams.front()];
  const PlanBuffer &last = plan.buffers[step.adamParams.back()];
  return (last.offset + last.size - first.offset) / 4;
}
