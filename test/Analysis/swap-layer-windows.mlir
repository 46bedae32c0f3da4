// RUN: %growc-opt %s -split-input-file --growc-swap-layer-windows="position=1 size=1" | FileCheck %s
// RUN: %growc-opt %s -split-input-file --growc-swap-layer-windows="position=0 size=2" | FileCheck %s --check-prefix=SIZE2
// RUN: %growc-opt %s -split-input-file --growc-swap-layer-windows | FileCheck %s --check-prefix=DEFAULT
// RUN: %growc-opt %s -split-input-file --growc-swap-layer-windows="position=0 size=0" | FileCheck %s --check-prefix=IDENTITY
// RUN: %growc-opt %s -split-input-file --growc-swap-layer-windows="position=4 size=0" | FileCheck %s --check-prefix=IDENTITY
// RUN: %growc-opt %s -split-input-file --growc-swap-layer-windows="position=1 size=1" --growc-swap-layer-windows="position=1 size=1" | FileCheck %s --check-prefix=IDENTITY

// Invalid windows.
// RUN: not %growc-opt %s -split-input-file --growc-swap-layer-windows="position=3 size=1" 2>&1 | FileCheck %s --check-prefix=ERR-RANGE
// RUN: not %growc-opt %s -split-input-file --growc-swap-layer-windows="position=1 size=2" 2>&1 | FileCheck %s --check-prefix=ERR-SIZE
// RUN: not %growc-opt %s -split-input-file --growc-swap-layer-windows="position=-1 size=1" 2>&1 | FileCheck %s --check-prefix=ERR-NEG-POS
// RUN: not %growc-opt %s -split-input-file --growc-swap-layer-windows="position=0 size=-1" 2>&1 | FileCheck %s --check-prefix=ERR-NEG-SIZE

// Growth refuses a reordered model.
// RUN: not %growc-opt %s -split-input-file --growc-swap-layer-windows="position=1 size=1" --growc-duplicate-middle-block 2>&1 | FileCheck %s --check-prefix=ERR-GROW
// Huge values are clamped before the bounds arithmetic (no overflow).
// RUN: not %growc-opt %s -split-input-file --growc-swap-layer-windows="position=1 size=4611686018427387904" 2>&1 | FileCheck %s --check-prefix=ERR-HUGE
// ERR-HUGE: error: growc-swap-layer-windows: windows [1, 1099511627777) and [1099511627777, 2199023255553) do not fit in a model of 4 layers

// ERR-RANGE: error: growc-swap-layer-windows: windows [3, 4) and [4, 5) do not fit in a model of 4 layers
// ERR-SIZE: error: growc-swap-layer-windows: windows [1, 3) and [3, 5) do not fit in a model of 4 layers
// ERR-NEG-POS: error: growc-swap-layer-windows: windows [-1, 0) and [0, 1) do not fit in a model of 4 layers
// ERR-NEG-SIZE: error: growc-swap-layer-windows: windows [0, -1) and [-1, -2) do not fit in a model of 4 layers
// ERR-GROW: error: 'grow.layer' op cannot grow a model whose layers were reordered by an analysis rewrite (layer 2 is at position 1)

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
// CHECK:         grow.param @model.layers.1.input_layernorm.weight : tensor<4xf32>{{$}}
// CHECK:         grow.param @model.layers.2.input_layernorm.weight : tensor<4xf32>{{$}}
// CHECK:         [[E:%.+]] = grow.embed
// CHECK-NEXT:    [[L0:%.+]] = grow.layer 0 block 0 ([[E]])
// CHECK-NEXT:    [[L2:%.+]] = grow.layer 2 block 0 ([[L0]])
// CHECK-NEXT:    [[L1:%.+]] = grow.layer 1 block 1 ([[L2]])
// CHECK-NEXT:    [[L3:%.+]] = grow.layer 3 block 1 ([[L1]])
// CHECK-NEXT:    grow.rms_norm @model.norm.weight([[L3]])

// SIZE2-LABEL: grow.model @four
// SIZE2:         [[E:%.+]] = grow.embed
// SIZE2-NEXT:    [[L2:%.+]] = grow.layer 2 block 0 ([[E]])
// SIZE2-NEXT:    [[L3:%.+]] = grow.layer 3 block 0 ([[L2]])
// SIZE2-NEXT:    [[L0:%.+]] = grow.layer 0 block 1 ([[L3]])
// SIZE2-NEXT:    [[L1:%.+]] = grow.layer 1 block 1 ([[L0]])
// SIZE2-NEXT:    grow.rms_norm @model.norm.weight([[L1]])

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

// Block size 1, layer 1 skipped: the skip travels with the layer.
grow.model @skipped #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
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
  %h2 = grow.layer 1 block 1 (%h1) {skip} : tensor<?x?x4xf32>
  %h3 = grow.layer 2 block 2 (%h2) : tensor<?x?x4xf32>
  %h4 = grow.layer 3 block 3 (%h3) : tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h4) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// CHECK-LABEL: grow.model @skipped
// CHECK:         [[L0:%.+]] = grow.layer 0 block 0 (
// CHECK-NEXT:    [[L2:%.+]] = grow.layer 2 block 1 ([[L0]]) : tensor<?x?x4xf32>
// CHECK-NEXT:    [[L1:%.+]] = grow.layer 1 block 2 ([[L2]]) {skip} : tensor<?x?x4xf32>
// CHECK-NEXT:    grow.layer 3 block 3 ([[L1]]) : tensor<?x?x4xf32>

// SIZE2-LABEL: grow.model @skipped
// SIZE2:         [[L2:%.+]] = grow.layer 2 block 0 (
// SIZE2-NEXT:    [[L3:%.+]] = grow.layer 3 block 1 ([[L2]])
// SIZE2-NEXT:    [[L0:%.+]] = grow.layer 0 block 2 ([[L3]])
// SIZE2-NEXT:    grow.layer 1 block 3 ([[L0]]) {skip}

// IDENTITY-LABEL: grow.model @skipped
// IDENTITY:         [[L0:%.+]] = grow.layer 0 block 0 (
// IDENTITY-NEXT:    [[L1:%.+]] = grow.layer 1 block 1 ([[L0]]) {skip}
// IDENTITY-NEXT:    [[L2:%.+]] = grow.layer 2 block 2 ([[L1]])
// IDENTITY-NEXT:    grow.layer 3 block 3 ([[L2]])
