//===- Passes.td - lowering from the model level ------------*- tablegen -*-===//
//
// From the grow dialect down to tensor-level IR (linalg / tensor / arith /
// math / scf, with GEMMs as growk library calls), and the reference lowering
// of those library calls to linalg used by the JIT-based numerical tests.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_LOWERING_PASSES_TD
#define GROWC_PASSES_LOWERING_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerModelToTensors : Pass<"growc-lower-model-to-tensors", "::mlir::ModuleOp"> {
  let summary = "Lower each grow.model to a tensor-level forward function";
  let description = [{
    Replaces `grow.model @m` by `func.func @m(%tokens: tensor<BxTxi32>,
    %params...) -> (named outputs)` for compiled batch B and sequence T.
    Activations are `[B·T, features]` matrices; projections are
    `growk.matmul` library calls; RMSNorm, RoPE, SwiGLU and residual adds are
    `linalg.generic`s; attention (causal, grouped KV heads) is one
    `growk.attention` op, expanded per target later.
    The function records `growc.param_names`, `growc.output_names`,
    `growc.batch` and `growc.seq`. With `graph=loss` it also takes
    `targets` (int32 [B, T], -100 = ignored) after `tokens` and returns
    only `loss` ([1]): the mean cross-entropy of the logits over the
    positions whose target is not ignored (computed from each row's max and
    log-sum-exp, as PyTorch does). The loss, grad and train graphs take
    the token rows in blocks of `loss-rows` (the last possibly smaller), so
    that the full `[B·T, V]` logits need not exist: per block, one GEMM
    computes its logits and one kernel each row's max, sum of exponentials,
    target logit and nll and (grad) the logit gradient; the grad graph's
    two GEMMs then write the block's rows of the normed input's gradient
    and add its share of the head-weight gradient (`beta = 1` after the
    first block), so no logit is computed twice. One kernel sums every
    block's nll into the mean. By default the batch is one block when its
    fp32 logits fit in 256 MiB, else the fewest blocks of at most 256 MiB
    of logits, each a multiple of 64 rows. The forward graph returns the
    full logits.

    `graph=grad` and `graph=train` are the forward followed by the stages
    of passes/Training: this pass lowers the forward, then runs
    `growc-differentiate-model` (and for train
    `growc-append-optimizer-step{accumulate}`) on the module. With
    `forward-only` it stops after the forward, as the training-graph
    pipeline asks, leaving the grad function's forward, the values the
    reverse pass reads in a `growk.forward_tape` standing for its outputs,
    and the model renamed `@<name>.model`:

    ```mlir
    // graph=grad forward-only
    grow.model @m.model attributes {config = ...} { ... }
    func.func @m(%tokens: tensor<1x4xi32>, %targets: tensor<1x4xi32>,
                 %embed: tensor<16x8xf32>, ...)
        -> (tensor<1xf32>, tensor<16x8xf32>, ...)
        attributes {growc.graph = "grad", growc.output_names = ["loss",
                    "grad.model.embed_tokens.weight", ...], ...} {
      ...                                   // the forward
      %loss, %grads:N = growk.forward_tape @m.model(%cos, %sin, %h0, ...)
          {positions = array<i64: ...>, slots = array<i64: ...>, ...}
      return %loss, %grads#0, ...
    }
    ```
  }];
  let dependentDialects = [
    "::growc::growk::GrowKDialect", "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"];
  let options = [
    Option<"batch", "batch", "int64_t", /*default=*/"1",
           "Compiled batch size B">,
    Option<"seq", "seq", "int64_t", /*default=*/"256",
           "Compiled sequence length T">,
    Option<"keyBlock", "key-block", "int64_t", /*default=*/"64",
           "Queries and keys per attention tile (recorded on growk.attention)">,
    Option<"graph", "graph", "std::string", /*default=*/"\"forward\"",
           "forward (the model's outputs), loss (a targets input and the "
           "mean cross-entropy as the only output), grad (the loss and "
           "the gradient of every parameter) or train (one optimizer step)">,
    Option<"lossRows", "loss-rows", "int64_t", /*default=*/"0",
           "Token rows per cross-entropy block in the loss, grad and train "
           "graphs; 0 (automatic): the whole batch when its fp32 logits "
           "[B·T, V] fit in 256 MiB, else the fewest blocks of at most "
           "256 MiB of logits, each a multiple of 64 rows when 64 fit">,
    Option<"accumulate", "accumulate", "int64_t", /*default=*/"1",
           "Train graph: micro-batches per optimizer step. Above 1 the step "
           "also takes an 'apply' flag [1] and the running gradient sums "
           "'optimizer.grad_sum.<name>' (returned like the parameters); "
           "each run adds its gradient / N, and a run with apply = 1 clips "
           "and applies the sum and resets it">,
    Option<"forwardOnly", "forward-only", "bool", /*default=*/"false",
           "Grad and train graphs: stop after the forward and its "
           "growk.forward_tape, for growc-differentiate-model (and "
           "growc-append-optimizer-step) to run as passes of their own">,
    Option<"fuseProjections", "fuse-projections", "bool", /*default=*/"true",
           "Compute each layer's q|k|v and gate|up projections as one GEMM "
           "each, over the weights' rows concatenated (a view: the plan "
           "places those parameters back to back in one buffer), and their "
           "gradients likewise. Off with accumulate > 1 (the accumulation "
           "kernels read each parameter's gradient sum whole)">,
  ];
}

def ExpandAttention : Pass<"growc-expand-attention", "::mlir::ModuleOp"> {
  let summary = "Expand growk.attention into the tiled CPU form";
  let description = [{
    Replaces each `growk.attention` (on tensors) by flash-style tensor
    loops: an `scf.forall` over query tiles of `key_block` rows and, inside
    it, an `scf.for` over the key tiles up to the diagonal carrying the
    running max, sum and output (online softmax), every step a
    `linalg.generic` over a `[B, H, tile, tile]` block. The `T x T` score
    matrix never exists and masked tiles are never computed. Each
    `growk.attention_grad` becomes the flash-style backward: an
    `scf.forall` over (sample, KV head), per query tile a pass over the
    key tiles up to the diagonal for the rows' log-sum-exp and a second
    one accumulating dQ, dK and dV from recomputed scores. The GPU target
    does not run this pass: its kernel distribution has its own forms.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"];
}

def AttentionToGemms : Pass<"growc-attention-to-gemms", "::mlir::ModuleOp"> {
  let summary = "Attention as per-(sample, KV head) GEMMs and row kernels "
                "(the GPU's --gpu-attention=gemm)";
  let description = [{
    Replaces each `growk.attention` by head-major copies of q, k and v
    (kernels of their own), one `growk.matmul` per (sample, KV head) for
    the scores `S = Q·Kᵀ` (the group's query heads are consecutive rows),
    the causal softmax of `S·scale` as a row computation, one GEMM per
    block for `O = P·V`, and the copy back to token-major. Each
    `growk.attention_grad` recomputes `S` and `P` and adds `dP = dO·Vᵀ`,
    `dS = P∘(dP − rowsum(dO∘O))·scale`, `dV = Pᵀ·dO`, `dQ = dS·K` and
    `dK = dSᵀ·Q`, again per block. The score tensors are `[B·H·T, T]`:
    tensor-core GEMMs for twice the flash form's products and T² memory.
    Runs before `growc-form-kernels`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::tensor::TensorDialect"];
}

def AttentionToTensorCores
    : Pass<"growc-attention-to-tensor-cores", "::mlir::ModuleOp"> {
  let summary = "Forward attention as the tensor-core FlashAttention kernel "
                "(the GPU's --gpu-attention=mma)";
  let description = [{
    Marks each `growk.attention` with f32 operands and a head size that the
    kernel library has an instance for (16, 32 or 64) with
    `growc.library_kernel = "growc_flash_forward_hd<hd>_f32_f32"`
    (include/growc/Codegen/FlashAttentionKernels.h; in bf16 graphs
    `growc-demote-activations` renames it to the bf16 instance):
    `growc-form-kernels` then leaves it on the host like a GEMM, the plan
    gets an `attention` step that the runtime launches, and the artifact's
    PTX carries the kernel (lib/Codegen/Kernels/FlashAttention.cu:
    FlashAttention-2 on mma.sync, docs/gpu.md). Other attentions keep the
    distributed flash form, with a warning. Each qualifying
    `growk.attention_grad` whose forward is the library's gets
    `"growc_flash_backward_hd<hd>_f32"`, and its forward writes its rows'
    log-sum-exps (`lse_init`, a second result) that the gradient reads
    (`lse`): the plan's `attention_grad` step runs the library's two
    backward passes (rowsum(dO o O) per query row, then dK, dV and dQ per
    key tile). Runs before `growc-form-kernels`.

    With `rope-on-load` (the bf16 GPU pipeline: the library's RoPE
    instances read bf16), a library attention (and gradient) whose q and k
    are RoPE of column blocks of one matrix (the fused QKV projection's
    output, as the model lowering's `rope` builds them) and whose v is a
    copy of a third block reads that matrix itself: `columns` name the
    blocks, `rope(%cos, %sin)` the tables, the kernel
    `growc_flash_forward_rope_hd<hd>_f32_f32` (renamed to bf16 by
    `growc-demote-activations`) rotates q and k as it loads them, and the
    RoPE kernel and the copies disappear when nothing else reads them.
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
  let options = [
    Option<"warnUnsupported", "warn-unsupported", "bool", /*default=*/"true",
           "Warn about attentions without a library kernel (off when the "
           "tensor-core form is the default rather than asked for)">,
    Option<"ropeOnLoad", "rope-on-load", "bool", /*default=*/"false",
           "Fold RoPE of q and k and the copy of v from one projection's "
           "output into the library kernels (bf16 graphs only)">
  ];
}

def LowerLibraryCallsToLinalg
    : Pass<"growc-lower-library-calls-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Turn growk library calls into linalg (reference lowering)";
  let description = [{
    `growk.matmul %a, %b` becomes a `linalg.generic` computing `A · Bᵀ`.
    Used where no GEMM library is linked: the JIT-based numerical tests.
    With `library-call`, the contraction is instead marked
    `library_call = "growc_gemm_abt"` and initialised with `tensor.empty`:
    it still bufferizes like any linalg op, and the plan emitter turns it
    back into a GEMM library call that overwrites its output.
    Without `library-call`, `growk.all_reduce` (data parallelism) becomes
    the identity, what it is in one process; with it, it stays for the
    plan emitter.
  }];
  let options = [
    Option<"libraryCall", "library-call", "bool", /*default=*/"false",
           "Mark the contractions as GEMM library calls for the plan">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

def VectorizeContractions
    : Pass<"growc-vectorize-contractions", "::mlir::ModuleOp"> {
  let summary = "Register-accumulating vector loops for row contractions "
                "(CPU kernels)";
  let description = [{
    On bufferized CPU kernels: each `linalg.generic` computing
    `out[..., n] += a[...] * b[..., n]` (body mul + add; `n` the
    output's innermost, parallel and unit-stride dimension, also `b`'s
    innermost and absent from `a`) becomes scf loops over the other
    parallel dimensions, a vector of up to 64 `n` values loaded once,
    the reduction loops innermost with the vector as a loop-carried value
    (`vector.fma` of a broadcast `a` and a row of `b`), and one store.
    The loops LLVM would otherwise see keep the accumulator in memory
    (load, add, store to the same row every step: a store-to-load chain)
    or, with a short `n`, unroll it and vectorise across rows with
    gathers. Each output element is summed in the same order as before.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"];
}

#endif // GROWC_PASSES_LOWERING_PASSES_TD
