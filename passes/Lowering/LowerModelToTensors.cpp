//===- LowerModelToTensors.cpp - grow.model to tensor-level IR ------------===//
//
// Builds the forward function of a grow.model at a compiled batch B and
// sequence length T. Activations are [M = B·T, features] matrices so every
// projection is one GEMM (a growk.matmul library call); everything else is
// linalg.generic on tensors, written so the fusion and bufferization passes
// downstream see plain elementwise ops and reductions.
//
// Semantics follow Hugging Face Llama: RMSNorm in fp32 (x · rsqrt(mean x² +
// eps) · w), rotate-half RoPE with inv_freq = 1 / θ^(2k/d), causal attention
// with grouped KV heads (a growk.attention op, expanded per target), SwiGLU
// MLP, tied or untied head.
//
//===----------------------------------------------------------------------===//

#include "passes/Lowering/Passes.h"
#include "passes/Lowering/TensorBuilder.h"

#include "mlir/IR/AffineMap.h"
#include "llvm/ADT/StringMap.h"

#include <limits>

namespace growc {
#define GEN_PASS_DEF_LOWERMODELTOTENSORS
#include "passes/Lowering/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;
using namespace growc::grow;

namespace {

/// The automatic vocabulary chunk (vocab-chunk=0): fp32 logits [B·T, V] of
/// up to kWholeLogitBytes stay one chunk, since recomputing chunks for the
/// gradient costs up to one more head GEMM (+4% of a SmolLM-135M train
/// step, +15% at 2 layers, docs/training.md), not worth it for logits this
/// small next to the weights, moments and activations of a step. Larger
/// logits are chunked to at most kChunkLogitBytes per chunk.
constexpr int64_t kWholeLogitBytes = int64_t(256) << 20;
constexpr int64_t kChunkLogitBytes = int64_t(64) << 20;
/// The embedding gradient's blocks: ranges of vocabulary rows (enough for
/// a GPU's SMs, few enough that re-reading the tokens stays cheap).
constexpr int64_t kEmbedGradRanges = 256;

// AdamW and clipping defaults of SPEC.md §3.
constexpr double kAdamBeta1 = 0.9, kAdamBeta2 = 0.95, kAdamEps = 1e-8,
                 kAdamWeightDecay = 0.01, kMaxGradNorm = 1.0;

/// Emits the tensor-level computation of one model into the current
/// insertion point.
class ForwardBuilder : public TensorBuilder {
public:
  ForwardBuilder(OpBuilder &builder, Location loc, ConfigAttr config,
                 int64_t batch, int64_t seq, int64_t keyBlock,
                 int64_t vocabChunk)
      : TensorBuilder(builder, loc), config(config), batch(batch), seq(seq),
        rows(batch * seq), keyBlock(std::min(keyBlock, seq)),
        vocabChunk(vocabChunk) {}

  Value embed(Value tokens, Value table);
  Value rmsNorm(Value x, Value weight, double scale);
  /// x · weightᵀ, plus `acc` when given (the residual, folded into the
  /// GEMM's epilogue).
  Value matmul(Value x, Value weight, Value acc = Value());
  /// cos and sin of every rotary angle, [B·T, hd/2] each: computed once per
  /// forward (the trigonometry would otherwise be redone for every head of
  /// every layer) and read by each layer's RoPE.
  void buildRopeTables();
  Value rope(Value x, int64_t heads, bool inverse = false);
  Value attention(Value q, Value k, Value v);
  Value swiglu(Value gate, Value up);
  /// The loss of the LM head and, for the grad graph, its gradients.
  struct HeadLoss {
    Value loss;    ///< [1]
    Value dnormed; ///< [B·T, D]: d loss / d normed
    Value dweight; ///< [V, D]: d loss / d weight
  };
  /// The mean cross-entropy [1] of the head's logits `normed · weightᵀ`
  /// against `targets` [B, T] (int32; -100 = ignored), with the gradients
  /// when `withGrads`. The vocabulary is taken `vocabChunk` rows of the
  /// weight at a time, with a running max and sum of exponentials per row,
  /// so the [B·T, V] logits never exist; the gradient recomputes each
  /// chunk's logits once the log-sum-exp is known.
  HeadLoss headCrossEntropy(Value normed, Value weight, Value targets,
                            bool withGrads);

  // Vector-Jacobian products of the forward's pieces (the grad graph).
  /// dY · W (+ acc) for y = x · Wᵀ, and dYᵀ · X.
  Value matmulInputGrad(Value dy, Value weight, Value acc = Value());
  Value matmulWeightGrad(Value dy, Value x);
  /// For y = rmsNorm(x, w, scale): dx, and dw (accumulated over rows).
  std::pair<Value, Value> rmsNormGrad(Value x, Value weight, double scale,
                                      Value dy);
  /// RoPE is a rotation; its VJP is the rotation by minus the angle.
  Value ropeGrad(Value dy, int64_t heads);
  /// For out = silu(gate) · up: (dgate, dup).
  std::pair<Value, Value> swigluGrad(Value gate, Value up, Value dout);
  /// For o = attention(q, k, v) (causal, grouped KV): (dq, dk, dv), one
  /// growk.attention_grad expanded per target like the forward.
  std::tuple<Value, Value, Value> attentionGrad(Value q, Value k, Value v,
                                                Value o, Value dout);
  /// The gradient of the embedding table from that of its gathered rows.
  Value embedGrad(Value tokens, Value dEmbedded, int64_t vocab);
  int64_t vocabSize() { return config.getVocab(); }
  /// min(1, maxNorm / (‖grads‖₂ + 1e-6)) [1], as torch's clip_grad_norm_.
  Value clipCoefficient(ArrayRef<Value> grads, double maxNorm);
  /// One AdamW step (torch.optim.AdamW: decoupled weight decay, bias
  /// correction from `step`, 1-based) with gradient `grad · coef`: the new
  /// parameter and moments.
  /// With `apply` (a [1] flag, gradient accumulation), each result is the
  /// updated value where apply > 0.5 and the old one otherwise.
  std::tuple<Value, Value, Value> adamW(Value param, Value avg, Value avgSq,
                                        Value grad, Value coef, Value lr,
                                        Value step, Value apply = Value());
  /// Gradient accumulation: sum + grad / microBatches, and the sum carried
  /// to the next micro-batch (zero after an applied step).
  std::pair<Value, Value> accumulateGrad(Value sum, Value grad,
                                         int64_t microBatches, Value apply);
  Value add(Value lhs, Value rhs);
  /// select(position < until, ifSkipped, otherwise) row-wise; until < 0
  /// means every position.
  Value maskPositions(Value ifSkipped, Value otherwise, int64_t until);
  using TensorBuilder::zeros;
  /// [B·T, F] -> [B, T, F].
  Value unflatten(Value x);

private:
  /// The token position (row mod T) of row index `row` inside a body.
  Value positionOf(OpBuilder &nb, Location l, Value row) {
    Value seqLen = arith::ConstantIndexOp::create(nb, l, seq);
    return arith::RemUIOp::create(nb, l, row, seqLen);
  }
  Value indexToF32(OpBuilder &nb, Location l, Value i) {
    Value i64 = arith::IndexCastOp::create(nb, l, nb.getI64Type(), i);
    return arith::SIToFPOp::create(nb, l, nb.getF32Type(), i64);
  }

  /// The targets [B, T] as rows [B·T]; a new view per use, so that each
  /// kernel reshapes the input itself instead of receiving a view from
  /// another kernel.
  Value flatTargets(Value targets) {
    return tensor::CollapseShapeOp::create(
        b, loc, targets, ArrayRef<ReassociationIndices>{{0, 1}});
  }
  /// Marks the op defining `v` as a kernel of its own (growc-form-kernels).
  Value ownKernel(Value v) {
    v.getDefiningOp()->setAttr("growc.own_kernel", b.getUnitAttr());
    return v;
  }

  ConfigAttr config;
  int64_t batch, seq, rows, keyBlock, vocabChunk;
  Value ropeCos, ropeSin;
};

Value ForwardBuilder::embed(Value tokens, Value table) {
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, tokens, ArrayRef<ReassociationIndices>{{0, 1}});
  int64_t hidden = config.getHidden();
  return generic(
      {flat}, empty({rows, hidden}),
      {map(2, {dim(0)}), map(2, {dim(0), dim(1)})}, {kPar, kPar},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value row =
            arith::IndexCastOp::create(nb, l, nb.getIndexType(), args[0]);
        Value col = linalg::IndexOp::create(nb, l, 1);
        return tensor::ExtractOp::create(nb, l, table, ValueRange{row, col});
      });
}

Value ForwardBuilder::rmsNorm(Value x, Value weight, double scale) {
  int64_t hidden = config.getHidden();
  Value sumSq = generic(
      {x}, zeros({rows}), {map(2, {dim(0), dim(1)}), map(2, {dim(0)})},
      {kPar, kRed}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value sq = arith::MulFOp::create(nb, l, args[0], args[0]);
        return arith::AddFOp::create(nb, l, sq, args[1]);
      });
  double eps = config.getEps().convertToDouble();
  return generic(
      {x, sumSq, weight}, empty({rows, hidden}),
      {map(2, {dim(0), dim(1)}), map(2, {dim(0)}), map(2, {dim(1)}),
       map(2, {dim(0), dim(1)})},
      {kPar, kPar}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value n = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(hidden));
        Value e = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(eps));
        Value mean = arith::DivFOp::create(nb, l, args[1], n);
        Value rms =
            math::SqrtOp::create(nb, l, arith::AddFOp::create(nb, l, mean, e));
        Value normed = arith::DivFOp::create(nb, l, args[0], rms);
        Value out = arith::MulFOp::create(nb, l, normed, args[2]);
        if (scale != 1.0)
          out = arith::MulFOp::create(
              nb, l, out,
              arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(scale)));
        return out;
      });
}

Value ForwardBuilder::matmul(Value x, Value weight, Value acc) {
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(weight.getType());
  auto type =
      RankedTensorType::get({xType.getDimSize(0), wType.getDimSize(0)}, f32);
  return growk::MatmulOp::create(b, loc, type, x, weight, acc);
}

void ForwardBuilder::buildRopeTables() {
  int64_t headDim = config.getHeadDim(), half = headDim / 2;
  double theta = config.getRopeTheta().convertToDouble();
  auto table = [&](bool isCos) {
    AffineMap id = map(2, {dim(0), dim(1)});
    return generic(
        {}, empty({rows, half}), {id}, {kPar, kPar},
        [&](OpBuilder &nb, Location l, ValueRange) -> Value {
          Value row = linalg::IndexOp::create(nb, l, 0);
          Value k = linalg::IndexOp::create(nb, l, 1);
          // inv_freq_k = 1 / theta^(2k/d), computed in fp32 as HF does.
          Value exponent = arith::DivFOp::create(
              nb, l,
              indexToF32(
                  nb, l,
                  arith::MulIOp::create(
                      nb, l, k, arith::ConstantIndexOp::create(nb, l, 2))),
              arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(headDim)));
          Value base =
              arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(theta));
          Value invFreq = arith::DivFOp::create(
              nb, l, arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1.0)),
              math::PowFOp::create(nb, l, base, exponent));
          Value angle = arith::MulFOp::create(
              nb, l, indexToF32(nb, l, positionOf(nb, l, row)), invFreq);
          return isCos ? Value(math::CosOp::create(nb, l, angle))
                       : Value(math::SinOp::create(nb, l, angle));
        });
  };
  ropeCos = table(true);
  ropeSin = table(false);
}

Value ForwardBuilder::rope(Value x, int64_t heads, bool inverse) {
  int64_t headDim = config.getHeadDim(), half = headDim / 2;
  // Element i of a head rotates with angle k = i mod d/2.
  AffineExpr angleIndex = (dim(1) % headDim) % half;
  return generic(
      {x, ropeCos, ropeSin}, empty({rows, heads * headDim}),
      {map(2, {dim(0), dim(1)}), map(2, {dim(0), angleIndex}),
       map(2, {dim(0), angleIndex}), map(2, {dim(0), dim(1)})},
      {kPar, kPar}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value row = linalg::IndexOp::create(nb, l, 0);
        Value col = linalg::IndexOp::create(nb, l, 1);
        Value hd = arith::ConstantIndexOp::create(nb, l, headDim);
        Value halfIdx = arith::ConstantIndexOp::create(nb, l, half);
        Value i = arith::RemUIOp::create(nb, l, col, hd);
        Value low =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, i, halfIdx);
        // rotate_half pairs element i with i ± d/2 of the same head.
        Value partner = arith::SelectOp::create(
            nb, l, low, arith::AddIOp::create(nb, l, col, halfIdx),
            arith::SubIOp::create(nb, l, col, halfIdx));
        Value other =
            tensor::ExtractOp::create(nb, l, x, ValueRange{row, partner});
        Value signedOther = arith::SelectOp::create(
            nb, l, low, arith::NegFOp::create(nb, l, other), other);
        Value sin =
            inverse ? Value(arith::NegFOp::create(nb, l, args[2])) : args[2];
        return arith::AddFOp::create(
            nb, l, arith::MulFOp::create(nb, l, args[0], args[1]),
            arith::MulFOp::create(nb, l, signedOther, sin));
      });
}

Value ForwardBuilder::attention(Value q, Value k, Value v) {
  auto type = cast<RankedTensorType>(q.getType());
  return growk::AttentionOp::create(b, loc, TypeRange{type}, q, k, v,
                                    empty(type.getShape()), config.getHeads(),
                                    config.getKvHeads(), seq, keyBlock)
      .getResult()[0];
}

Value ForwardBuilder::swiglu(Value gate, Value up) {
  auto type = cast<RankedTensorType>(gate.getType());
  AffineMap id = map(2, {dim(0), dim(1)});
  return generic(
      {gate, up}, empty(type.getShape()), {id, id, id}, {kPar, kPar},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        // silu(g) = g / (1 + e^-g)
        Value one = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1));
        Value denom = arith::AddFOp::create(
            nb, l, one,
            math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, args[0])));
        Value silu = arith::DivFOp::create(nb, l, args[0], denom);
        return arith::MulFOp::create(nb, l, silu, args[1]);
      });
}

ForwardBuilder::HeadLoss ForwardBuilder::headCrossEntropy(Value normed,
                                                          Value weight,
                                                          Value targets,
                                                          bool withGrads) {
  auto weightType = cast<RankedTensorType>(weight.getType());
  int64_t vocab = weightType.getDimSize(0), hidden = weightType.getDimSize(1);
  int64_t chunk = vocabChunk;
  if (chunk == 0 && rows * vocab * 4 <= kWholeLogitBytes) {
    chunk = vocab;
  } else if (chunk == 0) {
    // The most rows whose logits fit the budget, a multiple of 64 when
    // there are that many (GEMM-friendly chunk widths).
    chunk = std::max<int64_t>(1, kChunkLogitBytes / (rows * 4));
    if (chunk >= 64)
      chunk = chunk / 64 * 64;
  }
  chunk = std::min(chunk, vocab);
  int64_t numChunks = llvm::divideCeil(vocab, chunk);
  auto chunkSize = [&](int64_t c) {
    return std::min(chunk, vocab - c * chunk);
  };
  // Rows [c·C, c·C + size) of a [V, D] matrix: contiguous, so the plan
  // addresses them as their buffer plus an offset (a GEMM operand or
  // output; growc-form-kernels keeps such slices on the host).
  auto chunkWindow = [&](int64_t c) {
    return std::make_tuple(
        SmallVector<OpFoldResult>{b.getIndexAttr(c * chunk), b.getIndexAttr(0)},
        SmallVector<OpFoldResult>{b.getIndexAttr(chunkSize(c)),
                                  b.getIndexAttr(hidden)},
        SmallVector<OpFoldResult>(2, b.getIndexAttr(1)));
  };
  auto weightRows = [&](int64_t c) -> Value {
    if (numChunks == 1)
      return weight;
    auto [offsets, sizes, strides] = chunkWindow(c);
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({chunkSize(c), hidden}, f32), weight,
        offsets, sizes, strides);
  };
  AffineMap id = map(2, {dim(0), dim(1)}), row = map(2, {dim(0)}),
            scalar = map(2, {b.getAffineConstantExpr(0)});
  AffineMap row1 = map(1, {dim(0)}),
            scalar1 = map(1, {b.getAffineConstantExpr(0)});
  auto f = [](OpBuilder &nb, Location l, double v) -> Value {
    return arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(v));
  };
  auto isScored = [](OpBuilder &nb, Location l, Value target) -> Value {
    Value zero = arith::ConstantOp::create(nb, l, nb.getI32IntegerAttr(0));
    return arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge, target,
                                 zero);
  };
  auto rowWise =
      [&](ValueRange inputs, Type element,
          function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
        SmallVector<AffineMap> maps(inputs.size() + 1, row1);
        return generic(inputs, tensor::EmptyOp::create(b, loc, {rows}, element),
                       maps, {kPar}, body);
      };

  // The number of scored rows, before the first chunk: a reduction over all
  // rows, so a kernel of its own (the chunks' kernels stay row-parallel).
  Value count = ownKernel(
      generic({flatTargets(targets)}, zeros({1}), {row1, scalar1}, {kRed},
              [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                Value one = arith::SelectOp::create(
                    nb, l, isScored(nb, l, args[0]), f(nb, l, 1), f(nb, l, 0));
                return arith::AddFOp::create(nb, l, one, args[1]);
              }));

  // Forward, chunk by chunk: the running row max m and sum of exp(l - m),
  // and the target's logit from the chunk holding it. Each chunk sees the
  // targets shifted by its first column (targets - c·C), so all full chunks
  // are the same kernel.
  Value rowMax, sumExp, picked, logits;
  SmallVector<Value> chunkTargets;
  Value shifted = flatTargets(targets);
  for (int64_t c = 0; c < numChunks; ++c) {
    int64_t size = chunkSize(c);
    chunkTargets.push_back(shifted);
    logits = matmul(normed, weightRows(c));
    Value chunkMax = generic(
        {logits}, fill({rows}, -std::numeric_limits<double>::infinity()),
        {id, row}, {kPar, kRed},
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          return arith::MaximumFOp::create(nb, l, args[0], args[1]);
        });
    Value newMax = chunkMax;
    if (c > 0)
      newMax =
          rowWise({rowMax, chunkMax}, f32,
                  [&](OpBuilder &nb, Location l, ValueRange args) {
                    return arith::MaximumFOp::create(nb, l, args[0], args[1]);
                  });
    Value chunkSum =
        generic({logits, newMax}, zeros({rows}), {id, row, row}, {kPar, kRed},
                [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                  Value e = math::ExpOp::create(
                      nb, l, arith::SubFOp::create(nb, l, args[0], args[1]));
                  return arith::AddFOp::create(nb, l, e, args[2]);
                });
    if (c > 0)
      // Rescale the sum so far to the new max.
      chunkSum = rowWise(
          {sumExp, rowMax, newMax, chunkSum}, f32,
          [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
            Value scale = math::ExpOp::create(
                nb, l, arith::SubFOp::create(nb, l, args[1], args[2]));
            return arith::AddFOp::create(
                nb, l, arith::MulFOp::create(nb, l, args[0], scale), args[3]);
          });
    SmallVector<Value> pickInputs = {shifted};
    if (c > 0)
      pickInputs.push_back(picked);
    Value chunkLogits = logits;
    picked =
        rowWise(pickInputs, f32,
                [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                  Value target = args[0];
                  Value zero32 =
                      arith::ConstantOp::create(nb, l, nb.getI32IntegerAttr(0));
                  Value end = arith::ConstantOp::create(
                      nb, l, nb.getI32IntegerAttr(size));
                  Value inChunk = arith::AndIOp::create(
                      nb, l, isScored(nb, l, target),
                      arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt,
                                            target, end));
                  // Clamped so that a row whose target is elsewhere (or
                  // ignored) still reads inside the chunk.
                  Value column = arith::IndexCastOp::create(
                      nb, l, nb.getIndexType(),
                      arith::SelectOp::create(nb, l, inChunk, target, zero32));
                  Value logit = tensor::ExtractOp::create(
                      nb, l, chunkLogits,
                      ValueRange{linalg::IndexOp::create(nb, l, 0), column});
                  return arith::SelectOp::create(nb, l, inChunk, logit,
                                                 c > 0 ? args[1] : f(nb, l, 0));
                });
    rowMax = newMax;
    sumExp = chunkSum;
    if (c + 1 < numChunks)
      shifted = rowWise(
          {shifted}, b.getI32Type(),
          [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
            return arith::SubIOp::create(
                nb, l, args[0],
                arith::ConstantOp::create(nb, l, nb.getI32IntegerAttr(chunk)));
          });
  }
  Value logSumExp =
      rowWise({rowMax, sumExp}, f32,
              [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                return arith::AddFOp::create(
                    nb, l, args[0], math::LogOp::create(nb, l, args[1]));
              });
  // nll for a scored row, 0 for an ignored one.
  Value nll = rowWise({flatTargets(targets), logSumExp, picked}, f32,
                      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                        return arith::SelectOp::create(
                            nb, l, isScored(nb, l, args[0]),
                            arith::SubFOp::create(nb, l, args[1], args[2]),
                            f(nb, l, 0));
                      });
  // d loss / d logits[n, v] = (softmax[n, v] - [v == target[n]]) / count
  // on scored rows, 0 on ignored ones; for chunk c, v runs over its
  // columns and the target is shifted like the chunk's.
  auto logitGrad = [&](Value chunkLogits, int64_t c) {
    return generic(
        {chunkLogits, logSumExp, chunkTargets[c], flatTargets(targets), count},
        empty({rows, chunkSize(c)}), {id, row, row, row, scalar, id},
        {kPar, kPar}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          Value column = arith::IndexCastOp::create(
              nb, l, nb.getI32Type(), linalg::IndexOp::create(nb, l, 1));
          Value isTarget = arith::CmpIOp::create(
              nb, l, arith::CmpIPredicate::eq, column, args[2]);
          Value prob = math::ExpOp::create(
              nb, l, arith::SubFOp::create(nb, l, args[0], args[1]));
          Value grad = arith::SubFOp::create(
              nb, l, prob,
              arith::SelectOp::create(nb, l, isTarget, f(nb, l, 1),
                                      f(nb, l, 0)));
          Value scoredCount =
              arith::MaximumFOp::create(nb, l, args[4], f(nb, l, 1));
          return arith::SelectOp::create(
              nb, l, isScored(nb, l, args[3]),
              arith::DivFOp::create(nb, l, grad, scoredCount), f(nb, l, 0));
        });
  };
  // The last chunk's logits are still live: its gradient joins the
  // forward's last kernel, and only the other chunks are recomputed.
  Value lastGrad;
  if (withGrads)
    lastGrad = logitGrad(logits, numChunks - 1);
  HeadLoss result;
  result.loss = ownKernel(generic(
      {nll, count}, zeros({1}), {row1, scalar1, scalar1}, {kRed},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value scoredCount =
            arith::MaximumFOp::create(nb, l, args[1], f(nb, l, 1));
        return arith::AddFOp::create(
            nb, l, arith::DivFOp::create(nb, l, args[0], scoredCount), args[2]);
      }));
  if (!withGrads)
    return result;

  // Backward, last chunk first: dnormed = Σ_c dlogits_c · W_c accumulates
  // in place (GEMMs with beta = 1), and dlogits_cᵀ · normed is written
  // straight into rows [c·C, c·C + size) of the weight gradient.
  Value dweight;
  if (numChunks > 1)
    dweight = empty({vocab, hidden});
  for (int64_t c = numChunks - 1; c >= 0; --c) {
    Value rowsOfWeight = weightRows(c);
    Value dlogits = lastGrad;
    if (c != numChunks - 1)
      dlogits = logitGrad(matmul(normed, rowsOfWeight), c);
    Value chunkGrad = matmulWeightGrad(dlogits, normed);
    if (numChunks == 1) {
      dweight = chunkGrad;
    } else {
      auto [offsets, sizes, strides] = chunkWindow(c);
      dweight = tensor::InsertSliceOp::create(b, loc, chunkGrad, dweight,
                                              offsets, sizes, strides);
    }
    result.dnormed = matmulInputGrad(dlogits, rowsOfWeight, result.dnormed);
  }
  result.dweight = dweight;
  return result;
}

Value ForwardBuilder::matmulInputGrad(Value dy, Value weight, Value acc) {
  auto dyType = cast<RankedTensorType>(dy.getType());
  auto wType = cast<RankedTensorType>(weight.getType());
  auto type =
      RankedTensorType::get({dyType.getDimSize(0), wType.getDimSize(1)}, f32);
  return growk::MatmulOp::create(b, loc, type, dy, weight, acc,
                                 /*transposeLhs=*/false,
                                 /*transposeRhs=*/false);
}

Value ForwardBuilder::matmulWeightGrad(Value dy, Value x) {
  auto dyType = cast<RankedTensorType>(dy.getType());
  auto xType = cast<RankedTensorType>(x.getType());
  auto type =
      RankedTensorType::get({dyType.getDimSize(1), xType.getDimSize(1)}, f32);
  return growk::MatmulOp::create(b, loc, type, dy, x, Value(),
                                 /*transposeLhs=*/true,
                                 /*transposeRhs=*/false);
}

std::pair<Value, Value> ForwardBuilder::rmsNormGrad(Value x, Value weight,
                                                    double scale, Value dy) {
  // y = s·w·x·r, r = (mean x² + eps)^-1/2; with g = s·w·dy:
  // dx = r·g - x·r³·(g·x)/D, dw = Σ_rows s·dy·x·r.
  int64_t hidden = config.getHidden();
  double eps = config.getEps().convertToDouble();
  AffineMap id = map(2, {dim(0), dim(1)}), row = map(2, {dim(0)}),
            col = map(2, {dim(1)});
  Value sumSq = generic(
      {x}, zeros({rows}), {id, row}, {kPar, kRed},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return arith::AddFOp::create(
            nb, l, arith::MulFOp::create(nb, l, args[0], args[0]), args[1]);
      });
  Value inverseRms = generic(
      {sumSq}, empty({rows}), {map(1, {dim(0)}), map(1, {dim(0)})}, {kPar},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value mean = arith::DivFOp::create(
            nb, l, args[0],
            arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(hidden)));
        Value rms = math::SqrtOp::create(
            nb, l,
            arith::AddFOp::create(
                nb, l, mean,
                arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(eps))));
        return arith::DivFOp::create(
            nb, l, arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1)),
            rms);
      });
  auto scaled = [&](OpBuilder &nb, Location l, Value v) -> Value {
    if (scale == 1.0)
      return v;
    return arith::MulFOp::create(
        nb, l, v, arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(scale)));
  };
  Value gDotX = generic(
      {dy, weight, x}, zeros({rows}), {id, col, id, row}, {kPar, kRed},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value g = scaled(nb, l, arith::MulFOp::create(nb, l, args[0], args[1]));
        return arith::AddFOp::create(
            nb, l, arith::MulFOp::create(nb, l, g, args[2]), args[3]);
      });
  Value dx = generic(
      {dy, weight, x, inverseRms, gDotX}, empty({rows, hidden}),
      {id, col, id, row, row, id}, {kPar, kPar},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value g = scaled(nb, l, arith::MulFOp::create(nb, l, args[0], args[1]));
        Value r = args[3];
        Value r3 =
            arith::MulFOp::create(nb, l, r, arith::MulFOp::create(nb, l, r, r));
        Value correction = arith::DivFOp::create(
            nb, l,
            arith::MulFOp::create(
                nb, l, arith::MulFOp::create(nb, l, args[2], r3), args[4]),
            arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(hidden)));
        return arith::SubFOp::create(nb, l, arith::MulFOp::create(nb, l, r, g),
                                     correction);
      });
  // dims (n, d): the weight gradient sums over rows, rows outside so the
  // inner loop runs along contiguous rows of dy and x (with the columns
  // outside, every step of a column's sum was a cache line of its own).
  AffineMap rows = map(2, {dim(0), dim(1)});
  // A reduction over all rows: a kernel of its own, so that the rows of the
  // kernel computing dx stay independent (one block per row).
  Value dw = ownKernel(generic(
      {dy, x, inverseRms}, zeros({hidden}),
      {rows, rows, map(2, {dim(0)}), map(2, {dim(1)})}, {kRed, kPar},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value v =
            scaled(nb, l,
                   arith::MulFOp::create(
                       nb, l, arith::MulFOp::create(nb, l, args[0], args[1]),
                       args[2]));
        return arith::AddFOp::create(nb, l, v, args[3]);
      }));
  return {dx, dw};
}

Value ForwardBuilder::ropeGrad(Value dy, int64_t heads) {
  return rope(dy, heads, /*inverse=*/true);
}

std::pair<Value, Value> ForwardBuilder::swigluGrad(Value gate, Value up,
                                                   Value dout) {
  auto type = cast<RankedTensorType>(gate.getType());
  AffineMap id = map(2, {dim(0), dim(1)});
  auto sigmoid = [](OpBuilder &nb, Location l, Value g) -> Value {
    Value one = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1));
    return arith::DivFOp::create(
        nb, l, one,
        arith::AddFOp::create(
            nb, l, one,
            math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, g))));
  };
  Value dgate = generic(
      {gate, up, dout}, empty(type.getShape()), {id, id, id, id}, {kPar, kPar},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        // silu'(g) = σ(g)·(1 + g·(1 - σ(g)))
        Value s = sigmoid(nb, l, args[0]);
        Value one = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1));
        Value derivative = arith::MulFOp::create(
            nb, l, s,
            arith::AddFOp::create(
                nb, l, one,
                arith::MulFOp::create(nb, l, args[0],
                                      arith::SubFOp::create(nb, l, one, s))));
        return arith::MulFOp::create(
            nb, l, arith::MulFOp::create(nb, l, args[2], args[1]), derivative);
      });
  Value dup =
      generic({gate, dout}, empty(type.getShape()), {id, id, id}, {kPar, kPar},
              [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                Value silu = arith::MulFOp::create(nb, l, args[0],
                                                   sigmoid(nb, l, args[0]));
                return arith::MulFOp::create(nb, l, args[1], silu);
              });
  return {dgate, dup};
}

std::tuple<Value, Value, Value>
ForwardBuilder::attentionGrad(Value q, Value k, Value v, Value o, Value dout) {
  auto qType = cast<RankedTensorType>(q.getType());
  auto kvType = cast<RankedTensorType>(k.getType());
  auto grad = growk::AttentionGradOp::create(
      b, loc, TypeRange{qType, kvType, kvType}, q, k, v, o, dout,
      empty(qType.getShape()), empty(kvType.getShape()),
      empty(kvType.getShape()), config.getHeads(), config.getKvHeads(), seq,
      keyBlock);
  return {grad.getResult(0), grad.getResult(1), grad.getResult(2)};
}

Value ForwardBuilder::embedGrad(Value tokens, Value dEmbedded, int64_t vocab) {
  int64_t hidden = config.getHidden();
  // A scatter-add: table row v sums the rows n of dEmbedded whose token is
  // v. One block per range of vocabulary rows walks the token list in order
  // and adds the rows that fall in its range: every table row has a single
  // writer (no races; on the GPU no float atomics), its sum is in token
  // order on every target and thread count, and the blocks are shared out
  // like any kernel's. Each block reads all B·T tokens, O(ranges·B·T),
  // next to the O(B·T·D) adds.
  int64_t ranges = std::min<int64_t>(vocab, kEmbedGradRanges);
  int64_t rangeRows = llvm::divideCeil(vocab, ranges);
  ranges = llvm::divideCeil(vocab, rangeRows);
  auto forall =
      scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
                            ArrayRef<OpFoldResult>{b.getIndexAttr(ranges)},
                            ArrayRef<OpFoldResult>{b.getIndexAttr(1)},
                            ValueRange{empty({vocab, hidden})}, std::nullopt);
  forall->setAttr("growc.own_kernel", b.getUnitAttr());
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  Value first = arith::MulIOp::create(b, loc, forall.getInductionVar(0),
                                      index(rangeRows));
  // The last range may be shorter.
  Value size = arith::MinUIOp::create(
      b, loc, index(rangeRows),
      arith::SubIOp::create(b, loc, index(vocab), first));
  auto unit = [&]() { return SmallVector<OpFoldResult>(2, b.getIndexAttr(1)); };
  auto rangeOf = [&](Value table) -> Value {
    return tensor::ExtractSliceOp::create(
        b, loc, table, ArrayRef<OpFoldResult>{first, b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{size, b.getIndexAttr(hidden)}, unit());
  };
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, tokens, ArrayRef<ReassociationIndices>{{0, 1}});
  auto rowType = RankedTensorType::get({1, hidden}, f32);
  // The block zeroes its own rows (a fill of the whole table before the
  // loop would be work outside the blocks), one [1, D] row at a time so
  // that every shape in the block is static.
  auto zeroed = scf::ForOp::create(
      b, loc, index(0), size, index(1),
      ValueRange{rangeOf(forall.getRegionIterArgs()[0])},
      [&](OpBuilder &lb, Location l, Value j, ValueRange acc) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(lb.getInsertionBlock(), lb.getInsertionPoint());
        SmallVector<OpFoldResult> at = {j, b.getIndexAttr(0)};
        SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1),
                                           b.getIndexAttr(hidden)};
        Value row = tensor::ExtractSliceOp::create(b, l, rowType, acc[0], at,
                                                   sizes, unit());
        Value zero = arith::ConstantOp::create(b, l, b.getF32FloatAttr(0));
        Value cleared =
            linalg::FillOp::create(b, l, ValueRange{zero}, ValueRange{row})
                .getResult(0);
        scf::YieldOp::create(b, l,
                             ValueRange{tensor::InsertSliceOp::create(
                                 b, l, cleared, acc[0], at, sizes, unit())});
      });
  auto loop = scf::ForOp::create(
      b, loc, index(0), index(rows), index(1), zeroed.getResults(),
      [&](OpBuilder &lb, Location l, Value n, ValueRange acc) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(lb.getInsertionBlock(), lb.getInsertionPoint());
        Value token = arith::IndexCastOp::create(
            b, l, b.getIndexType(),
            tensor::ExtractOp::create(b, l, flat, ValueRange{n}));
        Value local = arith::SubIOp::create(b, l, token, first);
        // token - first < size, unsigned: also false below the range.
        Value inRange =
            arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult, local, size);
        auto branch = scf::IfOp::create(b, l, TypeRange{acc[0].getType()},
                                        inRange, /*withElseRegion=*/true);
        b.setInsertionPointToStart(branch.thenBlock());
        auto rowAt = [&](Value at) {
          return std::make_tuple(
              SmallVector<OpFoldResult>{at, b.getIndexAttr(0)},
              SmallVector<OpFoldResult>{b.getIndexAttr(1),
                                        b.getIndexAttr(hidden)},
              unit());
        };
        auto [tableAt, rowSizes, strides] = rowAt(local);
        Value current = tensor::ExtractSliceOp::create(
            b, l, rowType, acc[0], tableAt, rowSizes, strides);
        auto [inputAt, inputSizes, inputStrides] = rowAt(n);
        Value row = tensor::ExtractSliceOp::create(
            b, l, rowType, dEmbedded, inputAt, inputSizes, inputStrides);
        AffineMap id = map(2, {dim(0), dim(1)});
        Value sum =
            generic({row}, current, {id, id}, {kPar, kPar},
                    [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
                      return arith::AddFOp::create(nb, nl, args[0], args[1]);
                    });
        scf::YieldOp::create(
            b, l,
            ValueRange{tensor::InsertSliceOp::create(b, l, sum, acc[0], tableAt,
                                                     rowSizes, strides)});
        b.setInsertionPointToStart(branch.elseBlock());
        scf::YieldOp::create(b, l, acc[0]);
        b.setInsertionPointAfter(branch);
        scf::YieldOp::create(b, l, branch.getResults());
      });
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(
      b, loc, loop.getResult(0), forall.getRegionIterArgs()[0],
      ArrayRef<OpFoldResult>{first, b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{size, b.getIndexAttr(hidden)}, unit());
  return forall.getResult(0);
}

Value ForwardBuilder::clipCoefficient(ArrayRef<Value> grads, double maxNorm) {
  // Σ g² per parameter, each a kernel of its own that depends only on the
  // parameter's shape (the layers share it, and a deeper model, a growth
  // stage, needs no new kernel), then added into a [1] running total by a
  // shape-independent kernel. One fused reduction over every gradient
  // would take all of them as arguments and differ at every depth; one
  // running total through all the elements would lose precision.
  AffineMap one = map(1, {dim(0)});
  Value total;
  for (Value grad : grads) {
    auto type = cast<RankedTensorType>(grad.getType());
    unsigned rank = type.getRank();
    SmallVector<AffineExpr> all;
    for (unsigned d = 0; d < rank; ++d)
      all.push_back(dim(d));
    Value sumSq = ownKernel(generic(
        {grad}, zeros({1}),
        {map(rank, all), map(rank, {b.getAffineConstantExpr(0)})},
        SmallVector<IteratorType>(rank, kRed),
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          return arith::AddFOp::create(
              nb, l, arith::MulFOp::create(nb, l, args[0], args[0]), args[1]);
        }));
    if (!total) {
      total = sumSq;
      continue;
    }
    total = ownKernel(
        generic({total, sumSq}, empty({1}), {one, one, one}, {kPar},
                [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                  return arith::AddFOp::create(nb, l, args[0], args[1]);
                }));
  }
  return generic(
      {total}, empty({1}), {one, one}, {kPar},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value norm = math::SqrtOp::create(nb, l, args[0]);
        Value ratio = arith::DivFOp::create(
            nb, l,
            arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(maxNorm)),
            arith::AddFOp::create(
                nb, l, norm,
                arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1e-6))));
        return arith::MinimumFOp::create(
            nb, l, ratio,
            arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1)));
      });
}

std::tuple<Value, Value, Value> ForwardBuilder::adamW(Value param, Value avg,
                                                      Value avgSq, Value grad,
                                                      Value coef, Value lr,
                                                      Value step, Value apply) {
  auto type = cast<RankedTensorType>(param.getType());
  unsigned rank = type.getRank();
  SmallVector<AffineExpr> all;
  for (unsigned d = 0; d < rank; ++d)
    all.push_back(dim(d));
  AffineMap id = map(rank, all);
  AffineMap scalar = map(rank, {b.getAffineConstantExpr(0)});
  auto f = [](OpBuilder &nb, Location l, double v) -> Value {
    return arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(v));
  };
  // m' = β1 m + (1 - β1) g and v' = β2 v + (1 - β2) g², g clipped.
  // Without accumulation every step applies; with it, the flag is an extra
  // scalar operand and the body keeps the old value on non-final
  // micro-batches.
  auto applied = [&](OpBuilder &nb, Location l, Value updated, Value old,
                     ValueRange args) -> Value {
    if (!apply)
      return updated;
    Value on = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT,
                                     args.back(), f(nb, l, 0.5));
    return arith::SelectOp::create(nb, l, on, updated, old);
  };
  auto withApply = [&](SmallVector<Value> operands,
                       SmallVector<AffineMap> maps) {
    if (apply) {
      operands.push_back(apply);
      maps.insert(maps.end() - 1, scalar);
    }
    return std::make_pair(operands, maps);
  };
  auto moment = [&](Value old, double beta, bool squared) {
    auto [operands, maps] = withApply({old, grad, coef}, {id, id, scalar, id});
    return generic(operands, empty(type.getShape()), maps,
                   SmallVector<IteratorType>(rank, kPar),
                   [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                     Value g = arith::MulFOp::create(nb, l, args[1], args[2]);
                     if (squared)
                       g = arith::MulFOp::create(nb, l, g, g);
                     Value updated = arith::AddFOp::create(
                         nb, l,
                         arith::MulFOp::create(nb, l, args[0], f(nb, l, beta)),
                         arith::MulFOp::create(nb, l, g, f(nb, l, 1 - beta)));
                     return applied(nb, l, updated, args[0], args.drop_back());
                   });
  };
  Value avgNew = moment(avg, kAdamBeta1, false);
  Value avgSqNew = moment(avgSq, kAdamBeta2, true);
  ownKernel(avgNew);
  ownKernel(avgSqNew);
  auto [paramOperands, paramMaps] = withApply(
      {param, avgNew, avgSqNew, lr, step}, {id, id, id, scalar, scalar, id});
  Value paramNew = generic(
      paramOperands, empty(type.getShape()), paramMaps,
      SmallVector<IteratorType>(rank, kPar),
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value one = f(nb, l, 1);
        Value lrValue = args[3];
        // 1 - β^step, with β^step = exp(step · ln β).
        auto correction = [&](double beta) -> Value {
          return arith::SubFOp::create(
              nb, l, one,
              math::ExpOp::create(
                  nb, l,
                  arith::MulFOp::create(nb, l, args[4],
                                        f(nb, l, std::log(beta)))));
        };
        Value decayed = arith::MulFOp::create(
            nb, l, args[0],
            arith::SubFOp::create(
                nb, l, one,
                arith::MulFOp::create(nb, l, lrValue,
                                      f(nb, l, kAdamWeightDecay))));
        Value stepSize =
            arith::DivFOp::create(nb, l, lrValue, correction(kAdamBeta1));
        Value denom = arith::AddFOp::create(
            nb, l,
            arith::DivFOp::create(
                nb, l, math::SqrtOp::create(nb, l, args[2]),
                math::SqrtOp::create(nb, l, correction(kAdamBeta2))),
            f(nb, l, kAdamEps));
        Value updated = arith::SubFOp::create(
            nb, l, decayed,
            arith::MulFOp::create(
                nb, l, stepSize, arith::DivFOp::create(nb, l, args[1], denom)));
        return applied(nb, l, updated, args[0], args.drop_back());
      });
  ownKernel(paramNew);
  return {paramNew, avgNew, avgSqNew};
}

std::pair<Value, Value> ForwardBuilder::accumulateGrad(Value sum, Value grad,
                                                       int64_t microBatches,
                                                       Value apply) {
  auto type = cast<RankedTensorType>(sum.getType());
  unsigned rank = type.getRank();
  SmallVector<AffineExpr> all;
  for (unsigned d = 0; d < rank; ++d)
    all.push_back(dim(d));
  AffineMap id = map(rank, all);
  AffineMap scalar = map(rank, {b.getAffineConstantExpr(0)});
  SmallVector<IteratorType> par(rank, kPar);
  // The mean over micro-batches of their mean losses' gradients.
  Value total = ownKernel(generic(
      {sum, grad}, empty(type.getShape()), {id, id, id}, par,
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value scale = arith::ConstantOp::create(
            nb, l, nb.getF32FloatAttr(1.0 / double(microBatches)));
        return arith::AddFOp::create(
            nb, l, args[0], arith::MulFOp::create(nb, l, args[1], scale));
      }));
  Value carried = ownKernel(generic(
      {total, apply}, empty(type.getShape()), {id, scalar, id}, par,
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value half = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0.5));
        Value zero = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0));
        Value on = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT,
                                         args[1], half);
        return arith::SelectOp::create(nb, l, on, zero, args[0]);
      }));
  return {total, carried};
}

Value ForwardBuilder::add(Value lhs, Value rhs) {
  auto type = cast<RankedTensorType>(lhs.getType());
  AffineMap id = map(2, {dim(0), dim(1)});
  return generic({lhs, rhs}, empty(type.getShape()), {id, id, id}, {kPar, kPar},
                 [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                   return arith::AddFOp::create(nb, l, args[0], args[1]);
                 });
}

Value ForwardBuilder::maskPositions(Value ifSkipped, Value otherwise,
                                    int64_t until) {
  if (until < 0)
    return ifSkipped;
  auto type = cast<RankedTensorType>(otherwise.getType());
  AffineMap id = map(2, {dim(0), dim(1)});
  return generic(
      {ifSkipped, otherwise}, empty(type.getShape()), {id, id, id},
      {kPar, kPar}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value pos = positionOf(nb, l, linalg::IndexOp::create(nb, l, 0));
        Value skipped =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, pos,
                                  arith::ConstantIndexOp::create(nb, l, until));
        return arith::SelectOp::create(nb, l, skipped, args[0], args[1]);
      });
}

Value ForwardBuilder::unflatten(Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  auto out = RankedTensorType::get({batch, seq, type.getDimSize(1)}, f32);
  return tensor::ExpandShapeOp::create(
      b, loc, out, x, ArrayRef<ReassociationIndices>{{0, 1}, {2}});
}

/// The lowering's side of reverse mode (dialects/Grow/Vjp.h): the forward's
/// tensors and tape, the cotangents gathered so far, and ForwardBuilder's
/// tensor-level VJP rules.
class LoweringVjpContext : public grow::VjpContext {
public:
  LoweringVjpContext(ForwardBuilder &fb, const DenseMap<Value, Value> &lowered,
                     const DenseMap<Operation *, SmallVector<Value>> &tape,
                     const llvm::StringMap<Value> &params, Value tokens,
                     Value targets, Value lossLogits)
      : fb(fb), lowered(lowered), tape(tape), params(params),
        tokenInput(tokens), targetInput(targets), lossLogits(lossLogits) {}

  Value forward(Value modelValue) override {
    return lowered.lookup(modelValue);
  }
  ArrayRef<Value> saved(Operation *op) override {
    auto it = tape.find(op);
    return it == tape.end() ? ArrayRef<Value>() : ArrayRef<Value>(it->second);
  }
  Value param(StringRef name) override { return params.lookup(name); }
  Value tokens() override { return tokenInput; }
  Value targets() override { return targetInput; }

  void addCotangent(Value modelValue, Value cotangent) override {
    Value &slot = cotangents[modelValue];
    slot = slot ? fb.add(slot, cotangent) : cotangent;
  }
  void addParamGrad(StringRef name, Value grad) override {
    Value &slot = grads[name];
    slot = slot ? fb.add(slot, grad) : grad;
  }
  void setLoss(Value value) override { loss = value; }
  bool isLossLogits(Value modelValue) override {
    return modelValue == lossLogits;
  }

  Value add(Value lhs, Value rhs) override { return fb.add(lhs, rhs); }
  Value matmulInputGrad(Value dy, Value weight) override {
    return fb.matmulInputGrad(dy, weight);
  }
  Value matmulWeightGrad(Value dy, Value x) override {
    return fb.matmulWeightGrad(dy, x);
  }
  std::pair<Value, Value> rmsNormGrad(Value x, Value weight, double scale,
                                      Value dy) override {
    return fb.rmsNormGrad(x, weight, scale, dy);
  }
  Value ropeGrad(Value dy, int64_t heads) override {
    return fb.ropeGrad(dy, heads);
  }
  std::pair<Value, Value> swigluGrad(Value gate, Value up, Value dy) override {
    return fb.swigluGrad(gate, up, dy);
  }
  std::tuple<Value, Value, Value> attentionGrad(Value q, Value k, Value v,
                                                Value o, Value dout) override {
    return fb.attentionGrad(q, k, v, o, dout);
  }
  Value embedGrad(Value tokens, Value dy) override {
    return fb.embedGrad(tokens, dy, fb.vocabSize());
  }
  std::tuple<Value, Value, Value> crossEntropyGrad(Value normed, Value weight,
                                                   Value targets) override {
    ForwardBuilder::HeadLoss head =
        fb.headCrossEntropy(normed, weight, targets, /*withGrads=*/true);
    return {head.loss, head.dnormed, head.dweight};
  }

  /// The cotangent reaching a model value so far (null if none).
  Value cotangentOf(Value modelValue) const {
    return cotangents.lookup(modelValue);
  }

  llvm::StringMap<Value> grads;
  Value loss;

private:
  ForwardBuilder &fb;
  const DenseMap<Value, Value> &lowered;
  const DenseMap<Operation *, SmallVector<Value>> &tape;
  const llvm::StringMap<Value> &params;
  Value tokenInput, targetInput, lossLogits;
  DenseMap<Value, Value> cotangents;
};

struct LowerModelToTensorsPass
    : growc::impl::LowerModelToTensorsBase<LowerModelToTensorsPass> {
  using LowerModelToTensorsBase::LowerModelToTensorsBase;

  LogicalResult lower(ModelOp model);

  void runOnOperation() override {
    if (graph != "forward" && graph != "loss" && graph != "grad" &&
        graph != "train") {
      getOperation().emitError("growc-lower-model-to-tensors: graph must be "
                               "forward, loss, grad or train, got '")
          << graph << "'";
      return signalPassFailure();
    }
    if (batch < 1 || seq < 1 || keyBlock < 1) {
      getOperation().emitError("growc-lower-model-to-tensors: batch, seq and "
                               "key-block must be positive");
      return signalPassFailure();
    }
    if (vocabChunk < 0) {
      getOperation().emitError("growc-lower-model-to-tensors: vocab-chunk "
                               "must be non-negative (0: automatic)");
      return signalPassFailure();
    }
    for (ModelOp model : llvm::to_vector(getOperation().getOps<ModelOp>()))
      if (failed(lower(model)))
        return signalPassFailure();
  }
};

LogicalResult LowerModelToTensorsPass::lower(ModelOp model) {
  ConfigAttr config = model.getConfig();
  if (seq > config.getContextLength())
    return model.emitOpError("compiled sequence length ")
           << int64_t(seq) << " exceeds the model's context "
           << config.getContextLength();
  SmallVector<ParamOp> params = model.getParams();
  bool trainGraph = graph == "train";
  bool gradGraph = graph == "grad" || trainGraph;
  bool lossGraph = graph == "loss" || gradGraph; // all read targets
  auto tokenType =
      RankedTensorType::get({batch, seq}, IntegerType::get(&getContext(), 32));
  auto scalarType = RankedTensorType::get({1}, Float32Type::get(&getContext()));
  SmallVector<Type> inputTypes = {tokenType};
  if (lossGraph)
    inputTypes.push_back(tokenType); // targets
  bool accumulating = trainGraph && accumulate > 1;
  if (accumulate < 1)
    return model.emitOpError("accumulate must be at least 1, got ")
           << int64_t(accumulate);
  if (trainGraph)
    inputTypes.append({scalarType, scalarType}); // lr, step
  if (accumulating)
    inputTypes.push_back(scalarType); // apply
  SmallVector<Attribute> paramNames, paramSources, paramCopies;
  for (ParamOp param : params) {
    paramSources.push_back(param.getSource() ? param.getSourceAttr()
                                             : param.getSymNameAttr());
    paramCopies.push_back(BoolAttr::get(&getContext(), param.getCopy()));
    if (!param.getTensorType().getElementType().isF32())
      return param.emitOpError("lowering needs f32 parameters; '")
             << param.getSymName() << "' is "
             << param.getTensorType().getElementType();
    inputTypes.push_back(param.getTensorType());
    paramNames.push_back(param.getSymNameAttr());
  }
  // The train step also reads the AdamW moments, named as checkpoints name
  // them (docs/checkpoints.md).
  auto momentName = [](StringRef kind, StringRef param) {
    return ("optimizer." + kind + "." + param).str();
  };
  SmallVector<StringRef> stateKinds = {"exp_avg", "exp_avg_sq"};
  if (accumulating)
    stateKinds.push_back("grad_sum");
  if (trainGraph)
    for (StringRef kind : stateKinds)
      for (ParamOp param : params) {
        std::string name = momentName(kind, param.getSymName());
        inputTypes.push_back(param.getTensorType());
        paramNames.push_back(StringAttr::get(&getContext(), name));
        paramSources.push_back(StringAttr::get(&getContext(), name));
        paramCopies.push_back(BoolAttr::get(&getContext(), false));
      }
  ReturnOp ret = model.getReturn();
  SmallVector<Type> outputTypes;
  SmallVector<std::string> outputNames;
  if (lossGraph) {
    if (ret.getNames().empty() ||
        cast<StringAttr>(ret.getNames()[0]).getValue() != "logits")
      return ret.emitOpError("a loss graph needs 'logits' as the first "
                             "output");
    if (gradGraph && ret.getOutputs().size() != 1)
      return ret.emitOpError("the grad graph differentiates a plain model "
                             "whose only output is 'logits'; analysis "
                             "outputs are not differentiated");
    outputTypes.push_back(
        RankedTensorType::get({1}, Float32Type::get(&getContext())));
    outputNames.push_back("loss");
    if (trainGraph) {
      // The updated checkpoint: weights, then both moments.
      SmallVector<StringRef> kinds = {"", "exp_avg", "exp_avg_sq"};
      if (accumulating)
        kinds.push_back("grad_sum");
      for (StringRef kind : kinds)
        for (ParamOp param : params) {
          outputTypes.push_back(param.getTensorType());
          outputNames.push_back(kind.empty()
                                    ? param.getSymName().str()
                                    : momentName(kind, param.getSymName()));
        }
    } else if (gradGraph) {
      for (ParamOp param : params) {
        outputTypes.push_back(param.getTensorType());
        outputNames.push_back(("grad." + param.getSymName()).str());
      }
    }
  } else {
    for (Value output : ret.getOutputs())
      outputTypes.push_back(RankedTensorType::get(
          {batch, seq, cast<RankedTensorType>(output.getType()).getDimSize(2)},
          Float32Type::get(&getContext())));
  }

  OpBuilder builder(model);
  Location loc = model.getLoc();
  auto func =
      func::FuncOp::create(builder, loc, model.getSymName(),
                           builder.getFunctionType(inputTypes, outputTypes));
  func->setAttr("growc.param_names", builder.getArrayAttr(paramNames));
  func->setAttr("growc.param_sources", builder.getArrayAttr(paramSources));
  func->setAttr("growc.param_copies", builder.getArrayAttr(paramCopies));
  func->setAttr(
      "growc.output_names",
      lossGraph
          ? builder.getStrArrayAttr(llvm::map_to_vector(
                outputNames, [](const std::string &n) { return StringRef(n); }))
          : ret.getNames());
  func->setAttr("growc.graph", builder.getStringAttr(graph));
  if (accumulating)
    func->setAttr(
        "growc.input_names",
        builder.getStrArrayAttr({"tokens", "targets", "lr", "step", "apply"}));
  else if (trainGraph)
    func->setAttr("growc.input_names",
                  builder.getStrArrayAttr({"tokens", "targets", "lr", "step"}));
  else if (lossGraph)
    func->setAttr("growc.input_names",
                  builder.getStrArrayAttr({"tokens", "targets"}));
  func->setAttr("growc.vocab_size",
                builder.getI64IntegerAttr(config.getVocab()));
  if (accumulating)
    func->setAttr("growc.micro_batches", builder.getI64IntegerAttr(accumulate));
  func->setAttr("growc.batch", builder.getI64IntegerAttr(batch));
  func->setAttr("growc.seq", builder.getI64IntegerAttr(seq));
  Block *entry = func.addEntryBlock();
  builder.setInsertionPointToStart(entry);

  llvm::StringMap<Value> paramValues;
  unsigned numInputs = accumulating ? 5 : trainGraph ? 4 : lossGraph ? 2 : 1;
  for (auto [param, arg] :
       llvm::zip(params, entry->getArguments().drop_front(numInputs)))
    paramValues[param.getSymName()] = arg;
  ForwardBuilder fb(builder, loc, config, batch, seq, keyBlock, vocabChunk);
  DenseMap<Value, Value> lowered; // grow value -> [B·T, F] tensor

  // What the grad graph's VJP rules read, recorded by the forward
  // (grow::LayerTape for a layer).
  DenseMap<Operation *, SmallVector<Value>> tape;
  // The head whose logits the loss scores: lowered with the loss, chunk by
  // chunk, instead of as one [B·T, V] GEMM.
  LMHeadOp lossHead;

  for (Operation &op : model.getBodyBlock()) {
    if (auto embed = dyn_cast<EmbedOp>(op)) {
      lowered[embed.getOutput()] =
          fb.embed(entry->getArgument(0), paramValues[embed.getWeight()]);
      fb.buildRopeTables();
    } else if (auto norm = dyn_cast<RMSNormOp>(op)) {
      lowered[norm.getOutput()] = fb.rmsNorm(lowered[norm.getInput()],
                                             paramValues[norm.getWeight()], 1);
    } else if (auto head = dyn_cast<LMHeadOp>(op)) {
      if (lossGraph && head.getLogits() == ret.getOutputs()[0])
        lossHead = head;
      else
        lowered[head.getLogits()] =
            fb.matmul(lowered[head.getInput()], paramValues[head.getWeight()]);
    } else if (auto layer = dyn_cast<LayerOp>(op)) {
      auto param = [&](StringRef suffix) {
        return paramValues[layer.getParamName(suffix)];
      };
      Value h = lowered[layer.getInput()];
      int64_t hidden = config.getHidden();
      bool skipAll = layer.getSkip() && !layer.getSkipUntil();
      Value out = h, attnOut, mlpOut;
      if (skipAll) {
        // The identity: no computation, zero sublayer contributions.
        attnOut = mlpOut = fb.zeros({batch * seq, hidden});
      } else {
        double scale = layer.getNormScale().convertToDouble();
        Value n1 = fb.rmsNorm(h, param("input_layernorm.weight"), scale);
        // All three projections first, so that RoPE and attention form one
        // run between library calls (one fused kernel).
        Value qRaw = fb.matmul(n1, param("self_attn.q_proj.weight"));
        Value kRaw = fb.matmul(n1, param("self_attn.k_proj.weight"));
        Value v = fb.matmul(n1, param("self_attn.v_proj.weight"));
        Value q = fb.rope(qRaw, config.getHeads());
        Value k = fb.rope(kRaw, config.getKvHeads());
        Value attn = fb.attention(q, k, v);
        // The attention residual goes into the o_proj GEMM as its
        // accumulator (bufferized in place: h dies there), unless the
        // sublayer outputs themselves are needed (analysis outputs, skip
        // masks) or h is used beyond this layer.
        bool foldAttention = !layer.exposesSublayers() && !layer.getSkip() &&
                             layer.getInput().hasOneUse() && !gradGraph;
        Value mid;
        if (foldAttention) {
          mid = fb.matmul(attn, param("self_attn.o_proj.weight"), h);
        } else {
          attnOut = fb.matmul(attn, param("self_attn.o_proj.weight"));
          mid = fb.add(h, attnOut);
        }
        Value n2 =
            fb.rmsNorm(mid, param("post_attention_layernorm.weight"), scale);
        Value gate = fb.matmul(n2, param("mlp.gate_proj.weight"));
        Value up = fb.matmul(n2, param("mlp.up_proj.weight"));
        Value gated = fb.swiglu(gate, up);
        if (gradGraph)
          tape[layer] = {h,    n1,  qRaw, kRaw, v,  q,    k,
                         attn, mid, n2,   gate, up, gated};
        // The MLP residual stays an add, fused into the next RMSNorm
        // kernel where it is nearly free: folding it too would make the
        // whole residual stream one in-place buffer, and one-shot
        // bufferization's conflict analysis is quadratic in such an alias
        // chain (30 layers: 87 ms instead of 15 ms of compile time).
        mlpOut = fb.matmul(gated, param("mlp.down_proj.weight"));
        out = fb.add(mid, mlpOut);
        if (layer.getSkip()) {
          int64_t until = *layer.getSkipUntil();
          Value zero = fb.zeros({batch * seq, hidden});
          out = fb.maskPositions(h, out, until);
          attnOut = fb.maskPositions(zero, attnOut, until);
          mlpOut = fb.maskPositions(zero, mlpOut, until);
        }
      }
      lowered[layer.getOutput()] = out;
      if (layer.exposesSublayers()) {
        lowered[layer.getSublayers()[0]] = attnOut;
        lowered[layer.getSublayers()[1]] = mlpOut;
      }
    } else if (auto ret = dyn_cast<ReturnOp>(op)) {
      SmallVector<Value> results;
      if (gradGraph) {
        // Reverse mode: the model's ops last to first, each differentiated
        // by its VJP rule (grow::VjpOpInterface) from the cotangents of its
        // results; cotangents of a value used twice, and gradients of a
        // parameter used twice (the tied embedding), are summed. The seed
        // is the loss head: its rule computes the mean cross-entropy and
        // its gradient.
        if (!lossHead)
          return model.emitOpError("the grad graph needs an LM head whose "
                                   "logits are the 'logits' output");
        LoweringVjpContext vjp(fb, lowered, tape, paramValues,
                               entry->getArgument(0), entry->getArgument(1),
                               lossHead.getLogits());
        for (Operation &backOp : llvm::reverse(model.getBodyBlock())) {
          if (isa<ReturnOp, ParamOp>(backOp))
            continue;
          SmallVector<Value> cotangents;
          bool reached = false;
          for (Value result : backOp.getResults()) {
            cotangents.push_back(vjp.cotangentOf(result));
            reached |= cotangents.back() || vjp.isLossLogits(result);
          }
          if (!reached)
            continue;
          auto rule = dyn_cast<grow::VjpOpInterface>(backOp);
          if (!rule)
            return backOp.emitOpError("has no VJP rule (grow::VjpOpInterface), "
                                      "so the grad graph cannot differentiate "
                                      "it");
          if (failed(rule.buildVjp(vjp, cotangents)))
            return failure();
        }
        results.push_back(vjp.loss);
        llvm::StringMap<Value> &grads = vjp.grads;
        SmallVector<Value> paramGrads;
        for (ParamOp param : params) {
          Value grad = grads.lookup(param.getSymName());
          if (!grad)
            return param.emitOpError("has no gradient: it is not used by "
                                     "the differentiated forward");
          paramGrads.push_back(grad);
        }
        if (!trainGraph) {
          results.append(paramGrads);
        } else {
          size_t n = params.size();
          Value apply = accumulating ? entry->getArgument(4) : Value();
          // Gradient accumulation: this micro-batch's share joins the
          // running sum, which is what the optimizer sees.
          SmallVector<Value> carriedSums;
          if (accumulating)
            for (size_t i = 0; i < n; ++i) {
              auto [total, carried] =
                  fb.accumulateGrad(entry->getArgument(numInputs + 3 * n + i),
                                    paramGrads[i], accumulate, apply);
              paramGrads[i] = total;
              carriedSums.push_back(carried);
            }
          // Data parallelism: each rank's gradients (with accumulation,
          // the sums, on the applying micro-batch only) become their mean
          // over the ranks before anything reads them: a plan step of its
          // own, a no-op in a one-process run (docs/training.md).
          for (Value &grad : paramGrads)
            grad =
                growk::AllReduceOp::create(builder, loc, grad.getType(), grad,
                                           apply, builder.getStringAttr("mean"))
                    .getResult();
          // Clip by the global norm, then one AdamW step (SPEC.md §3).
          Value coef = fb.clipCoefficient(paramGrads, kMaxGradNorm);
          Value lr = entry->getArgument(2), step = entry->getArgument(3);
          SmallVector<Value> newParams, newAvg, newAvgSq;
          for (auto [i, param] : llvm::enumerate(params)) {
            Value p = paramValues[param.getSymName()];
            Value m = entry->getArgument(numInputs + n + i);
            Value v = entry->getArgument(numInputs + 2 * n + i);
            auto [p2, m2, v2] =
                fb.adamW(p, m, v, paramGrads[i], coef, lr, step, apply);
            newParams.push_back(p2);
            newAvg.push_back(m2);
            newAvgSq.push_back(v2);
          }
          results.append(newParams);
          results.append(newAvg);
          results.append(newAvgSq);
          results.append(carriedSums);
        }
      } else if (lossGraph) {
        if (!lossHead)
          return ret.emitOpError("a loss graph scores the logits of an LM "
                                 "head");
        results.push_back(fb.headCrossEntropy(lowered[lossHead.getInput()],
                                              paramValues[lossHead.getWeight()],
                                              entry->getArgument(1),
                                              /*withGrads=*/false)
                              .loss);
      } else {
        for (Value output : ret.getOutputs())
          results.push_back(fb.unflatten(lowered[output]));
      }
      func::ReturnOp::create(builder, loc, results);
    }
  }
  model.erase();
  return success();
}

} // namespace
