//===- DistributeOwnKernels.cpp - kernels that are not row kernels --------===//
//
// The training graphs have kernels whose work is not one block per row of
// [B·T, ·]: an op marked growc.own_kernel alone in its kernel (an AdamW or
// gradient-accumulation update over a parameter's shape, a reduction over
// all rows: the token count, the mean loss, an RMSNorm weight gradient, a
// parameter's sum of squares for the clip norm), and block loops (an
// scf.forall of independent iterations, like the embedding gradient's
// vocabulary ranges). This file distributes them:
//
// - elementwise: grid-strided over the flattened elements;
// - reductions: blocks over tiles of output elements and chunks of the
//   reduced elements; a block's threads fold strided partials, combined in
//   thread order; with more than one chunk, each block writes its partial
//   to a scratch buffer and a second, small kernel combines the chunks in
//   chunk order. No float atomics: the result does not depend on timing;
// - block loops: one block per iteration, every linalg op in it (also under
//   scf.for / scf.if) a thread loop, per-block buffers in shared memory.
//
//===----------------------------------------------------------------------===//

#include "passes/Gpu/Distribution.h"

#include "growc/AttrNames.h"

#include "llvm/ADT/SmallBitVector.h"

using namespace mlir;
using namespace growc;
using namespace growc::distribution;

namespace {

/// Grid-stride kernels launch at most this many blocks.
constexpr int64_t kMaxStrideBlocks = 4096;
/// A reduction chunk gives each thread about this many elements to fold.
constexpr int64_t kElementsPerThread = 32;
/// At most this many chunks (partials per output element).
constexpr int64_t kMaxChunks = 1024;

int64_t product(ArrayRef<int64_t> sizes) {
  int64_t n = 1;
  for (int64_t size : sizes)
    n *= size;
  return n;
}

/// Each parallel iteration of `op` must own one output element: the
/// output is indexed by the parallel loops, each once, and constant 0 on
/// dimensions the reduction collapsed to one element.
LogicalResult checkOutputOwnership(linalg::LinalgOp op) {
  AffineMap map = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  llvm::SmallBitVector seen(iterators.size());
  for (AffineExpr expr : map.getResults()) {
    if (auto constant = dyn_cast<AffineConstantExpr>(expr);
        constant && constant.getValue() == 0)
      continue;
    auto dim = dyn_cast<AffineDimExpr>(expr);
    if (!dim || seen.test(dim.getPosition()) ||
        iterators[dim.getPosition()] != utils::IteratorType::parallel)
      return op.emitOpError("the output must be indexed by distinct parallel "
                            "loops");
    seen.set(dim.getPosition());
  }
  for (unsigned d = 0; d < iterators.size(); ++d)
    if (iterators[d] == utils::IteratorType::parallel && !seen.test(d))
      return op.emitOpError("parallel loop ")
             << d << " does not index the output";
  return success();
}

/// The shape the thread loops rely on: one output buffer, static loops,
/// each parallel iteration owning one output element, no reads of other
/// elements of the output, and (where partial results are combined,
/// `combined`) a sum or max reduction.
LogicalResult checkThreadable(linalg::LinalgOp op, bool combined) {
  if (op.getNumDpsInits() != 1 || !op.hasPureBufferSemantics())
    return op.emitOpError("GPU distribution expects one output buffer");
  if (llvm::any_of(op.getStaticLoopRanges(), ShapedType::isDynamic))
    return op.emitOpError("GPU distribution expects static loops");
  if (failed(checkOutputOwnership(op)))
    return failure();
  if (combined && failed(findCombiner(op)))
    return op.emitOpError("only sum and max reductions are distributed");
  return checkNoSelfOverlap(op);
}

/// The ops of an own kernel: the marked op and elementwise ops over its
/// output before it (the fill that initialises a reduction) and after it
/// (a copy of the result to another output).
struct OwnKernelOps {
  SmallVector<linalg::LinalgOp> before, after;
  linalg::LinalgOp main;
};

/// Whether `aux` is elementwise over exactly `shape` with identity maps.
bool isElementwiseOver(linalg::LinalgOp aux, ArrayRef<int64_t> shape) {
  if (aux.getNumDpsInits() != 1 || aux.getNumReductionLoops() != 0 ||
      aux.getStaticLoopRanges() != SmallVector<int64_t>(shape))
    return false;
  for (OpOperand &operand : aux->getOpOperands())
    if (isa<ShapedType>(operand.get().getType()) &&
        !aux.getMatchingIndexingMap(&operand).isIdentity())
      return false;
  return true;
}

FailureOr<OwnKernelOps> collectOwnKernelOps(func::FuncOp kernel) {
  OwnKernelOps ops;
  for (Operation &op : kernel.getBody().front()) {
    if (isa<arith::ConstantOp, memref::ExpandShapeOp, memref::CollapseShapeOp,
            func::ReturnOp>(op))
      continue;
    auto linalgOp = dyn_cast<linalg::LinalgOp>(&op);
    if (!linalgOp)
      return op.emitOpError("cannot share a kernel with an op of its own");
    if (op.hasAttr(attr::kOwnKernel)) {
      if (ops.main)
        return op.emitOpError("a kernel has one op of its own");
      ops.main = linalgOp;
      continue;
    }
    (ops.main ? ops.after : ops.before).push_back(linalgOp);
  }
  if (!ops.main)
    return kernel.emitOpError("has no op marked growc.own_kernel");
  linalg::LinalgOp main = ops.main;
  // Reductions are split into partials wherever they have rows to share.
  if (failed(checkThreadable(main, main.getNumReductionLoops() > 0)))
    return failure();
  auto outType = cast<MemRefType>(main.getDpsInitOperand(0)->get().getType());
  for (linalg::LinalgOp aux :
       llvm::concat<linalg::LinalgOp>(ops.before, ops.after)) {
    if (!isElementwiseOver(aux, outType.getShape()))
      return aux.emitOpError("only elementwise work over the output of the "
                             "kernel's own op may share its kernel");
  }
  for (linalg::LinalgOp aux : ops.before)
    if (aux.getDpsInitOperand(0)->get() != main.getDpsInitOperand(0)->get())
      return aux.emitOpError("before the kernel's own op, only its output "
                             "may be initialised");
  for (linalg::LinalgOp aux : ops.after)
    for (OpOperand *input : aux.getDpsInputOperands())
      if (isa<ShapedType>(input->get().getType()) &&
          input->get() != main.getDpsInitOperand(0)->get())
        return aux.emitOpError("after the kernel's own op, only its output "
                               "may be read");
  return ops;
}

/// Runs `aux` ops at the output element whose indices are `outIndices`.
void emitAuxAt(OpBuilder &b, LinalgScalarizer &s,
               ArrayRef<linalg::LinalgOp> auxOps, ArrayRef<Value> outIndices) {
  for (linalg::LinalgOp aux : auxOps) {
    Value current =
        aux.payloadUsesValueFromOperand(aux.getDpsInitOperand(0))
            ? memref::LoadOp::create(
                  b, aux.getLoc(), aux.getDpsInitOperand(0)->get(), outIndices)
            : Value();
    s.write(b, aux.getLoc(), aux, outIndices,
            s.evaluate(b, aux.getLoc(), aux, outIndices, current));
  }
}

/// Output indices of `main` (in the output's dimension order) from its
/// loop indices.
SmallVector<Value> outputIndices(OpBuilder &b, linalg::LinalgOp main,
                                 ArrayRef<Value> ivs) {
  AffineMap map = main.getMatchingIndexingMap(main.getDpsInitOperand(0));
  return llvm::map_to_vector(map.getResults(), [&](AffineExpr expr) {
    if (auto dim = dyn_cast<AffineDimExpr>(expr))
      return ivs[dim.getPosition()];
    return indexConstant(b, main.getLoc(), 0); // checkOutputOwnership
  });
}

/// Every element in its own thread, grid-strided.
void emitElementwise(OwnKernelOps &ops, int64_t threads) {
  linalg::LinalgOp main = ops.main;
  Location loc = main.getLoc();
  MLIRContext *ctx = main.getContext();
  SmallVector<int64_t> ranges = main.getStaticLoopRanges();
  int64_t elements = product(ranges);
  int64_t blocks = std::clamp<int64_t>((elements + threads - 1) / threads, 1,
                                       kMaxStrideBlocks);
  OpBuilder b(main);
  LinalgScalarizer s;
  auto grid = createForall(b, loc, {blocks}, {blockDim(ctx, 0)});
  auto forall = createForall(b, loc, {threads}, {threadX(ctx)});
  Value first = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, grid.getInductionVar(0),
                            indexConstant(b, loc, threads)),
      forall.getInductionVar(0));
  bool readsOut = main.payloadUsesValueFromOperand(main.getDpsInitOperand(0));
  auto element = [&](OpBuilder &nb, Value e) {
    SmallVector<Value> ivs = delinearize(nb, loc, e, ranges);
    SmallVector<Value> outIdx = outputIndices(nb, main, ivs);
    emitAuxAt(nb, s, ops.before, outIdx);
    Value current = readsOut
                        ? memref::LoadOp::create(
                              nb, loc, main.getDpsInitOperand(0)->get(), outIdx)
                        : Value();
    s.write(nb, loc, main, ivs, s.evaluate(nb, loc, main, ivs, current));
    emitAuxAt(nb, s, ops.after, outIdx);
  };
  // Alone in its kernel (a table's zeros, a gradient accumulation), the op
  // moves its operands in vectors where they allow.
  if (ops.before.empty() && ops.after.empty() && threads > 1)
    s.emitStrided(b, main, first, blocks * threads, elements, element);
  else
    stridedLoop(b, loc, first, elements, blocks * threads, element);
}

/// How a reduction is split: output elements in tiles of `width` (one
/// column of threads each), `groups` threads per column, the reduced
/// elements in `chunks` of `chunkLength`.
struct ReductionSplit {
  SmallVector<int64_t> parSizes, redSizes;
  int64_t outputs, reduced, width, groups, tiles, chunks, chunkLength;
};

ReductionSplit splitReduction(linalg::LinalgOp main, int64_t threads) {
  ReductionSplit split;
  SmallVector<int64_t> ranges = main.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = main.getIteratorTypesArray();
  for (unsigned d = 0; d < ranges.size(); ++d)
    (iterators[d] == utils::IteratorType::parallel ? split.parSizes
                                                   : split.redSizes)
        .push_back(ranges[d]);
  split.outputs = product(split.parSizes);
  split.reduced = product(split.redSizes);
  // Consecutive output elements in consecutive threads (a warp's loads of
  // one reduced index are then contiguous when the output's elements are
  // innermost), the rest of the block folding further reduced indices.
  split.width =
      split.outputs == 1 ? 1 : std::min<int64_t>({32, split.outputs, threads});
  split.groups = threads / split.width;
  split.tiles = (split.outputs + split.width - 1) / split.width;
  int64_t chunks =
      std::clamp<int64_t>(split.reduced / (split.groups * kElementsPerThread),
                          1, std::max<int64_t>(1, kMaxChunks / split.tiles));
  split.chunkLength = (split.reduced + chunks - 1) / chunks;
  split.chunks = (split.reduced + split.chunkLength - 1) / split.chunkLength;
  return split;
}

/// The iteration indices of `main` for output element `e` and reduced
/// element `r` (both flattened).
SmallVector<Value> reductionIvs(OpBuilder &b, Location loc,
                                linalg::LinalgOp main,
                                const ReductionSplit &split, Value e, Value r) {
  SmallVector<Value> par = delinearize(b, loc, e, split.parSizes);
  SmallVector<Value> red = delinearize(b, loc, r, split.redSizes);
  SmallVector<Value> ivs;
  unsigned p = 0, q = 0;
  for (utils::IteratorType it : main.getIteratorTypesArray())
    ivs.push_back(it == utils::IteratorType::parallel ? par[p++] : red[q++]);
  return ivs;
}

/// `out(e) = before; out(e) = out(e) ⊕ partials...; after` for one output
/// element, the partials folded by `fold` from the current value.
void emitFinish(OpBuilder &b, LinalgScalarizer &s, OwnKernelOps &ops,
                const ReductionSplit &split, Value e,
                function_ref<Value(OpBuilder &, Value)> fold) {
  linalg::LinalgOp main = ops.main;
  Location loc = main.getLoc();
  Value zero = indexConstant(b, loc, 0);
  SmallVector<Value> ivs = reductionIvs(b, loc, main, split, e, zero);
  SmallVector<Value> outIdx = outputIndices(b, main, ivs);
  emitAuxAt(b, s, ops.before, outIdx);
  Value buffer = main.getDpsInitOperand(0)->get();
  Value current = memref::LoadOp::create(b, loc, buffer, outIdx);
  memref::StoreOp::create(b, loc, fold(b, current), buffer, outIdx);
  emitAuxAt(b, s, ops.after, outIdx);
}

/// Launch 1 of a reduction: block (tile, chunk) folds its share; with one
/// chunk it finishes the outputs, else it writes partials[chunk, e].
void emitReductionPartials(OwnKernelOps &ops, const ReductionSplit &split,
                           const Combiner &combiner, Value partialsOut) {
  linalg::LinalgOp main = ops.main;
  Location loc = main.getLoc();
  MLIRContext *ctx = main.getContext();
  OpBuilder b(main);
  LinalgScalarizer s;
  auto idx = [&](OpBuilder &nb, int64_t v) {
    return indexConstant(nb, loc, v);
  };
  SmallVector<int64_t> gridSizes = {split.tiles};
  SmallVector<Attribute> mapping = {blockDim(ctx, 0)};
  if (split.chunks > 1) {
    gridSizes.push_back(split.chunks);
    mapping.push_back(blockDim(ctx, 1));
  }
  auto grid = createForall(b, loc, gridSizes, mapping);
  Value tile = grid.getInductionVar(0);
  Value chunk = split.chunks > 1 ? grid.getInductionVar(1) : idx(b, 0);
  int64_t blockThreads = split.width * split.groups;
  Value partials;
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(grid.getBody());
    partials = memref::AllocOp::create(
        b, loc, MemRefType::get({blockThreads}, b.getF32Type()));
  }
  Value identity = f32Constant(b, loc, combiner.identity);
  Value chunkStart =
      arith::MulIOp::create(b, loc, chunk, idx(b, split.chunkLength));
  Value chunkEnd = arith::MinUIOp::create(
      b, loc,
      arith::AddIOp::create(b, loc, chunkStart, idx(b, split.chunkLength)),
      idx(b, split.reduced));
  auto outputOf = [&](OpBuilder &nb, Value lane) {
    return arith::AddIOp::create(
        nb, loc, arith::MulIOp::create(nb, loc, tile, idx(nb, split.width)),
        lane);
  };
  // Thread (lane, group) folds reduced elements group, group + groups, ...
  // of the chunk for output element tile·width + lane.
  {
    auto threads = createForall(b, loc, {blockThreads}, {threadX(ctx)});
    Value t = threads.getInductionVar(0);
    Value lane = arith::RemUIOp::create(b, loc, t, idx(b, split.width));
    Value group = arith::DivUIOp::create(b, loc, t, idx(b, split.width));
    Value e = outputOf(b, lane);
    Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, e,
                                          idx(b, split.outputs));
    auto guarded = scf::IfOp::create(b, loc, TypeRange{b.getF32Type()}, inRange,
                                     /*withElse=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(guarded.thenBlock());
      Value partial = foldLoop(
          b, loc, arith::AddIOp::create(b, loc, chunkStart, group), chunkEnd,
          idx(b, split.groups), identity,
          [&](OpBuilder &rb, Value r, Value acc) {
            return s.evaluate(rb, loc, main,
                              reductionIvs(rb, loc, main, split, e, r), acc);
          });
      scf::YieldOp::create(b, loc, partial);
      b.setInsertionPointToStart(guarded.elseBlock());
      scf::YieldOp::create(b, loc, identity);
    }
    memref::StoreOp::create(b, loc, guarded.getResult(0), partials, t);
    b.setInsertionPointAfter(threads);
  }
  // One thread per output element combines its column's partials in group
  // order.
  auto threads = createForall(b, loc, {split.width}, {threadX(ctx)});
  Value lane = threads.getInductionVar(0);
  Value e = outputOf(b, lane);
  auto guarded =
      scf::IfOp::create(b, loc,
                        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                              e, idx(b, split.outputs)),
                        /*withElse=*/false);
  b.setInsertionPoint(guarded.thenBlock()->getTerminator());
  auto foldGroups = [&](OpBuilder &nb, Value init) {
    return foldLoop(
        nb, loc, idx(nb, 0), idx(nb, split.groups), idx(nb, 1), init,
        [&](OpBuilder &rb, Value g, Value acc) {
          Value slot = arith::AddIOp::create(
              rb, loc, arith::MulIOp::create(rb, loc, g, idx(rb, split.width)),
              lane);
          return combiner.combine(
              rb, loc, acc, memref::LoadOp::create(rb, loc, partials, slot));
        });
  };
  if (split.chunks == 1) {
    emitFinish(b, s, ops, split, e, foldGroups);
    return;
  }
  memref::StoreOp::create(b, loc, foldGroups(b, identity), partialsOut,
                          ValueRange{chunk, e});
}

/// Launch 2 of a reduction: each output element folds its chunks'
/// partials in chunk order.
void emitReductionCombine(OwnKernelOps &ops, const ReductionSplit &split,
                          const Combiner &combiner, Value partialsIn,
                          int64_t threads) {
  linalg::LinalgOp main = ops.main;
  Location loc = main.getLoc();
  MLIRContext *ctx = main.getContext();
  OpBuilder b(main);
  LinalgScalarizer s;
  auto idx = [&](OpBuilder &nb, int64_t v) {
    return indexConstant(nb, loc, v);
  };
  int64_t width = std::min(threads, split.outputs);
  auto grid = createForall(b, loc, {(split.outputs + width - 1) / width},
                           {blockDim(ctx, 0)});
  auto forall = createForall(b, loc, {width}, {threadX(ctx)});
  Value e = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, grid.getInductionVar(0), idx(b, width)),
      forall.getInductionVar(0));
  auto guarded =
      scf::IfOp::create(b, loc,
                        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                              e, idx(b, split.outputs)),
                        /*withElse=*/false);
  b.setInsertionPoint(guarded.thenBlock()->getTerminator());
  emitFinish(b, s, ops, split, e, [&](OpBuilder &nb, Value init) {
    return foldLoop(
        nb, loc, idx(nb, 0), idx(nb, split.chunks), idx(nb, 1), init,
        [&](OpBuilder &rb, Value c, Value acc) {
          return combiner.combine(
              rb, loc, acc,
              memref::LoadOp::create(rb, loc, partialsIn, ValueRange{c, e}));
        });
  });
}

void eraseOps(OwnKernelOps &ops) {
  for (linalg::LinalgOp op : llvm::reverse(ops.after))
    op->erase();
  ops.main->erase();
  for (linalg::LinalgOp op : llvm::reverse(ops.before))
    op->erase();
}

//===----------------------------------------------------------------------===//
// Block loops
//===----------------------------------------------------------------------===//

/// Distributes the body of a block loop over its block's threads.
class BlockLoop {
public:
  BlockLoop(scf::ForallOp loop, int64_t threads)
      : loop(loop), threads(threads) {}
  LogicalResult distribute();

private:
  LogicalResult checkOp(linalg::LinalgOp op);
  LogicalResult distributeBlock(Block &block, bool top);

  scf::ForallOp loop;
  int64_t threads;
  LinalgScalarizer scalarizer;
  Value partials;
};

LogicalResult BlockLoop::checkOp(linalg::LinalgOp op) {
  // Only a reduction with no parallel loops is split over threads; any
  // other keeps each output element's reduction in one thread.
  if (failed(checkAtomicAdd(op)))
    return failure();
  return checkThreadable(op, reducesEverythingAfter(op, 0));
}

LogicalResult BlockLoop::distributeBlock(Block &block, bool top) {
  for (Operation &op : llvm::make_early_inc_range(block.without_terminator())) {
    if (auto linalgOp = dyn_cast<linalg::LinalgOp>(&op)) {
      if (failed(checkOp(linalgOp)))
        return failure();
      OpBuilder b(&op);
      scalarizer.emitOverThreads(b, linalgOp, {}, threads, [&]() {
        if (!partials) {
          OpBuilder pb = OpBuilder::atBlockBegin(loop.getBody());
          partials = memref::AllocOp::create(
              pb, loop.getLoc(), MemRefType::get({threads}, pb.getF32Type()));
        }
        return partials;
      });
      op.erase();
      continue;
    }
    if (isa<memref::AllocOp>(op)) {
      if (!top)
        return op.emitOpError("a per-block buffer must be allocated at the "
                              "top of the block loop");
      continue;
    }
    if (isa<scf::ForOp, scf::IfOp>(op)) {
      // Control flow stays at block level: every thread runs it, so its
      // conditions and bounds must be the block's (they are computed from
      // block indices and loads, never from a thread's values).
      for (Region &region : op.getRegions())
        for (Block &nested : region)
          if (failed(distributeBlock(nested, /*top=*/false)))
            return failure();
      continue;
    }
    if (isa<memref::LoadOp>(op) || isMemoryEffectFree(&op))
      continue; // loads and index math run redundantly in every thread
    return op.emitOpError("cannot be distributed in a GPU block");
  }
  return success();
}

LogicalResult BlockLoop::distribute() {
  if (loop.getRank() > 3 || !loop.getOutputs().empty())
    return loop.emitOpError("a block loop has at most 3 dimensions and no "
                            "outputs");
  SmallVector<int64_t> counts;
  for (unsigned d = 0; d < loop.getRank(); ++d) {
    std::optional<int64_t> lb =
        getConstantIntValue(loop.getMixedLowerBound()[d]);
    std::optional<int64_t> ub =
        getConstantIntValue(loop.getMixedUpperBound()[d]);
    std::optional<int64_t> step = getConstantIntValue(loop.getMixedStep()[d]);
    if (!lb || !ub || !step || *lb != 0 || *step != 1)
      return loop.emitOpError("a block loop must be static and normalised");
    if (d > 0 && *ub > 65535)
      return loop.emitOpError("grid dimension ")
             << d << " has " << *ub << " blocks, more than 65535";
  }
  if (failed(distributeBlock(*loop.getBody(), /*top=*/true)))
    return failure();
  SmallVector<Attribute> mapping;
  for (unsigned d = 0; d < loop.getRank(); ++d)
    mapping.push_back(blockDim(loop.getContext(), d));
  loop.setMappingAttr(ArrayAttr::get(loop.getContext(), mapping));
  return success();
}

} // namespace

namespace growc {
namespace distribution {

LogicalResult distributeOwnKernel(func::FuncOp kernel, int64_t threads,
                                  HostChanges &changes) {
  FailureOr<OwnKernelOps> ops = collectOwnKernelOps(kernel);
  if (failed(ops))
    return failure();
  if (ops->main.getNumReductionLoops() == 0) {
    emitElementwise(*ops, threads);
    eraseOps(*ops);
    return success();
  }
  Combiner combiner = *findCombiner(ops->main);
  ReductionSplit split = splitReduction(ops->main, threads);
  if (split.chunks == 1) {
    emitReductionPartials(*ops, split, combiner, Value());
    eraseOps(*ops);
    return success();
  }
  // Partials [chunk, output element] in global memory between the two
  // launches; the combining follower starts as a copy of the kernel.
  changes.scratch.push_back(MemRefType::get(
      {split.chunks, split.outputs}, Float32Type::get(kernel.getContext())));
  Value partials = addScratchArguments(kernel, changes.scratch).front();
  func::FuncOp follower = createFollower(kernel, "combine");
  changes.followers.push_back(follower);
  emitReductionPartials(*ops, split, combiner, partials);
  eraseOps(*ops);
  FailureOr<OwnKernelOps> copies = collectOwnKernelOps(follower);
  if (failed(copies))
    return failure();
  emitReductionCombine(*copies, split, combiner, follower.getArguments().back(),
                       threads);
  eraseOps(*copies);
  return success();
}

LogicalResult distributeBlockLoop(func::FuncOp kernel, scf::ForallOp loop,
                                  int64_t threads) {
  return BlockLoop(loop, threads).distribute();
}

/// Makes the host's buffers `input` and `output` of `call` one, where the
/// call reads `input` last and writes `output` first; false where it
/// cannot tell.
static bool mergeBuffers(func::CallOp call, Value input, Value output) {
  Block *block = call->getBlock();
  auto ownBuffer = [&](Value buffer) {
    if (auto arg = dyn_cast<BlockArgument>(buffer))
      return arg.getOwner() == block;
    Operation *def = buffer.getDefiningOp();
    return isa_and_nonnull<memref::AllocOp>(def) && def->getBlock() == block;
  };
  if (input.getType() != output.getType() || !ownBuffer(input) ||
      !ownBuffer(output))
    return false;
  auto usedOnly = [&](Value buffer, bool before) {
    return llvm::all_of(buffer.getUsers(), [&](Operation *user) {
      Operation *at = block->findAncestorOpInBlock(*user);
      return at == call.getOperation() ||
             (at &&
              (before ? at->isBeforeInBlock(call) : call->isBeforeInBlock(at)));
    });
  };
  if (!usedOnly(input, /*before=*/true) || !usedOnly(output, /*before=*/false))
    return false;
  // The one that is available first (a function argument, or the alloc
  // defined first) stands for both.
  auto definedFirst = [&](Value a, Value b) {
    if (isa<BlockArgument>(a))
      return true;
    return !isa<BlockArgument>(b) &&
           a.getDefiningOp()->isBeforeInBlock(b.getDefiningOp());
  };
  Value kept = definedFirst(input, output) ? input : output;
  Value dropped = kept == input ? output : input;
  dropped.replaceAllUsesWith(kept);
  dropped.getDefiningOp()->erase();
  return true;
}

LogicalResult shareUpdatedInputs(ModuleOp module, func::FuncOp kernel) {
  Block &body = kernel.getBody().front();
  SmallVector<memref::CopyOp> copies;
  for (auto copy : body.getOps<memref::CopyOp>())
    if (isa<BlockArgument>(copy.getSource()) &&
        isa<BlockArgument>(copy.getTarget()) && copy.getTarget().hasOneUse())
      copies.push_back(copy);
  if (copies.empty() || body.getOps<scf::ForallOp>().empty())
    return success();
  SmallVector<func::CallOp> calls;
  module.walk([&](func::CallOp call) {
    if (call.getCallee() == kernel.getSymName())
      calls.push_back(call);
  });
  llvm::BitVector erased(kernel.getNumArguments());
  for (memref::CopyOp copy : copies) {
    unsigned in = cast<BlockArgument>(copy.getSource()).getArgNumber();
    unsigned out = cast<BlockArgument>(copy.getTarget()).getArgNumber();
    for (func::CallOp call : calls)
      if (!mergeBuffers(call, call.getOperand(in), call.getOperand(out)))
        return call.emitOpError("'")
               << kernel.getSymName() << "' updates argument " << in
               << " in place and copies it to argument " << out
               << ", and the host's buffers for them cannot be one";
    copy.erase();
    erased.set(out);
  }
  for (func::CallOp call : calls)
    call->eraseOperands(erased);
  return kernel.eraseArguments(erased);
}

} // namespace distribution
} // namespace growc
