//===- OptimizerOps.h - the optimizer step's tensor-level pieces -*- C++
//-*-===//
//
// What growc-append-optimizer-step builds a train step from: gradient
// accumulation over micro-batches, the global-norm clip coefficient and one
// AdamW update, as kernels whose shapes depend only on a parameter's shape
// (a deeper model, a growth stage, needs no new kernel).
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_TRAINING_OPTIMIZEROPS_H
#define GROWC_PASSES_TRAINING_OPTIMIZEROPS_H

#include "passes/Lowering/TensorBuilder.h"

#include <tuple>
#include <utility>

namespace growc {

/// AdamW and clipping defaults of SPEC.md §3 (torch.optim.AdamW with
/// betas (0.9, 0.95), clip_grad_norm_ at 1.0).
constexpr double kAdamBeta1 = 0.9, kAdamBeta2 = 0.95, kAdamEps = 1e-8,
                 kAdamWeightDecay = 0.01, kDefaultMaxGradNorm = 1.0;

class OptimizerBuilder : public TensorBuilder {
public:
  using TensorBuilder::TensorBuilder;

  /// ‖grads‖₂² [1]: a kernel per gradient and a running total.
  Value squaredNorm(ArrayRef<Value> grads);
  /// √squaredNorm [1]: the global gradient norm before clipping, what
  /// torch's clip_grad_norm_ returns (NaN or Inf where the gradient is).
  Value globalNorm(Value squaredNorm);
  /// min(1, maxNorm / (norm + 1e-6)) [1], as torch's clip_grad_norm_.
  Value clipCoefficient(Value norm, double maxNorm);
  /// 1 where the [1] `scalar` is NaN or ±Inf, else 0 ([1]).
  Value nonfinite(Value scalar);
  /// The step's `nonfinite` flag (1 where the squared gradient norm is
  /// NaN/Inf or `lossNonfinite` > 0.5) and the flag AdamW applies by: 1
  /// where `apply` is set (no `apply`: every step) and the step is finite,
  /// so that a bad step leaves parameters and moments as they were.
  std::pair<Value, Value> skipNonfinite(Value squaredNorm, Value lossNonfinite,
                                        Value apply);
  /// One AdamW step (torch.optim.AdamW: decoupled weight decay, bias
  /// correction from `step`, 1-based) with gradient `grad · coef`: the new
  /// parameter and moments.
  /// With `apply` (a [1] flag: the applying micro-batch of gradient
  /// accumulation, and a finite step), each result is the updated value
  /// where apply > 0.5 and the old one otherwise (a select).
  std::tuple<Value, Value, Value> adamW(Value param, Value avg, Value avgSq,
                                        Value grad, Value coef, Value lr,
                                        Value step, Value apply = Value());
  /// Gradient accumulation: sum + grad / microBatches, and the sum carried
  /// to the next micro-batch (zero after an applied step).
  std::pair<Value, Value> accumulateGrad(Value sum, Value grad,
                                         int64_t microBatches, Value apply);

private:
  /// The maps of an elementwise generic over a tensor of `type`: each
  /// element (the identity), and element 0 of a [1] scalar operand.
  std::pair<AffineMap, AffineMap> elementMaps(mlir::RankedTensorType type);
};

} // namespace growc

#endif // GROWC_PASSES_TRAINING_OPTIMIZEROPS_H
