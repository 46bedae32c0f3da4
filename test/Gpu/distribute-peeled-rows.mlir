// growc-distribute-kernels: rows the vector does not divide (the
// cross-entropy over a vocabulary of 259) take vectors between their first
// aligned element and their last whole vector (docs/codegen.md): row r of
// a [4, 13] f32 matrix starts at element 13r, so its first (4 - 13r mod 4)
// mod 4 elements and the ones after its last whole vector go one by one.
// RUN: growc-opt %s -split-input-file --growc-distribute-kernels="threads=32" | FileCheck %s

// CHECK-LABEL: func.func @scale
// CHECK: scf.forall (%[[ROW:.+]]) in (4) {
// CHECK: scf.forall (%[[T:.+]]) in (32) {
// CHECK: scf.if
// The row's first element, mod 4: head = (4 - 13·row mod 4) mod 4.
// CHECK: %[[START:.+]] = arith.muli %[[ROW]], %c13{{.*}} : index
// CHECK: %[[S:.+]] = arith.remui %{{.+}}, %c4{{.*}} : index
// CHECK: %[[D:.+]] = arith.subi %c4{{.*}}, %[[S]] : index
// CHECK: %[[HEAD:.+]] = arith.remui %[[D]], %c4{{.*}} : index
// CHECK: %[[REST:.+]] = arith.subi %c13{{.*}}, %[[HEAD]] : index
// CHECK: %[[VECTORS:.+]] = arith.divui %[[REST]], %c4{{.*}} : index
// CHECK: %[[TAIL:.+]] = arith.addi %[[HEAD]], %{{.+}} : index
// The head and the tail element by element, then the vectors.
// CHECK: scf.for %{{.+}} = %[[T]] to %[[HEAD]] step
// CHECK: memref.load %arg0
// CHECK: memref.store
// CHECK: %[[FROM:.+]] = arith.addi %[[TAIL]], %[[T]] : index
// CHECK: scf.for %{{.+}} = %[[FROM]] to %c13{{.*}} step
// CHECK: memref.load %arg0
// CHECK: memref.store
// CHECK: scf.for %[[G:.+]] = %[[T]] to %[[VECTORS]] step
// CHECK: %[[G4:.+]] = arith.muli %[[G]], %c4{{.*}} : index
// CHECK: %[[FIRST:.+]] = arith.addi %[[HEAD]], %[[G4]] : index
// CHECK: vector.load %arg0[%[[ROW]], %[[FIRST]]] {alignment = 16 : i64} : memref<4x13xf32>, vector<4xf32>
// CHECK: vector.store %{{.+}}, %arg1[%[[ROW]], %[[FIRST]]] {alignment = 16 : i64} : memref<4x13xf32>, vector<4xf32>
// CHECK: } else {
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @scale(%x: memref<4x13xf32>, %out: memref<4x13xf32>) attributes {growc.kernel} {
  %c2 = arith.constant 2.0 : f32
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : memref<4x13xf32>) outs(%out : memref<4x13xf32>) {
  ^bb0(%a: f32, %o: f32):
    %y = arith.mulf %a, %c2 : f32
    linalg.yield %y : f32
  }
  return
}

// -----

// A row reduction: each thread folds its head and tail elements, then its
// vectors, into its partial.
// CHECK-LABEL: func.func @row_max
// CHECK: scf.forall (%[[T:.+]]) in (32) {
// CHECK: scf.if %{{.+}} -> (f32) {
// CHECK: arith.remui
// CHECK: arith.subi
// CHECK: %[[HEAD:.+]] = arith.remui
// CHECK: %[[P1:.+]] = scf.for %{{.+}} = %[[T]] to %[[HEAD]] step %{{.+}} iter_args
// CHECK: memref.load %arg0
// CHECK: arith.maximumf
// CHECK: %[[P2:.+]] = scf.for %{{.+}} = %{{.+}} to %c13{{.*}} step %{{.+}} iter_args(%{{.+}} = %[[P1]])
// CHECK: scf.for %{{.+}} = %[[T]] to %{{.+}} step %{{.+}} iter_args(%{{.+}} = %[[P2]])
// CHECK: vector.load %arg0
// CHECK-COUNT-4: arith.maximumf
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @row_max(%x: memref<4x13xf32>, %out: memref<4xf32>) attributes {growc.kernel} {
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : memref<4x13xf32>) outs(%out : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.maximumf %a, %o : f32
    linalg.yield %m : f32
  }
  return
}
