// RUN: %growc-opt %s -split-input-file | %growc-opt -split-input-file | FileCheck %s

// Round trip of the grow dialect's custom syntax: every op, attribute and
// optional clause survives print -> parse -> print.

// A tied model with two layers: the head reads the embedding matrix.
grow.model @tied #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
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
  %h1 = grow.layer 0 block 0 (%h0) : tensor<?x?x4xf32>
  %h2 = grow.layer 1 block 1 (%h1) : tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h2) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// CHECK-LABEL: grow.model @tied
// CHECK-SAME:    <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1>
// CHECK-SAME:    (%tokens: tensor<?x?xi32>) {
// CHECK-NEXT:    grow.param @model.embed_tokens.weight : tensor<8x4xf32>
// CHECK-NEXT:    grow.param @model.layers.0.input_layernorm.weight : tensor<4xf32>
// CHECK-NEXT:    grow.param @model.layers.0.self_attn.q_proj.weight : tensor<4x4xf32>
// CHECK-NEXT:    grow.param @model.layers.0.self_attn.k_proj.weight : tensor<2x4xf32>
// CHECK-NEXT:    grow.param @model.layers.0.self_attn.v_proj.weight : tensor<2x4xf32>
// CHECK-NEXT:    grow.param @model.layers.0.self_attn.o_proj.weight : tensor<4x4xf32>
// CHECK-NEXT:    grow.param @model.layers.0.post_attention_layernorm.weight : tensor<4xf32>
// CHECK-NEXT:    grow.param @model.layers.0.mlp.gate_proj.weight : tensor<6x4xf32>
// CHECK-NEXT:    grow.param @model.layers.0.mlp.up_proj.weight : tensor<6x4xf32>
// CHECK-NEXT:    grow.param @model.layers.0.mlp.down_proj.weight : tensor<4x6xf32>
// CHECK-NEXT:    grow.param @model.layers.1.input_layernorm.weight : tensor<4xf32>
// CHECK:         grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32>
// CHECK-NEXT:    grow.param @model.norm.weight : tensor<4xf32>
// CHECK-NEXT:    [[E:%.+]] = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
// CHECK-NEXT:    [[L0:%.+]] = grow.layer 0 block 0 ([[E]]) : tensor<?x?x4xf32>
// CHECK-NEXT:    [[L1:%.+]] = grow.layer 1 block 1 ([[L0]]) : tensor<?x?x4xf32>
// CHECK-NEXT:    [[N:%.+]] = grow.rms_norm @model.norm.weight([[L1]]) : tensor<?x?x4xf32>
// CHECK-NEXT:    [[Z:%.+]] = grow.lm_head @model.embed_tokens.weight([[N]]) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
// CHECK-NEXT:    grow.return names ["logits"] [[Z]] : tensor<?x?x8xf32>
// CHECK-NEXT:  }

// -----

// An untied model: the head has its own lm_head.weight.
grow.model @untied #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = false, block_size = 1> (%tokens : tensor<?x?xi32>) {
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
  grow.param @model.norm.weight : tensor<4xf32>
  grow.param @lm_head.weight : tensor<8x4xf32>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %h1 = grow.layer 0 block 0 (%h0) : tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h1) : tensor<?x?x4xf32>
  %z = grow.lm_head @lm_head.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// CHECK-LABEL: grow.model @untied
// CHECK-SAME:    tied = false, block_size = 1>
// CHECK:         grow.param @model.norm.weight : tensor<4xf32>
// CHECK-NEXT:    grow.param @lm_head.weight : tensor<8x4xf32>
// CHECK:         [[N:%.+]] = grow.rms_norm @model.norm.weight(
// CHECK-NEXT:    grow.lm_head @lm_head.weight([[N]]) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>

// -----

// Provenance after growth: `from` alone, and `copy from` for a duplicate.
grow.model @provenance #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32> from "model.embed_tokens.weight"
  grow.param @model.layers.0.input_layernorm.weight : tensor<4xf32> from "model.layers.0.input_layernorm.weight"
  grow.param @model.layers.0.self_attn.q_proj.weight : tensor<4x4xf32> copy from "model.layers.3.self_attn.q_proj.weight"
  grow.param @model.layers.0.self_attn.k_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.0.self_attn.v_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.0.self_attn.o_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.0.post_attention_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.0.mlp.gate_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.0.mlp.up_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.0.mlp.down_proj.weight : tensor<4x6xf32>
  grow.param @model.norm.weight : tensor<4xf32>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %h1 = grow.layer 0 block 0 (%h0) : tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h1) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// CHECK-LABEL: grow.model @provenance
// CHECK-NEXT:    grow.param @model.embed_tokens.weight : tensor<8x4xf32> from "model.embed_tokens.weight"{{$}}
// CHECK-NEXT:    grow.param @model.layers.0.input_layernorm.weight : tensor<4xf32> from "model.layers.0.input_layernorm.weight"{{$}}
// CHECK-NEXT:    grow.param @model.layers.0.self_attn.q_proj.weight : tensor<4x4xf32> copy from "model.layers.3.self_attn.q_proj.weight"{{$}}
// CHECK-NEXT:    grow.param @model.layers.0.self_attn.k_proj.weight : tensor<2x4xf32>{{$}}

// -----

// Analysis attributes: a layer skipped everywhere and one skipped only at
// token positions < 3.
grow.model @skips #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
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
  %h1 = grow.layer 0 block 0 (%h0) {skip} : tensor<?x?x4xf32>
  %h2 = grow.layer 1 block 1 (%h1) {skip, skip_until = 3} : tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h2) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// CHECK-LABEL: grow.model @skips
// CHECK:         [[L0:%.+]] = grow.layer 0 block 0 ({{%.+}}) {skip} : tensor<?x?x4xf32>
// CHECK-NEXT:    grow.layer 1 block 1 ([[L0]]) {skip, skip_until = 3 : i64} : tensor<?x?x4xf32>

// -----

// A layer exposing its attention and MLP outputs (three results).
grow.model @sublayers #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
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
  grow.param @model.norm.weight : tensor<4xf32>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %h1:3 = grow.layer 0 block 0 (%h0) : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h1#0) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits", "attn.0", "mlp.0"] %z, %h1#1, %h1#2 : tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>
}

// CHECK-LABEL: grow.model @sublayers
// CHECK:         [[L0:%.+]], [[A0:%.+]], [[M0:%.+]] = grow.layer 0 block 0 ({{%.+}}) : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>
// CHECK-NEXT:    [[N:%.+]] = grow.rms_norm @model.norm.weight([[L0]])
// CHECK-NEXT:    [[Z:%.+]] = grow.lm_head @model.embed_tokens.weight([[N]])
// CHECK-NEXT:    grow.return names ["logits", "attn.0", "mlp.0"] [[Z]], [[A0]], [[M0]] : tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>

// -----

// norm_scale without ln_scaling is free; the default 1.0 is not printed.
grow.model @norm_scale #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
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
  %h2 = grow.layer 1 block 1 (%h1) {norm_scale = 1.000000e+00 : f64} : tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h2) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// CHECK-LABEL: grow.model @norm_scale
// CHECK-SAME:    (%tokens: tensor<?x?xi32>) {
// CHECK:         [[L0:%.+]] = grow.layer 0 block 0 ({{%.+}}) {norm_scale = 2.500000e-01 : f64} : tensor<?x?x4xf32>
// CHECK-NEXT:    grow.layer 1 block 1 ([[L0]]) : tensor<?x?x4xf32>

// -----

// LayerNorm-Scaling: norm_scale = 1/sqrt(index + 1) for every layer.
grow.model @ln_scaling #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 2> (%tokens : tensor<?x?xi32>) attributes {ln_scaling} {
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

// CHECK-LABEL: grow.model @ln_scaling
// CHECK-SAME:    block_size = 2> (%tokens: tensor<?x?xi32>) attributes {ln_scaling} {
// CHECK:         [[L0:%.+]] = grow.layer 0 block 0 ({{%.+}}) : tensor<?x?x4xf32>
// CHECK-NEXT:    [[L1:%.+]] = grow.layer 1 block 0 ([[L0]]) {norm_scale = 0.70710678118654746 : f64} : tensor<?x?x4xf32>
// CHECK-NEXT:    [[L2:%.+]] = grow.layer 2 block 1 ([[L1]]) {norm_scale = 0.57735026918962584 : f64} : tensor<?x?x4xf32>
// CHECK-NEXT:    grow.layer 3 block 1 ([[L2]]) {norm_scale = 5.000000e-01 : f64} : tensor<?x?x4xf32>

// -----

// LayerNorm-Scaling after a swap: each layer keeps the factor of its own
// index, so layer 1 at position 0 has 1/sqrt(2) and layer 0 at position 1
// has 1.
grow.model @ln_scaling_swapped #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) attributes {ln_scaling} {
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
  %h1 = grow.layer 1 block 0 (%h0) {norm_scale = 0.70710678118654746 : f64} : tensor<?x?x4xf32>
  %h2 = grow.layer 0 block 1 (%h1) : tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h2) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// CHECK-LABEL: grow.model @ln_scaling_swapped
// CHECK-SAME:    attributes {ln_scaling} {
// CHECK:         [[L1:%.+]] = grow.layer 1 block 0 ({{%.+}}) {norm_scale = 0.70710678118654746 : f64} : tensor<?x?x4xf32>
// CHECK-NEXT:    grow.layer 0 block 1 ([[L1]]) : tensor<?x?x4xf32>

// -----

// Extra named outputs: a logit-lens head after layer 0 and the stream h_1.
grow.model @named_outputs #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
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
  %h1 = grow.layer 0 block 0 (%h0) : tensor<?x?x4xf32>
  %n0 = grow.rms_norm @model.norm.weight(%h1) : tensor<?x?x4xf32>
  %z0 = grow.lm_head @model.embed_tokens.weight(%n0) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  %h2 = grow.layer 1 block 1 (%h1) : tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h2) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits", "logit_lens.0", "hidden.1"] %z, %z0, %h1 : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32>
}

// CHECK-LABEL: grow.model @named_outputs
// CHECK:         [[L0:%.+]] = grow.layer 0 block 0
// CHECK-NEXT:    [[N0:%.+]] = grow.rms_norm @model.norm.weight([[L0]]) : tensor<?x?x4xf32>
// CHECK-NEXT:    [[Z0:%.+]] = grow.lm_head @model.embed_tokens.weight([[N0]]) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
// CHECK-NEXT:    [[L1:%.+]] = grow.layer 1 block 1 ([[L0]])
// CHECK-NEXT:    [[N:%.+]] = grow.rms_norm @model.norm.weight([[L1]])
// CHECK-NEXT:    [[Z:%.+]] = grow.lm_head @model.embed_tokens.weight([[N]])
// CHECK-NEXT:    grow.return names ["logits", "logit_lens.0", "hidden.1"] [[Z]], [[Z0]], [[L0]] : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32>

// -----

// bf16 parameters and residual stream.
grow.model @bf16 #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xbf16>
  grow.param @model.layers.0.input_layernorm.weight : tensor<4xbf16>
  grow.param @model.layers.0.self_attn.q_proj.weight : tensor<4x4xbf16>
  grow.param @model.layers.0.self_attn.k_proj.weight : tensor<2x4xbf16>
  grow.param @model.layers.0.self_attn.v_proj.weight : tensor<2x4xbf16>
  grow.param @model.layers.0.self_attn.o_proj.weight : tensor<4x4xbf16>
  grow.param @model.layers.0.post_attention_layernorm.weight : tensor<4xbf16>
  grow.param @model.layers.0.mlp.gate_proj.weight : tensor<6x4xbf16>
  grow.param @model.layers.0.mlp.up_proj.weight : tensor<6x4xbf16>
  grow.param @model.layers.0.mlp.down_proj.weight : tensor<4x6xbf16>
  grow.param @model.norm.weight : tensor<4xbf16>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xbf16>
  %h1 = grow.layer 0 block 0 (%h0) : tensor<?x?x4xbf16>
  %n = grow.rms_norm @model.norm.weight(%h1) : tensor<?x?x4xbf16>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xbf16> -> tensor<?x?x8xbf16>
  grow.return names ["logits"] %z : tensor<?x?x8xbf16>
}

// CHECK-LABEL: grow.model @bf16
// CHECK-NEXT:    grow.param @model.embed_tokens.weight : tensor<8x4xbf16>
// CHECK:         grow.param @model.layers.0.mlp.down_proj.weight : tensor<4x6xbf16>
// CHECK-NEXT:    grow.param @model.norm.weight : tensor<4xbf16>
// CHECK-NEXT:    [[E:%.+]] = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xbf16>
// CHECK-NEXT:    [[L0:%.+]] = grow.layer 0 block 0 ([[E]]) : tensor<?x?x4xbf16>
// CHECK-NEXT:    [[N:%.+]] = grow.rms_norm @model.norm.weight([[L0]]) : tensor<?x?x4xbf16>
// CHECK-NEXT:    [[Z:%.+]] = grow.lm_head @model.embed_tokens.weight([[N]]) : tensor<?x?x4xbf16> -> tensor<?x?x8xbf16>
// CHECK-NEXT:    grow.return names ["logits"] [[Z]] : tensor<?x?x8xbf16>

// -----

// A model without layers is well formed (embedding, final norm, head).
grow.model @no_layers #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32>
  grow.param @model.norm.weight : tensor<4xf32>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h0) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// CHECK-LABEL: grow.model @no_layers
// CHECK:         [[E:%.+]] = grow.embed
// CHECK-NEXT:    grow.rms_norm @model.norm.weight([[E]])

// -----

// RoPE scaling in the config (linear, llama3): printed after rope_theta
// whatever the order it was written in; a config without one prints as
// before scaling existed.
module attributes {test.linear = #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, rope_scaling = #grow.rope_scaling<linear, factor = 4.000000e+00>, tied = true, block_size = 1>, test.llama3 = #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, tied = true, rope_scaling = #grow.rope_scaling<llama3, original_context = 8192, factor = 8.0, high_freq_factor = 4.0, low_freq_factor = 1.0>, eps = 1.000000e-05, rope_theta = 5.000000e+05, block_size = 1>} {}
// CHECK-LABEL: module attributes
// CHECK-SAME:    test.linear = #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, rope_scaling = #grow.rope_scaling<linear, factor = 4.000000e+00>, tied = true, block_size = 1>
// CHECK-SAME:    test.llama3 = #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 5.000000e+05, rope_scaling = #grow.rope_scaling<llama3, factor = 8.000000e+00, low_freq_factor = 1.000000e+00, high_freq_factor = 4.000000e+00, original_context = 8192>, tied = true, block_size = 1>
