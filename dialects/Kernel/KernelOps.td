//===- KernelOps.td - the kernel-level growk dialect -------*- tablegen -*-===//
//
// Tensor-level ops that linalg alone cannot say: calls the code generator
// must hand to a library (cuBLASLt on the GPU, OpenBLAS on the CPU) instead
// of generating a kernel, and attention, whose best loop structure differs
// per target. Everything else at this level is linalg, tensor, arith, math
// and scf.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_DIALECT_KERNEL_KERNELOPS_TD
#define GROWC_DIALECT_KERNEL_KERNELOPS_TD

include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def GrowK_Dialect : Dialect {
  let name = "growk";
  let summary = "Kernel-level ops of growc: library calls";
  let cppNamespace = "::growc::growk";
}

def GrowK_MatmulOp : Op<GrowK_Dialect, "matmul", [Pure]> {
  let summary = "GEMM against a weight in [out, in] layout: C = A · Bᵀ (+ acc)";
  let description = [{
    `A` is `[M, K]` activations, `B` a `[N, K]` weight as Hugging Face
    stores it, the result `[M, N]`. The backward pass needs the other
    layouts: `transpose_lhs` takes `A` as `[K, M]` (weight gradients
    `dYᵀ · X`), `transpose_rhs = false` takes `B` as `[K, N]` (input
    gradients `dY · W`); the defaults are the forward's `A · Bᵀ`. With `acc`, the result is
    `A · Bᵀ + acc`: a residual add folded into the GEMM's epilogue (BLAS
    `beta = 1`, cuBLASLt's C input), so no kernel reads the GEMM's output
    and the residual just to add them. A library call: never generated, so
    fusion treats it as a boundary.

    ```mlir
    %q = growk.matmul %x, %wq : tensor<10x64xf32>, tensor<64x64xf32> -> tensor<10x64xf32>
    %h = growk.matmul %a, %wo acc(%r : tensor<10x64xf32>) : tensor<10x64xf32>, tensor<64x64xf32> -> tensor<10x64xf32>
    ```
  }];
  let arguments = (ins 2DTensorOf<[F32, BF16, F16]>:$lhs,
                       2DTensorOf<[F32, BF16, F16]>:$rhs,
                       Optional<2DTensorOf<[F32]>>:$acc,
                       DefaultValuedAttr<BoolAttr, "false">:$transpose_lhs,
                       DefaultValuedAttr<BoolAttr, "true">:$transpose_rhs);
  let results = (outs 2DTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`acc` `(` $acc^ `:` type($acc) `)`)? attr-dict `:`
    type($lhs) `,` type($rhs) `->` type($result)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$lhs,
                   "::mlir::Value":$rhs), [{
      build($_builder, $_state, result, lhs, rhs, ::mlir::Value(), false,
            true);
    }]>,
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$lhs,
                   "::mlir::Value":$rhs, "::mlir::Value":$acc), [{
      build($_builder, $_state, result, lhs, rhs, acc, false, true);
    }]>
  ];
  let hasVerifier = 1;
}

def GrowK_AttentionOp : Op<GrowK_Dialect, "attention", [
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<BufferizableOpInterface,
        ["bufferize", "bufferizesToMemoryRead", "bufferizesToMemoryWrite",
         "getAliasingValues"]>]> {
  let summary = "Causal attention with grouped KV heads over [B·T, ·] rows";
  let description = [{
    `q` is `[B·T, heads · hd]`, `k` and `v` are `[B·T, kv_heads · hd]`
    (RoPE already applied), rows ordered batch-major with `seq_len = T`.
    Query head `h` attends to KV head `h / (heads / kv_heads)` over the
    positions at or before its own, with scores scaled by `1/sqrt(hd)`;
    the result, written to `init`, is `[B·T, heads · hd]`.

    An op rather than linalg because its good loop structures differ per
    target: `growc-expand-attention` writes the CPU form (tiles of
    `key_block` queries and keys with an online softmax), the GPU
    distribution gives each thread one query row in blocks of `key_block`
    rows. Neither materialises the `T x T` scores. Destination-style, so it
    bufferizes in place into `init`; on memrefs it has no result.

    ```mlir
    %o = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>)
           outs(%init : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
    ```
  }];
  let arguments = (ins AnyShaped:$q, AnyShaped:$k, AnyShaped:$v,
                       AnyShaped:$init,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$heads,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$kv_heads,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$seq_len,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$key_block);
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    `ins` `(` $q `,` $k `,` $v `:` type($q) `,` type($k) `,` type($v) `)`
    `outs` `(` $init `:` type($init) `)` attr-dict (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return getInitMutable();
    }
    int64_t getHeadDim() {
      return ::llvm::cast<::mlir::ShapedType>(getQ().getType())
                 .getDimSize(1) / getHeads();
    }
    int64_t getBatch() {
      return ::llvm::cast<::mlir::ShapedType>(getQ().getType())
                 .getDimSize(0) / getSeqLen();
    }
  }];
  let hasVerifier = 1;
}

#endif // GROWC_DIALECT_KERNEL_KERNELOPS_TD
