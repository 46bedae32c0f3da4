//===- Vjp.h - what a model-level op's VJP rule is given --------*- C++ -*-===//
//
// Reverse mode over a grow.model: growc-differentiate-model walks the model's
// ops last to first and asks each one, through VjpOpInterface, for the
// cotangents of its operands and parameters given those of its results. A
// rule is written at the model level (which values, which parameters) in
// terms of the tensor-level VJP rules the pass provides here (RMSNorm, RoPE,
// attention, SwiGLU, GEMM, embedding, cross-entropy), so the dialect does not
// depend on how a target builds tensors and a new op is one more rule.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_DIALECT_GROW_VJP_H
#define GROWC_DIALECT_GROW_VJP_H

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <cassert>
#include <tuple>
#include <utility>

namespace growc::grow {

/// What the forward lowering of a grow.layer records for its VJP: the
/// layer's intermediates, so the reverse pass reads them instead of
/// recomputing them. growk.forward_tape carries them in the IR in field
/// order (`toValues` / `fromValues`).
struct LayerTape {
  mlir::Value input; ///< h
  mlir::Value norm1; ///< n1 = s·RMSNorm(h)
  mlir::Value q, k;  ///< after RoPE
  mlir::Value v;
  mlir::Value attn;  ///< the attention output
  mlir::Value mid;   ///< h + o_proj(attn)
  mlir::Value norm2; ///< n2 = s·RMSNorm(mid)
  /// The MLP's projections. Under fused projections both are the one
  /// gate|up GEMM's output [gate | up] (fusedProjections()).
  mlir::Value gate, up;
  mlir::Value gated; ///< silu(gate) · up

  /// Whether the forward computed q|k|v and gate|up as one GEMM each
  /// (ModelTensorBuilder::concatRows), so the VJP does too.
  bool fusedProjections() const { return gate == up; }

  static constexpr unsigned kNumFields = 11;
  llvm::SmallVector<mlir::Value, kNumFields> toValues() const {
    return {input, norm1, q, k, v, attn, mid, norm2, gate, up, gated};
  }
  /// The inverse of toValues; `values` has kNumFields entries.
  static LayerTape fromValues(llvm::ArrayRef<mlir::Value> values) {
    assert(values.size() == kNumFields && "a layer tape has 11 fields");
    return {values[0], values[1], values[2], values[3], values[4], values[5],
            values[6], values[7], values[8], values[9], values[10]};
  }
};

class VjpContext {
public:
  virtual ~VjpContext() = default;

  // The forward pass, as the lowering built it.
  /// The tensor the forward computed for a model-level value.
  virtual mlir::Value forward(mlir::Value modelValue) = 0;
  /// What the forward lowering recorded for a layer's VJP; null if nothing.
  virtual const LayerTape *layerTape(mlir::Operation *layer) = 0;
  /// A parameter's tensor, by checkpoint name.
  virtual mlir::Value param(llvm::StringRef name) = 0;
  /// The int32 [B, T] token and target inputs.
  virtual mlir::Value tokens() = 0;
  virtual mlir::Value targets() = 0;

  // What a rule produces. Cotangents of a value (or parameter) reached
  // along several paths are summed.
  virtual void addCotangent(mlir::Value modelValue, mlir::Value cotangent) = 0;
  virtual void addParamGrad(llvm::StringRef name, mlir::Value grad) = 0;
  /// The scalar loss, once the rule that seeds the reverse pass built it.
  virtual void setLoss(mlir::Value loss) = 0;
  /// True for the model value the loss scores (the seed of the reverse
  /// pass: its cotangent is that of the mean cross-entropy).
  virtual bool isLossLogits(mlir::Value modelValue) = 0;

  // Tensor-level VJP rules; activations are [B·T, features] rows.
  virtual mlir::Value add(mlir::Value lhs, mlir::Value rhs) = 0;
  /// For y = x · wᵀ: dx = dy · w, plus `acc` when given (a cotangent that
  /// sums several products accumulates in the GEMM, beta = 1, instead of
  /// an add kernel).
  virtual mlir::Value matmulInputGrad(mlir::Value dy, mlir::Value weight,
                                      mlir::Value acc = mlir::Value()) = 0;
  /// For y = x · wᵀ: dw = dyᵀ · x.
  virtual mlir::Value matmulWeightGrad(mlir::Value dy, mlir::Value x) = 0;
  /// For y = rms_norm(x) · w · scale: (dx, dw); dx plus `residual` when
  /// given (the cotangent x also gets along the residual stream, summed in
  /// the same kernel).
  virtual std::pair<mlir::Value, mlir::Value>
  rmsNormGrad(mlir::Value x, mlir::Value weight, double scale, mlir::Value dy,
              mlir::Value residual = mlir::Value()) = 0;
  /// For y = rope(x) over `heads` heads: dx.
  virtual mlir::Value ropeGrad(mlir::Value dy, int64_t heads) = 0;
  /// For y = silu(gate) · up: (dgate, dup).
  virtual std::pair<mlir::Value, mlir::Value>
  swigluGrad(mlir::Value gate, mlir::Value up, mlir::Value dy) = 0;
  /// Fused projections (LayerTape::fusedProjections): the weights' rows
  /// one after another, a block of rows of a fused weight gradient, and
  /// the fused GEMMs' dY: [dgate | dup] from gateUp = [gate | up], and
  /// [rope⁻¹(dq) | rope⁻¹(dk) | dv].
  virtual mlir::Value concatRows(mlir::ValueRange weights) = 0;
  virtual mlir::Value rowBlock(mlir::Value x, int64_t first, int64_t count) = 0;
  virtual mlir::Value swigluHalvesGrad(mlir::Value gateUp, mlir::Value dy) = 0;
  virtual mlir::Value qkvGrad(mlir::Value dqRoped, mlir::Value dkRoped,
                              mlir::Value dv) = 0;
  /// For o = attention(q, k, v) (causal, grouped KV): (dq, dk, dv).
  virtual std::tuple<mlir::Value, mlir::Value, mlir::Value>
  attentionGrad(mlir::Value q, mlir::Value k, mlir::Value v, mlir::Value o,
                mlir::Value dout) = 0;
  /// For h = table[tokens]: dtable.
  virtual mlir::Value embedGrad(mlir::Value tokens, mlir::Value dy) = 0;
  /// The mean cross-entropy of logits = normed · weightᵀ against targets
  /// and its gradients, without the full logits: (loss, dnormed, dweight).
  virtual std::tuple<mlir::Value, mlir::Value, mlir::Value>
  crossEntropyGrad(mlir::Value normed, mlir::Value weight,
                   mlir::Value targets) = 0;
};

} // namespace growc::grow

#endif // GROWC_DIALECT_GROW_VJP_H
