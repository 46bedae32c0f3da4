// RUN: growc --import-hf-config %S/../Lowering/Inputs/gqa2-tied.json --num-layers 2 --block-size 1 --model-name two -o %t.2.mlir
// RUN: growc-opt %t.2.mlir --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4" --growc-form-kernels --growc-demote-activations | FileCheck %s
// RUN: growc-opt %t.2.mlir --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4" --growc-form-kernels --growc-demote-activations=precision=fp32 | FileCheck %s --check-prefix=FP32
// RUN: growc-opt %t.2.mlir --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4 graph=loss vocab-chunk=4" --growc-form-kernels --growc-demote-activations | FileCheck %s --check-prefix=CHUNK
// RUN: not growc-opt %t.2.mlir --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4" --growc-form-kernels --growc-demote-activations=precision=fp16 2>&1 | FileCheck %s --check-prefix=BAD

// GEMMs read bf16: the RMSNorm kernel writes its output as bf16, each f32
// master weight is copied to bf16 by a cast kernel before its GEMM.
// CHECK-LABEL: func.func @two(
// CHECK: %[[EMB:.+]]:4 = call @kernel0_bf16_0(%arg0, %arg1, %arg2) : ({{.*}}) -> (tensor<8x16xf32>, tensor<8x2xf32>, tensor<8x2xf32>, tensor<8x16xbf16>)
// CHECK: %[[WQ:.+]] = call @cast_bf16_0(%arg3) : (tensor<16x16xf32>) -> tensor<16x16xbf16>
// q and k go to the RoPE kernel: bf16. v goes to attention, whose kernel
// keeps its f32 signature, so its GEMM writes f32.
// CHECK: %[[Q:.+]] = growk.matmul %[[EMB]]#3, %[[WQ]] : tensor<8x16xbf16>, tensor<16x16xbf16> -> tensor<8x16xbf16>
// CHECK: %[[K:.+]] = growk.matmul %[[EMB]]#3, %{{.+}} : tensor<8x16xbf16>, tensor<8x16xbf16> -> tensor<8x8xbf16>
// CHECK: %[[V:.+]] = growk.matmul %[[EMB]]#3, %{{.+}} : tensor<8x16xbf16>, tensor<8x16xbf16> -> tensor<8x8xf32>
// CHECK: %[[ROPE:.+]]:2 = call @kernel1_bf16_1(%[[Q]], %[[EMB]]#1, %[[EMB]]#2, %[[K]]) : ({{.*}}) -> (tensor<8x16xf32>, tensor<8x8xf32>)
// CHECK: %[[ATT:.+]] = call @kernel2(%[[ROPE]]#0, %[[ROPE]]#1, %[[V]])
// Attention's output is cast; the residual stream and the GEMM that
// accumulates into it stay f32.
// CHECK: %[[ATT16:.+]] = call @cast_bf16_1(%[[ATT]]) : (tensor<8x16xf32>) -> tensor<8x16xbf16>
// CHECK: growk.matmul %[[ATT16]], %{{.+}} acc(%[[EMB]]#0 : tensor<8x16xf32>) : tensor<8x16xbf16>, tensor<16x16xbf16> -> tensor<8x16xf32>
// The tied LM head reads a bf16 copy of the embedding; the logits leave
// the graph as f32.
// CHECK: %[[EMB16:.+]] = call @cast_bf16_4(%arg1) : (tensor<11x16xf32>) -> tensor<11x16xbf16>
// CHECK: growk.matmul %{{.+}}, %[[EMB16]] : tensor<8x16xbf16>, tensor<11x16xbf16> -> tensor<8x11xf32>

// A variant computes in f32: each bf16 element is widened where it is read
// (RoPE's rotated half included), each bf16 result rounded at the end.
// CHECK-LABEL: func.func @kernel0_bf16_0(
// CHECK: arith.truncf %{{.+}} : f32 to bf16
// CHECK-LABEL: func.func @kernel1_bf16_1(%{{.+}}: tensor<8x16xbf16>
// CHECK: ^bb0(%[[IN:.+]]: bf16,
// CHECK-NEXT: arith.extf %[[IN]] : bf16 to f32
// CHECK: %[[ROT:.+]] = tensor.extract %{{.+}} : tensor<8x16xbf16>
// CHECK-NEXT: arith.extf %[[ROT]] : bf16 to f32
// A bf16 result is rounded where it is computed, inside the generic that
// writes it (no f32 intermediate as long as the result: in a GPU row kernel
// that would be a shared-memory buffer).
// CHECK-LABEL: func.func @kernel3_bf16_2(
// CHECK: linalg.generic {{.+}} outs(%{{.+}} : tensor<8x16xbf16>)
// CHECK: %[[R:.+]] = arith.truncf %{{.+}} : f32 to bf16
// CHECK-NEXT: linalg.yield %[[R]] : bf16
// CHECK-NEXT: } -> tensor<8x16xbf16>
// CHECK-NEXT: return
// CHECK-LABEL: func.func @cast_bf16_0(%{{.+}}: tensor<16x16xf32>) -> tensor<16x16xbf16>
// CHECK: arith.truncf %{{.+}} : f32 to bf16
// Kernels every call reaches through a variant are gone.
// CHECK-NOT: func.func @kernel0(

// Vocabulary chunks of the (tied) LM head: one cast of the whole weight,
// each chunk's GEMM reads its rows of the bf16 copy.
// CHUNK: %[[HEAD16:.+]] = call @cast_bf16_{{[0-9]+}}(%arg2) : (tensor<11x16xf32>) -> tensor<11x16xbf16>
// CHUNK-NEXT: %[[C0:.+]] = tensor.extract_slice %[[HEAD16]][0, 0] [4, 16] [1, 1] : tensor<11x16xbf16> to tensor<4x16xbf16>
// CHUNK-NEXT: growk.matmul %{{.+}}, %[[C0]] :
// CHUNK-NOT: call @cast_bf16
// CHUNK: %[[C1:.+]] = tensor.extract_slice %[[HEAD16]][4, 0] [4, 16]
// CHUNK-NEXT: growk.matmul %{{.+}}, %[[C1]] :
// CHUNK-NOT: call @cast_bf16
// CHUNK: %[[C2:.+]] = tensor.extract_slice %[[HEAD16]][8, 0] [3, 16]
// CHUNK-NEXT: growk.matmul %{{.+}}, %[[C2]] :

// FP32-NOT: bf16
// BAD: precision must be bf16 or fp32, got 'fp16'
