//===- Distribution.cpp - shared pieces of growc-distribute-kernels -------===//
//
// Loop and forall builders, the scalar evaluation of linalg ops at given
// indices (and its spread over a block's threads), and the host-side
// rewriting of kernel calls when a distribution needs scratch buffers or
// further launches.
//
//===----------------------------------------------------------------------===//

#include "passes/Gpu/Distribution.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"

#include <limits>

using namespace mlir;

namespace growc {
namespace distribution {

Value indexConstant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

Value f32Constant(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

scf::ForallOp createForall(OpBuilder &b, Location loc, ArrayRef<int64_t> counts,
                           ArrayRef<Attribute> mapping) {
  SmallVector<OpFoldResult> upper = llvm::map_to_vector(
      counts, [&](int64_t n) -> OpFoldResult { return b.getIndexAttr(n); });
  auto forall = scf::ForallOp::create(b, loc, upper, ValueRange{},
                                      b.getArrayAttr(mapping));
  b.setInsertionPoint(forall.getBody()->getTerminator());
  return forall;
}

Attribute blockDim(MLIRContext *ctx, unsigned i) {
  static const gpu::MappingId ids[] = {
      gpu::MappingId::DimX, gpu::MappingId::DimY, gpu::MappingId::DimZ};
  return gpu::GPUBlockMappingAttr::get(ctx, ids[i]);
}

Attribute threadX(MLIRContext *ctx) {
  return gpu::GPUThreadMappingAttr::get(ctx, gpu::MappingId::DimX);
}

void stridedLoop(OpBuilder &b, Location loc, Value start, Value end, Value step,
                 function_ref<void(OpBuilder &, Value)> body) {
  scf::ForOp::create(b, loc, start, end, step, ValueRange{},
                     [&](OpBuilder &nb, Location, Value iv, ValueRange) {
                       body(nb, iv);
                       scf::YieldOp::create(nb, loc);
                     });
}

void stridedLoop(OpBuilder &b, Location loc, Value start, int64_t end,
                 int64_t step, function_ref<void(OpBuilder &, Value)> body) {
  stridedLoop(b, loc, start, indexConstant(b, loc, end),
              indexConstant(b, loc, step), body);
}

Value foldLoop(OpBuilder &b, Location loc, Value start, Value end, Value step,
               Value init,
               function_ref<Value(OpBuilder &, Value, Value)> body) {
  auto loop = scf::ForOp::create(
      b, loc, start, end, step, ValueRange{init},
      [&](OpBuilder &nb, Location, Value iv, ValueRange acc) {
        scf::YieldOp::create(nb, loc, ValueRange{body(nb, iv, acc[0])});
      });
  return loop.getResult(0);
}

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

Value Combiner::combine(OpBuilder &b, Location loc, Value lhs,
                        Value rhs) const {
  if (kind == Add)
    return arith::AddFOp::create(b, loc, lhs, rhs);
  return arith::MaximumFOp::create(b, loc, lhs, rhs);
}

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

Value baseBuffer(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (auto view = dyn_cast<ViewLikeOpInterface>(def))
      value = view.getViewSource();
    else
      break;
  }
  return value;
}

LogicalResult checkNoSelfOverlap(linalg::LinalgOp op) {
  OpOperand *out = op.getDpsInitOperand(0);
  AffineMap outMap = op.getMatchingIndexingMap(out);
  Value base = baseBuffer(out->get());
  for (OpOperand *input : op.getDpsInputOperands())
    if (isa<ShapedType>(input->get().getType()) &&
        baseBuffer(input->get()) == base &&
        (input->get() != out->get() ||
         op.getMatchingIndexingMap(input) != outMap))
      return op.emitOpError("reads other elements of the buffer it writes");
  WalkResult walk = op->walk([&](memref::LoadOp load) {
    return baseBuffer(load.getMemRef()) == base ? WalkResult::interrupt()
                                                : WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return op.emitOpError("loads from the buffer it writes");
  return success();
}

bool reducesEverythingAfter(linalg::LinalgOp op, unsigned fixed) {
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  return iterators.size() > fixed &&
         llvm::all_of(llvm::drop_begin(iterators, fixed),
                      [](utils::IteratorType it) {
                        return it == utils::IteratorType::reduction;
                      });
}

//===----------------------------------------------------------------------===//
// LinalgScalarizer
//===----------------------------------------------------------------------===//

SmallVector<Value> LinalgScalarizer::indicesOf(OpBuilder &b, Location loc,
                                               linalg::LinalgOp op,
                                               OpOperand &operand,
                                               ArrayRef<Value> ivs,
                                               Value &buffer) {
  AffineMap map = op.getMatchingIndexingMap(&operand);
  buffer = operand.get();
  auto replacement = shrunk.find(buffer);
  bool drop = replacement != shrunk.end();
  if (drop)
    buffer = replacement->second;
  SmallVector<Value> indices;
  for (unsigned i = drop ? 1 : 0; i < map.getNumResults(); ++i) {
    AffineExpr expr = map.getResult(i);
    if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
      indices.push_back(ivs[dim.getPosition()]);
      continue;
    }
    if (auto constant = dyn_cast<AffineConstantExpr>(expr)) {
      indices.push_back(indexConstant(b, loc, constant.getValue()));
      continue;
    }
    indices.push_back(affine::AffineApplyOp::create(
        b, loc, AffineMap::get(map.getNumDims(), 0, expr), ivs));
  }
  if (drop && indices.empty())
    indices.push_back(indexConstant(b, loc, 0)); // a row of one scalar
  return indices;
}

Value LinalgScalarizer::read(OpBuilder &b, Location loc, linalg::LinalgOp op,
                             OpOperand &operand, ArrayRef<Value> ivs) {
  if (!isa<ShapedType>(operand.get().getType()))
    return operand.get(); // a scalar (linalg.fill's value)
  Value buffer;
  SmallVector<Value> indices = indicesOf(b, loc, op, operand, ivs, buffer);
  return memref::LoadOp::create(b, loc, buffer, indices);
}

Value LinalgScalarizer::evaluate(OpBuilder &b, Location loc,
                                 linalg::LinalgOp op, ArrayRef<Value> ivs,
                                 Value outValue) {
  Block *body = op.getBlock();
  IRMapping mapping;
  for (OpOperand *input : op.getDpsInputOperands())
    mapping.map(body->getArgument(input->getOperandNumber()),
                read(b, loc, op, *input, ivs));
  if (outValue)
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

void LinalgScalarizer::write(OpBuilder &b, Location loc, linalg::LinalgOp op,
                             ArrayRef<Value> ivs, Value value) {
  Value buffer;
  SmallVector<Value> indices =
      indicesOf(b, loc, op, *op.getDpsInitOperand(0), ivs, buffer);
  memref::StoreOp::create(b, loc, value, buffer, indices);
}

void LinalgScalarizer::emitOverThreads(OpBuilder &b, linalg::LinalgOp op,
                                       ArrayRef<Value> fixed, int64_t threads,
                                       function_ref<Value()> getPartials) {
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<int64_t> parSizes, redSizes;
  for (unsigned d = fixed.size(); d < ranges.size(); ++d)
    (iterators[d] == utils::IteratorType::parallel ? parSizes : redSizes)
        .push_back(ranges[d]);
  auto loopIvs = [&](ArrayRef<Value> par, ArrayRef<Value> red) {
    SmallVector<Value> ivs(fixed);
    unsigned p = 0, r = 0;
    for (unsigned d = fixed.size(); d < ranges.size(); ++d)
      ivs.push_back(iterators[d] == utils::IteratorType::parallel ? par[p++]
                                                                  : red[r++]);
    return ivs;
  };
  auto product = [](ArrayRef<int64_t> sizes) {
    int64_t n = 1;
    for (int64_t size : sizes)
      n *= size;
    return n;
  };
  OpOperand *out = op.getDpsInitOperand(0);

  if (parSizes.empty() && !redSizes.empty()) {
    // Each thread folds a strided share into its partial; one thread
    // combines the partials, in thread order, into the output.
    Combiner combiner = *findCombiner(op); // checked by the caller
    Value partials = getPartials();
    Type type = cast<MemRefType>(partials.getType()).getElementType();
    int64_t count = product(redSizes);
    {
      auto forall = createForall(b, loc, {threads}, {threadX(ctx)});
      Value thread = forall.getInductionVar(0);
      Value identity = arith::ConstantOp::create(
          b, loc, b.getFloatAttr(type, combiner.identity));
      Value partial =
          foldLoop(b, loc, thread, indexConstant(b, loc, count),
                   indexConstant(b, loc, threads), identity,
                   [&](OpBuilder &rb, Value r, Value acc) {
                     return evaluate(
                         rb, loc, op,
                         loopIvs({}, delinearize(rb, loc, r, redSizes)), acc);
                   });
      memref::StoreOp::create(b, loc, partial, partials, ValueRange{thread});
      b.setInsertionPointAfter(forall);
    }
    auto forall = createForall(b, loc, {1}, {threadX(ctx)});
    SmallVector<Value> zeros(redSizes.size(), indexConstant(b, loc, 0));
    SmallVector<Value> ivs = loopIvs({}, zeros);
    Value buffer;
    SmallVector<Value> outIndices = indicesOf(b, loc, op, *out, ivs, buffer);
    Value init = memref::LoadOp::create(b, loc, buffer, outIndices);
    Value total = foldLoop(
        b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, threads),
        indexConstant(b, loc, 1), init, [&](OpBuilder &rb, Value t, Value acc) {
          Value partial = memref::LoadOp::create(rb, loc, partials, t);
          return combiner.combine(rb, loc, acc, partial);
        });
    memref::StoreOp::create(b, loc, total, buffer, outIndices);
    b.setInsertionPointAfter(forall);
    return;
  }

  // Parallel iterations strided over the threads (consecutive threads take
  // consecutive elements: coalesced along the innermost dimension); the
  // reduction loops of an element, if any, run in order in its thread.
  bool readsOut = op.payloadUsesValueFromOperand(out);
  int64_t elements = product(parSizes);
  int64_t count = product(redSizes);
  auto forall = createForall(b, loc, {threads}, {threadX(ctx)});
  stridedLoop(
      b, loc, forall.getInductionVar(0), elements, threads,
      [&](OpBuilder &nb, Value e) {
        SmallVector<Value> par = delinearize(nb, loc, e, parSizes);
        SmallVector<Value> zeros(redSizes.size(), indexConstant(nb, loc, 0));
        Value buffer;
        SmallVector<Value> outIndices =
            indicesOf(nb, loc, op, *out, loopIvs(par, zeros), buffer);
        Value init = readsOut || !redSizes.empty()
                         ? memref::LoadOp::create(nb, loc, buffer, outIndices)
                         : Value();
        Value result;
        if (redSizes.empty())
          result = evaluate(nb, loc, op, loopIvs(par, {}), init);
        else
          result = foldLoop(
              nb, loc, indexConstant(nb, loc, 0), indexConstant(nb, loc, count),
              indexConstant(nb, loc, 1), init,
              [&](OpBuilder &rb, Value r, Value acc) {
                return evaluate(rb, loc, op,
                                loopIvs(par, delinearize(rb, loc, r, redSizes)),
                                acc);
              });
        memref::StoreOp::create(nb, loc, result, buffer, outIndices);
      });
  b.setInsertionPointAfter(forall);
}

//===----------------------------------------------------------------------===//
// Host-side changes
//===----------------------------------------------------------------------===//

SmallVector<Value> addScratchArguments(func::FuncOp kernel,
                                       ArrayRef<MemRefType> types) {
  unsigned n = kernel.getNumArguments();
  SmallVector<unsigned> positions(types.size(), n);
  SmallVector<Type> argTypes(types.begin(), types.end());
  SmallVector<DictionaryAttr> attrs(types.size());
  SmallVector<Location> locs(types.size(), kernel.getLoc());
  (void)kernel.insertArguments(positions, argTypes, attrs, locs);
  return llvm::map_to_vector(kernel.getArguments().drop_front(n),
                             [](BlockArgument arg) -> Value { return arg; });
}

func::FuncOp createFollower(func::FuncOp kernel, StringRef suffix) {
  auto module = kernel->getParentOfType<ModuleOp>();
  std::string name = (kernel.getSymName() + "_" + suffix).str();
  for (int i = 2; SymbolTable::lookupSymbolIn(module, name); ++i)
    name = (kernel.getSymName() + "_" + suffix + Twine(i)).str();
  OpBuilder b(kernel.getContext());
  b.setInsertionPointAfter(kernel);
  auto follower = cast<func::FuncOp>(b.clone(*kernel));
  follower.setSymName(name);
  return follower;
}

void applyHostChanges(ModuleOp module, func::FuncOp kernel,
                      const HostChanges &changes) {
  if (changes.scratch.empty() && changes.followers.empty())
    return;
  SmallVector<func::CallOp> calls;
  module.walk([&](func::CallOp call) {
    if (call.getCallee() == kernel.getSymName())
      calls.push_back(call);
  });
  for (func::CallOp call : calls) {
    OpBuilder b(call);
    Location loc = call.getLoc();
    SmallVector<Value> operands(call.getOperands());
    for (MemRefType type : changes.scratch)
      operands.push_back(memref::AllocOp::create(b, loc, type));
    func::CallOp::create(b, loc, kernel, operands);
    for (func::FuncOp follower : changes.followers)
      func::CallOp::create(b, loc, follower, operands);
    call.erase();
  }
}

} // namespace distribution
} // namespace growc
