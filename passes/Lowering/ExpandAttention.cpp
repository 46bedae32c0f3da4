//===- ExpandAttention.cpp - growk.attention as CPU-shaped tensor loops ---===//
//
// The CPU form of attention: an scf.forall over query tiles of `key_block`
// rows and, inside it, an scf.for over the key tiles up to the diagonal
// (causal: tiles above it are never computed) carrying the online-softmax
// state of the query tile: running max and sum [B, H, tile], output
// [B, H, tile, hd]. Every step is a linalg.generic over whole [B, H, tile,
// tile] blocks, which LLVM vectorises; only one score block exists at a
// time. Positions past T are padded, masked as keys and dropped as queries.
//
//===----------------------------------------------------------------------===//

#include "passes/Lowering/Passes.h"
#include "passes/Lowering/TensorBuilder.h"

#include <cmath>
#include <limits>

namespace growc {
#define GEN_PASS_DEF_EXPANDATTENTION
#include "passes/Lowering/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;

namespace {

class AttentionExpander : public TensorBuilder {
public:
  AttentionExpander(OpBuilder &builder, growk::AttentionOp op)
      : TensorBuilder(builder, op.getLoc()), batch(op.getBatch()),
        seq(op.getSeqLen()), rows(batch * seq), heads(op.getHeads()),
        kvHeads(op.getKvHeads()), headDim(op.getHeadDim()),
        keyBlock(std::min<int64_t>(op.getKeyBlock(), seq)) {}

  Value expand(Value q, Value k, Value v);

private:
  int64_t batch, seq, rows, heads, kvHeads, headDim, keyBlock;
};

Value AttentionExpander::expand(Value q, Value k, Value v) {
  int64_t group = heads / kvHeads;
  int64_t tile = keyBlock;
  int64_t blocks = (seq + tile - 1) / tile, padded = blocks * tile;
  SmallVector<ReassociationIndices> split = {{0, 1}, {2, 3}};
  auto toHeads = [&](Value x, int64_t n) -> Value {
    auto type = RankedTensorType::get({batch, seq, n, headDim}, f32);
    return tensor::ExpandShapeOp::create(b, loc, type, x, split);
  };
  // Positions past T only occur in the last tile; they are zero, masked as
  // keys and discarded as queries.
  auto pad = [&](Value x, int64_t n) -> Value {
    if (padded == seq)
      return x;
    auto type = RankedTensorType::get({batch, padded, n, headDim}, f32);
    SmallVector<OpFoldResult> low(4, b.getIndexAttr(0));
    SmallVector<OpFoldResult> high = {b.getIndexAttr(0),
                                      b.getIndexAttr(padded - seq),
                                      b.getIndexAttr(0), b.getIndexAttr(0)};
    return tensor::PadOp::create(b, loc, type, x, low, high, constant(0.0));
  };
  Value q4 = pad(toHeads(q, heads), heads);
  Value k4 = pad(toHeads(k, kvHeads), kvHeads);
  Value v4 = pad(toHeads(v, kvHeads), kvHeads);

  double scale = 1.0 / std::sqrt(double(headDim));
  float negInf = -std::numeric_limits<float>::infinity();
  AffineExpr kvHead = dim(1).floorDiv(group);
  auto slice = [&](Value x, Value start, int64_t n) -> Value {
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), start,
                                         b.getIndexAttr(0), b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(batch),
                                       b.getIndexAttr(tile), b.getIndexAttr(n),
                                       b.getIndexAttr(headDim)};
    SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
    auto type = RankedTensorType::get({batch, tile, n, headDim}, f32);
    return tensor::ExtractSliceOp::create(b, loc, type, x, offsets, sizes,
                                          strides);
  };
  AffineMap id4 = map(4, {dim(0), dim(1), dim(2), dim(3)});
  AffineMap rowOf4 = map(4, {dim(0), dim(1), dim(2)});
  AffineMap id3 = map(3, {dim(0), dim(1), dim(2)});

  // Outer loop over query tiles; the inner loop visits only the key tiles
  // at or before the query tile (causal), carrying the online-softmax state
  // of this query tile: running max and sum [B, H, tile], output
  // [B, H, tile, hd]. Only one [B, H, tile, tile] score block exists.
  // Query tiles are independent: an scf.forall, which the GPU backend will
  // map to blocks (the CPU backend runs it as a loop).
  Value outInit = empty({batch, padded, heads, headDim});
  auto queryLoop =
      scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
                            ArrayRef<OpFoldResult>{b.getIndexAttr(padded)},
                            ArrayRef<OpFoldResult>{b.getIndexAttr(tile)},
                            ValueRange{outInit}, std::nullopt);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(queryLoop.getBody());
    Location ql = loc;
    Value qStart = queryLoop.getInductionVar(0);
    Value qTile = slice(q4, qStart, heads);
    Value keyEnd = arith::AddIOp::create(b, ql, qStart, index(tile));
    Value maxInit = fill({batch, heads, tile}, negInf);
    Value sumInit = zeros({batch, heads, tile});
    Value accInit = zeros({batch, heads, tile, headDim});
    auto keyLoop = scf::ForOp::create(
        b, ql, index(0), keyEnd, index(tile),
        ValueRange{maxInit, sumInit, accInit},
        [&](OpBuilder &kb, Location l, Value kStart, ValueRange state) {
          OpBuilder::InsertionGuard innerGuard(b);
          b.setInsertionPoint(kb.getInsertionBlock(), kb.getInsertionPoint());
          Value maxOld = state[0], sumOld = state[1], accOld = state[2];
          Value kTile = slice(k4, kStart, kvHeads);
          Value vTile = slice(v4, kStart, kvHeads);
          // dims (b, h, t, j, d): q · k for this tile pair.
          Value scores = generic(
              {qTile, kTile}, zeros({batch, heads, tile, tile}),
              {map(5, {dim(0), dim(2), dim(1), dim(4)}),
               map(5, {dim(0), dim(3), kvHead, dim(4)}),
               map(5, {dim(0), dim(1), dim(2), dim(3)})},
              {kPar, kPar, kPar, kPar, kRed},
              [&](OpBuilder &nb, Location bl, ValueRange args) -> Value {
                return arith::AddFOp::create(
                    nb, bl, arith::MulFOp::create(nb, bl, args[0], args[1]),
                    args[2]);
              });
          // Scale; mask keys after the query (causal, and past T).
          Value masked = generic(
              {scores}, empty({batch, heads, tile, tile}), {id4, id4},
              {kPar, kPar, kPar, kPar},
              [&](OpBuilder &nb, Location bl, ValueRange args) -> Value {
                Value query = arith::AddIOp::create(
                    nb, bl, qStart, linalg::IndexOp::create(nb, bl, 2));
                Value key = arith::AddIOp::create(
                    nb, bl, kStart, linalg::IndexOp::create(nb, bl, 3));
                Value visible = arith::CmpIOp::create(
                    nb, bl, arith::CmpIPredicate::ule, key, query);
                Value scaled = arith::MulFOp::create(
                    nb, bl, args[0],
                    arith::ConstantOp::create(nb, bl,
                                              nb.getF32FloatAttr(scale)));
                return arith::SelectOp::create(
                    nb, bl, visible, scaled,
                    arith::ConstantOp::create(nb, bl,
                                              nb.getF32FloatAttr(negInf)));
              });
          Value maxNew = generic(
              {masked}, maxOld, {id4, rowOf4}, {kPar, kPar, kPar, kRed},
              [&](OpBuilder &nb, Location bl, ValueRange args) -> Value {
                return arith::MaximumFOp::create(nb, bl, args[0], args[1]);
              });
          // Rescale what was accumulated under the old running max.
          Value correction = generic(
              {maxOld, maxNew}, empty({batch, heads, tile}), {id3, id3, id3},
              {kPar, kPar, kPar},
              [&](OpBuilder &nb, Location bl, ValueRange args) -> Value {
                return math::ExpOp::create(
                    nb, bl, arith::SubFOp::create(nb, bl, args[0], args[1]));
              });
          Value probs = generic(
              {masked, maxNew}, empty({batch, heads, tile, tile}),
              {id4, rowOf4, id4}, {kPar, kPar, kPar, kPar},
              [&](OpBuilder &nb, Location bl, ValueRange args) -> Value {
                return math::ExpOp::create(
                    nb, bl, arith::SubFOp::create(nb, bl, args[0], args[1]));
              });
          Value sumScaled = generic(
              {sumOld, correction}, empty({batch, heads, tile}),
              {id3, id3, id3}, {kPar, kPar, kPar},
              [&](OpBuilder &nb, Location bl, ValueRange args) -> Value {
                return arith::MulFOp::create(nb, bl, args[0], args[1]);
              });
          Value sumNew = generic(
              {probs}, sumScaled, {id4, rowOf4}, {kPar, kPar, kPar, kRed},
              [&](OpBuilder &nb, Location bl, ValueRange args) -> Value {
                return arith::AddFOp::create(nb, bl, args[0], args[1]);
              });
          Value accScaled = generic(
              {accOld, correction}, empty({batch, heads, tile, headDim}),
              {id4, rowOf4, id4}, {kPar, kPar, kPar, kPar},
              [&](OpBuilder &nb, Location bl, ValueRange args) -> Value {
                return arith::MulFOp::create(nb, bl, args[0], args[1]);
              });
          // dims (b, h, t, j, d): acc += p · V. The reduction j sits
          // outside d so the innermost loop runs along contiguous rows
          // of V and of the output.
          Value accNew = generic(
              {probs, vTile}, accScaled,
              {map(5, {dim(0), dim(1), dim(2), dim(3)}),
               map(5, {dim(0), dim(3), kvHead, dim(4)}),
               map(5, {dim(0), dim(1), dim(2), dim(4)})},
              {kPar, kPar, kPar, kRed, kPar},
              [&](OpBuilder &nb, Location bl, ValueRange args) -> Value {
                return arith::AddFOp::create(
                    nb, bl, arith::MulFOp::create(nb, bl, args[0], args[1]),
                    args[2]);
              });
          scf::YieldOp::create(b, l, ValueRange{maxNew, sumNew, accNew});
        });
    // tile[b, t, h, d] = acc[b, h, t, d] / sum[b, h, t], stored at
    // rows [qStart, qStart + tile) of the output.
    Value normalized =
        generic({keyLoop.getResult(2), keyLoop.getResult(1)},
                empty({batch, tile, heads, headDim}),
                {map(4, {dim(0), dim(2), dim(1), dim(3)}),
                 map(4, {dim(0), dim(2), dim(1)}),
                 map(4, {dim(0), dim(1), dim(2), dim(3)})},
                {kPar, kPar, kPar, kPar},
                [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                  return arith::DivFOp::create(nb, l, args[0], args[1]);
                });
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), qStart,
                                         b.getIndexAttr(0), b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {
        b.getIndexAttr(batch), b.getIndexAttr(tile), b.getIndexAttr(heads),
        b.getIndexAttr(headDim)};
    SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
    b.setInsertionPointToStart(queryLoop.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(b, ql, normalized,
                                          queryLoop.getRegionIterArgs()[0],
                                          offsets, sizes, strides);
  }

  Value out = queryLoop.getResult(0);
  if (padded != seq) {
    SmallVector<OpFoldResult> zero(4, b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes = {
        b.getIndexAttr(batch), b.getIndexAttr(seq), b.getIndexAttr(heads),
        b.getIndexAttr(headDim)};
    SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
    out = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({batch, seq, heads, headDim}, f32), out,
        zero, sizes, strides);
  }
  return tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get({rows, heads * headDim}, f32), out, split);
}

struct ExpandAttentionPass
    : growc::impl::ExpandAttentionBase<ExpandAttentionPass> {
  void runOnOperation() override {
    SmallVector<growk::AttentionOp> ops;
    getOperation().walk([&](growk::AttentionOp op) { ops.push_back(op); });
    for (growk::AttentionOp op : ops) {
      if (op.getNumResults() != 1) {
        op.emitOpError("growc-expand-attention runs before bufferization");
        return signalPassFailure();
      }
      OpBuilder builder(op);
      AttentionExpander expander(builder, op);
      Value out = expander.expand(op.getQ(), op.getK(), op.getV());
      op.getResult()[0].replaceAllUsesWith(out);
      op.erase();
    }
  }
};

} // namespace
