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
          Value vTile = slice(v4, sample, kStart, kvHeadIndex);
          // Kᵀ of the key tile, [hd, tile], so that the score contraction
          // runs its innermost loop along keys (a row of the scores, kept
          // in registers by growc-vectorize-contractions) rather than
          // reducing along d.
          SmallVector<OpFoldResult> kOffsets = {sample, kStart, kvHeadIndex,
                                                b.getIndexAttr(0)};
          SmallVector<OpFoldResult> kSizes = {
              b.getIndexAttr(1), b.getIndexAttr(tile), b.getIndexAttr(1),
              b.getIndexAttr(headDim)};
          Value kRows = tensor::ExtractSliceOp::create(
              b, loc, RankedTensorType::get({tile, headDim}, f32), k4, kOffsets,
              kSizes, SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));
          Value kT =
              generic({kRows}, empty({headDim, tile}),
                      {map(2, {dim(1), dim(0)}), map(2, {dim(0), dim(1)})},
                      {kPar, kPar},
                      [](OpBuilder &, Location, ValueRange args) -> Value {
                        return args[0];
                      });
          // dims (b, h, t, d, j): q · kᵀ for this tile pair.
          Value scores = contraction(qTile, kT, zeros({1, 1, tile, tile}),
                                     {map(5, {dim(0), dim(2), dim(1), dim(3)}),
                                      map(5, {dim(3), dim(4)}),
                                      map(5, {dim(0), dim(1), dim(2), dim(4)})},
                                     {kPar, kPar, kPar, kRed, kPar});
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

/// The CPU form of growk.attention_grad (flash-attention-2's backward on
/// CPU-sized tiles).
///
/// One block per (sample, KV head), an scf.forall the CPU runtime splits
/// over its threads; the block owns its KV head's dK and dV, so nothing is
/// accumulated across blocks. Inside a block, for each query tile of
/// `tile` rows (all G query heads of the group at once):
///   1. a pass over the key tiles at or before it (causal: later tiles are
///      never computed) with an online max / sum gives the rows'
///      log-sum-exp L (the forward's running state, recomputed);
///   2. a second pass recomputes the scores S, P = exp(S - L), and
///      accumulates dV_j += Pᵀ·dO, dP = dO·Vᵀ, dS = P∘(dP - D)·scale,
///      dQ_i += dS·K_j, dK_j += dSᵀ·Q, where D = rowsum(dO∘O).
/// Only [G, tile, tile] blocks exist. Every contraction runs its innermost
/// loop along a contiguous row (K and V are transposed once per block so
/// the score contractions run along keys), which LLVM vectorises.
class AttentionGradExpander : public TensorBuilder {
public:
  AttentionGradExpander(OpBuilder &builder, growk::AttentionGradOp op)
      : TensorBuilder(builder, op.getLoc()), batch(op.getBatch()),
        seq(op.getSeqLen()), heads(op.getHeads()), kvHeads(op.getKvHeads()),
        headDim(op.getHeadDim()), group(heads / kvHeads) {
    // The tile divides T, so no position is padded: the largest divisor
    // of T up to key_block (T prime degrades to one-row tiles, still
    // correct).
    tile = 1;
    for (int64_t d = std::min<int64_t>(op.getKeyBlock(), seq); d >= 1; --d)
      if (seq % d == 0) {
        tile = d;
        break;
      }
  }

  std::tuple<Value, Value, Value> expand(growk::AttentionGradOp op);

private:
  /// Scaled scores of query tile [t, g, d] against the transposed key tile
  /// [d, j], causally masked with -inf: [g, t, j].
  Value maskedScores(Value qTile, Value keysT, Value qStart, Value kStart);
  Value slice(Value x, ArrayRef<OpFoldResult> offsets, ArrayRef<int64_t> sizes,
              ArrayRef<int64_t> resultShape);
  Value insert(Value part, Value into, ArrayRef<OpFoldResult> offsets,
               ArrayRef<int64_t> sizes);

  int64_t batch, seq, heads, kvHeads, headDim, group, tile;
};

Value AttentionGradExpander::slice(Value x, ArrayRef<OpFoldResult> offsets,
                                   ArrayRef<int64_t> sizes,
                                   ArrayRef<int64_t> resultShape) {
  SmallVector<OpFoldResult> sizeAttrs, strides;
  for (int64_t size : sizes) {
    sizeAttrs.push_back(b.getIndexAttr(size));
    strides.push_back(b.getIndexAttr(1));
  }
  return tensor::ExtractSliceOp::create(b, loc,
                                        RankedTensorType::get(resultShape, f32),
                                        x, offsets, sizeAttrs, strides);
}

Value AttentionGradExpander::insert(Value part, Value into,
                                    ArrayRef<OpFoldResult> offsets,
                                    ArrayRef<int64_t> sizes) {
  SmallVector<OpFoldResult> sizeAttrs, strides;
  for (int64_t size : sizes) {
    sizeAttrs.push_back(b.getIndexAttr(size));
    strides.push_back(b.getIndexAttr(1));
  }
  return tensor::InsertSliceOp::create(b, loc, part, into, offsets, sizeAttrs,
                                       strides);
}

Value AttentionGradExpander::maskedScores(Value qTile, Value keysT,
                                          Value qStart, Value kStart) {
  double scale = 1.0 / std::sqrt(double(headDim));
  float negInf = -std::numeric_limits<float>::infinity();
  // dims (g, t, d, j): j innermost, along rows of Kᵀ and of the scores.
  Value scores =
      contraction(qTile, keysT, zeros({group, tile, tile}),
                  {map(4, {dim(1), dim(0), dim(2)}), map(4, {dim(2), dim(3)}),
                   map(4, {dim(0), dim(1), dim(3)})},
                  {kPar, kPar, kRed, kPar});
  AffineMap id3 = map(3, {dim(0), dim(1), dim(2)});
  return generic(
      {scores}, empty({group, tile, tile}), {id3, id3}, {kPar, kPar, kPar},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value query = arith::AddIOp::create(nb, l, qStart,
                                            linalg::IndexOp::create(nb, l, 1));
        Value key = arith::AddIOp::create(nb, l, kStart,
                                          linalg::IndexOp::create(nb, l, 2));
        Value visible =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ule, key, query);
        Value scaled = arith::MulFOp::create(
            nb, l, args[0],
            arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(scale)));
        return arith::SelectOp::create(
            nb, l, visible, scaled,
            arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(negInf)));
      });
}

std::tuple<Value, Value, Value>
AttentionGradExpander::expand(growk::AttentionGradOp op) {
  double scale = 1.0 / std::sqrt(double(headDim));
  SmallVector<ReassociationIndices> split = {{0, 1}, {2, 3}};
  auto toHeads = [&](Value x, int64_t n) -> Value {
    auto type = RankedTensorType::get({batch, seq, n, headDim}, f32);
    return tensor::ExpandShapeOp::create(b, loc, type, x, split);
  };
  Value q4 = toHeads(op.getQ(), heads), k4 = toHeads(op.getK(), kvHeads),
        v4 = toHeads(op.getV(), kvHeads), o4 = toHeads(op.getO(), heads),
        do4 = toHeads(op.getDout(), heads);
  AffineMap id2 = map(2, {dim(0), dim(1)});
  AffineMap id3 = map(3, {dim(0), dim(1), dim(2)});
  AffineMap rowOf3 = map(3, {dim(0), dim(1)});

  auto forall = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(batch), b.getIndexAttr(kvHeads)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)},
      ValueRange{op.getDqInit(), op.getDkInit(), op.getDvInit()}, std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  Value sample = forall.getInductionVar(0), kvHead = forall.getInductionVar(1);
  Value firstHead = arith::MulIOp::create(b, loc, kvHead, index(group));
  OpFoldResult zero = b.getIndexAttr(0);
  // This block's rows: [T, G, hd] of the group's query heads, [T, hd] of
  // its KV head.
  auto groupRows = [&](Value x) {
    return slice(x, {sample, zero, firstHead, zero}, {1, seq, group, headDim},
                 {seq, group, headDim});
  };
  auto kvRows = [&](Value x) {
    return slice(x, {sample, zero, kvHead, zero}, {1, seq, 1, headDim},
                 {seq, headDim});
  };
  Value qBlock = groupRows(q4), oBlock = groupRows(o4),
        doBlock = groupRows(do4), kBlock = kvRows(k4), vBlock = kvRows(v4);
  auto transposed = [&](Value x) {
    return generic({x}, empty({headDim, seq}), {map(2, {dim(1), dim(0)}), id2},
                   {kPar, kPar},
                   [](OpBuilder &, Location, ValueRange args) -> Value {
                     return args[0];
                   });
  };
  Value kT = transposed(kBlock), vT = transposed(vBlock);
  // D[g, t] = Σ_d dO · O.
  Value rowDot = contraction(doBlock, oBlock, zeros({group, seq}),
                             {map(3, {dim(1), dim(0), dim(2)}),
                              map(3, {dim(1), dim(0), dim(2)}), rowOf3},
                             {kPar, kPar, kRed});

  float negInf = -std::numeric_limits<float>::infinity();
  auto queryLoop = scf::ForOp::create(
      b, loc, index(0), index(seq), index(tile),
      ValueRange{empty({seq, group, headDim}), zeros({seq, headDim}),
                 zeros({seq, headDim})},
      [&](OpBuilder &qb, Location, Value qStart, ValueRange state) {
        OpBuilder::InsertionGuard queryGuard(b);
        b.setInsertionPoint(qb.getInsertionBlock(), qb.getInsertionPoint());
        Value qTile = slice(qBlock, {qStart, zero, zero},
                            {tile, group, headDim}, {tile, group, headDim});
        Value doTile = slice(doBlock, {qStart, zero, zero},
                             {tile, group, headDim}, {tile, group, headDim});
        Value dTile =
            slice(rowDot, {zero, qStart}, {group, tile}, {group, tile});
        Value keyEnd = arith::AddIOp::create(b, loc, qStart, index(tile));
        auto keysT = [&](Value kStart, Value transposedRows) {
          return slice(transposedRows, {zero, kStart}, {headDim, tile},
                       {headDim, tile});
        };
        // Pass 1: the rows' log-sum-exp, online over the key tiles.
        auto statsLoop = scf::ForOp::create(
            b, loc, index(0), keyEnd, index(tile),
            ValueRange{fill({group, tile}, negInf), zeros({group, tile})},
            [&](OpBuilder &kb, Location, Value kStart, ValueRange stats) {
              OpBuilder::InsertionGuard keyGuard(b);
              b.setInsertionPoint(kb.getInsertionBlock(),
                                  kb.getInsertionPoint());
              Value masked =
                  maskedScores(qTile, keysT(kStart, kT), qStart, kStart);
              Value maxNew = generic(
                  {masked}, stats[0], {id3, rowOf3}, {kPar, kPar, kRed},
                  [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                    return arith::MaximumFOp::create(nb, l, args[0], args[1]);
                  });
              Value sumScaled = generic(
                  {stats[1], stats[0], maxNew}, empty({group, tile}),
                  {id2, id2, id2, id2}, {kPar, kPar},
                  [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                    Value correction = math::ExpOp::create(
                        nb, l, arith::SubFOp::create(nb, l, args[1], args[2]));
                    return arith::MulFOp::create(nb, l, args[0], correction);
                  });
              Value sumNew = generic(
                  {masked, maxNew}, sumScaled, {id3, rowOf3, rowOf3},
                  {kPar, kPar, kRed},
                  [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                    Value p = math::ExpOp::create(
                        nb, l, arith::SubFOp::create(nb, l, args[0], args[1]));
                    return arith::AddFOp::create(nb, l, p, args[2]);
                  });
              scf::YieldOp::create(b, loc, ValueRange{maxNew, sumNew});
            });
        Value logSumExp =
            generic({statsLoop.getResult(0), statsLoop.getResult(1)},
                    empty({group, tile}), {id2, id2, id2}, {kPar, kPar},
                    [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                      return arith::AddFOp::create(
                          nb, l, args[0], math::LogOp::create(nb, l, args[1]));
                    });
        // Pass 2: the gradients.
        auto gradLoop = scf::ForOp::create(
            b, loc, index(0), keyEnd, index(tile),
            ValueRange{zeros({tile, group, headDim}), state[1], state[2]},
            [&](OpBuilder &kb, Location, Value kStart, ValueRange acc) {
              OpBuilder::InsertionGuard keyGuard(b);
              b.setInsertionPoint(kb.getInsertionBlock(),
                                  kb.getInsertionPoint());
              Value masked =
                  maskedScores(qTile, keysT(kStart, kT), qStart, kStart);
              Value probs = generic(
                  {masked, logSumExp}, empty({group, tile, tile}),
                  {id3, rowOf3, id3}, {kPar, kPar, kPar},
                  [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                    return math::ExpOp::create(
                        nb, l, arith::SubFOp::create(nb, l, args[0], args[1]));
                  });
              Value kTile = slice(kBlock, {kStart, zero}, {tile, headDim},
                                  {tile, headDim});
              Value dkTile = slice(acc[1], {kStart, zero}, {tile, headDim},
                                   {tile, headDim});
              Value dvTile = slice(acc[2], {kStart, zero}, {tile, headDim},
                                   {tile, headDim});
              // dims (j, g, t, d): dV_j += Σ_{g,t} P[g, t, j] · dO[t, g, d].
              auto keyGrad = [&](Value weights, Value rowsOf, Value into) {
                return contraction(weights, rowsOf, into,
                                   {map(4, {dim(1), dim(2), dim(0)}),
                                    map(4, {dim(2), dim(1), dim(3)}),
                                    map(4, {dim(0), dim(3)})},
                                   {kPar, kRed, kRed, kPar});
              };
              Value dvNew = keyGrad(probs, doTile, dvTile);
              // dims (g, t, d, j): dP = dO · Vᵀ.
              Value dProbs = contraction(
                  doTile, keysT(kStart, vT), zeros({group, tile, tile}),
                  {map(4, {dim(1), dim(0), dim(2)}), map(4, {dim(2), dim(3)}),
                   map(4, {dim(0), dim(1), dim(3)})},
                  {kPar, kPar, kRed, kPar});
              Value dScores = generic(
                  {probs, dProbs, dTile}, empty({group, tile, tile}),
                  {id3, id3, rowOf3, id3}, {kPar, kPar, kPar},
                  [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                    Value ds = arith::MulFOp::create(
                        nb, l, args[0],
                        arith::SubFOp::create(nb, l, args[1], args[2]));
                    return arith::MulFOp::create(
                        nb, l, ds,
                        arith::ConstantOp::create(nb, l,
                                                  nb.getF32FloatAttr(scale)));
                  });
              // dims (g, t, j, d): dQ_i += dS · K_j.
              Value dqNew = contraction(dScores, kTile, acc[0],
                                        {map(4, {dim(0), dim(1), dim(2)}),
                                         map(4, {dim(2), dim(3)}),
                                         map(4, {dim(1), dim(0), dim(3)})},
                                        {kPar, kPar, kRed, kPar});
              Value dkNew = keyGrad(dScores, qTile, dkTile);
              Value dk = insert(dkNew, acc[1], {kStart, zero}, {tile, headDim});
              Value dv = insert(dvNew, acc[2], {kStart, zero}, {tile, headDim});
              scf::YieldOp::create(b, loc, ValueRange{dqNew, dk, dv});
            });
        Value dq = insert(gradLoop.getResult(0), state[0], {qStart, zero, zero},
                          {tile, group, headDim});
        scf::YieldOp::create(
            b, loc,
            ValueRange{dq, gradLoop.getResult(1), gradLoop.getResult(2)});
      });
  // Each block's gradients are rows [sample·T, +T) of the [B·T, ·]
  // outputs, columns of its heads: written in place into the inits (so
  // the kernel stays one loop of blocks the CPU runtime shares out).
  Value dqRows = tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get({seq, group * headDim}, f32),
      queryLoop.getResult(0), SmallVector<ReassociationIndices>{{0}, {1, 2}});
  Value firstRow = arith::MulIOp::create(b, loc, sample, index(seq));
  Value dqColumn = arith::MulIOp::create(b, loc, firstHead, index(headDim));
  Value kvColumn = arith::MulIOp::create(b, loc, kvHead, index(headDim));
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  SmallVector<OpFoldResult> unit(2, b.getIndexAttr(1));
  auto put = [&](Value part, Value into, Value column, int64_t width) {
    SmallVector<OpFoldResult> offsets = {firstRow, column};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(seq),
                                       b.getIndexAttr(width)};
    tensor::ParallelInsertSliceOp::create(b, loc, part, into, offsets, sizes,
                                          unit);
  };
  put(dqRows, forall.getRegionIterArgs()[0], dqColumn, group * headDim);
  put(queryLoop.getResult(1), forall.getRegionIterArgs()[1], kvColumn, headDim);
  put(queryLoop.getResult(2), forall.getRegionIterArgs()[2], kvColumn, headDim);
  return {forall.getResult(0), forall.getResult(1), forall.getResult(2)};
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
    SmallVector<growk::AttentionGradOp> gradOps;
    getOperation().walk(
        [&](growk::AttentionGradOp op) { gradOps.push_back(op); });
    for (growk::AttentionGradOp op : gradOps) {
      if (op.getNumResults() != 3) {
        op.emitOpError("growc-expand-attention runs before bufferization");
        return signalPassFailure();
      }
      OpBuilder builder(op);
      AttentionGradExpander expander(builder, op);
      auto [dq, dk, dv] = expander.expand(op);
      op.getResult(0).replaceAllUsesWith(dq);
      op.getResult(1).replaceAllUsesWith(dk);
      op.getResult(2).replaceAllUsesWith(dv);
      op.erase();
    }
  }
};

} // namespace
