//===- VectorizeContractions.cpp - register accumulation for CPU kernels --===//
//
// Rewrites the row contractions of bufferized CPU kernels,
//
//   out[p..., n] += a[...] * b[..., n]      (sum over the reduction dims)
//
// into loops that keep the accumulated row in vector registers: scf.for
// over the parallel dims other than n, the row (up to kMaxWidth values of
// n) loaded once, the reduction loops innermost carrying it as a vector
// (fma of a broadcast `a` and a row of `b`), one store. The attention
// backward's tile products (dV += Pᵀ·dO, dQ += dS·K, dP = dO·Vᵀ,
// scores = Q·Kᵀ) and the forward's P·V have this shape.
//
// Why not leave it to LLVM: after convert-linalg-to-loops the accumulator
// lives in memory, so each reduction step loads, adds and stores the same
// row (a store-to-load forwarding chain, one FMA per ~5 cycles), and a
// short static n (a head dimension of 16) is fully unrolled before the loop
// vectoriser runs, which then vectorises across rows with gathers.
//
//===----------------------------------------------------------------------===//

#include "passes/Lowering/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace growc {
#define GEN_PASS_DEF_VECTORIZECONTRACTIONS
#include "passes/Lowering/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;

namespace {

/// Values of n per vector accumulator: 64 f32 are four AVX-512 or eight
/// AVX2 registers, which leaves room for the operands.
constexpr int64_t kMaxWidth = 64;

/// A generic that `out[..., n] += a[...] * b[..., n]` describes.
struct RowContraction {
  linalg::GenericOp op;
  unsigned scalarInput; // a: does not use n
  unsigned rowInput;    // b: n is its innermost, unit-stride dimension
  unsigned rowDim;      // the loop dimension n
  int64_t rowSize;
};

bool hasUnitInnerStride(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return !strides.empty() && strides.back() == 1;
}

/// The body is `yield (x * y) + acc` with x, y the two inputs (either
/// order on both operations).
bool isMultiplyAccumulate(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  if (body.getNumArguments() != 3 || body.getOperations().size() != 3)
    return false;
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value acc = body.getArgument(2);
  Value product = add.getLhs() == acc ? add.getRhs() : add.getLhs();
  if ((add.getLhs() != acc && add.getRhs() != acc) || product == acc)
    return false;
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return false;
  Value x = body.getArgument(0), y = body.getArgument(1);
  return (mul.getLhs() == x && mul.getRhs() == y) ||
         (mul.getLhs() == y && mul.getRhs() == x);
}

std::optional<RowContraction> match(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !isMultiplyAccumulate(op))
    return std::nullopt;
  // The rewrite reads the output row once and stores it once, so an input
  // that is the output buffer itself would be read stale.
  Value out = op.getDpsInits()[0];
  if (llvm::is_contained(op.getDpsInputs(), out))
    return std::nullopt;
  SmallVector<MemRefType> types;
  for (Value operand : op->getOperands()) {
    auto type = dyn_cast<MemRefType>(operand.getType());
    if (!type || !type.hasStaticShape() || type.getRank() == 0 ||
        !type.getElementType().isF32())
      return std::nullopt;
    types.push_back(type);
  }
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  for (AffineMap map : maps)
    if (!map.isProjectedPermutation())
      return std::nullopt;
  unsigned rowDim = maps[2].getDimPosition(maps[2].getNumResults() - 1);
  if (op.getIteratorTypesArray()[rowDim] != utils::IteratorType::parallel ||
      !hasUnitInnerStride(types[2]))
    return std::nullopt;
  for (unsigned row = 0; row < 2; ++row) {
    unsigned scalar = 1 - row;
    AffineMap rowMap = maps[row];
    if (rowMap.getDimPosition(rowMap.getNumResults() - 1) != rowDim ||
        !hasUnitInnerStride(types[row]) || maps[scalar].isFunctionOfDim(rowDim))
      continue;
    return RowContraction{op, scalar, row, rowDim, types[2].getShape().back()};
  }
  return std::nullopt;
}

void rewrite(const RowContraction &c) {
  linalg::GenericOp op = c.op;
  OpBuilder b(op);
  Location loc = op.getLoc();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  Value scalarOperand = op.getDpsInputs()[c.scalarInput];
  Value rowOperand = op.getDpsInputs()[c.rowInput];
  Value out = op.getDpsInits()[0];
  // Index constants, all created before the first loop.
  llvm::SmallDenseMap<int64_t, Value> constants;
  auto constant = [&](int64_t v) -> Value {
    Value &cached = constants[v];
    if (!cached)
      cached = arith::ConstantIndexOp::create(b, loc, v);
    return cached;
  };
  int64_t fullChunks = c.rowSize / kMaxWidth * kMaxWidth;
  for (int64_t v : {int64_t(0), int64_t(1), kMaxWidth, fullChunks})
    constant(v);
  for (int64_t range : ranges)
    constant(range);
  // Loop induction variables by dimension; the row dimension's entry is the
  // start of the current row chunk.
  SmallVector<Value> ivs(ranges.size());
  auto indices = [&](AffineMap map) {
    SmallVector<Value> result;
    for (unsigned i = 0; i < map.getNumResults(); ++i)
      result.push_back(ivs[map.getDimPosition(i)]);
    return result;
  };
  SmallVector<unsigned> parallel, reduction;
  for (unsigned d = 0; d < ranges.size(); ++d) {
    if (d == c.rowDim)
      continue;
    (iterators[d] == utils::IteratorType::parallel ? parallel : reduction)
        .push_back(d);
  }

  // One row chunk of `width` values at ivs[rowDim]: load, reduce, store.
  auto emitChunk = [&](int64_t width) {
    auto vectorType = VectorType::get({width}, b.getF32Type());
    Value acc =
        vector::LoadOp::create(b, loc, vectorType, out, indices(maps[2]));
    std::function<Value(unsigned, Value)> reduce = [&](unsigned level,
                                                       Value acc) -> Value {
      if (level == reduction.size()) {
        Value scalar = memref::LoadOp::create(b, loc, scalarOperand,
                                              indices(maps[c.scalarInput]));
        Value row = vector::LoadOp::create(b, loc, vectorType, rowOperand,
                                           indices(maps[c.rowInput]));
        Value broadcast =
            vector::BroadcastOp::create(b, loc, vectorType, scalar);
        return vector::FMAOp::create(b, loc, broadcast, row, acc);
      }
      unsigned d = reduction[level];
      auto loop = scf::ForOp::create(b, loc, constant(0), constant(ranges[d]),
                                     constant(1), ValueRange{acc});
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      ivs[d] = loop.getInductionVar();
      Value next = reduce(level + 1, loop.getRegionIterArgs()[0]);
      scf::YieldOp::create(b, loc, next);
      return loop.getResult(0);
    };
    Value sum = reduce(0, acc);
    vector::StoreOp::create(b, loc, sum, out, indices(maps[2]));
  };

  std::function<void(unsigned)> emitParallel = [&](unsigned level) {
    if (level == parallel.size()) {
      int64_t full = fullChunks;
      int64_t width = std::min(c.rowSize, kMaxWidth);
      if (full > kMaxWidth) {
        auto chunks = scf::ForOp::create(b, loc, constant(0), constant(full),
                                         constant(kMaxWidth));
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(chunks.getBody());
        ivs[c.rowDim] = chunks.getInductionVar();
        emitChunk(kMaxWidth);
      } else if (full == kMaxWidth || c.rowSize < kMaxWidth) {
        ivs[c.rowDim] = constant(0);
        emitChunk(width);
      }
      if (c.rowSize > kMaxWidth && c.rowSize % kMaxWidth != 0) {
        ivs[c.rowDim] = constant(full);
        emitChunk(c.rowSize - full);
      }
      return;
    }
    unsigned d = parallel[level];
    auto loop = scf::ForOp::create(b, loc, constant(0), constant(ranges[d]),
                                   constant(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    ivs[d] = loop.getInductionVar();
    emitParallel(level + 1);
  };
  emitParallel(0);
  op.erase();
}

struct VectorizeContractionsPass
    : growc::impl::VectorizeContractionsBase<VectorizeContractionsPass> {
  void runOnOperation() override {
    SmallVector<RowContraction> matches;
    getOperation().walk([&](linalg::GenericOp op) {
      if (std::optional<RowContraction> c = match(op))
        matches.push_back(*c);
    });
    for (const RowContraction &c : matches)
      rewrite(c);
  }
};

} // namespace
