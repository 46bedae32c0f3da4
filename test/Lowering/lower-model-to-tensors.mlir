// RUN: growc --import-hf-config %S/Inputs/gqa2-tied.json --num-layers 1 --block-size 1 --model-name one -o %t.mlir
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=2 seq=8 key-block=2" --growc-expand-attention | FileCheck %s
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=2 seq=8 key-block=2" | FileCheck %s --check-prefix=OP
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=7 key-block=4" --growc-expand-attention | FileCheck %s --check-prefix=PAD
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=5" --growc-lower-library-calls-to-linalg | FileCheck %s --check-prefix=LIBCALL
// RUN: not growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=65" 2>&1 | FileCheck %s --check-prefix=CONTEXT
// RUN: not growc-opt %t.mlir --growc-lower-model-to-tensors="batch=0 seq=4" 2>&1 | FileCheck %s --check-prefix=BATCH
// RUN: growc --import-hf-config %S/Inputs/gqa2-tied.json --num-layers 1 --param-dtype bf16 -o %t.bf16.mlir
// RUN: not growc-opt %t.bf16.mlir --growc-lower-model-to-tensors="seq=8" 2>&1 | FileCheck %s --check-prefix=BF16
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=4 graph=loss" | FileCheck %s --check-prefix=LOSS
// RUN: not growc-opt %t.mlir --growc-lower-model-to-tensors="graph=eval" 2>&1 | FileCheck %s --check-prefix=GRAPH
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=4 graph=grad" | FileCheck %s --check-prefix=GRAD
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=4 graph=grad forward-only" | FileCheck %s --check-prefix=TAPE
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=4 graph=train accumulate=2" -o %t.train.mlir
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=4 graph=train forward-only accumulate=2" --growc-differentiate-model --growc-append-optimizer-step=accumulate=2 -o %t.stages.mlir
// RUN: diff %t.train.mlir %t.stages.mlir
// RUN: not growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=4 graph=train forward-only" --growc-differentiate-model --growc-append-optimizer-step=accumulate=2 2>&1 | FileCheck %s --check-prefix=FUSEDACC
// RUN: %growc-opt %s -split-input-file --growc-lower-model-to-tensors="batch=2 seq=3" | FileCheck %s --check-prefix=HAND

// The model becomes a function of the tokens and the parameters (in model
// order), returning the named outputs at the compiled shape.
// CHECK-LABEL: func.func @one(
// CHECK-SAME: %{{.*}}: tensor<2x8xi32>, %{{.*}}: tensor<11x16xf32>
// CHECK-SAME: -> tensor<2x8x11xf32>
// CHECK-SAME: growc.batch = 2 : i64, growc.graph = "forward", growc.output_names = ["logits"], growc.param_copies = [false,
// CHECK-SAME: growc.param_names = ["model.embed_tokens.weight", "model.layers.0.input_layernorm.weight"
// CHECK-SAME: growc.param_sources = ["model.embed_tokens.weight",
// CHECK-SAME: growc.seq = 8 : i64, growc.vocab_size = 11 : i64

// Projections are library calls on [B*T, features] activations: q, k and
// v as one GEMM over the weights' rows back to back (a view on the host).
// CHECK: %[[WQKV:.+]] = tensor.concat dim(0) %{{.*}}, %{{.*}}, %{{.*}} : (tensor<16x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<32x16xf32>
// CHECK: growk.matmul %{{.*}}, %[[WQKV]] : tensor<16x16xf32>, tensor<32x16xf32> -> tensor<16x32xf32>

// Before expansion, attention is one op on the RoPE'd q (%[[Q]]) and k and
// the plain v, each from its columns of q|k|v, recording the tile size for
// the targets.
// OP: %[[QKV:.+]] = growk.matmul %{{.*}} -> tensor<16x32xf32>
// OP: %[[Q:.+]] = linalg.generic
// OP: tensor.extract %[[QKV]]
// OP: %[[K:.+]] = linalg.generic
// OP: %[[V:.+]] = linalg.generic {{.*}} ins(%[[QKV]] : tensor<16x32xf32>) outs(%{{.*}} : tensor<16x8xf32>)
// OP: growk.attention ins(%[[Q]], %[[K]], %[[V]] : tensor<16x16xf32>, tensor<16x8xf32>, tensor<16x8xf32>) outs(%{{.*}} : tensor<16x16xf32>) {heads = 4 : i64, key_block = 2 : i64, kv_heads = 2 : i64, seq_len = 8 : i64} -> tensor<16x16xf32>

// Expanded (growc-expand-attention, the CPU form), flash-style attention in
// tiles of 2 (T = 8 needs no padding): an scf.forall over the independent
// (sample, head, query tile) blocks writes each tile's rows and head
// columns of the [B*T, H*hd] output in place; an inner loop over the key
// tiles up to the query tile (causal: upper bound qStart + 2) carries the
// running max [1, 1, 2], sum and output [1, 1, 2, hd] of one head, reading
// its KV head (h / 2). Scores exist per tile pair ([1, 1, 2, 2]), never as
// T x T.
// CHECK: scf.forall (%[[S:.+]], %[[H:.+]], %[[QS:.+]]) = (0, 0, 0) to (2, 4, 8) step (1, 1, 2) shared_outs({{.*}}) -> (tensor<16x16xf32>)
// CHECK: %[[KVH:.+]] = arith.divui %[[H]], %{{.*}} : index
// CHECK: tensor.extract_slice {{.*}}[%[[S]], %[[QS]], %[[H]], 0] [1, 2, 1, 4] [1, 1, 1, 1] : tensor<2x8x4x4xf32> to tensor<1x2x1x4xf32>
// CHECK: %[[END:.+]] = arith.addi %[[QS]], %{{.*}} : index
// CHECK: scf.for %[[KS:.+]] = %{{.*}} to %[[END]] step %{{.*}} iter_args({{.*}}) -> (tensor<1x1x2xf32>, tensor<1x1x2xf32>, tensor<1x1x2x4xf32>)
// CHECK: tensor.extract_slice {{.*}}[%[[S]], %[[KS]], %[[KVH]], 0] [1, 2, 1, 4] [1, 1, 1, 1] : tensor<2x8x2x4xf32> to tensor<1x2x1x4xf32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x1x2x2xf32>)
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: scf.yield
// CHECK: %[[ROWS:.+]] = tensor.collapse_shape {{.*}} : tensor<1x2x1x4xf32> into tensor<2x4xf32>
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %[[ROWS]] into %{{.*}}[%{{.*}}, %{{.*}}] [2, 4] [1, 1] : tensor<2x4xf32> into tensor<16x16xf32>
// CHECK-NOT: tensor<2x4x8x8xf32>
// CHECK: growk.matmul %{{.*}} : tensor<16x16xf32>, tensor<16x16xf32> -> tensor<16x16xf32>
// Gate|up as one GEMM (SwiGLU reads its two column halves), down, then the
// tied head reads the embedding.
// CHECK: growk.matmul %{{.*}} : tensor<16x16xf32>, tensor<48x16xf32> -> tensor<16x48xf32>
// CHECK: growk.matmul %{{.*}} : tensor<16x24xf32>, tensor<16x24xf32> -> tensor<16x16xf32>
// CHECK: growk.matmul %{{.*}}, %arg1 : tensor<16x16xf32>, tensor<11x16xf32> -> tensor<16x11xf32>
// CHECK: tensor.expand_shape {{.*}} into tensor<2x8x11xf32>
// CHECK: return

// T = 7 with tiles of 4: queries and keys are padded to 8 (padded keys are
// masked, padded query rows dropped).
// PAD-LABEL: func.func @one(
// PAD-COUNT-3: tensor.pad {{.*}} low[0, 0, 0, 0] high[0, 1, 0, 0]
// PAD: scf.forall {{.*}} -> (tensor<1x8x4x4xf32>)
// PAD: scf.for {{.*}} -> (tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x4x4xf32>)
// PAD: tensor.extract_slice {{.*}}[0, 0, 0, 0] [1, 7, 4, 4] [1, 1, 1, 1] : tensor<1x8x4x4xf32> to tensor<1x7x4x4xf32>

// The reference lowering of library calls: A · Bᵀ as a contraction.
// LIBCALL-NOT: growk.matmul
// LIBCALL: linalg.generic {indexing_maps = [#[[A:map[0-9]*]], #[[B:map[0-9]*]], #[[C:map[0-9]*]]], iterator_types = ["parallel", "parallel", "reduction"]}

// CONTEXT: error: 'grow.model' op compiled sequence length 65 exceeds the model's context 64
// BATCH: error: growc-lower-model-to-tensors: batch, seq and key-block must be positive
// BF16: error: 'grow.param' op lowering needs f32 parameters; 'model.embed_tokens.weight' is 'bf16'

// The loss graph: targets come after tokens, the only output is the mean
// cross-entropy [1], from each row's max and log-sum-exp of the logits.
// LOSS-LABEL: func.func @one(
// LOSS-SAME: %arg0: tensor<1x4xi32>, %arg1: tensor<1x4xi32>, %arg2: tensor<11x16xf32>
// LOSS-SAME: -> tensor<1xf32>
// LOSS-SAME: growc.graph = "loss", growc.input_names = ["tokens", "targets"], growc.output_names = ["loss"]
// LOSS: growk.matmul %{{.*}}, %arg2 : tensor<4x16xf32>, tensor<11x16xf32> -> tensor<4x11xf32>
// LOSS: arith.maximumf
// LOSS: math.exp
// LOSS: arith.cmpi sge
// LOSS: math.log
// LOSS: return %{{.*}} : tensor<1xf32>
// GRAPH: error: growc-lower-model-to-tensors: graph must be forward, loss, grad or train, got 'eval'

// The grad graph: the loss and one gradient per parameter, in parameter
// order; reverse mode ends at the LM head's VJP (dlogits · W and
// dlogitsᵀ · x, the backward GEMM layouts), then walks the layers back.
// GRAD-LABEL: func.func @one(
// GRAD-SAME: -> (tensor<1xf32>, tensor<11x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<8x16xf32>
// GRAD-SAME: growc.graph = "grad"
// GRAD-SAME: growc.output_names = ["loss", "grad.model.embed_tokens.weight", "grad.model.layers.0.input_layernorm.weight"
// GRAD: growk.matmul %{{.*}}, %arg2 : tensor<4x16xf32>, tensor<11x16xf32> -> tensor<4x11xf32>
// GRAD: growk.matmul %[[DL:.+]], %{{.*}} {transpose_lhs = true, transpose_rhs = false} : tensor<4x11xf32>, tensor<4x16xf32> -> tensor<11x16xf32>
// GRAD: growk.matmul %[[DL]], %arg2 {transpose_rhs = false} : tensor<4x11xf32>, tensor<11x16xf32> -> tensor<4x16xf32>
// The fused projections' backward: gate|up's and q|k|v's weight gradients
// and dX are one GEMM each.
// GRAD: growk.matmul {{.*}} {transpose_lhs = true, transpose_rhs = false} : tensor<4x48xf32>, tensor<4x16xf32> -> tensor<48x16xf32>
// GRAD: growk.matmul {{.*}} {transpose_rhs = false} : tensor<4x48xf32>, tensor<48x16xf32> -> tensor<4x16xf32>
// GRAD: growk.matmul {{.*}} {transpose_lhs = true, transpose_rhs = false} : tensor<4x32xf32>, tensor<4x16xf32> -> tensor<32x16xf32>
// GRAD: growk.matmul {{.*}} {transpose_rhs = false} : tensor<4x32xf32>, tensor<32x16xf32> -> tensor<4x16xf32>
// GRAD: return

// Accumulation's sum kernels read each gradient whole: a forward lowered
// with fused projections (no accumulate given) cannot accumulate.
// FUSEDACC: error: gradient accumulation needs unfused projections: lower the model with accumulate=2 too (growc-lower-model-to-tensors)

// With forward-only, a grad graph stops after the forward: the tape records
// the embedding's rows and rotary tables (op 11), the layer's 11 entries
// (op 12) and its output, and the normed rows (op 13); its results stand for
// the loss and the gradients. The model stays for the reverse pass, renamed.
// graph=train is exactly that forward followed by growc-differentiate-model
// and growc-append-optimizer-step (the diff above).
// TAPE-LABEL: func.func @one(
// TAPE-SAME: growc.graph = "grad"
// TAPE: %[[TAPE:.+]]:12 = growk.forward_tape @one.model(
// TAPE-SAME: positions = array<i64: 11, 11, 11, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 13>
// TAPE-SAME: slots = array<i64: 0, -1, -2, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, 0, 0>
// TAPE-NEXT: return %[[TAPE]]#0, %[[TAPE]]#1,
// TAPE: grow.model @one.model

// Hand-written models (HAND), without layers: what the embedding, the final
// norm and the LM head become on their own.

// Tied: the tokens [B, T] are gathered from the embedding as [B·T, hidden]
// rows, normalised (mean of squares over hidden = 4, eps), and the LM head
// is a GEMM against the embedding itself, reshaped to [B, T, vocab]. The
// row of a token is clamped, unsigned, to the last row: no address comes
// from a loaded value unchecked.
// HAND-LABEL: func.func @tied(
// HAND-SAME: %arg0: tensor<2x3xi32>, %arg1: tensor<8x4xf32>, %arg2: tensor<4xf32>) -> tensor<2x3x8xf32>
// HAND-SAME: growc.param_names = ["model.embed_tokens.weight", "model.norm.weight"]
// HAND: %[[TOK:.+]] = tensor.collapse_shape %arg0 {{\[\[}}0, 1]] : tensor<2x3xi32> into tensor<6xi32>
// HAND: %[[H:.+]] = linalg.generic {{.*}} ins(%[[TOK]] : tensor<6xi32>) outs(%{{.+}} : tensor<6x4xf32>)
// HAND-NEXT: ^bb0(%[[T:.+]]: i32, %{{.+}}: f32):
// HAND-NEXT: %[[LAST:.+]] = arith.constant 7 : i32
// HAND-NEXT: %[[SAFE:.+]] = arith.minui %[[T]], %[[LAST]] : i32
// HAND-NEXT: %[[ROW:.+]] = arith.index_cast %[[SAFE]] : i32 to index
// HAND-NEXT: %[[COL:.+]] = linalg.index 1 : index
// HAND-NEXT: %[[E:.+]] = tensor.extract %arg1[%[[ROW]], %[[COL]]] : tensor<8x4xf32>
// HAND-NEXT: linalg.yield %[[E]] : f32
// HAND: %[[SS:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[H]] : tensor<6x4xf32>)
// HAND: %[[N:.+]] = linalg.generic {{.*}} ins(%[[H]], %[[SS]], %arg2 : tensor<6x4xf32>, tensor<6xf32>, tensor<4xf32>)
// HAND: arith.constant 4.000000e+00 : f32
// HAND: arith.constant 9.99999974E-6 : f32
// HAND: math.sqrt
// HAND: %[[L:.+]] = growk.matmul %[[N]], %arg1 : tensor<6x4xf32>, tensor<8x4xf32> -> tensor<6x8xf32>
// HAND: %[[OUT:.+]] = tensor.expand_shape %[[L]] {{\[\[}}0, 1], [2]] output_shape [2, 3, 8]
// HAND: return %[[OUT]] : tensor<2x3x8xf32>
grow.model @tied <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32>
  grow.param @model.norm.weight : tensor<4xf32>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h0) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// -----

// Untied: the LM head's own weight is the last parameter and its GEMM's B.
// HAND-LABEL: func.func @untied(
// HAND-SAME: %arg1: tensor<8x4xf32>, %arg2: tensor<4xf32>, %arg3: tensor<8x4xf32>) -> tensor<2x3x8xf32>
// HAND-SAME: growc.param_names = ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"]
// HAND: growk.matmul %{{.+}}, %arg3 : tensor<6x4xf32>, tensor<8x4xf32> -> tensor<6x8xf32>
grow.model @untied <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = false, block_size = 1> (%tokens : tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32>
  grow.param @model.norm.weight : tensor<4xf32>
  grow.param @lm_head.weight : tensor<8x4xf32>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h0) : tensor<?x?x4xf32>
  %z = grow.lm_head @lm_head.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// -----

// linear RoPE scaling: every inv_freq divided by the factor before the
// angle (positions interpolated).
// HAND-LABEL: func.func @linear(
// HAND: %[[POW:.+]] = math.powf
// HAND-NEXT: %[[INV:.+]] = arith.divf %{{.+}}, %[[POW]] : f32
// HAND-NEXT: %[[F:.+]] = arith.constant 4.000000e+00 : f32
// HAND-NEXT: %[[SCALED:.+]] = arith.divf %[[INV]], %[[F]] : f32
// HAND: arith.mulf %{{.+}}, %[[SCALED]] : f32
// HAND-NEXT: math.cos
grow.model @linear <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, rope_scaling = #grow.rope_scaling<linear, factor = 4.000000e+00>, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32>
  grow.param @model.norm.weight : tensor<4xf32>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h0) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// -----

// llama3 RoPE scaling: by wavelength 2π / inv_freq, kept below
// original / high_freq_factor (8192 / 4), divided by the factor above
// original / low_freq_factor (8192 / 1), blended between with
// s = (8192 / wavelength - 1) / (4 - 1).
// HAND-LABEL: func.func @llama3(
// HAND: %[[POW:.+]] = math.powf
// HAND-NEXT: %[[INV:.+]] = arith.divf %{{.+}}, %[[POW]] : f32
// HAND-NEXT: %[[F:.+]] = arith.constant 8.000000e+00 : f32
// HAND-NEXT: %[[DIV:.+]] = arith.divf %[[INV]], %[[F]] : f32
// HAND-NEXT: %[[TWOPI:.+]] = arith.constant 6.28318548 : f32
// HAND-NEXT: %[[WL:.+]] = arith.divf %[[TWOPI]], %[[INV]] : f32
// HAND-NEXT: %[[ORIG:.+]] = arith.constant 8.192000e+03 : f32
// HAND-NEXT: %[[RATIO:.+]] = arith.divf %[[ORIG]], %[[WL]] : f32
// HAND-NEXT: %[[LOW:.+]] = arith.constant 1.000000e+00 : f32
// HAND-NEXT: %[[NUM:.+]] = arith.subf %[[RATIO]], %[[LOW]] : f32
// HAND-NEXT: %[[SPAN:.+]] = arith.constant 3.000000e+00 : f32
// HAND-NEXT: %[[S:.+]] = arith.divf %[[NUM]], %[[SPAN]] : f32
// HAND-NEXT: %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// HAND-NEXT: %[[OMS:.+]] = arith.subf %[[ONE]], %[[S]] : f32
// HAND-NEXT: %[[A:.+]] = arith.mulf %[[OMS]], %[[DIV]] : f32
// HAND-NEXT: %[[B:.+]] = arith.mulf %[[S]], %[[INV]] : f32
// HAND-NEXT: %[[BLEND:.+]] = arith.addf %[[A]], %[[B]] : f32
// HAND-NEXT: %[[LOWWL:.+]] = arith.constant 8.192000e+03 : f32
// HAND-NEXT: %[[ISLOW:.+]] = arith.cmpf ogt, %[[WL]], %[[LOWWL]] : f32
// HAND-NEXT: %[[HIGHWL:.+]] = arith.constant 2.048000e+03 : f32
// HAND-NEXT: %[[ISHIGH:.+]] = arith.cmpf olt, %[[WL]], %[[HIGHWL]] : f32
// HAND-NEXT: %[[KEEP:.+]] = arith.select %[[ISHIGH]], %[[INV]], %[[BLEND]] : f32
// HAND-NEXT: %[[FREQ:.+]] = arith.select %[[ISLOW]], %[[DIV]], %[[KEEP]] : f32
// HAND: arith.mulf %{{.+}}, %[[FREQ]] : f32
grow.model @llama3 <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, rope_scaling = #grow.rope_scaling<llama3, factor = 8.000000e+00, low_freq_factor = 1.000000e+00, high_freq_factor = 4.000000e+00, original_context = 8192>, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32>
  grow.param @model.norm.weight : tensor<4xf32>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h0) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}
