// RUN: %growc-opt %s -split-input-file --growc-expand-blocks="expand-every=2" | FileCheck %s
// RUN: %growc-opt %s -split-input-file --growc-expand-blocks="expand-every=4 expand-output-scale=0.5" | FileCheck %s --check-prefix=HALF
// RUN: %growc-opt %s -split-input-file --growc-expand-blocks="expand-every=4 expand-output-scale=1" | FileCheck %s --check-prefix=PLAIN
// RUN: %growc-opt %s -split-input-file --growc-expand-blocks="expand-every=2 block-size=2" | FileCheck %s --check-prefix=BLOCKS
// RUN: not %growc-opt %s -split-input-file --growc-expand-blocks="expand-every=3" 2>&1 | FileCheck %s --check-prefix=NDIV
// RUN: not %growc-opt %s -split-input-file --growc-expand-blocks 2>&1 | FileCheck %s --check-prefix=NONE

// Block expansion (LLaMA Pro), L = 4, N = 2: after layers 1 and 3 a copy of
// each, its o_proj and down_proj zero: 0 1 1' 2 3 3', blocks of N + 1.
// CHECK-LABEL: grow.model @mini
// CHECK-SAME: block_size = 3
// CHECK: grow.param @model.layers.1.mlp.down_proj.weight : {{.*}} from "model.layers.1.mlp.down_proj.weight"
// CHECK: grow.param @model.layers.2.input_layernorm.weight : {{.*}} copy from "model.layers.1.input_layernorm.weight"
// CHECK: grow.param @model.layers.2.self_attn.q_proj.weight : {{.*}} copy from "model.layers.1.self_attn.q_proj.weight"
// CHECK: grow.param @model.layers.2.self_attn.o_proj.weight : {{.*}} copy zero from "model.layers.1.self_attn.o_proj.weight"
// CHECK: grow.param @model.layers.2.mlp.up_proj.weight : {{.*}} copy from "model.layers.1.mlp.up_proj.weight"
// CHECK: grow.param @model.layers.2.mlp.down_proj.weight : {{.*}} copy zero from "model.layers.1.mlp.down_proj.weight"
// CHECK: grow.param @model.layers.3.self_attn.o_proj.weight : {{.*}} from "model.layers.2.self_attn.o_proj.weight"
// CHECK: grow.param @model.layers.5.self_attn.o_proj.weight : {{.*}} copy zero from "model.layers.3.self_attn.o_proj.weight"
// CHECK-NOT: grow.param @model.layers.6
// CHECK: %[[L2:.+]] = grow.layer 2 block 0
// CHECK: grow.layer 3 block 1 (%[[L2]])
// CHECK: %[[L5:.+]] = grow.layer 5 block 1
// CHECK: grow.rms_norm @model.norm.weight(%[[L5]])

// A scaled copy; a plain one (scale 1) has no initialiser.
// HALF-LABEL: grow.model @mini
// HALF-SAME: block_size = 5
// HALF: grow.param @model.layers.4.self_attn.o_proj.weight : {{.*}} copy scaled 5.000000e-01 from "model.layers.3.self_attn.o_proj.weight"
// HALF: grow.param @model.layers.4.mlp.down_proj.weight : {{.*}} copy scaled 5.000000e-01 from "model.layers.3.mlp.down_proj.weight"
// PLAIN-LABEL: grow.model @mini
// PLAIN: grow.param @model.layers.4.self_attn.o_proj.weight : {{.*}} copy from "model.layers.3.self_attn.o_proj.weight"

// block-size overrides the N + 1 default.
// BLOCKS-LABEL: grow.model @mini
// BLOCKS-SAME: block_size = 2
// BLOCKS: grow.layer 5 block 2

// NDIV: error: 'grow.model' op cannot apply block-expansion: expand-every=3 does not divide the model's 4 layers
// NONE: error: 'grow.model' op cannot apply block-expansion: expand-every must be at least 1, got 0
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
