//===- RunInterface.h - a run's inputs and outputs, on any device -*- C++
//-*-===//
//
// What every executor (CPU, CUDA) does the same way around the steps: check
// a run's tokens, targets and scalars against the plan's interface, stage
// them into the input buffers padded to the compiled [batch, seq] shape,
// and cut each output back to the tokens' [b, t, ...] block.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_RUNINTERFACE_H
#define GROWC_RUNTIME_RUNINTERFACE_H

#include "growc/runtime/Plan.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Status.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace growc::rt {

/// The target that contributes nothing to a loss (PyTorch's default).
inline constexpr int32_t kIgnoreIndex = -100;

/// One output of a run: the top-left [b, t, ...] block of a plan output, as
/// float32, row-major. When that block is the whole output (tokens of the
/// compiled shape, the benchmark case) `data` points into the executor's
/// memory, valid until its next run or its destruction: a 200 MB logits
/// tensor is not copied. Otherwise the rows are copied into `sliced` and
/// `data` points there.
struct OutputTensor {
  std::vector<int64_t> shape;
  const float *data = nullptr;
  int64_t numElements = 0;
  std::vector<float> sliced;

  std::vector<float> toVector() const {
    return std::vector<float>(data, data + numElements);
  }
};

/// int32 [b, t] with b <= batch, t <= seq, every token in the vocabulary.
/// Messages start with "tokens".
Status checkTokens(const Plan &plan, const TensorView &tokens);
/// int32 of the tokens' shape, each in the vocabulary or kIgnoreIndex.
Status checkTargets(const Plan &plan, const TensorView &tokens,
                    const TensorView &targets);

/// Checks a run against the plan's interface (inputs `tokens`, `targets`
/// for loss graphs, F32 [1] scalars by name; F32 outputs; parameters
/// loaded) and writes the inputs, padded with token 0 and ignored targets,
/// into the host bytes `bytesOf(input)` of each input's buffer. A graph
/// with an input `split` (the depth score's per-row split, I32 [batch])
/// needs `split`: I32 [b] for tokens [b, t], each in [0, seq]; padding rows
/// get split 0.
Status
stageRunInputs(const Plan &plan, bool paramsLoaded, const TensorView &tokens,
               const TensorView *targets,
               const std::map<std::string, float> &scalars,
               const std::function<uint8_t *(const PlanTensor &)> &bytesOf,
               const TensorView *split = nullptr);

/// Each output's [b, t, ...] block from the host data `dataOf(output)` of
/// its buffer (zero-copy when the tokens have the compiled shape); only the
/// outputs `include` accepts, when it is given.
StatusOr<std::map<std::string, OutputTensor>> collectRunOutputs(
    const Plan &plan, const TensorView &tokens, const TensorView *targets,
    const std::function<const float *(const PlanTensor &)> &dataOf,
    const std::function<bool(const PlanTensor &)> &include = nullptr);

/// A train graph's next value that lives apart from its parameter: an
/// output named like a parameter (its value after the step) in bytes of
/// its own, which a committing run copies into the parameter once every
/// step has read the old one.
struct NextValue {
  const PlanParam *param = nullptr;
  const PlanTensor *output = nullptr;
};

/// `plan`'s next values that need that copy, in output order: those not at
/// the parameter's bytes (another buffer, or another offset in it). A plan with
/// the adamw step updates the parameters and their state in place, and its next
/// values are the parameters' bytes, so it lists none; older plans list
/// every one. The executors copy exactly these on each committing run (the CUDA
/// executor as device-to-device copies outside the plan's steps but inside its
/// graph), and the cost model (CostModel.h) counts its copies from this
/// list, so that the two cannot disagree.
std::vector<NextValue> planNextValues(const Plan &plan);

/// The floats an adamw step of `plan` runs over: its regions' common
/// length, (D_last + size_last) / 4 (docs/plan.md), gaps included.
int64_t adamWElementCount(const Plan &plan, const PlanStep &step);

} // namespace growc::rt

#endif // GROWC_RUNTIME_RUNINTERFACE_H
