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
    `linalg.generic`s; attention is causal with grouped KV heads and
    flash-style: an `scf.for` over query tiles, and inside it one over the
    key tiles up to the diagonal carrying the running max, sum and output
    (online softmax), so the `T x T` score matrix never exists and masked
    tiles are never computed.
    The function records `growc.param_names`, `growc.output_names`,
    `growc.batch` and `growc.seq`.
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
           "Queries and keys per attention tile (flash-style tiling)">,
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
