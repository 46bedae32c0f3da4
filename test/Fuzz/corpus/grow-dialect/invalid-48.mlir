// A body that ends in another dialect's terminator; checked before the
// foreign-op rule, so this is the error.
grow.model @foreign_terminator #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens : tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32>
  llvm.unreachable
}
