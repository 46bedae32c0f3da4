// Every rule of #grow.config, the per-op verifiers and the whole-model
// region verifier, one case each. Models are kept as small as possible:
// zero layers where no layer is involved, one layer where one is.

//===----------------------------------------------------------------------===//
// #grow.config
//===----------------------------------------------------------------------===//

// A size field that is zero.
module attributes {test.config = #grow.config<vocab = 0, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1>} {}
