// RUN: growc --import-hf-config %S/../Lowering/Inputs/gqa2-tied.json --num-layers 2 --block-size 1 --model-name two -o %t.2.mlir
// RUN: growc --import-hf-config %S/../Lowering/Inputs/gqa2-tied.json --num-layers 12 --block-size 1 --model-name deep -o %t.12.mlir
// RUN: growc-opt %t.2.mlir --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4" --growc-form-kernels --growc-expand-attention | FileCheck %s
// RUN: growc-opt %t.2.mlir --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4" --growc-form-kernels --growc-expand-attention | FileCheck %s --check-prefix=COUNT
// RUN: growc-opt %t.12.mlir --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4" --growc-form-kernels --growc-expand-attention | FileCheck %s --check-prefix=COUNT
// RUN: growc-opt %t.2.mlir --growc-duplicate-middle-block --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4" --growc-form-kernels --growc-expand-attention | FileCheck %s --check-prefix=COUNT

// The host function is GEMM library calls and kernel calls: per layer one
// RoPE kernel after the three projections, attention as a kernel of its
// own, an RMSNorm kernel after o_proj (whose GEMM adds the attention
// residual itself: growk.matmul acc), one SwiGLU kernel between up and
// down, and a residual add + RMSNorm kernel after down_proj.
// CHECK-LABEL: func.func @two(
// The first kernel embeds, builds the RoPE cos / sin tables every layer
// reads, and normalises.
// CHECK: %[[EMB:.+]]:4 = call @kernel0(%arg0, %arg1, %arg2)
// CHECK: %[[Q:.+]] = growk.matmul %[[EMB]]#3, %arg3
// CHECK: %[[K:.+]] = growk.matmul %[[EMB]]#3, %arg4
// CHECK: %[[V:.+]] = growk.matmul %[[EMB]]#3, %arg5
// CHECK: %[[ROPE:.+]]:2 = call @kernel1(%[[Q]], %[[EMB]]#1, %[[EMB]]#2, %[[K]])
// CHECK: %[[ATT:.+]] = call @kernel2(%[[ROPE]]#0, %[[ROPE]]#1, %[[V]])
// CHECK: %[[MID:.+]] = growk.matmul %[[ATT]], %arg6 acc(%[[EMB]]#0 : tensor<8x16xf32>)
// CHECK: %[[N2:.+]] = call @kernel3(%[[MID]], %arg7)
// CHECK: %[[G:.+]] = growk.matmul %[[N2]], %arg8
// CHECK: %[[U:.+]] = growk.matmul %[[N2]], %arg9
// CHECK: %[[S:.+]] = call @kernel4(%[[G]], %[[U]])
// CHECK: %[[D:.+]] = growk.matmul %[[S]], %arg10 :
// CHECK: %[[NEXT:.+]]:2 = call @kernel5(%[[MID]], %[[D]], %arg11)
// Layer 1 reuses layer 0's kernels.
// CHECK: call @kernel1(
// CHECK: call @kernel2(
// CHECK: growk.matmul {{.*}} acc(%[[NEXT]]#0 : tensor<8x16xf32>)
// CHECK: call @kernel3(
// CHECK: call @kernel4(
// The last residual + final norm has one output fewer: its own kernel.
// CHECK: %[[FIN:.+]] = call @kernel6(
// CHECK: %[[LOGITS:.+]] = growk.matmul %[[FIN]], %arg1
// The final reshape is a view and stays on the host.
// CHECK: %[[OUT:.+]] = tensor.expand_shape %[[LOGITS]]
// CHECK: return %[[OUT]]

// Kernels are functions marked growc.kernel; the attention kernel holds the
// key-block loop.
// CHECK: func.func @kernel0(%{{.*}}: tensor<1x8xi32>, %{{.*}}: tensor<11x16xf32>, %{{.*}}: tensor<16xf32>) -> (tensor<8x16xf32>, tensor<8x2xf32>, tensor<8x2xf32>, tensor<8x16xf32>) attributes {growc.kernel}
// CHECK: tensor.extract
// CHECK: math.cos
// CHECK: math.sin
// CHECK: func.func @kernel1(%{{.*}}: tensor<8x16xf32>, %{{.*}}: tensor<8x2xf32>, %{{.*}}: tensor<8x2xf32>, %{{.*}}: tensor<8x8xf32>) -> (tensor<8x16xf32>, tensor<8x8xf32>) attributes {growc.kernel}
// CHECK-NOT: math.cos
// CHECK: func.func @kernel2(
// CHECK: scf.forall
// CHECK: scf.for
// CHECK: func.func @kernel3(
// CHECK: math.sqrt
// CHECK: func.func @kernel4(
// CHECK: math.exp

// Depth adds calls, not kernels: 2 layers, 12 layers and a grown model all
// have the same seven kernels.
// COUNT-COUNT-7: attributes {growc.kernel}
// COUNT-NOT: growc.kernel
