//===- DistributeKernels.cpp - block / thread structure for kernels ------===//
//
// A bufferized growc kernel is a short sequence of linalg ops on rows of the
// [B·T, ·] activations, or one growk.attention. This pass gives it the
// structure of one GPU launch while staying in loops:
//
//   scf.forall (block ids) in (grid)            {mapping = [#gpu.block<...>]}
//     per-block buffers (memref.alloc)          -> workgroup memory
//     scf.forall (%t) in (threads) { ... }      {mapping = [#gpu.thread<x>]}
//     scf.forall (%t) in (threads) { ... }      (barrier in between)
//
// The CPU backend runs this as nested loops, which is how the tests check
// the distributed kernels against PyTorch; the NVPTX backend maps the
// foralls to block and thread ids.
//
//===----------------------------------------------------------------------===//

#include "passes/Gpu/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

#include <cmath>
#include <limits>

namespace growc {
#define GEN_PASS_DEF_DISTRIBUTEKERNELS
#include "passes/Gpu/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;

namespace {

Value indexConstant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

/// An scf.forall from 0 to `counts` with the given GPU mapping; the builder
/// is left at the start of its body.
scf::ForallOp createForall(OpBuilder &b, Location loc, ArrayRef<int64_t> counts,
                           ArrayRef<Attribute> mapping) {
  SmallVector<OpFoldResult> upper = llvm::map_to_vector(
      counts, [&](int64_t n) -> OpFoldResult { return b.getIndexAttr(n); });
  auto forall = scf::ForallOp::create(b, loc, upper, ValueRange{},
                                      b.getArrayAttr(mapping));
  b.setInsertionPoint(forall.getBody()->getTerminator());
  return forall;
}

Attribute threadX(MLIRContext *ctx) {
  return gpu::GPUThreadMappingAttr::get(ctx, gpu::MappingId::DimX);
}

/// `for i = start; i < end; i += step` with the body built by `body`.
void stridedLoop(OpBuilder &b, Location loc, Value start, int64_t end,
                 int64_t step, function_ref<void(OpBuilder &, Value)> body) {
  scf::ForOp::create(b, loc, start, indexConstant(b, loc, end),
                     indexConstant(b, loc, step), ValueRange{},
                     [&](OpBuilder &nb, Location, Value iv, ValueRange) {
                       body(nb, iv);
                       scf::YieldOp::create(nb, loc);
                     });
}

/// Splits `flat` into indices of the row-major `sizes`.
SmallVector<Value> delinearize(OpBuilder &b, Location loc, Value flat,
                               ArrayRef<int64_t> sizes) {
  SmallVector<Value> indices(sizes.size());
  for (int64_t d = int64_t(sizes.size()) - 1; d >= 0; --d) {
    Value size = indexConstant(b, loc, sizes[d]);
    indices[d] = d == 0 ? flat : arith::RemUIOp::create(b, loc, flat, size);
    if (d > 0)
      flat = arith::DivUIOp::create(b, loc, flat, size);
  }
  return indices;
}

/// The combining op of a reduction body `yield f(in, out)`, with the
/// identity element to start partial results from.
struct Combiner {
  enum Kind { Add, Max } kind;
  double identity;
  Value combine(OpBuilder &b, Location loc, Value lhs, Value rhs) const {
    if (kind == Add)
      return arith::AddFOp::create(b, loc, lhs, rhs);
    return arith::MaximumFOp::create(b, loc, lhs, rhs);
  }
};

FailureOr<Combiner> findCombiner(linalg::LinalgOp op) {
  Block *body = op.getBlock();
  Value out = body->getArguments().back();
  Operation *yielded = body->getTerminator()->getOperand(0).getDefiningOp();
  if (!yielded || yielded->getNumOperands() != 2 ||
      !llvm::is_contained(yielded->getOperands(), out) ||
      llvm::count_if(body->getOperations(), [&](Operation &nested) {
        return llvm::is_contained(nested.getOperands(), out);
      }) != 1)
    return failure();
  if (isa<arith::AddFOp>(yielded))
    return Combiner{Combiner::Add, 0.0};
  if (isa<arith::MaximumFOp>(yielded))
    return Combiner{Combiner::Max, -std::numeric_limits<double>::infinity()};
  return failure();
}

/// A reduction over everything but the row: partials across threads.
bool isRowReduction(linalg::LinalgOp op) {
  return op.getNumLoops() > 1 &&
         llvm::all_of(llvm::drop_begin(op.getIteratorTypesArray()),
                      [](utils::IteratorType it) {
                        return it == utils::IteratorType::reduction;
                      });
}

/// Distributes one row kernel.
class RowKernel {
public:
  RowKernel(func::FuncOp kernel, int64_t threads)
      : kernel(kernel), threads(threads) {}

  /// Whether the kernel has the row shape; diagnoses why not. Changes
  /// nothing.
  LogicalResult analyse();
  /// Rewrites the kernel; analyse() must have succeeded.
  LogicalResult distribute();

private:
  /// Loads or forwards operand `operand` of `op` at the loop indices `ivs`.
  Value read(OpBuilder &b, Location loc, linalg::LinalgOp op,
             OpOperand &operand, ArrayRef<Value> ivs);
  /// The indices of `operand` at `ivs`; for a per-block buffer the row
  /// index is dropped.
  SmallVector<Value> indicesOf(OpBuilder &b, Location loc, linalg::LinalgOp op,
                               OpOperand &operand, ArrayRef<Value> ivs,
                               Value &buffer);
  /// Evaluates the body of `op` at `ivs` with `outValue` as the output's
  /// current value and returns the yielded value.
  Value evaluate(OpBuilder &b, Location loc, linalg::LinalgOp op,
                 ArrayRef<Value> ivs, Value outValue);
  void emitParallel(OpBuilder &b, linalg::LinalgOp op, Value row);
  void emitRowReduction(OpBuilder &b, linalg::LinalgOp op, Value row,
                        const Combiner &combiner, Value partials);

  func::FuncOp kernel;
  int64_t threads;
  int64_t rows = -1;
  SmallVector<linalg::LinalgOp> ops;
  /// Buffers written by the kernel (allocations and output arguments).
  llvm::SetVector<Value> written;
  /// Kernel-internal allocations -> their per-block row slice.
  DenseMap<Value, Value> perBlock;
};

LogicalResult RowKernel::analyse() {
  for (Operation &op : kernel.getBody().front()) {
    if (auto linalgOp = dyn_cast<linalg::LinalgOp>(&op)) {
      ops.push_back(linalgOp);
      continue;
    }
    if (isa<memref::AllocOp, memref::CollapseShapeOp, memref::ExpandShapeOp,
            arith::ConstantOp, func::ReturnOp>(op))
      continue;
    return op.emitOpError("cannot be distributed over GPU rows");
  }
  if (ops.empty())
    return kernel.emitOpError("kernel has no linalg work to distribute");
  for (linalg::LinalgOp op : ops) {
    if (op.getNumDpsInits() != 1)
      return op.emitOpError("GPU distribution expects one output");
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    if (ranges.empty() || ShapedType::isDynamic(ranges[0]) ||
        op.getIteratorTypesArray()[0] != utils::IteratorType::parallel)
      return op.emitOpError("the first loop must be a static parallel row "
                            "loop");
    if (rows < 0)
      rows = ranges[0];
    else if (rows != ranges[0])
      return op.emitOpError("row count ")
             << ranges[0] << " differs from the kernel's " << rows;
    Value out = op.getDpsInitOperand(0)->get();
    if (viewedBuffer(out) != out)
      return op.emitOpError("writes through a view; GPU rows need direct "
                            "writes");
    written.insert(out);
  }
  // Rows must be independent: every access to a written buffer is at the
  // op's own row (map result 0 = d0), and bodies load only from buffers
  // the kernel does not write.
  for (linalg::LinalgOp op : ops) {
    for (OpOperand &operand : op->getOpOperands()) {
      if (!written.contains(viewedBuffer(operand.get())))
        continue;
      if (viewedBuffer(operand.get()) != operand.get())
        return op.emitOpError("reads a buffer written in this kernel "
                              "through a view");
      AffineMap map = op.getMatchingIndexingMap(&operand);
      if (map.getNumResults() == 0 ||
          map.getResult(0) != getAffineDimExpr(0, op.getContext()))
        return op.emitOpError("accesses another row of a buffer written in "
                              "this kernel");
    }
    WalkResult walk = op->walk([&](memref::LoadOp load) {
      return written.contains(viewedBuffer(load.getMemRef()))
                 ? WalkResult::interrupt()
                 : WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return op.emitOpError("loads from a buffer written in this kernel");
  }
  for (Value buffer : written)
    if (auto alloc = buffer.getDefiningOp<memref::AllocOp>())
      if (alloc.getType().getRank() == 0 ||
          alloc.getType().getDimSize(0) != rows)
        return alloc.emitOpError("is not one row per block");
  for (linalg::LinalgOp op : ops)
    if (isRowReduction(op) && failed(findCombiner(op)))
      return op.emitOpError("only sum and max reductions are distributed "
                            "over threads");
  return success();
}

SmallVector<Value> RowKernel::indicesOf(OpBuilder &b, Location loc,
                                        linalg::LinalgOp op, OpOperand &operand,
                                        ArrayRef<Value> ivs, Value &buffer) {
  AffineMap map = op.getMatchingIndexingMap(&operand);
  buffer = operand.get();
  auto slice = perBlock.find(buffer);
  bool dropRow = slice != perBlock.end();
  if (dropRow)
    buffer = slice->second;
  SmallVector<Value> indices;
  for (unsigned i = dropRow ? 1 : 0; i < map.getNumResults(); ++i) {
    AffineExpr expr = map.getResult(i);
    if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
      indices.push_back(ivs[dim.getPosition()]);
      continue;
    }
    indices.push_back(affine::AffineApplyOp::create(
        b, loc, AffineMap::get(map.getNumDims(), 0, expr), ivs));
  }
  if (dropRow && indices.empty())
    indices.push_back(indexConstant(b, loc, 0)); // a row of one scalar
  return indices;
}

Value RowKernel::read(OpBuilder &b, Location loc, linalg::LinalgOp op,
                      OpOperand &operand, ArrayRef<Value> ivs) {
  if (!isa<ShapedType>(operand.get().getType()))
    return operand.get(); // a scalar (linalg.fill's value)
  Value buffer;
  SmallVector<Value> indices = indicesOf(b, loc, op, operand, ivs, buffer);
  return memref::LoadOp::create(b, loc, buffer, indices);
}

Value RowKernel::evaluate(OpBuilder &b, Location loc, linalg::LinalgOp op,
                          ArrayRef<Value> ivs, Value outValue) {
  Block *body = op.getBlock();
  IRMapping mapping;
  for (OpOperand *input : op.getDpsInputOperands())
    mapping.map(body->getArgument(input->getOperandNumber()),
                read(b, loc, op, *input, ivs));
  mapping.map(body->getArguments().back(), outValue);
  for (Operation &nested : body->without_terminator()) {
    if (auto index = dyn_cast<linalg::IndexOp>(nested)) {
      mapping.map(index.getResult(), ivs[index.getDim()]);
      continue;
    }
    b.clone(nested, mapping);
  }
  return mapping.lookupOrDefault(body->getTerminator()->getOperand(0));
}

void RowKernel::emitParallel(OpBuilder &b, linalg::LinalgOp op, Value row) {
  Location loc = op.getLoc();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<int64_t> parSizes, redSizes;
  for (unsigned d = 1; d < ranges.size(); ++d)
    (iterators[d] == utils::IteratorType::parallel ? parSizes : redSizes)
        .push_back(ranges[d]);
  int64_t elements = 1;
  for (int64_t size : parSizes)
    elements *= size;
  OpOperand *out = op.getDpsInitOperand(0);
  bool readsOut = op.payloadUsesValueFromOperand(out);
  auto forall = createForall(b, loc, {threads}, {threadX(b.getContext())});
  Value thread = forall.getInductionVar(0);
  // Elements of the row strided over the threads; reductions along them
  // (when the op also has parallel dims) run sequentially per element.
  stridedLoop(b, loc, thread, elements, threads, [&](OpBuilder &nb, Value e) {
    SmallVector<Value> par = delinearize(nb, loc, e, parSizes);
    auto loopIvs = [&](ArrayRef<Value> red) {
      SmallVector<Value> ivs = {row};
      unsigned p = 0, r = 0;
      for (unsigned d = 1; d < ranges.size(); ++d)
        ivs.push_back(iterators[d] == utils::IteratorType::parallel ? par[p++]
                                                                    : red[r++]);
      return ivs;
    };
    SmallVector<Value> zeros(redSizes.size(), indexConstant(nb, loc, 0));
    Value buffer;
    SmallVector<Value> outIndices =
        indicesOf(nb, loc, op, *out, loopIvs(zeros), buffer);
    Value init = readsOut || !redSizes.empty()
                     ? memref::LoadOp::create(nb, loc, buffer, outIndices)
                     : Value();
    Value result;
    if (redSizes.empty()) {
      result = evaluate(nb, loc, op, loopIvs({}), init);
    } else {
      int64_t count = 1;
      for (int64_t size : redSizes)
        count *= size;
      auto loop = scf::ForOp::create(
          nb, loc, indexConstant(nb, loc, 0), indexConstant(nb, loc, count),
          indexConstant(nb, loc, 1), ValueRange{init},
          [&](OpBuilder &rb, Location, Value r, ValueRange acc) {
            SmallVector<Value> red = delinearize(rb, loc, r, redSizes);
            scf::YieldOp::create(
                rb, loc,
                ValueRange{evaluate(rb, loc, op, loopIvs(red), acc[0])});
          });
      result = loop.getResult(0);
    }
    memref::StoreOp::create(nb, loc, result, buffer, outIndices);
  });
  b.setInsertionPointAfter(forall);
}

void RowKernel::emitRowReduction(OpBuilder &b, linalg::LinalgOp op, Value row,
                                 const Combiner &combiner, Value partials) {
  Location loc = op.getLoc();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<int64_t> redSizes(ranges.begin() + 1, ranges.end());
  int64_t count = 1;
  for (int64_t size : redSizes)
    count *= size;
  Type type = cast<MemRefType>(partials.getType()).getElementType();
  // Each thread folds a strided share of the row into its partial.
  {
    auto forall = createForall(b, loc, {threads}, {threadX(b.getContext())});
    Value thread = forall.getInductionVar(0);
    Value identity = arith::ConstantOp::create(
        b, loc, b.getFloatAttr(type, combiner.identity));
    auto loop = scf::ForOp::create(
        b, loc, thread, indexConstant(b, loc, count),
        indexConstant(b, loc, threads), ValueRange{identity},
        [&](OpBuilder &rb, Location, Value r, ValueRange acc) {
          SmallVector<Value> ivs = {row};
          llvm::append_range(ivs, delinearize(rb, loc, r, redSizes));
          scf::YieldOp::create(rb, loc,
                               ValueRange{evaluate(rb, loc, op, ivs, acc[0])});
        });
    memref::StoreOp::create(b, loc, loop.getResult(0), partials,
                            ValueRange{thread});
    b.setInsertionPointAfter(forall);
  }
  // One thread combines the partials, in thread order, into the output.
  auto forall = createForall(b, loc, {1}, {threadX(b.getContext())});
  SmallVector<Value> ivs(ranges.size(), indexConstant(b, loc, 0));
  ivs[0] = row;
  Value buffer;
  SmallVector<Value> outIndices =
      indicesOf(b, loc, op, *op.getDpsInitOperand(0), ivs, buffer);
  Value init = memref::LoadOp::create(b, loc, buffer, outIndices);
  auto loop = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, threads),
      indexConstant(b, loc, 1), ValueRange{init},
      [&](OpBuilder &rb, Location, Value t, ValueRange acc) {
        Value partial = memref::LoadOp::create(rb, loc, partials, t);
        scf::YieldOp::create(
            rb, loc, ValueRange{combiner.combine(rb, loc, acc[0], partial)});
      });
  memref::StoreOp::create(b, loc, loop.getResult(0), buffer, outIndices);
  b.setInsertionPointAfter(forall);
}

LogicalResult RowKernel::distribute() {
  Block &entry = kernel.getBody().front();
  OpBuilder b(kernel.getContext());
  Location loc = kernel.getLoc();
  b.setInsertionPoint(entry.getTerminator());
  auto blocks = createForall(
      b, loc, {rows},
      {gpu::GPUBlockMappingAttr::get(b.getContext(), gpu::MappingId::DimX)});
  Value row = blocks.getInductionVar(0);
  for (Value buffer : written) {
    auto alloc = buffer.getDefiningOp<memref::AllocOp>();
    if (!alloc)
      continue;
    ArrayRef<int64_t> shape = alloc.getType().getShape().drop_front();
    auto type = MemRefType::get(shape.empty() ? ArrayRef<int64_t>{1} : shape,
                                alloc.getType().getElementType());
    perBlock[buffer] = memref::AllocOp::create(b, loc, type);
  }
  Value partials;
  for (linalg::LinalgOp op : ops) {
    if (!isRowReduction(op)) {
      emitParallel(b, op, row);
      continue;
    }
    FailureOr<Combiner> combiner = findCombiner(op); // checked by analyse()
    if (!partials) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(blocks.getBody());
      partials = memref::AllocOp::create(
          b, loc, MemRefType::get({threads}, b.getF32Type()));
    }
    emitRowReduction(b, op, row, *combiner, partials);
  }
  // The original ops and the full-size intermediates are gone.
  for (linalg::LinalgOp op : llvm::reverse(ops))
    op->erase();
  for (Value buffer : written)
    if (auto alloc = buffer.getDefiningOp<memref::AllocOp>()) {
      if (!alloc->use_empty())
        return alloc.emitOpError("is still used after distribution");
      alloc->erase();
    }
  return success();
}

/// One block per (query tile, head, batch); one thread per query row.
LogicalResult distributeAttention(func::FuncOp kernel,
                                  growk::AttentionOp attention) {
  for (Operation &op : kernel.getBody().front())
    if (&op != attention.getOperation() &&
        !isa<arith::ConstantOp, func::ReturnOp>(op))
      return op.emitOpError("must not share a kernel with attention");
  int64_t batch = attention.getBatch(), seq = attention.getSeqLen();
  int64_t heads = attention.getHeads(), headDim = attention.getHeadDim();
  int64_t group = heads / attention.getKvHeads();
  int64_t tile = std::min<int64_t>(attention.getKeyBlock(), seq);
  int64_t tiles = (seq + tile - 1) / tile;
  Value q = attention.getQ(), k = attention.getK(), v = attention.getV();
  Value out = attention.getInit();
  MLIRContext *ctx = kernel.getContext();
  Location loc = attention.getLoc();
  OpBuilder b(attention);
  auto blockDim = [&](gpu::MappingId id) -> Attribute {
    return gpu::GPUBlockMappingAttr::get(ctx, id);
  };
  auto blocks = createForall(b, loc, {tiles, heads, batch},
                             {blockDim(gpu::MappingId::DimX),
                              blockDim(gpu::MappingId::DimY),
                              blockDim(gpu::MappingId::DimZ)});
  Value tileIndex = blocks.getInductionVar(0);
  Value head = blocks.getInductionVar(1), sample = blocks.getInductionVar(2);
  auto threads = createForall(b, loc, {tile}, {threadX(ctx)});
  auto idx = [&](int64_t value) { return indexConstant(b, loc, value); };
  Value position = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, tileIndex, idx(tile)),
      threads.getInductionVar(0));
  Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                        position, idx(seq));
  auto guard = scf::IfOp::create(b, loc, inRange, /*withElse=*/false);
  b.setInsertionPoint(guard.thenBlock()->getTerminator());

  Type f32 = b.getF32Type();
  auto f32Const = [&](double value) -> Value {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
  };
  Value sampleBase = arith::MulIOp::create(b, loc, sample, idx(seq));
  Value row = arith::AddIOp::create(b, loc, sampleBase, position);
  Value qColumn = arith::MulIOp::create(b, loc, head, idx(headDim));
  Value kvColumn = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, head, idx(group)), idx(headDim));
  // Private per thread: the scaled query row and the output accumulator.
  auto rowType = MemRefType::get({headDim}, f32);
  Value query = memref::AllocaOp::create(b, loc, rowType);
  Value acc = memref::AllocaOp::create(b, loc, rowType);
  Value scale = f32Const(1.0 / std::sqrt(double(headDim)));
  Value zero = f32Const(0.0);
  stridedLoop(b, loc, idx(0), headDim, 1, [&](OpBuilder &nb, Value d) {
    Value column = arith::AddIOp::create(nb, loc, qColumn, d);
    Value value = memref::LoadOp::create(nb, loc, q, ValueRange{row, column});
    memref::StoreOp::create(
        nb, loc, arith::MulFOp::create(nb, loc, value, scale), query, d);
    memref::StoreOp::create(nb, loc, zero, acc, d);
  });
  // Keys 0..position (causal), online softmax.
  Value negInf = f32Const(-std::numeric_limits<double>::infinity());
  Value keyEnd = arith::AddIOp::create(b, loc, position, idx(1));
  auto keys = scf::ForOp::create(
      b, loc, idx(0), keyEnd, idx(1), ValueRange{negInf, zero},
      [&](OpBuilder &kb, Location, Value key, ValueRange state) {
        Value keyRow = arith::AddIOp::create(kb, loc, sampleBase, key);
        auto dot = scf::ForOp::create(
            kb, loc, indexConstant(kb, loc, 0), indexConstant(kb, loc, headDim),
            indexConstant(kb, loc, 1), ValueRange{zero},
            [&](OpBuilder &db, Location, Value d, ValueRange sum) {
              Value kv = memref::LoadOp::create(
                  db, loc, k,
                  ValueRange{keyRow,
                             arith::AddIOp::create(db, loc, kvColumn, d)});
              Value qd = memref::LoadOp::create(db, loc, query, d);
              Value product = arith::MulFOp::create(db, loc, qd, kv);
              scf::YieldOp::create(
                  db, loc,
                  ValueRange{arith::AddFOp::create(db, loc, sum[0], product)});
            });
        Value score = dot.getResult(0);
        Value maxNew = arith::MaximumFOp::create(kb, loc, state[0], score);
        Value correction = math::ExpOp::create(
            kb, loc, arith::SubFOp::create(kb, loc, state[0], maxNew));
        Value prob = math::ExpOp::create(
            kb, loc, arith::SubFOp::create(kb, loc, score, maxNew));
        Value sumNew = arith::AddFOp::create(
            kb, loc, arith::MulFOp::create(kb, loc, state[1], correction),
            prob);
        stridedLoop(
            kb, loc, indexConstant(kb, loc, 0), headDim, 1,
            [&](OpBuilder &db, Value d) {
              Value vd = memref::LoadOp::create(
                  db, loc, v,
                  ValueRange{keyRow,
                             arith::AddIOp::create(db, loc, kvColumn, d)});
              Value old = memref::LoadOp::create(db, loc, acc, d);
              Value updated = arith::AddFOp::create(
                  db, loc, arith::MulFOp::create(db, loc, old, correction),
                  arith::MulFOp::create(db, loc, prob, vd));
              memref::StoreOp::create(db, loc, updated, acc, d);
            });
        scf::YieldOp::create(kb, loc, ValueRange{maxNew, sumNew});
      });
  Value sum = keys.getResult(1);
  stridedLoop(b, loc, idx(0), headDim, 1, [&](OpBuilder &nb, Value d) {
    Value value = memref::LoadOp::create(nb, loc, acc, d);
    memref::StoreOp::create(
        nb, loc, arith::DivFOp::create(nb, loc, value, sum), out,
        ValueRange{row, arith::AddIOp::create(nb, loc, qColumn, d)});
  });
  attention.erase();
  return success();
}

/// One scf.forall with only constants and views beside it.
bool isBlockLoop(func::FuncOp kernel) {
  int loops = 0;
  for (Operation &op : kernel.getBody().front()) {
    if (isa<scf::ForallOp>(op))
      ++loops;
    else if (!isa<arith::ConstantOp, memref::ExpandShapeOp,
                  memref::CollapseShapeOp, func::ReturnOp>(op))
      return false;
  }
  return loops == 1;
}

struct DistributeKernelsPass
    : growc::impl::DistributeKernelsBase<DistributeKernelsPass> {
  using DistributeKernelsBase::DistributeKernelsBase;

  void runOnOperation() override {
    if (threadsPerBlock < 1 || threadsPerBlock > 1024) {
      getOperation().emitError("growc-distribute-kernels: threads must be "
                               "in [1, 1024], got ")
          << threadsPerBlock;
      return signalPassFailure();
    }
    for (auto kernel : getOperation().getOps<func::FuncOp>()) {
      if (!kernel->hasAttr("growc.kernel"))
        continue;
      if (!kernel.getBody().hasOneBlock()) {
        kernel.emitOpError("kernel must be a single block");
        return signalPassFailure();
      }
      // A kernel that is already one loop of independent blocks (the
      // CPU's expanded attention) keeps its shape.
      if (isBlockLoop(kernel))
        continue;
      // memref.copy would become a runtime-library call; as linalg.copy it
      // is distributed like any other op.
      SmallVector<memref::CopyOp> copies;
      kernel.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
      for (memref::CopyOp copy : copies) {
        OpBuilder b(copy);
        linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(),
                               copy.getTarget());
        copy.erase();
      }
      growk::AttentionOp attention;
      kernel.walk([&](growk::AttentionOp op) { attention = op; });
      if (attention) {
        if (failed(distributeAttention(kernel, attention)))
          return signalPassFailure();
        continue;
      }
      RowKernel rowKernel(kernel, threadsPerBlock);
      LogicalResult shape = success();
      if (keepOtherKernels) {
        // Kernels of another shape stay one block; why is not an error.
        ScopedDiagnosticHandler quiet(&getContext(),
                                      [](Diagnostic &) { return success(); });
        shape = rowKernel.analyse();
      } else {
        shape = rowKernel.analyse();
      }
      if (failed(shape)) {
        if (keepOtherKernels)
          continue;
        return signalPassFailure();
      }
      if (failed(rowKernel.distribute()))
        return signalPassFailure();
    }
  }
};

} // namespace
