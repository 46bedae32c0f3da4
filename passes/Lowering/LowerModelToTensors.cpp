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
// with grouped KV heads, SwiGLU MLP, tied or untied head.
//
//===----------------------------------------------------------------------===//

#include "passes/Lowering/Passes.h"

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

using utils::IteratorType;
constexpr IteratorType kPar = IteratorType::parallel;
constexpr IteratorType kRed = IteratorType::reduction;

/// Emits the tensor-level computation of one model into the current
/// insertion point.
class ForwardBuilder {
public:
  ForwardBuilder(OpBuilder &builder, Location loc, ConfigAttr config,
                 int64_t batch, int64_t seq, int64_t keyBlock)
      : b(builder), loc(loc), config(config), batch(batch), seq(seq),
        rows(batch * seq), keyBlock(std::min(keyBlock, seq)),
        f32(builder.getF32Type()) {}

  Value embed(Value tokens, Value table);
  Value rmsNorm(Value x, Value weight, double scale);
  Value matmul(Value x, Value weight);
  Value rope(Value x, int64_t heads);
  Value attention(Value q, Value k, Value v);
  Value swiglu(Value gate, Value up);
  Value add(Value lhs, Value rhs);
  /// select(position < until, ifSkipped, otherwise) row-wise; until < 0
  /// means every position.
  Value maskPositions(Value ifSkipped, Value otherwise, int64_t until);
  Value zeros(ArrayRef<int64_t> shape) { return fill(shape, 0.0); }
  /// [B·T, F] -> [B, T, F].
  Value unflatten(Value x);

private:
  Value constant(double value) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
  }
  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }
  Value empty(ArrayRef<int64_t> shape) {
    return tensor::EmptyOp::create(b, loc, shape, f32);
  }
  Value fill(ArrayRef<int64_t> shape, double value) {
    return linalg::FillOp::create(b, loc, ValueRange{constant(value)},
                                  ValueRange{empty(shape)})
        .getResult(0);
  }
  AffineMap map(unsigned dims, ArrayRef<AffineExpr> results) {
    return AffineMap::get(dims, 0, results, b.getContext());
  }
  AffineExpr dim(unsigned i) { return b.getAffineDimExpr(i); }
  /// One linalg.generic with a single output; `body` gets the block
  /// arguments (inputs, then the output) and returns the value to yield.
  Value generic(ValueRange inputs, Value init, ArrayRef<AffineMap> maps,
                ArrayRef<IteratorType> iterators,
                function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    auto op = linalg::GenericOp::create(
        b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
        iterators, /*doc=*/"", /*libraryCall=*/"",
        [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
          Value result = body(nested, nestedLoc, args);
          linalg::YieldOp::create(nested, nestedLoc, result);
        });
    return op.getResult(0);
  }
  /// The token position (row mod T) of row index `row` inside a body.
  Value positionOf(OpBuilder &nb, Location l, Value row) {
    Value seqLen = arith::ConstantIndexOp::create(nb, l, seq);
    return arith::RemUIOp::create(nb, l, row, seqLen);
  }
  Value indexToF32(OpBuilder &nb, Location l, Value i) {
    Value i64 = arith::IndexCastOp::create(nb, l, nb.getI64Type(), i);
    return arith::SIToFPOp::create(nb, l, nb.getF32Type(), i64);
  }

  OpBuilder &b;
  Location loc;
  ConfigAttr config;
  int64_t batch, seq, rows, keyBlock;
  Type f32;
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

Value ForwardBuilder::matmul(Value x, Value weight) {
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(weight.getType());
  auto type =
      RankedTensorType::get({xType.getDimSize(0), wType.getDimSize(0)}, f32);
  return growk::MatmulOp::create(b, loc, type, x, weight);
}

Value ForwardBuilder::rope(Value x, int64_t heads) {
  int64_t headDim = config.getHeadDim(), half = headDim / 2;
  double theta = config.getRopeTheta().convertToDouble();
  return generic(
      {x}, empty({rows, heads * headDim}),
      {map(2, {dim(0), dim(1)}), map(2, {dim(0), dim(1)})}, {kPar, kPar},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
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
        // inv_freq_k = 1 / theta^(2k/d), computed in fp32 as HF does.
        Value k = arith::RemUIOp::create(nb, l, i, halfIdx);
        Value exponent = arith::DivFOp::create(
            nb, l,
            indexToF32(nb, l,
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
        Value cos = math::CosOp::create(nb, l, angle);
        Value sin = math::SinOp::create(nb, l, angle);
        return arith::AddFOp::create(
            nb, l, arith::MulFOp::create(nb, l, args[0], cos),
            arith::MulFOp::create(nb, l, signedOther, sin));
      });
}

Value ForwardBuilder::attention(Value q, Value k, Value v) {
  int64_t heads = config.getHeads(), kvHeads = config.getKvHeads();
  int64_t headDim = config.getHeadDim(), group = heads / kvHeads;
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

struct LowerModelToTensorsPass
    : growc::impl::LowerModelToTensorsBase<LowerModelToTensorsPass> {
  using LowerModelToTensorsBase::LowerModelToTensorsBase;

  LogicalResult lower(ModelOp model);

  void runOnOperation() override {
    if (batch < 1 || seq < 1 || keyBlock < 1) {
      getOperation().emitError("growc-lower-model-to-tensors: batch, seq and "
                               "key-block must be positive");
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
  SmallVector<Type> inputTypes = {
      RankedTensorType::get({batch, seq}, IntegerType::get(&getContext(), 32))};
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
  ReturnOp ret = model.getReturn();
  SmallVector<Type> outputTypes;
  for (Value output : ret.getOutputs())
    outputTypes.push_back(RankedTensorType::get(
        {batch, seq, cast<RankedTensorType>(output.getType()).getDimSize(2)},
        Float32Type::get(&getContext())));

  OpBuilder builder(model);
  Location loc = model.getLoc();
  auto func =
      func::FuncOp::create(builder, loc, model.getSymName(),
                           builder.getFunctionType(inputTypes, outputTypes));
  func->setAttr("growc.param_names", builder.getArrayAttr(paramNames));
  func->setAttr("growc.param_sources", builder.getArrayAttr(paramSources));
  func->setAttr("growc.param_copies", builder.getArrayAttr(paramCopies));
  func->setAttr("growc.output_names", ret.getNames());
  func->setAttr("growc.vocab_size",
                builder.getI64IntegerAttr(config.getVocab()));
  func->setAttr("growc.batch", builder.getI64IntegerAttr(batch));
  func->setAttr("growc.seq", builder.getI64IntegerAttr(seq));
  Block *entry = func.addEntryBlock();
  builder.setInsertionPointToStart(entry);

  llvm::StringMap<Value> paramValues;
  for (auto [param, arg] :
       llvm::zip(params, entry->getArguments().drop_front()))
    paramValues[param.getSymName()] = arg;
  ForwardBuilder fb(builder, loc, config, batch, seq, keyBlock);
  DenseMap<Value, Value> lowered; // grow value -> [B·T, F] tensor

  for (Operation &op : model.getBodyBlock()) {
    if (auto embed = dyn_cast<EmbedOp>(op)) {
      lowered[embed.getOutput()] =
          fb.embed(entry->getArgument(0), paramValues[embed.getWeight()]);
    } else if (auto norm = dyn_cast<RMSNormOp>(op)) {
      lowered[norm.getOutput()] = fb.rmsNorm(lowered[norm.getInput()],
                                             paramValues[norm.getWeight()], 1);
    } else if (auto head = dyn_cast<LMHeadOp>(op)) {
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
        Value q = fb.matmul(n1, param("self_attn.q_proj.weight"));
        Value k = fb.matmul(n1, param("self_attn.k_proj.weight"));
        Value v = fb.matmul(n1, param("self_attn.v_proj.weight"));
        q = fb.rope(q, config.getHeads());
        k = fb.rope(k, config.getKvHeads());
        attnOut =
            fb.matmul(fb.attention(q, k, v), param("self_attn.o_proj.weight"));
        Value mid = fb.add(h, attnOut);
        Value n2 =
            fb.rmsNorm(mid, param("post_attention_layernorm.weight"), scale);
        Value gated = fb.swiglu(fb.matmul(n2, param("mlp.gate_proj.weight")),
                                fb.matmul(n2, param("mlp.up_proj.weight")));
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
      for (Value output : ret.getOutputs())
        results.push_back(fb.unflatten(lowered[output]));
      func::ReturnOp::create(builder, loc, results);
    }
  }
  model.erase();
  return success();
}

} // namespace
