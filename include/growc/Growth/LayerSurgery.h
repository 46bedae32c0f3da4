//===- LayerSurgery.h - rebuild or reorder a model's layers -----*- C++ -*-===//
//
// The two structural edits every growth and analysis pass reduces to:
// rebuilding the layer list from sources (growth: clones with new parameters
// and provenance), and permuting layer positions (analysis: swap, reverse).
// Both keep the residual-stream chain and the block numbering consistent
// with the new positions. A LayerNorm-Scaling factor belongs to the layer
// (its index), not to its position: growth sets it for the new indices,
// reordering moves it with the layer.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_GROWTH_LAYERSURGERY_H
#define GROWC_GROWTH_LAYERSURGERY_H

#include "dialects/Grow/GrowOps.h"
#include "growc/Growth/GrowthPlan.h"

namespace growc {

/// Emits an error and fails unless `model` is a plain model that growth may
/// rewrite: layers in index order, no analysis attributes, only logits out.
mlir::LogicalResult checkGrowable(grow::ModelOp model);

/// Replaces the layers of a growable `model` by `newLayers` (position i is a
/// clone of old layer newLayers[i].oldIndex) and regroups them into blocks of
/// `blockSize`. Every layer parameter is recreated under its new name with
/// its provenance composed: `from` names the parameter of the model before
/// the *first* growth, `copy` is set on duplicates, and the initialiser is
/// the old parameter's, times the source's outputScale for the two output
/// projections (zero stays zero; a product of 1 is a plain copy, of 0
/// `zero`). A layer with outputScale != 1 is new, so all its parameters are
/// `copy`.
mlir::LogicalResult rebuildLayers(grow::ModelOp model,
                                  llvm::ArrayRef<LayerSource> newLayers,
                                  int64_t blockSize);

/// Moves layers so that position i holds the layer that was at position
/// order[i]; order must be a permutation. Each layer keeps its index and its
/// norm_scale (the LN-Scaling factor of the layer it is, as in Csordás et
/// al.'s swaps of a trained model); only the blocks are renumbered. Fails
/// (with a diagnostic) when layer outputs are read by anything but the next
/// layer and the final norm.
mlir::LogicalResult reorderLayers(grow::ModelOp model,
                                  llvm::ArrayRef<int64_t> order);

/// Applies `steps` growth steps of `method` to `model`. `blockSize` 0 keeps
/// the model's block size; another value regroups the layers first (the
/// layer count must be a multiple of it). `onStep` sees each step's plan.
mlir::LogicalResult
growModel(grow::ModelOp model, GrowthMethod method, int64_t blockSize,
          int64_t steps, LidasOddPolicy oddPolicy,
          llvm::function_ref<void(const GrowthStep &)> onStep = nullptr);

/// True for the layer parameter suffixes that write into the residual
/// stream (self_attn.o_proj, mlp.down_proj): the only ones LayerSource's
/// outputScale applies to, and the only ones a grown model may zero or
/// scale (growc-verify-grown-model).
bool isOutputProjection(llvm::StringRef suffix);

/// The factor on its source's value that `param` starts from: 0 for `zero`,
/// S for `scaled S`, 1 otherwise.
double initialScale(grow::ParamOp param);

/// Sets every layer's block from its position.
void renumberPositions(grow::ModelOp model);

/// With ln_scaling, sets every layer's norm_scale to 1/sqrt(index + 1), the
/// factor of its own index (its position in the model as trained); without,
/// leaves the layers alone.
void setLnScalingFactors(grow::ModelOp model);

/// Applies a one-shot recipe (block-expansion, depth-upscale, layers,
/// gstack) to a growable `model`: plans it with planLayerRecipe and rebuilds
/// the layers once. An invalid request is an error on the model.
mlir::LogicalResult applyLayerRecipe(grow::ModelOp model,
                                     const LayerRecipe &recipe);

} // namespace growc

#endif // GROWC_GROWTH_LAYERSURGERY_H
