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
