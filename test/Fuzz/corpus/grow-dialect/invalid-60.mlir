// A model lives at module level, not inside another model.
module {
  grow.model @outer <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
    grow.model @inner <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%t: tensor<?x?xi32>) {
      grow.param @model.embed_tokens.weight : tensor<8x4xf32>
      grow.param @model.norm.weight : tensor<4xf32>
      %embed = grow.embed @model.embed_tokens.weight(%t) : tensor<?x?xi32> -> tensor<?x?x4xf32>
      %normed = grow.rms_norm @model.norm.weight(%embed) : tensor<?x?x4xf32>
      %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
      grow.return names ["logits"] %logits : tensor<?x?x8xf32>
    }
    grow.param @model.embed_tokens.weight : tensor<8x4xf32>
    grow.param @model.norm.weight : tensor<4xf32>
    %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
    %normed = grow.rms_norm @model.norm.weight(%embed) : tensor<?x?x4xf32>
    %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
    grow.return names ["logits"] %logits : tensor<?x?x8xf32>
  }
}
