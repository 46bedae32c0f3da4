// RUN: growc-opt %s -split-input-file --growc-duplicate-middle-block -verify-diagnostics | FileCheck %s
// RUN: growc-opt %s -split-input-file --growc-duplicate-middle-block="steps=2" -verify-diagnostics | FileCheck %s --check-prefix=TWO
// RUN: growc-opt %s -split-input-file --growc-duplicate-middle-block="block-size=1" -verify-diagnostics | FileCheck %s --check-prefix=REGROUP

// MIDAS on 2 blocks of 2: m = 1, copy block B_1 = old[0:2], insert at 2:
// lineage 0 1 | 0' 1' | 2 3.
// CHECK-LABEL: grow.model @mini
// CHECK-SAME: block_size = 2
// CHECK: grow.param @model.layers.1.self_attn.q_proj.weight : {{.*}} from "model.layers.1.self_attn.q_proj.weight"
// CHECK: grow.param @model.layers.2.self_attn.q_proj.weight : {{.*}} copy from "model.layers.0.self_attn.q_proj.weight"
// CHECK: grow.param @model.layers.3.self_attn.q_proj.weight : {{.*}} copy from "model.layers.1.self_attn.q_proj.weight"
// CHECK: grow.param @model.layers.4.self_attn.q_proj.weight : {{.*}} from "model.layers.2.self_attn.q_proj.weight"
// CHECK: grow.param @model.layers.5.self_attn.q_proj.weight : {{.*}} from "model.layers.3.self_attn.q_proj.weight"
// CHECK-NOT: grow.param @model.layers.6
// CHECK: grow.layer 5 block 2

// Second step (n = 3, m = 2): copy old[2:4] (the copies 0' 1'), insert at 4.
// Provenance composes to the original model: copies of copies name layer 0.
// TWO-LABEL: grow.model @mini
// TWO: grow.param @model.layers.4.self_attn.q_proj.weight : {{.*}} copy from "model.layers.0.self_attn.q_proj.weight"
// TWO: grow.param @model.layers.5.self_attn.q_proj.weight : {{.*}} copy from "model.layers.1.self_attn.q_proj.weight"
// TWO: grow.param @model.layers.6.self_attn.q_proj.weight : {{.*}} from "model.layers.2.self_attn.q_proj.weight"
// TWO: grow.layer 7 block 3

// block-size=1 regroups to 4 blocks of 1 first: m = 2, copy old[1:2] to 2.
// REGROUP-LABEL: grow.model @mini
// REGROUP-SAME: block_size = 1
// REGROUP: grow.param @model.layers.2.self_attn.q_proj.weight : {{.*}} copy from "model.layers.1.self_attn.q_proj.weight"
// REGROUP: grow.param @model.layers.3.self_attn.q_proj.weight : {{.*}} from "model.layers.2.self_attn.q_proj.weight"
// REGROUP: grow.layer 4 block 4
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
