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

  Value expand(Value q, Value k, Value v, Value init);

private:
  int64_t batch, seq, rows, heads, kvHeads, headDim, keyBlock;
};

Value AttentionExpander::expand(Value q, Value k, Value v, Value init) {
  int64_t group = heads / kvHeads;
  // A tile that divides T needs no padding, so the kernel is the query loop
  // alone, writing into its output in place (and the CPU runtime can split
  // it over threads); pad only when T has no divisor of at least half
  // the requested tile.
  int64_t tile = keyBlock;
  for (int64_t d = keyBlock; d >= 1; --d)
    if (seq % d == 0) {
      if (2 * d >= keyBlock)
        tile = d;
      break;
    }
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
  // One block works on one head of one sample: [1, tile, 1, hd] tiles, so
  // a [tile, tile] score block (16 KB at tile 64) stays in L1 across the
  // steps of a key tile.
  AffineExpr kvHead = dim(1);
  auto slice = [&](Value x, Value sample, Value start, Value head) -> Value {
    SmallVector<OpFoldResult> offsets = {sample, start, head,
                                         b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(tile),
                                       b.getIndexAttr(1),
                                       b.getIndexAttr(headDim)};
    SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
    auto type = RankedTensorType::get({1, tile, 1, headDim}, f32);
    return tensor::ExtractSliceOp::create(b, loc, type, x, offsets, sizes,
                                          strides);
  };
  AffineMap id4 = map(4, {dim(0), dim(1), dim(2), dim(3)});
  AffineMap rowOf4 = map(4, {dim(0), dim(1), dim(2)});
  AffineMap id3 = map(3, {dim(0), dim(1), dim(2)});

  // Outer loop over (sample, head, query tile); the inner loop visits only
  // the key tiles at or before the query tile (causal), carrying the
  // online-softmax state of this query tile: running max and sum
  // [1, 1, tile], output [1, 1, tile, hd]. Only one [1, 1, tile, tile]
  // score block exists. The blocks are independent: an scf.forall, which
  // the CPU runtime splits over its threads (sample-major, so each share
  // gets the same mix of short and long causal rows).
  bool inPlace = padded == seq;
  Value outInit = inPlace ? init : empty({batch, padded, heads, headDim});
  auto queryLoop = scf::ForallOp::create(
      b, loc,
      ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0),
                             b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(batch), b.getIndexAttr(heads),
                             b.getIndexAttr(padded)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                             b.getIndexAttr(tile)},
      ValueRange{outInit}, std::nullopt);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(queryLoop.getBody());
    Location ql = loc;
    Value sample = queryLoop.getInductionVar(0);
    Value head = queryLoop.getInductionVar(1);
    Value qStart = queryLoop.getInductionVar(2);
    Value kvHeadIndex = arith::DivUIOp::create(b, ql, head, index(group));
    Value qTile = slice(q4, sample, qStart, head);
    Value keyEnd = arith::AddIOp::create(b, ql, qStart, index(tile));
    Value maxInit = fill({1, 1, tile}, negInf);
    Value sumInit = zeros({1, 1, tile});
    Value accInit = zeros({1, 1, tile, headDim});
    auto keyLoop = scf::ForOp::create(
        b, ql, index(0), keyEnd, index(tile),
        ValueRange{maxInit, sumInit, accInit},
        [&](OpBuilder &kb, Location l, Value kStart, ValueRange state) {
          OpBuilder::InsertionGuard innerGuard(b);
          b.setInsertionPoint(kb.getInsertionBlock(), kb.getInsertionPoint());
          Value maxOld = state[0], sumOld = state[1], accOld = state[2];
          Value kTile = slice(k4, sample, kStart, kvHeadIndex);
          Value vTile = slice(v4, sample, kStart, kvHeadIndex);
          // dims (b, h, t, j, d): q · k for this tile pair.
          Value scores = contraction(qTile, kTile, zeros({1, 1, tile, tile}),
                                     {map(5, {dim(0), dim(2), dim(1), dim(4)}),
                                      map(5, {dim(0), dim(3), kvHead, dim(4)}),
                                      map(5, {dim(0), dim(1), dim(2), dim(3)})},
                                     {kPar, kPar, kPar, kPar, kRed});
          // Scale; mask keys after the query (causal, and past T).
          Value masked = generic(
              {scores}, empty({1, 1, tile, tile}), {id4, id4},
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
              {maxOld, maxNew}, empty({1, 1, tile}), {id3, id3, id3},
              {kPar, kPar, kPar},
              [&](OpBuilder &nb, Location bl, ValueRange args) -> Value {
                return math::ExpOp::create(
                    nb, bl, arith::SubFOp::create(nb, bl, args[0], args[1]));
              });
          Value probs = generic(
              {masked, maxNew}, empty({1, 1, tile, tile}), {id4, rowOf4, id4},
              {kPar, kPar, kPar, kPar},
              [&](OpBuilder &nb, Location bl, ValueRange args) -> Value {
                return math::ExpOp::create(
                    nb, bl, arith::SubFOp::create(nb, bl, args[0], args[1]));
              });
          Value sumScaled = generic(
              {sumOld, correction}, empty({1, 1, tile}), {id3, id3, id3},
              {kPar, kPar, kPar},
              [&](OpBuilder &nb, Location bl, ValueRange args) -> Value {
                return arith::MulFOp::create(nb, bl, args[0], args[1]);
              });
          Value sumNew = generic(
              {probs}, sumScaled, {id4, rowOf4}, {kPar, kPar, kPar, kRed},
              [&](OpBuilder &nb, Location bl, ValueRange args) -> Value {
                return arith::AddFOp::create(nb, bl, args[0], args[1]);
              });
          Value accScaled = generic(
              {accOld, correction}, empty({1, 1, tile, headDim}),
              {id4, rowOf4, id4}, {kPar, kPar, kPar, kPar},
              [&](OpBuilder &nb, Location bl, ValueRange args) -> Value {
                return arith::MulFOp::create(nb, bl, args[0], args[1]);
              });
          // dims (b, h, t, j, d): acc += p · V. The reduction j sits
          // outside d so the innermost loop runs along contiguous rows
          // of V and of the output.
          Value accNew = contraction(probs, vTile, accScaled,
                                     {map(5, {dim(0), dim(1), dim(2), dim(3)}),
                                      map(5, {dim(0), dim(3), kvHead, dim(4)}),
                                      map(5, {dim(0), dim(1), dim(2), dim(4)})},
                                     {kPar, kPar, kPar, kRed, kPar});
          scf::YieldOp::create(b, l, ValueRange{maxNew, sumNew, accNew});
        });
    // tile[b, t, h, d] = acc[b, h, t, d] / sum[b, h, t], stored at
    // rows [qStart, qStart + tile) of the output.
    Value normalized =
        generic({keyLoop.getResult(2), keyLoop.getResult(1)},
                empty({1, tile, 1, headDim}),
                {map(4, {dim(0), dim(2), dim(1), dim(3)}),
                 map(4, {dim(0), dim(2), dim(1)}),
                 map(4, {dim(0), dim(1), dim(2), dim(3)})},
                {kPar, kPar, kPar, kPar},
                [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                  return arith::DivFOp::create(nb, l, args[0], args[1]);
                });
    SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
    if (inPlace) {
      // Rows [sample * T + qStart, + tile), columns [head * hd, + hd) of
      // the [B·T, H·hd] output.
      Value tileRows = tensor::CollapseShapeOp::create(
          b, ql, RankedTensorType::get({tile, headDim}, f32), normalized,
          SmallVector<ReassociationIndices>{{0, 1}, {2, 3}});
      Value firstRow = arith::AddIOp::create(
          b, ql, arith::MulIOp::create(b, ql, sample, index(seq)), qStart);
      Value firstColumn = arith::MulIOp::create(b, ql, head, index(headDim));
      b.setInsertionPointToStart(queryLoop.getTerminator().getBody());
      SmallVector<OpFoldResult> offsets = {firstRow, firstColumn};
      SmallVector<OpFoldResult> sizes = {b.getIndexAttr(tile),
                                         b.getIndexAttr(headDim)};
      tensor::ParallelInsertSliceOp::create(
          b, ql, tileRows, queryLoop.getRegionIterArgs()[0], offsets, sizes,
          ArrayRef<OpFoldResult>(strides).take_front(2));
    } else {
      b.setInsertionPointToStart(queryLoop.getTerminator().getBody());
      SmallVector<OpFoldResult> offsets = {sample, qStart, head,
                                           b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes = {
          b.getIndexAttr(1), b.getIndexAttr(tile), b.getIndexAttr(1),
          b.getIndexAttr(headDim)};
      tensor::ParallelInsertSliceOp::create(b, ql, normalized,
                                            queryLoop.getRegionIterArgs()[0],
                                            offsets, sizes, strides);
    }
  }

  Value out = queryLoop.getResult(0);
  if (inPlace)
    return out;
  {
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
      Value out =
          expander.expand(op.getQ(), op.getK(), op.getV(), op.getInit());
      op.getResult()[0].replaceAllUsesWith(out);
      op.erase();
    }
  }
};

} // namespace
