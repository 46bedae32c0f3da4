// RUN: growc --import-hf-config %S/../Lowering/Inputs/gqa2-tied.json --num-layers 2 --block-size 1 --model-name two -o %t.mlir
// RUN: growc-opt %t.mlir --growc-training-graph-pipeline="graph=train batch=1 seq=8 key-block=4" --growc-form-kernels | FileCheck %s
// RUN: growc-opt %t.mlir --growc-training-graph-pipeline="graph=train batch=1 seq=8 key-block=4" --growc-attention-to-gemms --growc-form-kernels | FileCheck %s --check-prefix=GEMM

// Kernels are named after what they compute (passes/Fusion/KernelNames.cpp),
// numbered in the order they are formed, so the kernels of a training step
// read like the step. The forward: embedding with the RoPE tables and the
// first RMSNorm, RoPE, attention, the residual RMSNorm, SwiGLU.
// CHECK-LABEL: func.func @two(
// CHECK-LABEL: func.func @embedding_rope_rmsnorm_0(
// CHECK-LABEL: func.func @rope_1(
// CHECK-LABEL: func.func @attention_2(
// CHECK-LABEL: func.func @rmsnorm_3(
// CHECK-LABEL: func.func @swiglu_4(
// The loss: a sum over all rows in a kernel of its own (reduce), softmax
// and cross-entropy with its gradient.
// CHECK-LABEL: func.func @reduce_5(
// CHECK-LABEL: func.func @softmax_cross_entropy_6(
// The backward, layer by layer in reverse: the final norm's backward
// (whose weight gradient is a GEMM), SwiGLU's, the layer norm's (with the
// residual), attention's, the kernel writing RoPE's inverse of q and k
// beside dv; the embedding's gradient is a scatter by token, summed with
// the tied head's (add).
// CHECK-LABEL: func.func @rmsnorm_8(
// CHECK-LABEL: func.func @swiglu_9(
// CHECK-LABEL: func.func @rmsnorm_10(
// CHECK-LABEL: func.func @attention_grad_11(
// CHECK-LABEL: func.func @rope_12(
// CHECK-LABEL: func.func @embedding_13(
// CHECK-LABEL: func.func @add_14(
// The optimizer: only the loss's non-finite flag is a kernel (map); the
// clip and AdamW are one growk.adamw, a plan step of its own.
// CHECK-LABEL: func.func @map_15(
// CHECK-NOT: func.func @

// Attention as GEMMs: head-major copies around the score GEMMs and a
// softmax kernel, forward and backward.
// GEMM-LABEL: func.func @rope_1(
// GEMM-LABEL: func.func @copy_2(
// GEMM-LABEL: func.func @softmax_4(
// GEMM-LABEL: func.func @copy_5(
// GEMM-LABEL: func.func @softmax_14(
