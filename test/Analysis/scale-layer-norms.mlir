// RUN: %growc-opt %s -split-input-file --growc-scale-layer-norms | FileCheck %s
// RUN: %growc-opt %s -split-input-file --growc-scale-layer-norms --growc-scale-layer-norms | FileCheck %s
// RUN: %growc-opt %s -split-input-file --growc-scale-layer-norms --growc-swap-layer-windows="position=0 size=1" | FileCheck %s --check-prefix=SWAP
// RUN: %growc-opt %s -split-input-file --growc-swap-layer-windows="position=0 size=1" --growc-scale-layer-norms | FileCheck %s --check-prefix=SWAP
// RUN: %growc-opt %s -split-input-file --growc-scale-layer-norms --growc-skip-layers="layers=1 until=2" | FileCheck %s --check-prefix=SKIP
// RUN: %growc-opt %s -split-input-file --growc-scale-layer-norms --growc-duplicate-middle-block | FileCheck %s --check-prefix=GROW

// Four layers in blocks of two: factors 1/sqrt(l + 1) = 1 (the default,
// not printed), 0.7071..., 0.5773..., 0.5. The final norm is not scaled.
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
// CHECK-SAME:    block_size = 2> (%tokens: tensor<?x?xi32>) attributes {ln_scaling} {
// CHECK:         [[L0:%.+]] = grow.layer 0 block 0 ({{%.+}}) : tensor<?x?x4xf32>
// CHECK-NEXT:    [[L1:%.+]] = grow.layer 1 block 0 ([[L0]]) {norm_scale = 0.70710678118654746 : f64} : tensor<?x?x4xf32>
// CHECK-NEXT:    [[L2:%.+]] = grow.layer 2 block 1 ([[L1]]) {norm_scale = 0.57735026918962584 : f64} : tensor<?x?x4xf32>
// CHECK-NEXT:    [[L3:%.+]] = grow.layer 3 block 1 ([[L2]]) {norm_scale = 5.000000e-01 : f64} : tensor<?x?x4xf32>
// CHECK-NEXT:    grow.rms_norm @model.norm.weight([[L3]]) : tensor<?x?x4xf32>

// The factor belongs to the layer (its index), not to the position: a swap
// moves it with the layer (reversals: reverse-layer-window.mlir), a skip
// leaves it, and scaling before or after the swap gives the same model.
// SWAP-LABEL: grow.model @four
// SWAP-SAME:    attributes {ln_scaling}
// SWAP:         [[L1:%.+]] = grow.layer 1 block 0 ({{%.+}}) {norm_scale = 0.70710678118654746 : f64} : tensor<?x?x4xf32>
// SWAP-NEXT:    [[L0:%.+]] = grow.layer 0 block 0 ([[L1]]) : tensor<?x?x4xf32>
// SWAP-NEXT:    grow.layer 2 block 1 ([[L0]]) {norm_scale = 0.57735026918962584 : f64}

// SKIP-LABEL: grow.model @four
// SKIP-SAME:    attributes {ln_scaling}
// SKIP:         [[L0:%.+]] = grow.layer 0 block 0 ({{%.+}}) : tensor<?x?x4xf32>
// SKIP-NEXT:    [[L1:%.+]] = grow.layer 1 block 0 ([[L0]]) {norm_scale = 0.70710678118654746 : f64, skip, skip_until = 2 : i64} : tensor<?x?x4xf32>
// SKIP-NEXT:    [[L2:%.+]] = grow.layer 2 block 1 ([[L1]]) {norm_scale = 0.57735026918962584 : f64} : tensor<?x?x4xf32>

// Growth keeps scaling on and gives the new layers 4 and 5 the factors of
// their new indices (the grown model is trained with them).
// GROW-LABEL: grow.model @four
// GROW-SAME:    attributes {ln_scaling}
// GROW:         grow.param @model.layers.2.input_layernorm.weight : tensor<4xf32> copy from "model.layers.0.input_layernorm.weight"
// GROW:         grow.layer 3 block 1 ({{%.+}}) {norm_scale = 5.000000e-01 : f64}
// GROW-NEXT:    grow.layer 4 block 2 ({{%.+}}) {norm_scale = 0.44721359549995793 : f64}
// GROW-NEXT:    grow.layer 5 block 2 ({{%.+}}) {norm_scale = 0.40824829046386307 : f64}

// -----

// A hand-set norm_scale is replaced by the factor of the layer's index.
grow.model @preset #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
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
  grow.param @model.norm.weight : tensor<4xf32>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %h1 = grow.layer 0 block 0 (%h0) {norm_scale = 2.500000e-01 : f64} : tensor<?x?x4xf32>
  %h2 = grow.layer 1 block 1 (%h1) : tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h2) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// CHECK-LABEL: grow.model @preset
// CHECK-SAME:    attributes {ln_scaling}
// CHECK:         [[L0:%.+]] = grow.layer 0 block 0 ({{%.+}}) : tensor<?x?x4xf32>
// CHECK-NEXT:    grow.layer 1 block 1 ([[L0]]) {norm_scale = 0.70710678118654746 : f64} : tensor<?x?x4xf32>
