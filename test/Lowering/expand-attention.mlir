// growc-expand-attention: growk.attention and growk.attention_grad on
// tensors become the flash-style tiled loops of the CPU target; the T x T
// scores are never formed, only [tile, tile] blocks up to the diagonal.
// RUN: %growc-opt %s -split-input-file --growc-expand-attention -verify-diagnostics | FileCheck %s

// Forward, B = 2, T = 4, two query heads sharing one KV head (head_dim 4),
// tiles of 2: one parallel iteration per (sample, head, query tile), the
// keys walked tile by tile up to the diagonal with the running max, sum and
// output, each query tile written into its rows and head's columns of init.
// CHECK-LABEL: func.func @attention
// CHECK-NOT: growk.attention
// CHECK-DAG: %[[Q:.+]] = tensor.expand_shape %arg0 {{.*}} output_shape [2, 4, 2, 4]
// CHECK-DAG: %[[K:.+]] = tensor.expand_shape %arg1 {{.*}} output_shape [2, 4, 1, 4]
// CHECK-DAG: %[[V:.+]] = tensor.expand_shape %arg2 {{.*}} output_shape [2, 4, 1, 4]
// CHECK: scf.forall (%[[B:.+]], %[[H:.+]], %[[T:.+]]) = (0, 0, 0) to (2, 2, 4) step (1, 1, 2) shared_outs(%[[OUT:.+]] = %arg3)
// The query head's KV head: heads / kv_heads = 2 query heads per group.
// CHECK: %[[KVH:.+]] = arith.divui %[[H]], %c2
// CHECK: %[[END:.+]] = arith.addi %[[T]], %c2
// CHECK: scf.for %[[S:.+]] = %c0 to %[[END]] step %c2{{.*}} iter_args({{.*}}) -> (tensor<1x1x2xf32>, tensor<1x1x2xf32>, tensor<1x1x2x4xf32>)
// CHECK: tensor.extract_slice %[[V]][%[[B]], %[[S]], %[[KVH]], 0] [1, 2, 1, 4]
// CHECK: tensor.extract_slice %[[K]][%[[B]], %[[S]], %[[KVH]], 0] [1, 2, 1, 4]
// The causal mask (key <= query) and the 1/sqrt(head_dim) scale.
// CHECK: arith.cmpi ule
// CHECK: %[[SCALE:.+]] = arith.constant 5.000000e-01 : f32
// CHECK: arith.mulf %{{.+}}, %[[SCALE]] : f32
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: scf.yield
// CHECK: arith.divf
// CHECK: scf.forall.in_parallel
// CHECK: tensor.parallel_insert_slice %{{.+}} into %[[OUT]][%{{.+}}, %{{.+}}] [2, 4] [1, 1] : tensor<2x4xf32> into tensor<8x8xf32>
func.func @attention(%q: tensor<8x8xf32>, %k: tensor<8x4xf32>, %v: tensor<8x4xf32>, %o: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %r = growk.attention ins(%q, %k, %v : tensor<8x8xf32>, tensor<8x4xf32>, tensor<8x4xf32>) outs(%o : tensor<8x8xf32>) {heads = 2 : i64, kv_heads = 1 : i64, seq_len = 4 : i64, key_block = 2 : i64} -> tensor<8x8xf32>
  return %r : tensor<8x8xf32>
}

// -----

// Backward: one parallel iteration per (sample, KV head); per query tile a
// first walk over the key tiles for the rows' log-sum-exp and a second one
// accumulating dQ, dK and dV from recomputed, masked scores. Each
// iteration owns its sample's rows of dq and its KV head's columns of dk
// and dv: no two iterations write the same element.
// CHECK-LABEL: func.func @attention_grad
// CHECK-NOT: growk.attention_grad
// CHECK: %[[R:.+]]:3 = scf.forall (%{{.+}}, %{{.+}}) in (2, 1) shared_outs(%[[DQ:.+]] = %arg5, %[[DK:.+]] = %arg6, %[[DV:.+]] = %arg6)
// CHECK: scf.for {{.*}} -> (tensor<4x2x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>)
// CHECK: scf.for {{.*}} -> (tensor<2x2xf32>, tensor<2x2xf32>)
// CHECK: arith.cmpi ule
// CHECK: scf.for {{.*}} -> (tensor<2x2x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>)
// CHECK: arith.cmpi ule
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %{{.+}} into %[[DQ]][{{.*}}] [4, 8] [1, 1] : tensor<4x8xf32> into tensor<8x8xf32>
// CHECK-NEXT: tensor.parallel_insert_slice %{{.+}} into %[[DK]][{{.*}}] [4, 4] [1, 1] : tensor<4x4xf32> into tensor<8x4xf32>
// CHECK-NEXT: tensor.parallel_insert_slice %{{.+}} into %[[DV]][{{.*}}] [4, 4] [1, 1] : tensor<4x4xf32> into tensor<8x4xf32>
// CHECK: return %[[R]]#0, %[[R]]#1, %[[R]]#2
func.func @attention_grad(%q: tensor<8x8xf32>, %k: tensor<8x4xf32>, %v: tensor<8x4xf32>, %o: tensor<8x8xf32>, %do: tensor<8x8xf32>, %dq0: tensor<8x8xf32>, %dk0: tensor<8x4xf32>) -> (tensor<8x8xf32>, tensor<8x4xf32>, tensor<8x4xf32>) {
  %dq, %dk, %dv = growk.attention_grad ins(%q, %k, %v, %o, %do : tensor<8x8xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x8xf32>, tensor<8x8xf32>) outs(%dq0, %dk0, %dk0 : tensor<8x8xf32>, tensor<8x4xf32>, tensor<8x4xf32>) {heads = 2 : i64, kv_heads = 1 : i64, seq_len = 4 : i64, key_block = 2 : i64} -> tensor<8x8xf32>, tensor<8x4xf32>, tensor<8x4xf32>
  return %dq, %dk, %dv : tensor<8x8xf32>, tensor<8x4xf32>, tensor<8x4xf32>
}

// -----

// The expansion is a tensor rewrite: on memrefs it is too late.
func.func @on_memrefs(%q: memref<14x32xf32>, %o: memref<14x32xf32>) {
  // expected-error @+1 {{growc-expand-attention runs before bufferization}}
  growk.attention ins(%q, %q, %q : memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>) outs(%o : memref<14x32xf32>) {heads = 1 : i64, kv_heads = 1 : i64, seq_len = 7 : i64, key_block = 64 : i64}
  return
}
