// growc-attention-to-tensor-cores (the GPU's --gpu-attention=mma): an
// attention (and its gradient) whose head size has tensor-core kernels in
// the library gets their name, and kernel formation then leaves it on the
// host, a step of its own like a GEMM. A head size without an instance is a
// warning and keeps the flash form.
// Numerics: test/Runtime/gpu.test runs the kernel (on the GPU or the fake
// driver's PTX interpreter) against PyTorch.
// RUN: %growc-opt %s -split-input-file --growc-attention-to-tensor-cores -verify-diagnostics | FileCheck %s
// RUN: %growc-opt %s -split-input-file --growc-attention-to-tensor-cores="warn-unsupported=false" 2>&1 | FileCheck %s --check-prefix=QUIET
// On a lowered model, with kernel formation after it: both ops stay on the
// host between kernel calls and GEMMs.
// RUN: %growc --import-hf-config %S/Inputs/mha-hd32-untied.json --num-layers 1 --block-size 1 --model-name one -o %t.mlir
// RUN: %growc-opt %t.mlir --growc-lower-model-to-tensors="batch=2 seq=8 key-block=4 graph=grad" --growc-attention-to-tensor-cores --growc-form-kernels | FileCheck %s --check-prefix=HOST
// rope-on-load (the bf16 GPU pipeline): the attention and its gradient read
// the fused QKV GEMM's output itself, q and k rotated by the kernels as they
// load them; no RoPE kernel runs before the attention (the backward's
// inverse RoPE, which packs d(qkv), stays).
// RUN: %growc-opt %t.mlir --growc-lower-model-to-tensors="batch=2 seq=8 key-block=4 graph=grad" --growc-attention-to-tensor-cores="rope-on-load=true" --growc-form-kernels --growc-demote-activations="precision=bf16" | FileCheck %s --check-prefix=ROPE
// ROPE-LABEL: func.func @one(
// ROPE: %[[T:.+]]:4 = call @embedding_rope_rmsnorm_0_bf16_0(
// ROPE-NEXT: tensor.concat
// ROPE-NEXT: %[[QKV:.+]] = growk.matmul %[[T]]#3, {{.+}} -> tensor<16x192xbf16>
// ROPE-NOT: call @
// ROPE: %[[O:.+]]:2 = growk.attention ins(%[[QKV]], %[[QKV]], %[[QKV]] : {{.+}}) outs({{.+}}) lse({{.+}}) rope(%[[T]]#1, %[[T]]#2 : tensor<16x16xf32>, tensor<16x16xf32>) {columns = array<i64: 0, 64, 128>, growc.library_kernel = "growc_flash_forward_rope_hd32_bf16_bf16"
// ROPE: growk.attention_grad ins(%[[QKV]], %[[QKV]], %[[QKV]], %[[O]]#0, {{.+}}) lse(%[[O]]#1 : tensor<4x8xf32>) rope(%[[T]]#1, %[[T]]#2 : {{.+}}) outs({{.+}}) {columns = array<i64: 0, 64, 128>, growc.library_kernel = "growc_flash_backward_rope_hd32_bf16"
// ROPE-NEXT: call @rope_{{[0-9]+}}_bf16_{{[0-9]+}}(
// ROPE-NOT: func.func {{.*}}@rope_1_

// Multi-head attention with head size 32 (2 heads x 32 = 64 columns).
// CHECK-LABEL: func.func @forward_hd32
// CHECK: growk.attention {{.*}} {growc.library_kernel = "growc_flash_forward_hd32_f32_f32", heads = 2 : i64
func.func @forward_hd32(%q: tensor<16x64xf32>, %k: tensor<16x64xf32>, %v: tensor<16x64xf32>, %o: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %r = growk.attention ins(%q, %k, %v : tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>) outs(%o : tensor<16x64xf32>) {heads = 2 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}

// -----

// Grouped heads (4 query heads on 2 KV heads) at head size 16: the forward
// and its gradient each get their instance, and the forward saves its
// rows' log-sum-exps ([B x heads, T] = [8, 8]) for the gradient.
// CHECK-LABEL: func.func @grouped
// CHECK: %[[LSE:.+]] = tensor.empty() : tensor<8x8xf32>
// CHECK: %[[R:.+]]:2 = growk.attention {{.*}} lse(%[[LSE]] : tensor<8x8xf32>) {growc.library_kernel = "growc_flash_forward_hd16_f32_f32", heads = 4 : i64
// CHECK: growk.attention_grad ins(%arg0, %arg1, %arg1, %[[R]]#0, %arg0 : {{.*}}) lse(%[[R]]#1 : tensor<8x8xf32>) outs({{.*}}) {growc.library_kernel = "growc_flash_backward_hd16_f32", heads = 4 : i64
// CHECK: return %[[R]]#0, %{{.+}}#0
func.func @grouped(%q: tensor<16x64xf32>, %k: tensor<16x32xf32>, %o: tensor<16x64xf32>) -> (tensor<16x64xf32>, tensor<16x64xf32>) {
  %r = growk.attention ins(%q, %k, %k : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%o : tensor<16x64xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>
  %dq, %dk, %dv = growk.attention_grad ins(%q, %k, %k, %r, %q : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x64xf32>, tensor<16x64xf32>) outs(%o, %k, %k : tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>
  return %r, %dq : tensor<16x64xf32>, tensor<16x64xf32>
}

// -----

// A gradient whose o is not the library forward's has no log-sum-exps to
// read: it keeps the flash form, with a warning.
// CHECK-LABEL: func.func @unpaired
// CHECK-NOT: growc.library_kernel
func.func @unpaired(%gq: tensor<16x256xf32>, %gk: tensor<16x128xf32>) -> tensor<16x256xf32> {
  // expected-warning @+1 {{1 attention gradient(s) without the library forward they differentiate (whose log-sum-exps they read) keep the flash form}}
  %dq, %dk, %dv = growk.attention_grad ins(%gq, %gk, %gk, %gq, %gq : tensor<16x256xf32>, tensor<16x128xf32>, tensor<16x128xf32>, tensor<16x256xf32>, tensor<16x256xf32>) outs(%gq, %gk, %gk : tensor<16x256xf32>, tensor<16x128xf32>, tensor<16x128xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x256xf32>, tensor<16x128xf32>, tensor<16x128xf32>
  return %dq : tensor<16x256xf32>
}

// -----

// Head size 4 has no instance: one warning for every such op, at the
// first, and both keep the flash form.
// With warn-unsupported=false (the tensor-core form as a default rather
// than asked for), silently.
// CHECK-LABEL: func.func @no_instance
// CHECK-NOT: growc.library_kernel
// QUIET-NOT: warning: no tensor-core
// QUIET-LABEL: func.func @no_instance
// QUIET-NOT: warning: no tensor-core
func.func @no_instance(%q: tensor<16x8xf32>, %k: tensor<16x4xf32>, %o: tensor<16x8xf32>) -> (tensor<16x8xf32>, tensor<16x8xf32>) {
  // expected-warning @+1 {{no tensor-core attention kernel for head size 4 (the library has 16, 32 and 64, f32 activations); 2 attention op(s) keep the flash form}}
  %r = growk.attention ins(%q, %k, %k : tensor<16x8xf32>, tensor<16x4xf32>, tensor<16x4xf32>) outs(%o : tensor<16x8xf32>) {heads = 2 : i64, kv_heads = 1 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x8xf32>
  %dq, %dk, %dv = growk.attention_grad ins(%q, %k, %k, %q, %q : tensor<16x8xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<16x8xf32>, tensor<16x8xf32>) outs(%q, %k, %k : tensor<16x8xf32>, tensor<16x4xf32>, tensor<16x4xf32>) {heads = 2 : i64, kv_heads = 1 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x8xf32>, tensor<16x4xf32>, tensor<16x4xf32>
  return %r, %dq : tensor<16x8xf32>, tensor<16x8xf32>
}

// HOST-LABEL: func.func @one(
// HOST: call @rope_1(
// HOST-NEXT: tensor.empty
// HOST-NEXT: tensor.empty
// HOST-NEXT: %[[O:.+]]:2 = growk.attention ins({{.+}}) lse({{.+}}) {growc.library_kernel = "growc_flash_forward_hd32_f32_f32"
// HOST-NEXT: growk.matmul %[[O]]#0, %arg7
// HOST-NEXT: call @rmsnorm_2(
// HOST: growk.attention_grad ins({{.+}}) lse(%[[O]]#1 : tensor<4x8xf32>) outs({{.+}}) {growc.library_kernel = "growc_flash_backward_hd32_f32"
// HOST: func.func {{.*}}@{{[a-z_]+_[0-9]+}}(
// HOST-NOT: growk.attention
