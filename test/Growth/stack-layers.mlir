// RUN: %growc-opt %s -split-input-file --growc-stack-layers="stack-factor=2" | FileCheck %s
// RUN: %growc-opt %s -split-input-file --growc-stack-layers="stack-factor=3 block-size=4" | FileCheck %s --check-prefix=THREE
// RUN: not %growc-opt %s -split-input-file --growc-stack-layers="stack-factor=1" 2>&1 | FileCheck %s --check-prefix=ONE
// RUN: not %growc-opt %s -split-input-file --growc-stack-layers="stack-factor=20000" 2>&1 | FileCheck %s --check-prefix=LIMIT

// G_stack, G = 2: 0 1 2 3 0' 1' 2' 3'; blocks of 2 kept.
// CHECK-LABEL: grow.model @mini
// CHECK-SAME: block_size = 2
// CHECK: grow.param @model.layers.3.mlp.down_proj.weight : {{.*}} from "model.layers.3.mlp.down_proj.weight"
// CHECK: grow.param @model.layers.4.self_attn.q_proj.weight : {{.*}} copy from "model.layers.0.self_attn.q_proj.weight"
// CHECK: grow.param @model.layers.7.mlp.down_proj.weight : {{.*}} copy from "model.layers.3.mlp.down_proj.weight"
// CHECK-NOT: grow.param @model.layers.8
// CHECK: %[[L7:.+]] = grow.layer 7 block 3
// CHECK: grow.rms_norm @model.norm.weight(%[[L7]])

// G = 3 in blocks of 4: 12 layers, the third repetition is a copy too.
// THREE-LABEL: grow.model @mini
// THREE-SAME: block_size = 4
// THREE: grow.param @model.layers.8.self_attn.q_proj.weight : {{.*}} copy from "model.layers.0.self_attn.q_proj.weight"
// THREE: grow.layer 11 block 2

// ONE: error: 'grow.model' op cannot apply gstack: stack-factor must be at least 2, got 1
// LIMIT: error: 'grow.model' op cannot apply gstack: the grown model would have 80000 layers; growc builds at most 65536 (docs/usage.md#limits)
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
