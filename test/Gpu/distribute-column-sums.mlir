// Column sums (an RMSNorm weight's gradient, growc-differentiate-model
// {norm-grad-column-sum}): a row kernel that also sums its rows into
// columns stays one launch of min(rows, 256) blocks. Each block loops over
// its rows (block, block + 256, ...), adds each into a per-block
// accumulator, writes it as its row of a [256, columns] scratch argument,
// fences and counts itself done on the completion counter (the last
// argument); the block that makes the count 256 resets the counter and
// sums the partials in block order 0..255 from the fill's value.
// RUN: growc-opt %s -split-input-file --growc-distribute-kernels="threads=32" -verify-diagnostics | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @norm_grad
// CHECK-SAME: %[[DY:[a-z0-9]+]]: memref<300x8xf32>, %[[R:[a-z0-9]+]]: memref<300xf32>, %[[DX:[a-z0-9]+]]: memref<300x8xf32>, %[[DW:[a-z0-9]+]]: memref<8xf32>, %[[PARTIALS:[a-z0-9]+]]: memref<256x8xf32>, %[[COUNTER:[a-z0-9]+]]: memref<1xi32>)
// CHECK-NOT: linalg.
// CHECK: scf.forall (%[[B:.+]]) in (256) {
// CHECK-DAG: %[[ACC:.+]] = memref.alloc() : memref<8xf32>
// CHECK-DAG: %[[FLAG:.+]] = memref.alloc() : memref<1xi32>
// The accumulator starts at zero, then the block's rows.
// CHECK: scf.forall
// CHECK: memref.store %{{.*}}, %[[ACC]]
// CHECK: scf.for %[[ROW:.+]] = %[[B]] to %{{.*}} step %{{.*}} {
// The row work, then the row added into the accumulator.
// CHECK: scf.forall
// CHECK: memref.store %{{.*}}, %[[DX]][%[[ROW]], %{{.*}}]
// CHECK: scf.forall
// CHECK: memref.load %[[R]][%[[ROW]]]
// CHECK: memref.load %[[ACC]]
// CHECK: memref.store %{{.*}}, %[[ACC]]
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK-NEXT: }
// The partials out (128-bit stores where the scratch is aligned), a
// device-scope fence, then one thread counts.
// CHECK: scf.forall
// CHECK: vector.store %{{.*}}, %[[PARTIALS]][%[[B]], %{{.*}}] {alignment = 16 : i64} : memref<256x8xf32>, vector<4xf32>
// CHECK: memref.store %{{.*}}, %[[PARTIALS]][%[[B]], %{{.*}}]
// CHECK: nvvm.memory.barrier <gpu>
// CHECK: scf.forall (%{{.*}}) in (1) {
// CHECK: %[[DONE:.+]] = memref.atomic_rmw addi %{{.*}}, %[[COUNTER]][%{{.*}}] : (i32, memref<1xi32>) -> i32
// CHECK: nvvm.memory.barrier <gpu>
// CHECK: %[[LAST:.+]] = arith.cmpi eq, %[[DONE]], %c255_i32
// CHECK: memref.store %{{.*}}, %[[FLAG]]
// CHECK: scf.if %[[LAST]] {
// CHECK: memref.store %c0_i32{{.*}}, %[[COUNTER]]
// The last block: partials in block order, from the fill's value, 4
// columns a thread where aligned (lanes add like scalars), else one.
// CHECK: %[[F:.+]] = memref.load %[[FLAG]]
// CHECK: %[[IS:.+]] = arith.cmpi ne, %[[F]]
// CHECK: scf.if %[[IS]] {
// CHECK: scf.forall
// CHECK: nvvm.memory.barrier <gpu>
// CHECK: %[[START4:.+]] = vector.broadcast %[[START:.+]] : f32 to vector<4xf32>
// CHECK: %[[TOTAL4:.+]] = scf.for %[[K4:.+]] = %c0{{.*}} to %c256{{.*}} step %c1{{.*}} iter_args(%[[S4:.+]] = %[[START4]]) -> (vector<4xf32>) {
// CHECK: %[[P4:.+]] = vector.load %[[PARTIALS]][%[[K4]], %[[J4:.+]]] {alignment = 16 : i64}
// CHECK: arith.addf %[[S4]], %[[P4]] : vector<4xf32>
// CHECK: vector.store %[[TOTAL4]], %[[DW]][%[[J4]]]
// CHECK: } else {
// CHECK: scf.for %[[J:.+]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK: %[[TOTAL:.+]] = scf.for %[[K:.+]] = %c0{{.*}} to %c256{{.*}} step %c1{{.*}} iter_args(%[[S:.+]] = %[[START]]) -> (f32) {
// CHECK: %[[P:.+]] = memref.load %[[PARTIALS]][%[[K]], %[[J]]]
// CHECK: arith.addf %[[S]], %[[P]]
// CHECK: memref.store %[[TOTAL]], %[[DW]][%[[J]]]
func.func @norm_grad(%dy: memref<300x8xf32>, %r: memref<300xf32>,
                     %dx: memref<300x8xf32>, %dw: memref<8xf32>)
    attributes {growc.kernel} {
  %zero = arith.constant 0.0 : f32
  linalg.generic {indexing_maps = [#id, #row, #id],
                  iterator_types = ["parallel", "parallel"]}
      ins(%dy, %r : memref<300x8xf32>, memref<300xf32>) outs(%dx : memref<300x8xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %m = arith.mulf %a, %s : f32
    linalg.yield %m : f32
  }
  linalg.fill ins(%zero : f32) outs(%dw : memref<8xf32>)
  linalg.generic {indexing_maps = [#id, #row, #col],
                  iterator_types = ["reduction", "parallel"]}
      ins(%dy, %r : memref<300x8xf32>, memref<300xf32>) outs(%dw : memref<8xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %m = arith.mulf %s, %a : f32
    %sum = arith.addf %m, %o : f32
    linalg.yield %sum : f32
  }
  return
}

// -----

// Fewer rows than 256: a block per row, the count to reach is the rows'.
// CHECK-LABEL: func.func @few_rows
// CHECK: scf.forall (%{{.*}}) in (4) {
// CHECK: arith.cmpi eq, %{{.*}}, %c3_i32
#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @few_rows(%x: memref<4x8xf32>, %dw: memref<8xf32>)
    attributes {growc.kernel} {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%dw : memref<8xf32>)
  linalg.generic {indexing_maps = [#id, #col],
                  iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<4x8xf32>) outs(%dw : memref<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sum = arith.addf %a, %o : f32
    linalg.yield %sum : f32
  }
  return
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @no_fill(%x: memref<4x8xf32>, %dw: memref<8xf32>)
    attributes {growc.kernel} {
  // expected-error @+1 {{a column sum's output must be filled before it in its kernel}}
  linalg.generic {indexing_maps = [#id, #col],
                  iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<4x8xf32>) outs(%dw : memref<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sum = arith.addf %a, %o : f32
    linalg.yield %sum : f32
  }
  return
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @column_max(%x: memref<4x8xf32>, %dw: memref<8xf32>)
    attributes {growc.kernel} {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%dw : memref<8xf32>)
  // expected-error @+1 {{only sums over the rows are distributed as column sums}}
  linalg.generic {indexing_maps = [#id, #col],
                  iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<4x8xf32>) outs(%dw : memref<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.maximumf %a, %o : f32
    linalg.yield %m : f32
  }
  return
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @internal_sum(%x: memref<4x8xf32>, %y: memref<4x8xf32>)
    attributes {growc.kernel} {
  %zero = arith.constant 0.0 : f32
  %dw = memref.alloc() : memref<8xf32>
  linalg.fill ins(%zero : f32) outs(%dw : memref<8xf32>)
  // expected-error @+1 {{a column sum writes an f32 result of its kernel, not 'memref<8xf32>'}}
  linalg.generic {indexing_maps = [#id, #col],
                  iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<4x8xf32>) outs(%dw : memref<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sum = arith.addf %a, %o : f32
    linalg.yield %sum : f32
  }
  return
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @read_sum(%x: memref<4x8xf32>, %dw: memref<8xf32>, %y: memref<4x8xf32>)
    attributes {growc.kernel} {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%dw : memref<8xf32>)
  linalg.generic {indexing_maps = [#id, #col],
                  iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<4x8xf32>) outs(%dw : memref<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sum = arith.addf %a, %o : f32
    linalg.yield %sum : f32
  }
  // expected-error @+1 {{uses the output of a column sum of this kernel}}
  linalg.generic {indexing_maps = [#id, #col, #id],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x, %dw : memref<4x8xf32>, memref<8xf32>) outs(%y : memref<4x8xf32>) {
  ^bb0(%a: f32, %w: f32, %o: f32):
    %m = arith.mulf %a, %w : f32
    linalg.yield %m : f32
  }
  return
}

// -----

// The host's completion counter (growc.zeroed) is reused as found, so it
// must be one: an i32 [1] in the host's body.
#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @sum_into(%x: memref<4x8xf32>, %dw: memref<8xf32>)
    attributes {growc.kernel} {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%dw : memref<8xf32>)
  linalg.generic {indexing_maps = [#id, #col],
                  iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<4x8xf32>) outs(%dw : memref<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sum = arith.addf %a, %o : f32
    linalg.yield %sum : f32
  }
  return
}
func.func @host_f32_counter(%x: memref<4x8xf32>, %dw: memref<8xf32>) {
  // expected-error @+1 {{marked growc.zeroed is a completion counter: a 'memref<1xi32>' allocated in the host function's body}}
  %c = memref.alloc() {growc.zeroed} : memref<4xf32>
  call @sum_into(%x, %dw) : (memref<4x8xf32>, memref<8xf32>) -> ()
  return
}

// -----

// One counter per host: its counting kernels run one after another.
func.func @host_two_counters() {
  %c = memref.alloc() {growc.zeroed} : memref<1xi32>
  // expected-error @+1 {{is a second completion counter (growc.zeroed) of 'host_two_counters': its kernels share one}}
  %d = memref.alloc() {growc.zeroed} : memref<1xi32>
  return
}
