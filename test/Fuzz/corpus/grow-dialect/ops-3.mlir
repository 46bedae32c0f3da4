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
