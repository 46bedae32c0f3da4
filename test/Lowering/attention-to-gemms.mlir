// growc-attention-to-gemms: attention as per-(sample, KV head) GEMMs and
// row computations (the GPU's --gpu-attention=gemm). 4 query and 2 KV
// heads of 4, batch 2, 8 positions: G = 2 query heads per KV
// head, so each block is G·T = 16 rows of scores against T = 8 keys.
// Numerics: forward-cpu.test, grad-cpu.test and train-step.test run it on
// the CPU (--kernel-form=gpu) against PyTorch.
// RUN: %growc-opt %s -split-input-file --growc-attention-to-gemms | FileCheck %s
// On a lowered model, with kernel formation and bf16 activations after it:
// RUN: %growc --import-hf-config %S/Inputs/gqa2-tied.json --num-layers 1 --block-size 1 --model-name one -o %t.mlir
// RUN: %growc-opt %t.mlir --growc-lower-model-to-tensors="batch=2 seq=8 key-block=4" --growc-attention-to-gemms --growc-form-kernels --growc-demote-activations | FileCheck %s --check-prefix=BF16

// q to head-major [B·H·T, hd]: a permutation of the middle dimensions in
// a kernel of its own, between host reshapes.
// CHECK-LABEL: func.func @forward(
// CHECK-NOT: growk.attention
// CHECK: %[[QT:.+]] = tensor.expand_shape %{{.+}} {{\[\[}}0, 1], [2, 3]] output_shape [2, 8, 4, 4]
// CHECK: %[[QP:.+]] = linalg.generic {{.+}} ins(%[[QT]] : tensor<2x8x4x4xf32>) outs(%{{.+}} : tensor<2x4x8x4xf32>) attrs = {growc.own_kernel}
// CHECK: %[[QH:.+]] = tensor.collapse_shape %[[QP]] {{\[\[}}0, 1, 2], [3]] : tensor<2x4x8x4xf32> into tensor<64x4xf32>
// CHECK: %[[KH:.+]] = tensor.collapse_shape %{{.+}} : tensor<2x2x8x4xf32> into tensor<32x4xf32>
// S = Q·Kᵀ, block by block: B·KVH = 4 GEMMs of [16, 4]·[8, 4]ᵀ.
// CHECK: %[[Q0:.+]] = tensor.extract_slice %[[QH]][0, 0] [16, 4] [1, 1]
// CHECK-NEXT: %[[K0:.+]] = tensor.extract_slice %[[KH]][0, 0] [8, 4] [1, 1]
// CHECK-NEXT: %[[S0:.+]] = growk.matmul %[[Q0]], %[[K0]] : tensor<16x4xf32>, tensor<8x4xf32> -> tensor<16x8xf32>
// CHECK-NEXT: tensor.insert_slice %[[S0]] into %{{.+}}[0, 0] [16, 8] [1, 1] : tensor<16x8xf32> into tensor<64x8xf32>
// CHECK: tensor.extract_slice %[[QH]][48, 0] [16, 4] [1, 1]
// CHECK-NEXT: tensor.extract_slice %[[KH]][24, 0] [8, 4] [1, 1]
// CHECK-NEXT: growk.matmul
// CHECK-NEXT: %[[S:.+]] = tensor.insert_slice %{{.+}}[48, 0] [16, 8] [1, 1]
// The causal softmax of S / sqrt(hd): key j visible to row r when
// j <= r mod T, in the max, the sum and the normalisation.
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "reduction"]} ins(%[[S]] : tensor<64x8xf32>)
// CHECK: arith.mulf %{{.+}}, %cst{{.*}} : f32
// CHECK: %[[R:.+]] = linalg.index 0 : index
// CHECK: %[[J:.+]] = linalg.index 1 : index
// CHECK: %[[T:.+]] = arith.remui %[[R]], %c8{{.*}} : index
// CHECK: arith.cmpi ule, %[[J]], %[[T]] : index
// CHECK: arith.maximumf
// CHECK: %[[P:.+]] = linalg.generic {{.+}} outs(%{{.+}} : tensor<64x8xf32>)
// CHECK: arith.divf
// O = P·V per block ([16, 8]·[8, 4]), then back to token-major [B·T, H·hd].
// CHECK: %[[P0:.+]] = tensor.extract_slice %[[P]][0, 0] [16, 8] [1, 1]
// CHECK-NEXT: %[[V0:.+]] = tensor.extract_slice %{{.+}}[0, 0] [8, 4] [1, 1]
// CHECK-NEXT: growk.matmul %[[P0]], %[[V0]] {transpose_rhs = false} : tensor<16x8xf32>, tensor<8x4xf32> -> tensor<16x4xf32>
// CHECK: %[[OH:.+]] = tensor.insert_slice %{{.+}}[48, 0] [16, 4] [1, 1] : tensor<16x4xf32> into tensor<64x4xf32>
// CHECK: tensor.expand_shape %[[OH]] {{\[\[}}0, 1, 2], [3]] output_shape [2, 4, 8, 4]
// CHECK: linalg.generic {{.+}} outs(%{{.+}} : tensor<2x8x4x4xf32>) attrs = {growc.own_kernel}
// CHECK: tensor.collapse_shape %{{.+}} {{\[\[}}0, 1], [2, 3]] : tensor<2x8x4x4xf32> into tensor<16x16xf32>
func.func @forward(%q: tensor<16x16xf32>, %k: tensor<16x8xf32>, %v: tensor<16x8xf32>, %o: tensor<16x16xf32>) -> tensor<16x16xf32> {
  %r = growk.attention ins(%q, %k, %v : tensor<16x16xf32>, tensor<16x8xf32>, tensor<16x8xf32>) outs(%o : tensor<16x16xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x16xf32>
  return %r : tensor<16x16xf32>
}

// -----

// The gradient: S and P recomputed; dP = dO·Vᵀ; then per block
// dV = Pᵀ·dO and dK = dSᵀ·Q ([T, hd], the group's heads summed by the
// GEMM) and dQ = dS·K.
// CHECK-LABEL: func.func @gradient(
// CHECK-NOT: growk.attention_grad
// CHECK: growk.matmul %{{.+}}, %{{.+}} : tensor<16x4xf32>, tensor<8x4xf32> -> tensor<16x8xf32>
// CHECK: arith.subf
// CHECK: growk.matmul %{{.+}}, %{{.+}} {transpose_lhs = true, transpose_rhs = false} : tensor<16x8xf32>, tensor<16x4xf32> -> tensor<8x4xf32>
// CHECK: growk.matmul %{{.+}}, %{{.+}} {transpose_rhs = false} : tensor<16x8xf32>, tensor<8x4xf32> -> tensor<16x4xf32>
// CHECK: growk.matmul %{{.+}}, %{{.+}} {transpose_lhs = true, transpose_rhs = false} : tensor<16x8xf32>, tensor<16x4xf32> -> tensor<8x4xf32>
func.func @gradient(%q: tensor<16x16xf32>, %k: tensor<16x8xf32>, %v: tensor<16x8xf32>, %o: tensor<16x16xf32>, %do: tensor<16x16xf32>) -> (tensor<16x16xf32>, tensor<16x8xf32>, tensor<16x8xf32>) {
  %dq, %dk, %dv = growk.attention_grad ins(%q, %k, %v, %o, %do : tensor<16x16xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<16x16xf32>, tensor<16x16xf32>) outs(%q, %k, %v : tensor<16x16xf32>, tensor<16x8xf32>, tensor<16x8xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x16xf32>, tensor<16x8xf32>, tensor<16x8xf32>
  return %dq, %dk, %dv : tensor<16x16xf32>, tensor<16x8xf32>, tensor<16x8xf32>
}

// With --precision=bf16 the scores are stored as bf16: every block's GEMM
// writes bf16 into one bf16 tensor, which the softmax kernel reads; P is
// written as bf16 for the P·V GEMMs.
// BF16: %[[S:.+]] = tensor.empty() : tensor<64x8xbf16>
// BF16: tensor.extract_slice %{{.+}}[0, 0] [16, 4] [1, 1] : tensor<64x4xbf16> to tensor<16x4xbf16>
// BF16: tensor.extract_slice %{{.+}}[0, 0] [8, 4] [1, 1] : tensor<32x4xbf16> to tensor<8x4xbf16>
// BF16: %[[S0:.+]] = growk.matmul {{.+}} -> tensor<16x8xbf16>
// BF16-NEXT: tensor.insert_slice %[[S0]] into %[[S]][0, 0] [16, 8] [1, 1] : tensor<16x8xbf16> into tensor<64x8xbf16>
// BF16: %[[P:.+]] = call @{{.+}}(%{{.+}}) : (tensor<64x8xbf16>) -> tensor<64x8xbf16>
// BF16: tensor.extract_slice %[[P]][0, 0] [16, 8] [1, 1] : tensor<64x8xbf16> to tensor<16x8xbf16>
