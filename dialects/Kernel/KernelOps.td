//===- KernelOps.td - the kernel-level growk dialect -------*- tablegen -*-===//
//
// Tensor-level ops that linalg alone cannot say: calls the code generator
// must hand to a library (cuBLASLt on the GPU, OpenBLAS on the CPU) instead
// of generating a kernel. Everything else at this level is linalg, tensor,
// arith, math and scf.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_DIALECT_KERNEL_KERNELOPS_TD
#define GROWC_DIALECT_KERNEL_KERNELOPS_TD

include "mlir/IR/OpBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def GrowK_Dialect : Dialect {
  let name = "growk";
  let summary = "Kernel-level ops of growc: library calls";
  let cppNamespace = "::growc::growk";
}

def GrowK_MatmulOp : Op<GrowK_Dialect, "matmul", [Pure]> {
  let summary = "GEMM against a weight in [out, in] layout: C = A · Bᵀ";
  let description = [{
    `A` is `[M, K]` activations, `B` a `[N, K]` weight as Hugging Face
    stores it, the result `[M, N]`. A library call: never generated, so
    fusion treats it as a boundary and folds epilogues into it instead.

    ```mlir
    %q = growk.matmul %x, %wq : tensor<10x64xf32>, tensor<64x64xf32> -> tensor<10x64xf32>
    ```
  }];
  let arguments = (ins 2DTensorOf<[F32, BF16, F16]>:$lhs,
                       2DTensorOf<[F32, BF16, F16]>:$rhs);
  let results = (outs 2DTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // GROWC_DIALECT_KERNEL_KERNELOPS_TD
