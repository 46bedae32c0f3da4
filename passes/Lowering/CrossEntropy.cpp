//===- CrossEntropy.cpp - the LM head's cross-entropy in blocks of rows ---===//
//
// The loss of the loss, grad and train graphs: the mean cross-entropy of the
// LM head's logits, taken a block of token rows at a time so that the
// [B·T, V] logits never exist when they are large, and for the grad graph
// its gradients (the seed of the reverse pass). Each block's logits are
// computed once: one kernel per block derives the loss and the logit
// gradient from them, and the two gradient GEMMs consume it before the next
// block starts (llm.c's fused classifier, per block).
//
//===----------------------------------------------------------------------===//

#include "passes/Lowering/TensorOps.h"

#include "dialects/Kernel/KernelOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;
using namespace growc;

/// The automatic block (loss-rows=0): every block's fp32 logits [R, V] fit
/// in kBlockLogitBytes, so logits of up to that size are one block, the
/// whole batch. A block costs four graph nodes (the logit GEMM, its kernel
/// and the two gradient GEMMs) and holds its logits and their gradient
/// while it runs; at 256 MiB SmolLM-135M at B·T = 8192 takes 7 blocks (28
/// nodes, ≤ 512 MiB live next to a 9.5 GB arena) where 64 MiB would take 26
/// (104 nodes) to save 384 MiB.
constexpr int64_t kBlockLogitBytes = int64_t(256) << 20;

int64_t ModelTensorBuilder::lossBlockRows(int64_t vocab) const {
  if (lossRows > 0)
    return std::min(lossRows, rows);
  int64_t fit = std::max<int64_t>(1, kBlockLogitBytes / (vocab * 4));
  if (fit >= rows)
    return rows;
  // The fewest blocks that fit, then the smallest multiple of 64 rows
  // (GEMM-friendly) that covers the batch in that many: same node count as
  // the largest fitting multiple, less memory, a fuller last block.
  int64_t align = fit >= 64 ? 64 : 1;
  int64_t numBlocks = llvm::divideCeil(rows, fit / align * align);
  return llvm::alignTo(llvm::divideCeil(rows, numBlocks), align);
}

ModelTensorBuilder::HeadLoss
ModelTensorBuilder::headCrossEntropy(Value normed, Value weight, Value targets,
                                     bool withGrads) {
  auto weightType = cast<RankedTensorType>(weight.getType());
  int64_t vocab = weightType.getDimSize(0), hidden = weightType.getDimSize(1);
  int64_t block = lossBlockRows(vocab);
  int64_t numBlocks = llvm::divideCeil(rows, block);
  auto blockSize = [&](int64_t r) { return std::min(block, rows - r * block); };
  // Rows [r·R, r·R + size) of a [B·T, D] matrix: contiguous, so the plan
  // addresses them as their buffer plus an offset (a GEMM operand or
  // output; growc-form-kernels keeps such slices on the host).
  auto blockWindow = [&](int64_t r) {
    return std::make_tuple(
        SmallVector<OpFoldResult>{b.getIndexAttr(r * block), b.getIndexAttr(0)},
        SmallVector<OpFoldResult>{b.getIndexAttr(blockSize(r)),
                                  b.getIndexAttr(hidden)},
        SmallVector<OpFoldResult>(2, b.getIndexAttr(1)));
  };
  auto normedRows = [&](int64_t r) -> Value {
    if (numBlocks == 1)
      return normed;
    auto [offsets, sizes, strides] = blockWindow(r);
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({blockSize(r), hidden}, f32), normed,
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
  // max(count, 1): a batch with no scored row has loss and gradient 0.
  auto scoredCount = [&](OpBuilder &nb, Location l, Value count) -> Value {
    return arith::MaximumFOp::create(nb, l, count, f(nb, l, 1));
  };
  auto rowWise =
      [&](int64_t length, ValueRange inputs, Type element,
          function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
        SmallVector<AffineMap> maps(inputs.size() + 1, row1);
        return generic(inputs,
                       tensor::EmptyOp::create(b, loc, {length}, element), maps,
                       {kPar}, body);
      };

  // The number of scored rows of the whole batch, before the first block: a
  // reduction over all rows, so a kernel of its own (the blocks' kernels
  // stay row-parallel).
  Value count = ownKernel(
      generic({flatTargets(targets)}, zeros({1}), {row1, scalar1}, {kRed},
              [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                Value one = arith::SelectOp::create(
                    nb, l, isScored(nb, l, args[0]), f(nb, l, 1), f(nb, l, 0));
                return arith::AddFOp::create(nb, l, one, args[1]);
              }));

  // One block's kernel, from its logits [n, V]: each row's max, sum of
  // exponentials, target logit and nll (0 for an ignored row) and, with
  // gradients, d loss / d logits = (softmax - onehot(target)) / count on
  // scored rows, 0 on ignored ones.
  auto scoreRows = [&](Value logits, int64_t r) -> std::pair<Value, Value> {
    int64_t n = blockSize(r);
    // The block's targets. Inside the kernel (the first op after the logit
    // GEMM), which reads the whole targets input: a kernel's arguments are
    // buffer starts, so it cannot take a slice at an offset.
    Value rowTargets = flatTargets(targets);
    if (numBlocks > 1) {
      Value all = rowTargets;
      rowTargets = rowWise(
          n, {}, b.getI32Type(),
          [&](OpBuilder &nb, Location l, ValueRange) -> Value {
            Value at = arith::AddIOp::create(
                nb, l, linalg::IndexOp::create(nb, l, 0),
                arith::ConstantIndexOp::create(nb, l, r * block));
            return tensor::ExtractOp::create(nb, l, all, ValueRange{at});
          });
    }
    Value rowMax =
        generic({logits}, fill({n}, -std::numeric_limits<double>::infinity()),
                {id, row}, {kPar, kRed},
                [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                  return arith::MaximumFOp::create(nb, l, args[0], args[1]);
                });
    Value sumExp =
        generic({logits, rowMax}, zeros({n}), {id, row, row}, {kPar, kRed},
                [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                  Value e = math::ExpOp::create(
                      nb, l, arith::SubFOp::create(nb, l, args[0], args[1]));
                  return arith::AddFOp::create(nb, l, e, args[2]);
                });
    Value picked = rowWise(
        n, {rowTargets}, f32,
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          Value target = args[0];
          Value zero32 =
              arith::ConstantOp::create(nb, l, nb.getI32IntegerAttr(0));
          Value end =
              arith::ConstantOp::create(nb, l, nb.getI32IntegerAttr(vocab));
          Value inVocab = arith::AndIOp::create(
              nb, l, isScored(nb, l, target),
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, target,
                                    end));
          // Clamped so that an ignored row still reads inside the logits.
          Value column = arith::IndexCastOp::create(
              nb, l, nb.getIndexType(),
              arith::SelectOp::create(nb, l, inVocab, target, zero32));
          Value logit = tensor::ExtractOp::create(
              nb, l, logits,
              ValueRange{linalg::IndexOp::create(nb, l, 0), column});
          return arith::SelectOp::create(nb, l, inVocab, logit, f(nb, l, 0));
        });
    Value logSumExp =
        rowWise(n, {rowMax, sumExp}, f32,
                [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                  return arith::AddFOp::create(
                      nb, l, args[0], math::LogOp::create(nb, l, args[1]));
                });
    Value nll = rowWise(
        n, {rowTargets, logSumExp, picked}, f32,
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          return arith::SelectOp::create(
              nb, l, isScored(nb, l, args[0]),
              arith::SubFOp::create(nb, l, args[1], args[2]), f(nb, l, 0));
        });
    if (!withGrads)
      return {nll, Value()};
    Value dlogits = generic(
        {logits, logSumExp, rowTargets, count}, empty({n, vocab}),
        {id, row, row, scalar, id}, {kPar, kPar},
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
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
          return arith::SelectOp::create(
              nb, l, isScored(nb, l, args[2]),
              arith::DivFOp::create(nb, l, grad, scoredCount(nb, l, args[3])),
              f(nb, l, 0));
        });
    return {nll, dlogits};
  };

  // The mean over the scored rows, in one kernel of its own that reads
  // every block's nll: row i of every full block is summed in one
  // iteration, the last block's row i too when the block is partial (it
  // has fewer rows, so it is read by index instead of as an input).
  auto meanLoss = [&](ArrayRef<Value> nlls) {
    int64_t fullBlocks = rows / block, partialSize = rows % block;
    SmallVector<Value> inputs(nlls.take_front(fullBlocks));
    inputs.push_back(count);
    Value partial = partialSize ? nlls.back() : Value();
    SmallVector<AffineMap> maps(fullBlocks, row1);
    maps.append({scalar1, scalar1});
    return ownKernel(generic(
        inputs, zeros({1}), maps, {kRed},
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          Value sum = args[0];
          for (int64_t i = 1; i < fullBlocks; ++i)
            sum = arith::AddFOp::create(nb, l, sum, args[i]);
          if (partial) {
            Value i = linalg::IndexOp::create(nb, l, 0);
            Value inside = arith::CmpIOp::create(
                nb, l, arith::CmpIPredicate::ult, i,
                arith::ConstantIndexOp::create(nb, l, partialSize));
            Value at = arith::SelectOp::create(
                nb, l, inside, i, arith::ConstantIndexOp::create(nb, l, 0));
            Value last = tensor::ExtractOp::create(nb, l, partial, at);
            sum = arith::AddFOp::create(
                nb, l, sum,
                arith::SelectOp::create(nb, l, inside, last, f(nb, l, 0)));
          }
          return arith::AddFOp::create(
              nb, l,
              arith::DivFOp::create(nb, l, sum,
                                    scoredCount(nb, l, args[fullBlocks])),
              args[fullBlocks + 1]);
        }));
  };

  // Block by block: the logit GEMM, the block's kernel, then (grad) its
  // rows of d normed = dlogits · W, written in place as a view of rows, and
  // d W += dlogitsᵀ · normed_r, accumulated by the GEMM (beta = 1) after
  // the first block. Only one block's logits are live at a time; the mean
  // follows the last block's kernel.
  HeadLoss result;
  SmallVector<Value> nlls;
  if (withGrads && numBlocks > 1)
    result.dnormed = empty({rows, hidden});
  for (int64_t r = 0; r < numBlocks; ++r) {
    Value blockNormed = normedRows(r);
    auto [nll, dlogits] = scoreRows(matmul(blockNormed, weight), r);
    nlls.push_back(nll);
    if (r + 1 == numBlocks)
      result.loss = meanLoss(nlls);
    if (!withGrads)
      continue;
    result.dweight = matmulWeightGrad(dlogits, blockNormed, result.dweight);
    Value rowGrad = matmulInputGrad(dlogits, weight);
    if (numBlocks == 1) {
      result.dnormed = rowGrad;
    } else {
      auto [offsets, sizes, strides] = blockWindow(r);
      result.dnormed = tensor::InsertSliceOp::create(
          b, loc, rowGrad, result.dnormed, offsets, sizes, strides);
    }
  }
  return result;
}
