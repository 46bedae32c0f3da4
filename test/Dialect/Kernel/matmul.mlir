// growk.matmul with and without a folded residual (acc): round trip, the
// verifier, and its lowering for the JIT (accumulate into acc) and for the
// plan (library calls; the accumulating one becomes a beta = 1 GEMM).
// RUN: growc-opt %s -split-input-file -verify-diagnostics | FileCheck %s
// RUN: growc-opt %s -split-input-file -verify-diagnostics --growc-lower-library-calls-to-linalg="library-call=true" | FileCheck %s --check-prefix=LIBCALL
// RUN: growc-opt %s -split-input-file -verify-diagnostics --growc-lower-library-calls-to-linalg | FileCheck %s --check-prefix=JIT

// CHECK-LABEL: func.func @residual
// CHECK: growk.matmul %arg0, %arg1 : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
// CHECK: growk.matmul %arg0, %arg1 acc(%arg2 : tensor<4x6xf32>) : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
// LIBCALL-LABEL: func.func @residual
// LIBCALL: %[[EMPTY:.+]] = tensor.empty() : tensor<4x6xf32>
// LIBCALL: linalg.generic {{.*}}library_call = "growc_gemm_abt"} ins(%arg0, %arg1 : {{.*}}) outs(%[[EMPTY]] : tensor<4x6xf32>)
// LIBCALL: linalg.generic {{.*}}library_call = "growc_gemm_abt_acc"} ins(%arg0, %arg1 : {{.*}}) outs(%arg2 : tensor<4x6xf32>)
// JIT-LABEL: func.func @residual
// JIT: linalg.fill
// JIT: linalg.generic {{.*}} outs(%{{.*}} : tensor<4x6xf32>)
// JIT-NOT: linalg.fill
// JIT: linalg.generic {{.*}} outs(%arg2 : tensor<4x6xf32>)
func.func @residual(%a: tensor<4x8xf32>, %w: tensor<6x8xf32>, %r: tensor<4x6xf32>) -> (tensor<4x6xf32>, tensor<4x6xf32>) {
  %0 = growk.matmul %a, %w : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
  %1 = growk.matmul %a, %w acc(%r : tensor<4x6xf32>) : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
  return %0, %1 : tensor<4x6xf32>, tensor<4x6xf32>
}

// -----

// The backward layouts: dX = dY · W (B stored [K, N]) and dW = dYᵀ · X (A
// stored [K, M]).
// CHECK-LABEL: func.func @layouts
// CHECK: growk.matmul %arg0, %arg1 {transpose_rhs = false} : tensor<4x6xf32>, tensor<6x8xf32> -> tensor<4x8xf32>
// CHECK: growk.matmul %arg0, %arg2 {transpose_lhs = true, transpose_rhs = false} : tensor<4x6xf32>, tensor<4x8xf32> -> tensor<6x8xf32>
// LIBCALL-LABEL: func.func @layouts
// LIBCALL: library_call = "growc_gemm_ab"
// LIBCALL: library_call = "growc_gemm_atb"
// JIT-LABEL: func.func @layouts
func.func @layouts(%dy: tensor<4x6xf32>, %w: tensor<6x8xf32>, %x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<6x8xf32>) {
  %dx = growk.matmul %dy, %w {transpose_rhs = false} : tensor<4x6xf32>, tensor<6x8xf32> -> tensor<4x8xf32>
  %dw = growk.matmul %dy, %x {transpose_lhs = true, transpose_rhs = false} : tensor<4x6xf32>, tensor<4x8xf32> -> tensor<6x8xf32>
  return %dx, %dw : tensor<4x8xf32>, tensor<6x8xf32>
}

// -----

func.func @transposed_sizes(%dy: tensor<4x6xf32>, %x: tensor<5x8xf32>) -> tensor<6x8xf32> {
  // expected-error @+1 {{contraction sizes differ: A is 'tensor<4x6xf32>' ([K, M]) and B is 'tensor<5x8xf32>' (B is [K, N])}}
  %dw = growk.matmul %dy, %x {transpose_lhs = true, transpose_rhs = false} : tensor<4x6xf32>, tensor<5x8xf32> -> tensor<6x8xf32>
  return %dw : tensor<6x8xf32>
}

// -----

func.func @acc_shape(%a: tensor<4x8xf32>, %w: tensor<6x8xf32>, %r: tensor<6x4xf32>) -> tensor<4x6xf32> {
  // expected-error @+1 {{acc must have the result type 'tensor<4x6xf32>', got 'tensor<6x4xf32>'}}
  %0 = growk.matmul %a, %w acc(%r : tensor<6x4xf32>) : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
  return %0 : tensor<4x6xf32>
}

// -----

func.func @contraction(%a: tensor<4x8xf32>, %w: tensor<6x7xf32>) -> tensor<4x6xf32> {
  // expected-error @+1 {{contraction sizes differ}}
  %0 = growk.matmul %a, %w : tensor<4x8xf32>, tensor<6x7xf32> -> tensor<4x6xf32>
  return %0 : tensor<4x6xf32>
}

// -----

// Mixed precision: bf16 operands, a bf16 result, products summed in f32 and
// rounded once (the JIT form widens each operand and C, rounds the sum).
// CHECK-LABEL: func.func @bf16
// CHECK: growk.matmul %arg0, %arg1 : tensor<4x8xbf16>, tensor<6x8xbf16> -> tensor<4x6xbf16>
// LIBCALL-LABEL: func.func @bf16
// LIBCALL: linalg.generic {{.*}}library_call = "growc_gemm_abt"} ins(%arg0, %arg1 : tensor<4x8xbf16>, tensor<6x8xbf16>) outs(%{{.*}} : tensor<4x6xbf16>)
// JIT-LABEL: func.func @bf16
// JIT: ^bb0(%[[A:.+]]: bf16, %[[B:.+]]: bf16, %[[C:.+]]: bf16):
// JIT: %[[C32:.+]] = arith.extf %[[C]] : bf16 to f32
// JIT: %[[SUM:.+]] = arith.addf %{{.+}}, %[[C32]] : f32
// JIT: arith.truncf %[[SUM]] : f32 to bf16
func.func @bf16(%a: tensor<4x8xbf16>, %w: tensor<6x8xbf16>) -> tensor<4x6xbf16> {
  %0 = growk.matmul %a, %w : tensor<4x8xbf16>, tensor<6x8xbf16> -> tensor<4x6xbf16>
  return %0 : tensor<4x6xbf16>
}

// -----

// The accumulator of a folded residual is f32, so a bf16 result cannot take
// one.
func.func @bf16_acc(%a: tensor<4x8xbf16>, %w: tensor<6x8xbf16>, %r: tensor<4x6xf32>) -> tensor<4x6xbf16> {
  // expected-error @+1 {{acc must have the result type 'tensor<4x6xbf16>', got 'tensor<4x6xf32>'}}
  %0 = growk.matmul %a, %w acc(%r : tensor<4x6xf32>) : tensor<4x8xbf16>, tensor<6x8xbf16> -> tensor<4x6xbf16>
  return %0 : tensor<4x6xbf16>
}
