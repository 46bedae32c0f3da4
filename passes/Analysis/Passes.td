//===- Passes.td - depth-analysis rewrites -----------------*- tablegen -*-===//
//
// Rewrites that build the models of the depth analyses (SPEC.md §4-5):
// LayerNorm-Scaling, layer skips, window swaps and reversals, early-exit
// heads. Layer numbers in options are positions (depth), 0-based. Parameter
// names never change, so the original checkpoint loads unchanged.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_ANALYSIS_PASSES_TD
#define GROWC_PASSES_ANALYSIS_PASSES_TD

include "mlir/Pass/PassBase.td"

class AnalysisPass<string arg> : Pass<arg, "::mlir::ModuleOp"> {
  let dependentDialects = ["::growc::grow::GrowDialect"];
}

def ScaleLayerNorms : AnalysisPass<"growc-scale-layer-norms"> {
  let summary = "LayerNorm-Scaling: scale both pre-sublayer norms by 1/sqrt(l+1)";
  let description = [{
    Sun et al. 2025. Sets the model's `ln_scaling` flag and every layer's
    `norm_scale` to `1/sqrt(l + 1)` for its index l (its position in the
    model as trained). No new parameters; the final norm is not scaled. The
    factor is a property of the layer: growth, which gives layers new
    indices, sets it for them; swaps, reversals and skips keep it, so a
    swapped LN-Scaling model runs each layer with the factor it was trained
    with, and scaling before or after a reordering gives the same model.

    Before: `grow.layer 2 block 1 (%x)`.
    After:  `grow.layer 2 block 1 (%x) {norm_scale = 0.57735026918962584 : f64}`.
  }];
}

def SkipLayers : AnalysisPass<"growc-skip-layers"> {
  let summary = "Make the layers at the given positions the identity";
  let description = [{
    Marks each listed layer `skip`: its output equals its input. With
    `until = t` (t >= 0) the skip applies only at token positions `< t`,
    the intervention of the depth score (Csordás et al. 2025). With
    `split-input` the bound comes per batch row from an I32 [batch] graph
    input named `split` instead (the depth score's per-prompt splits);
    `from = f` keeps positions `< f` unskipped (`from = 1` keeps position 0,
    as Csordás et al.'s code does). The other layers keep their positions
    and LN-Scaling factors.
  }];
  let options = [
    ListOption<"positions", "layers", "int64_t",
               "Layer positions to skip (0-based)">,
    Option<"until", "until", "int64_t", /*default=*/"-1",
           "Skip only at token positions < until (-1: at every position)">,
    Option<"splitInput", "split-input", "bool", /*default=*/"false",
           "Skip only at positions < split[row], the graph input 'split'">,
    Option<"from", "from", "int64_t", /*default=*/"0",
           "With until or split-input: skip only at positions >= from">,
  ];
}

def SwapLayerWindows : AnalysisPass<"growc-swap-layer-windows"> {
  let summary = "Exchange layers [p, p+s) with [p+s, p+2s)";
  let description = [{
    Block-swap robustness (SPEC.md §5.4). `size = 0` leaves the model as it
    is. Each layer keeps its parameters and its LN-Scaling factor; only the
    order (and the blocks) change.

    Before (p = 1, s = 1): `l0 l1 l2 l3`.  After: `l0 l2 l1 l3`.
  }];
  let options = [
    Option<"position", "position", "int64_t", /*default=*/"0",
           "First layer position p of the first window">,
    Option<"size", "size", "int64_t", /*default=*/"1",
           "Window size s (layers per window)">,
  ];
}

def ReverseLayerWindow : AnalysisPass<"growc-reverse-layer-window"> {
  let summary = "Reverse the order of the layers in [start, start+size)";
  let description = [{
    Before (start = 1, size = 3): `l0 l1 l2 l3 l4`.
    After: `l0 l3 l2 l1 l4`. Each layer keeps its parameters and its
    LN-Scaling factor.
  }];
  let options = [
    Option<"start", "start", "int64_t", /*default=*/"0",
           "First layer position of the window">,
    Option<"size", "size", "int64_t", /*default=*/"2",
           "Number of layers in the window">,
  ];
}

def AddEarlyExitHeads : AnalysisPass<"growc-add-early-exit-heads"> {
  let summary = "Expose each layer's logit-lens logits and residual-stream tensors";
  let description = [{
    For every selected layer position l, adds model outputs:
    `logit_lens.<l>` = `W_U · RMSNorm_final(h_{l+1})` (the model's own final
    norm and head), or with `lens-at=input` instead `logit_lens_in.<l>` =
    `W_U · RMSNorm_final(h_l)` (Csordás et al.'s index: the input of layer l,
    `logit_lens_in.0` decodes the embeddings), and with `residual-stream`
    also `hidden.<l>` = h_l (and
    `hidden.<L>` = h_L), `attn.<l>` = a_l and `mlp.<l>` = m_l, the attention
    and MLP outputs (zero where a layer is skipped). Run it after reordering
    or skipping layers, as the last analysis rewrite.
  }];
  let options = [
    ListOption<"positions", "layers", "int64_t",
               "Layer positions to expose (default: all)">,
    Option<"logitLens", "logit-lens", "bool", /*default=*/"true",
           "Add the logit-lens outputs">,
    Option<"lensAt", "lens-at", "std::string", /*default=*/"\"output\"",
           "Decode each layer's output h_{l+1} as logit_lens.<l> ('output') "
           "or its input h_l as logit_lens_in.<l> ('input')">,
    Option<"residualStream", "residual-stream", "bool", /*default=*/"true",
           "Add the hidden / attn / mlp outputs">,
  ];
}

#endif // GROWC_PASSES_ANALYSIS_PASSES_TD
