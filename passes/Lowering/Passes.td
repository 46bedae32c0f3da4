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
    log-sum-exp, as PyTorch does). The loss, grad and train graphs can
    compute it without the full `[B·T, V]` logits: the LM head is then
    taken `vocab-chunk` rows of its weight at a time, with a running max
    and sum of exponentials per row; the gradient recomputes each chunk's
    logits once the log-sum-exp is known (all but the last chunk, which is
    still live) and writes its rows of the head-weight gradient. By default
    the logits are chunked only when they would not fit in 256 MiB, and
    then into chunks of at most 64 MiB. The forward graph returns the full
    logits.
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
           "mean cross-entropy as the only output) or grad (the loss and "
           "the gradient of every parameter)">,
    Option<"vocabChunk", "vocab-chunk", "int64_t", /*default=*/"0",
           "Vocabulary rows of the LM head per cross-entropy chunk in the "
           "loss, grad and train graphs; 0 (automatic): the whole "
           "vocabulary when its fp32 logits [B·T, V] fit in 256 MiB, else "
           "chunks of at most 64 MiB of logits (a multiple of 64 rows when "
           "that many fit)">,
    Option<"accumulate", "accumulate", "int64_t", /*default=*/"1",
           "Train graph: micro-batches per optimizer step. Above 1 the step "
           "also takes an 'apply' flag [1] and the running gradient sums "
           "'optimizer.grad_sum.<name>' (returned like the parameters); "
           "each run adds its gradient / N, and a run with apply = 1 clips "
           "and applies the sum and resets it">,
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
    matrix never exists and masked tiles are never computed. The GPU target
    does not run this pass: its kernel distribution gives each thread one
    query row instead.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"];
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
  }];
  let options = [
    Option<"libraryCall", "library-call", "bool", /*default=*/"false",
           "Mark the contractions as GEMM library calls for the plan">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

#endif // GROWC_PASSES_LOWERING_PASSES_TD
