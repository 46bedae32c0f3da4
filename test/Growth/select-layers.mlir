// RUN: %growc-opt %s -split-input-file --growc-select-layers="layer-ranges=2:4,0:3" | FileCheck %s
// RUN: %growc-opt %s -split-input-file --growc-select-layers="layer-ranges=0:2,1:3" | FileCheck %s --check-prefix=PRUNE
// RUN: not %growc-opt %s -split-input-file --growc-select-layers="layer-ranges=0:2,3:x" 2>&1 | FileCheck %s --check-prefix=MALFORMED
// RUN: not %growc-opt %s -split-input-file --growc-select-layers="layer-ranges=0:5" 2>&1 | FileCheck %s --check-prefix=RANGE

// Layer ranges (mergekit passthrough): 2:4,0:3 -> 2 3 0 1 2'; a layer's
// first occurrence keeps its role. 5 layers: blocks of gcd(2, 5) = 1.
// CHECK-LABEL: grow.model @mini
// CHECK-SAME: block_size = 1
// CHECK: grow.param @model.layers.0.self_attn.q_proj.weight : {{.*}} from "model.layers.2.self_attn.q_proj.weight"
// CHECK: grow.param @model.layers.1.self_attn.q_proj.weight : {{.*}} from "model.layers.3.self_attn.q_proj.weight"
// CHECK: grow.param @model.layers.2.self_attn.q_proj.weight : {{.*}} from "model.layers.0.self_attn.q_proj.weight"
// CHECK: grow.param @model.layers.4.self_attn.q_proj.weight : {{.*}} copy from "model.layers.2.self_attn.q_proj.weight"
// CHECK-NOT: grow.param @model.layers.5
// CHECK: %[[L4:.+]] = grow.layer 4 block 4
// CHECK: grow.rms_norm @model.norm.weight(%[[L4]])

// Pruning: 0:2,1:3 -> 0 1 1' 2, layer 3 dropped; blocks of 2 kept.
// PRUNE-LABEL: grow.model @mini
// PRUNE-SAME: block_size = 2
// PRUNE: grow.param @model.layers.2.self_attn.q_proj.weight : {{.*}} copy from "model.layers.1.self_attn.q_proj.weight"
// PRUNE: grow.param @model.layers.3.self_attn.q_proj.weight : {{.*}} from "model.layers.2.self_attn.q_proj.weight"
// PRUNE-NOT: "model.layers.3.
// PRUNE: grow.layer 3 block 1

// MALFORMED: error: 'grow.model' op cannot apply layers: layer range '3:x' is not BEGIN:END (two layer indices, half-open)
// RANGE: error: 'grow.model' op cannot apply layers: layer range 0:5 ends past the model's 4 layers
grow.model @mini <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 2> (%tokens: tensor<?x?xi32>) {
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
  %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %layer0 = grow.layer 0 block 0 (%embed) : tensor<?x?x4xf32>
  %layer1 = grow.layer 1 block 0 (%layer0) : tensor<?x?x4xf32>
  %layer2 = grow.layer 2 block 1 (%layer1) : tensor<?x?x4xf32>
  %layer3 = grow.layer 3 block 1 (%layer2) : tensor<?x?x4xf32>
  %normed = grow.rms_norm @model.norm.weight(%layer3) : tensor<?x?x4xf32>
  %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %logits : tensor<?x?x8xf32>
}
