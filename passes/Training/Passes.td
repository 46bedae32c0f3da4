//===- Passes.td - the training stages ------------------*- tablegen -*-===//
//
// From a model's lowered forward to a training step: the reverse pass over
// the grow ops' VJP rules (the grad graph), then the optimizer step appended
// to it (the train graph). growc-lower-model-to-tensors builds the forward
// and its tape; lib/Pipelines/TrainingGraphPipeline.cpp runs the three in a
// row.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_TRAINING_PASSES_TD
#define GROWC_PASSES_TRAINING_PASSES_TD

include "mlir/Pass/PassBase.td"

def FreezeParameters
    : Pass<"growc-freeze-parameters", "::mlir::ModuleOp"> {
  let summary = "Mark the parameters a train graph does not update 'frozen'";
  let description = [{
    Training only part of a model, as LLaMA Pro trains only the blocks that
    block expansion inserted: every `grow.param` that `trainable` does not
    select gets `frozen`, every selected one loses it, so that the SPEC
    alone says what trains. The lowering then gives a frozen parameter no
    gradient (its weight-gradient GEMMs, and the backward of layers below
    the lowest trainable parameter, are never built or are dead), and the
    optimizer step no moments and no AdamW update; the parameter stays an
    input of the train graph.

    SPEC (growc/runtime/Trainable.h, shared with `growc-run train
    --trainable`): `all` (nothing frozen), `inserted` (the parameters with
    `copy` provenance: what growth inserted; an error without provenance),
    or a comma list of layer indices `N`, half-open layer ranges `A:B` and
    `embed`, `norm`, `lm_head` (an untied head; a tied head is the
    embedding). A malformed item, a layer the model lacks or a SPEC that
    selects nothing is an error naming it.

    ```mlir
    // --growc-freeze-parameters=trainable=1,norm
    grow.param @"model.layers.0.mlp.up_proj.weight" : tensor<128x64xf32> frozen
    grow.param @"model.layers.1.mlp.up_proj.weight" : tensor<128x64xf32> copy from "model.layers.0.mlp.up_proj.weight"
    grow.param @"model.norm.weight" : tensor<64xf32>
    grow.param @"model.embed_tokens.weight" : tensor<256x64xf32> frozen
    ```
  }];
  let options = [
    Option<"trainable", "trainable", "std::string", /*default=*/"\"all\"",
           "What trains: all, inserted, or a comma list of layers N, "
           "ranges A:B (half-open), embed, norm, lm_head">,
  ];
}

def DifferentiateModel
    : Pass<"growc-differentiate-model", "::mlir::ModuleOp"> {
  let summary = "Build a grad graph's backward from the grow ops' VJP rules";
  let description = [{
    Input: what `growc-lower-model-to-tensors{graph=grad forward-only}`
    leaves, a function whose forward ends in a `growk.forward_tape` and the
    `grow.model` it was lowered from, renamed `@<name>.model`. The tape
    records the forward tensor of each model value and each op's tape
    (`grow::LayerTape`, the rotary tables); its results stand for the
    function's outputs: the loss, then one gradient per parameter in
    `growc.param_names` order.

    Walks the model's ops last to first; each op reached by a cotangent (or
    the loss head, the seed) builds its VJP (`grow::VjpOpInterface`,
    dialects/Grow/GrowVjp.cpp) at the tape, from the tensor-level rules of
    passes/Lowering/TensorOps.h. Cotangents of a value used twice, and the
    gradients of a parameter used twice (the tied embedding), are summed.
    The loss head's rule computes the mean cross-entropy with its gradient,
    chunk by chunk. The built loss and gradients replace the tape's
    results; the tape and the model are erased.

    ```mlir
    // before
    grow.model @m.model attributes {config = ...} { ... }
    func.func @m(%tokens, %targets, %embed: tensor<16x8xf32>, ...)
        -> (tensor<1xf32>, tensor<16x8xf32>, ...) {
      %h = linalg.generic ...              // the forward
      %loss, %g:N = growk.forward_tape @m.model(%cos, %sin, %h, ...) {...}
      return %loss, %g#0, ...
    }
    // after
    func.func @m(...) {
      %h = linalg.generic ...              // the forward, unchanged
      ...                                  // cross-entropy and its gradient
      %dtable = scf.forall ...             // ... down to the embedding's
      return %loss, %dtable, ...
    }
    ```
  }];
  let dependentDialects = [
    "::growc::growk::GrowKDialect", "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect"];
  let options = [
    Option<"normGradColumnSum", "norm-grad-column-sum", "bool",
           /*default=*/"false",
           "RMSNorm weight gradients as a reduction over the rows in the dx "
           "kernel (the GPU's), not a [1, rows] x [rows, D] GEMM">,
    Option<"atomicEmbedGrad", "atomic-embedding-grad", "bool",
           /*default=*/"false",
           "The embedding gradient by blocks of tokens adding rows with "
           "float atomics, into the tied LM head's weight gradient where "
           "there is one (GPU kernels), not by vocabulary ranges">,
  ];
}

def AppendOptimizerStep
    : Pass<"growc-append-optimizer-step", "::mlir::ModuleOp"> {
  let summary = "Turn a grad function into a training step (accumulation, "
                "all-reduce, one in-place growk.adamw)";
  let description = [{
    Rewrites each function with `growc.graph = "grad"` (inputs `tokens`,
    `targets`, the parameters; outputs `loss`, then `grad.<p>` for each
    parameter `p` of `growc.param_names`) into the train step
    (`growc.graph = "train"`, docs/training.md):

    - inputs `lr` and `step` ([1] f32, step 1-based) after `targets`, with
      `accumulate` > 1 also `apply`; after the parameters, their AdamW
      moments `optimizer.exp_avg.<p>`, `optimizer.exp_avg_sq.<p>` and with
      accumulation the running sums `optimizer.grad_sum.<p>`, named as
      checkpoints name them and recorded in `growc.param_names`;
    - with accumulation, each gradient becomes `sum + grad / accumulate`;
    - each gradient (sum) is averaged over the data-parallel ranks by a
      `growk.all_reduce` (with accumulation, only where `apply` is set),
      and the loss's NaN/Inf flag is summed over them;
    - then one `growk.adamw` over every trained parameter, in place: the
      global gradient norm (`grad_norm`, what torch's `clip_grad_norm_`
      returns, of the reduced gradients), the clip to `max-grad-norm`, a
      `nonfinite` flag (1 where the loss or the norm is NaN or Inf, which
      skips the update so that a bad step changes nothing) and AdamW
      (betas 0.9 and 0.95, eps 1e-8, weight decay 0.01; with accumulation
      only where `apply` is set, and the sums reset there);
    - outputs: the loss, `nonfinite`, `grad_norm`, the updated parameters,
      both moments and the carried sums (the step's in-place results),
      named like the inputs in `growc.output_names`.

    Parameters marked in `growc.param_frozen` (growc-freeze-parameters)
    have no gradient in the grad function and get no state, no clip term
    and no update: they stay inputs, not outputs (PyTorch's optimizer and
    `clip_grad_norm_` over the parameters with `requires_grad`).

    ```mlir
    // before
    func.func @m(%tokens, %targets, %w: tensor<8x4xf32>)
        -> (tensor<1xf32>, tensor<8x4xf32>)
        attributes {growc.graph = "grad",
                    growc.output_names = ["loss", "grad.w"], ...} {
      return %loss, %dw
    }
    // after
    func.func @m(%tokens, %targets, %lr: tensor<1xf32>, %step: tensor<1xf32>,
                 %w, %m: tensor<8x4xf32>, %v: tensor<8x4xf32>)
        -> (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<8x4xf32>,
            tensor<8x4xf32>, tensor<8x4xf32>)
        attributes {growc.graph = "train", growc.output_names = ["loss",
                    "nonfinite", "grad_norm", "w", "optimizer.exp_avg.w",
                    "optimizer.exp_avg_sq.w"]} {
      %dw2 = growk.all_reduce %dw : ...
      %lb = growk.all_reduce %lossbad {reduction = "sum"} : ...
      %w2, %m2, %v2, %norm, %bad = growk.adamw params(%w : ...)
          grads(%dw2 : ...) exp_avg(%m : ...) exp_avg_sq(%v : ...)
          lr(%lr : ...) step(%step : ...) loss_nonfinite(%lb : ...)
          outs(%n0, %b0 : ...) {beta1 = 0.9, beta2 = 0.95, ...}
      return %loss, %bad, %norm, %w2, %m2, %v2
    }
    ```
  }];
  let dependentDialects = [
    "::growc::growk::GrowKDialect", "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect"];
  let options = [
    Option<"accumulate", "accumulate", "int64_t", /*default=*/"1",
           "Micro-batches per optimizer step. Above 1 the step also takes an "
           "'apply' flag [1] and the running gradient sums "
           "'optimizer.grad_sum.<name>' (returned like the parameters); each "
           "run adds its gradient / N, and a run with apply = 1 clips and "
           "applies the sum and resets it">,
    Option<"maxGradNorm", "max-grad-norm", "double", /*default=*/"1.0",
           "The global gradient norm is clipped to this (torch's "
           "clip_grad_norm_)">,
  ];
}

#endif // GROWC_PASSES_TRAINING_PASSES_TD
