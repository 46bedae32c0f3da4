//===- Distribution.cpp - shared pieces of growc-distribute-kernels -------===//
//
// Loop and forall builders, the scalar evaluation of linalg ops at given
// indices (and its spread over a block's threads), and the host-side
// rewriting of kernel calls when a distribution needs scratch buffers or
// further launches.
//
//===----------------------------------------------------------------------===//

#include "passes/Gpu/Distribution.h"

#include "growc/AttrNames.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"

#include <limits>
#include <numeric>

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
  SmallVector<Value> inputs;
  for (OpOperand *input : op.getDpsInputOperands())
    inputs.push_back(read(b, loc, op, *input, ivs));
  return evaluateWith(b, loc, op, ivs, inputs, outValue);
}

Value LinalgScalarizer::evaluateWith(OpBuilder &b, Location loc,
                                     linalg::LinalgOp op, ArrayRef<Value> ivs,
                                     ArrayRef<Value> inputs, Value outValue) {
  Block *body = op.getBlock();
  IRMapping mapping;
  for (auto [input, value] : llvm::zip(op.getDpsInputOperands(), inputs))
    mapping.map(body->getArgument(input->getOperandNumber()), value);
  if (outValue)
    mapping.map(body->getArguments().back(), outValue);
  for (Operation &nested : body->without_terminator()) {
    if (auto index = dyn_cast<linalg::IndexOp>(nested)) {
      mapping.map(index.getResult(), ivs[index.getDim()]);
      continue;
    }
    if (cloneVectorLoad(b, nested, mapping))
      continue;
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

bool LinalgScalarizer::isAtomicAdd(linalg::LinalgOp op) {
  return op->hasAttr(attr::kAtomicAdd);
}

Value LinalgScalarizer::evaluateAdded(OpBuilder &b, Location loc,
                                      linalg::LinalgOp op, ArrayRef<Value> ivs,
                                      ArrayRef<Value> inputs) {
  // The body is out + f(inputs) (checkAtomicAdd): with out = 0 it yields
  // f(inputs), what the atomic adds.
  Type type = getElementTypeOrSelf(op.getDpsInitOperand(0)->get().getType());
  Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(type, 0));
  return evaluateWith(b, loc, op, ivs, inputs, zero);
}

void LinalgScalarizer::atomicAdd(OpBuilder &b, Location loc,
                                 linalg::LinalgOp op, ArrayRef<Value> ivs,
                                 Value value) {
  Value buffer;
  SmallVector<Value> indices =
      indicesOf(b, loc, op, *op.getDpsInitOperand(0), ivs, buffer);
  memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::addf, value,
                              buffer, indices);
}

LogicalResult checkAtomicAdd(linalg::LinalgOp op) {
  if (!op->hasAttr(attr::kAtomicAdd))
    return success();
  FailureOr<Combiner> combiner = findCombiner(op);
  if (op.getNumReductionLoops() != 0 || op.getNumDpsInits() != 1 ||
      failed(combiner) || combiner->kind != Combiner::Add ||
      !getElementTypeOrSelf(op.getDpsInitOperand(0)->get().getType())
           .isF32())
    return op.emitOpError("an atomic add must be elementwise, f32, with a "
                          "body out + f(inputs)");
  return success();
}

/// The widest access a vector load or store may use: 128 bits.
constexpr int64_t kVectorBits = 128;

/// Where the last index of `map` is `inner + c` or `inner mod m + c` (a
/// half of a row read at a constant offset, a row read for each of two
/// halves): a number that `c` and `m` are multiples of; elements that
/// many apart along the loop start contiguous runs of that many.
static std::optional<int64_t> innerRun(AffineMap map, unsigned inner) {
  if (map.getNumResults() == 0)
    return std::nullopt;
  AffineExpr expr = map.getResults().back();
  // Peels `expr = lhs <kind> constant`, returning the constant (else 0).
  auto peel = [&](AffineExprKind kind) -> int64_t {
    auto binary = dyn_cast<AffineBinaryOpExpr>(expr);
    if (!binary || binary.getKind() != kind)
      return 0;
    auto constant = dyn_cast<AffineConstantExpr>(binary.getRHS());
    if (!constant)
      return 0;
    expr = binary.getLHS();
    return constant.getValue();
  };
  int64_t shift = peel(AffineExprKind::Add);
  int64_t modulus = peel(AffineExprKind::Mod);
  if (expr != getAffineDimExpr(inner, map.getContext()) || modulus < 0)
    return std::nullopt;
  return std::gcd(std::abs(shift), modulus);
}

int64_t
LinalgScalarizer::vectorWidth(linalg::LinalgOp op, unsigned fixed,
                              SmallVectorImpl<OpOperand *> &vectorOperands) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  unsigned inner = ranges.size() - 1;
  // Elementwise work, or a reduction of everything after `fixed`.
  if (ranges.size() <= fixed || llvm::any_of(llvm::drop_begin(iterators, fixed),
                                             [&](utils::IteratorType it) {
                                               return it != iterators.back();
                                             }))
    return 0;
  // Operands whose innermost index is the innermost loop and whose
  // elements along it are contiguous; their other strides and offset keep
  // every vector at a multiple of its width (the base pointer is checked
  // when the kernel runs).
  SmallVector<OpOperand *> candidates;
  llvm::DenseMap<OpOperand *, int64_t> runs;
  int64_t widestBits = 0;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type || shrunk.count(operand.get()) || type.getRank() == 0)
      continue;
    unsigned bits = type.getElementTypeBitWidth();
    if (bits != 16 && bits != 32)
      continue;
    AffineMap map = op.getMatchingIndexingMap(&operand);
    std::optional<int64_t> run = innerRun(map, inner);
    if (!run ||
        llvm::any_of(map.getResults().drop_back(), [&](AffineExpr expr) {
          return expr.isFunctionOfDim(inner);
        }))
      continue;
    candidates.push_back(&operand);
    runs[&operand] = *run;
    widestBits = std::max<int64_t>(widestBits, bits);
  }
  // Reads by index that are contiguous along the loop load vectors too.
  widestBits = std::max(widestBits, findVectorLoads(op, inner));
  // Loads in the body (gathers, halves of a row read by index) are one
  // strided access per element of a vector: where they are all the work
  // reads (no input is a vector), it keeps the element loop, coalesced.
  bool gathers = op->walk([](memref::LoadOp) {
                     return WalkResult::interrupt();
                   }).wasInterrupted();
  vectorLoads.clear();
  peeled = false;
  if (candidates.empty() && loadCandidates.empty())
    return 0;
  for (int64_t width = kVectorBits / widestBits; width >= 2; width /= 2) {
    if (ranges[inner] % width != 0)
      continue;
    vectorOperands.clear();
    selectVectorLoads(width);
    for (OpOperand *operand : candidates) {
      auto type = cast<MemRefType>(operand->get().getType());
      SmallVector<int64_t> strides;
      int64_t offset;
      if (failed(type.getStridesAndOffset(strides, offset)) ||
          strides.back() != 1 || ShapedType::isDynamic(offset) ||
          offset % width != 0 || runs[operand] % width != 0 ||
          llvm::any_of(
              ArrayRef<int64_t>(strides).drop_back(), [&](int64_t stride) {
                return ShapedType::isDynamic(stride) || stride % width != 0;
              }))
        continue;
      vectorOperands.push_back(operand);
    }
    bool readsVectors =
        !vectorLoads.empty() ||
        llvm::any_of(vectorOperands,
                     [&](OpOperand *operand) { return op.isDpsInput(operand); });
    if ((!vectorOperands.empty() || !vectorLoads.empty()) &&
        (readsVectors || !gathers)) {
      vectorWidthInUse = width;
      return width;
    }
  }
  vectorLoads.clear();
  int64_t width = kVectorBits / widestBits;
  if (loadCandidates.empty() &&
      peelRows(op, fixed, candidates, width, vectorOperands)) {
    vectorWidthInUse = width;
    return width;
  }
  return 0;
}

SmallVector<SmallVector<Value>> LinalgScalarizer::vectorLanes(
    OpBuilder &b, linalg::LinalgOp op, ArrayRef<Value> ivs, int64_t width,
    ArrayRef<OpOperand *> vectorOperands, SmallVector<Value> &outs) {
  Location loc = op.getLoc();
  unsigned inner = ivs.size() - 1;
  SmallVector<SmallVector<Value>> laneIvs;
  for (int64_t lane = 0; lane < width; ++lane) {
    laneIvs.emplace_back(ivs);
    if (lane > 0)
      laneIvs.back()[inner] = arith::AddIOp::create(
          b, loc, ivs[inner], indexConstant(b, loc, lane));
  }
  // The values of `operand` per element: one vector load, one load when it
  // does not vary along the vector, else one per element.
  auto laneValues = [&](OpOperand &operand) {
    SmallVector<Value> values;
    if (!isa<ShapedType>(operand.get().getType())) {
      values.assign(width, operand.get());
      return values;
    }
    if (llvm::is_contained(vectorOperands, &operand)) {
      Value buffer;
      SmallVector<Value> indices = indicesOf(b, loc, op, operand, ivs, buffer);
      auto type = cast<MemRefType>(buffer.getType());
      Value vector = vector::LoadOp::create(
          b, loc, VectorType::get({width}, type.getElementType()), buffer,
          indices, /*nontemporal=*/false,
          llvm::MaybeAlign(width * type.getElementTypeBitWidth() / 8));
      for (int64_t lane = 0; lane < width; ++lane)
        values.push_back(vector::ExtractOp::create(b, loc, vector, lane));
      return values;
    }
    if (!op.getMatchingIndexingMap(&operand).isFunctionOfDim(inner)) {
      values.assign(width, read(b, loc, op, operand, ivs));
      return values;
    }
    for (int64_t lane = 0; lane < width; ++lane)
      values.push_back(read(b, loc, op, operand, laneIvs[lane]));
    return values;
  };
  SmallVector<SmallVector<Value>> inputs;
  for (OpOperand *input : op.getDpsInputOperands())
    inputs.push_back(laneValues(*input));
  // A reduction's output is the running value, not read here.
  OpOperand *out = op.getDpsInitOperand(0);
  bool elementwise = llvm::all_of(op.getIteratorTypesArray(), [](auto it) {
    return it == utils::IteratorType::parallel;
  });
  outs = elementwise && op.payloadUsesValueFromOperand(out)
             ? laneValues(*out)
             : SmallVector<Value>(width, Value());
  // Per element: its indices, then its inputs.
  SmallVector<SmallVector<Value>> lanes;
  for (int64_t lane = 0; lane < width; ++lane) {
    lanes.push_back(laneIvs[lane]);
    for (SmallVector<Value> &values : inputs)
      lanes.back().push_back(values[lane]);
  }
  return lanes;
}

Value LinalgScalarizer::vectorsAligned(OpBuilder &b, Location loc,
                                       int64_t width,
                                       ArrayRef<OpOperand *> vectorOperands) {
  Value aligned;
  SmallVector<Value> buffers = llvm::map_to_vector(
      vectorOperands, [](OpOperand *operand) { return operand->get(); });
  for (memref::LoadOp load : vectorLoads)
    if (!llvm::is_contained(buffers, load.getMemRef()))
      buffers.push_back(load.getMemRef());
  for (Value buffer : buffers) {
    auto type = cast<MemRefType>(buffer.getType());
    Value pointer =
        memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer);
    Value misalignment = arith::RemUIOp::create(
        b, loc, pointer,
        indexConstant(b, loc, width * type.getElementTypeBitWidth() / 8));
    Value ok = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                     misalignment, indexConstant(b, loc, 0));
    aligned = aligned ? arith::AndIOp::create(b, loc, aligned, ok) : ok;
  }
  return aligned;
}

void LinalgScalarizer::emitVectorLoop(
    OpBuilder &b, linalg::LinalgOp op, ArrayRef<Value> fixed, Value thread,
    int64_t threads, int64_t width, ArrayRef<OpOperand *> vectorOperands,
    function_ref<void(OpBuilder &, Value)> element) {
  Location loc = op.getLoc();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<int64_t> parSizes(ranges.begin() + fixed.size(), ranges.end());
  int64_t elements = 1;
  for (int64_t size : parSizes)
    elements *= size;
  OpOperand *out = op.getDpsInitOperand(0);
  unsigned numIvs = ranges.size();
  // A peeled row: its first and last elements one by one, the vectors
  // between them from the first aligned element.
  RowSpan span;
  if (peeled) {
    span = rowSpan(b, loc, fixed, elements, width);
    stridedLoop(b, loc, thread, span.head, indexConstant(b, loc, threads),
                element);
    stridedLoop(b, loc, arith::AddIOp::create(b, loc, span.tail, thread),
                indexConstant(b, loc, elements), indexConstant(b, loc, threads),
                element);
  }
  stridedLoop(
      b, loc, thread,
      peeled ? span.vectors : indexConstant(b, loc, elements / width),
      indexConstant(b, loc, threads), [&](OpBuilder &nb, Value g) {
        Value first =
            arith::MulIOp::create(nb, loc, g, indexConstant(nb, loc, width));
        if (peeled)
          first = arith::AddIOp::create(nb, loc, span.head, first);
        SmallVector<Value> ivs(fixed);
        llvm::append_range(ivs, delinearize(nb, loc, first, parSizes));
        SmallVector<Value> outs;
        SmallVector<SmallVector<Value>> lanes =
            vectorLanes(nb, op, ivs, width, vectorOperands, outs);
        SmallVector<Value> results;
        for (int64_t lane = 0; lane < width; ++lane) {
          // The body's contiguous reads: lane 0 loads the vector.
          vectorLane = lane;
          results.push_back(evaluateWith(
              nb, loc, op, ArrayRef<Value>(lanes[lane]).take_front(numIvs),
              ArrayRef<Value>(lanes[lane]).drop_front(numIvs), outs[lane]));
        }
        vectorLane = -1;
        if (!llvm::is_contained(vectorOperands, out)) {
          for (int64_t lane = 0; lane < width; ++lane)
            write(nb, loc, op, ArrayRef<Value>(lanes[lane]).take_front(numIvs),
                  results[lane]);
          return;
        }
        Value buffer;
        SmallVector<Value> indices = indicesOf(nb, loc, op, *out, ivs, buffer);
        auto type = cast<MemRefType>(buffer.getType());
        Value vector = vector::FromElementsOp::create(
            nb, loc, VectorType::get({width}, type.getElementType()), results);
        vector::StoreOp::create(
            nb, loc, vector, buffer, indices, /*nontemporal=*/false,
            llvm::MaybeAlign(width * type.getElementTypeBitWidth() / 8));
      });
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
    // The GPU backend combines these partials with warp shuffles.
    StringAttr kind =
        b.getStringAttr(combiner.kind == Combiner::Add ? "add" : "max");
    {
      auto forall = createForall(b, loc, {threads}, {threadX(ctx)});
      Value thread = forall.getInductionVar(0);
      Value identity = arith::ConstantOp::create(
          b, loc, b.getFloatAttr(type, combiner.identity));
      auto scalarFold = [&](Value from, Value to, Value init) {
        return foldLoop(b, loc, from, to, indexConstant(b, loc, threads), init,
                        [&](OpBuilder &rb, Value r, Value acc) {
                          return evaluate(
                              rb, loc, op,
                              loopIvs({}, delinearize(rb, loc, r, redSizes)),
                              acc);
                        });
      };
      // Vectors of consecutive elements where the operands allow (as for
      // elementwise work), each folded in order into the thread's partial.
      SmallVector<OpOperand *> vectorOperands;
      Value partial;
      if (int64_t width =
              threads > 1 ? vectorWidth(op, fixed.size(), vectorOperands) : 0) {
        auto ifOp = scf::IfOp::create(
            b, loc, TypeRange{type},
            vectorsAligned(b, loc, width, vectorOperands), /*withElse=*/true);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(ifOp.thenBlock());
        unsigned numIvs = ranges.size();
        // A peeled row: its first and last elements one by one, then the
        // vectors between them from the first aligned element.
        RowSpan span;
        Value start = identity;
        if (peeled) {
          span = rowSpan(b, loc, fixed, count, width);
          start = scalarFold(thread, span.head, identity);
          start = scalarFold(arith::AddIOp::create(b, loc, span.tail, thread),
                             indexConstant(b, loc, count), start);
        }
        Value vectorPartial = foldLoop(
            b, loc, thread,
            peeled ? span.vectors : indexConstant(b, loc, count / width),
            indexConstant(b, loc, threads), start,
            [&](OpBuilder &rb, Value g, Value acc) {
              Value first = arith::MulIOp::create(
                  rb, loc, g, indexConstant(rb, loc, width));
              if (peeled)
                first = arith::AddIOp::create(rb, loc, span.head, first);
              SmallVector<Value> outs;
              SmallVector<SmallVector<Value>> lanes = vectorLanes(
                  rb, op, loopIvs({}, delinearize(rb, loc, first, redSizes)),
                  width, vectorOperands, outs);
              for (auto [index, lane] : llvm::enumerate(lanes)) {
                vectorLane = index;
                acc = evaluateWith(rb, loc, op,
                                   ArrayRef<Value>(lane).take_front(numIvs),
                                   ArrayRef<Value>(lane).drop_front(numIvs),
                                   acc);
              }
              vectorLane = -1;
              return acc;
            });
        scf::YieldOp::create(b, loc, ValueRange{vectorPartial});
        b.setInsertionPointToStart(ifOp.elseBlock());
        scf::YieldOp::create(
            b, loc,
            ValueRange{
                scalarFold(thread, indexConstant(b, loc, count), identity)});
        partial = ifOp.getResult(0);
      } else {
        partial = scalarFold(thread, indexConstant(b, loc, count), identity);
      }
      auto store = memref::StoreOp::create(b, loc, partial, partials,
                                           ValueRange{thread});
      store->setAttr(kCombinePartials, kind);
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
    total.getDefiningOp()->setAttr(kCombinePartials, kind);
    memref::StoreOp::create(b, loc, total, buffer, outIndices);
    b.setInsertionPointAfter(forall);
    return;
  }

  // Parallel iterations strided over the threads (consecutive threads take
  // consecutive elements: coalesced along the innermost dimension); the
  // reduction loops of an element, if any, run in order in its thread.
  bool atomic = isAtomicAdd(op);
  bool readsOut = !atomic && op.payloadUsesValueFromOperand(out);
  int64_t elements = product(parSizes);
  int64_t count = product(redSizes);
  auto forall = createForall(b, loc, {threads}, {threadX(ctx)});
  // A block's elementwise work moves its global operands in vectors of up
  // to 128 bits where their base pointers are aligned (checked when the
  // kernel runs: plan buffers are, views at offsets may not be), else
  // element by element. A one-thread (CPU) block keeps the scalar loop.
  SmallVector<OpOperand *> vectorOperands;
  // Atomic adds stay element by element: after a thread's vector load, its
  // adds to consecutive elements would be a warp's strided requests, four
  // times the sectors of one coalesced add per thread (and sm_90's vector
  // red needs PTX 8.1).
  int64_t width = threads > 1 && !atomic
                      ? vectorWidth(op, fixed.size(), vectorOperands)
                      : 0;
  auto element = [&](OpBuilder &nb, Value e) {
    SmallVector<Value> par = delinearize(nb, loc, e, parSizes);
    SmallVector<Value> zeros(redSizes.size(), indexConstant(nb, loc, 0));
    Value buffer;
    SmallVector<Value> outIndices =
        indicesOf(nb, loc, op, *out, loopIvs(par, zeros), buffer);
    Value init = readsOut || !redSizes.empty()
                     ? memref::LoadOp::create(nb, loc, buffer, outIndices)
                     : Value();
    if (atomic) {
      SmallVector<Value> ivs = loopIvs(par, {});
      SmallVector<Value> inputs;
      for (OpOperand *input : op.getDpsInputOperands())
        inputs.push_back(read(nb, loc, op, *input, ivs));
      atomicAdd(nb, loc, op, ivs, evaluateAdded(nb, loc, op, ivs, inputs));
      return;
    }
    Value result;
    if (redSizes.empty())
      result = evaluate(nb, loc, op, loopIvs(par, {}), init);
    else
      result =
          foldLoop(nb, loc, indexConstant(nb, loc, 0),
                   indexConstant(nb, loc, count), indexConstant(nb, loc, 1),
                   init, [&](OpBuilder &rb, Value r, Value acc) {
                     return evaluate(
                         rb, loc, op,
                         loopIvs(par, delinearize(rb, loc, r, redSizes)), acc);
                   });
    memref::StoreOp::create(nb, loc, result, buffer, outIndices);
  };
  if (width) {
    auto ifOp =
        scf::IfOp::create(b, loc, vectorsAligned(b, loc, width, vectorOperands),
                          /*withElse=*/true);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    emitVectorLoop(b, op, fixed, forall.getInductionVar(0), threads, width,
                   vectorOperands, element);
    b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
  }
  stridedLoop(b, loc, forall.getInductionVar(0), elements, threads, element);
  b.setInsertionPointAfter(forall);
}

void LinalgScalarizer::emitColumnAccumulation(OpBuilder &b, linalg::LinalgOp op,
                                              Value row, Value acc,
                                              int64_t threads) {
  Location loc = op.getLoc();
  int64_t columns = op.getStaticLoopRanges()[1];
  auto forall = createForall(b, loc, {threads}, {threadX(b.getContext())});
  Value thread = forall.getInductionVar(0);
  // acc[j] = body(inputs at (row, j), acc[j]); the same thread owns column
  // j in every row, so the accumulator needs no barrier of its own.
  auto accumulate = [&](OpBuilder &nb, ArrayRef<Value> ivs,
                        ArrayRef<Value> inputs) {
    Value old = memref::LoadOp::create(nb, loc, acc, ValueRange{ivs[1]});
    Value sum = evaluateWith(nb, loc, op, ivs, inputs, old);
    memref::StoreOp::create(nb, loc, sum, acc, ValueRange{ivs[1]});
  };
  auto scalarLoop = [&]() {
    stridedLoop(b, loc, thread, columns, threads, [&](OpBuilder &nb, Value j) {
      SmallVector<Value> ivs = {row, j};
      SmallVector<Value> inputs;
      for (OpOperand *input : op.getDpsInputOperands())
        inputs.push_back(read(nb, loc, op, *input, ivs));
      accumulate(nb, ivs, inputs);
    });
  };
  // The output is the block's accumulator, not a global vector operand.
  SmallVector<OpOperand *> vectorOperands;
  int64_t width = threads > 1 ? vectorWidth(op, 1, vectorOperands) : 0;
  llvm::erase(vectorOperands, op.getDpsInitOperand(0));
  // Every row's vectors start aligned only where the width divides the
  // row (no peeling here: the accumulator's columns stay fixed per thread).
  if (!width || columns % width != 0 || vectorOperands.empty()) {
    scalarLoop();
    b.setInsertionPointAfter(forall);
    return;
  }
  auto ifOp = scf::IfOp::create(
      b, loc, vectorsAligned(b, loc, width, vectorOperands), /*withElse=*/true);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  stridedLoop(
      b, loc, thread, columns / width, threads, [&](OpBuilder &nb, Value g) {
        Value first =
            arith::MulIOp::create(nb, loc, g, indexConstant(nb, loc, width));
        SmallVector<Value> outs;
        SmallVector<SmallVector<Value>> lanes =
            vectorLanes(nb, op, {row, first}, width, vectorOperands, outs);
        for (ArrayRef<Value> lane : lanes)
          accumulate(nb, lane.take_front(2), lane.drop_front(2));
      });
  b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
  scalarLoop();
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

MemRefType counterType(MLIRContext *ctx) {
  return MemRefType::get({1}, IntegerType::get(ctx, 32));
}

Value hostCounter(func::FuncOp host) {
  Block &entry = host.getBody().front();
  for (auto alloc : entry.getOps<memref::AllocOp>())
    if (alloc->hasAttr(attr::kZeroedBuffer))
      return alloc;
  OpBuilder b = OpBuilder::atBlockBegin(&entry);
  auto alloc =
      memref::AllocOp::create(b, host.getLoc(), counterType(b.getContext()));
  alloc->setAttr(attr::kZeroedBuffer, b.getUnitAttr());
  return alloc;
}

void applyHostChanges(ModuleOp module, func::FuncOp kernel,
                      const HostChanges &changes) {
  if (changes.scratch.empty() && changes.followers.empty() && !changes.counter)
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
    if (changes.counter)
      operands.push_back(hostCounter(call->getParentOfType<func::FuncOp>()));
    func::CallOp::create(b, loc, kernel, operands);
    for (func::FuncOp follower : changes.followers)
      func::CallOp::create(b, loc, follower, operands);
    call.erase();
  }
}

} // namespace distribution
} // namespace growc
