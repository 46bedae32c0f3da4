//===- Passes.td - kernel formation and fusion -------------*- tablegen -*-===//
//
// Passes that decide what becomes one generated kernel.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_FUSION_PASSES_TD
#define GROWC_PASSES_FUSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def FormKernels : Pass<"growc-form-kernels", "::mlir::ModuleOp"> {
  let summary = "Group the work between library calls into deduplicated kernels";
  let description = [{
    In each forward function (one with `growc.param_names`), every maximal
    run of ops between host steps (`growk.matmul`, `growk.all_reduce`,
    library attention: `HostStepOpInterface`), calls of kernels formed
    before and the return that does real work becomes one kernel: a
    `func.func` marked `growc.kernel`, called from the host function
    (outlined by passes/Fusion/KernelOutlining.h) and named after what it
    computes and its index (`rmsnorm_3`, `swiglu_4`: KernelNames.cpp). A Llama layer so becomes four fused
    kernels — RMSNorm (with the residual add before it), RoPE + attention,
    SwiGLU — around its seven GEMMs. Constants and `tensor.empty` used by a
    kernel are cloned into it rather than passed. Kernels whose bodies are
    structurally equal are one kernel, so depth adds calls, not kernels.

    Before:
    ```mlir
    %a = growk.matmul ...
    %s = linalg.generic {...} ins(%h, %a ...)   // residual add
    %n = linalg.generic {...} ins(%s ...)       // RMSNorm
    %b = growk.matmul %n, ...
    ```
    After:
    ```mlir
    %a = growk.matmul ...
    %s, %n = call @rmsnorm_1(%h, %a, %w) : (...) -> (...)
    %b = growk.matmul %n, ...
    ```
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def DemoteActivations : Pass<"growc-demote-activations", "::mlir::ModuleOp"> {
  let summary = "Store what the GEMMs read and write as bf16 (mixed precision)";
  let description = [{
    Runs after `growc-form-kernels` on the tensor-level host function. With
    `precision=bf16`, every GEMM operand becomes bf16 and every GEMM result
    and kernel result read only by kernels and GEMMs is stored as bf16:
    kernels keep computing in f32 (a variant of a kernel widens its bf16
    arguments with `arith.extf` and rounds its bf16 results with
    `arith.truncf`), GEMMs accumulate in f32. The f32 master weights are
    read from bf16 copies, host arguments appended after all others
    (`growc.param_bf16_copies`: each one's parameter index) that the
    runtime keeps equal to the rounded weights; in a train graph every
    trained parameter gets one and growk.adamw writes them
    (`bf16_params`). The kernel library's attention
    (`growc-attention-to-tensor-cores`) counts as a tensor-core reader
    too: its q, k, v (and o, dout in the gradient) become bf16, its
    output bf16 when every reader takes bf16, and its marker names the
    instance for those types. Other f32 operands with no bf16 producer
    are copied to bf16 by cast kernels (`cast_bf16_<n>`) before their
    first reader. Values
    passed only between kernels (the residual stream), a GEMM's
    accumulator and the graph's outputs stay f32. `precision=fp32` changes
    nothing.

    Before:
    ```mlir
    %n = call @rmsnorm_1(%h, %w0) : (...) -> tensor<8x64xf32>
    %q = growk.matmul %n, %wq transpose_rhs : ... -> tensor<8x64xf32>
    %r = call @rope_2(%q, ...)
    ```
    After:
    ```mlir
    // %wq16: tensor<64x64xbf16>, an argument appended to the host
    %n = call @rmsnorm_1_bf16_0(%h, %w0) : (...) -> tensor<8x64xbf16>
    %q = growk.matmul %n, %wq16 transpose_rhs : ... -> tensor<8x64xbf16>
    %r = call @rope_2_bf16_1(%q, ...)
    ```
  }];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"bf16\"",
           "bf16 (demote) or fp32 (leave everything f32)">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def OutlineElementwise : Pass<"growc-outline-elementwise", "::mlir::ModuleOp"> {
  let summary = "Give the elementwise ops of one kind kernels of their own";
  let description = [{
    Opt-in (not in any growc pipeline), and the worked example of
    docs/fusion.md: in each host function (one with `growc.param_names`),
    every elementwise `linalg.generic` (all loops parallel) whose body
    holds an op named `body-op` becomes a kernel of its own, outlined and
    deduplicated by passes/Fusion/KernelOutlining.h. Run before
    `growc-form-kernels`, which keeps the calls as boundaries and fuses
    the rest around them. Useful to see one kind of op as launches of its
    own in a profile, or to try a hand-written kernel for it.

    Before (`body-op=math.exp`):
    ```mlir
    %e = linalg.generic {... ["parallel", "parallel"]} ins(%g ...) {
      math.exp ...
    }
    %s = linalg.generic {...} ins(%e, %u ...)
    ```
    After:
    ```mlir
    %e = call @swiglu_0(%g) : (tensor<8x64xf32>) -> tensor<8x64xf32>
    %s = linalg.generic {...} ins(%e, %u ...)
    ```
  }];
  let options = [
    Option<"bodyOp", "body-op", "std::string", /*default=*/"\"math.exp\"",
           "The op (by name) whose elementwise generics get kernels of "
           "their own">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

#endif // GROWC_PASSES_FUSION_PASSES_TD
