// growk.attention_grad: round trip on tensors and memrefs, and one
// diagnostic per verifier rule.
// RUN: growc-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @on_tensors
// CHECK: %{{.*}}:3 = growk.attention_grad ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x64xf32>, tensor<16x64xf32>) outs(%{{.*}}, %{{.*}}, %{{.*}} : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {heads = 4 : i64, key_block = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64} -> tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>
func.func @on_tensors(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>, %do: tensor<16x64xf32>) -> (tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {
  %dq, %dk, %dv = growk.attention_grad ins(%q, %k, %v, %o, %do : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x64xf32>, tensor<16x64xf32>) outs(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>
  return %dq, %dk, %dv : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>
}

// -----

// CHECK-LABEL: func.func @on_memrefs
// CHECK: growk.attention_grad ins({{.*}}) outs({{.*}} : memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>) {heads = 1 : i64, key_block = 64 : i64, kv_heads = 1 : i64, seq_len = 7 : i64}
// CHECK-NOT: ->
func.func @on_memrefs(%x: memref<14x32xf32>) {
  growk.attention_grad ins(%x, %x, %x, %x, %x : memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>) outs(%x, %x, %x : memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>) {heads = 1 : i64, kv_heads = 1 : i64, seq_len = 7 : i64, key_block = 64 : i64}
  return
}

// -----

func.func @mixed(%t: tensor<16x64xf32>, %m: memref<16x64xf32>) {
  // expected-error @+1 {{operands must be all tensors or all memrefs}}
  growk.attention_grad ins(%t, %t, %t, %t, %t : tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>) outs(%m, %m, %m : memref<16x64xf32>, memref<16x64xf32>, memref<16x64xf32>) {heads = 4 : i64, kv_heads = 4 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

func.func @f16(%x: memref<16x64xf16>) {
  // expected-error @+1 {{operands must be static 2-D f32}}
  growk.attention_grad ins(%x, %x, %x, %x, %x : memref<16x64xf16>, memref<16x64xf16>, memref<16x64xf16>, memref<16x64xf16>, memref<16x64xf16>) outs(%x, %x, %x : memref<16x64xf16>, memref<16x64xf16>, memref<16x64xf16>) {heads = 4 : i64, kv_heads = 4 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

func.func @results_on_memrefs(%x: memref<16x64xf32>) {
  // expected-error @+1 {{on memrefs has no result}}
  %a, %b, %c = growk.attention_grad ins(%x, %x, %x, %x, %x : memref<16x64xf32>, memref<16x64xf32>, memref<16x64xf32>, memref<16x64xf32>, memref<16x64xf32>) outs(%x, %x, %x : memref<16x64xf32>, memref<16x64xf32>, memref<16x64xf32>) {heads = 4 : i64, kv_heads = 4 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>
  return
}

// -----

func.func @result_type(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>) {
  // expected-error @+1 {{result types must be the init types}}
  %a, %b, %c = growk.attention_grad ins(%q, %k, %k, %q, %q : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x64xf32>, tensor<16x64xf32>) outs(%q, %k, %k : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x32xf32>
  return
}

// -----

func.func @rows(%q: memref<16x64xf32>, %k: memref<8x32xf32>) {
  // expected-error @+1 {{every operand must have 16 rows}}
  growk.attention_grad ins(%q, %k, %k, %q, %q : memref<16x64xf32>, memref<8x32xf32>, memref<8x32xf32>, memref<16x64xf32>, memref<16x64xf32>) outs(%q, %k, %k : memref<16x64xf32>, memref<8x32xf32>, memref<8x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

func.func @seq_len(%q: memref<16x64xf32>, %k: memref<16x32xf32>) {
  // expected-error @+1 {{rows (16) must be a multiple of seq_len (5)}}
  growk.attention_grad ins(%q, %k, %k, %q, %q : memref<16x64xf32>, memref<16x32xf32>, memref<16x32xf32>, memref<16x64xf32>, memref<16x64xf32>) outs(%q, %k, %k : memref<16x64xf32>, memref<16x32xf32>, memref<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 5 : i64, key_block = 4 : i64}
  return
}

// -----

func.func @groups(%q: memref<16x64xf32>, %k: memref<16x48xf32>) {
  // expected-error @+1 {{heads (4) must be a multiple of kv_heads (3)}}
  growk.attention_grad ins(%q, %k, %k, %q, %q : memref<16x64xf32>, memref<16x48xf32>, memref<16x48xf32>, memref<16x64xf32>, memref<16x64xf32>) outs(%q, %k, %k : memref<16x64xf32>, memref<16x48xf32>, memref<16x48xf32>) {heads = 4 : i64, kv_heads = 3 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

func.func @q_width(%q: memref<16x66xf32>, %k: memref<16x32xf32>) {
  // expected-error @+1 {{q width 66 is not heads x head_dim}}
  growk.attention_grad ins(%q, %k, %k, %q, %q : memref<16x66xf32>, memref<16x32xf32>, memref<16x32xf32>, memref<16x66xf32>, memref<16x66xf32>) outs(%q, %k, %k : memref<16x66xf32>, memref<16x32xf32>, memref<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

func.func @dout_shape(%q: memref<16x64xf32>, %k: memref<16x32xf32>) {
  // expected-error @+1 {{o, dout and dq_init must have the shape of q}}
  growk.attention_grad ins(%q, %k, %k, %q, %k : memref<16x64xf32>, memref<16x32xf32>, memref<16x32xf32>, memref<16x64xf32>, memref<16x32xf32>) outs(%q, %k, %k : memref<16x64xf32>, memref<16x32xf32>, memref<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

func.func @kv_shape(%q: memref<16x64xf32>, %k: memref<16x32xf32>) {
  // expected-error @+1 {{k, v, dk_init and dv_init must be [rows, kv_heads x head_dim = 32]}}
  growk.attention_grad ins(%q, %k, %k, %q, %q : memref<16x64xf32>, memref<16x32xf32>, memref<16x32xf32>, memref<16x64xf32>, memref<16x64xf32>) outs(%q, %k, %q : memref<16x64xf32>, memref<16x32xf32>, memref<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}
