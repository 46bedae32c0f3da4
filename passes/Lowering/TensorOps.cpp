//===- TensorOps.cpp - the forward's tensor-level building blocks ---------===//
//
// Semantics follow Hugging Face Llama: RMSNorm in fp32 (x · rsqrt(mean x² +
// eps) · w), rotate-half RoPE with inv_freq = 1 / θ^(2k/d) (rescaled by the
// config's linear or llama3 rope_scaling), causal attention
// with grouped KV heads (a growk.attention op, expanded per target), SwiGLU
// MLP. Projections are growk.matmul library calls; everything else is
// linalg.generic on tensors, written so the fusion and bufferization passes
// downstream see plain elementwise ops and reductions.
//
//===----------------------------------------------------------------------===//

#include "passes/Lowering/TensorOps.h"

#include "dialects/Kernel/KernelOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace growc;

Value ModelTensorBuilder::embed(Value tokens, Value table) {
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, tokens, ArrayRef<ReassociationIndices>{{0, 1}});
  int64_t hidden = config.getHidden();
  int64_t vocab = cast<RankedTensorType>(table.getType()).getDimSize(0);
  return generic(
      {flat}, empty({rows, hidden}),
      {map(2, {dim(0)}), map(2, {dim(0), dim(1)})}, {kPar, kPar},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        // The token buffer is data: the runtime checks tokens before a run,
        // but a kernel must not address memory by a value it loaded. The
        // row is the token clamped, as an unsigned value, to the last row
        // (negative ids too): one op, and rows of valid tokens unchanged
        // (docs/codegen.md).
        Value last =
            arith::ConstantOp::create(nb, l, nb.getI32IntegerAttr(vocab - 1));
        Value token = arith::MinUIOp::create(nb, l, args[0], last);
        Value row = arith::IndexCastOp::create(nb, l, nb.getIndexType(), token);
        Value col = linalg::IndexOp::create(nb, l, 1);
        return tensor::ExtractOp::create(nb, l, table, ValueRange{row, col});
      });
}

Value ModelTensorBuilder::rmsNorm(Value x, Value weight, double scale) {
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

Value ModelTensorBuilder::matmul(Value x, Value weight, Value acc) {
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(weight.getType());
  auto type =
      RankedTensorType::get({xType.getDimSize(0), wType.getDimSize(0)}, f32);
  return growk::MatmulOp::create(b, loc, type, x, weight, acc);
}

void ModelTensorBuilder::buildRopeTables() {
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
          if (grow::RopeScalingAttr scaling = config.getRopeScaling())
            invFreq = scaleInvFreq(nb, l, invFreq, scaling);
          Value angle = arith::MulFOp::create(
              nb, l, indexToF32(nb, l, positionOf(nb, l, row)), invFreq);
          return isCos ? Value(math::CosOp::create(nb, l, angle))
                       : Value(math::SinOp::create(nb, l, angle));
        });
  };
  ropeCos = table(true);
  ropeSin = table(false);
}

Value ModelTensorBuilder::scaleInvFreq(OpBuilder &nb, Location l, Value invFreq,
                                       grow::RopeScalingAttr scaling) {
  // fp32 throughout, as transformers computes inv_freq (modeling_rope_utils).
  auto f32Const = [&](double value) -> Value {
    return arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(value));
  };
  double factor = scaling.getFactor().convertToDouble();
  Value divided = arith::DivFOp::create(nb, l, invFreq, f32Const(factor));
  if (scaling.isLinear())
    return divided;
  // llama3: by wavelength 2π / inv_freq, keep the high frequencies, divide
  // the low ones by the factor and blend the band between.
  double low = scaling.getLowFreqFactor().convertToDouble();
  double high = scaling.getHighFreqFactor().convertToDouble();
  double original = double(scaling.getOriginalContext());
  Value wavelen =
      arith::DivFOp::create(nb, l, f32Const(2.0 * llvm::numbers::pi), invFreq);
  // s = (original / wavelen - low) / (high - low)
  Value smooth = arith::DivFOp::create(
      nb, l,
      arith::SubFOp::create(
          nb, l, arith::DivFOp::create(nb, l, f32Const(original), wavelen),
          f32Const(low)),
      f32Const(high - low));
  // (1 - s) · inv_freq / factor + s · inv_freq
  Value blended = arith::AddFOp::create(
      nb, l,
      arith::MulFOp::create(
          nb, l, arith::SubFOp::create(nb, l, f32Const(1.0), smooth), divided),
      arith::MulFOp::create(nb, l, smooth, invFreq));
  Value isLow = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, wavelen,
                                      f32Const(original / low));
  Value isHigh = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OLT,
                                       wavelen, f32Const(original / high));
  return arith::SelectOp::create(
      nb, l, isLow, divided,
      arith::SelectOp::create(nb, l, isHigh, invFreq, blended));
}

Value ModelTensorBuilder::rope(Value x, int64_t heads, bool inverse,
                               int64_t column) {
  int64_t headDim = config.getHeadDim(), half = headDim / 2;
  int64_t width = heads * headDim;
  // Element i of a head rotates with angle k = i mod d/2.
  AffineExpr angleIndex = (dim(1) % headDim) % half;
  // A block of a wider tensor is read element by element (tensor.extract):
  // as an operand its identity map would make its width the loop's range.
  bool block =
      column != 0 || cast<RankedTensorType>(x.getType()).getDimSize(1) != width;
  SmallVector<Value> inputs = {ropeCos, ropeSin};
  SmallVector<AffineMap> maps = {map(2, {dim(0), angleIndex}),
                                 map(2, {dim(0), angleIndex}),
                                 map(2, {dim(0), dim(1)})};
  if (!block) {
    inputs.insert(inputs.begin(), x);
    maps.insert(maps.begin(), map(2, {dim(0), dim(1)}));
  }
  return generic(
      inputs, empty({rows, width}), maps, {kPar, kPar},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value row = linalg::IndexOp::create(nb, l, 0);
        Value col = linalg::IndexOp::create(nb, l, 1);
        Value hd = arith::ConstantIndexOp::create(nb, l, headDim);
        Value halfIdx = arith::ConstantIndexOp::create(nb, l, half);
        Value first = arith::ConstantIndexOp::create(nb, l, column);
        Value i = arith::RemUIOp::create(nb, l, col, hd);
        Value low =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, i, halfIdx);
        // rotate_half pairs element i with i ± d/2 of the same head.
        Value partner = arith::SelectOp::create(
            nb, l, low, arith::AddIOp::create(nb, l, col, halfIdx),
            arith::SubIOp::create(nb, l, col, halfIdx));
        Value element =
            block ? Value(tensor::ExtractOp::create(
                        nb, l, x,
                        ValueRange{row,
                                   arith::AddIOp::create(nb, l, col, first)}))
                  : args[0];
        Value other = tensor::ExtractOp::create(
            nb, l, x,
            ValueRange{
                row, block ? Value(arith::AddIOp::create(nb, l, partner, first))
                           : partner});
        Value signedOther = arith::SelectOp::create(
            nb, l, low, arith::NegFOp::create(nb, l, other), other);
        Value cos = args[block ? 0 : 1], sin = args[block ? 1 : 2];
        if (inverse)
          sin = arith::NegFOp::create(nb, l, sin);
        return arith::AddFOp::create(
            nb, l, arith::MulFOp::create(nb, l, element, cos),
            arith::MulFOp::create(nb, l, signedOther, sin));
      });
}

Value ModelTensorBuilder::concatRows(ValueRange weights) {
  return tensor::ConcatOp::create(b, loc, /*dim=*/0, weights);
}

Value ModelTensorBuilder::rowBlock(Value x, int64_t first, int64_t count) {
  auto type = cast<RankedTensorType>(x.getType());
  return tensor::ExtractSliceOp::create(
      b, loc, x,
      ArrayRef<OpFoldResult>{b.getIndexAttr(first), b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(count),
                             b.getIndexAttr(type.getDimSize(1))},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
}

Value ModelTensorBuilder::columns(Value x, int64_t first, int64_t width) {
  int64_t n = cast<RankedTensorType>(x.getType()).getDimSize(0);
  return generic(
      {x}, empty({n, width}),
      {map(2, {dim(0), dim(1) + first}), map(2, {dim(0), dim(1)})},
      {kPar, kPar},
      [&](OpBuilder &, Location, ValueRange args) -> Value { return args[0]; });
}

Value ModelTensorBuilder::swigluHalves(Value gateUp) {
  auto type = cast<RankedTensorType>(gateUp.getType());
  int64_t width = type.getDimSize(1) / 2;
  // Both halves read element by element: as an operand, gateUp's identity
  // map would make its whole width the loop's range.
  return generic(
      {}, empty({type.getDimSize(0), width}), {map(2, {dim(0), dim(1)})},
      {kPar, kPar}, [&](OpBuilder &nb, Location l, ValueRange) -> Value {
        Value row = linalg::IndexOp::create(nb, l, 0);
        Value col = linalg::IndexOp::create(nb, l, 1);
        Value g =
            tensor::ExtractOp::create(nb, l, gateUp, ValueRange{row, col});
        Value up = tensor::ExtractOp::create(
            nb, l, gateUp,
            ValueRange{row, arith::AddIOp::create(
                                nb, l, col,
                                arith::ConstantIndexOp::create(nb, l, width))});
        // silu(g) = g / (1 + e^-g)
        Value one = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1));
        Value denom = arith::AddFOp::create(
            nb, l, one,
            math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, g)));
        Value silu = arith::DivFOp::create(nb, l, g, denom);
        return arith::MulFOp::create(nb, l, silu, up);
      });
}

Value ModelTensorBuilder::attention(Value q, Value k, Value v) {
  auto type = cast<RankedTensorType>(q.getType());
  return growk::AttentionOp::create(b, loc, TypeRange{type}, q, k, v,
                                    empty(type.getShape()),
                                    /*lse_init=*/Value(), config.getHeads(),
                                    config.getKvHeads(), seq, keyBlock)
      .getResult()[0];
}

Value ModelTensorBuilder::swiglu(Value gate, Value up) {
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

Value ModelTensorBuilder::matmulInputGrad(Value dy, Value weight, Value acc) {
  auto dyType = cast<RankedTensorType>(dy.getType());
  auto wType = cast<RankedTensorType>(weight.getType());
  auto type =
      RankedTensorType::get({dyType.getDimSize(0), wType.getDimSize(1)}, f32);
  return growk::MatmulOp::create(b, loc, type, dy, weight, acc,
                                 /*transposeLhs=*/false,
                                 /*transposeRhs=*/false);
}

Value ModelTensorBuilder::matmulWeightGrad(Value dy, Value x, Value acc) {
  auto dyType = cast<RankedTensorType>(dy.getType());
  auto xType = cast<RankedTensorType>(x.getType());
  auto type =
      RankedTensorType::get({dyType.getDimSize(1), xType.getDimSize(1)}, f32);
  return growk::MatmulOp::create(b, loc, type, dy, x, acc,
                                 /*transposeLhs=*/true,
                                 /*transposeRhs=*/false);
}

Value ModelTensorBuilder::add(Value lhs, Value rhs) {
  auto type = cast<RankedTensorType>(lhs.getType());
  AffineMap id = map(2, {dim(0), dim(1)});
  return generic({lhs, rhs}, empty(type.getShape()), {id, id, id}, {kPar, kPar},
                 [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                   return arith::AddFOp::create(nb, l, args[0], args[1]);
                 });
}

Value ModelTensorBuilder::maskPositions(Value ifSkipped, Value otherwise,
                                        const PositionMask &mask) {
  if (mask.until < 0 && !mask.split)
    return ifSkipped;
  auto type = cast<RankedTensorType>(otherwise.getType());
  AffineMap id = map(2, {dim(0), dim(1)});
  return generic(
      {ifSkipped, otherwise}, empty(type.getShape()), {id, id, id},
      {kPar, kPar}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value row = linalg::IndexOp::create(nb, l, 0);
        Value pos = positionOf(nb, l, row);
        Value bound;
        if (mask.split) {
          // The split is only compared with, never used as an address, so
          // a bad value skips too much or too little but reads nothing
          // outside a buffer.
          Value seqLen = arith::ConstantIndexOp::create(nb, l, seq);
          Value batchRow = arith::DivUIOp::create(nb, l, row, seqLen);
          Value split = tensor::ExtractOp::create(nb, l, mask.split,
                                                  ValueRange{batchRow});
          bound = arith::IndexCastOp::create(nb, l, nb.getIndexType(), split);
        } else {
          bound = arith::ConstantIndexOp::create(nb, l, mask.until);
        }
        Value skipped =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, pos, bound);
        if (mask.from > 0)
          skipped = arith::AndIOp::create(
              nb, l, skipped,
              arith::CmpIOp::create(
                  nb, l, arith::CmpIPredicate::uge, pos,
                  arith::ConstantIndexOp::create(nb, l, mask.from)));
        return arith::SelectOp::create(nb, l, skipped, args[0], args[1]);
      });
}

Value ModelTensorBuilder::unflatten(Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  auto out = RankedTensorType::get({batch, seq, type.getDimSize(1)}, f32);
  return tensor::ExpandShapeOp::create(
      b, loc, out, x, ArrayRef<ReassociationIndices>{{0, 1}, {2}});
}
