//===- OptimizerOps.cpp - accumulation, clipping and AdamW ----------------===//
//
// The kernels of the optimizer step (docs/training.md). Each is
// elementwise over one parameter's shape or a reduction of one gradient
// into a [1] scalar, marked as a kernel of its own where fusing it with a
// neighbour would tie its shape to the model's depth.
//
//===----------------------------------------------------------------------===//

#include "passes/Training/OptimizerOps.h"

#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace growc;

std::pair<AffineMap, AffineMap>
OptimizerBuilder::elementMaps(mlir::RankedTensorType type) {
  unsigned rank = type.getRank();
  SmallVector<AffineExpr> all;
  for (unsigned d = 0; d < rank; ++d)
    all.push_back(dim(d));
  return {map(rank, all), map(rank, {b.getAffineConstantExpr(0)})};
}

Value OptimizerBuilder::squaredNorm(ArrayRef<Value> grads) {
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
    AffineMap id, scalar;
    std::tie(id, scalar) = elementMaps(type);
    Value sumSq = ownKernel(generic(
        {grad}, zeros({1}), {id, scalar},
        SmallVector<IteratorType>(type.getRank(), kRed),
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
  return total;
}

Value OptimizerBuilder::globalNorm(Value squaredNorm) {
  AffineMap one = map(1, {dim(0)});
  return generic({squaredNorm}, empty({1}), {one, one}, {kPar},
                 [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                   return math::SqrtOp::create(nb, l, args[0]);
                 });
}

Value OptimizerBuilder::clipCoefficient(Value norm, double maxNorm) {
  AffineMap one = map(1, {dim(0)});
  return generic(
      {norm}, empty({1}), {one, one}, {kPar},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value norm = args[0];
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

/// 1 where x is NaN or ±Inf, else 0: |x| >= inf or unordered. The CPU
/// pipeline's fast-math flags (reassoc, contract) leave this comparison
/// alone; nnan/ninf would fold it away.
static Value nonfiniteAsOne(OpBuilder &nb, Location l, Value x) {
  Value inf = arith::ConstantOp::create(
      nb, l, nb.getF32FloatAttr(std::numeric_limits<float>::infinity()));
  Value bad = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::UGE,
                                    math::AbsFOp::create(nb, l, x), inf);
  return arith::SelectOp::create(
      nb, l, bad, arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1)),
      arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0)));
}

Value OptimizerBuilder::nonfinite(Value scalar) {
  AffineMap one = map(1, {dim(0)});
  return generic({scalar}, empty({1}), {one, one}, {kPar},
                 [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                   return nonfiniteAsOne(nb, l, args[0]);
                 });
}

std::pair<Value, Value> OptimizerBuilder::skipNonfinite(Value squaredNorm,
                                                        Value lossNonfinite,
                                                        Value apply) {
  AffineMap one = map(1, {dim(0)});
  Value flag = generic(
      {squaredNorm, lossNonfinite}, empty({1}), {one, one, one}, {kPar},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value half = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0.5));
        Value lossBad = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT,
                                              args[1], half);
        return arith::SelectOp::create(
            nb, l, lossBad,
            arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1)),
            nonfiniteAsOne(nb, l, args[0]));
      });
  // The update happens where it was to (every step, or the applying
  // micro-batch) and the step is finite.
  SmallVector<Value> operands = {flag};
  if (apply)
    operands.push_back(apply);
  SmallVector<AffineMap> maps(operands.size() + 1, one);
  Value update = generic(
      operands, empty({1}), maps, {kPar},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value half = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0.5));
        Value zero = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0));
        Value wanted =
            apply ? args[1]
                  : arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1));
        Value bad = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT,
                                          args[0], half);
        return arith::SelectOp::create(nb, l, bad, zero, wanted);
      });
  return {flag, update};
}

std::tuple<Value, Value, Value>
OptimizerBuilder::adamW(Value param, Value avg, Value avgSq, Value grad,
                        Value coef, Value lr, Value step, Value apply) {
  auto type = cast<RankedTensorType>(param.getType());
  unsigned rank = type.getRank();
  // Named maps rather than bindings: the lambdas below capture them.
  AffineMap id, scalar;
  std::tie(id, scalar) = elementMaps(type);
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

std::pair<Value, Value> OptimizerBuilder::accumulateGrad(Value sum, Value grad,
                                                         int64_t microBatches,
                                                         Value apply) {
  auto type = cast<RankedTensorType>(sum.getType());
  AffineMap id, scalar;
  std::tie(id, scalar) = elementMaps(type);
  SmallVector<IteratorType> par(type.getRank(), kPar);
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
