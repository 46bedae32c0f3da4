// RUN: %growc-opt %s -split-input-file --growc-upscale-depth="upscale-drop=1" | FileCheck %s
// RUN: %growc-opt %s -split-input-file --growc-upscale-depth="upscale-drop=3 block-size=1" | FileCheck %s --check-prefix=THREE
// RUN: not %growc-opt %s -split-input-file --growc-upscale-depth="upscale-drop=4" 2>&1 | FileCheck %s --check-prefix=ALL

// Depth up-scaling (SOLAR), L = 4, M = 1: [0, 3) then [1, 4) = 0 1 2 1' 2' 3;
// a layer's second occurrence is the copy, layer 3 occurs once. 6 layers
// keep blocks of 2.
// CHECK-LABEL: grow.model @mini
// CHECK-SAME: block_size = 2
// CHECK: grow.param @model.layers.2.self_attn.q_proj.weight : {{.*}} from "model.layers.2.self_attn.q_proj.weight"
// CHECK: grow.param @model.layers.3.self_attn.q_proj.weight : {{.*}} copy from "model.layers.1.self_attn.q_proj.weight"
// CHECK: grow.param @model.layers.3.self_attn.o_proj.weight : {{.*}} copy from "model.layers.1.self_attn.o_proj.weight"
// CHECK: grow.param @model.layers.4.self_attn.q_proj.weight : {{.*}} copy from "model.layers.2.self_attn.q_proj.weight"
// CHECK: grow.param @model.layers.5.self_attn.q_proj.weight : {{.*}} from "model.layers.3.self_attn.q_proj.weight"
// CHECK-NOT: grow.param @model.layers.6
// CHECK: grow.layer 5 block 2

// M = 3: [0, 1) then [3, 4) = 0 3, nothing copied.
// THREE-LABEL: grow.model @mini
// THREE: grow.param @model.layers.1.self_attn.q_proj.weight : {{.*}} from "model.layers.3.self_attn.q_proj.weight"
// THREE-NOT: copy
// THREE: grow.layer 1 block 1

// ALL: error: 'grow.model' op cannot apply depth-upscale: upscale-drop=4 must be in [1, 4) for a model of 4 layers (dropping none is gstack with stack-factor=2)
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
