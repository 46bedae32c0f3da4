// RUN: growc-opt %s -split-input-file --growc-duplicate-middle-block --growc-verify-grown-model="source-layers=3" | FileCheck %s

// Initialisers compose through growth: MIDAS on 3 blocks of 1 copies the
// middle layer, here a LLaMA Pro block (a copy of layer 0 with zeroed output
// projections), and the copy is zero-initialised like its original; the
// other parameters stay plain copies.
// CHECK-LABEL: grow.model @expanded
// CHECK: grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32> copy zero from "model.layers.0.self_attn.o_proj.weight"
// CHECK: grow.param @model.layers.2.self_attn.q_proj.weight : tensor<4x4xf32> copy from "model.layers.0.self_attn.q_proj.weight"
// CHECK: grow.param @model.layers.2.self_attn.o_proj.weight : tensor<4x4xf32> copy zero from "model.layers.0.self_attn.o_proj.weight"
// CHECK: grow.param @model.layers.2.mlp.down_proj.weight : tensor<4x6xf32> copy zero from "model.layers.0.mlp.down_proj.weight"
// CHECK: grow.param @model.layers.3.self_attn.o_proj.weight : tensor<4x4xf32> from "model.layers.1.self_attn.o_proj.weight"
grow.model @expanded <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32> from "model.embed_tokens.weight"
  grow.param @model.layers.0.input_layernorm.weight : tensor<4xf32> from "model.layers.0.input_layernorm.weight"
  grow.param @model.layers.0.self_attn.q_proj.weight : tensor<4x4xf32> from "model.layers.0.self_attn.q_proj.weight"
  grow.param @model.layers.0.self_attn.k_proj.weight : tensor<2x4xf32> from "model.layers.0.self_attn.k_proj.weight"
  grow.param @model.layers.0.self_attn.v_proj.weight : tensor<2x4xf32> from "model.layers.0.self_attn.v_proj.weight"
  grow.param @model.layers.0.self_attn.o_proj.weight : tensor<4x4xf32> from "model.layers.0.self_attn.o_proj.weight"
  grow.param @model.layers.0.post_attention_layernorm.weight : tensor<4xf32> from "model.layers.0.post_attention_layernorm.weight"
  grow.param @model.layers.0.mlp.gate_proj.weight : tensor<6x4xf32> from "model.layers.0.mlp.gate_proj.weight"
  grow.param @model.layers.0.mlp.up_proj.weight : tensor<6x4xf32> from "model.layers.0.mlp.up_proj.weight"
  grow.param @model.layers.0.mlp.down_proj.weight : tensor<4x6xf32> from "model.layers.0.mlp.down_proj.weight"
  grow.param @model.layers.1.input_layernorm.weight : tensor<4xf32> copy from "model.layers.0.input_layernorm.weight"
  grow.param @model.layers.1.self_attn.q_proj.weight : tensor<4x4xf32> copy from "model.layers.0.self_attn.q_proj.weight"
  grow.param @model.layers.1.self_attn.k_proj.weight : tensor<2x4xf32> copy from "model.layers.0.self_attn.k_proj.weight"
  grow.param @model.layers.1.self_attn.v_proj.weight : tensor<2x4xf32> copy from "model.layers.0.self_attn.v_proj.weight"
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32> copy zero from "model.layers.0.self_attn.o_proj.weight"
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32> copy from "model.layers.0.post_attention_layernorm.weight"
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.gate_proj.weight"
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.up_proj.weight"
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32> copy zero from "model.layers.0.mlp.down_proj.weight"
  grow.param @model.layers.2.input_layernorm.weight : tensor<4xf32> from "model.layers.1.input_layernorm.weight"
  grow.param @model.layers.2.self_attn.q_proj.weight : tensor<4x4xf32> from "model.layers.1.self_attn.q_proj.weight"
  grow.param @model.layers.2.self_attn.k_proj.weight : tensor<2x4xf32> from "model.layers.1.self_attn.k_proj.weight"
  grow.param @model.layers.2.self_attn.v_proj.weight : tensor<2x4xf32> from "model.layers.1.self_attn.v_proj.weight"
  grow.param @model.layers.2.self_attn.o_proj.weight : tensor<4x4xf32> from "model.layers.1.self_attn.o_proj.weight"
  grow.param @model.layers.2.post_attention_layernorm.weight : tensor<4xf32> from "model.layers.1.post_attention_layernorm.weight"
  grow.param @model.layers.2.mlp.gate_proj.weight : tensor<6x4xf32> from "model.layers.1.mlp.gate_proj.weight"
  grow.param @model.layers.2.mlp.up_proj.weight : tensor<6x4xf32> from "model.layers.1.mlp.up_proj.weight"
  grow.param @model.layers.2.mlp.down_proj.weight : tensor<4x6xf32> from "model.layers.1.mlp.down_proj.weight"
  grow.param @model.norm.weight : tensor<4xf32> from "model.norm.weight"
  %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %layer0 = grow.layer 0 block 0 (%embed) : tensor<?x?x4xf32>
  %layer1 = grow.layer 1 block 1 (%layer0) : tensor<?x?x4xf32>
  %layer2 = grow.layer 2 block 2 (%layer1) : tensor<?x?x4xf32>
  %normed = grow.rms_norm @model.norm.weight(%layer2) : tensor<?x?x4xf32>
  %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %logits : tensor<?x?x8xf32>
}

// -----

// A scaled copy stays scaled by the same factor when it is copied again.
// CHECK-LABEL: grow.model @scaled
// CHECK: grow.param @model.layers.2.self_attn.q_proj.weight : tensor<4x4xf32> copy from "model.layers.0.self_attn.q_proj.weight"
// CHECK: grow.param @model.layers.2.self_attn.o_proj.weight : tensor<4x4xf32> copy scaled 5.000000e-01 from "model.layers.0.self_attn.o_proj.weight"
// CHECK: grow.param @model.layers.2.mlp.down_proj.weight : tensor<4x6xf32> copy scaled 5.000000e-01 from "model.layers.0.mlp.down_proj.weight"
// CHECK: grow.param @model.layers.3.mlp.down_proj.weight : tensor<4x6xf32> from "model.layers.1.mlp.down_proj.weight"
grow.model @scaled <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32> from "model.embed_tokens.weight"
  grow.param @model.layers.0.input_layernorm.weight : tensor<4xf32> from "model.layers.0.input_layernorm.weight"
  grow.param @model.layers.0.self_attn.q_proj.weight : tensor<4x4xf32> from "model.layers.0.self_attn.q_proj.weight"
  grow.param @model.layers.0.self_attn.k_proj.weight : tensor<2x4xf32> from "model.layers.0.self_attn.k_proj.weight"
  grow.param @model.layers.0.self_attn.v_proj.weight : tensor<2x4xf32> from "model.layers.0.self_attn.v_proj.weight"
  grow.param @model.layers.0.self_attn.o_proj.weight : tensor<4x4xf32> from "model.layers.0.self_attn.o_proj.weight"
  grow.param @model.layers.0.post_attention_layernorm.weight : tensor<4xf32> from "model.layers.0.post_attention_layernorm.weight"
  grow.param @model.layers.0.mlp.gate_proj.weight : tensor<6x4xf32> from "model.layers.0.mlp.gate_proj.weight"
  grow.param @model.layers.0.mlp.up_proj.weight : tensor<6x4xf32> from "model.layers.0.mlp.up_proj.weight"
  grow.param @model.layers.0.mlp.down_proj.weight : tensor<4x6xf32> from "model.layers.0.mlp.down_proj.weight"
  grow.param @model.layers.1.input_layernorm.weight : tensor<4xf32> copy from "model.layers.0.input_layernorm.weight"
  grow.param @model.layers.1.self_attn.q_proj.weight : tensor<4x4xf32> copy from "model.layers.0.self_attn.q_proj.weight"
  grow.param @model.layers.1.self_attn.k_proj.weight : tensor<2x4xf32> copy from "model.layers.0.self_attn.k_proj.weight"
  grow.param @model.layers.1.self_attn.v_proj.weight : tensor<2x4xf32> copy from "model.layers.0.self_attn.v_proj.weight"
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32> copy scaled 5.000000e-01 from "model.layers.0.self_attn.o_proj.weight"
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32> copy from "model.layers.0.post_attention_layernorm.weight"
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.gate_proj.weight"
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.up_proj.weight"
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32> copy scaled 5.000000e-01 from "model.layers.0.mlp.down_proj.weight"
  grow.param @model.layers.2.input_layernorm.weight : tensor<4xf32> from "model.layers.1.input_layernorm.weight"
  grow.param @model.layers.2.self_attn.q_proj.weight : tensor<4x4xf32> from "model.layers.1.self_attn.q_proj.weight"
  grow.param @model.layers.2.self_attn.k_proj.weight : tensor<2x4xf32> from "model.layers.1.self_attn.k_proj.weight"
  grow.param @model.layers.2.self_attn.v_proj.weight : tensor<2x4xf32> from "model.layers.1.self_attn.v_proj.weight"
  grow.param @model.layers.2.self_attn.o_proj.weight : tensor<4x4xf32> from "model.layers.1.self_attn.o_proj.weight"
  grow.param @model.layers.2.post_attention_layernorm.weight : tensor<4xf32> from "model.layers.1.post_attention_layernorm.weight"
  grow.param @model.layers.2.mlp.gate_proj.weight : tensor<6x4xf32> from "model.layers.1.mlp.gate_proj.weight"
  grow.param @model.layers.2.mlp.up_proj.weight : tensor<6x4xf32> from "model.layers.1.mlp.up_proj.weight"
  grow.param @model.layers.2.mlp.down_proj.weight : tensor<4x6xf32> from "model.layers.1.mlp.down_proj.weight"
  grow.param @model.norm.weight : tensor<4xf32> from "model.norm.weight"
  %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %layer0 = grow.layer 0 block 0 (%embed) : tensor<?x?x4xf32>
  %layer1 = grow.layer 1 block 1 (%layer0) : tensor<?x?x4xf32>
  %layer2 = grow.layer 2 block 2 (%layer1) : tensor<?x?x4xf32>
  %normed = grow.rms_norm @model.norm.weight(%layer2) : tensor<?x?x4xf32>
  %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %logits : tensor<?x?x8xf32>
}
