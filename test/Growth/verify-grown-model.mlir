// RUN: growc-opt %s -split-input-file --growc-verify-grown-model="source-layers=2" -verify-diagnostics | FileCheck %s

// A MIDAS-grown model (2 blocks of 1 -> 3) satisfies the contract.
// CHECK-LABEL: grow.model @grown
grow.model @grown <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
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
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32> copy from "model.layers.0.self_attn.o_proj.weight"
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32> copy from "model.layers.0.post_attention_layernorm.weight"
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.gate_proj.weight"
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.up_proj.weight"
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32> copy from "model.layers.0.mlp.down_proj.weight"
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

// Every parameter needs provenance.
grow.model @no_source <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
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
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32> copy from "model.layers.0.self_attn.o_proj.weight"
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32> copy from "model.layers.0.post_attention_layernorm.weight"
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.gate_proj.weight"
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.up_proj.weight"
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32> copy from "model.layers.0.mlp.down_proj.weight"
  grow.param @model.layers.2.input_layernorm.weight : tensor<4xf32> from "model.layers.1.input_layernorm.weight"
  grow.param @model.layers.2.self_attn.q_proj.weight : tensor<4x4xf32> from "model.layers.1.self_attn.q_proj.weight"
  grow.param @model.layers.2.self_attn.k_proj.weight : tensor<2x4xf32> from "model.layers.1.self_attn.k_proj.weight"
  grow.param @model.layers.2.self_attn.v_proj.weight : tensor<2x4xf32> from "model.layers.1.self_attn.v_proj.weight"
  grow.param @model.layers.2.self_attn.o_proj.weight : tensor<4x4xf32> from "model.layers.1.self_attn.o_proj.weight"
  grow.param @model.layers.2.post_attention_layernorm.weight : tensor<4xf32> from "model.layers.1.post_attention_layernorm.weight"
  grow.param @model.layers.2.mlp.gate_proj.weight : tensor<6x4xf32> from "model.layers.1.mlp.gate_proj.weight"
  grow.param @model.layers.2.mlp.up_proj.weight : tensor<6x4xf32> from "model.layers.1.mlp.up_proj.weight"
  grow.param @model.layers.2.mlp.down_proj.weight : tensor<4x6xf32> from "model.layers.1.mlp.down_proj.weight"
  // expected-error @+1 {{parameter 'model.norm.weight' has no provenance}}
  grow.param @model.norm.weight : tensor<4xf32>
  %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %layer0 = grow.layer 0 block 0 (%embed) : tensor<?x?x4xf32>
  %layer1 = grow.layer 1 block 1 (%layer0) : tensor<?x?x4xf32>
  %layer2 = grow.layer 2 block 2 (%layer1) : tensor<?x?x4xf32>
  %normed = grow.rms_norm @model.norm.weight(%layer2) : tensor<?x?x4xf32>
  %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %logits : tensor<?x?x8xf32>
}

// -----

// A layer parameter comes from the same parameter of some layer.
grow.model @wrong_role <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
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
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32> copy from "model.layers.0.self_attn.o_proj.weight"
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32> copy from "model.layers.0.post_attention_layernorm.weight"
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.gate_proj.weight"
  // expected-error @+1 {{must come from the mlp.up_proj.weight of some layer}}
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.gate_proj.weight"
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32> copy from "model.layers.0.mlp.down_proj.weight"
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

// A layer is copied whole: all its parameters share one origin.
grow.model @mixed <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
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
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32> copy from "model.layers.0.self_attn.o_proj.weight"
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32> copy from "model.layers.0.post_attention_layernorm.weight"
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.gate_proj.weight"
  // expected-error @+1 {{layer 1 mixes parameters of different origins}}
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32> copy from "model.layers.1.mlp.up_proj.weight"
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32> copy from "model.layers.0.mlp.down_proj.weight"
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

// Embedding, final norm and head come from themselves.
grow.model @embed_source <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
  // expected-error @+1 {{must come from itself}}
  grow.param @model.embed_tokens.weight : tensor<8x4xf32> from "lm_head.weight"
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
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32> copy from "model.layers.0.self_attn.o_proj.weight"
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32> copy from "model.layers.0.post_attention_layernorm.weight"
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.gate_proj.weight"
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.up_proj.weight"
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32> copy from "model.layers.0.mlp.down_proj.weight"
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

// Only layer parameters can be copies.
grow.model @embed_copy <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
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
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32> copy from "model.layers.0.self_attn.o_proj.weight"
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32> copy from "model.layers.0.post_attention_layernorm.weight"
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.gate_proj.weight"
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.up_proj.weight"
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32> copy from "model.layers.0.mlp.down_proj.weight"
  grow.param @model.layers.2.input_layernorm.weight : tensor<4xf32> from "model.layers.1.input_layernorm.weight"
  grow.param @model.layers.2.self_attn.q_proj.weight : tensor<4x4xf32> from "model.layers.1.self_attn.q_proj.weight"
  grow.param @model.layers.2.self_attn.k_proj.weight : tensor<2x4xf32> from "model.layers.1.self_attn.k_proj.weight"
  grow.param @model.layers.2.self_attn.v_proj.weight : tensor<2x4xf32> from "model.layers.1.self_attn.v_proj.weight"
  grow.param @model.layers.2.self_attn.o_proj.weight : tensor<4x4xf32> from "model.layers.1.self_attn.o_proj.weight"
  grow.param @model.layers.2.post_attention_layernorm.weight : tensor<4xf32> from "model.layers.1.post_attention_layernorm.weight"
  grow.param @model.layers.2.mlp.gate_proj.weight : tensor<6x4xf32> from "model.layers.1.mlp.gate_proj.weight"
  grow.param @model.layers.2.mlp.up_proj.weight : tensor<6x4xf32> from "model.layers.1.mlp.up_proj.weight"
  grow.param @model.layers.2.mlp.down_proj.weight : tensor<4x6xf32> from "model.layers.1.mlp.down_proj.weight"
  // expected-error @+1 {{only layer parameters can be copies}}
  grow.param @model.norm.weight : tensor<4xf32> copy from "model.norm.weight"
  %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %layer0 = grow.layer 0 block 0 (%embed) : tensor<?x?x4xf32>
  %layer1 = grow.layer 1 block 1 (%layer0) : tensor<?x?x4xf32>
  %layer2 = grow.layer 2 block 2 (%layer1) : tensor<?x?x4xf32>
  %normed = grow.rms_norm @model.norm.weight(%layer2) : tensor<?x?x4xf32>
  %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %logits : tensor<?x?x8xf32>
}

// -----

// Sources must name layers of the pre-growth model (source-layers=2).
grow.model @out_of_range <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
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
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32> copy from "model.layers.0.self_attn.o_proj.weight"
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32> copy from "model.layers.0.post_attention_layernorm.weight"
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.gate_proj.weight"
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.up_proj.weight"
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32> copy from "model.layers.0.mlp.down_proj.weight"
  // expected-error @+1 {{comes from layer 5, but the model before growth had 2 layers}}
  grow.param @model.layers.2.input_layernorm.weight : tensor<4xf32> from "model.layers.5.input_layernorm.weight"
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

// Zero and scaled output projections of copies pass (LLaMA Pro's block
// expansion; a scaled copy).
// CHECK-LABEL: grow.model @initialisers
// CHECK: copy zero from "model.layers.0.self_attn.o_proj.weight"
// CHECK: copy scaled 5.000000e-01 from "model.layers.1.mlp.down_proj.weight"
grow.model @initialisers <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
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
  grow.param @model.layers.2.input_layernorm.weight : tensor<4xf32> copy from "model.layers.1.input_layernorm.weight"
  grow.param @model.layers.2.self_attn.q_proj.weight : tensor<4x4xf32> copy from "model.layers.1.self_attn.q_proj.weight"
  grow.param @model.layers.2.self_attn.k_proj.weight : tensor<2x4xf32> copy from "model.layers.1.self_attn.k_proj.weight"
  grow.param @model.layers.2.self_attn.v_proj.weight : tensor<2x4xf32> copy from "model.layers.1.self_attn.v_proj.weight"
  grow.param @model.layers.2.self_attn.o_proj.weight : tensor<4x4xf32> copy scaled 5.000000e-01 from "model.layers.1.self_attn.o_proj.weight"
  grow.param @model.layers.2.post_attention_layernorm.weight : tensor<4xf32> copy from "model.layers.1.post_attention_layernorm.weight"
  grow.param @model.layers.2.mlp.gate_proj.weight : tensor<6x4xf32> copy from "model.layers.1.mlp.gate_proj.weight"
  grow.param @model.layers.2.mlp.up_proj.weight : tensor<6x4xf32> copy from "model.layers.1.mlp.up_proj.weight"
  grow.param @model.layers.2.mlp.down_proj.weight : tensor<4x6xf32> copy scaled 5.000000e-01 from "model.layers.1.mlp.down_proj.weight"
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

// Only output projections may be zero or scaled: zeroing q_proj would
// change the function in a way no growth method means.
grow.model @zero_q <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
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
  // expected-error @+1 {{parameter 'model.layers.1.self_attn.q_proj.weight' is zero; only a layer's output projections (self_attn.o_proj, mlp.down_proj) can be}}
  grow.param @model.layers.1.self_attn.q_proj.weight : tensor<4x4xf32> copy zero from "model.layers.0.self_attn.q_proj.weight"
  grow.param @model.layers.1.self_attn.k_proj.weight : tensor<2x4xf32> copy from "model.layers.0.self_attn.k_proj.weight"
  grow.param @model.layers.1.self_attn.v_proj.weight : tensor<2x4xf32> copy from "model.layers.0.self_attn.v_proj.weight"
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32> copy from "model.layers.0.self_attn.o_proj.weight"
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32> copy from "model.layers.0.post_attention_layernorm.weight"
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.gate_proj.weight"
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.up_proj.weight"
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32> copy from "model.layers.0.mlp.down_proj.weight"
  grow.param @model.norm.weight : tensor<4xf32> from "model.norm.weight"
  %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %layer0 = grow.layer 0 block 0 (%embed) : tensor<?x?x4xf32>
  %layer1 = grow.layer 1 block 1 (%layer0) : tensor<?x?x4xf32>
  %normed = grow.rms_norm @model.norm.weight(%layer1) : tensor<?x?x4xf32>
  %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %logits : tensor<?x?x8xf32>
}

// -----

// Embedding, final norm and head are never zero or scaled.
grow.model @scaled_norm <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
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
  grow.param @model.layers.1.input_layernorm.weight : tensor<4xf32> from "model.layers.1.input_layernorm.weight"
  grow.param @model.layers.1.self_attn.q_proj.weight : tensor<4x4xf32> from "model.layers.1.self_attn.q_proj.weight"
  grow.param @model.layers.1.self_attn.k_proj.weight : tensor<2x4xf32> from "model.layers.1.self_attn.k_proj.weight"
  grow.param @model.layers.1.self_attn.v_proj.weight : tensor<2x4xf32> from "model.layers.1.self_attn.v_proj.weight"
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32> from "model.layers.1.self_attn.o_proj.weight"
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32> from "model.layers.1.post_attention_layernorm.weight"
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32> from "model.layers.1.mlp.gate_proj.weight"
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32> from "model.layers.1.mlp.up_proj.weight"
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32> from "model.layers.1.mlp.down_proj.weight"
  // expected-error @+1 {{parameter 'model.norm.weight' is scaled 2; only a layer's output projections can be}}
  grow.param @model.norm.weight : tensor<4xf32> scaled 2.000000e+00 from "model.norm.weight"
  %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %layer0 = grow.layer 0 block 0 (%embed) : tensor<?x?x4xf32>
  %layer1 = grow.layer 1 block 1 (%layer0) : tensor<?x?x4xf32>
  %normed = grow.rms_norm @model.norm.weight(%layer1) : tensor<?x?x4xf32>
  %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %logits : tensor<?x?x8xf32>
}

// -----

// A zero or scaled parameter is new: it must be a copy.
grow.model @zero_not_copy <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
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
  grow.param @model.layers.1.input_layernorm.weight : tensor<4xf32> from "model.layers.1.input_layernorm.weight"
  grow.param @model.layers.1.self_attn.q_proj.weight : tensor<4x4xf32> from "model.layers.1.self_attn.q_proj.weight"
  grow.param @model.layers.1.self_attn.k_proj.weight : tensor<2x4xf32> from "model.layers.1.self_attn.k_proj.weight"
  grow.param @model.layers.1.self_attn.v_proj.weight : tensor<2x4xf32> from "model.layers.1.self_attn.v_proj.weight"
  // expected-error @+1 {{parameter 'model.layers.1.self_attn.o_proj.weight' is zero, so it is new and must be marked copy}}
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32> zero from "model.layers.1.self_attn.o_proj.weight"
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32> from "model.layers.1.post_attention_layernorm.weight"
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32> from "model.layers.1.mlp.gate_proj.weight"
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32> from "model.layers.1.mlp.up_proj.weight"
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32> zero from "model.layers.1.mlp.down_proj.weight"
  grow.param @model.norm.weight : tensor<4xf32> from "model.norm.weight"
  %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %layer0 = grow.layer 0 block 0 (%embed) : tensor<?x?x4xf32>
  %layer1 = grow.layer 1 block 1 (%layer0) : tensor<?x?x4xf32>
  %normed = grow.rms_norm @model.norm.weight(%layer1) : tensor<?x?x4xf32>
  %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %logits : tensor<?x?x8xf32>
}

// -----

// Both output projections of a layer share one initialiser.
grow.model @mixed <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
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
  // expected-error @+1 {{layer 1 initialises its output projections differently: 'model.layers.1.mlp.down_proj.weight' is scaled 0.5, 'model.layers.1.self_attn.o_proj.weight' zero}}
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32> copy scaled 5.000000e-01 from "model.layers.0.mlp.down_proj.weight"
  grow.param @model.norm.weight : tensor<4xf32> from "model.norm.weight"
  %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %layer0 = grow.layer 0 block 0 (%embed) : tensor<?x?x4xf32>
  %layer1 = grow.layer 1 block 1 (%layer0) : tensor<?x?x4xf32>
  %normed = grow.rms_norm @model.norm.weight(%layer1) : tensor<?x?x4xf32>
  %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %logits : tensor<?x?x8xf32>
}
