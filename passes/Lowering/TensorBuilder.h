//===- TensorBuilder.h - building tensor-level IR ---------------*- C++ -*-===//
//
// Small helpers shared by the passes that write tensor-level IR
// (linalg.generic with one output, fills, constants, affine maps).
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_LOWERING_TENSORBUILDER_H
#define GROWC_PASSES_LOWERING_TENSORBUILDER_H

#include "growc/AttrNames.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"

namespace growc {

constexpr mlir::utils::IteratorType kPar = mlir::utils::IteratorType::parallel;
constexpr mlir::utils::IteratorType kRed = mlir::utils::IteratorType::reduction;

class TensorBuilder {
public:
  TensorBuilder(mlir::OpBuilder &builder, mlir::Location loc)
      : b(builder), loc(loc), f32(builder.getF32Type()) {}

protected:
  using Value = mlir::Value;
  using ValueRange = mlir::ValueRange;
  using AffineMap = mlir::AffineMap;
  using AffineExpr = mlir::AffineExpr;
  using OpBuilder = mlir::OpBuilder;
  using Location = mlir::Location;
  using IteratorType = mlir::utils::IteratorType;
  template <typename T> using ArrayRef = llvm::ArrayRef<T>;
  template <typename F> using function_ref = llvm::function_ref<F>;

  Value constant(double value) {
    return mlir::arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
  }
  Value index(int64_t value) {
    return mlir::arith::ConstantIndexOp::create(b, loc, value);
  }
  Value empty(ArrayRef<int64_t> shape) {
    return mlir::tensor::EmptyOp::create(b, loc, shape, f32);
  }
  Value fill(ArrayRef<int64_t> shape, double value) {
    return mlir::linalg::FillOp::create(b, loc, ValueRange{constant(value)},
                                        ValueRange{empty(shape)})
        .getResult(0);
  }
  Value zeros(ArrayRef<int64_t> shape) { return fill(shape, 0.0); }
  AffineMap map(unsigned dims, ArrayRef<AffineExpr> results) {
    return mlir::AffineMap::get(dims, 0, results, b.getContext());
  }
  AffineExpr dim(unsigned i) { return b.getAffineDimExpr(i); }
  /// One linalg.generic with a single output; `body` gets the block
  /// arguments (inputs, then the output) and returns the value to yield.
  Value generic(ValueRange inputs, Value init, ArrayRef<AffineMap> maps,
                ArrayRef<IteratorType> iterators,
                function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    auto op = mlir::linalg::GenericOp::create(
        b, loc, mlir::TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
        iterators, /*doc=*/"", /*libraryCall=*/"",
        [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
          Value result = body(nested, nestedLoc, args);
          mlir::linalg::YieldOp::create(nested, nestedLoc, result);
        });
    return op.getResult(0);
  }

  /// init + Σ lhs·rhs over the reduction dimensions: a contraction.
  Value contraction(Value lhs, Value rhs, Value init, ArrayRef<AffineMap> maps,
                    ArrayRef<IteratorType> iterators) {
    return generic({lhs, rhs}, init, maps, iterators,
                   [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                     return mlir::arith::AddFOp::create(
                         nb, l,
                         mlir::arith::MulFOp::create(nb, l, args[0], args[1]),
                         args[2]);
                   });
  }

  /// Marks the op defining `v` as a kernel of its own (growc-form-kernels).
  Value ownKernel(Value v) {
    v.getDefiningOp()->setAttr(attr::kOwnKernel, b.getUnitAttr());
    return v;
  }

  OpBuilder &b;
  Location loc;
  mlir::Type f32;
};

} // namespace growc

#endif // GROWC_PASSES_LOWERING_TENSORBUILDER_H
