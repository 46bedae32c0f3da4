//===- GrowDialect.td - the model-level growc dialect ------*- tablegen -*-===//
//
// `grow` describes a pre-norm decoder-only language model at the level growth
// works on: named parameters, decoder layers grouped into blocks, embedding,
// final norm and LM head. Growth and analysis passes rewrite it; later
// lowering turns it into tensor-level IR.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_DIALECT_GROW_DIALECT_TD
#define GROWC_DIALECT_GROW_DIALECT_TD

include "mlir/IR/OpBase.td"

def Grow_Dialect : Dialect {
  let name = "grow";
  let summary = "Model-level IR for depth-growable Transformer language models";
  let description = [{
    A `grow.model` holds a Llama-style decoder: parameters as symbols named
    exactly as in Hugging Face checkpoints, and a residual-stream dataflow
    embed -> layer* -> rms_norm -> lm_head. Layers are grouped into blocks of
    `block_size` consecutive layers; growth passes insert copies of layers and
    record on every parameter where its initial value comes from.
  }];
  let cppNamespace = "::growc::grow";
  let useDefaultAttributePrinterParser = 1;
}

class Grow_Op<string mnemonic, list<Trait> traits = []>
    : Op<Grow_Dialect, mnemonic, traits>;

#endif // GROWC_DIALECT_GROW_DIALECT_TD
