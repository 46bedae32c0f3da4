//===- DistributeKernels.cpp - block / thread structure for kernels ------===//
//
// A bufferized growc kernel is a short sequence of linalg ops on rows of the
// [B·T, ·] activations, attention or its gradient, or (in the training
// graphs) work of another shape in a kernel of its own. This pass gives it
// the structure of GPU launches while staying in loops:
//
//   scf.forall (block ids) in (grid)            {mapping = [#gpu.block<...>]}
//     per-block buffers (memref.alloc)          -> workgroup memory
//     scf.forall (%t) in (threads) { ... }      {mapping = [#gpu.thread<x>]}
//     scf.forall (%t) in (threads) { ... }      (barrier in between)
//
// The CPU backend runs this as nested loops, which is how the tests check
// the distributed kernels against PyTorch; the NVPTX backend maps the
// foralls to block and thread ids. Row kernels are distributed here; the
// other kinds in DistributeAttention.cpp and DistributeOwnKernels.cpp. A
// kind that needs more than one launch (a reduction over all rows in
// chunks, the attention gradient) gets kernels that follow it and scratch
// buffers, which this pass adds to the host function's calls. A row kernel
// that also sums its rows into columns (an RMSNorm weight's gradient) stays
// one launch: each block sums its rows into a partial, and the last block
// to finish sums the partials (a completion counter, llm.c's layernorm
// backward).
//
//===----------------------------------------------------------------------===//

#include "passes/Gpu/Distribution.h"

#include "growc/AttrNames.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "llvm/ADT/SetVector.h"

namespace growc {
#define GEN_PASS_DEF_DISTRIBUTEKERNELS
#include "passes/Gpu/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;
using namespace growc::distribution;

namespace {

/// Blocks of a row kernel with column sums: each sums rows blockIdx,
/// blockIdx + G, ... into its partial ([G, columns] in global memory, what
/// the last block reads). 256 blocks of 256 threads keep an H100's 132 SMs
/// busy at two blocks each (llm.c's layernorm backward launches 2 per SM),
/// and the last block reads G partials per column.
constexpr int64_t kColumnSumBlocks = 256;

/// A reduction over the rows into the columns (loops [rows, columns],
/// reduction then parallel, the output indexed by the column), with the
/// fill that starts it.
struct ColumnSum {
  linalg::LinalgOp op;
  linalg::FillOp fill;
};

/// Whether `op` has the loops of a column sum (checked further by
/// RowKernel::analyse).
bool isColumnSum(linalg::LinalgOp op) {
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  if (iterators.size() != 2 || op.getNumDpsInits() != 1 ||
      iterators[0] != utils::IteratorType::reduction ||
      iterators[1] != utils::IteratorType::parallel)
    return false;
  AffineMap map = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  return map.getNumResults() == 1 &&
         map.getResult(0) == getAffineDimExpr(1, op.getContext());
}

/// Distributes one row kernel.
class RowKernel {
public:
  RowKernel(func::FuncOp kernel, int64_t threads)
      : kernel(kernel), threads(threads) {}

  /// Whether the kernel has the row shape; diagnoses why not. Changes
  /// nothing.
  LogicalResult analyse();
  bool hasColumnSums() const { return !columnSums.empty(); }
  /// Rewrites the kernel; analyse() must have succeeded. Column sums add
  /// a scratch buffer each and the completion counter to `changes`.
  LogicalResult distribute(HostChanges &changes);

private:
  /// Moves the column sums and their fills from `ops` to `columnSums`.
  LogicalResult findColumnSums();
  /// The column sums' distribution: G blocks loop over the rows, sum
  /// theirs into per-block accumulators, write them as partials, and the
  /// last block to finish sums the partials in block order.
  void distributeWithColumnSums(OpBuilder &b, HostChanges &changes);
  /// The end of such a kernel: partials out, the counter, the last block's
  /// sums.
  void emitLastBlockSums(OpBuilder &b, Value block, int64_t blocks,
                         ArrayRef<Value> accs, ArrayRef<Value> scratch,
                         Value counter, Value flag);
  /// Erases the distributed ops and the full-size intermediates.
  LogicalResult eraseDistributed();
  /// The block-mapped forall of `count` blocks, the builder inside it,
  /// with the per-block rows of the kernel's intermediates.
  scf::ForallOp createGrid(OpBuilder &b, int64_t count);
  /// The block's [threads] buffer of row reductions' partials, allocated
  /// at the start of the grid on first use.
  Value getPartials();

  func::FuncOp kernel;
  int64_t threads;
  int64_t rows = -1;
  SmallVector<linalg::LinalgOp> ops;
  SmallVector<ColumnSum> columnSums;
  scf::ForallOp grid;
  Value partials;
  /// Buffers written by the kernel (allocations and output arguments).
  llvm::SetVector<Value> written;
  /// Evaluates the ops; kernel-internal allocations are replaced by their
  /// per-block row.
  LinalgScalarizer scalarizer;
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
  if (failed(findColumnSums()))
    return failure();
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
    // A reduction over everything but the row: partials across threads.
    if (reducesEverythingAfter(op, 1) && failed(findCombiner(op)))
      return op.emitOpError("only sum and max reductions are distributed "
                            "over threads");
  // A column sum reads its inputs at its row (d0) or at no row, like the
  // row work; its output is read by nothing in the kernel.
  for (auto [op, fill] : columnSums) {
    Value out = op.getDpsInitOperand(0)->get();
    for (OpOperand *input : op.getDpsInputOperands()) {
      AffineMap map = op.getMatchingIndexingMap(input);
      bool atRow = map.getNumResults() > 0 &&
                   map.getResult(0) == getAffineDimExpr(0, op.getContext());
      if (written.contains(viewedBuffer(input->get())) &&
          (!atRow || viewedBuffer(input->get()) != input->get()))
        return op.emitOpError("a column sum reads another row of a buffer "
                              "written in this kernel");
      if (!atRow && map.isFunctionOfDim(0))
        return op.emitOpError("a column sum reads its inputs at its row or "
                              "at no row");
    }
    if (op->walk([](memref::LoadOp) {
            return WalkResult::interrupt();
          }).wasInterrupted())
      return op.emitOpError("a column sum's body may not load");
    for (linalg::LinalgOp other : ops)
      for (OpOperand &operand : other->getOpOperands())
        if (viewedBuffer(operand.get()) == out)
          return other.emitOpError("uses the output of a column sum of this "
                                   "kernel");
  }
  return success();
}

LogicalResult RowKernel::findColumnSums() {
  SmallVector<linalg::LinalgOp> rowOps;
  for (linalg::LinalgOp op : ops) {
    if (!isColumnSum(op)) {
      rowOps.push_back(op);
      continue;
    }
    // The partials and the last block's sum replace the loop over rows;
    // what they start from is the fill's value.
    Value out = op.getDpsInitOperand(0)->get();
    FailureOr<Combiner> combiner = findCombiner(op);
    if (failed(combiner) || combiner->kind != Combiner::Add)
      return op.emitOpError("only sums over the rows are distributed as "
                            "column sums");
    auto type = cast<MemRefType>(out.getType());
    if (!isa<BlockArgument>(out) || !type.getElementType().isF32())
      return op.emitOpError("a column sum writes an f32 result of its "
                            "kernel, not ")
             << type;
    auto fill = llvm::find_if(rowOps, [&](linalg::LinalgOp other) {
      return isa<linalg::FillOp>(other) &&
             other.getDpsInitOperand(0)->get() == out;
    });
    if (fill == rowOps.end())
      return op.emitOpError("a column sum's output must be filled before it "
                            "in its kernel");
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    if (ShapedType::isDynamic(ranges[0]) || ShapedType::isDynamic(ranges[1]))
      return op.emitOpError("a column sum needs static loops");
    columnSums.push_back({op, cast<linalg::FillOp>(fill->getOperation())});
    rowOps.erase(fill);
  }
  ops = std::move(rowOps);
  if (columnSums.empty())
    return success();
  int64_t sumRows = columnSums.front().op.getStaticLoopRanges()[0];
  for (auto [op, fill] : columnSums)
    if (op.getStaticLoopRanges()[0] != sumRows)
      return op.emitOpError("column sums over different row counts");
  // The row loops of the other ops must be the column sums' rows (the
  // check after this one compares them with each other).
  for (linalg::LinalgOp op : ops)
    if (SmallVector<int64_t> ranges = op.getStaticLoopRanges();
        !ranges.empty() && ranges[0] != sumRows)
      return op.emitOpError("row count ")
             << ranges[0] << " differs from the column sums' " << sumRows;
  rows = sumRows;
  return success();
}

LogicalResult RowKernel::distribute(HostChanges &changes) {
  Block &entry = kernel.getBody().front();
  OpBuilder b(kernel.getContext());
  b.setInsertionPoint(entry.getTerminator());
  if (!columnSums.empty()) {
    distributeWithColumnSums(b, changes);
    return eraseDistributed();
  }
  Value row = createGrid(b, rows).getInductionVar(0);
  for (linalg::LinalgOp op : ops)
    scalarizer.emitOverThreads(b, op, {row}, threads,
                               [&] { return getPartials(); });
  return eraseDistributed();
}

scf::ForallOp RowKernel::createGrid(OpBuilder &b, int64_t count) {
  Location loc = kernel.getLoc();
  grid = createForall(
      b, loc, {count},
      {gpu::GPUBlockMappingAttr::get(b.getContext(), gpu::MappingId::DimX)});
  for (Value buffer : written) {
    auto alloc = buffer.getDefiningOp<memref::AllocOp>();
    if (!alloc)
      continue;
    ArrayRef<int64_t> shape = alloc.getType().getShape().drop_front();
    auto type = MemRefType::get(shape.empty() ? ArrayRef<int64_t>{1} : shape,
                                alloc.getType().getElementType());
    scalarizer.dropLeadingIndex(buffer, memref::AllocOp::create(b, loc, type));
  }
  return grid;
}

Value RowKernel::getPartials() {
  if (!partials) {
    auto b = OpBuilder::atBlockBegin(grid.getBody());
    partials = memref::AllocOp::create(
        b, kernel.getLoc(), MemRefType::get({threads}, b.getF32Type()));
  }
  return partials;
}

LogicalResult RowKernel::eraseDistributed() {
  // The original ops and the full-size intermediates are gone.
  for (auto [op, fill] : llvm::reverse(columnSums)) {
    op->erase();
    fill->erase();
  }
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

void RowKernel::distributeWithColumnSums(OpBuilder &b, HostChanges &changes) {
  MLIRContext *ctx = b.getContext();
  Location loc = kernel.getLoc();
  int64_t blocks = std::min(rows, kColumnSumBlocks);
  SmallVector<MemRefType> scratchTypes;
  for (auto [op, fill] : columnSums)
    scratchTypes.push_back(
        MemRefType::get({blocks, op.getStaticLoopRanges()[1]}, b.getF32Type()));
  changes.scratch.append(scratchTypes);
  changes.counter = true;
  SmallVector<MemRefType> argTypes(scratchTypes);
  argTypes.push_back(counterType(ctx));
  SmallVector<Value> args = addScratchArguments(kernel, argTypes);
  Value counter = args.pop_back_val();

  Value block = createGrid(b, blocks).getInductionVar(0);
  // Per block: each column sum's accumulator, and whether it finished last.
  SmallVector<Value> accs;
  for (auto [op, fill] : columnSums)
    accs.push_back(memref::AllocOp::create(
        b, loc,
        MemRefType::get({op.getStaticLoopRanges()[1]}, b.getF32Type())));
  Value flag = memref::AllocOp::create(b, loc, counterType(ctx));
  Value zero = f32Constant(b, loc, 0.0);
  for (Value acc : accs) {
    int64_t columns = cast<MemRefType>(acc.getType()).getDimSize(0);
    auto forall = createForall(b, loc, {threads}, {threadX(ctx)});
    stridedLoop(b, loc, forall.getInductionVar(0), columns, threads,
                [&](OpBuilder &nb, Value j) {
                  memref::StoreOp::create(nb, loc, zero, acc, ValueRange{j});
                });
    b.setInsertionPointAfter(forall);
  }
  // The block's rows: block, block + G, ...; the row work as in a block
  // per row, then each column sum adds the row into its accumulator.
  stridedLoop(b, loc, block, indexConstant(b, loc, rows),
              indexConstant(b, loc, blocks), [&](OpBuilder &nb, Value row) {
                for (linalg::LinalgOp op : ops)
                  scalarizer.emitOverThreads(nb, op, {row}, threads,
                                             [&] { return getPartials(); });
                for (auto [sum, acc] : llvm::zip(columnSums, accs))
                  scalarizer.emitColumnAccumulation(nb, sum.op, row, acc,
                                                    threads);
              });
  emitLastBlockSums(b, block, blocks, accs, args, counter, flag);
}

/// A thread loop's share of `columns` f32 columns, handed to `body` as its
/// first column and width: groups of 4 (128-bit accesses) where the count
/// divides and the `global` buffers' base pointers are 16-byte aligned
/// (checked when the kernel runs; block buffers are), else one at a time.
void forColumns(OpBuilder &b, Location loc, Value thread, int64_t columns,
                int64_t threads, ArrayRef<Value> global,
                function_ref<void(OpBuilder &, Value, int64_t)> body) {
  constexpr int64_t kWidth = 4;
  auto scalar = [&]() {
    stridedLoop(b, loc, thread, columns, threads,
                [&](OpBuilder &nb, Value j) { body(nb, j, 1); });
  };
  if (columns % kWidth != 0) {
    scalar();
    return;
  }
  Value aligned;
  for (Value buffer : global) {
    Value pointer =
        memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer);
    Value ok = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq,
        arith::RemUIOp::create(b, loc, pointer, indexConstant(b, loc, 16)),
        indexConstant(b, loc, 0));
    aligned = aligned ? arith::AndIOp::create(b, loc, aligned, ok) : ok;
  }
  auto ifOp = scf::IfOp::create(b, loc, aligned, /*withElse=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  stridedLoop(
      b, loc, thread, columns / kWidth, threads, [&](OpBuilder &nb, Value g) {
        body(nb,
             arith::MulIOp::create(nb, loc, g, indexConstant(nb, loc, kWidth)),
             kWidth);
      });
  b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
  scalar();
}

/// `width` f32s of `buffer` from `indices`: a scalar, or a 128-bit vector.
Value loadColumns(OpBuilder &b, Location loc, Value buffer, ValueRange indices,
                  int64_t width) {
  if (width == 1)
    return memref::LoadOp::create(b, loc, buffer, indices);
  return vector::LoadOp::create(
      b, loc, VectorType::get({width}, b.getF32Type()), buffer, indices,
      /*nontemporal=*/false, llvm::MaybeAlign(4 * width));
}

void storeColumns(OpBuilder &b, Location loc, Value value, Value buffer,
                  ValueRange indices, int64_t width) {
  if (width == 1) {
    memref::StoreOp::create(b, loc, value, buffer, indices);
    return;
  }
  vector::StoreOp::create(b, loc, value, buffer, indices,
                          /*nontemporal=*/false, llvm::MaybeAlign(4 * width));
}

void RowKernel::emitLastBlockSums(OpBuilder &b, Value block, int64_t blocks,
                                  ArrayRef<Value> accs, ArrayRef<Value> scratch,
                                  Value counter, Value flag) {
  MLIRContext *ctx = b.getContext();
  Location loc = kernel.getLoc();
  Value c0 = indexConstant(b, loc, 0);
  // A device-scope fence: what this thread wrote before it is visible to
  // every block that later sees the counter's new value (and, after the
  // counter, what the others wrote is visible to the last block).
  auto fence = [&](OpBuilder &nb) {
    NVVM::MembarOp::create(nb, loc, NVVM::MemScopeKind::GPU);
  };
  // The block's partials out: row `block` of each scratch buffer.
  {
    auto forall = createForall(b, loc, {threads}, {threadX(ctx)});
    Value thread = forall.getInductionVar(0);
    for (size_t i = 0; i < accs.size(); ++i) {
      Value acc = accs[i], partials = scratch[i];
      int64_t columns = cast<MemRefType>(acc.getType()).getDimSize(0);
      forColumns(b, loc, thread, columns, threads, {partials},
                 [&](OpBuilder &nb, Value j, int64_t width) {
                   storeColumns(nb, loc, loadColumns(nb, loc, acc, {j}, width),
                                partials, {block, j}, width);
                 });
    }
    fence(b);
    b.setInsertionPointAfter(forall);
  }
  // One thread counts the block as done; the block that makes the count G
  // is the last, and sets it back to zero for the next launch (no memset:
  // the runtime zeroes the counter once, docs/plan.md).
  {
    auto forall = createForall(b, loc, {1}, {threadX(ctx)});
    Value one = arith::ConstantIntOp::create(b, loc, b.getI32Type(), 1);
    Value done = memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::addi,
                                             one, counter, ValueRange{c0});
    fence(b);
    Value isLast = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq, done,
        arith::ConstantIntOp::create(b, loc, b.getI32Type(), blocks - 1));
    memref::StoreOp::create(
        b, loc, arith::ExtUIOp::create(b, loc, b.getI32Type(), isLast), flag,
        ValueRange{c0});
    auto reset = scf::IfOp::create(b, loc, isLast, /*withElse=*/false);
    b.setInsertionPoint(reset.thenBlock()->getTerminator());
    memref::StoreOp::create(
        b, loc, arith::ConstantIntOp::create(b, loc, b.getI32Type(), 0),
        counter, ValueRange{c0});
    b.setInsertionPointAfter(forall);
  }
  // The last block sums the partials in block order 0..G-1 (whatever order
  // the blocks finished in: the same bits every run), from the fill's value.
  Value last = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ne,
      memref::LoadOp::create(b, loc, flag, ValueRange{c0}),
      arith::ConstantIntOp::create(b, loc, b.getI32Type(), 0));
  auto ifLast = scf::IfOp::create(b, loc, last, /*withElse=*/false);
  b.setInsertionPoint(ifLast.thenBlock()->getTerminator());
  auto forall = createForall(b, loc, {threads}, {threadX(ctx)});
  Value thread = forall.getInductionVar(0);
  fence(b);
  for (size_t i = 0; i < columnSums.size(); ++i) {
    ColumnSum sum = columnSums[i];
    Value partials = scratch[i];
    Value out = sum.op.getDpsInitOperand(0)->get();
    int64_t columns = sum.op.getStaticLoopRanges()[1];
    Value start = sum.fill.getDpsInputOperand(0)->get();
    // Each column's partials in order k = 0..G-1, whether a thread takes
    // one column or 4 (a vector's lanes add like scalars).
    forColumns(b, loc, thread, columns, threads, {partials, out},
               [&](OpBuilder &nb, Value j, int64_t width) {
                 Value init =
                     width == 1 ? start
                                : vector::BroadcastOp::create(
                                      nb, loc,
                                      VectorType::get({width}, nb.getF32Type()),
                                      start);
                 Value total = foldLoop(
                     nb, loc, indexConstant(nb, loc, 0),
                     indexConstant(nb, loc, blocks), indexConstant(nb, loc, 1),
                     init, [&](OpBuilder &fb, Value k, Value acc) -> Value {
                       return arith::AddFOp::create(
                           fb, loc, acc,
                           loadColumns(fb, loc, partials, {k, j}, width));
                     });
                 storeColumns(nb, loc, total, out, {j}, width);
               });
  }
  b.setInsertionPointAfter(ifLast);
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

/// The op marked attr::kOwnKernel in `kernel`, if any.
linalg::LinalgOp ownKernelOp(func::FuncOp kernel) {
  for (Operation &op : kernel.getBody().front())
    if (op.hasAttr(attr::kOwnKernel))
      if (auto linalgOp = dyn_cast<linalg::LinalgOp>(&op))
        return linalgOp;
  return {};
}

/// Bytes of the per-block buffers (shared memory) of a distributed kernel.
int64_t sharedBytes(func::FuncOp kernel) {
  int64_t bytes = 0;
  for (auto grid : kernel.getBody().front().getOps<scf::ForallOp>())
    for (auto alloc : grid.getBody()->getOps<memref::AllocOp>())
      bytes += alloc.getType().getNumElements() *
               ((alloc.getType().getElementTypeBitWidth() + 7) / 8);
  return bytes;
}

struct DistributeKernelsPass
    : growc::impl::DistributeKernelsBase<DistributeKernelsPass> {
  using DistributeKernelsBase::DistributeKernelsBase;

  /// The CPU's distribution: row kernels get one (one-thread) block per
  /// row, which the runtime shares out over its threads; every other kernel
  /// keeps its shape (block loops are already blocks, the rest is one).
  LogicalResult distributeForCpu(func::FuncOp kernel) {
    if (isBlockLoop(kernel))
      return success();
    convertCopies(kernel);
    RowKernel rowKernel(kernel, threadsPerBlock);
    {
      // Kernels of another shape stay one block; why is not an error.
      ScopedDiagnosticHandler quiet(&getContext(),
                                    [](Diagnostic &) { return success(); });
      if (failed(rowKernel.analyse()))
        return success();
    }
    // Column sums are the GPU's (their last block counts on atomics); the
    // CPU runs such a kernel as one block.
    HostChanges changes;
    if (rowKernel.hasColumnSums())
      return success();
    return rowKernel.distribute(changes);
  }

  /// The GPU's distribution: every kernel, by its kind.
  LogicalResult distributeForGpu(ModuleOp module, func::FuncOp kernel) {
    if (failed(shareUpdatedInputs(module, kernel)))
      return failure();
    convertCopies(kernel);
    HostChanges changes;
    growk::AttentionOp attention;
    growk::AttentionGradOp attentionGrad;
    kernel.walk([&](Operation *op) {
      if (auto found = dyn_cast<growk::AttentionOp>(op))
        attention = found;
      if (auto found = dyn_cast<growk::AttentionGradOp>(op))
        attentionGrad = found;
    });
    LogicalResult result = success();
    if (attention) {
      result = distributeAttention(kernel, attention);
    } else if (attentionGrad) {
      result = distributeAttentionGrad(kernel, attentionGrad, changes);
    } else if (isBlockLoop(kernel)) {
      scf::ForallOp loop =
          *kernel.getBody().front().getOps<scf::ForallOp>().begin();
      result = distributeBlockLoop(kernel, loop, threadsPerBlock);
    } else if (ownKernelOp(kernel)) {
      result = distributeOwnKernel(kernel, threadsPerBlock, changes);
    } else {
      RowKernel rowKernel(kernel, threadsPerBlock);
      result = failed(rowKernel.analyse()) ? failure()
                                           : rowKernel.distribute(changes);
    }
    if (failed(result))
      return failure();
    applyHostChanges(module, kernel, changes);
    // Per-block buffers are shared memory, which has a limit.
    SmallVector<func::FuncOp> launches = {kernel};
    llvm::append_range(launches, changes.followers);
    // The plan says which launches are attention (compute-bound), so that
    // profiles measure the others against the memory bandwidth.
    if (attention || attentionGrad)
      for (func::FuncOp launch : launches)
        launch->setAttr(attr::kKernelKind,
                        StringAttr::get(&getContext(), "attention"));
    for (func::FuncOp launch : launches)
      if (int64_t bytes = sharedBytes(launch); bytes > kMaxSharedMemoryBytes)
        return launch.emitOpError("'")
               << launch.getSymName() << "' needs " << bytes
               << " bytes of per-block buffers, more than the "
               << kMaxSharedMemoryBytes
               << " bytes of shared memory a block can have";
    return success();
  }

  /// memref.copy would become a runtime-library call; as linalg.copy it is
  /// distributed like any other op. A copy between two equal views (what
  /// bufferization leaves after an in-place update of a slice) does
  /// nothing and is dropped: distributed, it would look like a race.
  static void convertCopies(func::FuncOp kernel) {
    SmallVector<memref::CopyOp> copies;
    kernel.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
    for (memref::CopyOp copy : copies) {
      Operation *source = copy.getSource().getDefiningOp();
      Operation *target = copy.getTarget().getDefiningOp();
      if (copy.getSource() == copy.getTarget() ||
          (source && target && isa<memref::SubViewOp>(source) &&
           OperationEquivalence::isEquivalentTo(
               source, target, OperationEquivalence::IgnoreLocations))) {
        copy.erase();
        continue;
      }
      OpBuilder b(copy);
      linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(),
                             copy.getTarget());
      copy.erase();
    }
  }

  /// The markers the lowering sets, checked before anything relies on
  /// them: every atomic add's form (wherever it is: outside a block loop
  /// the scalarizer would still add f(inputs) with out = 0), and a host's
  /// completion counter, which hostCounter reuses as it finds it.
  static LogicalResult checkMarkers(ModuleOp module) {
    WalkResult atomics = module.walk([](linalg::LinalgOp op) {
      return failed(distribution::checkAtomicAdd(op)) ? WalkResult::interrupt()
                                                      : WalkResult::advance();
    });
    if (atomics.wasInterrupted())
      return failure();
    for (auto host : module.getOps<func::FuncOp>()) {
      memref::AllocOp counter;
      WalkResult counters = host.walk([&](memref::AllocOp alloc) {
        if (!alloc->hasAttr(attr::kZeroedBuffer))
          return WalkResult::advance();
        MemRefType expected = distribution::counterType(alloc.getContext());
        if (alloc.getType() != expected ||
            alloc->getBlock() != &host.getBody().front()) {
          alloc.emitOpError("marked ")
              << attr::kZeroedBuffer << " is a completion counter: a "
              << expected << " allocated in the host function's body";
          return WalkResult::interrupt();
        }
        if (counter) {
          alloc.emitOpError("is a second completion counter (")
              << attr::kZeroedBuffer << ") of '" << host.getSymName()
              << "': its kernels share one";
          return WalkResult::interrupt();
        }
        counter = alloc;
        return WalkResult::advance();
      });
      if (counters.wasInterrupted())
        return failure();
    }
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (threadsPerBlock < 1 || threadsPerBlock > 1024) {
      module.emitError("growc-distribute-kernels: threads must be in [1, "
                       "1024], got ")
          << threadsPerBlock;
      return signalPassFailure();
    }
    if (failed(checkMarkers(module)))
      return signalPassFailure();
    // Kernels added on the way (followers) are distributed when created.
    SmallVector<func::FuncOp> kernels;
    for (auto kernel : module.getOps<func::FuncOp>())
      if (kernel->hasAttr(attr::kKernel))
        kernels.push_back(kernel);
    for (func::FuncOp kernel : kernels) {
      if (!kernel.getBody().hasOneBlock()) {
        kernel.emitOpError("kernel must be a single block");
        return signalPassFailure();
      }
      if (failed(keepOtherKernels ? distributeForCpu(kernel)
                                  : distributeForGpu(module, kernel)))
        return signalPassFailure();
    }
  }
};

} // namespace
