// growk: one case per verifier rule of every op (ODS constraints and the
// C++ verifiers in dialects/Kernel/KernelOps.cpp).
// RUN: %growc-opt %s -split-input-file -verify-diagnostics

// With transpose_lhs, A is [K, M]: its K must match B's.
func.func @matmul_transposed_sizes(%dy: tensor<4x6xf32>, %x: tensor<5x8xf32>) -> tensor<6x8xf32> {
  // expected-error @+1 {{contraction sizes differ: A is 'tensor<4x6xf32>' ([K, M]) and B is 'tensor<5x8xf32>' (B is [K, N])}}
  %dw = growk.matmul %dy, %x {transpose_lhs = true, transpose_rhs = false} : tensor<4x6xf32>, tensor<5x8xf32> -> tensor<6x8xf32>
  return %dw : tensor<6x8xf32>
}

// -----

// The folded residual has the result's type.
func.func @matmul_acc_shape(%a: tensor<4x8xf32>, %w: tensor<6x8xf32>, %r: tensor<6x4xf32>) -> tensor<4x6xf32> {
  // expected-error @+1 {{acc must have the result type 'tensor<4x6xf32>', got 'tensor<6x4xf32>'}}
  %0 = growk.matmul %a, %w acc(%r : tensor<6x4xf32>) : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
  return %0 : tensor<4x6xf32>
}

// -----

// A [M, K] and B [N, K] share K.
func.func @matmul_contraction(%a: tensor<4x8xf32>, %w: tensor<6x7xf32>) -> tensor<4x6xf32> {
  // expected-error @+1 {{contraction sizes differ}}
  %0 = growk.matmul %a, %w : tensor<4x8xf32>, tensor<6x7xf32> -> tensor<4x6xf32>
  return %0 : tensor<4x6xf32>
}

// -----

// The accumulator of a folded residual is f32, so a bf16 result cannot take
// one.
func.func @matmul_bf16_acc(%a: tensor<4x8xbf16>, %w: tensor<6x8xbf16>, %r: tensor<4x6xf32>) -> tensor<4x6xbf16> {
  // expected-error @+1 {{acc must have the result type 'tensor<4x6xbf16>', got 'tensor<4x6xf32>'}}
  %0 = growk.matmul %a, %w acc(%r : tensor<4x6xf32>) : tensor<4x8xbf16>, tensor<6x8xbf16> -> tensor<4x6xbf16>
  return %0 : tensor<4x6xbf16>
}

// -----

// The result is [M, N].
func.func @matmul_result_shape(%a: tensor<4x8xf32>, %w: tensor<6x8xf32>) -> tensor<4x5xf32> {
  // expected-error @+1 {{result must be [4, 6], got 'tensor<4x5xf32>'}}
  %0 = growk.matmul %a, %w : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x5xf32>
  return %0 : tensor<4x5xf32>
}

// -----

// Operands are floats (ODS constraint).
func.func @matmul_integer(%a: tensor<4x8xi32>, %w: tensor<6x8xf32>) -> tensor<4x6xf32> {
  // expected-error @+1 {{operand #0 must be 2D tensor of 32-bit float or bfloat16 type or 16-bit float values}}
  %0 = growk.matmul %a, %w : tensor<4x8xi32>, tensor<6x8xf32> -> tensor<4x6xf32>
  return %0 : tensor<4x6xf32>
}

// -----

// Gradients are reduced in f32 only.
func.func @all_reduce_not_f32(%g: tensor<4xf16>) {
  // expected-error @+1 {{reduces a static f32 tensor or memref, got 'tensor<4xf16>'}}
  %r = growk.all_reduce %g : tensor<4xf16> -> tensor<4xf16>
  return
}

// -----

// On tensors the result is the reduced value's type.
func.func @all_reduce_result_type(%g: tensor<4xf32>) {
  // expected-error @+1 {{result type must be the value's type 'tensor<4xf32>'}}
  %r = growk.all_reduce %g : tensor<4xf32> -> tensor<2x2xf32>
  return
}

// -----

// On tensors the reduced value is a result.
func.func @all_reduce_no_result_on_tensors(%g: tensor<4xf32>) {
  // expected-error @+1 {{on tensors has one result}}
  growk.all_reduce %g : tensor<4xf32>
  return
}

// -----

// The 'when' flag is one element.
func.func @all_reduce_flag_shape(%g: tensor<4xf32>, %apply: tensor<2xf32>) {
  // expected-error @+1 {{'when' must be a one-element f32 tensor, got 'tensor<2xf32>'}}
  %r = growk.all_reduce %g when(%apply : tensor<2xf32>) : tensor<4xf32> -> tensor<4xf32>
  return
}

// -----

// The flag is a memref when the value is.
func.func @all_reduce_flag_kind(%g: memref<4xf32>, %apply: tensor<1xf32>) {
  // expected-error @+1 {{'when' must be a one-element f32 memref}}
  growk.all_reduce %g when(%apply : tensor<1xf32>) : memref<4xf32>
  return
}

// -----

// Only the mean and the sum are collectives the runtime has.
func.func @all_reduce_reduction(%g: tensor<4xf32>) {
  // expected-error @+1 {{reduction must be "mean" or "sum", got "max"}}
  %r = growk.all_reduce %g {reduction = "max"} : tensor<4xf32> -> tensor<4xf32>
  return
}

// -----

// On memrefs it reduces in place: no result.
func.func @all_reduce_result_on_memrefs(%g: memref<4xf32>) {
  // expected-error @+1 {{on memrefs has no result}}
  %r = growk.all_reduce %g : memref<4xf32> -> tensor<4xf32>
  return
}

// -----

// Tensors and memrefs are not mixed.
func.func @attention_mixed(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: memref<16x64xf32>) {
  // expected-error @+1 {{operands must be all tensors or all memrefs}}
  growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : memref<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

// Rows are whole sequences.
func.func @attention_rows_not_batches(%q: tensor<15x64xf32>, %k: tensor<15x32xf32>, %v: tensor<15x32xf32>, %o: tensor<15x64xf32>) {
  // expected-error @+1 {{rows (15) must be a multiple of seq_len (8)}}
  %r = growk.attention ins(%q, %k, %v : tensor<15x64xf32>, tensor<15x32xf32>, tensor<15x32xf32>) outs(%o : tensor<15x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<15x64xf32>
  return
}

// -----

// Query heads share KV heads in equal groups.
func.func @attention_groups(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>) {
  // expected-error @+1 {{heads (4) must be a multiple of kv_heads (3)}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 3 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  return
}

// -----

// K and V hold kv_heads heads of q's head size.
func.func @attention_kv_width(%q: tensor<16x64xf32>, %k: tensor<16x16xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>) {
  // expected-error @+1 {{k and v must be [rows, kv_heads x head_dim = 32]}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x16xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  return
}

// -----

// Every operand has one row per token.
func.func @attention_row_mismatch(%q: tensor<16x64xf32>, %k: tensor<8x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>) {
  // expected-error @+1 {{q, k, v and init must have the same rows}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<8x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  return
}

// -----

// On memrefs it writes init in place: no result.
func.func @attention_result_on_memrefs(%q: memref<16x64xf32>, %k: memref<16x32xf32>, %v: memref<16x32xf32>, %o: memref<16x64xf32>) {
  // expected-error @+1 {{on memrefs has no result}}
  %r = growk.attention ins(%q, %k, %v : memref<16x64xf32>, memref<16x32xf32>, memref<16x32xf32>) outs(%o : memref<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  return
}

// -----

// Activations are f32 (or bf16, below).
func.func @attention_f16(%q: tensor<16x64xf16>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>) {
  // expected-error @+1 {{operand #0 must be f32, got 'tensor<16x64xf16>'}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf16>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  return
}

// -----

// Tiles have at least one key (ODS constraint).
func.func @attention_zero_block(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>) {
  // expected-error @+1 {{attribute 'key_block' failed to satisfy constraint}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 0 : i64} -> tensor<16x64xf32>
  return
}

// -----

// On tensors the output is a result.
func.func @attention_no_result_on_tensors(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>) {
  // expected-error @+1 {{on tensors has one result}}
  growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

// The result has init's type.
func.func @attention_result_type(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>) {
  // expected-error @+1 {{result type must be the init type 'tensor<16x64xf32>'}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<8x128xf32>
  return
}

// -----

// The output has q's shape.
func.func @attention_init_shape(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x32xf32>) {
  // expected-error @+1 {{init must have the shape of q}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x32xf32>
  return
}

// -----

// q's width is a whole number of heads.
func.func @attention_q_width(%q: tensor<16x66xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x66xf32>) {
  // expected-error @+1 {{q width 66 is not heads x head_dim}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x66xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x66xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x66xf32>
  return
}

// -----

// Tensors and memrefs are not mixed.
func.func @attention_grad_mixed(%t: tensor<16x64xf32>, %m: memref<16x64xf32>) {
  // expected-error @+1 {{operands must be all tensors or all memrefs}}
  growk.attention_grad ins(%t, %t, %t, %t, %t : tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>) outs(%m, %m, %m : memref<16x64xf32>, memref<16x64xf32>, memref<16x64xf32>) {heads = 4 : i64, kv_heads = 4 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

// The attention gradient's activations are f32 (or bf16, below).
func.func @attention_grad_f16(%x: memref<16x64xf16>) {
  // expected-error @+1 {{operand #0 must be f32}}
  growk.attention_grad ins(%x, %x, %x, %x, %x : memref<16x64xf16>, memref<16x64xf16>, memref<16x64xf16>, memref<16x64xf16>, memref<16x64xf16>) outs(%x, %x, %x : memref<16x64xf16>, memref<16x64xf16>, memref<16x64xf16>) {heads = 4 : i64, kv_heads = 4 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

// On memrefs it writes the inits in place: no results.
func.func @attention_grad_results_on_memrefs(%x: memref<16x64xf32>) {
  // expected-error @+1 {{on memrefs has no result}}
  %a, %b, %c = growk.attention_grad ins(%x, %x, %x, %x, %x : memref<16x64xf32>, memref<16x64xf32>, memref<16x64xf32>, memref<16x64xf32>, memref<16x64xf32>) outs(%x, %x, %x : memref<16x64xf32>, memref<16x64xf32>, memref<16x64xf32>) {heads = 4 : i64, kv_heads = 4 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>
  return
}

// -----

// Each result has its init's type.
func.func @attention_grad_result_type(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>) {
  // expected-error @+1 {{result types must be the init types}}
  %a, %b, %c = growk.attention_grad ins(%q, %k, %k, %q, %q : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x64xf32>, tensor<16x64xf32>) outs(%q, %k, %k : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x32xf32>
  return
}

// -----

// Every operand has one row per token.
func.func @attention_grad_rows(%q: memref<16x64xf32>, %k: memref<8x32xf32>) {
  // expected-error @+1 {{every operand must have 16 rows}}
  growk.attention_grad ins(%q, %k, %k, %q, %q : memref<16x64xf32>, memref<8x32xf32>, memref<8x32xf32>, memref<16x64xf32>, memref<16x64xf32>) outs(%q, %k, %k : memref<16x64xf32>, memref<8x32xf32>, memref<8x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

// Rows are whole sequences.
func.func @attention_grad_seq_len(%q: memref<16x64xf32>, %k: memref<16x32xf32>) {
  // expected-error @+1 {{rows (16) must be a multiple of seq_len (5)}}
  growk.attention_grad ins(%q, %k, %k, %q, %q : memref<16x64xf32>, memref<16x32xf32>, memref<16x32xf32>, memref<16x64xf32>, memref<16x64xf32>) outs(%q, %k, %k : memref<16x64xf32>, memref<16x32xf32>, memref<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 5 : i64, key_block = 4 : i64}
  return
}

// -----

// Query heads share KV heads in equal groups.
func.func @attention_grad_groups(%q: memref<16x64xf32>, %k: memref<16x48xf32>) {
  // expected-error @+1 {{heads (4) must be a multiple of kv_heads (3)}}
  growk.attention_grad ins(%q, %k, %k, %q, %q : memref<16x64xf32>, memref<16x48xf32>, memref<16x48xf32>, memref<16x64xf32>, memref<16x64xf32>) outs(%q, %k, %k : memref<16x64xf32>, memref<16x48xf32>, memref<16x48xf32>) {heads = 4 : i64, kv_heads = 3 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

// q's width is a whole number of heads.
func.func @attention_grad_q_width(%q: memref<16x66xf32>, %k: memref<16x32xf32>) {
  // expected-error @+1 {{q width 66 is not heads x head_dim}}
  growk.attention_grad ins(%q, %k, %k, %q, %q : memref<16x66xf32>, memref<16x32xf32>, memref<16x32xf32>, memref<16x66xf32>, memref<16x66xf32>) outs(%q, %k, %k : memref<16x66xf32>, memref<16x32xf32>, memref<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

// o, dout and dq have q's shape.
func.func @attention_grad_dout_shape(%q: memref<16x64xf32>, %k: memref<16x32xf32>) {
  // expected-error @+1 {{o, dout and dq_init must have the shape of q}}
  growk.attention_grad ins(%q, %k, %k, %q, %k : memref<16x64xf32>, memref<16x32xf32>, memref<16x32xf32>, memref<16x64xf32>, memref<16x32xf32>) outs(%q, %k, %k : memref<16x64xf32>, memref<16x32xf32>, memref<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

// dk and dv have k's shape.
func.func @attention_grad_kv_shape(%q: memref<16x64xf32>, %k: memref<16x32xf32>) {
  // expected-error @+1 {{k, v, dk_init and dv_init must be [rows, kv_heads x head_dim = 32]}}
  growk.attention_grad ins(%q, %k, %k, %q, %q : memref<16x64xf32>, memref<16x32xf32>, memref<16x32xf32>, memref<16x64xf32>, memref<16x64xf32>) outs(%q, %k, %q : memref<16x64xf32>, memref<16x32xf32>, memref<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

// On tensors dq, dk and dv are results.
func.func @attention_grad_no_results_on_tensors(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>) {
  // expected-error @+1 {{on tensors has three results (dq, dk, dv)}}
  growk.attention_grad ins(%q, %k, %k, %q, %q : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x64xf32>, tensor<16x64xf32>) outs(%q, %k, %k : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

// Each taped value has one position and one slot.
func.func @forward_tape_counts(%h: tensor<4x8xf32>) {
  // expected-error @+1 {{records 1 values but 2 positions and 1 slots; each value needs one of each}}
  growk.forward_tape @m.model(%h) {positions = array<i64: 1, 2>, slots = array<i64: 0>, key_block = 4 : i64, loss_rows = 0 : i64} : (tensor<4x8xf32>) -> ()
  return
}

// -----

// Positions index the model's body.
func.func @forward_tape_position(%h: tensor<4x8xf32>) {
  // expected-error @+1 {{positions index the model's body and cannot be negative}}
  growk.forward_tape @m.model(%h) {positions = array<i64: -1>, slots = array<i64: 0>, key_block = 4 : i64, loss_rows = 0 : i64} : (tensor<4x8xf32>) -> ()
  return
}

// -----

// Tiles have at least one key; loss rows are 0 (automatic) or
// more (ODS constraints).
func.func @forward_tape_key_block(%h: tensor<4x8xf32>) {
  // expected-error @+1 {{attribute 'key_block' failed to satisfy constraint}}
  growk.forward_tape @m.model(%h) {positions = array<i64: 1>, slots = array<i64: 0>, key_block = 0 : i64, loss_rows = 0 : i64} : (tensor<4x8xf32>) -> ()
  return
}

// -----

func.func @forward_tape_loss_rows(%h: tensor<4x8xf32>) {
  // expected-error @+1 {{attribute 'loss_rows' failed to satisfy constraint}}
  growk.forward_tape @m.model(%h) {positions = array<i64: 1>, slots = array<i64: 0>, key_block = 4 : i64, loss_rows = -1 : i64} : (tensor<4x8xf32>) -> ()
  return
}

// -----

// growk.adamw: one entry per parameter in every list.
func.func @adamw_list_length(%p: tensor<8xf32>, %s: tensor<1xf32>) {
  // expected-error @+1 {{has 1 params but 2 exp_avg; each list holds one per parameter, in the same order}}
  %r:6 = growk.adamw params(%p : tensor<8xf32>) grads(%p : tensor<8xf32>) exp_avg(%p, %p : tensor<8xf32>, tensor<8xf32>) exp_avg_sq(%p : tensor<8xf32>) lr(%s : tensor<1xf32>) step(%s : tensor<1xf32>) loss_nonfinite(%s : tensor<1xf32>) outs(%s, %s : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return
}

// -----

// The sums, when present, too.
func.func @adamw_sums_length(%p: tensor<8xf32>, %s: tensor<1xf32>) {
  // expected-error @+1 {{has 2 params but 1 grad_sums}}
  %r:9 = growk.adamw params(%p, %p : tensor<8xf32>, tensor<8xf32>) grads(%p, %p : tensor<8xf32>, tensor<8xf32>) exp_avg(%p, %p : tensor<8xf32>, tensor<8xf32>) exp_avg_sq(%p, %p : tensor<8xf32>, tensor<8xf32>) grad_sums(%p : tensor<8xf32>) lr(%s : tensor<1xf32>) step(%s : tensor<1xf32>) apply(%s : tensor<1xf32>) loss_nonfinite(%s : tensor<1xf32>) outs(%s, %s : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return
}

// -----

// The bf16 copies (mixed precision), when present: one per parameter...
func.func @adamw_bf16_length(%p: tensor<8xf32>, %c: tensor<8xbf16>, %s: tensor<1xf32>) {
  // expected-error @+1 {{has 2 params but 1 bf16_params; each list holds one per parameter, in the same order}}
  %r:9 = growk.adamw params(%p, %p : tensor<8xf32>, tensor<8xf32>) grads(%p, %p : tensor<8xf32>, tensor<8xf32>) exp_avg(%p, %p : tensor<8xf32>, tensor<8xf32>) exp_avg_sq(%p, %p : tensor<8xf32>, tensor<8xf32>) bf16_params(%c : tensor<8xbf16>) lr(%s : tensor<1xf32>) step(%s : tensor<1xf32>) loss_nonfinite(%s : tensor<1xf32>) outs(%s, %s : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return
}

// -----

// ...each its parameter's shape in bf16.
func.func @adamw_bf16_type(%p: tensor<8xf32>, %s: tensor<1xf32>) {
  // expected-error @+1 {{bf16_params #0 must have the shape of params #0 ('tensor<8xf32>') in bf16, got 'tensor<8xf32>'}}
  %r:6 = growk.adamw params(%p : tensor<8xf32>) grads(%p : tensor<8xf32>) exp_avg(%p : tensor<8xf32>) exp_avg_sq(%p : tensor<8xf32>) bf16_params(%p : tensor<8xf32>) lr(%s : tensor<1xf32>) step(%s : tensor<1xf32>) loss_nonfinite(%s : tensor<1xf32>) outs(%s, %s : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return
}

// -----

// At least one parameter.
func.func @adamw_empty(%s: tensor<1xf32>) {
  // expected-error @+1 {{updates at least one parameter}}
  %r:2 = "growk.adamw"(%s, %s, %s, %s, %s) <{operandSegmentSizes = array<i32: 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1>, beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}> : (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> (tensor<1xf32>, tensor<1xf32>)
  return
}

// -----

// The k-th entries of the lists have the k-th parameter's shape.
func.func @adamw_shape(%p: tensor<8xf32>, %g: tensor<4xf32>, %s: tensor<1xf32>) {
  // expected-error @+1 {{grads #0 must have the shape and element type of params #0 ('tensor<8xf32>'), got 'tensor<4xf32>'}}
  %r:5 = growk.adamw params(%p : tensor<8xf32>) grads(%g : tensor<4xf32>) exp_avg(%p : tensor<8xf32>) exp_avg_sq(%p : tensor<8xf32>) lr(%s : tensor<1xf32>) step(%s : tensor<1xf32>) loss_nonfinite(%s : tensor<1xf32>) outs(%s, %s : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return
}

// -----

// The optimizer state is f32 (the master weights), whatever the GEMMs read.
func.func @adamw_bf16(%p: tensor<8xbf16>, %s: tensor<1xf32>) {
  // expected-error @+1 {{params must be static f32, got 'tensor<8xbf16>'}}
  %r:5 = growk.adamw params(%p : tensor<8xbf16>) grads(%p : tensor<8xbf16>) exp_avg(%p : tensor<8xbf16>) exp_avg_sq(%p : tensor<8xbf16>) lr(%s : tensor<1xf32>) step(%s : tensor<1xf32>) loss_nonfinite(%s : tensor<1xf32>) outs(%s, %s : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return
}

// -----

// Scalars are one element.
func.func @adamw_scalar(%p: tensor<8xf32>, %s: tensor<1xf32>, %lr: tensor<2xf32>) {
  // expected-error @+1 {{'lr' must be a one-element f32 tensor, got 'tensor<2xf32>'}}
  %r:5 = growk.adamw params(%p : tensor<8xf32>) grads(%p : tensor<8xf32>) exp_avg(%p : tensor<8xf32>) exp_avg_sq(%p : tensor<8xf32>) lr(%lr : tensor<2xf32>) step(%s : tensor<1xf32>) loss_nonfinite(%s : tensor<1xf32>) outs(%s, %s : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return
}

// -----

// Tensors and memrefs do not mix.
func.func @adamw_mixed(%p: tensor<8xf32>, %s: tensor<1xf32>, %m: memref<1xf32>) {
  // expected-error @+1 {{operands must be all tensors or all memrefs}}
  growk.adamw params(%p : tensor<8xf32>) grads(%p : tensor<8xf32>) exp_avg(%p : tensor<8xf32>) exp_avg_sq(%p : tensor<8xf32>) lr(%m : memref<1xf32>) step(%s : tensor<1xf32>) loss_nonfinite(%s : tensor<1xf32>) outs(%s, %s : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return
}

// -----

// The sums are reset on the applying micro-batch, which needs the flag.
func.func @adamw_sums_without_apply(%p: tensor<8xf32>, %s: tensor<1xf32>) {
  // expected-error @+1 {{grad_sums (gradient accumulation) need 'apply'}}
  %r:6 = growk.adamw params(%p : tensor<8xf32>) grads(%p : tensor<8xf32>) exp_avg(%p : tensor<8xf32>) exp_avg_sq(%p : tensor<8xf32>) grad_sums(%p : tensor<8xf32>) lr(%s : tensor<1xf32>) step(%s : tensor<1xf32>) loss_nonfinite(%s : tensor<1xf32>) outs(%s, %s : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return
}

// -----

func.func @adamw_beta(%p: tensor<8xf32>, %s: tensor<1xf32>) {
  // expected-error @+1 {{beta1 and beta2 must be in [0, 1), got 1.000000e+00 and 9.500000e-01}}
  %r:5 = growk.adamw params(%p : tensor<8xf32>) grads(%p : tensor<8xf32>) exp_avg(%p : tensor<8xf32>) exp_avg_sq(%p : tensor<8xf32>) lr(%s : tensor<1xf32>) step(%s : tensor<1xf32>) loss_nonfinite(%s : tensor<1xf32>) outs(%s, %s : tensor<1xf32>, tensor<1xf32>) {beta1 = 1.0 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return
}

// -----

func.func @adamw_eps(%p: tensor<8xf32>, %s: tensor<1xf32>) {
  // expected-error @+1 {{eps and max_grad_norm must be positive and weight_decay non-negative}}
  %r:5 = growk.adamw params(%p : tensor<8xf32>) grads(%p : tensor<8xf32>) exp_avg(%p : tensor<8xf32>) exp_avg_sq(%p : tensor<8xf32>) lr(%s : tensor<1xf32>) step(%s : tensor<1xf32>) loss_nonfinite(%s : tensor<1xf32>) outs(%s, %s : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 0.0 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return
}

// -----

// On tensors the results are the written operands' types (inferred).
func.func @adamw_results(%p: tensor<8xf32>, %s: tensor<1xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<8xf32>', 'tensor<8xf32>', 'tensor<8xf32>', 'tensor<1xf32>', 'tensor<1xf32>' are incompatible with return type(s) of operation 'tensor<8xf32>', 'tensor<8xf32>', 'tensor<8xf32>', 'tensor<1xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %r:4 = "growk.adamw"(%p, %p, %p, %p, %s, %s, %s, %s, %s) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1>, beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}> : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<1xf32>)
  return
}

// -----

// bf16 activations are the kernel library's (growc-demote-activations);
// the generated forms compute on f32.
func.func @attention_bf16_generated(%q: tensor<16x64xbf16>, %k: tensor<16x32xbf16>, %v: tensor<16x32xbf16>, %o: tensor<16x64xbf16>) {
  // expected-error @+1 {{bf16 operands need the kernel library's form (growc.library_kernel), got 'tensor<16x64xbf16>'}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xbf16>, tensor<16x32xbf16>, tensor<16x32xbf16>) outs(%o : tensor<16x64xbf16>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xbf16>
  return
}

// -----

// q, k and v share one element type: one library instance reads them.
func.func @attention_mixed_activations(%q: tensor<16x64xbf16>, %k: tensor<16x32xf32>, %v: tensor<16x32xbf16>, %o: tensor<16x64xbf16>) {
  // expected-error @+1 {{operand #1 must have the element type of q, 'bf16', got 'tensor<16x32xf32>'}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xbf16>, tensor<16x32xf32>, tensor<16x32xbf16>) outs(%o : tensor<16x64xbf16>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64, growc.library_kernel = "growc_flash_forward_hd16_bf16_bf16"} -> tensor<16x64xbf16>
  return
}

// -----

// The gradients are f32 whatever the activations are.
func.func @attention_grad_bf16_gradient(%x: memref<16x64xbf16>, %g: memref<16x64xf32>) {
  // expected-error @+1 {{operand #6 must be f32, got 'memref<16x64xbf16>'}}
  growk.attention_grad ins(%x, %x, %x, %x, %x : memref<16x64xbf16>, memref<16x64xbf16>, memref<16x64xbf16>, memref<16x64xbf16>, memref<16x64xbf16>) outs(%g, %x, %g : memref<16x64xf32>, memref<16x64xbf16>, memref<16x64xf32>) {heads = 4 : i64, kv_heads = 4 : i64, seq_len = 8 : i64, key_block = 4 : i64, growc.library_kernel = "growc_flash_backward_hd16_bf16"}
  return
}

// -----

// The log-sum-exps are the kernel library's.
func.func @attention_lse_generated(%q: tensor<16x64xf32>, %kv: tensor<16x32xf32>, %o: tensor<16x64xf32>, %lse: tensor<8x8xf32>) {
  // expected-error @+1 {{lse needs the kernel library's form (growc.library_kernel)}}
  %r:2 = growk.attention ins(%q, %kv, %kv : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) lse(%lse : tensor<8x8xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>, tensor<8x8xf32>
  return
}

// -----

// One row per (sample, head), one column per position.
func.func @attention_lse_shape(%q: tensor<16x64xf32>, %kv: tensor<16x32xf32>, %o: tensor<16x64xf32>, %lse: tensor<4x8xf32>) {
  // expected-error @+1 {{lse must be f32 [batch x heads = 8, seq_len = 8], got 'tensor<4x8xf32>'}}
  %r:2 = growk.attention ins(%q, %kv, %kv : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) lse(%lse : tensor<4x8xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64, growc.library_kernel = "growc_flash_forward_hd16_f32_f32"} -> tensor<16x64xf32>, tensor<4x8xf32>
  return
}

// -----

// With lse the forward has two results on tensors.
func.func @attention_lse_results(%q: tensor<16x64xf32>, %kv: tensor<16x32xf32>, %o: tensor<16x64xf32>, %lse: tensor<8x8xf32>) {
  // expected-error @+1 {{on tensors has one result per init}}
  %r = growk.attention ins(%q, %kv, %kv : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) lse(%lse : tensor<8x8xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64, growc.library_kernel = "growc_flash_forward_hd16_f32_f32"} -> tensor<16x64xf32>
  return
}

// -----

// RoPE on load: the tables need q, k and v as column blocks.
func.func @attention_rope_without_columns(%q: tensor<16x64xbf16>, %k: tensor<16x32xbf16>, %v: tensor<16x32xbf16>, %o: tensor<16x64xbf16>, %cos: tensor<16x8xf32>, %sin: tensor<16x8xf32>) {
  // expected-error @+1 {{rope needs columns}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xbf16>, tensor<16x32xbf16>, tensor<16x32xbf16>) outs(%o : tensor<16x64xbf16>) rope(%cos, %sin : tensor<16x8xf32>, tensor<16x8xf32>) {growc.library_kernel = "growc_flash_forward_rope_hd16_bf16_bf16", heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xbf16>
  return
}

// -----

// Each block's heads fit in the matrix (v's 2 heads of 16 from column 112
// do not in 128).
func.func @attention_columns_range(%qkv: tensor<16x128xbf16>, %o: tensor<16x64xbf16>, %cos: tensor<16x8xf32>, %sin: tensor<16x8xf32>) {
  // expected-error @+1 {{column 112 of operand #2 leaves no room for 2 heads of 16 in a width of 128}}
  %r = growk.attention ins(%qkv, %qkv, %qkv : tensor<16x128xbf16>, tensor<16x128xbf16>, tensor<16x128xbf16>) outs(%o : tensor<16x64xbf16>) rope(%cos, %sin : tensor<16x8xf32>, tensor<16x8xf32>) {columns = array<i64: 0, 64, 112>, growc.library_kernel = "growc_flash_forward_rope_hd16_bf16_bf16", heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xbf16>
  return
}

// -----

// The tables are f32 [rows, head_dim / 2].
func.func @attention_rope_table_shape(%qkv: tensor<16x128xbf16>, %o: tensor<16x64xbf16>, %cos: tensor<16x16xf32>, %sin: tensor<16x16xf32>) {
  // expected-error @+1 {{rope tables must be f32 [rows = 16, head_dim / 2 = 8], got 'tensor<16x16xf32>'}}
  %r = growk.attention ins(%qkv, %qkv, %qkv : tensor<16x128xbf16>, tensor<16x128xbf16>, tensor<16x128xbf16>) outs(%o : tensor<16x64xbf16>) rope(%cos, %sin : tensor<16x16xf32>, tensor<16x16xf32>) {columns = array<i64: 0, 64, 96>, growc.library_kernel = "growc_flash_forward_rope_hd16_bf16_bf16", heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xbf16>
  return
}

// -----

// A rope kernel without tables would read unrotated q and k.
func.func @attention_rope_kernel_without_tables(%qkv: tensor<16x128xbf16>, %o: tensor<16x64xbf16>) {
  // expected-error @+1 {{rotates q and k: it needs rope tables}}
  %r = growk.attention ins(%qkv, %qkv, %qkv : tensor<16x128xbf16>, tensor<16x128xbf16>, tensor<16x128xbf16>) outs(%o : tensor<16x64xbf16>) {columns = array<i64: 0, 64, 96>, growc.library_kernel = "growc_flash_forward_rope_hd16_bf16_bf16", heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xbf16>
  return
}

// -----

// Column blocks are the kernel library's form only.
func.func @attention_columns_not_library(%qkv: tensor<16x128xf32>, %o: tensor<16x64xf32>) {
  // expected-error @+1 {{columns and rope need the kernel library's form}}
  %r = growk.attention ins(%qkv, %qkv, %qkv : tensor<16x128xf32>, tensor<16x128xf32>, tensor<16x128xf32>) outs(%o : tensor<16x64xf32>) {columns = array<i64: 0, 64, 96>, heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  return
}

// -----

// Columns name the first column of q, k and v: three of them.
func.func @attention_columns_count(%qkv: tensor<16x128xbf16>, %o: tensor<16x64xbf16>, %cos: tensor<16x8xf32>, %sin: tensor<16x8xf32>) {
  // expected-error @+1 {{columns must be [q, k, v] (3 columns), got 2}}
  %r = growk.attention ins(%qkv, %qkv, %qkv : tensor<16x128xbf16>, tensor<16x128xbf16>, tensor<16x128xbf16>) outs(%o : tensor<16x64xbf16>) rope(%cos, %sin : tensor<16x8xf32>, tensor<16x8xf32>) {columns = array<i64: 0, 64>, growc.library_kernel = "growc_flash_forward_rope_hd16_bf16_bf16", heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xbf16>
  return
}

// -----

// RoPE needs both tables.
func.func @attention_rope_one_table(%qkv: tensor<16x128xbf16>, %o: tensor<16x64xbf16>, %cos: tensor<16x8xf32>) {
  // expected-error @+1 {{rope must be two tables (cos, sin) of an even head_dim, got 1 tables, head_dim 16}}
  %r = growk.attention ins(%qkv, %qkv, %qkv : tensor<16x128xbf16>, tensor<16x128xbf16>, tensor<16x128xbf16>) outs(%o : tensor<16x64xbf16>) rope(%cos : tensor<16x8xf32>) {columns = array<i64: 0, 64, 96>, growc.library_kernel = "growc_flash_forward_rope_hd16_bf16_bf16", heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xbf16>
  return
}

// -----

// Column blocks of one matrix: one width (the row stride).
func.func @attention_columns_widths(%qkv: tensor<16x128xbf16>, %k: tensor<16x96xbf16>, %o: tensor<16x64xbf16>, %cos: tensor<16x8xf32>, %sin: tensor<16x8xf32>) {
  // expected-error @+1 {{q, k and v with columns must have one width, got 'tensor<16x128xbf16>' and 'tensor<16x96xbf16>'}}
  %r = growk.attention ins(%qkv, %k, %qkv : tensor<16x128xbf16>, tensor<16x96xbf16>, tensor<16x128xbf16>) outs(%o : tensor<16x64xbf16>) rope(%cos, %sin : tensor<16x8xf32>, tensor<16x8xf32>) {columns = array<i64: 0, 64, 96>, growc.library_kernel = "growc_flash_forward_rope_hd16_bf16_bf16", heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xbf16>
  return
}

// -----

// A column before the matrix's first.
func.func @attention_columns_negative(%qkv: tensor<16x128xbf16>, %o: tensor<16x64xbf16>, %cos: tensor<16x8xf32>, %sin: tensor<16x8xf32>) {
  // expected-error @+1 {{column -16 of operand #0 leaves no room for 4 heads of 16 in a width of 128}}
  %r = growk.attention ins(%qkv, %qkv, %qkv : tensor<16x128xbf16>, tensor<16x128xbf16>, tensor<16x128xbf16>) outs(%o : tensor<16x64xbf16>) rope(%cos, %sin : tensor<16x8xf32>, tensor<16x8xf32>) {columns = array<i64: -16, 64, 96>, growc.library_kernel = "growc_flash_forward_rope_hd16_bf16_bf16", heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xbf16>
  return
}

// -----

// An unranked table is a tensor of the wrong shape, not a memref.
func.func @attention_rope_unranked_table(%qkv: tensor<16x128xbf16>, %o: tensor<16x64xbf16>, %cos: tensor<*xf32>, %sin: tensor<16x8xf32>) {
  // expected-error @+1 {{rope tables must be f32 [rows = 16, head_dim / 2 = 8], got 'tensor<*xf32>'}}
  %r = growk.attention ins(%qkv, %qkv, %qkv : tensor<16x128xbf16>, tensor<16x128xbf16>, tensor<16x128xbf16>) outs(%o : tensor<16x64xbf16>) rope(%cos, %sin : tensor<*xf32>, tensor<16x8xf32>) {columns = array<i64: 0, 64, 96>, growc.library_kernel = "growc_flash_forward_rope_hd16_bf16_bf16", heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xbf16>
  return
}

// -----

// The gradient's rope needs columns too.
func.func @attention_grad_rope_without_columns(%q: tensor<16x64xbf16>, %k: tensor<16x32xbf16>, %o: tensor<16x64xbf16>, %dq: tensor<16x64xf32>, %dk: tensor<16x32xf32>, %cos: tensor<16x8xf32>, %sin: tensor<16x8xf32>, %lse: tensor<8x8xf32>) {
  // expected-error @+1 {{rope needs columns (q, k and v column blocks of one matrix)}}
  %a, %b, %c = growk.attention_grad ins(%q, %k, %k, %o, %o : tensor<16x64xbf16>, tensor<16x32xbf16>, tensor<16x32xbf16>, tensor<16x64xbf16>, tensor<16x64xbf16>) lse(%lse : tensor<8x8xf32>) rope(%cos, %sin : tensor<16x8xf32>, tensor<16x8xf32>) outs(%dq, %dk, %dk : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {growc.library_kernel = "growc_flash_backward_rope_hd16_bf16", heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>
  return
}
