module {
  grow.model @model <vocab = 259, hidden = 64, ffn = 176, heads = 4, kv_heads = 2, head_dim = 16, context = 256, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
    grow.param @model.embed_tokens.weight : tensor<259x64xf32>
    grow.param @model.layers.0.input_layernorm.weight : tensor<64xf32>
    grow.param @model.layers.0.self_attn.q_proj.weight : tensor<64x64xf32>
    grow.param @model.layers.0.self_attn.k_proj.weight : tensor<32x64xf32>
    grow.param @model.layers.0.self_attn.v_proj.weight : tensor<32x64xf32>
    grow.param @model.layers.0.self_attn.o_proj.weight : tensor<64x64xf32>
    grow.param @model.layers.0.post_attention_layernorm.weight : tensor<64xf32>
    grow.param @model.layers.0.mlp.gate_proj.weight : tensor<176x64xf32>
    grow.param @model.layers.0.mlp.up_proj.weight : tensor<176x64xf32>
    grow.param @model.layers.0.mlp.down_proj.weight : tensor<64x176xf32>
    grow.param @model.norm.weight : tensor<64xf32>
    %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x64xf32>
    %layer0 = grow.layer 0 block 0 (%embed) : tensor<?x?x64xf32>
    %normed = grow.rms_norm @model.norm.weight(%layer0) : tensor<?x?x64xf32>
    %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x64xf32> -> tensor<?x?x259xf32>
    grow.return names ["logits"] %logits : tensor<?x?x259xf32>
  }
}
