// growk's bufferization interfaces: an all-reduce on tensors becomes the
// in-place all-reduce of the value's buffer (one buffer, no copy), the
// `when` flag a memref too; the attention ops are destination-style and
// write their inits' buffers in place; the optimizer step updates its
// parameters, moments and sums in their buffers.
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

// -----

// The optimizer updates the parameters, moments and sums in their own
// buffers (function arguments here): no copy, and the returned values are
// the arguments; grad_norm and nonfinite are the empty inits' buffers.
// CHECK-LABEL: func.func @adamw(
// CHECK-NOT: memref.copy
// CHECK: %[[N:.+]] = memref.alloc() {{.*}} : memref<1xf32>
// CHECK: %[[F:.+]] = memref.alloc() {{.*}} : memref<1xf32>
// CHECK-NOT: memref.copy
// CHECK: growk.adamw params(%arg0 : {{.*}}) grads(%arg1 : {{.*}}) exp_avg(%arg2 : {{.*}}) exp_avg_sq(%arg3 : {{.*}}) grad_sums(%arg4 : {{.*}}) {{.*}} outs(%[[N]], %[[F]] :
// CHECK-NOT: memref.copy
// CHECK: return %arg0, %arg2, %arg3, %arg4, %[[N]], %[[F]] :
func.func @adamw(%p: tensor<8xf32>, %g: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>, %s: tensor<8xf32>, %lr: tensor<1xf32>, %apply: tensor<1xf32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<1xf32>, tensor<1xf32>) {
  %n = tensor.empty() : tensor<1xf32>
  %f = tensor.empty() : tensor<1xf32>
  %r:6 = growk.adamw params(%p : tensor<8xf32>) grads(%g : tensor<8xf32>) exp_avg(%m : tensor<8xf32>) exp_avg_sq(%v : tensor<8xf32>) grad_sums(%s : tensor<8xf32>) lr(%lr : tensor<1xf32>) step(%lr : tensor<1xf32>) apply(%apply : tensor<1xf32>) loss_nonfinite(%apply : tensor<1xf32>) outs(%n, %f : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return %r#0, %r#1, %r#2, %r#3, %r#4, %r#5 : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<1xf32>, tensor<1xf32>
}

// -----

// A parameter read after the step (here: returned as it was) cannot be
// updated in place: bufferization copies it first, which the plan emitter
// refuses.
// CHECK-LABEL: func.func @adamw_read_after
// CHECK: %[[C:.+]] = memref.alloc() {{.*}} : memref<8xf32>
// CHECK: memref.copy %arg0, %[[C]]
// CHECK-NOT: memref.copy
// CHECK: growk.adamw params(%[[C]] : {{.*}}) grads(%arg1 : {{.*}}) exp_avg(%arg2 : {{.*}}) exp_avg_sq(%arg3 :
func.func @adamw_read_after(%p: tensor<8xf32>, %g: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>, %lr: tensor<1xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %n = tensor.empty() : tensor<1xf32>
  %f = tensor.empty() : tensor<1xf32>
  %r:5 = growk.adamw params(%p : tensor<8xf32>) grads(%g : tensor<8xf32>) exp_avg(%m : tensor<8xf32>) exp_avg_sq(%v : tensor<8xf32>) lr(%lr : tensor<1xf32>) step(%lr : tensor<1xf32>) loss_nonfinite(%lr : tensor<1xf32>) outs(%n, %f : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return %p, %r#0 : tensor<8xf32>, tensor<8xf32>
}

// -----

// The parameters' bf16 copies (function arguments the GEMMs read, not
// returned) are written in place too: no copy, no allocation but the two
// scalars.
// CHECK-LABEL: func.func @adamw_bf16(
// CHECK-NOT: memref.copy
// CHECK: growk.adamw params(%arg0 : {{.*}}) {{.*}} bf16_params(%arg4 : memref<8xbf16{{.*}}>) {{.*}} outs(
// CHECK-NOT: memref.copy
// CHECK: return %arg0, %arg2, %arg3, %{{.+}}, %{{.+}} :
func.func @adamw_bf16(%p: tensor<8xf32>, %g: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>, %c: tensor<8xbf16>, %lr: tensor<1xf32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<1xf32>, tensor<1xf32>) {
  %n = tensor.empty() : tensor<1xf32>
  %f = tensor.empty() : tensor<1xf32>
  %r:6 = growk.adamw params(%p : tensor<8xf32>) grads(%g : tensor<8xf32>) exp_avg(%m : tensor<8xf32>) exp_avg_sq(%v : tensor<8xf32>) bf16_params(%c : tensor<8xbf16>) lr(%lr : tensor<1xf32>) step(%lr : tensor<1xf32>) loss_nonfinite(%lr : tensor<1xf32>) outs(%n, %f : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return %r#0, %r#1, %r#2, %r#4, %r#5 : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<1xf32>, tensor<1xf32>
}
