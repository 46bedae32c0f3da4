// RUN: growc-opt %s -split-input-file --growc-outline-elementwise | FileCheck %s
// RUN: growc-opt %s -split-input-file --growc-outline-elementwise="body-op=arith.addf" | FileCheck %s --check-prefix=ADD
// RUN: growc-opt %s -split-input-file --growc-outline-elementwise --growc-form-kernels | FileCheck %s --check-prefix=FORM
// RUN: not growc-opt %s -split-input-file --growc-outline-elementwise="body-op=math.nope" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: growc --import-hf-config %S/../Lowering/Inputs/gqa2-tied.json --num-layers 2 --block-size 1 --model-name two -o %t.mlir
// RUN: growc-opt %t.mlir --growc-training-graph-pipeline="graph=forward batch=1 seq=8 key-block=4" --growc-outline-elementwise --growc-kernel-pipeline="target=nvptx" | FileCheck %s --check-prefix=PIPE
// RUN: growc-opt %t.mlir --growc-training-graph-pipeline="graph=train batch=1 seq=8 key-block=4" --growc-outline-elementwise --growc-kernel-pipeline="target=cpu" | FileCheck %s --check-prefix=TRAIN

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// Two SiLUs (exp in the body: the default body-op picks them) become calls
// of one kernel; the residual add (no exp) and the sum of exponentials (a
// reduction, not elementwise) stay.
// CHECK-LABEL: func.func @host(
// CHECK: %[[A:.+]] = growk.matmul %arg0, %arg1
// CHECK: %[[S:.+]] = call @swiglu_0(%[[A]]) : (tensor<8x16xf32>) -> tensor<8x16xf32>
// CHECK: %[[T:.+]] = linalg.generic {{.+}} ins(%[[S]], %arg0 :
// CHECK: %[[B:.+]] = growk.matmul %[[T]], %arg2
// CHECK: %[[S2:.+]] = call @swiglu_0(%[[B]]) : (tensor<8x16xf32>) -> tensor<8x16xf32>
// CHECK: linalg.generic {{.+}}"reduction"{{.+}} ins(%[[S2]] :
// CHECK: math.exp
// The kernel clones the empty tensor it writes instead of taking it.
// CHECK-LABEL: func.func @swiglu_0(%{{.+}}: tensor<8x16xf32>) -> tensor<8x16xf32> attributes {growc.kernel}
// CHECK: tensor.empty() : tensor<8x16xf32>
// CHECK: math.exp
// CHECK-NOT: attributes {growc.kernel}

// Another op: addf is in the SiLUs and the residual add, which now get
// kernels too; the reduction still stays.
// ADD-LABEL: func.func @host(
// ADD: %[[S:.+]] = call @swiglu_0(
// ADD: %[[T:.+]] = call @add_1(%[[S]], %arg0)
// ADD: call @swiglu_0(
// ADD: linalg.generic {{.+}}"reduction"

// Kernel formation keeps the outlined calls as boundaries, fuses the rest
// into kernels numbered after them and reuses nothing by mistake.
// FORM-LABEL: func.func @host(
// FORM: %[[A:.+]] = growk.matmul %arg0, %arg1
// FORM: %[[S:.+]] = call @swiglu_0(%[[A]])
// FORM: %[[T:.+]] = call @add_1(%[[S]], %arg0)
// FORM: %[[B:.+]] = growk.matmul %[[T]], %arg2
// FORM: %[[S2:.+]] = call @swiglu_0(%[[B]])
// FORM: %[[SUM:.+]] = call @softmax_2(%[[S2]])
// FORM: return %[[SUM]]
// FORM-COUNT-3: attributes {growc.kernel}
// FORM-NOT: attributes {growc.kernel}

// BAD: growc-outline-elementwise: body-op 'math.nope' is not a registered op

// In the kernel pipeline, on a real model: the SwiGLU (SiLU's exp) is
// outlined first, one kernel for both layers; kernel formation, bufferization
// and GPU distribution take it like any row kernel.
// PIPE-LABEL: func.func @two(
// PIPE: call @swiglu_0(
// PIPE: call @swiglu_0(
// PIPE-LABEL: func.func @swiglu_0(
// PIPE: scf.forall
// PIPE: math.exp
// PIPE: {mapping = [#gpu.thread<x>]}
// PIPE-NEXT: {mapping = [#gpu.block<x>]}
// The training step compiles too; its SwiGLUs are still one kernel.
// TRAIN-LABEL: func.func @two(
// TRAIN-COUNT-2: call @swiglu_0(
// TRAIN-LABEL: func.func @swiglu_0(
// TRAIN: math.exp

func.func @host(%x: tensor<8x16xf32>, %w: tensor<16x16xf32>,
                %w2: tensor<16x16xf32>) -> tensor<8xf32>
    attributes {growc.param_names = ["w", "w2"]} {
  %a = growk.matmul %x, %w : tensor<8x16xf32>, tensor<16x16xf32> -> tensor<8x16xf32>
  %init = tensor.empty() : tensor<8x16xf32>
  %s = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<8x16xf32>) outs(%init : tensor<8x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %one = arith.constant 1.0 : f32
    %neg = arith.negf %in : f32
    %exp = math.exp %neg : f32
    %den = arith.addf %one, %exp : f32
    %silu = arith.divf %in, %den : f32
    linalg.yield %silu : f32
  } -> tensor<8x16xf32>
  %t = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s, %x : tensor<8x16xf32>, tensor<8x16xf32>) outs(%init : tensor<8x16xf32>) {
  ^bb0(%in: f32, %res: f32, %out: f32):
    %sum = arith.addf %in, %res : f32
    linalg.yield %sum : f32
  } -> tensor<8x16xf32>
  %b = growk.matmul %t, %w2 : tensor<8x16xf32>, tensor<16x16xf32> -> tensor<8x16xf32>
  %s2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%b : tensor<8x16xf32>) outs(%init : tensor<8x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %one = arith.constant 1.0 : f32
    %neg = arith.negf %in : f32
    %exp = math.exp %neg : f32
    %den = arith.addf %one, %exp : f32
    %silu = arith.divf %in, %den : f32
    linalg.yield %silu : f32
  } -> tensor<8x16xf32>
  %zero = arith.constant 0.0 : f32
  %rows = tensor.empty() : tensor<8xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%rows : tensor<8xf32>) -> tensor<8xf32>
  %total = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%s2 : tensor<8x16xf32>) outs(%acc : tensor<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %exp = math.exp %in : f32
    %sum = arith.addf %exp, %out : f32
    linalg.yield %sum : f32
  } -> tensor<8xf32>
  return %total : tensor<8xf32>
}

// -----

// Only host functions (those with growc.param_names) are looked at.
// CHECK-LABEL: func.func @not_a_host(
// CHECK-NOT: call
// CHECK: math.exp
// CHECK-NOT: growc.kernel
func.func @not_a_host(%x: tensor<4xf32>) -> tensor<4xf32> {
  %init = tensor.empty() : tensor<4xf32>
  %e = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%x : tensor<4xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %exp = math.exp %in : f32
    linalg.yield %exp : f32
  } -> tensor<4xf32>
  return %e : tensor<4xf32>
}
