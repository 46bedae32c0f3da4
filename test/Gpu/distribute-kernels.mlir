// growc-distribute-kernels gives each bufferized kernel the block / thread
// structure of one GPU launch, as loops; kernels of another shape are
// diagnosed.
// RUN: growc-opt %s -split-input-file --growc-distribute-kernels="threads=32" -verify-diagnostics | FileCheck %s

// A row kernel (residual add + RMSNorm): one block per row; the [rows, 8]
// intermediate shrinks to one row per block; the sum of squares is folded
// by each thread into a partial and the partials combined by one thread.
// CHECK-LABEL: func.func @add_norm
// CHECK: scf.forall (%[[ROW:.+]]) in (4) {
// CHECK-DAG: %[[SUM:.+]] = memref.alloc() : memref<8xf32>
// CHECK-DAG: %[[SQ:.+]] = memref.alloc() : memref<1xf32>
// CHECK-DAG: %[[PARTIALS:.+]] = memref.alloc() : memref<32xf32>
// Residual add: the row's 8 elements strided over 32 threads.
// CHECK: scf.forall (%[[T:.+]]) in (32) {
// CHECK: scf.for %[[E:.+]] = %[[T]] to %{{.*}} step %{{.*}} {
// CHECK: memref.load %arg0[%[[ROW]], %[[E]]]
// CHECK: arith.addf
// CHECK: memref.store %{{.*}}, %[[SUM]][%[[E]]] : memref<8xf32>
// CHECK: } {mapping = [#gpu.thread<x>]}
// The fill of the one-element row of the sum of squares.
// CHECK: scf.forall
// CHECK: memref.store %{{.*}}, %[[SQ]]
// CHECK: } {mapping = [#gpu.thread<x>]}
// Partials: thread t folds elements t, t + 32, ...
// CHECK: scf.forall (%[[T2:.+]]) in (32) {
// CHECK: %[[P:.+]] = scf.for %{{.*}} = %[[T2]] to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %{{.*}}) -> (f32) {
// CHECK: arith.mulf
// CHECK: memref.store %[[P]], %[[PARTIALS]][%[[T2]]]
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: scf.forall (%{{.*}}) in (1) {
// CHECK: scf.for {{.*}} -> (f32) {
// CHECK: memref.load %[[PARTIALS]]
// CHECK: memref.store %{{.*}}, %[[SQ]]
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: scf.forall (%{{.*}}) in (32) {
// CHECK: math.sqrt
// CHECK: memref.store %{{.*}}, %arg3[%[[ROW]], %{{.*}}] : memref<4x8xf32>
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: } {mapping = [#gpu.block<x>]}
// CHECK-NOT: linalg.
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @add_norm(%x: memref<4x8xf32>, %y: memref<4x8xf32>, %w: memref<8xf32>, %out: memref<4x8xf32>) attributes {growc.kernel} {
  %zero = arith.constant 0.0 : f32
  %sum = memref.alloc() : memref<4x8xf32>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %y : memref<4x8xf32>, memref<4x8xf32>) outs(%sum : memref<4x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  }
  %sq = memref.alloc() : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%sq : memref<4xf32>)
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%sum : memref<4x8xf32>) outs(%sq : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %a : f32
    %s = arith.addf %m, %o : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%sum, %sq, %w : memref<4x8xf32>, memref<4xf32>, memref<8xf32>) outs(%out : memref<4x8xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %r = math.sqrt %s : f32
    %n = arith.divf %a, %r : f32
    %v = arith.mulf %n, %g : f32
    linalg.yield %v : f32
  }
  return
}

// -----

// Attention: blocks over (query tiles of 4, heads, batch); one thread per
// query row walks keys 0..position with an online softmax, its query and
// accumulator private (alloca).
// CHECK-LABEL: func.func @attention
// CHECK: scf.forall (%[[TILE:.+]], %[[HEAD:.+]], %[[B:.+]]) in (2, 4, 2) {
// CHECK: scf.forall (%[[T:.+]]) in (4) {
// CHECK: arith.cmpi ult
// CHECK: scf.if
// CHECK-COUNT-2: memref.alloca() : memref<8xf32>
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (f32, f32) {
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: } {mapping = [#gpu.block<x>, #gpu.block<y>, #gpu.block<z>]}
// CHECK-NOT: growk.attention
func.func @attention(%q: memref<14x32xf32>, %k: memref<14x16xf32>, %v: memref<14x16xf32>, %o: memref<14x32xf32>) attributes {growc.kernel} {
  growk.attention ins(%q, %k, %v : memref<14x32xf32>, memref<14x16xf32>, memref<14x16xf32>) outs(%o : memref<14x32xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 7 : i64, key_block = 4 : i64}
  return
}

// -----

// Reading another row of a buffer the kernel writes would race between
// blocks.
#id = affine_map<(d0, d1) -> (d0, d1)>
#shift = affine_map<(d0, d1) -> (d1, d0)>
func.func @cross_row(%x: memref<4x4xf32>, %out: memref<4x4xf32>) attributes {growc.kernel} {
  %t = memref.alloc() : memref<4x4xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : memref<4x4xf32>) outs(%t : memref<4x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  // expected-error @+1 {{accesses another row of a buffer written in this kernel}}
  linalg.generic {indexing_maps = [#shift, #id], iterator_types = ["parallel", "parallel"]} ins(%t : memref<4x4xf32>) outs(%out : memref<4x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  return
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @product_reduction(%x: memref<4x4xf32>, %out: memref<4xf32>) attributes {growc.kernel} {
  // expected-error @+1 {{only sum and max reductions are distributed over threads}}
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : memref<4x4xf32>) outs(%out : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %p = arith.mulf %a, %o : f32
    linalg.yield %p : f32
  }
  return
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @rows_differ(%x: memref<4x4xf32>, %y: memref<2x4xf32>) attributes {growc.kernel} {
  %t = memref.alloc() : memref<4x4xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : memref<4x4xf32>) outs(%t : memref<4x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  // expected-error @+1 {{row count 2 differs from the kernel's 4}}
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%y : memref<2x4xf32>) outs(%y : memref<2x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  return
}
