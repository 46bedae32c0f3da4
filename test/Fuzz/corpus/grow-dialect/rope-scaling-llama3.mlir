grow.model @llama3 <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, rope_scaling = #grow.rope_scaling<llama3, factor = 8.000000e+00, low_freq_factor = 1.000000e+00, high_freq_factor = 4.000000e+00, original_context = 8192>, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32>
  grow.param @model.norm.weight : tensor<4xf32>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h0) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}
