//===- VectorLoads.cpp - vector loads of a body's contiguous reads -------===//
//
// Part of the LinalgScalarizer (Distribution.h): the loads a linalg op's
// body makes by index (the SwiGLU forward reads the gate and up halves of
// one [rows, 2F] matrix at (row, j) and (row, j + F)) are contiguous along
// the innermost loop where their last index is that loop's index plus a
// constant, their other indices do not vary along it and the buffer's rows
// are contiguous. The vector loop (emitVectorLoop) then loads each such
// read once per vector, as it loads the op's operands, instead of one
// strided scalar per element. Rows the vector does not divide (the tiny
// vocabulary's 259 logits) take vectors between their first aligned
// element and their last whole vector, the elements around them one by one.
// Kernels of their own that are one elementwise op (an untied table's
// zeros) stride the same vector loop over the grid (emitStrided).
//
//===----------------------------------------------------------------------===//

#include "passes/Gpu/Distribution.h"

using namespace mlir;

namespace growc {
namespace distribution {

/// Whether `value`, inside the body of `op`, varies along loop `inner`:
/// its index, an operand's element, or computed from either.
static bool variesAlong(linalg::LinalgOp op, Value value, unsigned inner) {
  if (auto arg = dyn_cast<BlockArgument>(value))
    return arg.getOwner() == op.getBlock();
  Operation *def = value.getDefiningOp();
  if (!def || !op->isAncestor(def))
    return false;
  if (auto index = dyn_cast<linalg::IndexOp>(def))
    return index.getDim() == inner;
  return llvm::any_of(def->getOperands(),
                      [&](Value v) { return variesAlong(op, v, inner); });
}

/// The constant c of a last index `linalg.index inner + c` (or `c +`, or
/// c = 0), else nothing.
static std::optional<int64_t> innerShift(Value index, unsigned inner) {
  auto isInner = [&](Value v) {
    auto op = v.getDefiningOp<linalg::IndexOp>();
    return op && op.getDim() == inner;
  };
  if (isInner(index))
    return 0;
  auto add = index.getDefiningOp<arith::AddIOp>();
  if (!add)
    return std::nullopt;
  for (auto [a, c] : {std::pair(add.getLhs(), add.getRhs()),
                      std::pair(add.getRhs(), add.getLhs())}) {
    APInt shift;
    if (isInner(a) && matchPattern(c, m_ConstantInt(&shift)))
      return shift.getSExtValue();
  }
  return std::nullopt;
}

int64_t LinalgScalarizer::findVectorLoads(linalg::LinalgOp op,
                                          unsigned inner) {
  loadCandidates.clear();
  int64_t widestBits = 0;
  for (Operation &nested : op.getBlock()->without_terminator()) {
    auto load = dyn_cast<memref::LoadOp>(nested);
    if (!load || load.getIndices().empty())
      continue;
    // Global memory: a kernel argument, not a block's buffer.
    auto buffer = dyn_cast<BlockArgument>(load.getMemRef());
    if (!buffer || shrunk.count(buffer) ||
        !isa<FunctionOpInterface>(buffer.getOwner()->getParentOp()))
      continue;
    unsigned bits = load.getMemRefType().getElementTypeBitWidth();
    std::optional<int64_t> shift =
        innerShift(load.getIndices().back(), inner);
    if ((bits != 16 && bits != 32) || !shift ||
        llvm::any_of(load.getIndices().drop_back(),
                     [&](Value v) { return variesAlong(op, v, inner); }))
      continue;
    loadCandidates.push_back({load, *shift});
    widestBits = std::max<int64_t>(widestBits, bits);
  }
  return widestBits;
}

void LinalgScalarizer::selectVectorLoads(int64_t width) {
  vectorLoads.clear();
  for (auto [load, shift] : loadCandidates) {
    SmallVector<int64_t> strides;
    int64_t offset;
    if (shift % width != 0 ||
        failed(load.getMemRefType().getStridesAndOffset(strides, offset)) ||
        strides.back() != 1 ||
        ShapedType::isDynamic(offset) || offset % width != 0 ||
        llvm::any_of(ArrayRef<int64_t>(strides).drop_back(),
                     [&](int64_t stride) {
                       return ShapedType::isDynamic(stride) ||
                              stride % width != 0;
                     }))
      continue;
    vectorLoads.push_back(load);
  }
}

bool LinalgScalarizer::cloneVectorLoad(OpBuilder &b, Operation &nested,
                                       IRMapping &mapping) {
  auto load = dyn_cast<memref::LoadOp>(nested);
  if (vectorLane < 0 || !load || !llvm::is_contained(vectorLoads, load))
    return false;
  Location loc = load.getLoc();
  // Lane 0 comes first: it loads the vector the later lanes take theirs
  // from.
  if (vectorLane == 0) {
    SmallVector<Value> indices = llvm::map_to_vector(
        load.getIndices(), [&](Value v) { return mapping.lookupOrDefault(v); });
    Type element = load.getMemRefType().getElementType();
    laneVectors[load] = vector::LoadOp::create(
        b, loc, VectorType::get({vectorWidthInUse}, element),
        mapping.lookupOrDefault(load.getMemRef()), indices,
        /*nontemporal=*/false,
        llvm::MaybeAlign(vectorWidthInUse *
                         element.getIntOrFloatBitWidth() / 8));
  }
  mapping.map(load.getResult(),
              vector::ExtractOp::create(b, loc, laneVectors.lookup(load),
                                        vectorLane));
  return true;
}

void LinalgScalarizer::emitStrided(
    OpBuilder &b, linalg::LinalgOp op, Value thread, int64_t threads,
    int64_t elements, function_ref<void(OpBuilder &, Value)> element) {
  Location loc = op.getLoc();
  SmallVector<OpOperand *> vectorOperands;
  if (int64_t width = vectorWidth(op, /*fixed=*/0, vectorOperands)) {
    auto ifOp =
        scf::IfOp::create(b, loc, vectorsAligned(b, loc, width, vectorOperands),
                          /*withElse=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    emitVectorLoop(b, op, {}, thread, threads, width, vectorOperands, element);
    b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
    stridedLoop(b, loc, thread, elements, threads, element);
    return;
  }
  stridedLoop(b, loc, thread, elements, threads, element);
}

bool LinalgScalarizer::peelRows(linalg::LinalgOp op, unsigned fixed,
                                ArrayRef<OpOperand *> candidates, int64_t width,
                                SmallVectorImpl<OpOperand *> &vectorOperands) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  // One row at a time (the leading loops fixed), long enough for vectors
  // whatever its alignment.
  if (fixed + 1 != ranges.size() || ranges.back() < 2 * width)
    return false;
  vectorOperands.clear();
  SmallVector<int64_t> rowStrides;
  int64_t rowOffset = 0;
  for (OpOperand *operand : candidates) {
    auto type = cast<MemRefType>(operand->get().getType());
    SmallVector<int64_t> strides;
    int64_t offset;
    if (!op.getMatchingIndexingMap(operand).isIdentity() ||
        type.getElementTypeBitWidth() * width != 128 ||
        failed(type.getStridesAndOffset(strides, offset)) ||
        strides.back() != 1 || ShapedType::isDynamic(offset) ||
        llvm::any_of(strides, ShapedType::isDynamic))
      continue;
    // Every vector operand's row must start at the same place within a
    // vector, so that one split of the row fits them all.
    if (vectorOperands.empty()) {
      rowStrides = strides;
      rowOffset = offset;
    } else if (strides != rowStrides || offset != rowOffset) {
      continue;
    }
    vectorOperands.push_back(operand);
  }
  bool readsVectors = llvm::any_of(vectorOperands, [&](OpOperand *operand) {
    return op.isDpsInput(operand);
  });
  bool gathers = op->walk([](memref::LoadOp) {
                     return WalkResult::interrupt();
                   }).wasInterrupted();
  if (vectorOperands.empty() || (!readsVectors && gathers))
    return false;
  peeled = true;
  peelStrides = rowStrides;
  peelOffset = rowOffset;
  return true;
}

LinalgScalarizer::RowSpan LinalgScalarizer::rowSpan(OpBuilder &b, Location loc,
                                                    ArrayRef<Value> fixed,
                                                    int64_t n, int64_t width) {
  auto index = [&](int64_t v) { return indexConstant(b, loc, v); };
  // The row's first element, in elements from an aligned base pointer.
  Value start = index(peelOffset);
  for (auto [iv, stride] : llvm::zip(fixed, peelStrides))
    start = arith::AddIOp::create(
        b, loc, start, arith::MulIOp::create(b, loc, iv, index(stride)));
  RowSpan span;
  span.head = arith::RemUIOp::create(
      b, loc,
      arith::SubIOp::create(
          b, loc, index(width),
          arith::RemUIOp::create(b, loc, start, index(width))),
      index(width));
  span.vectors = arith::DivUIOp::create(
      b, loc, arith::SubIOp::create(b, loc, index(n), span.head), index(width));
  span.tail = arith::AddIOp::create(
      b, loc, span.head,
      arith::MulIOp::create(b, loc, span.vectors, index(width)));
  return span;
}

} // namespace distribution
} // namespace growc
