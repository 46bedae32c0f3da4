//===- Passes.td - growth passes ---------------------------*- tablegen -*-===//
//
// Depth-growth operators of SPEC.md §2 and the contract check that follows
// them. Each growth pass rewrites every grow.model in the module, records on
// each parameter where its initial value comes from, and can be repeated.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_GROWTH_PASSES_TD
#define GROWC_PASSES_GROWTH_PASSES_TD

include "mlir/Pass/PassBase.td"

class GrowthPassBase<string arg> : Pass<arg, "::mlir::ModuleOp"> {
  let dependentDialects = ["::growc::grow::GrowDialect"];
  list<Option> growthOptions = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"0",
           "Layers per block (0: the model's block_size; another value "
           "regroups the layers first)">,
    Option<"steps", "steps", "int64_t", /*default=*/"1",
           "How many growth steps to apply (each adds one block)">,
  ];
}

def DuplicateMiddleBlock
    : GrowthPassBase<"growc-duplicate-middle-block"> {
  let summary = "MIDAS: copy the block before mid-depth and insert it after itself";
  let description = [{
    With n blocks of b layers and m = ceil(n/2), the new layer list is
    `old[0 : m·b] + copy(old[(m-1)·b : m·b]) + old[m·b : L]` (Saunshi et al.
    2024). Copies are exact and get their own parameters, named densely by
    their new position, each recording `copy from "<old name>"`.

    Before (b = 2, n = 2): `x0 x1 | y0 y1`.  After: `x0 x1 | x0' x1' | y0 y1`.
  }];
  let options = growthOptions;
}

def SpliceMiddleLayers
    : GrowthPassBase<"growc-splice-middle-layers"> {
  let summary = "LIDAS: copy the b layers centred on mid-depth and insert them there";
  let description = [{
    For an even block count n: `old[0 : L/2] + copy(old[L/2 - b/2 : L/2 + b/2])
    + old[L/2 : L]` (Kapl et al. 2025); b must be even. For odd n mid-depth
    lies inside the central block; `odd=midas` (default) copies that block
    like MIDAS, `odd=centred` applies the even-n formula anyway.

    Before (b = 4, n = 2): `x1 x2 x3 x4 | y1 y2 y3 y4`.
    After: `x1 x2 x3 x4 | x3' x4' y1' y2' | y1 y2 y3 y4`.
  }];
  let options = !listconcat(growthOptions, [
    Option<"oddPolicy", "odd", "std::string", /*default=*/"\"midas\"",
           "Odd block count: 'midas' (copy the central block, default) or "
           "'centred' (copy the b layers centred on mid-depth)">,
  ]);
}

def AppendLastBlock
    : GrowthPassBase<"growc-append-last-block"> {
  let summary = "GradStack: copy the last block and append it";
  let description = [{
    The older stacking baseline MIDAS is compared against:
    `old + copy(old[L - b : L])`.
  }];
  let options = growthOptions;
}

def VerifyGrownModel : Pass<"growc-verify-grown-model", "::mlir::ModuleOp"> {
  let summary = "Check the contract a grown model must satisfy";
  let description = [{
    On top of the dialect verifier: layers in index order with no analysis
    attributes, block alignment, and a complete provenance table: every
    parameter has a `from` source of the same role (a layer parameter comes
    from the same parameter of some layer; embedding, final norm and head
    from themselves) and of the same type, and `copy` only on layer
    parameters. `source-layers` (if > 0) is the layer count of the model the
    growth started from; sources must then name layers below it.

    Initialisers: `zero` and `scaled S` are allowed only on a layer's two
    output projections (`self_attn.o_proj`, `mlp.down_proj`: the matrices
    that write into the residual stream, so zeroing them makes a layer the
    identity and scaling them scales its contribution linearly; on any other
    parameter they would change the function in ways no growth method
    intends), only with `copy` (a parameter whose value is not its source's
    is new), and with the same initialiser on both projections of a layer.
    All of a layer's parameters come from one source layer with one copy
    flag.
  }];
  let options = [
    Option<"sourceLayers", "source-layers", "int64_t", /*default=*/"0",
           "Layer count of the pre-growth model (0: do not check source range)">,
  ];
}

#endif // GROWC_PASSES_GROWTH_PASSES_TD
