//===- LowerLibraryCallsToLinalg.cpp - growk calls as linalg --------------===//
//
// The reference lowering of library calls: where no BLAS is linked (the
// JIT-based numerical tests), growk.matmul becomes an explicit contraction
// and growk.all_reduce the identity.
//
//===----------------------------------------------------------------------===//

#include "passes/Lowering/Passes.h"

#include "mlir/IR/Dominance.h"

namespace growc {
#define GEN_PASS_DEF_LOWERLIBRARYCALLSTOLINALG
#include "passes/Lowering/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;

namespace {

/// For a GEMM whose result is only inserted into a larger tensor (a chunk
/// of the LM head's weight gradient), the same slice of that tensor, built
/// before the GEMM; null otherwise. As the GEMM's init it bufferizes to a
/// view of the larger buffer, so the library call writes its rows in place
/// and the insert is a copy onto itself (no copy in the plan). The GEMM
/// overwrites its output, so the slice's old contents do not matter.
Value sliceOfInsertDestination(growk::MatmulOp op) {
  if (!op->hasOneUse())
    return {};
  auto insert = dyn_cast<tensor::InsertSliceOp>(*op->getUsers().begin());
  if (!insert || insert.getSource() != op.getResult() ||
      !insert.hasUnitStride())
    return {};
  // Everything the slice reads must already exist at the GEMM.
  DominanceInfo dominance(op->getParentOp());
  for (Value operand : insert->getOperands())
    if (operand != op.getResult() && !dominance.properlyDominates(operand, op))
      return {};
  OpBuilder b(op);
  return tensor::ExtractSliceOp::create(
      b, op.getLoc(), op.getResult().getType(), insert.getDest(),
      insert.getMixedOffsets(), insert.getMixedSizes(),
      insert.getMixedStrides());
}

/// C = A · Bᵀ, row-major, C overwritten (see docs/plan.md).
struct LowerLibraryCallsToLinalgPass
    : growc::impl::LowerLibraryCallsToLinalgBase<
          LowerLibraryCallsToLinalgPass> {
  using LowerLibraryCallsToLinalgBase::LowerLibraryCallsToLinalgBase;

  void runOnOperation() override {
    // A JIT-run graph is one process: the ranks' mean is its own value.
    if (!libraryCall)
      getOperation().walk([](growk::AllReduceOp op) {
        if (op.getResult())
          op.getResult().replaceAllUsesWith(op.getValue());
        op.erase();
      });
    SmallVector<growk::MatmulOp> calls;
    getOperation().walk([&](growk::MatmulOp op) { calls.push_back(op); });
    for (growk::MatmulOp op : calls) {
      OpBuilder b(op);
      Location loc = op.getLoc();
      auto type = op.getResult().getType();
      // A library call overwrites C (or adds to acc, its C input); the
      // generated contraction accumulates into its init.
      Value init = op.getAcc();
      if (!init && libraryCall)
        init = sliceOfInsertDestination(op);
      if (!init)
        init = tensor::EmptyOp::create(b, loc, type.getShape(),
                                       type.getElementType());
      if (!libraryCall && !op.getAcc()) {
        Value zero = arith::ConstantOp::create(
            b, loc, b.getFloatAttr(type.getElementType(), 0.0));
        init =
            linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{init})
                .getResult(0);
      }
      MLIRContext *ctx = b.getContext();
      AffineExpr m = b.getAffineDimExpr(0), n = b.getAffineDimExpr(1),
                 k = b.getAffineDimExpr(2);
      bool ta = op.getTransposeLhs(), tb = op.getTransposeRhs();
      SmallVector<AffineMap> maps = {
          AffineMap::get(3, 0, {ta ? k : m, ta ? m : k}, ctx),
          AffineMap::get(3, 0, {tb ? n : k, tb ? k : n}, ctx),
          AffineMap::get(3, 0, {m, n}, ctx)};
      growk::GemmCall call{ta, tb, bool(op.getAcc())};
      auto generic = linalg::GenericOp::create(
          b, loc, TypeRange{type}, ValueRange{op.getLhs(), op.getRhs()},
          ValueRange{init}, maps,
          {utils::IteratorType::parallel, utils::IteratorType::parallel,
           utils::IteratorType::reduction},
          "", libraryCall ? call.name() : "",
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value lhs = args[0], rhs = args[1];
            Type f32 = nb.getF32Type();
            if (lhs.getType() != f32)
              lhs = arith::ExtFOp::create(nb, l, f32, lhs);
            if (rhs.getType() != f32)
              rhs = arith::ExtFOp::create(nb, l, f32, rhs);
            // Accumulation is f32 (the compute type) whatever C stores.
            Value acc = args[2];
            Type outType = acc.getType();
            if (outType != f32)
              acc = arith::ExtFOp::create(nb, l, f32, acc);
            Value prod = arith::MulFOp::create(nb, l, lhs, rhs);
            Value sum = arith::AddFOp::create(nb, l, prod, acc);
            if (outType != f32)
              sum = arith::TruncFOp::create(nb, l, outType, sum);
            linalg::YieldOp::create(nb, l, sum);
          });
      op.replaceAllUsesWith(generic.getResult(0));
      op.erase();
    }
  }
};
} // namespace
