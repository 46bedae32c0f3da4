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
    run of ops between library calls (`growk.matmul`) and the return that
    does real work becomes one kernel: a `func.func` marked `growc.kernel`,
    called from the host function. A Llama layer so becomes four fused
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
    %s, %n = call @kernel1(%h, %a, %w) : (...) -> (...)
    %b = growk.matmul %n, ...
    ```
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

#endif // GROWC_PASSES_FUSION_PASSES_TD
