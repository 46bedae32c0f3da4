// growc-vectorize-contractions: row contractions out[.., n] += a * b[.., n]
// become loops whose reduction carries the output row as a vector.
// RUN: %growc-opt %s -split-input-file --growc-vectorize-contractions | FileCheck %s
// The numerics of the rewritten kernels are checked end to end by the
// Runtime tests (every CPU kernel goes through this pass).

#a = affine_map<(g, t, j, d) -> (g, t, j)>
#k = affine_map<(g, t, j, d) -> (j, d)>
#o = affine_map<(g, t, j, d) -> (t, g, d)>

// dQ[t, g, d] += dS[g, t, j] * K[j, d]: parallel g, t; reduction j; the
// row d (16 values) is one vector.
// CHECK-LABEL: func.func @dq
// CHECK:       scf.for %[[G:.*]] = %c0 to %c2
// CHECK:         scf.for %[[T:.*]] = %c0 to %c8
// CHECK:           %[[ACC:.*]] = vector.load %arg2[%[[T]], %[[G]], %c0] : memref<8x2x16xf32>, vector<16xf32>
// CHECK:           %[[SUM:.*]] = scf.for %[[J:.*]] = %c0 to %c8 {{.*}} iter_args(%[[A:.*]] = %[[ACC]]) -> (vector<16xf32>)
// CHECK:             %[[S:.*]] = memref.load %arg0[%[[G]], %[[T]], %[[J]]]
// CHECK:             %[[ROW:.*]] = vector.load %arg1[%[[J]], %c0] : memref<8x16xf32, strided<[32, 1], offset: ?>>, vector<16xf32>
// CHECK:             %[[B:.*]] = vector.broadcast %[[S]] : f32 to vector<16xf32>
// CHECK:             %[[F:.*]] = vector.fma %[[B]], %[[ROW]], %[[A]] : vector<16xf32>
// CHECK:             scf.yield %[[F]]
// CHECK:           vector.store %[[SUM]], %arg2[%[[T]], %[[G]], %c0]
// CHECK-NOT:   linalg.generic
func.func @dq(%ds: memref<2x8x8xf32>, %k: memref<8x16xf32, strided<[32, 1], offset: ?>>,
              %dq: memref<8x2x16xf32>) {
  linalg.generic {indexing_maps = [#a, #k, #o],
                  iterator_types = ["parallel", "parallel", "reduction", "parallel"]}
      ins(%ds, %k : memref<2x8x8xf32>, memref<8x16xf32, strided<[32, 1], offset: ?>>)
      outs(%dq : memref<8x2x16xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A row of 130 values: two full chunks of 64 in a loop, then 2.
// CHECK-LABEL: func.func @wide
// CHECK:       scf.for %[[I:.*]] = %c0 to %c4
// CHECK:         scf.for %[[C:.*]] = %c0 to %c128 step %c64
// CHECK:           vector.load %arg2[%[[I]], %[[C]]] : memref<4x130xf32>, vector<64xf32>
// CHECK:           vector.fma {{.*}} : vector<64xf32>
// CHECK:         vector.load %arg2[%[[I]], %c128] : memref<4x130xf32>, vector<2xf32>
// CHECK:         vector.fma {{.*}} : vector<2xf32>
func.func @wide(%a: memref<4x3xf32>, %b: memref<3x130xf32>, %c: memref<4x130xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, k, n) -> (i, k)>,
                                   affine_map<(i, k, n) -> (k, n)>,
                                   affine_map<(i, k, n) -> (i, n)>],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<4x3xf32>, memref<3x130xf32>) outs(%c : memref<4x130xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %y, %x : f32
    %s = arith.addf %m, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Left alone: the reduction is the innermost dimension of b (a dot
// product), the row of b is strided, and a body that is not mul + add.
// CHECK-LABEL: func.func @untouched
// CHECK-COUNT-3: linalg.generic
// CHECK-NOT:   vector.
func.func @untouched(%a: memref<4x16xf32>, %b: memref<8x16xf32>, %c: memref<4x8xf32>,
                     %s: memref<16x8xf32, strided<[1, 16]>>, %d: memref<4x8xf32>,
                     %e: memref<16x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>,
                                   affine_map<(i, j, k) -> (j, k)>,
                                   affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<4x16xf32>, memref<8x16xf32>) outs(%c : memref<4x8xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %r = arith.addf %m, %acc : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, k, n) -> (i, k)>,
                                   affine_map<(i, k, n) -> (k, n)>,
                                   affine_map<(i, k, n) -> (i, n)>],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %s : memref<4x16xf32>, memref<16x8xf32, strided<[1, 16]>>) outs(%d : memref<4x8xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %r = arith.addf %m, %acc : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, k, n) -> (i, k)>,
                                   affine_map<(i, k, n) -> (k, n)>,
                                   affine_map<(i, k, n) -> (i, n)>],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %e : memref<4x16xf32>, memref<16x8xf32>) outs(%d : memref<4x8xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.subf %x, %y : f32
    %r = arith.addf %m, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Left alone: the row input is the output buffer itself.
// CHECK-LABEL: func.func @aliased
// CHECK:       linalg.generic
// CHECK-NOT:   vector.
func.func @aliased(%a: memref<4x4xf32>, %c: memref<4x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, k, n) -> (i, k)>,
                                   affine_map<(i, k, n) -> (k, n)>,
                                   affine_map<(i, k, n) -> (i, n)>],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %c : memref<4x4xf32>, memref<4x8xf32>) outs(%c : memref<4x8xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %r = arith.addf %m, %acc : f32
    linalg.yield %r : f32
  }
  return
}
