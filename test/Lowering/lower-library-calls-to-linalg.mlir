// growc-lower-library-calls-to-linalg: growk.matmul as a linalg contraction,
// for the JIT (computed: zero-filled, or accumulating into acc) or for the
// plan (library-call: marked with the GEMM's name, its init an empty tensor,
// the accumulating one a beta = 1 GEMM); growk.all_reduce as the identity
// for the JIT, kept for the plan.
// RUN: %growc-opt %s -split-input-file --growc-lower-library-calls-to-linalg | FileCheck %s --check-prefix=JIT
// RUN: %growc-opt %s -split-input-file --growc-lower-library-calls-to-linalg="library-call=true" | FileCheck %s --check-prefix=LIBCALL

// A plain GEMM and one with a folded residual: the residual is the
// contraction's init instead of zeros.
// JIT-LABEL: func.func @residual
// JIT: %[[ZERO:.+]] = linalg.fill
// JIT: linalg.generic {{.*}} ins(%arg0, %arg1 : {{.*}}) outs(%[[ZERO]] : tensor<4x6xf32>)
// JIT-NOT: linalg.fill
// JIT: linalg.generic {{.*}} ins(%arg0, %arg1 : {{.*}}) outs(%arg2 : tensor<4x6xf32>)
// JIT-NOT: growk.matmul
// LIBCALL-LABEL: func.func @residual
// LIBCALL: %[[EMPTY:.+]] = tensor.empty() : tensor<4x6xf32>
// LIBCALL: linalg.generic {{.*}}library_call = "growc_gemm_abt"} ins(%arg0, %arg1 : {{.*}}) outs(%[[EMPTY]] : tensor<4x6xf32>)
// LIBCALL: linalg.generic {{.*}}library_call = "growc_gemm_abt_acc"} ins(%arg0, %arg1 : {{.*}}) outs(%arg2 : tensor<4x6xf32>)
// LIBCALL-NOT: growk.matmul
func.func @residual(%a: tensor<4x8xf32>, %w: tensor<6x8xf32>, %r: tensor<4x6xf32>) -> (tensor<4x6xf32>, tensor<4x6xf32>) {
  %0 = growk.matmul %a, %w : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
  %1 = growk.matmul %a, %w acc(%r : tensor<4x6xf32>) : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
  return %0, %1 : tensor<4x6xf32>, tensor<4x6xf32>
}

// -----

// The backward layouts, dX = dY · W (B stored [K, N]) and dW = dYᵀ · X (A
// stored [K, M]): the indexing maps read A and B as stored.
// JIT: #[[A:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// JIT: #[[KN:.+]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// JIT: #[[C:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// JIT: #[[KM:.+]] = affine_map<(d0, d1, d2) -> (d2, d0)>
// JIT-LABEL: func.func @layouts
// JIT: linalg.generic {indexing_maps = [#[[A]], #[[KN]], #[[C]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg0, %arg1 : tensor<4x6xf32>, tensor<6x8xf32>)
// JIT: linalg.generic {indexing_maps = [#[[KM]], #[[KN]], #[[C]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg0, %arg2 : tensor<4x6xf32>, tensor<4x8xf32>)
// LIBCALL-LABEL: func.func @layouts
// LIBCALL: library_call = "growc_gemm_ab"
// LIBCALL: library_call = "growc_gemm_atb"
func.func @layouts(%dy: tensor<4x6xf32>, %w: tensor<6x8xf32>, %x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<6x8xf32>) {
  %dx = growk.matmul %dy, %w {transpose_rhs = false} : tensor<4x6xf32>, tensor<6x8xf32> -> tensor<4x8xf32>
  %dw = growk.matmul %dy, %x {transpose_lhs = true, transpose_rhs = false} : tensor<4x6xf32>, tensor<4x8xf32> -> tensor<6x8xf32>
  return %dx, %dw : tensor<4x8xf32>, tensor<6x8xf32>
}

// -----

// Mixed precision: bf16 operands, a bf16 result, products summed in f32 and
// rounded once (the JIT form widens each operand and C, rounds the sum).
// JIT-LABEL: func.func @bf16
// JIT: ^bb0(%[[A:.+]]: bf16, %[[B:.+]]: bf16, %[[C:.+]]: bf16):
// JIT: %[[C32:.+]] = arith.extf %[[C]] : bf16 to f32
// JIT: %[[SUM:.+]] = arith.addf %{{.+}}, %[[C32]] : f32
// JIT: arith.truncf %[[SUM]] : f32 to bf16
// LIBCALL-LABEL: func.func @bf16
// LIBCALL: linalg.generic {{.*}}library_call = "growc_gemm_abt"} ins(%arg0, %arg1 : tensor<4x8xbf16>, tensor<6x8xbf16>) outs(%{{.*}} : tensor<4x6xbf16>)
func.func @bf16(%a: tensor<4x8xbf16>, %w: tensor<6x8xbf16>) -> tensor<4x6xbf16> {
  %0 = growk.matmul %a, %w : tensor<4x8xbf16>, tensor<6x8xbf16> -> tensor<4x6xbf16>
  return %0 : tensor<4x6xbf16>
}

// -----

// In one process an all-reduce is the identity; the plan keeps it as a
// collective step.
// JIT-LABEL: func.func @all_reduce
// JIT-NOT: growk.all_reduce
// JIT: return %arg0
// LIBCALL-LABEL: func.func @all_reduce
// LIBCALL: %[[R:.+]] = growk.all_reduce %arg0 : tensor<4x8xf32> -> tensor<4x8xf32>
// LIBCALL: %[[S:.+]] = growk.all_reduce %[[R]] when(%arg1 : tensor<1xf32>) {reduction = "sum"}
// LIBCALL: return %[[S]]
func.func @all_reduce(%g: tensor<4x8xf32>, %apply: tensor<1xf32>) -> tensor<4x8xf32> {
  %r = growk.all_reduce %g : tensor<4x8xf32> -> tensor<4x8xf32>
  %s = growk.all_reduce %r when(%apply : tensor<1xf32>) {reduction = "sum"} : tensor<4x8xf32> -> tensor<4x8xf32>
  return %s : tensor<4x8xf32>
}
