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

def Grow_RopeScalingAttr : AttrDef<Grow_Dialect, "RopeScaling"> {
  let mnemonic = "rope_scaling";
  let summary = "Scaling of the RoPE frequencies (transformers' rope_type)";
  let description = [{
    How the rotary inverse frequencies inv_freq_k = 1 / rope_theta^(2k/d)
    are rescaled, as transformers' `rope_scaling` / `rope_parameters`
    (modeling_rope_utils) do it; a config without one has plain RoPE.

    - `linear`: every frequency divided by `factor` (positions interpolated).
    - `llama3` (Llama 3.1): with wavelength w_k = 2π / inv_freq_k,
      frequencies whose w_k < original_context / high_freq_factor are kept,
      those with w_k > original_context / low_freq_factor are divided by
      `factor`, and the band between is blended:
      s = (original_context / w_k - low_freq_factor) /
          (high_freq_factor - low_freq_factor),
      inv_freq'_k = (1 - s) · inv_freq_k / factor + s · inv_freq_k.

    `original_context` is transformers' original_max_position_embeddings.
    The llama3 fields are 0 for `linear`, which has only a factor.

    ```mlir
    #grow.rope_scaling<linear, factor = 4.000000e+00>
    #grow.rope_scaling<llama3, factor = 8.000000e+00,
                       low_freq_factor = 1.000000e+00,
                       high_freq_factor = 4.000000e+00,
                       original_context = 8192>
    ```
  }];
  let parameters = (ins
    StringRefParameter<"rope type: linear or llama3">:$kind,
    APFloatParameter<"frequency divisor">:$factor,
    APFloatParameter<"llama3: low-frequency factor">:$lowFreqFactor,
    APFloatParameter<"llama3: high-frequency factor">:$highFreqFactor,
    "int64_t":$originalContext);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    bool isLinear() const { return getKind() == "linear"; }
    bool isLlama3() const { return getKind() == "llama3"; }
  }];
}

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
    `rope_scaling` (a #grow.rope_scaling, from rope_scaling or
    rope_parameters) is optional: a config without it has plain RoPE.

    ```mlir
    #grow.config<vocab = 256, hidden = 64, ffn = 128, heads = 4, kv_heads = 2,
                 head_dim = 16, context = 256, eps = 1.000000e-05,
                 rope_theta = 1.000000e+04, tied = true, block_size = 2>
    #grow.config<vocab = 256, hidden = 64, ffn = 128, heads = 4, kv_heads = 2,
                 head_dim = 16, context = 1024, eps = 1.000000e-05,
                 rope_theta = 5.000000e+05,
                 rope_scaling = #grow.rope_scaling<linear, factor = 4.000000e+00>,
                 tied = true, block_size = 2>
    ```
  }];
  let parameters = (ins
    "int64_t":$vocab, "int64_t":$hidden, "int64_t":$ffn, "int64_t":$heads,
    "int64_t":$kvHeads, "int64_t":$headDim, "int64_t":$contextLength,
    APFloatParameter<"RMSNorm epsilon">:$eps,
    APFloatParameter<"RoPE base">:$ropeTheta,
    OptionalParameter<"RopeScalingAttr", "RoPE scaling; null: plain RoPE">:$ropeScaling,
    "bool":$tied, "int64_t":$blockSize);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Returns a copy with a different block size.
    ConfigAttr withBlockSize(int64_t blockSize) const;
  }];
}

#endif // GROWC_DIALECT_GROW_ATTRS_TD
