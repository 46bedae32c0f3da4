// growc-distribute-kernels gives each bufferized kernel the block / thread
// structure of one GPU launch, as loops; kernels of another shape are
// diagnosed.
// RUN: growc-opt %s -split-input-file --growc-distribute-kernels="threads=32" -verify-diagnostics | FileCheck %s

// A row kernel (residual add + RMSNorm): one block per row; the [rows, 8]
// intermediate shrinks to one row per block; the sum of squares is folded
// by each thread into a partial and the partials combined by one thread
// (both marked for the GPU backend's warp shuffles). Global operands move
// as 128-bit vectors where their base pointers are aligned.
// CHECK-LABEL: func.func @add_norm
// CHECK: scf.forall (%[[ROW:.+]]) in (4) {
// CHECK-DAG: %[[SUM:.+]] = memref.alloc() : memref<8xf32>
// CHECK-DAG: %[[SQ:.+]] = memref.alloc() : memref<1xf32>
// CHECK-DAG: %[[PARTIALS:.+]] = memref.alloc() : memref<32xf32>
// Residual add: the row's 2 vectors of 4 elements strided over 32 threads
// where both inputs are 16-byte aligned, else its 8 elements.
// CHECK: scf.forall (%[[T:.+]]) in (32) {
// CHECK: memref.extract_aligned_pointer_as_index %arg0
// CHECK: memref.extract_aligned_pointer_as_index %arg1
// CHECK: scf.if
// CHECK: scf.for %[[G:.+]] = %[[T]] to %{{.*}} step %{{.*}} {
// CHECK: %[[FIRST:.+]] = arith.muli %[[G]], %{{.*}} : index
// CHECK: vector.load %arg0[%[[ROW]], %[[FIRST]]] {alignment = 16 : i64} : memref<4x8xf32>, vector<4xf32>
// CHECK: vector.load %arg1[%[[ROW]], %[[FIRST]]] {alignment = 16 : i64} : memref<4x8xf32>, vector<4xf32>
// CHECK-COUNT-4: arith.addf
// CHECK: } else {
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
// CHECK: memref.store %[[P]], %[[PARTIALS]][%[[T2]]] {growc.combine_partials = "add"}
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: scf.forall (%{{.*}}) in (1) {
// CHECK: scf.for {{.*}} -> (f32) {
// CHECK: memref.load %[[PARTIALS]]
// CHECK: } {growc.combine_partials = "add"}
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

// -----

// An elementwise op of its own (an AdamW moment over a [5, 3] parameter):
// grid-strided over the 15 elements, the [1] scalar read at index 0.
// CHECK-LABEL: func.func @own_elementwise
// CHECK: scf.forall (%[[B:.+]]) in (1) {
// CHECK: scf.forall (%[[T:.+]]) in (32) {
// CHECK: %[[FIRST:.+]] = arith.addi %{{.*}}, %[[T]] : index
// CHECK: scf.for %[[E:.+]] = %[[FIRST]] to %c15 step %c32{{.*}} {
// CHECK-DAG: %[[J:.+]] = arith.remui %[[E]], %c3
// CHECK-DAG: %[[I:.+]] = arith.divui %[[E]], %c3
// CHECK: memref.load %arg1[%c0{{.*}}]
// CHECK: memref.store %{{.*}}, %arg2[%[[I]], %[[J]]] : memref<5x3xf32>
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: } {mapping = [#gpu.block<x>]}
// CHECK-NOT: linalg.
#id = affine_map<(d0, d1) -> (d0, d1)>
#scalar = affine_map<(d0, d1) -> (0)>
func.func @own_elementwise(%g: memref<5x3xf32>, %coef: memref<1xf32>, %out: memref<5x3xf32>) attributes {growc.kernel} {
  linalg.generic {indexing_maps = [#id, #scalar, #id], iterator_types = ["parallel", "parallel"]} ins(%g, %coef : memref<5x3xf32>, memref<1xf32>) outs(%out : memref<5x3xf32>) attrs = {growc.own_kernel} {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %m = arith.mulf %a, %c : f32
    linalg.yield %m : f32
  }
  return
}

// -----

// A sum over everything into [1] after its fill (the token count, the mean
// loss): one block, threads fold strided partials, one thread combines
// them in thread order after the fill; no second launch for 40 elements.
// CHECK-LABEL: func.func @own_full_reduction
// CHECK: scf.forall (%{{.+}}) in (1) {
// CHECK: %[[P:.+]] = memref.alloc() : memref<32xf32>
// CHECK: scf.forall (%[[T:.+]]) in (32) {
// CHECK: scf.if
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c32{{.*}} iter_args
// CHECK: memref.store %{{.*}}, %[[P]][%[[T]]]
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: scf.forall (%{{.+}}) in (1) {
// CHECK: memref.store %cst{{.*}}, %arg1[%c0{{.*}}]
// CHECK: %[[INIT:.+]] = memref.load %arg1[%c0{{.*}}]
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c32{{.*}} step %c1{{.*}} iter_args(%{{.*}} = %[[INIT]])
// CHECK: memref.load %[[P]]
// CHECK: memref.store %{{.*}}, %arg1[%c0{{.*}}]
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: } {mapping = [#gpu.block<x>]}
// CHECK-NOT: _combine
#in = affine_map<(d0, d1) -> (d0, d1)>
#scalar = affine_map<(d0, d1) -> (0)>
func.func @own_full_reduction(%x: memref<8x5xf32>, %out: memref<1xf32>) attributes {growc.kernel} {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<1xf32>)
  linalg.generic {indexing_maps = [#in, #scalar], iterator_types = ["reduction", "reduction"]} ins(%x : memref<8x5xf32>) outs(%out : memref<1xf32>) attrs = {growc.own_kernel} {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %o : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A sum over 512 rows for each of 8 columns (an RMSNorm weight gradient):
// blocks over (column tiles of 8, 4 chunks of 128 rows), 8 columns x 4
// thread groups per block, each block's column sums written to a scratch
// [4, 8] argument; a follower kernel adds each column's 4 chunks in chunk
// order to the output after the fill, and copies the result.
// CHECK-LABEL: func.func @own_column_reduction
// CHECK-SAME: %[[OUT:[^:]+]]: memref<8xf32>, %[[COPY:[^:]+]]: memref<8xf32>, %[[SCRATCH:[^:]+]]: memref<4x8xf32>
// CHECK: scf.forall (%[[TILE:.+]], %[[CHUNK:.+]]) in (1, 4) {
// CHECK: %[[P:.+]] = memref.alloc() : memref<32xf32>
// CHECK: scf.forall (%{{.+}}) in (32) {
// CHECK: arith.remui %{{.*}}, %c8
// CHECK: arith.divui %{{.*}}, %c8
// CHECK: scf.for %{{.*}} step %c4{{.*}} iter_args
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: scf.forall (%{{.+}}) in (8) {
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c4{{.*}} step %c1{{.*}} iter_args
// CHECK: memref.load %[[P]]
// CHECK: memref.store %{{.*}}, %[[SCRATCH]][%[[CHUNK]], %{{.*}}] : memref<4x8xf32>
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: } {mapping = [#gpu.block<x>, #gpu.block<y>]}
// CHECK-NOT: linalg.
// CHECK-LABEL: func.func @own_column_reduction_combine
// CHECK-SAME: %{{[^:]+}}: memref<8xf32>, %[[COPY2:[^:]+]]: memref<8xf32>, %[[SCRATCH2:[^:]+]]: memref<4x8xf32>
// CHECK: scf.forall (%{{.+}}) in (1) {
// CHECK: scf.forall (%{{.+}}) in (8) {
// CHECK: memref.store %cst
// CHECK: scf.for %[[C:.+]] = %c0{{.*}} to %c4{{.*}} step %c1{{.*}} iter_args
// CHECK: memref.load %[[SCRATCH2]][%[[C]], %{{.*}}]
// CHECK: memref.store
// CHECK: memref.store %{{.*}}, %[[COPY2]]
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: } {mapping = [#gpu.block<x>]}
// CHECK-NOT: linalg.
#rows = affine_map<(d0, d1) -> (d1, d0)>
#col = affine_map<(d0, d1) -> (d0)>
#id1 = affine_map<(d0) -> (d0)>
func.func @own_column_reduction(%dy: memref<512x8xf32>, %out: memref<8xf32>, %copy: memref<8xf32>) attributes {growc.kernel} {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<8xf32>)
  linalg.generic {indexing_maps = [#rows, #col], iterator_types = ["parallel", "reduction"]} ins(%dy : memref<512x8xf32>) outs(%out : memref<8xf32>) attrs = {growc.own_kernel} {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %o : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]} ins(%out : memref<8xf32>) outs(%copy : memref<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  return
}

// -----

// A block loop (the embedding gradient's vocabulary ranges): one block per
// iteration; control flow stays at block level, the linalg work inside it
// becomes thread loops (the [1, 4] row update strided over the threads).
// CHECK-LABEL: func.func @block_loop
// CHECK: scf.forall (%[[R:.+]]) in (3) {
// CHECK: scf.for %[[N:.+]] = %c0 to %c6 step %c1 {
// CHECK: memref.load %arg0[%[[N]]]
// CHECK: scf.if
// CHECK: scf.forall (%[[T:.+]]) in (32) {
// CHECK: scf.for %[[E:.+]] = %[[T]] to %c4{{.*}} step %c32{{.*}} {
// CHECK: arith.addf
// CHECK: memref.store
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: } {growc.own_kernel, mapping = [#gpu.block<x>]}
// CHECK-NOT: linalg.
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @block_loop(%tokens: memref<6xi32>, %rows: memref<6x4xf32>, %table: memref<3x4xf32>) attributes {growc.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c6 = arith.constant 6 : index
  scf.forall (%r) in (3) {
    scf.for %n = %c0 to %c6 step %c1 {
      %t = memref.load %tokens[%n] : memref<6xi32>
      %i = arith.index_cast %t : i32 to index
      %mine = arith.cmpi eq, %i, %r : index
      scf.if %mine {
        %dst = memref.subview %table[%r, 0] [1, 4] [1, 1] : memref<3x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
        %src = memref.subview %rows[%n, 0] [1, 4] [1, 1] : memref<6x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
        linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%src : memref<1x4xf32, strided<[4, 1], offset: ?>>) outs(%dst : memref<1x4xf32, strided<[4, 1], offset: ?>>) {
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

// The attention gradient: launch 1 (the kernel) one thread per (query row,
// head) computes L and D into two scratch [rows, heads] arguments and dQ;
// launch 2 (a follower with the same arguments) one thread per (key row, KV
// head) accumulates dK and dV. The host's call gets the scratch buffers and
// the follower's call.
// CHECK-LABEL: func.func @host
// CHECK: %[[L:.+]] = memref.alloc() : memref<14x4xf32>
// CHECK: %[[D:.+]] = memref.alloc() : memref<14x4xf32>
// CHECK: call @attention_grad({{.*}}, %[[L]], %[[D]])
// CHECK: call @attention_grad_dkv({{.*}}, %[[L]], %[[D]])
// CHECK-LABEL: func.func @attention_grad
// CHECK: scf.forall (%{{.+}}, %{{.+}}, %{{.+}}) in (2, 4, 2) {
// CHECK: scf.forall (%{{.+}}) in (4) {
// CHECK-COUNT-3: memref.alloca() : memref<8xf32>
// CHECK: math.log
// CHECK: memref.store %{{.*}}, %arg8
// CHECK: memref.store %{{.*}}, %arg9
// CHECK: memref.store %{{.*}}, %arg5
// CHECK: } {mapping = [#gpu.block<x>, #gpu.block<y>, #gpu.block<z>]}
// CHECK-LABEL: func.func @attention_grad_dkv
// CHECK: scf.forall (%{{.+}}, %{{.+}}, %{{.+}}) in (2, 2, 2) {
// CHECK: scf.forall (%{{.+}}) in (4) {
// CHECK-COUNT-4: memref.alloca() : memref<8xf32>
// CHECK: memref.load %arg8
// CHECK: memref.load %arg9
// CHECK: memref.store %{{.*}}, %arg6
// CHECK: memref.store %{{.*}}, %arg7
// CHECK: } {mapping = [#gpu.block<x>, #gpu.block<y>, #gpu.block<z>]}
// CHECK-NOT: growk.attention_grad
func.func @host(%q: memref<14x32xf32>, %k: memref<14x16xf32>, %v: memref<14x16xf32>, %o: memref<14x32xf32>, %do: memref<14x32xf32>, %dq: memref<14x32xf32>, %dk: memref<14x16xf32>, %dv: memref<14x16xf32>) {
  call @attention_grad(%q, %k, %v, %o, %do, %dq, %dk, %dv) : (memref<14x32xf32>, memref<14x16xf32>, memref<14x16xf32>, memref<14x32xf32>, memref<14x32xf32>, memref<14x32xf32>, memref<14x16xf32>, memref<14x16xf32>) -> ()
  return
}
func.func @attention_grad(%q: memref<14x32xf32>, %k: memref<14x16xf32>, %v: memref<14x16xf32>, %o: memref<14x32xf32>, %do: memref<14x32xf32>, %dq: memref<14x32xf32>, %dk: memref<14x16xf32>, %dv: memref<14x16xf32>) attributes {growc.kernel} {
  growk.attention_grad ins(%q, %k, %v, %o, %do : memref<14x32xf32>, memref<14x16xf32>, memref<14x16xf32>, memref<14x32xf32>, memref<14x32xf32>) outs(%dq, %dk, %dv : memref<14x32xf32>, memref<14x16xf32>, memref<14x16xf32>) {heads = 4 : i64, kv_heads = 2 : i64, seq_len = 7 : i64, key_block = 4 : i64}
  return
}

// -----

#rows = affine_map<(d0, d1) -> (d1, d0)>
#col = affine_map<(d0, d1) -> (d0)>
func.func @own_product(%x: memref<4x4xf32>, %out: memref<4xf32>) attributes {growc.kernel} {
  // expected-error @+1 {{only sum and max reductions are distributed}}
  linalg.generic {indexing_maps = [#rows, #col], iterator_types = ["parallel", "reduction"]} ins(%x : memref<4x4xf32>) outs(%out : memref<4xf32>) attrs = {growc.own_kernel} {
  ^bb0(%a: f32, %o: f32):
    %p = arith.mulf %a, %o : f32
    linalg.yield %p : f32
  }
  return
}

// -----

// Per-block buffers live in shared memory for the whole block, so they are
// allocated once, at the top of the block loop.
func.func @nested_alloc(%out: memref<2x4xf32>) attributes {growc.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  scf.forall (%r) in (2) {
    scf.for %n = %c0 to %c2 step %c1 {
      // expected-error @+1 {{a per-block buffer must be allocated at the top of the block loop}}
      %t = memref.alloc() : memref<4xf32>
    }
  }
  return
}
