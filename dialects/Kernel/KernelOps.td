//===- KernelOps.td - the kernel-level growk dialect -------*- tablegen -*-===//
//
// Tensor-level ops that linalg alone cannot say: calls the code generator
// must hand to a library (cuBLASLt on the GPU, OpenBLAS on the CPU) instead
// of generating a kernel, attention, whose best loop structure differs
// per target, and the optimizer step, which the runtime performs over flat
// arena regions. Everything else at this level is linalg, tensor, arith, math
// and scf.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_DIALECT_KERNEL_KERNELOPS_TD
#define GROWC_DIALECT_KERNEL_KERNELOPS_TD

include "HostStepOpInterface.td"
include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def GrowK_Dialect : Dialect {
  let name = "growk";
  let summary = "Kernel-level ops of growc: library calls";
  let cppNamespace = "::growc::growk";
}

def GrowK_MatmulOp : Op<GrowK_Dialect, "matmul", [Pure,
    DeclareOpInterfaceMethods<GrowK_HostStepOpInterface, ["takesViews"]>]> {
  let summary = "GEMM against a weight in [out, in] layout: C = A · Bᵀ (+ acc)";
  let description = [{
    `A` is `[M, K]` activations, `B` a `[N, K]` weight as Hugging Face
    stores it, the result `[M, N]`. The backward pass needs the other
    layouts: `transpose_lhs` takes `A` as `[K, M]` (weight gradients
    `dYᵀ · X`), `transpose_rhs = false` takes `B` as `[K, N]` (input
    gradients `dY · W`); the defaults are the forward's `A · Bᵀ`. With `acc`, the result is
    `A · Bᵀ + acc`: a residual add folded into the GEMM's epilogue (BLAS
    `beta = 1`, cuBLASLt's C input), so no kernel reads the GEMM's output
    and the residual just to add them. The accumulator has the result's
    type: f32 (the residual stream), or bf16 under mixed precision where a
    chain of input-gradient products sums into a bf16 cotangent (the sum
    of f32 products rounded once per GEMM). A library call: never generated, a
    host step (`HostStepOpInterface`) that kernel formation leaves on the
    host; slices of its operands and result stay views there.

    ```mlir
    %q = growk.matmul %x, %wq : tensor<10x64xf32>, tensor<64x64xf32> -> tensor<10x64xf32>
    %h = growk.matmul %a, %wo acc(%r : tensor<10x64xf32>) : tensor<10x64xf32>, tensor<64x64xf32> -> tensor<10x64xf32>
    ```
  }];
  let arguments = (ins 2DTensorOf<[F32, BF16, F16]>:$lhs,
                       2DTensorOf<[F32, BF16, F16]>:$rhs,
                       Optional<2DTensorOf<[F32, BF16]>>:$acc,
                       DefaultValuedAttr<BoolAttr, "false">:$transpose_lhs,
                       DefaultValuedAttr<BoolAttr, "true">:$transpose_rhs);
  // Products are summed in f32 (the compute type) whatever the operands;
  // a bf16 result is that sum rounded once (mixed precision).
  let results = (outs 2DTensorOf<[F32, BF16]>:$result);
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

def GrowK_AllReduceOp : Op<GrowK_Dialect, "all_reduce", [
    GrowK_HostStepOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<BufferizableOpInterface,
        ["bufferize", "bufferizesToMemoryRead", "bufferizesToMemoryWrite",
         "getAliasingValues"]>]> {
  let summary = "Data parallelism: a value reduced over the ranks, in place";
  let description = [{
    The point of a train graph where each rank's gradient becomes the mean
    (`reduction = "mean"`, the default) or sum over every rank of the
    data-parallel run. Every use of the gradient (the clip norm, AdamW)
    reads the result, so nothing can read it before the ranks agree. With
    `when`, a `[1]` f32 flag, the reduction happens only where the flag is
    > 0.5 and is the identity otherwise (gradient accumulation: only the
    applying micro-batch communicates).

    A library call, like `growk.matmul`: never generated, a boundary for
    kernel formation, and a plan step of its own (`all_reduce`,
    docs/plan.md) that the runtime performs through its collective engine
    (MPI on the CPU, NCCL on the GPU) and skips in a one-process run. It
    bufferizes in place; on memrefs it has no result.

    ```mlir
    %g2 = growk.all_reduce %g : tensor<64x64xf32> -> tensor<64x64xf32>
    %s2 = growk.all_reduce %s when(%apply : tensor<1xf32>) : tensor<64xf32> -> tensor<64xf32>
    growk.all_reduce %buffer {reduction = "sum"} : memref<64xf32>
    ```
  }];
  let arguments = (ins AnyShaped:$value, Optional<AnyShaped>:$when,
                       DefaultValuedAttr<StrAttr, "\"mean\"">:$reduction);
  let results = (outs Optional<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    $value (`when` `(` $when^ `:` type($when) `)`)? attr-dict `:`
    type($value) (`->` type($result)^)?
  }];
  let hasVerifier = 1;
}

def GrowK_AdamWOp : Op<GrowK_Dialect, "adamw", [
    AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<GrowK_HostStepOpInterface, ["takesViews"]>,
    DeclareOpInterfaceMethods<InferTypeOpInterface>,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<BufferizableOpInterface,
        ["bufferize", "bufferizesToMemoryRead", "bufferizesToMemoryWrite",
         "getAliasingValues"]>]> {
  let summary = "The whole optimizer step, in place: global-norm clip and "
                "AdamW over every trained parameter";
  let description = [{
    One update of every trained parameter at once (docs/training.md): the
    global norm of `grads` (one per parameter, in the order of `params`),
    the clip coefficient `min(1, max_grad_norm / (norm + 1e-6))`, and one
    AdamW step (torch.optim.AdamW: decoupled weight decay, bias correction
    from `step`, 1-based) of each parameter and its moments `exp_avg` and
    `exp_avg_sq`, where `update` is set: `nonfinite` is 0 (neither the
    loss flag `loss_nonfinite` nor the squared norm says NaN/Inf) and
    `apply`, when given, is > 0.5. With `grad_sums` (gradient
    accumulation) each sum becomes 0 where `apply` > 0.5 and its gradient
    otherwise. With `bf16_params` (mixed precision: the bf16 copies of
    the parameters that the GEMMs read, one per parameter, same shapes,
    written by growc-demote-activations) each copy becomes the new
    parameter rounded to nearest even where the update is applied, and
    stays unchanged elsewhere. `lr`, `step`, `apply`, `loss_nonfinite`
    and the two destinations `grad_norm` and `nonfinite` (written, never
    read) are one-element f32.

    A host step (`HostStepOpInterface`) and one plan step of its own
    (`adamw`, docs/plan.md) that the runtime performs over flat arena
    regions: the CPU runtime itself, the GPU in three launches of the
    kernel library. On tensors it updates in place: the new parameters,
    moments and sums are results equivalent to their operands (so the
    step's outputs are the parameters' own buffers), then the new bf16
    copies (which the function need not return: the writes land in the
    copies' argument buffers), followed by
    `grad_norm` and `nonfinite`; on memrefs it has no results.

    ```mlir
    %w2, %m2, %v2, %norm, %bad = growk.adamw params(%w : tensor<8xf32>)
        grads(%g : tensor<8xf32>) exp_avg(%m : tensor<8xf32>)
        exp_avg_sq(%v : tensor<8xf32>) lr(%lr : tensor<1xf32>)
        step(%step : tensor<1xf32>) loss_nonfinite(%lb : tensor<1xf32>)
        outs(%n0, %b0 : tensor<1xf32>, tensor<1xf32>)
        {beta1 = 9.000000e-01 : f64, beta2 = 9.500000e-01 : f64,
         eps = 1.000000e-08 : f64, max_grad_norm = 1.000000e+00 : f64,
         weight_decay = 0.00999999977 : f64}
    ```
  }];
  let arguments = (ins Variadic<AnyShaped>:$params,
                       Variadic<AnyShaped>:$grads,
                       Variadic<AnyShaped>:$exp_avg,
                       Variadic<AnyShaped>:$exp_avg_sq,
                       Variadic<AnyShaped>:$grad_sums,
                       Variadic<AnyShaped>:$bf16_params,
                       AnyShaped:$lr, AnyShaped:$step,
                       Optional<AnyShaped>:$apply,
                       AnyShaped:$loss_nonfinite,
                       AnyShaped:$grad_norm_init,
                       AnyShaped:$nonfinite_init,
                       F64Attr:$beta1, F64Attr:$beta2, F64Attr:$eps,
                       F64Attr:$weight_decay, F64Attr:$max_grad_norm);
  // On tensors: the new params, exp_avg, exp_avg_sq, (grad_sums),
  // (bf16_params), then grad_norm and nonfinite (see the accessors below).
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    `params` `(` $params `:` type($params) `)`
    `grads` `(` $grads `:` type($grads) `)`
    `exp_avg` `(` $exp_avg `:` type($exp_avg) `)`
    `exp_avg_sq` `(` $exp_avg_sq `:` type($exp_avg_sq) `)`
    (`grad_sums` `(` $grad_sums^ `:` type($grad_sums) `)`)?
    (`bf16_params` `(` $bf16_params^ `:` type($bf16_params) `)`)?
    `lr` `(` $lr `:` type($lr) `)` `step` `(` $step `:` type($step) `)`
    (`apply` `(` $apply^ `:` type($apply) `)`)?
    `loss_nonfinite` `(` $loss_nonfinite `:` type($loss_nonfinite) `)`
    `outs` `(` $grad_norm_init `,` $nonfinite_init `:`
        type($grad_norm_init) `,` type($nonfinite_init) `)` attr-dict
  }];
  let extraClassDeclaration = [{
    /// The in-place results (tensors only), one per trained parameter.
    ::mlir::ResultRange getNewParams() {
      return getResults().take_front(getParams().size());
    }
    ::mlir::ResultRange getNewExpAvg() {
      return getResults().slice(getParams().size(), getParams().size());
    }
    ::mlir::ResultRange getNewExpAvgSq() {
      return getResults().slice(2 * getParams().size(), getParams().size());
    }
    ::mlir::ResultRange getNewGradSums() {
      return getResults().slice(3 * getParams().size(),
                                getGradSums().size());
    }
    ::mlir::ResultRange getNewBf16Params() {
      return getResults().slice(3 * getParams().size() + getGradSums().size(),
                                getBf16Params().size());
    }
    ::mlir::Value getGradNorm() { return getResults().drop_back().back(); }
    ::mlir::Value getNonfinite() { return getResults().back(); }
    /// The operands the step writes, in the order of the results on
    /// tensors: params, exp_avg, exp_avg_sq, grad_sums, bf16_params,
    /// grad_norm_init, nonfinite_init.
    ::llvm::SmallVector<::mlir::OpOperand *> getWrittenOperands();
  }];
  let hasVerifier = 1;
}

def GrowK_AttentionOp : Op<GrowK_Dialect, "attention", [
    DestinationStyleOpInterface, AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<GrowK_HostStepOpInterface,
        ["isHostStep", "takesViews"]>,
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
    bufferizes in place into `init`; on memrefs it has no result. Marked
    `growc.library_kernel` (growc-attention-to-tensor-cores), it is the
    kernel library's and a host step (`HostStepOpInterface`); otherwise a
    generated kernel of its own. The library's form may also write each
    query row's log-sum-exp of its scaled scores (natural log) into
    `lse_init`, f32 `[B · heads, T]`, a second result: the gradient reads
    it instead of recomputing the scores' statistics.

    RoPE on load (the library's form only; growc-attention-to-tensor-cores
    with `rope-on-load`): `columns = [qc, kc, vc]` makes `q`, `k` and `v`
    matrices of one width (the fused QKV projection's output, three times)
    whose heads start at those columns, and `rope(%cos, %sin)` (f32
    `[B·T, hd / 2]`, the model's tables) rotates q and k (transformers'
    rotate_half) as the kernel loads them: `q` and `k` are then the
    unrotated projections. `rope` needs `columns`.

    ```mlir
    %o = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>)
           outs(%init : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
    ```
  }];
  let arguments = (ins AnyShaped:$q, AnyShaped:$k, AnyShaped:$v,
                       AnyShaped:$init, Optional<AnyShaped>:$lse_init,
                       Variadic<AnyShaped>:$rope,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$heads,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$kv_heads,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$seq_len,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$key_block,
                       OptionalAttr<DenseI64ArrayAttr>:$columns);
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    `ins` `(` $q `,` $k `,` $v `:` type($q) `,` type($k) `,` type($v) `)`
    `outs` `(` $init `:` type($init) `)`
    (`lse` `(` $lse_init^ `:` type($lse_init) `)`)?
    (`rope` `(` $rope^ `:` type($rope) `)`)?
    attr-dict (`->` type($result)^)?
  }];
  let builders = [
    // Without RoPE on load (the form the model lowering builds).
    OpBuilder<(ins "::mlir::TypeRange":$result, "::mlir::Value":$q,
        "::mlir::Value":$k, "::mlir::Value":$v, "::mlir::Value":$init,
        "::mlir::Value":$lse_init, "int64_t":$heads, "int64_t":$kv_heads,
        "int64_t":$seq_len, "int64_t":$key_block), [{
      build($_builder, $_state, result, q, k, v, init, lse_init,
            ::mlir::ValueRange(), heads, kv_heads, seq_len, key_block,
            ::mlir::DenseI64ArrayAttr());
    }]>];
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return ::mlir::MutableOperandRange(getOperation(), 3,
                                         getLseInit() ? 2 : 1);
    }
    int64_t getHeadDim() {
      return ::llvm::cast<::mlir::ShapedType>(getInit().getType())
                 .getDimSize(1) / getHeads();
    }
    int64_t getBatch() {
      return ::llvm::cast<::mlir::ShapedType>(getQ().getType())
                 .getDimSize(0) / getSeqLen();
    }
  }];
  let hasVerifier = 1;
}

def GrowK_AttentionGradOp : Op<GrowK_Dialect, "attention_grad", [
    DestinationStyleOpInterface, AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<GrowK_HostStepOpInterface,
        ["isHostStep", "takesViews"]>,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<BufferizableOpInterface,
        ["bufferize", "bufferizesToMemoryRead", "bufferizesToMemoryWrite",
         "getAliasingValues"]>]> {
  let summary = "The VJP of growk.attention: dq, dk, dv from q, k, v, o, dout";
  let description = [{
    The gradients of `o = growk.attention(q, k, v)` (same layouts and
    attributes) for the output cotangent `dout` (`[B·T, heads · hd]`):
    `dq` like `q`, `dk` and `dv` like `k` and `v` (summed over each KV
    head's group of query heads), written to `dq_init`, `dk_init` and
    `dv_init`. `o` is the forward's output, used for
    `D = rowsum(dout ∘ o)`, so that `dS = P ∘ (dP − D)` needs no second
    look at the probabilities.

    Flash-style: the scores are recomputed tile by tile from `q` and `k`
    and never exist whole. `growc-expand-attention` writes the CPU form
    (one block per sample and KV head; for each query tile of `key_block`
    rows, a pass over the key tiles at or before it for the row
    log-sum-exp, then a second pass accumulating dq for the tile and dk,
    dv for the key tiles); the GPU distribution is
    `growc-distribute-kernels`'. Destination-style: it bufferizes in place
    into the three inits; on memrefs it has no results. Like
    `growk.attention`, a host step when marked `growc.library_kernel`; that
    form may read the forward's log-sum-exps as `lse` (f32
    `[B · heads, T]`, the forward's `lse_init`), and take `columns` and
    `rope` as `growk.attention` does (dq and dk stay the gradients of the
    rotated q and k).

    ```mlir
    %dq, %dk, %dv = growk.attention_grad
        ins(%q, %k, %v, %o, %do : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x64xf32>, tensor<16x64xf32>)
        outs(%dqi, %dki, %dvi : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>)
        {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64}
        -> tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>
    ```
  }];
  let arguments = (ins AnyShaped:$q, AnyShaped:$k, AnyShaped:$v,
                       AnyShaped:$o, AnyShaped:$dout,
                       AnyShaped:$dq_init, AnyShaped:$dk_init,
                       AnyShaped:$dv_init, Optional<AnyShaped>:$lse,
                       Variadic<AnyShaped>:$rope,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$heads,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$kv_heads,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$seq_len,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$key_block,
                       OptionalAttr<DenseI64ArrayAttr>:$columns);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let builders = [
    // Without RoPE on load (the form the differentiation builds).
    OpBuilder<(ins "::mlir::TypeRange":$results, "::mlir::Value":$q,
        "::mlir::Value":$k, "::mlir::Value":$v, "::mlir::Value":$o,
        "::mlir::Value":$dout, "::mlir::Value":$dq_init,
        "::mlir::Value":$dk_init, "::mlir::Value":$dv_init,
        "::mlir::Value":$lse, "int64_t":$heads, "int64_t":$kv_heads,
        "int64_t":$seq_len, "int64_t":$key_block), [{
      build($_builder, $_state, results, q, k, v, o, dout, dq_init, dk_init,
            dv_init, lse, ::mlir::ValueRange(), heads, kv_heads, seq_len,
            key_block, ::mlir::DenseI64ArrayAttr());
    }]>];
  let assemblyFormat = [{
    `ins` `(` $q `,` $k `,` $v `,` $o `,` $dout `:` type($q) `,` type($k) `,`
        type($v) `,` type($o) `,` type($dout) `)`
    (`lse` `(` $lse^ `:` type($lse) `)`)?
    (`rope` `(` $rope^ `:` type($rope) `)`)?
    `outs` `(` $dq_init `,` $dk_init `,` $dv_init `:` type($dq_init) `,`
        type($dk_init) `,` type($dv_init) `)` attr-dict
        (`->` type($results)^)?
  }];
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return ::mlir::MutableOperandRange(getOperation(), 5, 3);
    }
    int64_t getHeadDim() {
      return ::llvm::cast<::mlir::ShapedType>(getDqInit().getType())
                 .getDimSize(1) / getHeads();
    }
    int64_t getBatch() {
      return ::llvm::cast<::mlir::ShapedType>(getQ().getType())
                 .getDimSize(0) / getSeqLen();
    }
  }];
  let hasVerifier = 1;
}

def GrowK_ForwardTapeOp : Op<GrowK_Dialect, "forward_tape"> {
  let summary = "A grad graph's forward values, held for the reverse pass";
  let description = [{
    Lives only between `growc-lower-model-to-tensors{forward-only}` and
    `growc-differentiate-model` (passes/Training/Passes.td): the forward
    lowering of a grad graph keeps the `grow.model` it lowered (renamed
    `@<name>.model`, since the function takes its name) and records here
    every forward value the model's VJP rules read. Value `i` belongs to the
    op at position `positions[i]` of the model's body: its result
    `slots[i]` when `slots[i] >= 0`, else entry `-1 - slots[i]` of the op's
    tape (a layer's `grow::LayerTape` fields in order; the embedding's
    rotary cos and sin tables). `key_block` and `loss_rows` are the
    lowering's options the backward must agree with. The results stand for
    the function's outputs (the loss, then each parameter's gradient) until
    the reverse pass builds them, replaces this op and erases the model.

    ```mlir
    %loss, %g0 = growk.forward_tape @m.model(%cos, %sin, %h, %x)
        {positions = array<i64: 1, 1, 1, 2>, slots = array<i64: -1, -2, 0, 0>,
         key_block = 4 : i64, loss_rows = 0 : i64}
        : (tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x8xf32>, tensor<4x8xf32>)
        -> (tensor<1xf32>, tensor<16x8xf32>)
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$model,
                       Variadic<AnyRankedTensor>:$values,
                       DenseI64ArrayAttr:$positions,
                       DenseI64ArrayAttr:$slots,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$key_block,
                       ConfinedAttr<I64Attr, [IntMinValue<0>]>:$loss_rows);
  let results = (outs Variadic<AnyRankedTensor>:$outputs);
  let assemblyFormat = [{
    $model `(` $values `)` attr-dict `:` functional-type($values, $outputs)
  }];
  let hasVerifier = 1;
}

#endif // GROWC_DIALECT_KERNEL_KERNELOPS_TD
