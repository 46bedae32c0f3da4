// RUN: %growc-opt %s -split-input-file --growc-reverse-layer-window="start=1 size=3" | FileCheck %s
// RUN: %growc-opt %s -split-input-file --growc-reverse-layer-window="start=1 size=2" | FileCheck %s --check-prefix=MIDDLE
// RUN: %growc-opt %s -split-input-file --growc-reverse-layer-window="start=0 size=4" | FileCheck %s --check-prefix=ALL
// RUN: %growc-opt %s -split-input-file --growc-reverse-layer-window | FileCheck %s --check-prefix=DEFAULT
// RUN: %growc-opt %s -split-input-file --growc-reverse-layer-window="start=2 size=1" | FileCheck %s --check-prefix=IDENTITY
// RUN: %growc-opt %s -split-input-file --growc-reverse-layer-window="start=4 size=0" | FileCheck %s --check-prefix=IDENTITY
// RUN: %growc-opt %s -split-input-file --growc-reverse-layer-window="start=0 size=4" --growc-reverse-layer-window="start=0 size=4" | FileCheck %s --check-prefix=IDENTITY

// Invalid windows.
// RUN: not %growc-opt %s -split-input-file --growc-reverse-layer-window="start=3 size=2" 2>&1 | FileCheck %s --check-prefix=ERR-RANGE
// RUN: not %growc-opt %s -split-input-file --growc-reverse-layer-window="start=-1 size=2" 2>&1 | FileCheck %s --check-prefix=ERR-NEG-START
// RUN: not %growc-opt %s -split-input-file --growc-reverse-layer-window="start=0 size=-1" 2>&1 | FileCheck %s --check-prefix=ERR-NEG-SIZE

// Growth refuses a reordered model.
// RUN: not %growc-opt %s -split-input-file --growc-reverse-layer-window="start=0 size=4" --growc-append-last-block 2>&1 | FileCheck %s --check-prefix=ERR-GROW

// ERR-RANGE: error: growc-reverse-layer-window: window [3, 5) does not fit in a model of 4 layers
// ERR-NEG-START: error: growc-reverse-layer-window: window [-1, 1) does not fit in a model of 4 layers
// ERR-NEG-SIZE: error: growc-reverse-layer-window: window [0, -1) does not fit in a model of 4 layers
// ERR-GROW: error: 'grow.layer' op cannot grow a model whose layers were reordered by an analysis rewrite (layer 3 is at position 0)

// Four layers in blocks of two. Layers keep their index (and parameters);
// blocks follow the new positions.
grow.model @four #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 2> (%tokens : tensor<?x?xi32>) {
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
  grow.param @model.layers.3.input_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.3.self_attn.q_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.3.self_attn.k_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.3.self_attn.v_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.3.self_attn.o_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.3.post_attention_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.3.mlp.gate_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.3.mlp.up_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.3.mlp.down_proj.weight : tensor<4x6xf32>
  grow.param @model.norm.weight : tensor<4xf32>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %h1 = grow.layer 0 block 0 (%h0) : tensor<?x?x4xf32>
  %h2 = grow.layer 1 block 0 (%h1) : tensor<?x?x4xf32>
  %h3 = grow.layer 2 block 1 (%h2) : tensor<?x?x4xf32>
  %h4 = grow.layer 3 block 1 (%h3) : tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h4) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// CHECK-LABEL: grow.model @four
// CHECK:         grow.param @model.layers.3.input_layernorm.weight : tensor<4xf32>{{$}}
// CHECK:         [[E:%.+]] = grow.embed
// CHECK-NEXT:    [[L0:%.+]] = grow.layer 0 block 0 ([[E]])
// CHECK-NEXT:    [[L3:%.+]] = grow.layer 3 block 0 ([[L0]])
// CHECK-NEXT:    [[L2:%.+]] = grow.layer 2 block 1 ([[L3]])
// CHECK-NEXT:    [[L1:%.+]] = grow.layer 1 block 1 ([[L2]])
// CHECK-NEXT:    grow.rms_norm @model.norm.weight([[L1]])

// MIDDLE-LABEL: grow.model @four
// MIDDLE:         [[E:%.+]] = grow.embed
// MIDDLE-NEXT:    [[L0:%.+]] = grow.layer 0 block 0 ([[E]])
// MIDDLE-NEXT:    [[L2:%.+]] = grow.layer 2 block 0 ([[L0]])
// MIDDLE-NEXT:    [[L1:%.+]] = grow.layer 1 block 1 ([[L2]])
// MIDDLE-NEXT:    [[L3:%.+]] = grow.layer 3 block 1 ([[L1]])
// MIDDLE-NEXT:    grow.rms_norm @model.norm.weight([[L3]])

// ALL-LABEL: grow.model @four
// ALL:         [[E:%.+]] = grow.embed
// ALL-NEXT:    [[L3:%.+]] = grow.layer 3 block 0 ([[E]])
// ALL-NEXT:    [[L2:%.+]] = grow.layer 2 block 0 ([[L3]])
// ALL-NEXT:    [[L1:%.+]] = grow.layer 1 block 1 ([[L2]])
// ALL-NEXT:    [[L0:%.+]] = grow.layer 0 block 1 ([[L1]])
// ALL-NEXT:    grow.rms_norm @model.norm.weight([[L0]])

// DEFAULT-LABEL: grow.model @four
// DEFAULT:         [[E:%.+]] = grow.embed
// DEFAULT-NEXT:    [[L1:%.+]] = grow.layer 1 block 0 ([[E]])
// DEFAULT-NEXT:    [[L0:%.+]] = grow.layer 0 block 0 ([[L1]])
// DEFAULT-NEXT:    [[L2:%.+]] = grow.layer 2 block 1 ([[L0]])
// DEFAULT-NEXT:    [[L3:%.+]] = grow.layer 3 block 1 ([[L2]])
// DEFAULT-NEXT:    grow.rms_norm @model.norm.weight([[L3]])

// IDENTITY-LABEL: grow.model @four
// IDENTITY:         [[E:%.+]] = grow.embed
// IDENTITY-NEXT:    [[L0:%.+]] = grow.layer 0 block 0 ([[E]])
// IDENTITY-NEXT:    [[L1:%.+]] = grow.layer 1 block 0 ([[L0]])
// IDENTITY-NEXT:    [[L2:%.+]] = grow.layer 2 block 1 ([[L1]])
// IDENTITY-NEXT:    [[L3:%.+]] = grow.layer 3 block 1 ([[L2]])
// IDENTITY-NEXT:    grow.rms_norm @model.norm.weight([[L3]])

// -----

// The LayerNorm-Scaling factor belongs to the layer: after the reversal
// layer 3 sits at position 1 and keeps its 1/2, layer 1 at position 3 keeps
// its 1/sqrt(2) (as reversing the layers of a trained model does).
grow.model @scaled #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 2> (%tokens : tensor<?x?xi32>) attributes {ln_scaling} {
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
  grow.param @model.layers.3.input_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.3.self_attn.q_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.3.self_attn.k_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.3.self_attn.v_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.3.self_attn.o_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.3.post_attention_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.3.mlp.gate_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.3.mlp.up_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.3.mlp.down_proj.weight : tensor<4x6xf32>
  grow.param @model.norm.weight : tensor<4xf32>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %h1 = grow.layer 0 block 0 (%h0) : tensor<?x?x4xf32>
  %h2 = grow.layer 1 block 0 (%h1) {norm_scale = 0.70710678118654746 : f64} : tensor<?x?x4xf32>
  %h3 = grow.layer 2 block 1 (%h2) {norm_scale = 0.57735026918962584 : f64} : tensor<?x?x4xf32>
  %h4 = grow.layer 3 block 1 (%h3) {norm_scale = 5.000000e-01 : f64} : tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h4) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// CHECK-LABEL: grow.model @scaled
// CHECK-SAME:    attributes {ln_scaling}
// CHECK:         [[L0:%.+]] = grow.layer 0 block 0 ({{%.+}}) : tensor<?x?x4xf32>
// CHECK-NEXT:    [[L3:%.+]] = grow.layer 3 block 0 ([[L0]]) {norm_scale = 5.000000e-01 : f64}
// CHECK-NEXT:    [[L2:%.+]] = grow.layer 2 block 1 ([[L3]]) {norm_scale = 0.57735026918962584 : f64}
// CHECK-NEXT:    grow.layer 1 block 1 ([[L2]]) {norm_scale = 0.70710678118654746 : f64}

// ALL-LABEL: grow.model @scaled
// ALL:         [[L3:%.+]] = grow.layer 3 block 0 ({{%.+}}) {norm_scale = 5.000000e-01 : f64}
// ALL-NEXT:    [[L2:%.+]] = grow.layer 2 block 0 ([[L3]]) {norm_scale = 0.57735026918962584 : f64}
// ALL-NEXT:    [[L1:%.+]] = grow.layer 1 block 1 ([[L2]]) {norm_scale = 0.70710678118654746 : f64}
// ALL-NEXT:    grow.layer 0 block 1 ([[L1]]) : tensor<?x?x4xf32>
