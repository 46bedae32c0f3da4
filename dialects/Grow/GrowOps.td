//===- GrowOps.td - grow dialect operations ----------------*- tablegen -*-===//
//
// Operations of the model-level dialect. Structural rules that need the whole
// model (parameter shapes against the config, dense layer indices, block
// grouping, the residual-stream chain) are checked by ModelOp's region
// verifier in GrowVerifier.cpp; per-op rules are checked here.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_DIALECT_GROW_OPS_TD
#define GROWC_DIALECT_GROW_OPS_TD

include "GrowDialect.td"
include "GrowAttrs.td"
include "GrowInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Grow_Tokens : 2DTensorOf<[I32]>;
def Grow_Hidden : 3DTensorOf<[F32, BF16, F16]>;

//===----------------------------------------------------------------------===//
// Structure
//===----------------------------------------------------------------------===//

def Grow_ModelOp : Grow_Op<"model", [
    Symbol, SymbolTable, IsolatedFromAbove, SingleBlock,
    HasParent<"::mlir::ModuleOp">,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames"]>]> {
  let summary = "A decoder-only language model";
  let description = [{
    The body's single block takes the token ids `[batch, seq]` and holds the
    `grow.param` declarations followed by the residual-stream dataflow. It
    ends in `grow.return`, whose first result is named `logits`.

    ```mlir
    grow.model @tiny #grow.config<...> (%tokens : tensor<?x?xi32>) {
      grow.param @"model.embed_tokens.weight" : tensor<256x64xf32>
      ...
      %h0 = grow.embed @"model.embed_tokens.weight"(%tokens) : ...
      %h1 = grow.layer 0 block 0 (%h0) : tensor<?x?x64xf32>
      %n = grow.rms_norm @"model.norm.weight"(%h1) : tensor<?x?x64xf32>
      %z = grow.lm_head @"model.embed_tokens.weight"(%n) : ...
      grow.return names ["logits"] %z : tensor<?x?x256xf32>
    }
    ```

    The optional unit attribute `ln_scaling` says LayerNorm-Scaling is on:
    each layer's `norm_scale` is `1/sqrt(index + 1)`, the factor of its own
    index (growth sets it for the new indices; swaps and reversals move it
    with the layer).
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, Grow_ConfigAttr:$config,
                       UnitAttr:$ln_scaling);
  let regions = (region SizedRegion<1>:$body);
  let hasCustomAssemblyFormat = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
    ::mlir::BlockArgument getTokens() { return getBodyBlock().getArgument(0); }
    /// The decoder layers in execution order.
    ::llvm::SmallVector<LayerOp, 0> getLayers();
    /// The parameter declarations in IR order.
    ::llvm::SmallVector<ParamOp, 0> getParams();
    ParamOp lookupParam(::llvm::StringRef name);
    EmbedOp getEmbed();
    ReturnOp getReturn();
  }];
}

def Grow_ParamOp : Grow_Op<"param", [Symbol, HasParent<"ModelOp">]> {
  let summary = "A named model parameter";
  let description = [{
    Declares a parameter by its checkpoint name with its shape and dtype.
    After growth, `from` records where the initial value comes from: the name
    of a parameter of the model the growth started from. `copy` marks a
    parameter that is a new duplicate (its optimizer moments may be zeroed
    instead of copied). The initialiser is the source's value unless `zero`
    (all zeros: the source gives only shape and type, as for LLaMA Pro's
    zeroed output projections) or `scaled S` (S times the source's value).
    `frozen` marks a parameter the train graph does not update: it gets no
    gradient, no optimizer state and no AdamW step.

    ```mlir
    grow.param @"model.layers.4.mlp.up_proj.weight" : tensor<128x64xf32> copy from "model.layers.2.mlp.up_proj.weight"
    grow.param @"model.layers.4.mlp.down_proj.weight" : tensor<64x128xf32> copy zero from "model.layers.2.mlp.down_proj.weight"
    grow.param @"model.layers.0.mlp.down_proj.weight" : tensor<64x128xf32> frozen
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<AnyRankedTensor>:$type,
                       UnitAttr:$copy,
                       UnitAttr:$zero,
                       OptionalAttr<F64Attr>:$scale,
                       OptionalAttr<StrAttr>:$source,
                       UnitAttr:$frozen);
  let assemblyFormat = [{
    $sym_name `:` $type (`copy` $copy^)? (`zero` $zero^)? (`scaled` $scale^)?
    (`from` $source^)? (`frozen` $frozen^)? attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::RankedTensorType getTensorType() {
      return ::llvm::cast<::mlir::RankedTensorType>(getType());
    }
  }];
}

def Grow_ReturnOp : Grow_Op<"return", [Terminator, HasParent<"ModelOp">,
                                        Pure]> {
  let summary = "The model's named outputs";
  let description = [{
    Ends the model. `names` names each output; the first is `logits`.
    Analysis rewrites add outputs such as `logit_lens.3` or `attn.3`.
  }];
  let arguments = (ins ArrayAttr:$names, Variadic<AnyTensor>:$outputs);
  let assemblyFormat = [{
    `names` $names ($outputs^ `:` type($outputs))? attr-dict
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Computation
//===----------------------------------------------------------------------===//

def Grow_EmbedOp : Grow_Op<"embed", [Pure,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>,
    DeclareOpInterfaceMethods<Grow_ParameterUserOpInterface>,
    DeclareOpInterfaceMethods<Grow_VjpOpInterface>]> {
  let summary = "Token embedding lookup";
  let description = [{
    `h_0 = E[tokens]` with `E = model.embed_tokens.weight`, `[vocab, hidden]`.
  }];
  let arguments = (ins FlatSymbolRefAttr:$weight, Grow_Tokens:$tokens);
  let results = (outs Grow_Hidden:$output);
  let assemblyFormat = [{
    $weight `(` $tokens `)` attr-dict `:` type($tokens) `->` type($output)
  }];
}

def Grow_LayerOp : Grow_Op<"layer", [Pure, AllTypesMatch<["input", "output"]>,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>,
    DeclareOpInterfaceMethods<Grow_ParameterUserOpInterface>,
    DeclareOpInterfaceMethods<Grow_VjpOpInterface>]> {
  let summary = "One pre-norm decoder layer";
  let description = [{
    `a = Attn(s·RMSNorm_1(h))`, `ĥ = h + a`, `m = MLP(s·RMSNorm_2(ĥ))`,
    result `ĥ + m`, where Attn is causal RoPE attention with grouped KV heads,
    MLP is SwiGLU, and `s = norm_scale` (1 unless LayerNorm-Scaling is on).
    `index` names the parameters (`model.layers.<index>.*`); `block` is the
    block of the layer's position. Analysis attributes: `skip` makes the layer
    the identity; with `skip_until = t` only at positions `< t`; with
    `skip_split` only at positions `< split[b]`, where `split` is an I32
    [batch] input that lowering adds to the graph (the depth score's split
    per prompt row, chosen at run time); `skip_from = f` further limits
    either to positions `>= f` (1 keeps position 0, the attention sink, as
    Csordás et al. do). When the
    layer has three results the extra two are the attention and MLP outputs
    `a` and `m` (residual-stream analyses).

    ```mlir
    %1 = grow.layer 3 block 1 (%0) : tensor<?x?x64xf32>
    %2:3 = grow.layer 4 block 2 (%1) {skip} : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins ConfinedAttr<I64Attr, [IntNonNegative]>:$index,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$block,
                       DefaultValuedAttr<F64Attr, "1.0">:$norm_scale,
                       UnitAttr:$skip,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntNonNegative]>>:$skip_until,
                       UnitAttr:$skip_split,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntNonNegative]>>:$skip_from,
                       Grow_Hidden:$input);
  let results = (outs Grow_Hidden:$output, Variadic<Grow_Hidden>:$sublayers);
  let assemblyFormat = [{
    $index `block` $block ` ` `(` $input `)` attr-dict `:` type($output)
    (`,` type($sublayers)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Checkpoint name of this layer's parameter `suffix`, e.g.
    /// "self_attn.q_proj.weight" -> "model.layers.<index>.self_attn.q_proj.weight".
    std::string getParamName(::llvm::StringRef suffix);
    bool exposesSublayers() { return !getSublayers().empty(); }
  }];
}

def Grow_RMSNormOp : Grow_Op<"rms_norm", [Pure, SameOperandsAndResultType,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>,
    DeclareOpInterfaceMethods<Grow_ParameterUserOpInterface>,
    DeclareOpInterfaceMethods<Grow_VjpOpInterface>]> {
  let summary = "The final RMSNorm";
  let description = [{
    `x / sqrt(mean(x^2) + eps) * w` over the hidden dimension, computed in
    fp32, with `w = model.norm.weight`.
  }];
  let arguments = (ins FlatSymbolRefAttr:$weight, Grow_Hidden:$input);
  let results = (outs Grow_Hidden:$output);
  let assemblyFormat = [{
    $weight `(` $input `)` attr-dict `:` type($output)
  }];
}

def Grow_LMHeadOp : Grow_Op<"lm_head", [Pure,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>,
    DeclareOpInterfaceMethods<Grow_ParameterUserOpInterface>,
    DeclareOpInterfaceMethods<Grow_VjpOpInterface>]> {
  let summary = "Unembedding to vocabulary logits";
  let description = [{
    `z = x · W^T` with `W = lm_head.weight`, or `model.embed_tokens.weight`
    when the embeddings are tied.
  }];
  let arguments = (ins FlatSymbolRefAttr:$weight, Grow_Hidden:$input);
  let results = (outs Grow_Hidden:$logits);
  let assemblyFormat = [{
    $weight `(` $input `)` attr-dict `:` type($input) `->` type($logits)
  }];
}

#endif // GROWC_DIALECT_GROW_OPS_TD
