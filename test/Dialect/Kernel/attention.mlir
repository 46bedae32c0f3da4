// growk.attention: round trip on tensors and memrefs, and one diagnostic per
// verifier rule.
// RUN: growc-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @on_tensors
// CHECK: growk.attention ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%{{.*}} : tensor<16x64xf32>) {heads = 4 : i64, key_block = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64} -> tensor<16x64xf32>
func.func @on_tensors(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}

// -----

// CHECK-LABEL: func.func @on_memrefs
// CHECK: growk.attention ins({{.*}}) outs(%{{.*}} : memref<14x32xf32>) {heads = 1 : i64, key_block = 64 : i64, kv_heads = 1 : i64, seq_len = 7 : i64}
// CHECK-NOT: ->
func.func @on_memrefs(%q: memref<14x32xf32>, %k: memref<14x32xf32>, %v: memref<14x32xf32>, %o: memref<14x32xf32>) {
  growk.attention ins(%q, %k, %v : memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>) outs(%o : memref<14x32xf32>) {heads = 1 : i64, kv_heads = 1 : i64, seq_len = 7 : i64, key_block = 64 : i64}
  return
}

// -----

func.func @mixed(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: memref<16x64xf32>) {
  // expected-error @+1 {{operands must be all tensors or all memrefs}}
  growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : memref<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64}
  return
}

// -----

func.func @rows_not_batches(%q: tensor<15x64xf32>, %k: tensor<15x32xf32>, %v: tensor<15x32xf32>, %o: tensor<15x64xf32>) {
  // expected-error @+1 {{rows (15) must be a multiple of seq_len (8)}}
  %r = growk.attention ins(%q, %k, %v : tensor<15x64xf32>, tensor<15x32xf32>, tensor<15x32xf32>) outs(%o : tensor<15x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<15x64xf32>
  return
}

// -----

func.func @groups(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>) {
  // expected-error @+1 {{heads (4) must be a multiple of kv_heads (3)}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 3 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  return
}

// -----

func.func @kv_width(%q: tensor<16x64xf32>, %k: tensor<16x16xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>) {
  // expected-error @+1 {{k and v must be [rows, kv_heads x head_dim = 32]}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x16xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  return
}

// -----

func.func @row_mismatch(%q: tensor<16x64xf32>, %k: tensor<8x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>) {
  // expected-error @+1 {{q, k, v and init must have the same rows}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<8x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  return
}

// -----

func.func @result_on_memrefs(%q: memref<16x64xf32>, %k: memref<16x32xf32>, %v: memref<16x32xf32>, %o: memref<16x64xf32>) {
  // expected-error @+1 {{on memrefs has no result}}
  %r = growk.attention ins(%q, %k, %v : memref<16x64xf32>, memref<16x32xf32>, memref<16x32xf32>) outs(%o : memref<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  return
}

// -----

func.func @f16(%q: tensor<16x64xf16>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>) {
  // expected-error @+1 {{operands must be static 2-D f32, got 'tensor<16x64xf16>'}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf16>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  return
}

// -----

func.func @zero_block(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %v: tensor<16x32xf32>, %o: tensor<16x64xf32>) {
  // expected-error @+1 {{attribute 'key_block' failed to satisfy constraint}}
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 0 : i64} -> tensor<16x64xf32>
  return
}
