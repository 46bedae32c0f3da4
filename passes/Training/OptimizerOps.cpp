//===- OptimizerOps.cpp - gradient accumulation and the loss flag ---------===//
//
// The kernels a train step builds before its growk.adamw (docs/training.md):
// each micro-batch's share of the running gradient sum, elementwise over
// one parameter's shape and a kernel of its own (fused with a neighbour it
// would tie its shape to the model's depth), and the loss's non-finite
// flag.
//
//===----------------------------------------------------------------------===//

#include "passes/Training/OptimizerOps.h"

#include "mlir/Dialect/Math/IR/Math.h"

#include <limits>

using namespace mlir;
using namespace growc;

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

Value OptimizerBuilder::accumulateGrad(Value sum, Value grad,
                                       int64_t microBatches) {
  auto type = cast<RankedTensorType>(sum.getType());
  AffineMap id = b.getMultiDimIdentityMap(type.getRank());
  // The mean over micro-batches of their mean losses' gradients.
  return ownKernel(generic(
      {sum, grad}, empty(type.getShape()), {id, id, id},
      SmallVector<IteratorType>(type.getRank(), kPar),
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value scale = arith::ConstantOp::create(
            nb, l, nb.getF32FloatAttr(1.0 / double(microBatches)));
        return arith::AddFOp::create(
            nb, l, args[0], arith::MulFOp::create(nb, l, args[1], scale));
      }));
}
