// growk.all_reduce: round trip on tensors and memrefs, one diagnostic per
// verifier rule; then what it becomes: in place after bufferization, the
// identity in the JIT's reference lowering, its operand kept by
// growc-lower-library-calls-to-linalg{library-call} for the plan.
// RUN: growc-opt %s -split-input-file -verify-diagnostics | FileCheck %s
// RUN: growc-opt %s -split-input-file -verify-diagnostics --growc-lower-library-calls-to-linalg | FileCheck %s --check-prefix=JIT
// RUN: growc-opt %s -split-input-file -verify-diagnostics --growc-lower-library-calls-to-linalg="library-call=true" | FileCheck %s --check-prefix=LIBCALL
// RUN: growc-opt %s -split-input-file -verify-diagnostics --one-shot-bufferize="bufferize-function-boundaries" | FileCheck %s --check-prefix=BUF

// CHECK-LABEL: func.func @on_tensors
// CHECK: %[[R:.*]] = growk.all_reduce %{{.*}} : tensor<4x8xf32> -> tensor<4x8xf32>
// CHECK: growk.all_reduce %[[R]] when(%{{.*}} : tensor<1xf32>) {reduction = "sum"} : tensor<4x8xf32> -> tensor<4x8xf32>
// JIT-LABEL: func.func @on_tensors
// JIT-NOT: growk.all_reduce
// JIT: return %arg0
// LIBCALL-LABEL: func.func @on_tensors
// LIBCALL-COUNT-2: growk.all_reduce
// BUF-LABEL: func.func @on_tensors
// BUF-SAME: (%[[G:.*]]: memref<4x8xf32
// BUF: growk.all_reduce %[[G]] : memref<4x8xf32
// BUF: growk.all_reduce %[[G]] when(%{{.*}} : memref<1xf32
// BUF: return %[[G]]
func.func @on_tensors(%g: tensor<4x8xf32>, %apply: tensor<1xf32>) -> tensor<4x8xf32> {
  %r = growk.all_reduce %g : tensor<4x8xf32> -> tensor<4x8xf32>
  %s = growk.all_reduce %r when(%apply : tensor<1xf32>) {reduction = "sum"} : tensor<4x8xf32> -> tensor<4x8xf32>
  return %s : tensor<4x8xf32>
}

// -----

// CHECK-LABEL: func.func @on_memrefs
// CHECK: growk.all_reduce %{{.*}} : memref<16xf32>
// CHECK-NOT: ->
func.func @on_memrefs(%g: memref<16xf32>) {
  growk.all_reduce %g : memref<16xf32>
  return
}

// -----

func.func @not_f32(%g: tensor<4xf16>) {
  // expected-error @+1 {{reduces a static f32 tensor or memref, got 'tensor<4xf16>'}}
  %r = growk.all_reduce %g : tensor<4xf16> -> tensor<4xf16>
  return
}

// -----

func.func @result_type(%g: tensor<4xf32>) {
  // expected-error @+1 {{result type must be the value's type 'tensor<4xf32>'}}
  %r = growk.all_reduce %g : tensor<4xf32> -> tensor<2x2xf32>
  return
}

// -----

func.func @no_result_on_tensors(%g: tensor<4xf32>) {
  // expected-error @+1 {{on tensors has one result}}
  growk.all_reduce %g : tensor<4xf32>
  return
}

// -----

func.func @flag_shape(%g: tensor<4xf32>, %apply: tensor<2xf32>) {
  // expected-error @+1 {{'when' must be a one-element f32 tensor, got 'tensor<2xf32>'}}
  %r = growk.all_reduce %g when(%apply : tensor<2xf32>) : tensor<4xf32> -> tensor<4xf32>
  return
}

// -----

func.func @flag_kind(%g: memref<4xf32>, %apply: tensor<1xf32>) {
  // expected-error @+1 {{'when' must be a one-element f32 memref}}
  growk.all_reduce %g when(%apply : tensor<1xf32>) : memref<4xf32>
  return
}

// -----

func.func @reduction(%g: tensor<4xf32>) {
  // expected-error @+1 {{reduction must be "mean" or "sum", got "max"}}
  %r = growk.all_reduce %g {reduction = "max"} : tensor<4xf32> -> tensor<4xf32>
  return
}
