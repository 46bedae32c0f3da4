//===- GradientOps.cpp - the tensor-level VJPs of the forward's pieces ----===//
//
// What growc-differentiate-model builds the backward from: the VJPs of
// RMSNorm, RoPE, SwiGLU, attention and the embedding lookup, each the
// tensor-level rule a grow op's VJP rule (dialects/Grow/GrowVjp.cpp) asks
// for through its VjpContext.
//
//===----------------------------------------------------------------------===//

#include "passes/Lowering/TensorOps.h"

#include "dialects/Kernel/KernelOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace growc;

/// The embedding gradient's blocks: ranges of vocabulary rows (enough for
/// a GPU's SMs, few enough that re-reading the tokens stays cheap).
constexpr int64_t kEmbedGradRanges = 256;
/// The atomic embedding gradient's blocks: this many tokens each (8,192
/// tokens: 512 blocks, enough to fill a GPU; each block's token loop
/// stays short).
constexpr int64_t kEmbedGradTokensPerBlock = 16;

std::pair<Value, Value> ModelTensorBuilder::rmsNormGrad(Value x, Value weight,
                                                        double scale, Value dy,
                                                        Value residual) {
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
  SmallVector<Value> dxInputs = {dy, weight, x, inverseRms, gDotX};
  SmallVector<AffineMap> dxMaps = {id, col, id, row, row, id};
  if (residual) {
    dxInputs.push_back(residual);
    dxMaps.insert(dxMaps.end() - 1, id);
  }
  Value dx = generic(
      dxInputs, empty({rows, hidden}), dxMaps, {kPar, kPar},
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
        Value grad = arith::SubFOp::create(
            nb, l, arith::MulFOp::create(nb, l, r, g), correction);
        return residual ? Value(arith::AddFOp::create(nb, l, args[5], grad))
                        : grad;
      });
  if (normGradColumnSum) {
    // dw = Σ_rows r·s·dy∘x as a reduction over the rows (d0) into the
    // columns: it stays in the dx kernel, and the GPU's distribution sums
    // each block's rows into a partial and the last block the partials
    // (growc-distribute-kernels), so P is never written.
    Value dw = generic(
        {dy, x, inverseRms}, zeros({hidden}), {id, id, row, col}, {kRed, kPar},
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          Value p =
              scaled(nb, l, arith::MulFOp::create(nb, l, args[0], args[1]));
          return arith::AddFOp::create(
              nb, l, arith::MulFOp::create(nb, l, args[2], p), args[3]);
        });
    return {dx, dw};
  }
  // The CPU's form: dw = Σ_rows r·(s·dy·x) = rᵀ · P, P = s·dy∘x, a GEMM
  // ([1, rows] · [rows, D]) over a product the dx kernel writes alongside
  // dx. A column sum in the dx kernel needs the GPU's last-block combine;
  // a CPU row kernel (one block per row, blocks shared over threads) would
  // make it a kernel of its own in two launches.
  Value product = generic(
      {dy, x}, empty({rows, hidden}), {id, id, id}, {kPar, kPar},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return scaled(nb, l, arith::MulFOp::create(nb, l, args[0], args[1]));
      });
  Value inverseRmsRow = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({1, rows}, f32), inverseRms,
      ArrayRef<ReassociationIndices>{{0, 1}});
  Value dw = tensor::CollapseShapeOp::create(
      b, loc, matmulInputGrad(inverseRmsRow, product),
      ArrayRef<ReassociationIndices>{{0, 1}});
  return {dx, dw};
}

Value ModelTensorBuilder::ropeGrad(Value dy, int64_t heads) {
  return rope(dy, heads, /*inverse=*/true);
}

std::pair<Value, Value> ModelTensorBuilder::swigluGrad(Value gate, Value up,
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

Value ModelTensorBuilder::swigluHalvesGrad(Value gateUp, Value dout) {
  auto type = cast<RankedTensorType>(gateUp.getType());
  int64_t width = type.getDimSize(1) / 2;
  // Column j of the result is dgate_j (j < width) or dup_{j - width}; both
  // read gate, up and dout at column j mod width.
  AffineExpr column = dim(1) % width;
  return generic(
      {gateUp, gateUp, dout}, empty(type.getShape()),
      {map(2, {dim(0), column}), map(2, {dim(0), column + width}),
       map(2, {dim(0), column}), map(2, {dim(0), dim(1)})},
      {kPar, kPar}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value g = args[0], up = args[1], dy = args[2];
        Value one = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1));
        Value s = arith::DivFOp::create(
            nb, l, one,
            arith::AddFOp::create(
                nb, l, one,
                math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, g))));
        // silu'(g) = σ(g)·(1 + g·(1 - σ(g))); silu(g) = g·σ(g).
        Value derivative = arith::MulFOp::create(
            nb, l, s,
            arith::AddFOp::create(
                nb, l, one,
                arith::MulFOp::create(nb, l, g,
                                      arith::SubFOp::create(nb, l, one, s))));
        Value dgate = arith::MulFOp::create(
            nb, l, arith::MulFOp::create(nb, l, dy, up), derivative);
        Value dup = arith::MulFOp::create(nb, l, dy,
                                          arith::MulFOp::create(nb, l, g, s));
        Value isGate = arith::CmpIOp::create(
            nb, l, arith::CmpIPredicate::ult, linalg::IndexOp::create(nb, l, 1),
            arith::ConstantIndexOp::create(nb, l, width));
        return arith::SelectOp::create(nb, l, isGate, dgate, dup);
      });
}

Value ModelTensorBuilder::qkvGrad(Value dqRoped, Value dkRoped, Value dv) {
  int64_t headDim = config.getHeadDim(), half = headDim / 2;
  int64_t qWidth = cast<RankedTensorType>(dqRoped.getType()).getDimSize(1);
  int64_t kvWidth = cast<RankedTensorType>(dkRoped.getType()).getDimSize(1);
  // Column j of [dq | dk | dv]: q's heads, then k's, then v's, each block
  // a whole number of heads, so j mod hd is the position in j's head in
  // every block, and (as heads is a multiple of kv_heads) j mod K is j's
  // column within the k block and within the v block.
  AffineExpr angleIndex = (dim(1) % headDim) % half;
  return generic(
      {dqRoped, dkRoped, dv, ropeCos, ropeSin},
      empty({rows, qWidth + 2 * kvWidth}),
      {map(2, {dim(0), dim(1) % qWidth}), map(2, {dim(0), dim(1) % kvWidth}),
       map(2, {dim(0), dim(1) % kvWidth}), map(2, {dim(0), angleIndex}),
       map(2, {dim(0), angleIndex}), map(2, {dim(0), dim(1)})},
      {kPar, kPar}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        auto index = [&](int64_t v) {
          return arith::ConstantIndexOp::create(nb, l, v);
        };
        auto below = [&](Value a, int64_t bound) -> Value {
          return arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, a,
                                       index(bound));
        };
        Value row = linalg::IndexOp::create(nb, l, 0);
        Value col = linalg::IndexOp::create(nb, l, 1);
        Value inQ = below(col, qWidth);
        Value inK = below(col, qWidth + kvWidth);
        Value low =
            below(arith::RemUIOp::create(nb, l, col, index(headDim)), half);
        // The rotation's partner, i ± d/2 in the same head and block.
        Value partner = arith::SelectOp::create(
            nb, l, low, arith::AddIOp::create(nb, l, col, index(half)),
            arith::SubIOp::create(nb, l, col, index(half)));
        Value fromQ = tensor::ExtractOp::create(
            nb, l, dqRoped,
            ValueRange{row,
                       arith::RemUIOp::create(nb, l, partner, index(qWidth))});
        Value fromK = tensor::ExtractOp::create(
            nb, l, dkRoped,
            ValueRange{row,
                       arith::RemUIOp::create(nb, l, partner, index(kvWidth))});
        Value x = arith::SelectOp::create(nb, l, inQ, args[0], args[1]);
        Value other = arith::SelectOp::create(nb, l, inQ, fromQ, fromK);
        Value signedOther = arith::SelectOp::create(
            nb, l, low, arith::NegFOp::create(nb, l, other), other);
        // The inverse rotation: the angle's sine negated.
        Value rotated = arith::SubFOp::create(
            nb, l, arith::MulFOp::create(nb, l, x, args[3]),
            arith::MulFOp::create(nb, l, signedOther, args[4]));
        return arith::SelectOp::create(nb, l, inK, rotated, args[2]);
      });
}

std::tuple<Value, Value, Value>
ModelTensorBuilder::attentionGrad(Value q, Value k, Value v, Value o,
                                  Value dout) {
  auto qType = cast<RankedTensorType>(q.getType());
  auto kvType = cast<RankedTensorType>(k.getType());
  auto grad = growk::AttentionGradOp::create(
      b, loc, TypeRange{qType, kvType, kvType}, q, k, v, o, dout,
      empty(qType.getShape()), empty(kvType.getShape()),
      empty(kvType.getShape()), /*lse=*/Value(), config.getHeads(),
      config.getKvHeads(), seq, keyBlock);
  return {grad.getResult(0), grad.getResult(1), grad.getResult(2)};
}

/// A kernel of its own that is `count` blocks, each updating its part of
/// `init` (the embedding gradient's two forms).
static scf::ForallOp createBlockLoop(OpBuilder &b, Location loc, int64_t count,
                                     Value init) {
  auto forall =
      scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
                            ArrayRef<OpFoldResult>{b.getIndexAttr(count)},
                            ArrayRef<OpFoldResult>{b.getIndexAttr(1)},
                            ValueRange{init}, std::nullopt);
  forall->setAttr(attr::kOwnKernel, b.getUnitAttr());
  return forall;
}

Value ModelTensorBuilder::addEmbeddingRow(Location l, Value table,
                                          Value tableRow, Value rows, Value row,
                                          Value add, bool atomic) {
  int64_t hidden = config.getHidden();
  auto rowType = RankedTensorType::get({1, hidden}, f32);
  auto branch = scf::IfOp::create(b, l, TypeRange{table.getType()}, add,
                                  /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(branch.thenBlock());
  auto rowAt = [&](Value at) {
    return std::make_tuple(
        SmallVector<OpFoldResult>{at, b.getIndexAttr(0)},
        SmallVector<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(hidden)},
        SmallVector<OpFoldResult>(2, b.getIndexAttr(1)));
  };
  auto [tableAt, rowSizes, strides] = rowAt(tableRow);
  Value current = tensor::ExtractSliceOp::create(b, l, rowType, table, tableAt,
                                                 rowSizes, strides);
  auto [inputAt, inputSizes, inputStrides] = rowAt(row);
  Value input = tensor::ExtractSliceOp::create(b, l, rowType, rows, inputAt,
                                               inputSizes, inputStrides);
  AffineMap id = map(2, {dim(0), dim(1)});
  Value sum =
      generic({input}, current, {id, id}, {kPar, kPar},
              [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
                return arith::AddFOp::create(nb, nl, args[0], args[1]);
              });
  if (atomic)
    sum.getDefiningOp()->setAttr(attr::kAtomicAdd, b.getUnitAttr());
  scf::YieldOp::create(b, l,
                       ValueRange{tensor::InsertSliceOp::create(
                           b, l, sum, table, tableAt, rowSizes, strides)});
  b.setInsertionPointToStart(branch.elseBlock());
  scf::YieldOp::create(b, l, table);
  return branch.getResult(0);
}

Value ModelTensorBuilder::embedGrad(Value tokens, Value dEmbedded) {
  if (atomicEmbedGrad)
    return embedGradAtomic(tokens, dEmbedded);
  int64_t vocab = config.getVocab(), hidden = config.getHidden();
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
  scf::ForallOp forall =
      createBlockLoop(b, loc, ranges, empty({vocab, hidden}));
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
        scf::YieldOp::create(b, l,
                             addEmbeddingRow(l, acc[0], local, dEmbedded, n,
                                             inRange, /*atomic=*/false));
      });
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(
      b, loc, loop.getResult(0), forall.getRegionIterArgs()[0],
      ArrayRef<OpFoldResult>{first, b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{size, b.getIndexAttr(hidden)}, unit());
  return forall.getResult(0);
}

Value ModelTensorBuilder::embedGradAtomic(Value tokens, Value dEmbedded) {
  int64_t vocab = config.getVocab(), hidden = config.getHidden();
  // Work proportional to the tokens, O(B·T·D), whatever their ids: block i
  // takes tokens [16i, 16i + 16) and adds each one's row of dEmbedded into
  // its table row with atomic adds (growc.atomic_add), since blocks (and
  // the tokens of one block) may share an id; one id for every token
  // serialises the adds on one row but stays exact up to their order. The
  // table starts from zeros, a kernel of its own (one writer per element,
  // before the adds), or from the gradient the table already has
  // (accumulateEmbedGrad). The order of the adds, hence the sum's low bits,
  // depends on timing.
  AffineMap id = map(2, {dim(0), dim(1)});
  Value zeros =
      generic({}, empty({vocab, hidden}), {id}, {kPar, kPar},
              [&](OpBuilder &nb, Location l, ValueRange) -> Value {
                return arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0));
              });
  // Not a linalg.fill: kernel formation would move a fill into the kernel
  // it initialises, where it would race with the other blocks' adds.
  zeros.getDefiningOp()->setAttr(attr::kOwnKernel, b.getUnitAttr());
  // At least two blocks: the canonicalizer folds a one-iteration forall
  // into its body, which would leave no block loop to distribute.
  int64_t blocks =
      std::max<int64_t>(2, llvm::divideCeil(rows, kEmbedGradTokensPerBlock));
  scf::ForallOp forall = createBlockLoop(b, loc, blocks, zeros);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  Value first = arith::MulIOp::create(b, loc, forall.getInductionVar(0),
                                      index(kEmbedGradTokensPerBlock));
  // The last block may have fewer tokens (none, in a second block of
  // fewer than 16 tokens).
  Value count = arith::SelectOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, first,
                            index(rows)),
      arith::MinUIOp::create(b, loc, index(kEmbedGradTokensPerBlock),
                             arith::SubIOp::create(b, loc, index(rows), first)),
      index(0));
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, tokens, ArrayRef<ReassociationIndices>{{0, 1}});
  // The block's ids, read once into a per-block buffer (shared memory on
  // the GPU) instead of by every thread at every token; past the last
  // token, copies of it that the loop does not reach.
  Type i32 = b.getI32Type();
  Value ids = generic(
      {}, tensor::EmptyOp::create(b, loc, {kEmbedGradTokensPerBlock}, i32),
      {map(1, {dim(0)})}, {kPar},
      [&](OpBuilder &nb, Location l, ValueRange) -> Value {
        Value n = arith::MinUIOp::create(
            nb, l,
            arith::AddIOp::create(nb, l, first,
                                  linalg::IndexOp::create(nb, l, 0)),
            arith::ConstantIndexOp::create(nb, l, rows - 1));
        return tensor::ExtractOp::create(nb, l, flat, ValueRange{n});
      });
  Value table = forall.getRegionIterArgs()[0];
  auto loop = scf::ForOp::create(
      b, loc, index(0), count, index(1), ValueRange{table},
      [&](OpBuilder &lb, Location l, Value i, ValueRange acc) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(lb.getInsertionBlock(), lb.getInsertionPoint());
        Value n = arith::AddIOp::create(b, l, first, i);
        Value token = arith::IndexCastOp::create(
            b, l, b.getIndexType(),
            tensor::ExtractOp::create(b, l, ids, ValueRange{i}));
        // An id outside the table (unsigned: negative ones too) adds
        // nothing, as in the CPU's form.
        Value inTable = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult,
                                              token, index(vocab));
        scf::YieldOp::create(b, l,
                             addEmbeddingRow(l, acc[0], token, dEmbedded, n,
                                             inTable, /*atomic=*/true));
      });
  // Every block's adds land in the one table, in place (bufferization
  // keeps the shared output's buffer); the insert of the whole table is
  // what the forall's form asks for and moves nothing.
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(
      b, loc, loop.getResult(0), table,
      ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(vocab), b.getIndexAttr(hidden)},
      SmallVector<OpFoldResult>(2, b.getIndexAttr(1)));
  return forall.getResult(0);
}

Value ModelTensorBuilder::accumulateEmbedGrad(Value grad, Value acc) {
  auto forall = grad.getDefiningOp<scf::ForallOp>();
  if (!forall || !forall->hasAttr(attr::kOwnKernel) ||
      forall.getOutputs().size() != 1 || acc.getType() != grad.getType())
    return Value();
  auto zeros = forall.getOutputs()[0].getDefiningOp<linalg::GenericOp>();
  if (!zeros || !zeros->hasAttr(attr::kOwnKernel) || !zeros->hasOneUse() ||
      zeros.getNumDpsInputs() != 0)
    return Value();
  // `acc` must be available where the table's zeros were.
  if (Operation *def = acc.getDefiningOp();
      def &&
      (def->getBlock() != zeros->getBlock() || !def->isBeforeInBlock(zeros)))
    return Value();
  forall.getOutputsMutable()[0].assign(acc);
  Value empty = zeros.getDpsInitOperand(0)->get();
  zeros->erase();
  if (Operation *def = empty.getDefiningOp(); def && def->use_empty())
    def->erase();
  return grad;
}
