// growk's bufferization interfaces: an all-reduce on tensors becomes the
// in-place all-reduce of the value's buffer (one buffer, no copy), the
// `when` flag a memref too; the attention ops are destination-style and
// write their inits' buffers in place.
// RUN: %growc-opt %s -split-input-file --one-shot-bufferize="bufferize-function-boundaries" | FileCheck %s

// CHECK-LABEL: func.func @all_reduce
// CHECK-SAME: (%[[G:.+]]: memref<4x8xf32
// CHECK-NOT: memref.copy
// CHECK: growk.all_reduce %[[G]] : memref<4x8xf32
// CHECK: growk.all_reduce %[[G]] when(%{{.+}} : memref<1xf32
// CHECK: return %[[G]]
func.func @all_reduce(%g: tensor<4x8xf32>, %apply: tensor<1xf32>) -> tensor<4x8xf32> {
  %r = growk.all_reduce %g : tensor<4x8xf32> -> tensor<4x8xf32>
  %s = growk.all_reduce %r when(%apply : tensor<1xf32>) {reduction = "sum"} : tensor<4x8xf32> -> tensor<4x8xf32>
  return %s : tensor<4x8xf32>
}

// -----

// CHECK-LABEL: func.func @attention
// CHECK-NOT: memref.alloc
// CHECK: growk.attention ins(%arg0, %arg1, %arg2 : {{.*}}) outs(%arg3 : {{.*}}) {heads = 4 : i64, key_block = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64}{{$}}
// CHECK: return %arg3
func.func @attention(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}

// -----

// Empty inits become three buffers that the op writes and the function
// returns.
// CHECK-LABEL: func.func @attention_grad
// CHECK: %[[DQ:.+]] = memref.alloc() {{.*}} : memref<16x64xf32>
// CHECK: %[[DK:.+]] = memref.alloc() {{.*}} : memref<16x32xf32>
// CHECK: %[[DV:.+]] = memref.alloc() {{.*}} : memref<16x32xf32>
// CHECK: growk.attention_grad ins({{.*}}) outs(%[[DQ]], %[[DK]], %[[DV]] : memref<16x64xf32>, memref<16x32xf32>, memref<16x32xf32>) {{.*}}{{$}}
// CHECK: return %[[DQ]], %[[DK]], %[[DV]]
func.func @attention_grad(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>, %do: tensor<16x64xf32>) -> (tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {
  %e0 = tensor.empty() : tensor<16x64xf32>
  %e1 = tensor.empty() : tensor<16x32xf32>
  %dq, %dk, %dv = growk.attention_grad ins(%q, %k, %v, %o, %do : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x64xf32>, tensor<16x64xf32>) outs(%e0, %e1, %e1 : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>
  return %dq, %dk, %dv : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>
}
