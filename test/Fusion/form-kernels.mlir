// RUN: growc --import-hf-config %S/../Lowering/Inputs/gqa2-tied.json --num-layers 2 --block-size 1 --model-name two -o %t.2.mlir
// RUN: growc --import-hf-config %S/../Lowering/Inputs/gqa2-tied.json --num-layers 12 --block-size 1 --model-name deep -o %t.12.mlir
// RUN: growc-opt %t.2.mlir --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4" --growc-form-kernels --growc-expand-attention | FileCheck %s
// RUN: growc-opt %t.2.mlir --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4" --growc-form-kernels --growc-expand-attention | FileCheck %s --check-prefix=COUNT
// RUN: growc-opt %t.12.mlir --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4" --growc-form-kernels --growc-expand-attention | FileCheck %s --check-prefix=COUNT
// RUN: growc-opt %t.2.mlir --growc-duplicate-middle-block --growc-lower-model-to-tensors="batch=1 seq=8 key-block=4" --growc-form-kernels --growc-expand-attention | FileCheck %s --check-prefix=COUNT
// RUN: %growc-opt %s -split-input-file --growc-form-kernels | FileCheck %s --check-prefix=HAND

// The host function is GEMM library calls and kernel calls: per layer one
// q|k|v GEMM over the weights' rows back to back (tensor.concat, a view on
// the host), one kernel splitting its output (RoPE of q and k, v copied),
// attention as a kernel of its own, an RMSNorm kernel after o_proj (whose
// GEMM adds the attention residual itself: growk.matmul acc), one gate|up
// GEMM and a SwiGLU kernel reading its halves, and a residual add +
// RMSNorm kernel after down_proj.
// CHECK-LABEL: func.func @two(
// The first kernel embeds, builds the RoPE cos / sin tables every layer
// reads, and normalises.
// CHECK: %[[EMB:.+]]:4 = call @embedding_rope_rmsnorm_0(%arg0, %arg1, %arg2)
// CHECK: %[[WQKV:.+]] = tensor.concat dim(0) %arg3, %arg4, %arg5
// CHECK: %[[QKV:.+]] = growk.matmul %[[EMB]]#3, %[[WQKV]]
// CHECK: %[[ROPE:.+]]:3 = call @rope_1(%[[QKV]], %[[EMB]]#1, %[[EMB]]#2)
// CHECK: %[[ATT:.+]] = call @attention_2(%[[ROPE]]#0, %[[ROPE]]#1, %[[ROPE]]#2)
// CHECK: %[[MID:.+]] = growk.matmul %[[ATT]], %arg6 acc(%[[EMB]]#0 : tensor<8x16xf32>)
// CHECK: %[[N2:.+]] = call @rmsnorm_3(%[[MID]], %arg7)
// CHECK: %[[WGU:.+]] = tensor.concat dim(0) %arg8, %arg9
// CHECK: %[[GU:.+]] = growk.matmul %[[N2]], %[[WGU]]
// CHECK: %[[S:.+]] = call @swiglu_4(%[[GU]])
// CHECK: %[[D:.+]] = growk.matmul %[[S]], %arg10 :
// CHECK: %[[NEXT:.+]]:2 = call @rmsnorm_5(%[[MID]], %[[D]], %arg11)
// Layer 1 reuses layer 0's kernels.
// CHECK: call @rope_1(
// CHECK: call @attention_2(
// CHECK: growk.matmul {{.*}} acc(%[[NEXT]]#0 : tensor<8x16xf32>)
// CHECK: call @rmsnorm_3(
// CHECK: call @swiglu_4(
// The last residual + final norm has one output fewer: its own kernel.
// CHECK: %[[FIN:.+]] = call @rmsnorm_6(
// CHECK: %[[LOGITS:.+]] = growk.matmul %[[FIN]], %arg1
// The final reshape is a view and stays on the host.
// CHECK: %[[OUT:.+]] = tensor.expand_shape %[[LOGITS]]
// CHECK: return %[[OUT]]

// Kernels are functions marked growc.kernel; the attention kernel holds the
// key-block loop.
// CHECK: func.func @embedding_rope_rmsnorm_0(%{{.*}}: tensor<1x8xi32>, %{{.*}}: tensor<11x16xf32>, %{{.*}}: tensor<16xf32>) -> (tensor<8x16xf32>, tensor<8x2xf32>, tensor<8x2xf32>, tensor<8x16xf32>) attributes {growc.kernel}
// CHECK: tensor.extract
// CHECK: math.cos
// CHECK: math.sin
// CHECK: func.func @rope_1(%{{.*}}: tensor<8x32xf32>, %{{.*}}: tensor<8x2xf32>, %{{.*}}: tensor<8x2xf32>) -> (tensor<8x16xf32>, tensor<8x8xf32>, tensor<8x8xf32>) attributes {growc.kernel}
// CHECK-NOT: math.cos
// CHECK: func.func @attention_2(
// CHECK: scf.forall
// CHECK: scf.for
// CHECK: func.func @rmsnorm_3(
// CHECK: math.sqrt
// CHECK: func.func @swiglu_4(
// CHECK: math.exp

// Depth adds calls, not kernels: 2 layers, 12 layers and a grown model all
// have the same seven kernels.
// COUNT-COUNT-7: attributes {growc.kernel}
// COUNT-NOT: growc.kernel

// Hand-written cases (HAND): the runs between host steps become kernels,
// checked by role, not by the kernels' names.

// Two structurally equal runs (exp) around a GEMM are one kernel called
// twice; the tensor.empty a run uses is cloned into its kernel, not
// passed; a function without growc.param_names is not a forward graph and
// stays as it is.
// HAND-LABEL: func.func @dedup(
// HAND: %[[A:.+]] = call @[[EXP:[A-Za-z0-9_]+]](%arg0) : (tensor<4x8xf32>) -> tensor<4x8xf32>
// HAND-NEXT: %[[M:.+]] = growk.matmul %[[A]], %arg1
// HAND-NEXT: %[[B:.+]] = call @[[EXP]](%[[M]])
// HAND-NEXT: %[[N:.+]] = growk.matmul %[[B]], %arg1
// HAND-NEXT: %[[C:.+]] = call @[[ADD:[A-Za-z0-9_]+]](%[[N]], %arg0)
// HAND-NEXT: return %[[C]]
// HAND-LABEL: func.func @not_forward(
// HAND-NEXT: return %arg0
// HAND: func.func @[[EXP]](%{{.+}}: tensor<4x8xf32>) -> tensor<4x8xf32> attributes {growc.kernel}
// HAND-NEXT: tensor.empty
// HAND-NEXT: linalg.generic
// HAND: math.exp
// HAND: func.func @[[ADD]](%{{.+}}: tensor<4x8xf32>, %{{.+}}: tensor<4x8xf32>) -> tensor<4x8xf32> attributes {growc.kernel}
// HAND: arith.addf
// HAND-NOT: growc.kernel
#id = affine_map<(i, j) -> (i, j)>
func.func @dedup(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> tensor<4x8xf32> attributes {growc.param_names = ["w"]} {
  %e0 = tensor.empty() : tensor<4x8xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e0 : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = math.exp %in : f32
    linalg.yield %y : f32
  } -> tensor<4x8xf32>
  %m = growk.matmul %a, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %e1 = tensor.empty() : tensor<4x8xf32>
  %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%m : tensor<4x8xf32>) outs(%e1 : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = math.exp %in : f32
    linalg.yield %y : f32
  } -> tensor<4x8xf32>
  %n = growk.matmul %b, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %c = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%n, %x : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e1 : tensor<4x8xf32>) {
  ^bb0(%in: f32, %in2: f32, %out: f32):
    %y = arith.addf %in, %in2 : f32
    linalg.yield %y : f32
  } -> tensor<4x8xf32>
  return %c : tensor<4x8xf32>
}
func.func @not_forward(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// Host steps end a run: the library attention (growc.library_kernel) and
// the all-reduce stay on the host; the generated attention is a kernel of
// its own.
// HAND-LABEL: func.func @host_steps(
// HAND: %[[LIB:.+]] = growk.attention {{.*}}growc.library_kernel = "growc_flash_forward_hd4_f32_f32"
// HAND-NEXT: %[[GEN:.+]] = call @[[ATT:[A-Za-z0-9_]+]](%[[LIB]], %arg1, %arg2)
// HAND-NEXT: %[[R:.+]] = growk.all_reduce %[[GEN]] when(%arg3 : tensor<1xf32>)
// HAND-NEXT: %[[S:.+]] = call @{{[A-Za-z0-9_]+}}(%[[R]], %arg0)
// HAND-NEXT: return %[[S]], %[[LIB]]
// HAND: func.func @[[ATT]]({{.*}}) -> tensor<16x8xf32> attributes {growc.kernel}
// HAND-NEXT: growk.attention
// HAND-NOT: growc.library_kernel
// HAND: return
#id = affine_map<(i, j) -> (i, j)>
func.func @host_steps(%x: tensor<16x8xf32>, %k: tensor<16x4xf32>, %o: tensor<16x8xf32>, %apply: tensor<1xf32>) -> (tensor<16x8xf32>, tensor<16x8xf32>) attributes {growc.param_names = []} {
  %lib = growk.attention ins(%x, %k, %k : tensor<16x8xf32>, tensor<16x4xf32>, tensor<16x4xf32>) outs(%o : tensor<16x8xf32>) {growc.library_kernel = "growc_flash_forward_hd4_f32_f32", heads = 2 : i64, kv_heads = 1 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x8xf32>
  %gen = growk.attention ins(%lib, %k, %k : tensor<16x8xf32>, tensor<16x4xf32>, tensor<16x4xf32>) outs(%o : tensor<16x8xf32>) {heads = 2 : i64, kv_heads = 1 : i64, seq_len = 8 : i64, key_block = 4 : i64} -> tensor<16x8xf32>
  %r = growk.all_reduce %gen when(%apply : tensor<1xf32>) : tensor<16x8xf32> -> tensor<16x8xf32>
  %e = tensor.empty() : tensor<16x8xf32>
  %s = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%r, %x : tensor<16x8xf32>, tensor<16x8xf32>) outs(%e : tensor<16x8xf32>) {
  ^bb0(%in: f32, %in2: f32, %out: f32):
    %y = arith.addf %in, %in2 : f32
    linalg.yield %y : f32
  } -> tensor<16x8xf32>
  return %s, %lib : tensor<16x8xf32>, tensor<16x8xf32>
}

// -----

// A kernel of its own (here a column reduction, like an RMSNorm weight's
// gradient) does not end the run before it: the row work after it that
// does not read it (like the residual gradient's add) joins that run's
// kernel, whose call comes first, so the reduction still reads what the
// run computed. The reduction's fill goes into the reduction's kernel.
// HAND-LABEL: func.func @after_own_kernel(
// HAND-NEXT: %[[ROW:.+]]:2 = call @[[ROWK:[A-Za-z0-9_]+]](%arg0, %arg1)
// HAND-NEXT: %[[SUM:.+]] = call @[[COLK:[A-Za-z0-9_]+]](%[[ROW]]#0)
// HAND-NEXT: return %[[SUM]], %[[ROW]]#1
// HAND: func.func @[[ROWK]](%{{.+}}: tensor<16x8xf32>, %{{.+}}: tensor<16x8xf32>) -> (tensor<16x8xf32>, tensor<16x8xf32>) attributes {growc.kernel}
// HAND: math.exp
// HAND: arith.addf
// HAND: func.func @[[COLK]](%{{.+}}: tensor<16x8xf32>) -> tensor<8xf32> attributes {growc.kernel}
// HAND: linalg.fill
// HAND: growc.own_kernel
// HAND-NOT: growc.kernel
#id = affine_map<(i, j) -> (i, j)>
#col = affine_map<(i, j) -> (j)>
func.func @after_own_kernel(%x: tensor<16x8xf32>, %y: tensor<16x8xf32>) -> (tensor<8xf32>, tensor<16x8xf32>) attributes {growc.param_names = []} {
  %e = tensor.empty() : tensor<16x8xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<16x8xf32>) outs(%e : tensor<16x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<16x8xf32>
  %zero = arith.constant 0.0 : f32
  %ec = tensor.empty() : tensor<8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%ec : tensor<8xf32>) -> tensor<8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #col], iterator_types = ["reduction", "parallel"]} ins(%a : tensor<16x8xf32>) outs(%init : tensor<8xf32>) attrs = {growc.own_kernel} {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %out : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %b = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%a, %y : tensor<16x8xf32>, tensor<16x8xf32>) outs(%e : tensor<16x8xf32>) {
  ^bb0(%in: f32, %in2: f32, %out: f32):
    %r = arith.addf %in, %in2 : f32
    linalg.yield %r : f32
  } -> tensor<16x8xf32>
  return %sum, %b : tensor<8xf32>, tensor<16x8xf32>
}

// -----

// Row work that reads the kernel of its own's result stays after it, in a
// kernel of its own.
// HAND-LABEL: func.func @reads_own_kernel(
// HAND-NEXT: %[[ROW:.+]] = call @[[ROWK:[A-Za-z0-9_]+]](%arg0)
// HAND-NEXT: %[[SUM:.+]] = call @[[COLK:[A-Za-z0-9_]+]](%[[ROW]])
// HAND-NEXT: %[[OUT:.+]] = call @[[ADDK:[A-Za-z0-9_]+]](%[[ROW]], %[[SUM]])
// HAND-NEXT: return %[[OUT]]
// HAND: func.func @[[ROWK]](%{{.+}}: tensor<16x8xf32>) -> tensor<16x8xf32> attributes {growc.kernel}
// HAND: math.exp
// HAND: func.func @[[COLK]](%{{.+}}: tensor<16x8xf32>) -> tensor<8xf32> attributes {growc.kernel}
// HAND: func.func @[[ADDK]](%{{.+}}: tensor<16x8xf32>, %{{.+}}: tensor<8xf32>) -> tensor<16x8xf32> attributes {growc.kernel}
// HAND: arith.addf
// HAND-NOT: growc.kernel
#id = affine_map<(i, j) -> (i, j)>
#col = affine_map<(i, j) -> (j)>
func.func @reads_own_kernel(%x: tensor<16x8xf32>) -> tensor<16x8xf32> attributes {growc.param_names = []} {
  %e = tensor.empty() : tensor<16x8xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<16x8xf32>) outs(%e : tensor<16x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<16x8xf32>
  %zero = arith.constant 0.0 : f32
  %ec = tensor.empty() : tensor<8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%ec : tensor<8xf32>) -> tensor<8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #col], iterator_types = ["reduction", "parallel"]} ins(%a : tensor<16x8xf32>) outs(%init : tensor<8xf32>) attrs = {growc.own_kernel} {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %out : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %b = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%a, %sum : tensor<16x8xf32>, tensor<8xf32>) outs(%e : tensor<16x8xf32>) {
  ^bb0(%in: f32, %in2: f32, %out: f32):
    %r = arith.addf %in, %in2 : f32
    linalg.yield %r : f32
  } -> tensor<16x8xf32>
  return %b : tensor<16x8xf32>
}
