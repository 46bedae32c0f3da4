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
// buffers, which this pass adds to the host function's calls.
//
//===----------------------------------------------------------------------===//

#include "passes/Gpu/Distribution.h"

#include "growc/AttrNames.h"

#include "llvm/ADT/SetVector.h"

namespace growc {
#define GEN_PASS_DEF_DISTRIBUTEKERNELS
#include "passes/Gpu/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;
using namespace growc::distribution;

namespace {

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
  func::FuncOp kernel;
  int64_t threads;
  int64_t rows = -1;
  SmallVector<linalg::LinalgOp> ops;
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
  return success();
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
    scalarizer.dropLeadingIndex(buffer, memref::AllocOp::create(b, loc, type));
  }
  Value partials;
  auto getPartials = [&]() {
    if (!partials) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(blocks.getBody());
      partials = memref::AllocOp::create(
          b, loc, MemRefType::get({threads}, b.getF32Type()));
    }
    return partials;
  };
  for (linalg::LinalgOp op : ops)
    scalarizer.emitOverThreads(b, op, {row}, threads, getPartials);
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
    return rowKernel.distribute();
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
      result = failed(rowKernel.analyse()) ? failure() : rowKernel.distribute();
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

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (threadsPerBlock < 1 || threadsPerBlock > 1024) {
      module.emitError("growc-distribute-kernels: threads must be in [1, "
                       "1024], got ")
          << threadsPerBlock;
      return signalPassFailure();
    }
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
