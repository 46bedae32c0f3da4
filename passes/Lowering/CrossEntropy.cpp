//===- CrossEntropy.cpp - the LM head's chunked cross-entropy -------------===//
//
// The loss of the loss, grad and train graphs: the mean cross-entropy of the
// LM head's logits, taken a chunk of vocabulary rows at a time (running max
// and sum of exponentials per row) so that the [B·T, V] logits never exist,
// and for the grad graph its gradients (the seed of the reverse pass).
//
//===----------------------------------------------------------------------===//

#include "passes/Lowering/TensorOps.h"

#include "dialects/Kernel/KernelOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;
using namespace growc;

/// The automatic vocabulary chunk (vocab-chunk=0): fp32 logits [B·T, V] of
/// up to kWholeLogitBytes stay one chunk, since recomputing chunks for the
/// gradient costs up to one more head GEMM (+4% of a SmolLM-135M train
/// step, +15% at 2 layers, docs/training.md), not worth it for logits this
/// small next to the weights, moments and activations of a step. Larger
/// logits are chunked to at most kChunkLogitBytes per chunk.
constexpr int64_t kWholeLogitBytes = int64_t(256) << 20;
constexpr int64_t kChunkLogitBytes = int64_t(64) << 20;

ModelTensorBuilder::HeadLoss
ModelTensorBuilder::headCrossEntropy(Value normed, Value weight, Value targets,
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
