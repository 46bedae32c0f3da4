//===- OptimizerOps.h - the optimizer step's tensor-level pieces -*- C++
//-*-===//
//
// What growc-append-optimizer-step builds around its growk.adamw: gradient
// accumulation over micro-batches, as kernels whose shapes depend only on a
// parameter's shape (a deeper model, a growth stage, needs no new kernel),
// the loss's non-finite flag, and the AdamW and clipping defaults.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_TRAINING_OPTIMIZEROPS_H
#define GROWC_PASSES_TRAINING_OPTIMIZEROPS_H

#include "passes/Lowering/TensorBuilder.h"

namespace growc {

/// AdamW and clipping defaults of SPEC.md §3 (torch.optim.AdamW with
/// betas (0.9, 0.95), clip_grad_norm_ at 1.0).
constexpr double kAdamBeta1 = 0.9, kAdamBeta2 = 0.95, kAdamEps = 1e-8,
                 kAdamWeightDecay = 0.01, kDefaultMaxGradNorm = 1.0;

class OptimizerBuilder : public TensorBuilder {
public:
  using TensorBuilder::TensorBuilder;

  /// 1 where the [1] `scalar` is NaN or ±Inf, else 0 ([1]).
  Value nonfinite(Value scalar);
  /// Gradient accumulation: sum + grad / microBatches (growk.adamw
  /// resets the sum after an applied step).
  Value accumulateGrad(Value sum, Value grad, int64_t microBatches);
};

} // namespace growc

#endif // GROWC_PASSES_TRAINING_OPTIMIZEROPS_H
