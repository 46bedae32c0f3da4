// RUN: growc --import-hf-config %S/../Lowering/Inputs/gqa2-tied.json --num-layers 2 --block-size 1 --model-name two -o %t.2.mlir
// RUN: growc-opt %t.2.mlir --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4 fuse-projections=false" --growc-form-kernels --growc-demote-activations | FileCheck %s
// RUN: growc-opt %t.2.mlir --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4" --growc-form-kernels --growc-demote-activations | FileCheck %s --check-prefix=FUSED
// RUN: growc-opt %t.2.mlir --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4" --growc-form-kernels --growc-demote-activations=precision=fp32 | FileCheck %s --check-prefix=FP32
// RUN: growc-opt %t.2.mlir --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4 graph=grad loss-rows=3" --growc-form-kernels --growc-demote-activations | FileCheck %s --check-prefix=CHUNK
// RUN: not growc-opt %t.2.mlir --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4" --growc-form-kernels --growc-demote-activations=precision=fp16 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: growc --import-hf-config %S/../Lowering/Inputs/mha-hd32-untied.json --num-layers 1 --block-size 1 -o %t.hd32.mlir
// RUN: growc-opt %t.hd32.mlir --growc-lower-model-to-tensors="batch=1 seq=8 graph=grad" --growc-attention-to-tensor-cores --growc-form-kernels --growc-demote-activations | FileCheck %s --check-prefix=LIB
// RUN: %growc-opt %s -split-input-file --growc-demote-activations | FileCheck %s --check-prefix=HAND
// RUN: %growc-opt %s -split-input-file --growc-demote-activations=precision=fp32 | FileCheck %s --check-prefix=HAND32

// GEMMs read bf16: the RMSNorm kernel writes its output as bf16, each f32
// master weight a GEMM reads is read from its bf16 copy, an argument
// appended after the parameters (in order of first need: q, k, v, o,
// gate, up, down of each layer, then the tied head's embedding, parameter
// 0), which the runtime keeps equal to the rounded weight: no cast kernel
// for a weight.
// CHECK-LABEL: func.func @two(
// CHECK-SAME: %arg20: tensor<16xf32>, %arg21: tensor<16x16xbf16>, %arg22: tensor<8x16xbf16>,
// CHECK-SAME: %arg35: tensor<11x16xbf16>) -> tensor<1x8x11xf32>
// CHECK-SAME: growc.param_bf16_copies = [2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 0]
// CHECK: %[[EMB:.+]]:4 = call @embedding_rope_rmsnorm_0_bf16_0(%arg0, %arg1, %arg2) : ({{.*}}) -> (tensor<8x16xf32>, tensor<8x2xf32>, tensor<8x2xf32>, tensor<8x16xbf16>)
// CHECK-NOT: call @cast_bf16
// CHECK: %[[Q:.+]] = growk.matmul %[[EMB]]#3, %arg21 : tensor<8x16xbf16>, tensor<16x16xbf16> -> tensor<8x16xbf16>
// q and k go to the RoPE kernel: bf16. v goes to attention, whose kernel
// keeps its f32 signature, so its GEMM writes f32.
// CHECK: %[[K:.+]] = growk.matmul %[[EMB]]#3, %{{.+}} : tensor<8x16xbf16>, tensor<8x16xbf16> -> tensor<8x8xbf16>
// CHECK: %[[V:.+]] = growk.matmul %[[EMB]]#3, %{{.+}} : tensor<8x16xbf16>, tensor<8x16xbf16> -> tensor<8x8xf32>
// CHECK: %[[ROPE:.+]]:2 = call @rope_1_bf16_1(%[[Q]], %[[EMB]]#1, %[[EMB]]#2, %[[K]]) : ({{.*}}) -> (tensor<8x16xf32>, tensor<8x8xf32>)
// CHECK: %[[ATT:.+]] = call @attention_2(%[[ROPE]]#0, %[[ROPE]]#1, %[[V]])
// Attention's output is cast; the residual stream and the GEMM that
// accumulates into it stay f32.
// CHECK: %[[ATT16:.+]] = call @cast_bf16_0(%[[ATT]]) : (tensor<8x16xf32>) -> tensor<8x16xbf16>
// CHECK: growk.matmul %[[ATT16]], %arg24 acc(%[[EMB]]#0 : tensor<8x16xf32>) : tensor<8x16xbf16>, tensor<16x16xbf16> -> tensor<8x16xf32>
// The tied LM head reads the embedding's copy; the logits leave the
// graph as f32.
// CHECK: growk.matmul %{{.+}}, %arg35 : tensor<8x16xbf16>, tensor<11x16xbf16> -> tensor<8x11xf32>

// Fused projections: the GEMM reads the concatenation of the weights' bf16
// copies (the plan places them back to back like the weights), and the
// f32 concatenation is gone; q|k|v leaves the GEMM as bf16 for the kernel
// that splits it (RoPE of q and k, v widened for attention), gate|up for
// SwiGLU.
// FUSED-LABEL: func.func @two(
// FUSED-NOT: tensor.concat {{.*}}xf32>
// FUSED: %[[W:.+]] = tensor.concat dim(0) %arg21, %arg22, %arg23 : (tensor<16x16xbf16>, tensor<8x16xbf16>, tensor<8x16xbf16>) -> tensor<32x16xbf16>
// FUSED: %[[QKV:.+]] = growk.matmul %{{.+}}, %[[W]] : tensor<8x16xbf16>, tensor<32x16xbf16> -> tensor<8x32xbf16>
// FUSED: %[[SPLIT:.+]]:3 = call @rope_1_bf16_1(%[[QKV]], %{{.+}}, %{{.+}}) : ({{.*}}) -> (tensor<8x16xf32>, tensor<8x8xf32>, tensor<8x8xf32>)
// FUSED: call @attention_2(%[[SPLIT]]#0, %[[SPLIT]]#1, %[[SPLIT]]#2)
// FUSED: %[[WGU:.+]] = tensor.concat dim(0) %arg25, %arg26 : (tensor<24x16xbf16>, tensor<24x16xbf16>) -> tensor<48x16xbf16>
// FUSED: %[[GU:.+]] = growk.matmul %{{.+}}, %[[WGU]] : tensor<8x16xbf16>, tensor<48x16xbf16> -> tensor<8x48xbf16>
// FUSED: call @swiglu_4_bf16_3(%[[GU]]) : (tensor<8x48xbf16>) -> tensor<8x24xbf16>
// FUSED-NOT: tensor.concat {{.*}}xf32>

// A variant computes in f32: each bf16 element is widened where it is read
// (RoPE's rotated half included), each bf16 result rounded at the end.
// CHECK-LABEL: func.func @embedding_rope_rmsnorm_0_bf16_0(
// CHECK: arith.truncf %{{.+}} : f32 to bf16
// CHECK-LABEL: func.func @rope_1_bf16_1(%{{.+}}: tensor<8x16xbf16>
// CHECK: ^bb0(%[[IN:.+]]: bf16,
// CHECK-NEXT: arith.extf %[[IN]] : bf16 to f32
// CHECK: %[[ROT:.+]] = tensor.extract %{{.+}} : tensor<8x16xbf16>
// CHECK-NEXT: arith.extf %[[ROT]] : bf16 to f32
// A bf16 result is rounded where it is computed, inside the generic that
// writes it (no f32 intermediate as long as the result: in a GPU row kernel
// that would be a shared-memory buffer).
// CHECK-LABEL: func.func @rmsnorm_3_bf16_2(
// CHECK: linalg.generic {{.+}} outs(%{{.+}} : tensor<8x16xbf16>)
// CHECK: %[[R:.+]] = arith.truncf %{{.+}} : f32 to bf16
// CHECK-NEXT: linalg.yield %[[R]] : bf16
// CHECK-NEXT: } -> tensor<8x16xbf16>
// CHECK-NEXT: return
// CHECK-LABEL: func.func @cast_bf16_0(%{{.+}}: tensor<8x16xf32>) -> tensor<8x16xbf16>
// CHECK: arith.truncf %{{.+}} : f32 to bf16
// Kernels every call reaches through a variant are gone.
// CHECK-NOT: func.func @embedding_rope_rmsnorm_0(

// The cross-entropy in blocks of token rows (3, 3 and 2) with its
// gradient: the final norm writes bf16 for the GEMMs, which read its row
// blocks as views; the (tied) LM head's bf16 copy argument serves every
// block's logit and d normed GEMMs (no cast kernel); each block's kernel reads bf16 logits and
// writes a bf16 logit gradient; d normed's rows are bf16 too, as the final
// norm's backward kernel reads them (its weight gradient is a GEMM, not an
// f32 reduction kernel that would keep them f32). The head's weight
// gradient accumulates over the blocks through the GEMMs' C in f32, though
// its last link feeds a kernel (the tied embedding's add): weight
// gradients are never summed in bf16.
// CHUNK-LABEL: func.func @two(
// CHUNK-SAME: %[[HEAD16:arg36]]: tensor<11x16xbf16>) -> (
// CHUNK-SAME: growc.param_bf16_copies = [2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 0]
// CHUNK: %[[R0:.+]] = tensor.extract_slice %[[NORMED:[0-9]+]]#1[0, 0] [3, 16] [1, 1] : tensor<8x16xbf16> to tensor<3x16xbf16>
// CHUNK-NEXT: %[[L0:.+]] = growk.matmul %[[R0]], %[[HEAD16]] : tensor<3x16xbf16>, tensor<11x16xbf16> -> tensor<3x11xbf16>
// CHUNK-NEXT: %[[B0:.+]]:2 = call @softmax_cross_entropy_{{.*}}(%arg1, %[[L0]], %{{.*}}) : (tensor<1x8xi32>, tensor<3x11xbf16>, tensor<1xf32>) -> (tensor<3xf32>, tensor<3x11xbf16>)
// CHUNK-NEXT: %[[DW0:.+]] = growk.matmul %[[B0]]#1, %[[R0]] {transpose_lhs = true, transpose_rhs = false} : tensor<3x11xbf16>, tensor<3x16xbf16> -> tensor<11x16xf32>
// CHUNK-NEXT: growk.matmul %[[B0]]#1, %[[HEAD16]] {transpose_rhs = false} : tensor<3x11xbf16>, tensor<11x16xbf16> -> tensor<3x16xbf16>
// CHUNK-NOT: call @cast_bf16
// CHUNK: %[[R1:.+]] = tensor.extract_slice %[[NORMED]]#1[3, 0] [3, 16]
// CHUNK-NEXT: growk.matmul %[[R1]], %[[HEAD16]] :
// CHUNK-NOT: call @cast_bf16
// CHUNK: growk.matmul %{{.+}}, %[[R1]] acc(%[[DW0]] : tensor<11x16xf32>)
// CHUNK: %[[R2:.+]] = tensor.extract_slice %[[NORMED]]#1[6, 0] [2, 16]
// CHUNK-NEXT: growk.matmul %[[R2]], %[[HEAD16]] :

// The kernel library's attention (head size 32) reads q, k, v as bf16,
// so the split kernel writes them as bf16; its output is bf16 for the o
// projection and the gradient, which also reads the o projection's dX
// (dout) as bf16; its gradients stay f32. The markers name the bf16
// instances, and no cast kernel runs.
// LIB-LABEL: func.func @
// LIB-NOT: call @cast_bf16
// LIB: %[[SPLIT:.+]]:3 = call @rope_{{.+}} -> (tensor<8x64xbf16>, tensor<8x64xbf16>, tensor<8x64xbf16>)
// LIB: %[[O:.+]]:2 = growk.attention ins(%[[SPLIT]]#0, %[[SPLIT]]#1, %[[SPLIT]]#2 : tensor<8x64xbf16>, tensor<8x64xbf16>, tensor<8x64xbf16>) outs(%{{.+}} : tensor<8x64xbf16>) lse(%{{.+}} : tensor<2x8xf32>) {growc.library_kernel = "growc_flash_forward_hd32_bf16_bf16"
// LIB-NEXT: growk.matmul %[[O]]#0, %{{.+}} : tensor<8x64xbf16>, tensor<64x64xbf16>
// LIB: %[[DO:.+]] = growk.matmul %{{.+}} {transpose_rhs = false} : tensor<8x64xbf16>, tensor<64x64xbf16> -> tensor<8x64xbf16>
// LIB: growk.attention_grad ins(%[[SPLIT]]#0, %[[SPLIT]]#1, %[[SPLIT]]#2, %[[O]]#0, %[[DO]] : tensor<8x64xbf16>, tensor<8x64xbf16>, tensor<8x64xbf16>, tensor<8x64xbf16>, tensor<8x64xbf16>) lse(%[[O]]#1 : tensor<2x8xf32>) outs(%{{.+}} : tensor<8x64xf32>, tensor<8x64xf32>, tensor<8x64xf32>) {growc.library_kernel = "growc_flash_backward_hd32_bf16"
// LIB-NOT: call @cast_bf16

// FP32-NOT: bf16
// BAD: precision must be bf16 or fp32, got 'fp16'

// Hand-written cases (HAND, HAND32), on kernels as growc-form-kernels
// leaves them, checked by role rather than by the kernels' names.

// exp -> GEMM -> exp -> GEMM -> add with x, the add's result the output:
// the GEMMs read and write bf16; the first exp gets a variant that rounds
// its result, the second one that also widens its argument, the add one
// that widens the GEMM's output and keeps the graph's f32 output; both
// GEMMs read the master weight's bf16 copy, one appended argument.
// HAND-LABEL: func.func @chain(
// HAND-SAME: %arg0: tensor<4x8xf32>, %arg1: tensor<8x8xf32>, %arg2: tensor<8x8xbf16>) -> tensor<4x8xf32>
// HAND-SAME: growc.param_bf16_copies = [0]
// HAND: %[[A:.+]] = call @[[EXP_OUT:[A-Za-z0-9_]+]](%arg0) : (tensor<4x8xf32>) -> tensor<4x8xbf16>
// HAND-NOT: call
// HAND: %[[M:.+]] = growk.matmul %[[A]], %arg2 : tensor<4x8xbf16>, tensor<8x8xbf16> -> tensor<4x8xbf16>
// HAND: %[[B:.+]] = call @[[EXP_BOTH:[A-Za-z0-9_]+]](%[[M]]) : (tensor<4x8xbf16>) -> tensor<4x8xbf16>
// HAND: %[[N:.+]] = growk.matmul %[[B]], %arg2 : tensor<4x8xbf16>, tensor<8x8xbf16> -> tensor<4x8xbf16>
// HAND: %[[C:.+]] = call @[[ADD:[A-Za-z0-9_]+]](%[[N]], %arg0) : (tensor<4x8xbf16>, tensor<4x8xf32>) -> tensor<4x8xf32>
// HAND: return %[[C]] : tensor<4x8xf32>
// HAND-DAG: func.func @[[EXP_OUT]](%{{.+}}: tensor<4x8xf32>) -> tensor<4x8xbf16> attributes {growc.kernel}
// HAND-DAG: func.func @[[EXP_BOTH]](%{{.+}}: tensor<4x8xbf16>) -> tensor<4x8xbf16> attributes {growc.kernel}
// HAND-DAG: func.func @[[ADD]](%{{.+}}: tensor<4x8xbf16>, %{{.+}}: tensor<4x8xf32>) -> tensor<4x8xf32> attributes {growc.kernel}
// HAND-DAG: ^bb0(%{{.+}}: bf16, %{{.+}}: bf16):
// HAND-DAG: arith.extf %{{.+}} : bf16 to f32
// HAND-DAG: arith.truncf %{{.+}} : f32 to bf16
// With precision=fp32 nothing changes.
// HAND32-LABEL: func.func @chain(
// HAND32: call @exp(%arg0) : (tensor<4x8xf32>) -> tensor<4x8xf32>
// HAND32-NOT: bf16
#id = affine_map<(i, j) -> (i, j)>
func.func @chain(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> tensor<4x8xf32> attributes {growc.param_names = ["w"]} {
  %a = call @exp(%x) : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %m = growk.matmul %a, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %b = call @exp(%m) : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %n = growk.matmul %b, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %c = call @add(%n, %x) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return %c : tensor<4x8xf32>
}
func.func @exp(%x: tensor<4x8xf32>) -> tensor<4x8xf32> attributes {growc.kernel} {
  %e = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = math.exp %in : f32
    linalg.yield %y : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}
func.func @add(%x: tensor<4x8xf32>, %y: tensor<4x8xf32>) -> tensor<4x8xf32> attributes {growc.kernel} {
  %e = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %y : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %in2: f32, %out: f32):
    %s = arith.addf %in, %in2 : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

// An input gradient summed over two GEMMs (dX = dA·W + dB·W through the
// second GEMM's accumulator) and read by a kernel: both links bf16, the
// second reading the first as its C. In @shared the first link is also
// read by a kernel, so the chain keeps f32 accumulators (and its products
// f32 outputs).
// HAND-LABEL: func.func @sum(
// HAND: %[[D1:.+]] = growk.matmul %{{.+}}, %{{.+}} {transpose_rhs = false} : tensor<4x8xbf16>, tensor<8x8xbf16> -> tensor<4x8xbf16>
// HAND: %[[D2:.+]] = growk.matmul %{{.+}}, %{{.+}} acc(%[[D1]] : tensor<4x8xbf16>) {transpose_rhs = false} : tensor<4x8xbf16>, tensor<8x8xbf16> -> tensor<4x8xbf16>
// HAND: call @{{.+}}(%[[D2]]) : (tensor<4x8xbf16>) -> tensor<4x8xf32>
// HAND-LABEL: func.func @shared(
// HAND: %[[S1:.+]] = growk.matmul %{{.+}}, %{{.+}} {transpose_rhs = false} : tensor<4x8xbf16>, tensor<8x8xbf16> -> tensor<4x8xf32>
// HAND: growk.matmul %{{.+}}, %{{.+}} acc(%[[S1]] : tensor<4x8xf32>) {transpose_rhs = false} : tensor<4x8xbf16>, tensor<8x8xbf16> -> tensor<4x8xf32>
// HAND32-LABEL: func.func @sum(
// HAND32-NOT: bf16
#id = affine_map<(i, j) -> (i, j)>
func.func @sum(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>, %w: tensor<8x8xf32>, %v: tensor<8x8xf32>) -> tensor<4x8xf32> attributes {growc.input_names = ["a", "b"], growc.param_names = ["w", "v"]} {
  %d1 = growk.matmul %a, %w {transpose_rhs = false} : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %d2 = growk.matmul %b, %v acc(%d1 : tensor<4x8xf32>) {transpose_rhs = false} : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %e = call @exp(%d2) : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %e : tensor<4x8xf32>
}
func.func @shared(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>, %w: tensor<8x8xf32>, %v: tensor<8x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) attributes {growc.input_names = ["a", "b"], growc.param_names = ["w", "v"]} {
  %d1 = growk.matmul %a, %w {transpose_rhs = false} : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %d2 = growk.matmul %b, %v acc(%d1 : tensor<4x8xf32>) {transpose_rhs = false} : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %e = call @exp(%d2) : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %f = call @exp(%d1) : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %e, %f : tensor<4x8xf32>, tensor<4x8xf32>
}
func.func @exp(%x: tensor<4x8xf32>) -> tensor<4x8xf32> attributes {growc.kernel} {
  %e = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = math.exp %in : f32
    linalg.yield %y : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

// A train graph: every parameter the optimizer updates gets a copy, the
// ones no GEMM reads too (n), and growk.adamw writes them (bf16_params, in
// its parameters' order); a frozen weight a GEMM reads (f, not in the
// optimizer's lists) gets a copy the runtime fills once, and no cast
// kernel. The copies come in order of first need (f, w, then n); an input
// (x) a GEMM reads is still cast.
// HAND-LABEL: func.func @train(
// HAND-SAME: %arg11: tensor<8x8xbf16>, %arg12: tensor<8x8xbf16>, %arg13: tensor<8xbf16>)
// HAND-SAME: growc.param_bf16_copies = [1, 0, 2]
// HAND: %[[X:.+]] = call @{{.+}}(%arg0) : (tensor<4x8xf32>) -> tensor<4x8xbf16>
// HAND: %[[H:.+]] = growk.matmul %[[X]], %arg11 : tensor<4x8xbf16>, tensor<8x8xbf16> -> tensor<4x8xbf16>
// HAND: growk.matmul %[[H]], %arg12 : tensor<4x8xbf16>, tensor<8x8xbf16> -> tensor<4x8xf32>
// HAND: %[[R:.+]]:10 = growk.adamw params(%arg4, %arg6 : tensor<8x8xf32>, tensor<8xf32>) {{.+}} bf16_params(%arg12, %arg13 : tensor<8x8xbf16>, tensor<8xbf16>) lr(
// HAND: return %{{.+}}, %[[R]]#0, %[[R]]#1, %[[R]]#8 :
// HAND32-LABEL: func.func @train(
// HAND32-NOT: bf16
func.func @train(%x: tensor<4x8xf32>, %gw: tensor<8x8xf32>, %gn: tensor<8xf32>, %lr: tensor<1xf32>, %w: tensor<8x8xf32>, %f: tensor<8x8xf32>, %n: tensor<8xf32>, %mw: tensor<8x8xf32>, %vw: tensor<8x8xf32>, %mn: tensor<8xf32>, %vn: tensor<8xf32>) -> (tensor<4x8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<1xf32>) attributes {growc.input_names = ["x", "gw", "gn", "lr"], growc.param_names = ["w", "f", "n", "optimizer.exp_avg.w", "optimizer.exp_avg_sq.w", "optimizer.exp_avg.n", "optimizer.exp_avg_sq.n"]} {
  %h = growk.matmul %x, %f : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %y = growk.matmul %h, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %e1 = tensor.empty() : tensor<1xf32>
  %e2 = tensor.empty() : tensor<1xf32>
  %r:8 = growk.adamw params(%w, %n : tensor<8x8xf32>, tensor<8xf32>) grads(%gw, %gn : tensor<8x8xf32>, tensor<8xf32>) exp_avg(%mw, %mn : tensor<8x8xf32>, tensor<8xf32>) exp_avg_sq(%vw, %vn : tensor<8x8xf32>, tensor<8xf32>) lr(%lr : tensor<1xf32>) step(%lr : tensor<1xf32>) loss_nonfinite(%lr : tensor<1xf32>) outs(%e1, %e2 : tensor<1xf32>, tensor<1xf32>) {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  return %y, %r#0, %r#1, %r#6 : tensor<4x8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<1xf32>
}

// -----

// A library attention whose q and k are graph inputs gets their bf16
// copies from a cast kernel; an output the graph returns keeps f32, so
// the forward is the bf16-in, f32-out instance. With precision=fp32
// nothing changes.
// HAND-LABEL: func.func @attention_inputs(
// HAND: %[[Q:.+]] = call @cast_bf16_{{[0-9]+}}(%arg0) : (tensor<16x32xf32>) -> tensor<16x32xbf16>
// HAND: %[[K:.+]] = call @cast_bf16_{{[0-9]+}}(%arg1) : (tensor<16x32xf32>) -> tensor<16x32xbf16>
// HAND: growk.attention ins(%[[Q]], %[[K]], %[[K]] : tensor<16x32xbf16>, tensor<16x32xbf16>, tensor<16x32xbf16>) outs(%{{.+}} : tensor<16x32xf32>) {growc.library_kernel = "growc_flash_forward_hd16_bf16_f32"
// HAND32-LABEL: func.func @attention_inputs(
// HAND32: growc.library_kernel = "growc_flash_forward_hd16_f32_f32"
func.func @attention_inputs(%q: tensor<16x32xf32>, %k: tensor<16x32xf32>, %w: tensor<8x8xf32>) -> tensor<16x32xf32> attributes {growc.input_names = ["q", "k"], growc.param_names = ["w"]} {
  %e = tensor.empty() : tensor<16x32xf32>
  %o = growk.attention ins(%q, %k, %k : tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%e : tensor<16x32xf32>) {heads = 2 : i64, kv_heads = 2 : i64, seq_len = 8 : i64, key_block = 8 : i64, growc.library_kernel = "growc_flash_forward_hd16_f32_f32"} -> tensor<16x32xf32>
  return %o : tensor<16x32xf32>
}
