//===- TensorOps.h - a model's tensor-level building blocks -----*- C++ -*-===//
//
// The pieces a grow.model lowers to, at a compiled batch B and sequence T,
// with activations as [B·T, features] rows: the forward's (embedding,
// RMSNorm, GEMMs, RoPE, attention, SwiGLU; TensorOps.cpp), the
// cross-entropy of the LM head in blocks of token rows (CrossEntropy.cpp)
// and the VJPs the reverse pass builds from them (GradientOps.cpp).
// growc-lower-model-to-tensors builds the forward with them,
// growc-differentiate-model the backward, so one class holds what both
// must agree on (the rotary tables, the loss blocks).
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_LOWERING_TENSOROPS_H
#define GROWC_PASSES_LOWERING_TENSOROPS_H

#include "dialects/Grow/GrowOps.h"
#include "passes/Lowering/TensorBuilder.h"

#include <tuple>
#include <utility>

namespace growc {

/// Which positions a partly skipped layer skips: from <= i < until, or
/// from <= i < split[b] with `split` the graph's I32 [B] input.
struct PositionMask {
  int64_t from = 0;
  int64_t until = -1;
  mlir::Value split;
};

/// Emits tensor-level IR for one model into the builder's insertion point.
class ModelTensorBuilder : public TensorBuilder {
public:
  ModelTensorBuilder(OpBuilder &builder, Location loc, grow::ConfigAttr config,
                     int64_t batch, int64_t seq, int64_t keyBlock,
                     int64_t lossRows)
      : TensorBuilder(builder, loc), config(config), batch(batch), seq(seq),
        rows(batch * seq), keyBlock(std::min(keyBlock, seq)),
        lossRows(lossRows) {}

  //===--------------------------------------------------------------------===//
  // Forward (TensorOps.cpp)
  //===--------------------------------------------------------------------===//

  Value embed(Value tokens, Value table);
  Value rmsNorm(Value x, Value weight, double scale);
  /// x · weightᵀ, plus `acc` when given (the residual, folded into the
  /// GEMM's epilogue).
  Value matmul(Value x, Value weight, Value acc = Value());
  /// cos and sin of every rotary angle, [B·T, hd/2] each: computed once per
  /// forward (the trigonometry would otherwise be redone for every head of
  /// every layer) and read by each layer's RoPE and its VJP.
  void buildRopeTables();
  /// inv_freq rescaled by a linear or llama3 RoPE scaling, inside the
  /// tables' body (transformers' modeling_rope_utils formulas).
  Value scaleInvFreq(OpBuilder &nb, Location l, Value invFreq,
                     grow::RopeScalingAttr scaling);
  std::pair<Value, Value> ropeTables() const { return {ropeCos, ropeSin}; }
  /// The tables a forward built, for a builder that continues it (the
  /// reverse pass).
  void setRopeTables(Value cos, Value sin) {
    ropeCos = cos;
    ropeSin = sin;
  }
  /// RoPE of `heads` heads read from columns [column, column + heads·hd)
  /// of x (a fused projection's output; 0: all of x).
  Value rope(Value x, int64_t heads, bool inverse = false, int64_t column = 0);
  Value attention(Value q, Value k, Value v);
  Value swiglu(Value gate, Value up);

  // Fused projections: the weights of projections that read the same input
  // are one GEMM's operand, their outputs one tensor's column blocks.

  /// The weights' rows one after another (tensor.concat along rows): a
  /// view on the host, since the plan emitter places the parameters back
  /// to back in one buffer; never a kernel.
  Value concatRows(ValueRange weights);
  /// Rows [first, first + count) of x: a view (a fused weight gradient's
  /// block for one parameter).
  Value rowBlock(Value x, int64_t first, int64_t count);
  /// Columns [first, first + width) of x, copied (the kernel that splits a
  /// fused q|k|v output writes v on its own for attention).
  Value columns(Value x, int64_t first, int64_t width);
  /// silu(gate) · up for gateUp = [gate | up] (two column halves).
  Value swigluHalves(Value gateUp);
  Value add(Value lhs, Value rhs);
  /// select(from <= position < bound, ifSkipped, otherwise) row-wise, where
  /// the bound is split[row / T] when `split` (I32 [B]) is given, else
  /// `until`; no split and until < 0 means every position.
  Value maskPositions(Value ifSkipped, Value otherwise,
                      const PositionMask &mask);
  using TensorBuilder::zeros;
  /// [B·T, F] -> [B, T, F].
  Value unflatten(Value x);
  /// The other GEMM layouts, for y = x · Wᵀ: dY · W (+ acc), and dYᵀ · X
  /// (+ acc).
  Value matmulInputGrad(Value dy, Value weight, Value acc = Value());
  Value matmulWeightGrad(Value dy, Value x, Value acc = Value());

  //===--------------------------------------------------------------------===//
  // Loss (CrossEntropy.cpp)
  //===--------------------------------------------------------------------===//

  /// The loss of the LM head and, for the grad graph, its gradients.
  struct HeadLoss {
    Value loss;    ///< [1]
    Value dnormed; ///< [B·T, D]: d loss / d normed
    Value dweight; ///< [V, D]: d loss / d weight
  };
  /// The mean cross-entropy [1] of the head's logits `normed · weightᵀ`
  /// against `targets` [B, T] (int32; -100 = ignored), with the gradients
  /// when `withGrads`. The token rows are taken lossBlockRows() at a time:
  /// each block's logits are computed once, and one kernel derives the
  /// block's nll and logit gradient from them.
  HeadLoss headCrossEntropy(Value normed, Value weight, Value targets,
                            bool withGrads);
  /// Token rows per cross-entropy block for a vocabulary of `vocab`:
  /// `lossRows` when given, else automatic (CrossEntropy.cpp).
  int64_t lossBlockRows(int64_t vocab) const;

  //===--------------------------------------------------------------------===//
  // Vector-Jacobian products (GradientOps.cpp)
  //===--------------------------------------------------------------------===//

  /// For y = rmsNorm(x, w, scale): dx, and dw (accumulated over rows).
  /// dx plus `residual` when given, in the same kernel. dw = rᵀ · (s·dy∘x)
  /// with r the rows' inverse RMS: by default a GEMM over a product the dx
  /// kernel writes; with setNormGradColumnSum (the GPU) a column reduction
  /// over the rows that stays in the dx kernel.
  std::pair<Value, Value> rmsNormGrad(Value x, Value weight, double scale,
                                      Value dy, Value residual = Value());
  /// RoPE is a rotation; its VJP is the rotation by minus the angle.
  Value ropeGrad(Value dy, int64_t heads);
  /// For out = silu(gate) · up: (dgate, dup).
  std::pair<Value, Value> swigluGrad(Value gate, Value up, Value dout);
  /// For out = swigluHalves(gateUp): [dgate | dup], one tensor shaped like
  /// gateUp (the fused gate|up GEMMs' dY).
  Value swigluHalvesGrad(Value gateUp, Value dout);
  /// For q = rope(qkv, heads, 0), k = rope(qkv, kvHeads, Q) and
  /// v = columns(qkv, Q + K, K): [dqkv] = [rope⁻¹(dq) | rope⁻¹(dk) | dv],
  /// one tensor (the fused q|k|v GEMMs' dY) written by one kernel.
  Value qkvGrad(Value dqRoped, Value dkRoped, Value dv);
  /// For o = attention(q, k, v) (causal, grouped KV): (dq, dk, dv), one
  /// growk.attention_grad expanded per target like the forward.
  std::tuple<Value, Value, Value> attentionGrad(Value q, Value k, Value v,
                                                Value o, Value dout);
  /// The gradient of the embedding table from that of its gathered rows:
  /// by default one block per range of vocabulary rows walking every token
  /// (no atomics); with setAtomicEmbedGrad (the GPU) blocks of tokens
  /// adding their rows with float atomics into a zeroed table.
  Value embedGrad(Value tokens, Value dEmbedded);
  /// Makes `embedGrad` (the atomic form) add into `acc` (the gradient the
  /// same table already has, the tied LM head's) instead of a zeroed
  /// table; returns the sum, or null where `grad` is not that form.
  Value accumulateEmbedGrad(Value grad, Value acc);
  void setAtomicEmbedGrad(bool enable) { atomicEmbedGrad = enable; }
  /// RMSNorm weight gradients as a reduction over the rows (d0 a reduction
  /// loop, the output indexed by the columns) in the dx kernel, which the
  /// GPU distributes as per-block partials summed by the last block,
  /// instead of the GEMM form (the CPU's: its artifacts are unchanged).
  void setNormGradColumnSum(bool enable) { normGradColumnSum = enable; }

private:
  /// embedGrad's GPU form (GradientOps.cpp).
  Value embedGradAtomic(Value tokens, Value dEmbedded);
  /// `table` with row `row` of `rows` added into its row `tableRow` where
  /// `add` (an scf.if; the row's add marked growc.atomic_add if `atomic`),
  /// else `table`: the embedding gradient's step in both of its forms.
  Value addEmbeddingRow(Location l, Value table, Value tableRow, Value rows,
                        Value row, Value add, bool atomic);
  /// The token position (row mod T) of row index `row` inside a body.
  Value positionOf(OpBuilder &nb, Location l, Value row) {
    Value seqLen = mlir::arith::ConstantIndexOp::create(nb, l, seq);
    return mlir::arith::RemUIOp::create(nb, l, row, seqLen);
  }
  Value indexToF32(OpBuilder &nb, Location l, Value i) {
    Value i64 = mlir::arith::IndexCastOp::create(nb, l, nb.getI64Type(), i);
    return mlir::arith::SIToFPOp::create(nb, l, nb.getF32Type(), i64);
  }
  /// The targets [B, T] as rows [B·T]; a new view per use, so that each
  /// kernel reshapes the input itself instead of receiving a view from
  /// another kernel.
  Value flatTargets(Value targets) {
    return mlir::tensor::CollapseShapeOp::create(
        b, loc, targets, ArrayRef<mlir::ReassociationIndices>{{0, 1}});
  }

  grow::ConfigAttr config;
  int64_t batch, seq, rows, keyBlock, lossRows;
  bool normGradColumnSum = false;
  bool atomicEmbedGrad = false;
  Value ropeCos, ropeSin;
};

} // namespace growc

#endif // GROWC_PASSES_LOWERING_TENSOROPS_H
