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

// One-shot recipes for pretrained models (docs/pretrained-growth.md): each
// computes a new layer list from the whole model at once, so they take no
// `steps`; `block-size` sets the grown model's block size.
class LayerRecipePassBase<string arg> : Pass<arg, "::mlir::ModuleOp"> {
  let dependentDialects = ["::growc::grow::GrowDialect"];
  Option recipeBlockSize =
    Option<"blockSize", "block-size", "int64_t", /*default=*/"0",
           "Block size of the grown model (0: chosen by the recipe; another "
           "value must divide the new layer count)">;
}

def ExpandBlocks : LayerRecipePassBase<"growc-expand-blocks"> {
  let summary = "Block expansion (LLaMA Pro): after every N layers, a copy of "
                "the N-th with its output projections zeroed";
  let description = [{
    Wu et al. 2024: the L layers form L/N groups of N; after each group a copy
    of its last layer is inserted whose `self_attn.o_proj` and
    `mlp.down_proj` start at `expand-output-scale` times the source (0, the
    default: zero, so the new layer is the identity on the residual stream
    and the grown model computes the same function). L must be a multiple of
    N; the grown model has blocks of N + 1 unless `block-size` says
    otherwise.

    Before (N = 2): `a b c d`.  After: `a b b' c d d'` (b', d': o_proj and
    down_proj `copy zero from` b's and d's).
  }];
  let options = [
    Option<"expandEvery", "expand-every", "int64_t", /*default=*/"0",
           "Insert a new layer after every N layers (required; N divides L)">,
    Option<"expandOutputScale", "expand-output-scale", "double",
           /*default=*/"0.0",
           "Factor on the new layers' o_proj and down_proj (0: zero, LLaMA "
           "Pro; 1: plain copies)">,
    recipeBlockSize,
  ];
}

def UpscaleDepth : LayerRecipePassBase<"growc-upscale-depth"> {
  let summary = "Depth up-scaling (SOLAR): layers [0, L-M) then [M, L)";
  let description = [{
    Kim et al. 2023: two copies of the model, the last M layers removed from
    the first and the first M from the second, concatenated: L -> 2(L - M)
    layers (SOLAR 10.7B: L = 32, M = 8 -> 48). 0 < M < L. A layer's first
    occurrence keeps its role; its second occurrence is a `copy`. The block
    size is kept when it divides 2(L - M), else the gcd.

    Before (M = 1): `a b c d`.  After: `a b c b' c' d`.
  }];
  let options = [
    Option<"upscaleDrop", "upscale-drop", "int64_t", /*default=*/"0",
           "Layers M removed from each copy (required; 0 < M < L)">,
    recipeBlockSize,
  ];
}

def SelectLayers : LayerRecipePassBase<"growc-select-layers"> {
  let summary = "Layer ranges (mergekit passthrough): concatenate half-open "
                "ranges of the model's layers";
  let description = [{
    `layer-ranges=0:8,4:12` builds the model from layers [0, 8) then [4, 12),
    as mergekit's `passthrough` merge with `layer_range`s of one model. A
    layer's first occurrence keeps its role, later ones are copies; layers
    no range names are dropped (pruning). Ranges must be non-empty, not
    reversed and inside the model. The block size is kept when it divides
    the new count, else the gcd.

    Before (`layer-ranges=0:2,1:3`): `a b c d`.  After: `a b b' c` (d
    dropped).
  }];
  let options = [
    Option<"layerRanges", "layer-ranges", "std::string", /*default=*/"",
           "Comma-separated half-open ranges BEGIN:END (required)">,
    recipeBlockSize,
  ];
}

def StackLayers : LayerRecipePassBase<"growc-stack-layers"> {
  let summary = "G_stack: the whole layer stack repeated G times";
  let description = [{
    Du et al. 2024 ("Stacking Your Transformers"): layers [0, L) repeated G
    times, G >= 2; every repetition after the first is a copy. The block size
    is kept (it divides G·L).

    Before (G = 2): `a b`.  After: `a b a' b'`.
  }];
  let options = [
    Option<"stackFactor", "stack-factor", "int64_t", /*default=*/"0",
           "How many times the layers are stacked (required; G >= 2)">,
    recipeBlockSize,
  ];
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
