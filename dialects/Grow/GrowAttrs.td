//===- GrowAttrs.td - grow dialect attributes --------------*- tablegen -*-===//
//
// The model configuration attribute: every hyper-parameter that shapes the
// parameters and the computation, in one place the verifiers can read.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_DIALECT_GROW_ATTRS_TD
#define GROWC_DIALECT_GROW_ATTRS_TD

include "GrowDialect.td"
include "mlir/IR/AttrTypeBase.td"

def Grow_ConfigAttr : AttrDef<Grow_Dialect, "Config"> {
  let mnemonic = "config";
  let summary = "Hyper-parameters of a Llama-style decoder";
  let description = [{
    Field names follow the Hugging Face LlamaConfig where one exists:
    `vocab` (vocab_size), `hidden` (hidden_size), `ffn` (intermediate_size),
    `heads` (num_attention_heads), `kv_heads` (num_key_value_heads),
    `head_dim`, `context` (max_position_embeddings), `eps` (rms_norm_eps),
    `rope_theta`, `tied` (tie_word_embeddings). `block_size` is growc's: the
    number of consecutive layers a growth step treats as one block.

    ```mlir
    #grow.config<vocab = 256, hidden = 64, ffn = 128, heads = 4, kv_heads = 2,
                 head_dim = 16, context = 256, eps = 1.000000e-05,
                 rope_theta = 1.000000e+04, tied = true, block_size = 2>
    ```
  }];
  let parameters = (ins
    "int64_t":$vocab, "int64_t":$hidden, "int64_t":$ffn, "int64_t":$heads,
    "int64_t":$kvHeads, "int64_t":$headDim, "int64_t":$contextLength,
    APFloatParameter<"RMSNorm epsilon">:$eps,
    APFloatParameter<"RoPE base">:$ropeTheta, "bool":$tied, "int64_t":$blockSize);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Returns a copy with a different block size.
    ConfigAttr withBlockSize(int64_t blockSize) const;
  }];
}

#endif // GROWC_DIALECT_GROW_ATTRS_TD
