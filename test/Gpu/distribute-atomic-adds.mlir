// growc-distribute-kernels, the parts behind the GPU's embedding gradient
// (docs/gpu.md, "The embedding gradient") and the SwiGLU forward's vectors:
// atomic adds in a block loop, the host's buffers of an input the loop
// updates in place made one, and vector loads of reads by index.
// RUN: growc-opt %s -split-input-file --growc-distribute-kernels="threads=32" -verify-diagnostics | FileCheck %s

// Blocks of tokens (2 blocks of 3) adding rows into the table: the row
// update marked growc.atomic_add becomes one atomic add per element, no
// load or store of the table.
// CHECK-LABEL: func.func @atomic_rows
// CHECK: scf.forall (%{{.+}}) in (2) {
// CHECK: scf.for
// CHECK: scf.if
// CHECK: scf.forall (%[[T:.+]]) in (32) {
// CHECK: scf.for %{{.+}} = %[[T]] to %c4{{.*}} step %c32{{.*}} {
// CHECK: %[[X:.+]] = memref.load %[[SRC:.+]][%[[I:.+]], %[[J:.+]]] : memref<1x4xf32, strided<[4, 1], offset: ?>>
// CHECK: %[[V:.+]] = arith.addf %[[X]], %{{.+}} : f32
// CHECK: memref.atomic_rmw addf %[[V]], %{{.+}}[%[[I]], %[[J]]] : (f32, memref<1x4xf32, strided<[4, 1], offset: ?>>) -> f32
// CHECK-NOT: memref.store
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: } {growc.own_kernel, mapping = [#gpu.block<x>]}
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @atomic_rows(%tokens: memref<6xi32>, %rows: memref<6x4xf32>, %table: memref<3x4xf32>) attributes {growc.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  scf.forall (%blk) in (2) {
    %first = arith.muli %blk, %c3 : index
    scf.for %i = %c0 to %c3 step %c1 {
      %n = arith.addi %first, %i : index
      %t = memref.load %tokens[%n] : memref<6xi32>
      %v = arith.index_cast %t : i32 to index
      %in = arith.cmpi ult, %v, %c3 : index
      scf.if %in {
        %dst = memref.subview %table[%v, 0] [1, 4] [1, 1] : memref<3x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
        %src = memref.subview %rows[%n, 0] [1, 4] [1, 1] : memref<6x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
        linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%src : memref<1x4xf32, strided<[4, 1], offset: ?>>) outs(%dst : memref<1x4xf32, strided<[4, 1], offset: ?>>) attrs = {growc.atomic_add} {
        ^bb0(%a: f32, %o: f32):
          %s = arith.addf %a, %o : f32
          linalg.yield %s : f32
        }
      }
    }
  } {growc.own_kernel}
  return
}

// -----

// What bufferization leaves where the loop updates its input %init in
// place: a copy into the output at the end. The host's call reads %init
// last and writes %out first, so they become one buffer (the one defined
// first) and the kernel loses the copy and its output argument.
// CHECK-LABEL: func.func @host
// CHECK: %[[INIT:.+]] = memref.alloc() : memref<3x4xf32>
// CHECK-NOT: memref.alloc() : memref<3x4xf32>
// CHECK: call @update(%{{.+}}, %{{.+}}, %[[INIT]]) : (memref<6xi32>, memref<6x4xf32>, memref<3x4xf32>) -> ()
// CHECK: return %[[INIT]]
// CHECK-LABEL: func.func @update(%{{.+}}: memref<6xi32>, %{{.+}}: memref<6x4xf32>, %{{.+}}: memref<3x4xf32>)
// CHECK-NOT: memref.copy
// CHECK: return
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @host(%tokens: memref<6xi32>, %rows: memref<6x4xf32>) -> memref<3x4xf32> {
  %init = memref.alloc() : memref<3x4xf32>
  %out = memref.alloc() : memref<3x4xf32>
  call @update(%tokens, %rows, %init, %out) : (memref<6xi32>, memref<6x4xf32>, memref<3x4xf32>, memref<3x4xf32>) -> ()
  return %out : memref<3x4xf32>
}
func.func @update(%tokens: memref<6xi32>, %rows: memref<6x4xf32>, %init: memref<3x4xf32>, %out: memref<3x4xf32>) attributes {growc.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  scf.forall (%blk) in (2) {
    %first = arith.muli %blk, %c3 : index
    scf.for %i = %c0 to %c3 step %c1 {
      %n = arith.addi %first, %i : index
      %t = memref.load %tokens[%n] : memref<6xi32>
      %v = arith.index_cast %t : i32 to index
      %dst = memref.subview %init[%v, 0] [1, 4] [1, 1] : memref<3x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
      %src = memref.subview %rows[%n, 0] [1, 4] [1, 1] : memref<6x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
      linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%src : memref<1x4xf32, strided<[4, 1], offset: ?>>) outs(%dst : memref<1x4xf32, strided<[4, 1], offset: ?>>) attrs = {growc.atomic_add} {
      ^bb0(%a: f32, %o: f32):
        %s = arith.addf %a, %o : f32
        linalg.yield %s : f32
      }
    }
  } {growc.own_kernel}
  memref.copy %init, %out : memref<3x4xf32> to memref<3x4xf32>
  return
}

// -----

// The same where the host reads %init after the call: one buffer would
// change what it reads, so this is an error, not a silent copy.
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @host(%rows: memref<3x4xf32>) -> (memref<3x4xf32>, memref<3x4xf32>) {
  %init = memref.alloc() : memref<3x4xf32>
  %out = memref.alloc() : memref<3x4xf32>
  // expected-error @+1 {{'update' updates argument 1 in place and copies it to argument 2, and the host's buffers for them cannot be one}}
  call @update(%rows, %init, %out) : (memref<3x4xf32>, memref<3x4xf32>, memref<3x4xf32>) -> ()
  %again = memref.alloc() : memref<3x4xf32>
  memref.copy %init, %again : memref<3x4xf32> to memref<3x4xf32>
  return %out, %again : memref<3x4xf32>, memref<3x4xf32>
}
func.func @update(%rows: memref<3x4xf32>, %init: memref<3x4xf32>, %out: memref<3x4xf32>) attributes {growc.kernel} {
  scf.forall (%blk) in (2) {
    %dst = memref.subview %init[%blk, 0] [1, 4] [1, 1] : memref<3x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
    %src = memref.subview %rows[%blk, 0] [1, 4] [1, 1] : memref<3x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%src : memref<1x4xf32, strided<[4, 1], offset: ?>>) outs(%dst : memref<1x4xf32, strided<[4, 1], offset: ?>>) attrs = {growc.atomic_add} {
    ^bb0(%a: f32, %o: f32):
      %s = arith.addf %a, %o : f32
      linalg.yield %s : f32
    }
  } {growc.own_kernel}
  memref.copy %init, %out : memref<3x4xf32> to memref<3x4xf32>
  return
}

// -----

// An atomic add must add into its output.
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @atomic_product(%rows: memref<2x4xf32>, %table: memref<2x4xf32>) attributes {growc.kernel} {
  scf.forall (%blk) in (2) {
    %dst = memref.subview %table[%blk, 0] [1, 4] [1, 1] : memref<2x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
    %src = memref.subview %rows[%blk, 0] [1, 4] [1, 1] : memref<2x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
    // expected-error @+1 {{an atomic add must be elementwise, f32, with a body out + f(inputs)}}
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%src : memref<1x4xf32, strided<[4, 1], offset: ?>>) outs(%dst : memref<1x4xf32, strided<[4, 1], offset: ?>>) attrs = {growc.atomic_add} {
    ^bb0(%a: f32, %o: f32):
      %s = arith.mulf %a, %o : f32
      linalg.yield %s : f32
    }
  } {growc.own_kernel}
  return
}

// -----

// A row kernel reading two halves of a row by index (the SwiGLU forward's
// gate and up): both reads are bf16x8 vector loads where the base pointers
// are aligned; a read at j + 3 (not a multiple of the vector) keeps the
// element loop.
// CHECK-LABEL: func.func @halves
// CHECK: scf.forall (%[[ROW:.+]]) in (4) {
// CHECK: scf.forall (%{{.+}}) in (32) {
// CHECK: memref.extract_aligned_pointer_as_index %arg1
// CHECK: memref.extract_aligned_pointer_as_index %arg0
// CHECK-NOT: memref.extract_aligned_pointer_as_index
// CHECK: scf.if
// CHECK: %[[J:.+]] = arith.muli %{{.+}}, %c8{{.*}} : index
// CHECK: vector.load %arg0[%[[ROW]], %[[J]]] {alignment = 16 : i64} : memref<4x32xbf16>, vector<8xbf16>
// CHECK: %[[UP:.+]] = arith.addi %[[J]], %c16{{.*}} : index
// CHECK: vector.load %arg0[%[[ROW]], %[[UP]]] {alignment = 16 : i64} : memref<4x32xbf16>, vector<8xbf16>
// CHECK-NOT: memref.load
// CHECK: vector.store %{{.+}}, %arg1[%[[ROW]], %[[J]]] {alignment = 16 : i64} : memref<4x16xbf16>, vector<8xbf16>
// CHECK: } else {
// CHECK: memref.load %arg0
// CHECK: memref.load %arg0
// CHECK-LABEL: func.func @shifted
// CHECK-NOT: vector.load
// CHECK: memref.load %arg0
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @halves(%gateUp: memref<4x32xbf16>, %out: memref<4x16xbf16>) attributes {growc.kernel} {
  %c16 = arith.constant 16 : index
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%out : memref<4x16xbf16>) {
  ^bb0(%o: bf16):
    %r = linalg.index 0 : index
    %j = linalg.index 1 : index
    %g = memref.load %gateUp[%r, %j] : memref<4x32xbf16>
    %ju = arith.addi %j, %c16 : index
    %u = memref.load %gateUp[%r, %ju] : memref<4x32xbf16>
    %gf = arith.extf %g : bf16 to f32
    %uf = arith.extf %u : bf16 to f32
    %p = arith.mulf %gf, %uf : f32
    %y = arith.truncf %p : f32 to bf16
    linalg.yield %y : bf16
  }
  return
}
func.func @shifted(%gateUp: memref<4x32xbf16>, %out: memref<4x16xbf16>) attributes {growc.kernel} {
  %c3 = arith.constant 3 : index
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%out : memref<4x16xbf16>) {
  ^bb0(%o: bf16):
    %r = linalg.index 0 : index
    %j = linalg.index 1 : index
    %j3 = arith.addi %j, %c3 : index
    %g = memref.load %gateUp[%r, %j3] : memref<4x32xbf16>
    linalg.yield %g : bf16
  }
  return
}

// -----

// An untied table's zeros, a kernel of its own: grid-strided vector
// stores where the table's base pointer is aligned, else element by
// element.
// CHECK-LABEL: func.func @zeros
// CHECK: scf.forall (%{{.+}}) in (1) {
// CHECK: scf.forall (%{{.+}}) in (32) {
// CHECK: memref.extract_aligned_pointer_as_index %arg0
// CHECK: scf.if
// CHECK: scf.for %{{.+}} = %{{.+}} to %c6{{.*}} step %c32{{.*}} {
// CHECK: vector.store %{{.+}}, %arg0[%{{.+}}, %{{.+}}] {alignment = 16 : i64} : memref<3x8xf32>, vector<4xf32>
// CHECK: } else {
// CHECK: scf.for %{{.+}} = %{{.+}} to %c24{{.*}} step %c32{{.*}} {
// CHECK: memref.store %{{.+}}, %arg0
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @zeros(%table: memref<3x8xf32>) attributes {growc.kernel} {
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%table : memref<3x8xf32>) attrs = {growc.own_kernel} {
  ^bb0(%o: f32):
    %z = arith.constant 0.0 : f32
    linalg.yield %z : f32
  }
  return
}

// -----

// The form is checked wherever the marker is, not only in a block loop: a
// row kernel's atomic add of a product would add f(inputs) with out = 0.
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @atomic_row_product(%rows: memref<2x4xf32>, %table: memref<2x4xf32>) attributes {growc.kernel} {
  // expected-error @+1 {{an atomic add must be elementwise, f32, with a body out + f(inputs)}}
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%rows : memref<2x4xf32>) outs(%table : memref<2x4xf32>) attrs = {growc.atomic_add} {
  ^bb0(%a: f32, %o: f32):
    %s = arith.mulf %a, %o : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// An f64 column sum marked atomic: the marker's check comes first.
#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @atomic_f64_sum(%rows: memref<2x4xf64>, %table: memref<4xf64>) attributes {growc.kernel} {
  // expected-error @+1 {{an atomic add must be elementwise, f32, with a body out + f(inputs)}}
  linalg.generic {indexing_maps = [#id, #col], iterator_types = ["reduction", "parallel"]} ins(%rows : memref<2x4xf64>) outs(%table : memref<4xf64>) attrs = {growc.atomic_add} {
  ^bb0(%a: f64, %o: f64):
    %s = arith.addf %a, %o : f64
    linalg.yield %s : f64
  }
  return
}
