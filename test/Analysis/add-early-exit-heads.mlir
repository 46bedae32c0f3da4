// RUN: %growc-opt %s -split-input-file --growc-add-early-exit-heads | FileCheck %s
// RUN: %growc-opt %s -split-input-file --growc-add-early-exit-heads="layers=2,0" | FileCheck %s --check-prefix=SUBSET
// RUN: %growc-opt %s -split-input-file --growc-add-early-exit-heads="residual-stream=false" | FileCheck %s --check-prefix=LENS
// RUN: %growc-opt %s -split-input-file --growc-add-early-exit-heads="residual-stream=false lens-at=output" | FileCheck %s --check-prefix=LENS
// RUN: %growc-opt %s -split-input-file --growc-add-early-exit-heads="lens-at=input" | FileCheck %s --check-prefix=INPUT
// RUN: %growc-opt %s -split-input-file --growc-add-early-exit-heads="logit-lens=false layers=1" | FileCheck %s --check-prefix=STREAM
// RUN: %growc-opt %s -split-input-file --growc-skip-layers="layers=1" --growc-add-early-exit-heads="logit-lens=false layers=1" | FileCheck %s --check-prefix=SKIP
// RUN: %growc-opt %s -split-input-file --growc-swap-layer-windows="position=0 size=1" --growc-add-early-exit-heads="layers=0 residual-stream=false" | FileCheck %s --check-prefix=SWAPPED

// Invalid options and orders.
// RUN: not %growc-opt %s -split-input-file --growc-add-early-exit-heads="layers=3" 2>&1 | FileCheck %s --check-prefix=ERR-RANGE
// RUN: not %growc-opt %s -split-input-file --growc-add-early-exit-heads="layers=-1" 2>&1 | FileCheck %s --check-prefix=ERR-NEG
// RUN: not %growc-opt %s -split-input-file --growc-add-early-exit-heads="layers=1,1" 2>&1 | FileCheck %s --check-prefix=ERR-TWICE
// RUN: not %growc-opt %s -split-input-file --growc-add-early-exit-heads="layers=0" --growc-add-early-exit-heads="layers=1" 2>&1 | FileCheck %s --check-prefix=ERR-AGAIN
// RUN: not %growc-opt %s -split-input-file --growc-add-early-exit-heads --growc-swap-layer-windows="position=0 size=1" 2>&1 | FileCheck %s --check-prefix=ERR-REORDER-SUBLAYERS
// RUN: not %growc-opt %s -split-input-file --growc-add-early-exit-heads="residual-stream=false" --growc-reverse-layer-window="start=0 size=3" 2>&1 | FileCheck %s --check-prefix=ERR-REORDER-LENS
// RUN: not %growc-opt %s -split-input-file --growc-add-early-exit-heads --growc-duplicate-middle-block 2>&1 | FileCheck %s --check-prefix=ERR-GROW-SUBLAYERS
// RUN: not %growc-opt %s -split-input-file --growc-add-early-exit-heads="residual-stream=false" --growc-append-last-block 2>&1 | FileCheck %s --check-prefix=ERR-GROW-OUTPUTS
// RUN: not %growc-opt %s -split-input-file --growc-add-early-exit-heads="logit-lens=false residual-stream=false" 2>&1 | FileCheck %s --check-prefix=ERR-NOTHING
// RUN: not %growc-opt %s -split-input-file --growc-add-early-exit-heads="lens-at=middle" 2>&1 | FileCheck %s --check-prefix=ERR-LENS-AT
// ERR-LENS-AT: error: 'grow.model' op growc-add-early-exit-heads: lens-at must be 'input' or 'output', not 'middle'
// ERR-NOTHING: error: 'grow.model' op growc-add-early-exit-heads: logit-lens and residual-stream are both off; nothing to add

// ERR-RANGE: error: 'grow.model' op growc-add-early-exit-heads: layer position 3 is out of range; the model has 3 layers
// ERR-NEG: error: 'grow.model' op growc-add-early-exit-heads: layer position -1 is out of range; the model has 3 layers
// ERR-TWICE: error: 'grow.model' op growc-add-early-exit-heads: layer position 1 is listed twice
// ERR-AGAIN: error: 'grow.model' op already has analysis outputs; add early-exit heads once
// ERR-REORDER-SUBLAYERS: error: 'grow.layer' op cannot reorder layers after sublayer outputs were exposed; reorder first, then add early-exit heads
// ERR-REORDER-LENS: error: 'grow.layer' op cannot reorder layers whose outputs are read by analysis ops; reorder first, then add early-exit heads
// ERR-GROW-SUBLAYERS: error: 'grow.layer' op cannot grow a model with analysis attributes (skip or exposed sublayers); grow first, then apply the analysis rewrite
// ERR-GROW-OUTPUTS: error: 'grow.model' op cannot grow a model with analysis outputs; grow first, then add early-exit heads

// Three layers, block size 1.
grow.model @three #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32>
  grow.param @model.layers.0.input_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.0.self_attn.q_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.0.self_attn.k_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.0.self_attn.v_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.0.self_attn.o_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.0.post_attention_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.0.mlp.gate_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.0.mlp.up_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.0.mlp.down_proj.weight : tensor<4x6xf32>
  grow.param @model.layers.1.input_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.1.self_attn.q_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.1.self_attn.k_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.1.self_attn.v_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32>
  grow.param @model.layers.2.input_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.2.self_attn.q_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.2.self_attn.k_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.2.self_attn.v_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.2.self_attn.o_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.2.post_attention_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.2.mlp.gate_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.2.mlp.up_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.2.mlp.down_proj.weight : tensor<4x6xf32>
  grow.param @model.norm.weight : tensor<4xf32>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %h1 = grow.layer 0 block 0 (%h0) : tensor<?x?x4xf32>
  %h2 = grow.layer 1 block 1 (%h1) : tensor<?x?x4xf32>
  %h3 = grow.layer 2 block 2 (%h2) : tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h3) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// All layers: every layer exposes a_l and m_l, gets a logit-lens head (the
// model's own final norm and head), and h_0..h_3 are returned.
// CHECK-LABEL: grow.model @three
// CHECK:         [[E:%.+]] = grow.embed
// CHECK-NEXT:    [[L0:%.+]], [[A0:%.+]], [[M0:%.+]] = grow.layer 0 block 0 ([[E]]) : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>
// CHECK-NEXT:    [[N0:%.+]] = grow.rms_norm @model.norm.weight([[L0]])
// CHECK-NEXT:    [[Z0:%.+]] = grow.lm_head @model.embed_tokens.weight([[N0]]) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
// CHECK-NEXT:    [[L1:%.+]], [[A1:%.+]], [[M1:%.+]] = grow.layer 1 block 1 ([[L0]])
// CHECK-NEXT:    [[N1:%.+]] = grow.rms_norm @model.norm.weight([[L1]])
// CHECK-NEXT:    [[Z1:%.+]] = grow.lm_head @model.embed_tokens.weight([[N1]])
// CHECK-NEXT:    [[L2:%.+]], [[A2:%.+]], [[M2:%.+]] = grow.layer 2 block 2 ([[L1]])
// CHECK-NEXT:    [[N2:%.+]] = grow.rms_norm @model.norm.weight([[L2]])
// CHECK-NEXT:    [[Z2:%.+]] = grow.lm_head @model.embed_tokens.weight([[N2]])
// CHECK-NEXT:    [[N:%.+]] = grow.rms_norm @model.norm.weight([[L2]])
// CHECK-NEXT:    [[Z:%.+]] = grow.lm_head @model.embed_tokens.weight([[N]])
// CHECK-NEXT:    grow.return names ["logits", "logit_lens.0", "logit_lens.1", "logit_lens.2", "hidden.0", "hidden.1", "hidden.2", "hidden.3", "attn.0", "attn.1", "attn.2", "mlp.0", "mlp.1", "mlp.2"]
// CHECK-SAME:      [[Z]], [[Z0]], [[Z1]], [[Z2]], [[E]], [[L0]], [[L1]], [[L2]], [[A0]], [[A1]], [[A2]], [[M0]], [[M1]], [[M2]] :
// CHECK-SAME:      tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32>,

// A subset, listed out of order: outputs come in depth order; layer 1 is
// untouched, but h_1 and h_2 are still returned as the streams around the
// selected layers.
// SUBSET-LABEL: grow.model @three
// SUBSET:         [[E:%.+]] = grow.embed
// SUBSET-NEXT:    [[L0:%.+]], [[A0:%.+]], [[M0:%.+]] = grow.layer 0 block 0 ([[E]])
// SUBSET-NEXT:    [[N0:%.+]] = grow.rms_norm @model.norm.weight([[L0]])
// SUBSET-NEXT:    [[Z0:%.+]] = grow.lm_head @model.embed_tokens.weight([[N0]])
// SUBSET-NEXT:    [[L1:%.+]] = grow.layer 1 block 1 ([[L0]]) : tensor<?x?x4xf32>{{$}}
// SUBSET-NEXT:    [[L2:%.+]], [[A2:%.+]], [[M2:%.+]] = grow.layer 2 block 2 ([[L1]])
// SUBSET-NEXT:    [[N2:%.+]] = grow.rms_norm @model.norm.weight([[L2]])
// SUBSET-NEXT:    [[Z2:%.+]] = grow.lm_head @model.embed_tokens.weight([[N2]])
// SUBSET:         grow.return names ["logits", "logit_lens.0", "logit_lens.2", "hidden.0", "hidden.1", "hidden.2", "hidden.3", "attn.0", "attn.2", "mlp.0", "mlp.2"]
// SUBSET-SAME:      {{%.+}}, [[Z0]], [[Z2]], [[E]], [[L0]], [[L1]], [[L2]], [[A0]], [[A2]], [[M0]], [[M2]] :

// Logit lens only: layers keep a single result.
// LENS-LABEL: grow.model @three
// LENS:         [[L0:%.+]] = grow.layer 0 block 0 ({{%.+}}) : tensor<?x?x4xf32>{{$}}
// LENS-NEXT:    [[N0:%.+]] = grow.rms_norm @model.norm.weight([[L0]])
// LENS-NEXT:    [[Z0:%.+]] = grow.lm_head @model.embed_tokens.weight([[N0]])
// LENS-NEXT:    [[L1:%.+]] = grow.layer 1 block 1 ([[L0]]) : tensor<?x?x4xf32>{{$}}
// LENS:         grow.return names ["logits", "logit_lens.0", "logit_lens.1", "logit_lens.2"] {{%.+}}, [[Z0]], {{%.+}}, {{%.+}} :

// lens-at=input (Csordás et al.'s index): lens l decodes the input h_l of
// layer l, so logit_lens_in.0 decodes the embeddings and the last layer's
// output is decoded only by the model's own head.
// INPUT-LABEL: grow.model @three
// INPUT:         [[E:%.+]] = grow.embed
// INPUT-NEXT:    [[N0:%.+]] = grow.rms_norm @model.norm.weight([[E]])
// INPUT-NEXT:    [[Z0:%.+]] = grow.lm_head @model.embed_tokens.weight([[N0]]) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
// INPUT-NEXT:    [[L0:%.+]], [[A0:%.+]], [[M0:%.+]] = grow.layer 0 block 0 ([[E]])
// INPUT-NEXT:    [[N1:%.+]] = grow.rms_norm @model.norm.weight([[L0]])
// INPUT-NEXT:    [[Z1:%.+]] = grow.lm_head @model.embed_tokens.weight([[N1]])
// INPUT-NEXT:    [[L1:%.+]], [[A1:%.+]], [[M1:%.+]] = grow.layer 1 block 1 ([[L0]])
// INPUT-NEXT:    [[N2:%.+]] = grow.rms_norm @model.norm.weight([[L1]])
// INPUT-NEXT:    [[Z2:%.+]] = grow.lm_head @model.embed_tokens.weight([[N2]])
// INPUT-NEXT:    [[L2:%.+]], [[A2:%.+]], [[M2:%.+]] = grow.layer 2 block 2 ([[L1]])
// INPUT-NEXT:    [[N:%.+]] = grow.rms_norm @model.norm.weight([[L2]])
// INPUT-NEXT:    [[Z:%.+]] = grow.lm_head @model.embed_tokens.weight([[N]])
// INPUT-NEXT:    grow.return names ["logits", "logit_lens_in.0", "logit_lens_in.1", "logit_lens_in.2", "hidden.0", "hidden.1", "hidden.2", "hidden.3", "attn.0", "attn.1", "attn.2", "mlp.0", "mlp.1", "mlp.2"]
// INPUT-SAME:      [[Z]], [[Z0]], [[Z1]], [[Z2]], [[E]], [[L0]], [[L1]], [[L2]], [[A0]], [[A1]], [[A2]], [[M0]], [[M1]], [[M2]] :

// Residual stream of layer 1 only: h_1, h_2, a_1, m_1; no new heads.
// STREAM-LABEL: grow.model @three
// STREAM:         [[L0:%.+]] = grow.layer 0 block 0 ({{%.+}}) : tensor<?x?x4xf32>{{$}}
// STREAM-NEXT:    [[L1:%.+]], [[A1:%.+]], [[M1:%.+]] = grow.layer 1 block 1 ([[L0]]) : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>
// STREAM-NEXT:    grow.layer 2 block 2 ([[L1]]) : tensor<?x?x4xf32>{{$}}
// STREAM-NEXT:    [[N:%.+]] = grow.rms_norm
// STREAM-NEXT:    [[Z:%.+]] = grow.lm_head
// STREAM-NEXT:    grow.return names ["logits", "hidden.1", "hidden.2", "attn.1", "mlp.1"] [[Z]], [[L0]], [[L1]], [[A1]], [[M1]] :

// A skipped layer keeps its skip when its sublayers are exposed.
// SKIP-LABEL: grow.model @three
// SKIP:         grow.layer 1 block 1 ({{%.+}}) {skip} : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>

// Layers are selected by position: after the swap, position 0 is layer 1.
// SWAPPED-LABEL: grow.model @three
// SWAPPED:         [[L1:%.+]] = grow.layer 1 block 0
// SWAPPED-NEXT:    [[N:%.+]] = grow.rms_norm @model.norm.weight([[L1]])
// SWAPPED-NEXT:    [[Z:%.+]] = grow.lm_head @model.embed_tokens.weight([[N]])
// SWAPPED-NEXT:    grow.layer 0 block 1 ([[L1]])
// SWAPPED:         grow.return names ["logits", "logit_lens.0"] {{%.+}}, [[Z]] :

// -----

// Untied: the logit lens decodes with lm_head.weight, like the logits.
grow.model @untied #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = false, block_size = 1> (%tokens : tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32>
  grow.param @model.layers.0.input_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.0.self_attn.q_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.0.self_attn.k_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.0.self_attn.v_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.0.self_attn.o_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.0.post_attention_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.0.mlp.gate_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.0.mlp.up_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.0.mlp.down_proj.weight : tensor<4x6xf32>
  grow.param @model.layers.1.input_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.1.self_attn.q_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.1.self_attn.k_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.1.self_attn.v_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32>
  grow.param @model.layers.2.input_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.2.self_attn.q_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.2.self_attn.k_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.2.self_attn.v_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.2.self_attn.o_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.2.post_attention_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.2.mlp.gate_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.2.mlp.up_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.2.mlp.down_proj.weight : tensor<4x6xf32>
  grow.param @model.norm.weight : tensor<4xf32>
  grow.param @lm_head.weight : tensor<8x4xf32>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %h1 = grow.layer 0 block 0 (%h0) : tensor<?x?x4xf32>
  %h2 = grow.layer 1 block 1 (%h1) : tensor<?x?x4xf32>
  %h3 = grow.layer 2 block 2 (%h2) : tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h3) : tensor<?x?x4xf32>
  %z = grow.lm_head @lm_head.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// LENS-LABEL: grow.model @untied
// LENS:         [[L0:%.+]] = grow.layer 0 block 0
// LENS-NEXT:    [[N0:%.+]] = grow.rms_norm @model.norm.weight([[L0]])
// LENS-NEXT:    grow.lm_head @lm_head.weight([[N0]])

// INPUT-LABEL: grow.model @untied
// INPUT:         [[E:%.+]] = grow.embed
// INPUT-NEXT:    [[N0:%.+]] = grow.rms_norm @model.norm.weight([[E]])
// INPUT-NEXT:    grow.lm_head @lm_head.weight([[N0]])
