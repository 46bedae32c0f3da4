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
