//===- AttentionToGemms.cpp - attention as GEMMs and row kernels ----------===//
//
// The GPU's second form of attention (growc --gpu-attention=gemm): its
// products on the tensor cores, through the same library GEMMs as the rest
// of the model, at the price of materialising the scores. Each
// growk.attention becomes
//
//   q, k, v   -> head-major [B·H·T, hd] / [B·KVH·T, hd]   (own kernels)
//   S = Q·Kᵀ                  one GEMM per (sample, KV head): the group's G
//                             query heads are G·T consecutive rows
//   P = causal softmax(S·scale)                           (a row kernel)
//   O = P·V                   one GEMM per (sample, KV head)
//   O -> [B·T, H·hd]                                      (own kernel)
//
// and each growk.attention_grad recomputes S and P the same way (nothing
// T×T is kept between forward and backward), then
//
//   dP = dO·Vᵀ, D = rowsum(dO∘O), dS = P∘(dP − D)·scale   (a row kernel)
//   dV = Pᵀ·dO, dQ = dS·K, dK = dSᵀ·Q   per (sample, KV head); the GEMMs
//                             of dK and dV sum the group's heads in their
//                             reduction over G·T rows.
//
// The causal half of S is computed and thrown away: the GEMMs cost twice
// the flash form's products but run on tensor cores, and the T×T tensors
// cost memory traffic (docs/gpu.md weighs the two). Runs before kernel
// formation, on the tensor-level host function.
//
//===----------------------------------------------------------------------===//

#include "passes/Lowering/Passes.h"
#include "passes/Lowering/TensorBuilder.h"

#include "growc/AttrNames.h"

#include <cmath>
#include <limits>

namespace growc {
#define GEN_PASS_DEF_ATTENTIONTOGEMMS
#include "passes/Lowering/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;

namespace {

class AttentionGemms : TensorBuilder {
public:
  template <typename AttentionLikeOp>
  AttentionGemms(OpBuilder &builder, AttentionLikeOp op)
      : TensorBuilder(builder, op.getLoc()), seq(op.getSeqLen()),
        batch(cast<ShapedType>(op.getQ().getType()).getDimSize(0) / seq),
        heads(op.getHeads()), kvHeads(op.getKvHeads()),
        headDim(op.getHeadDim()), group(heads / kvHeads),
        rows(batch * heads * seq), kvRows(batch * kvHeads * seq),
        scale(1.0 / std::sqrt(double(headDim))) {}

  Value forward(Value q, Value k, Value v) {
    Value qh = toHeadMajor(q, heads), kh = toHeadMajor(k, kvHeads),
          vh = toHeadMajor(v, kvHeads);
    Value p = softmax(scores(qh, kh));
    // O = P·V: [G·T, T] · [T, hd] per block.
    Value oh = blockGemms(p, {group * seq, seq}, vh, {seq, headDim}, false,
                          false, {group * seq, headDim});
    return fromHeadMajor(oh, heads);
  }

  std::tuple<Value, Value, Value> backward(Value q, Value k, Value v, Value o,
                                           Value dout) {
    Value qh = toHeadMajor(q, heads), kh = toHeadMajor(k, kvHeads),
          vh = toHeadMajor(v, kvHeads), oh = toHeadMajor(o, heads),
          dh = toHeadMajor(dout, heads);
    Value s = scores(qh, kh);
    // dP = dO·Vᵀ: [G·T, hd] · [T, hd]ᵀ.
    Value dp = blockGemms(dh, {group * seq, headDim}, vh, {seq, headDim}, false,
                          true, {group * seq, seq});
    // The row kernel between these GEMMs and the next: P again, D and dS.
    Value p = softmax(s);
    Value d = rowDot(dh, oh);
    Value ds = scoreGradient(p, dp, d);
    // dV = Pᵀ·dO: [G·T, T]ᵀ · [G·T, hd] -> [T, hd], summed over the group.
    Value dvh = blockGemms(p, {group * seq, seq}, dh, {group * seq, headDim},
                           true, false, {seq, headDim});
    // dQ = dS·K: [G·T, T] · [T, hd].
    Value dqh = blockGemms(ds, {group * seq, seq}, kh, {seq, headDim}, false,
                           false, {group * seq, headDim});
    // dK = dSᵀ·Q: [G·T, T]ᵀ · [G·T, hd] -> [T, hd].
    Value dkh = blockGemms(ds, {group * seq, seq}, qh, {group * seq, headDim},
                           true, false, {seq, headDim});
    return {fromHeadMajor(dqh, heads), fromHeadMajor(dkh, kvHeads),
            fromHeadMajor(dvh, kvHeads)};
  }

private:
  /// S = Q·Kᵀ: [G·T, hd] · [T, hd]ᵀ per block.
  Value scores(Value qh, Value kh) {
    return blockGemms(qh, {group * seq, headDim}, kh, {seq, headDim}, false,
                      true, {group * seq, seq});
  }

  /// One GEMM per (sample, KV head) block: block i of `lhs` (rows
  /// [i·lhsBlock[0], ...) of a [blocks·lhsBlock[0], lhsBlock[1]] tensor)
  /// times block i of `rhs`, with the transposes growk.matmul takes,
  /// written into block i of the result. The slices are views of whole
  /// buffers (the plan's GEMM offsets); nothing is copied.
  Value blockGemms(Value lhs, std::array<int64_t, 2> lhsBlock, Value rhs,
                   std::array<int64_t, 2> rhsBlock, bool transposeLhs,
                   bool transposeRhs, std::array<int64_t, 2> outBlock) {
    const int64_t blocks = batch * kvHeads;
    Value result = empty({blocks * outBlock[0], outBlock[1]});
    auto slice = [&](Value source, std::array<int64_t, 2> block,
                     int64_t i) -> Value {
      return tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get(block, f32), source,
          ArrayRef<OpFoldResult>{b.getIndexAttr(i * block[0]),
                                 b.getIndexAttr(0)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(block[0]),
                                 b.getIndexAttr(block[1])},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
    };
    for (int64_t i = 0; i < blocks; ++i) {
      Value product = growk::MatmulOp::create(
          b, loc, RankedTensorType::get(outBlock, f32), slice(lhs, lhsBlock, i),
          slice(rhs, rhsBlock, i), Value(), transposeLhs, transposeRhs);
      result = tensor::InsertSliceOp::create(
          b, loc, product, result,
          ArrayRef<OpFoldResult>{b.getIndexAttr(i * outBlock[0]),
                                 b.getIndexAttr(0)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(outBlock[0]),
                                 b.getIndexAttr(outBlock[1])},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
    }
    return result;
  }

  /// [B·T, n·hd] (token-major, the projections' layout) -> [B·n·T, hd]
  /// (head-major: each head's T rows consecutive), a kernel of its own.
  Value toHeadMajor(Value x, int64_t n) {
    Value tokens = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({batch, seq, n, headDim}, f32), x,
        ArrayRef<ReassociationIndices>{{0, 1}, {2, 3}});
    Value permuted = permute(tokens, {batch, n, seq, headDim});
    return tensor::CollapseShapeOp::create(
        b, loc, permuted, ArrayRef<ReassociationIndices>{{0, 1, 2}, {3}});
  }

  /// [B·n·T, hd] -> [B·T, n·hd].
  Value fromHeadMajor(Value x, int64_t n) {
    Value headMajor = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({batch, n, seq, headDim}, f32), x,
        ArrayRef<ReassociationIndices>{{0, 1, 2}, {3}});
    Value permuted = permute(headMajor, {batch, seq, n, headDim});
    return tensor::CollapseShapeOp::create(
        b, loc, permuted, ArrayRef<ReassociationIndices>{{0, 1}, {2, 3}});
  }

  /// out[a, b, c, d] = in[a, c, b, d]: swaps the middle dimensions.
  Value permute(Value in, ArrayRef<int64_t> outShape) {
    Value out =
        generic({in}, empty(outShape),
                {map(4, {dim(0), dim(2), dim(1), dim(3)}),
                 map(4, {dim(0), dim(1), dim(2), dim(3)})},
                {kPar, kPar, kPar, kPar},
                [](OpBuilder &, Location, ValueRange args) { return args[0]; });
    out.getDefiningOp()->setAttr(attr::kOwnKernel, b.getUnitAttr());
    return out;
  }

  /// Whether key `j` is visible to row `r` of a [·, T] score tensor (row r
  /// is query position r mod T).
  Value visible(OpBuilder &nb, Location l) {
    Value r = linalg::IndexOp::create(nb, l, 0);
    Value j = linalg::IndexOp::create(nb, l, 1);
    Value t = arith::RemUIOp::create(
        nb, l, r, arith::ConstantIndexOp::create(nb, l, seq));
    return arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ule, j, t);
  }

  /// The causal softmax of each row of S·scale: P [R, T], zero above the
  /// diagonal.
  Value softmax(Value s) {
    AffineMap rowsCols = map(2, {dim(0), dim(1)}), rowsOnly = map(2, {dim(0)});
    double lowest = -std::numeric_limits<double>::infinity();
    Value max = generic(
        {s}, fill({rows}, lowest), {rowsCols, rowsOnly}, {kPar, kRed},
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          Value scaled = arith::MulFOp::create(
              nb, l, args[0],
              arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(scale)));
          Value masked = arith::SelectOp::create(
              nb, l, visible(nb, l), scaled,
              arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(lowest)));
          return arith::MaximumFOp::create(nb, l, masked, args[1]);
        });
    auto shifted = [&](OpBuilder &nb, Location l, Value score,
                       Value rowMax) -> Value {
      Value scaled = arith::MulFOp::create(
          nb, l, score,
          arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(scale)));
      Value e = math::ExpOp::create(
          nb, l, arith::SubFOp::create(nb, l, scaled, rowMax));
      return arith::SelectOp::create(
          nb, l, visible(nb, l), e,
          arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0.0)));
    };
    Value sum = generic(
        {s, max}, zeros({rows}), {rowsCols, rowsOnly, rowsOnly}, {kPar, kRed},
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          return arith::AddFOp::create(nb, l, shifted(nb, l, args[0], args[1]),
                                       args[2]);
        });
    return generic({s, max, sum}, empty({rows, seq}),
                   {rowsCols, rowsOnly, rowsOnly, rowsCols}, {kPar, kPar},
                   [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                     return arith::DivFOp::create(
                         nb, l, shifted(nb, l, args[0], args[1]), args[2]);
                   });
  }

  /// D[r] = Σ_d dO[r, d]·O[r, d].
  Value rowDot(Value dh, Value oh) {
    return contraction(
        dh, oh, zeros({rows}),
        {map(2, {dim(0), dim(1)}), map(2, {dim(0), dim(1)}), map(2, {dim(0)})},
        {kPar, kRed});
  }

  /// dS = P∘(dP − D)·scale: the gradient of the raw scores Q·Kᵀ.
  Value scoreGradient(Value p, Value dp, Value d) {
    AffineMap rowsCols = map(2, {dim(0), dim(1)}), rowsOnly = map(2, {dim(0)});
    return generic(
        {p, dp, d}, empty({rows, seq}),
        {rowsCols, rowsCols, rowsOnly, rowsCols}, {kPar, kPar},
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          Value diff = arith::SubFOp::create(nb, l, args[1], args[2]);
          Value grad = arith::MulFOp::create(nb, l, args[0], diff);
          return arith::MulFOp::create(
              nb, l, grad,
              arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(scale)));
        });
  }

  int64_t seq, batch, heads, kvHeads, headDim, group, rows, kvRows;
  double scale;
};

struct AttentionToGemmsPass
    : growc::impl::AttentionToGemmsBase<AttentionToGemmsPass> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<growk::AttentionOp, growk::AttentionGradOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      if (!isa<RankedTensorType>(op->getOperand(0).getType())) {
        op->emitOpError("growc-attention-to-gemms runs on tensors, before "
                        "bufferization");
        return signalPassFailure();
      }
      OpBuilder builder(op);
      if (auto attention = dyn_cast<growk::AttentionOp>(op)) {
        AttentionGemms gemms(builder, attention);
        Value out =
            gemms.forward(attention.getQ(), attention.getK(), attention.getV());
        attention->getResult(0).replaceAllUsesWith(out);
      } else {
        auto grad = cast<growk::AttentionGradOp>(op);
        AttentionGemms gemms(builder, grad);
        auto [dq, dk, dv] = gemms.backward(
            grad.getQ(), grad.getK(), grad.getV(), grad.getO(), grad.getDout());
        grad->getResult(0).replaceAllUsesWith(dq);
        grad->getResult(1).replaceAllUsesWith(dk);
        grad->getResult(2).replaceAllUsesWith(dv);
      }
      op->erase();
    }
  }
};

} // namespace
