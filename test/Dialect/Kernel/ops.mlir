// growk: every op in every form it takes (tensors and memrefs, optional
// operands and attributes), printed, parsed again and printed the same.
// RUN: %growc-opt %s -split-input-file | %growc-opt -split-input-file | FileCheck %s

// A GEMM against a weight in [out, in] layout, and with a folded residual
// (acc).
// CHECK-LABEL: func.func @matmul
// CHECK: growk.matmul %arg0, %arg1 : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
// CHECK: growk.matmul %arg0, %arg1 acc(%arg2 : tensor<4x6xf32>) : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
func.func @matmul(%a: tensor<4x8xf32>, %w: tensor<6x8xf32>, %r: tensor<4x6xf32>) -> (tensor<4x6xf32>, tensor<4x6xf32>) {
  %0 = growk.matmul %a, %w : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
  %1 = growk.matmul %a, %w acc(%r : tensor<4x6xf32>) : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
  return %0, %1 : tensor<4x6xf32>, tensor<4x6xf32>
}

// -----

// The backward layouts: dX = dY · W (B stored [K, N]) and dW = dYᵀ · X (A
// stored [K, M]); the default transpose_lhs = false is not printed.
// CHECK-LABEL: func.func @matmul_layouts
// CHECK: growk.matmul %arg0, %arg1 {transpose_rhs = false} : tensor<4x6xf32>, tensor<6x8xf32> -> tensor<4x8xf32>
// CHECK: growk.matmul %arg0, %arg2 {transpose_lhs = true, transpose_rhs = false} : tensor<4x6xf32>, tensor<4x8xf32> -> tensor<6x8xf32>
func.func @matmul_layouts(%dy: tensor<4x6xf32>, %w: tensor<6x8xf32>, %x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<6x8xf32>) {
  %dx = growk.matmul %dy, %w {transpose_lhs = false, transpose_rhs = false} : tensor<4x6xf32>, tensor<6x8xf32> -> tensor<4x8xf32>
  %dw = growk.matmul %dy, %x {transpose_lhs = true, transpose_rhs = false} : tensor<4x6xf32>, tensor<4x8xf32> -> tensor<6x8xf32>
  return %dx, %dw : tensor<4x8xf32>, tensor<6x8xf32>
}

// -----

// Mixed precision: bf16 and f16 operands.
// CHECK-LABEL: func.func @matmul_half
// CHECK: growk.matmul %arg0, %arg1 : tensor<4x8xbf16>, tensor<6x8xbf16> -> tensor<4x6xbf16>
// CHECK: growk.matmul %arg2, %arg2 : tensor<4x8xf16>, tensor<4x8xf16> -> tensor<4x4xf32>
func.func @matmul_half(%a: tensor<4x8xbf16>, %w: tensor<6x8xbf16>, %h: tensor<4x8xf16>) -> (tensor<4x6xbf16>, tensor<4x4xf32>) {
  %0 = growk.matmul %a, %w : tensor<4x8xbf16>, tensor<6x8xbf16> -> tensor<4x6xbf16>
  %1 = growk.matmul %h, %h : tensor<4x8xf16>, tensor<4x8xf16> -> tensor<4x4xf32>
  return %0, %1 : tensor<4x6xbf16>, tensor<4x4xf32>
}

// -----

// On tensors, with the default reduction (mean, not printed) and a `when`
// flag with the sum.
// CHECK-LABEL: func.func @all_reduce_tensors
// CHECK: %[[R:.+]] = growk.all_reduce %arg0 : tensor<4x8xf32> -> tensor<4x8xf32>
// CHECK: growk.all_reduce %[[R]] when(%arg1 : tensor<1xf32>) {reduction = "sum"} : tensor<4x8xf32> -> tensor<4x8xf32>
func.func @all_reduce_tensors(%g: tensor<4x8xf32>, %apply: tensor<1xf32>) -> tensor<4x8xf32> {
  %r = growk.all_reduce %g {reduction = "mean"} : tensor<4x8xf32> -> tensor<4x8xf32>
  %s = growk.all_reduce %r when(%apply : tensor<1xf32>) {reduction = "sum"} : tensor<4x8xf32> -> tensor<4x8xf32>
  return %s : tensor<4x8xf32>
}

// -----

// On memrefs, in place: no result.
// CHECK-LABEL: func.func @all_reduce_memrefs
// CHECK: growk.all_reduce %arg0 : memref<16xf32>{{$}}
// CHECK: growk.all_reduce %arg0 when(%arg1 : memref<1xf32>) : memref<16xf32>{{$}}
func.func @all_reduce_memrefs(%g: memref<16xf32>, %apply: memref<1xf32>) {
  growk.all_reduce %g : memref<16xf32>
  growk.all_reduce %g when(%apply : memref<1xf32>) : memref<16xf32>
  return
}

// -----

// CHECK-LABEL: func.func @attention_tensors
// CHECK: growk.attention ins(%arg0, %arg1, %arg2 : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%arg3 : tensor<16x64xf32>) {heads = 4 : i64, key_block = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64} -> tensor<16x64xf32>
func.func @attention_tensors(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}

// -----

// CHECK-LABEL: func.func @attention_memrefs
// CHECK: growk.attention ins(%arg0, %arg1, %arg2 : memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>) outs(%arg3 : memref<14x32xf32>) {heads = 1 : i64, key_block = 64 : i64, kv_heads = 1 : i64, seq_len = 7 : i64}{{$}}
func.func @attention_memrefs(%q: memref<14x32xf32>, %k: memref<14x32xf32>, %v: memref<14x32xf32>, %o: memref<14x32xf32>) {
  growk.attention ins(%q, %k, %v : memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>) outs(%o : memref<14x32xf32>) {heads = 1 : i64, kv_heads = 1 : i64, seq_len = 7 : i64, key_block = 64 : i64}
  return
}

// -----

// CHECK-LABEL: func.func @attention_grad_tensors
// CHECK: %{{.+}}:3 = growk.attention_grad ins(%arg0, %arg1, %arg2, %arg3, %arg4 : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x64xf32>, tensor<16x64xf32>) outs(%arg0, %arg1, %arg2 : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {heads = 4 : i64, key_block = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64} -> tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>
func.func @attention_grad_tensors(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>, %do: tensor<16x64xf32>) -> (tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {
  %dq, %dk, %dv = growk.attention_grad ins(%q, %k, %v, %o, %do : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x64xf32>, tensor<16x64xf32>) outs(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>
  return %dq, %dk, %dv : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>
}

// -----

// The kernel library's form may read and write bf16 activations
// (growc-demote-activations); the gradients stay f32.
// CHECK-LABEL: func.func @attention_library_bf16
// CHECK: growk.attention ins(%arg0, %arg1, %arg1 : tensor<16x64xbf16>, tensor<16x32xbf16>, tensor<16x32xbf16>) outs(%arg2 : tensor<16x64xbf16>)
// CHECK: growk.attention_grad ins(%arg0, %arg1, %arg1, %{{.+}}, %arg0 : tensor<16x64xbf16>, tensor<16x32xbf16>, tensor<16x32xbf16>, tensor<16x64xbf16>, tensor<16x64xbf16>) outs(%arg3, %arg4, %arg4 : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>)
func.func @attention_library_bf16(%q: tensor<16x64xbf16>, %kv: tensor<16x32xbf16>, %o: tensor<16x64xbf16>, %dq: tensor<16x64xf32>, %dkv: tensor<16x32xf32>) -> tensor<16x64xf32> {
  %r = growk.attention ins(%q, %kv, %kv : tensor<16x64xbf16>, tensor<16x32xbf16>, tensor<16x32xbf16>) outs(%o : tensor<16x64xbf16>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64, growc.library_kernel = "growc_flash_forward_hd16_bf16_bf16"} -> tensor<16x64xbf16>
  %g:3 = growk.attention_grad ins(%q, %kv, %kv, %r, %q : tensor<16x64xbf16>, tensor<16x32xbf16>, tensor<16x32xbf16>, tensor<16x64xbf16>, tensor<16x64xbf16>) outs(%dq, %dkv, %dkv : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64, growc.library_kernel = "growc_flash_backward_hd16_bf16"} -> tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>
  return %g#0 : tensor<16x64xf32>
}

// -----

// The library's forward may save its rows' log-sum-exps ([B x heads, T],
// a second result) for the gradient, which reads them.
// CHECK-LABEL: func.func @attention_library_lse
// CHECK: %[[R:.+]]:2 = growk.attention ins(%arg0, %arg1, %arg1 : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%arg2 : tensor<16x64xf32>) lse(%arg3 : tensor<8x8xf32>)
// CHECK: growk.attention_grad ins(%arg0, %arg1, %arg1, %[[R]]#0, %arg0 : {{.*}}) lse(%[[R]]#1 : tensor<8x8xf32>) outs(
// CHECK-LABEL: func.func @attention_library_lse_memrefs
// CHECK: growk.attention ins(%arg0, %arg1, %arg1 : {{.*}}) outs(%arg2 : memref<16x64xf32>) lse(%arg3 : memref<8x8xf32>) {
func.func @attention_library_lse(%q: tensor<16x64xf32>, %kv: tensor<16x32xf32>, %o: tensor<16x64xf32>, %lse: tensor<8x8xf32>) -> tensor<16x64xf32> {
  %r:2 = growk.attention ins(%q, %kv, %kv : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) lse(%lse : tensor<8x8xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64, growc.library_kernel = "growc_flash_forward_hd16_f32_f32"} -> tensor<16x64xf32>, tensor<8x8xf32>
  %g:3 = growk.attention_grad ins(%q, %kv, %kv, %r#0, %q : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x64xf32>, tensor<16x64xf32>) lse(%r#1 : tensor<8x8xf32>) outs(%o, %kv, %kv : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64, growc.library_kernel = "growc_flash_backward_hd16_f32"} -> tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>
  return %g#0 : tensor<16x64xf32>
}
func.func @attention_library_lse_memrefs(%q: memref<16x64xf32>, %kv: memref<16x32xf32>, %o: memref<16x64xf32>, %lse: memref<8x8xf32>) {
  growk.attention ins(%q, %kv, %kv : memref<16x64xf32>, memref<16x32xf32>, memref<16x32xf32>) outs(%o : memref<16x64xf32>) lse(%lse : memref<8x8xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64, growc.library_kernel = "growc_flash_forward_hd16_f32_f32"}
  return
}

// -----

// CHECK-LABEL: func.func @attention_grad_memrefs
// CHECK: growk.attention_grad ins(%arg0, %arg0, %arg0, %arg0, %arg0 : memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>) outs(%arg0, %arg0, %arg0 : memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>) {heads = 1 : i64, key_block = 64 : i64, kv_heads = 1 : i64, seq_len = 7 : i64}{{$}}
func.func @attention_grad_memrefs(%x: memref<14x32xf32>) {
  growk.attention_grad ins(%x, %x, %x, %x, %x : memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>) outs(%x, %x, %x : memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>) {heads = 1 : i64, kv_heads = 1 : i64, seq_len = 7 : i64, key_block = 64 : i64}
  return
}

// -----

// The tape a grad graph's forward lowering leaves for the reverse pass:
// values with their (op position, slot), the loss and gradients as results.
// CHECK-LABEL: func.func @forward_tape
// CHECK: %{{.+}}:2 = growk.forward_tape @m.model(%arg0, %arg1, %arg2) {key_block = 4 : i64, loss_rows = 0 : i64, positions = array<i64: 1, 1, 2>, slots = array<i64: -1, -2, 0>} : (tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x8xf32>) -> (tensor<1xf32>, tensor<16x8xf32>)
func.func @forward_tape(%cos: tensor<4x2xf32>, %sin: tensor<4x2xf32>, %h: tensor<4x8xf32>) -> (tensor<1xf32>, tensor<16x8xf32>) {
  %loss, %g0 = growk.forward_tape @m.model(%cos, %sin, %h) {positions = array<i64: 1, 1, 2>, slots = array<i64: -1, -2, 0>, key_block = 4 : i64, loss_rows = 0 : i64} : (tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x8xf32>) -> (tensor<1xf32>, tensor<16x8xf32>)
  return %loss, %g0 : tensor<1xf32>, tensor<16x8xf32>
}

// -----

// The optimizer step on tensors: the new params and moments (in place),
// then grad_norm and nonfinite. Result types come from the operands.
// CHECK-LABEL: func.func @adamw_tensors
// CHECK: %{{.+}}:8 = growk.adamw params(%arg0, %arg1 : tensor<4x8xf32>, tensor<8xf32>) grads(%arg2, %arg3 : tensor<4x8xf32>, tensor<8xf32>) exp_avg(%arg4, %arg5 : tensor<4x8xf32>, tensor<8xf32>) exp_avg_sq(%arg6, %arg7 : tensor<4x8xf32>, tensor<8xf32>) lr(%arg8 : tensor<1xf32>) step(%arg9 : tensor<1xf32>) loss_nonfinite(%arg10 : tensor<1xf32>) outs(%arg11, %arg12 : tensor<1xf32>, tensor<1xf32>) {beta1 = 9.000000e-01 : f64, beta2 = 0.94999999999999996 : f64, eps = 1.000000e-08 : f64, max_grad_norm = 1.000000e+00 : f64, weight_decay = 1.000000e-02 : f64}{{$}}
func.func @adamw_tensors(%w: tensor<4x8xf32>, %b: tensor<8xf32>, %gw: tensor<4x8xf32>, %gb: tensor<8xf32>, %mw: tensor<4x8xf32>, %mb: tensor<8xf32>, %vw: tensor<4x8xf32>, %vb: tensor<8xf32>, %lr: tensor<1xf32>, %step: tensor<1xf32>, %lb: tensor<1xf32>, %n0: tensor<1xf32>, %f0: tensor<1xf32>) -> (tensor<4x8xf32>, tensor<1xf32>) {
  %r:8 = growk.adamw params(%w, %b : tensor<4x8xf32>, tensor<8xf32>) grads(%gw, %gb : tensor<4x8xf32>, tensor<8xf32>) exp_avg(%mw, %mb : tensor<4x8xf32>, tensor<8xf32>) exp_avg_sq(%vw, %vb : tensor<4x8xf32>, tensor<8xf32>) lr(%lr : tensor<1xf32>) step(%step : tensor<1xf32>) loss_nonfinite(%lb : tensor<1xf32>) outs(%n0, %f0 : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return %r#0, %r#6 : tensor<4x8xf32>, tensor<1xf32>
}

// -----

// With gradient accumulation: the sums and the apply flag; on memrefs, in
// place with no results.
// CHECK-LABEL: func.func @adamw_memrefs
// CHECK: growk.adamw params(%arg0 : memref<8xf32>) grads(%arg1 : memref<8xf32>) exp_avg(%arg2 : memref<8xf32>) exp_avg_sq(%arg3 : memref<8xf32>) grad_sums(%arg4 : memref<8xf32>) lr(%arg5 : memref<1xf32>) step(%arg5 : memref<1xf32>) apply(%arg6 : memref<1xf32>) loss_nonfinite(%arg6 : memref<1xf32>) outs(%arg7, %arg8 : memref<1xf32>, memref<1xf32>) {beta1 = 5.000000e-01 : f64, beta2 = 0.000000e+00 : f64, eps = 1.000000e-08 : f64, max_grad_norm = 2.000000e+00 : f64, weight_decay = 0.000000e+00 : f64}{{$}}
func.func @adamw_memrefs(%p: memref<8xf32>, %g: memref<8xf32>, %m: memref<8xf32>, %v: memref<8xf32>, %s: memref<8xf32>, %lr: memref<1xf32>, %apply: memref<1xf32>, %norm: memref<1xf32>, %bad: memref<1xf32>) {
  growk.adamw params(%p : memref<8xf32>) grads(%g : memref<8xf32>) exp_avg(%m : memref<8xf32>) exp_avg_sq(%v : memref<8xf32>) grad_sums(%s : memref<8xf32>) lr(%lr : memref<1xf32>) step(%lr : memref<1xf32>) apply(%apply : memref<1xf32>) loss_nonfinite(%apply : memref<1xf32>) outs(%norm, %bad : memref<1xf32>, memref<1xf32>) {beta1 = 0.5 : f64, beta2 = 0.0 : f64, eps = 1.0e-8 : f64, weight_decay = 0.0 : f64, max_grad_norm = 2.0 : f64}
  return
}

// With the parameters' bf16 copies (mixed precision): one more in-place
// result per parameter, before grad_norm and nonfinite.
// CHECK-LABEL: func.func @adamw_bf16
// CHECK: %{{.+}}:6 = growk.adamw params(%arg0 : tensor<8xf32>) grads(%arg0 : tensor<8xf32>) exp_avg(%arg0 : tensor<8xf32>) exp_avg_sq(%arg0 : tensor<8xf32>) bf16_params(%arg1 : tensor<8xbf16>) lr(%arg2 : tensor<1xf32>)
// CHECK: growk.adamw params(%arg3 : memref<8xf32>) {{.*}} bf16_params(%arg4 : memref<8xbf16>) lr(
func.func @adamw_bf16(%p: tensor<8xf32>, %c: tensor<8xbf16>, %s: tensor<1xf32>, %pm: memref<8xf32>, %cm: memref<8xbf16>, %sm: memref<1xf32>) -> tensor<8xbf16> {
  %r:6 = growk.adamw params(%p : tensor<8xf32>) grads(%p : tensor<8xf32>) exp_avg(%p : tensor<8xf32>) exp_avg_sq(%p : tensor<8xf32>) bf16_params(%c : tensor<8xbf16>) lr(%s : tensor<1xf32>) step(%s : tensor<1xf32>) loss_nonfinite(%s : tensor<1xf32>) outs(%s, %s : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  growk.adamw params(%pm : memref<8xf32>) grads(%pm : memref<8xf32>) exp_avg(%pm : memref<8xf32>) exp_avg_sq(%pm : memref<8xf32>) bf16_params(%cm : memref<8xbf16>) lr(%sm : memref<1xf32>) step(%sm : memref<1xf32>) loss_nonfinite(%sm : memref<1xf32>) outs(%sm, %sm : memref<1xf32>, memref<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return %r#3 : tensor<8xbf16>
}
