//===- DemoteActivations.cpp - bf16 GEMM operands and outputs -------------===//
//
// Mixed precision for the GPU target (`--precision=bf16`): after kernel
// formation, the tensors that the GEMMs read and write are stored as bf16,
// while every kernel still computes in f32 and every GEMM accumulates in
// f32 (its compute type). What is demoted:
//
//  - a GEMM's result whose every use reads bf16 (a kernel argument, a
//    GEMM operand or the library attention's input, through host reshapes
//    and row blocks): q/k/v, gate/up, down, the attention output's
//    cotangent; also GEMM results written as blocks of one tensor that is
//    read as bf16 (the per-(sample, KV head) scores of
//    growc-attention-to-gemms);
//  - a kernel's result that a GEMM or the library attention reads, under
//    the same condition (the RMSNorm outputs, the SwiGLU product, q, k and
//    v after RoPE);
//  - the kernel library's attention (growc-attention-to-tensor-cores) reads
//    q, k, v (and o, dout in its gradient) as bf16, as the tensor cores
//    do, and writes its output as bf16 when every reader takes bf16 (the
//    o projection, the gradient); its marker becomes the instance for
//    those types (FlashAttentionKernels.h). The gradients stay f32;
//  - an f32 master weight a GEMM reads (a parameter argument, or a block
//    of rows of one) is read from a persistent
//    bf16 copy instead: a host argument appended after all others, once
//    per parameter, listed in `growc.param_bf16_copies`. The runtime keeps
//    the copy equal to the rounded parameter (it fills it when it loads
//    or migrates the weights; in a train graph growk.adamw writes it with
//    the update, so every trained parameter gets a copy, the ones no GEMM
//    reads too, and the optimizer's bf16 region has the parameters'
//    element layout). No cast kernel runs for a weight on any step, and a
//    frozen weight is rounded once, not every step;
//  - any other f32 GEMM or library attention operand gets a bf16 copy
//    from a cast kernel placed before its first reader; a GEMM reading a
//    block of a tensor reads that block of the whole tensor's bf16 copy.
//
//  - a chain of input-gradient GEMMs summing into one result through their
//    accumulators (`acc`: the input gradients of q/k/v and of gate/up,
//    dX = Σ dYᵢ·Wᵢ with beta = 1), when the chain's last result is read as
//    bf16 and every other link only feeds the next: each link's output
//    bf16, which the next GEMM reads as its C (so the chain moves the bytes
//    the separate bf16 products and an add kernel moved, without the
//    kernel). Weight gradients summed over blocks keep f32.
//
// Values only passed between kernels (the residual stream, the RoPE tables)
// stay f32, as does a GEMM output that a residual
// accumulates into (a residual stream `acc`) or that leaves the graph (the
// logits). A kernel whose call sites now see other element types
// is cloned into a variant per signature: `arith.extf` of each bf16
// argument at its start, `arith.truncf` of each bf16 result at its end,
// each an elementwise linalg.generic that distribution treats like the
// kernel's other row work. Attention kernels and kernels of their own
// (`growc.own_kernel`) are distributed by the shape of their one op, so
// their signatures are left alone.
//
//===----------------------------------------------------------------------===//

#include "passes/Fusion/Passes.h"

#include "growc/AttrNames.h"
#include "growc/Codegen/FlashAttentionKernels.h"
#include "passes/Fusion/KernelOutlining.h"

#include "mlir/IR/IRMapping.h"

namespace growc {
#define GEN_PASS_DEF_DEMOTEACTIVATIONS
#include "passes/Fusion/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;

namespace {

/// A kernel whose signature must stay as formed: its distribution expects
/// exactly one op (attention, its gradient, an op of its own) and no
/// elementwise conversions around it.
bool hasFixedSignature(func::FuncOp kernel) {
  return kernel
      .walk([](Operation *op) {
        return isa<growk::AttentionOp, growk::AttentionGradOp>(op) ||
                       op->hasAttr(attr::kOwnKernel)
                   ? WalkResult::interrupt()
                   : WalkResult::advance();
      })
      .wasInterrupted();
}

/// Whether `use` is an activation the kernel library's attention reads (q,
/// k, v of growk.attention; q, k, v, o, dout of growk.attention_grad),
/// which it reads as bf16 as well as f32 (FlashAttentionKernels.h).
bool isLibraryAttentionInput(OpOperand &use) {
  Operation *user = use.getOwner();
  if (!user->hasAttr(attr::kLibraryKernel))
    return false;
  if (auto forward = dyn_cast<growk::AttentionOp>(user))
    return hasFlashAttentionInstance(forward.getHeadDim()) &&
           use.getOperandNumber() < 3;
  if (auto backward = dyn_cast<growk::AttentionGradOp>(user))
    return hasFlashAttentionInstance(backward.getHeadDim()) &&
           use.getOperandNumber() < 5;
  return false;
}

/// `value` converted elementwise to `elementType` (extf or truncf) by one
/// linalg.generic over its whole shape.
Value convertElements(OpBuilder &b, Location loc, Value value,
                      Type elementType) {
  auto type = cast<RankedTensorType>(value.getType());
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(), elementType);
  AffineMap identity = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> iterators(type.getRank(),
                                             utils::IteratorType::parallel);
  bool widen = elementType.getIntOrFloatBitWidth() >
               type.getElementType().getIntOrFloatBitWidth();
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{value},
             ValueRange{init}, ArrayRef<AffineMap>{identity, identity},
             iterators,
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value converted =
                   widen ? arith::ExtFOp::create(nb, l, elementType, args[0])
                               .getResult()
                         : arith::TruncFOp::create(nb, l, elementType, args[0])
                               .getResult();
               linalg::YieldOp::create(nb, l, converted);
             })
      .getResult(0);
}

RankedTensorType withElementType(Type type, Type elementType) {
  return cast<RankedTensorType>(type).clone(elementType);
}

/// Rounds the kernel result `value` to `elementType` inside the
/// linalg.generic that computes it, when that generic writes it into a
/// fresh tensor without reading it and nothing but the return reads it.
/// A separate rounding op would need the whole f32 value as an
/// intermediate: in a GPU row kernel, a per-block buffer as long as a row
/// (the cross-entropy gradient's 49152-wide logits rows are 192 KiB, four
/// times the shared memory).
bool roundInProducer(OpBuilder &b, Value value, Type elementType) {
  auto result = dyn_cast<OpResult>(value);
  auto generic = value.getDefiningOp<linalg::GenericOp>();
  if (!result || !generic || !value.hasOneUse())
    return false;
  OpOperand *init = generic.getDpsInitOperand(result.getResultNumber());
  BlockArgument out = generic.getMatchingBlockArgument(init);
  if (!init->get().getDefiningOp<tensor::EmptyOp>() || !out.use_empty())
    return false;
  Location loc = generic.getLoc();
  RankedTensorType type = withElementType(value.getType(), elementType);
  b.setInsertionPoint(generic);
  init->set(tensor::EmptyOp::create(b, loc, type.getShape(), elementType));
  out.setType(elementType);
  result.setType(type);
  auto yield = cast<linalg::YieldOp>(generic.getBody()->getTerminator());
  OpOperand &yielded = yield->getOpOperand(result.getResultNumber());
  b.setInsertionPoint(yield);
  yielded.set(arith::TruncFOp::create(b, loc, elementType, yielded.get()));
  return true;
}

/// Whether every read of the kernel argument `value` is an element read
/// (a linalg.generic input, a tensor.extract in a body, through reshapes),
/// which can widen the element it reads instead of the whole tensor. A
/// widened copy would be a buffer the kernel writes, and rows that read
/// other rows of it (RoPE's rotated half) cannot be distributed.
bool canWidenWhereRead(Value value) {
  for (OpOperand &use : value.getUses()) {
    Operation *user = use.getOwner();
    if (isa<tensor::ExtractOp>(user))
      continue;
    if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(user)) {
      if (!canWidenWhereRead(user->getResult(0)))
        return false;
      continue;
    }
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (!generic || !generic.isDpsInput(&use))
      return false;
  }
  return true;
}

/// Widens, for each read of the bf16 `value`, the element it reads to
/// `f32`; canWidenWhereRead(value) must hold.
void widenWhereRead(Value value, Type f32) {
  for (OpOperand &use : llvm::make_early_inc_range(value.getUses())) {
    Operation *user = use.getOwner();
    OpBuilder b(user);
    if (auto extract = dyn_cast<tensor::ExtractOp>(user)) {
      extract.getResult().setType(
          cast<RankedTensorType>(value.getType()).getElementType());
      b.setInsertionPointAfter(extract);
      auto widened =
          arith::ExtFOp::create(b, extract.getLoc(), f32, extract.getResult());
      extract.getResult().replaceAllUsesExcept(widened, widened);
    } else if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(user)) {
      Value result = user->getResult(0);
      result.setType(withElementType(
          result.getType(),
          cast<RankedTensorType>(value.getType()).getElementType()));
      widenWhereRead(result, f32);
    } else {
      auto generic = cast<linalg::GenericOp>(user);
      BlockArgument element = generic.getMatchingBlockArgument(&use);
      element.setType(cast<RankedTensorType>(value.getType()).getElementType());
      b.setInsertionPointToStart(generic.getBody());
      auto widened = arith::ExtFOp::create(b, generic.getLoc(), f32, element);
      element.replaceAllUsesExcept(widened, widened);
    }
  }
}

class Demoter {
public:
  Demoter(ModuleOp module)
      : module(module), bf16(BFloat16Type::get(module.getContext())) {}

  LogicalResult run(func::FuncOp host);
  /// GEMM results written into blocks of one tensor (tensor.empty, then a
  /// chain of insert_slices: the per-(sample, KV head) scores of
  /// growc-attention-to-gemms) whose whole reads bf16: every piece bf16.
  void demoteAssembledProducts(Block &body);

private:
  bool isKernelCall(Operation *op) const {
    auto call = dyn_cast<func::CallOp>(op);
    return call && getCalledKernel(call);
  }
  /// Whether every use of `value` reads bf16 as well as f32; counts the
  /// uses that are tensor-core operands (a GEMM's, the library
  /// attention's).
  bool allUsesTakeBf16(Value value, unsigned &tensorCoreUses);
  /// Gives `value` (and the host reshapes of it) bf16 elements.
  void demote(Value value);
  /// The f32 results of a chain of input-gradient GEMMs that sum into
  /// `last` through their accumulators, `last`'s included, when every link
  /// but the last is a GEMM result read only as the next link's
  /// accumulator; empty otherwise (an accumulator that is the residual
  /// stream, is read elsewhere or sums weight gradients keeps f32).
  SmallVector<Value> accumulatorChain(growk::MatmulOp last);
  /// A bf16 copy of `value` made by a cast kernel called before `before`.
  Value castToBf16(Value value, Operation *before);
  /// The parameter argument `value` is, if it is one.
  std::optional<unsigned> paramIndexOf(Value value) const;
  /// The bf16 copy argument of parameter `index`, appended to the host
  /// the first time it is asked for.
  Value paramCopy(func::FuncOp host, unsigned index);
  /// The bf16 operand a GEMM reads for the f32 `value` (a parameter, a
  /// block of rows of one, anything else), made before `before`.
  Value bf16Operand(func::FuncOp host, Value value, Operation *before);
  /// Gives the library attention `op` bf16 activations (copies of those
  /// still f32) and names its kernel for its element types.
  LogicalResult demoteLibraryAttention(func::FuncOp host, Operation *op);
  /// A train graph's optimizer step with a copy of each parameter it
  /// updates as its `bf16_params`.
  LogicalResult addBf16Params(func::FuncOp host, growk::AdamWOp adamw);
  /// The kernel `kernel` with argument and result types `type`.
  func::FuncOp variantOf(func::FuncOp kernel, FunctionType type);

  ModuleOp module;
  Type bf16;
  DenseMap<Value, Value> casts;
  DenseMap<Type, func::FuncOp> castKernels;
  /// Per host: where its parameter arguments start, how many there are,
  /// and each parameter's copy argument in order of creation.
  unsigned firstParam = 0, numParams = 0;
  SmallVector<std::pair<unsigned, Value>> paramCopies;
  DenseMap<std::pair<Operation *, Type>, func::FuncOp> variants;
};

bool Demoter::allUsesTakeBf16(Value value, unsigned &tensorCoreUses) {
  for (OpOperand &use : value.getUses()) {
    Operation *user = use.getOwner();
    if (auto matmul = dyn_cast<growk::MatmulOp>(user)) {
      // The accumulator is f32 by the op's definition.
      if (&use != &matmul.getLhsMutable() && &use != &matmul.getRhsMutable())
        return false;
      ++tensorCoreUses;
      continue;
    }
    if (isLibraryAttentionInput(use)) {
      ++tensorCoreUses;
      continue;
    }
    // Host views: reshapes, and blocks of rows that GEMMs read (the
    // per-(sample, KV head) blocks of growc-attention-to-gemms).
    if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(user) ||
        (isa<tensor::ExtractSliceOp>(user) && &use == &user->getOpOperand(0))) {
      if (!allUsesTakeBf16(user->getResult(0), tensorCoreUses))
        return false;
      continue;
    }
    auto call = dyn_cast<func::CallOp>(user);
    func::FuncOp kernel = call ? getCalledKernel(call) : nullptr;
    if (!kernel || hasFixedSignature(kernel))
      return false;
  }
  return true;
}

SmallVector<Value> Demoter::accumulatorChain(growk::MatmulOp last) {
  SmallVector<Value> chain;
  for (growk::MatmulOp link = last; link;) {
    // Weight gradients (dYᵀ·X, the loss row blocks' LM-head gradient)
    // accumulate in f32: they are master gradients.
    if (!link.getResult().getType().getElementType().isF32() ||
        link.getTransposeLhs())
      return {};
    chain.push_back(link.getResult());
    Value acc = link.getAcc();
    if (!acc)
      return chain;
    auto producer = acc.getDefiningOp<growk::MatmulOp>();
    if (!producer || !acc.hasOneUse())
      return {};
    link = producer;
  }
  return chain;
}

void Demoter::demote(Value value) {
  value.setType(withElementType(value.getType(), bf16));
  for (Operation *user : value.getUsers())
    if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp,
            tensor::ExtractSliceOp>(user))
      demote(user->getResult(0));
}

Value Demoter::castToBf16(Value value, Operation *before) {
  if (Value cast = casts.lookup(value))
    return cast;
  auto type = cast<RankedTensorType>(value.getType());
  auto castType = withElementType(type, bf16);
  func::FuncOp &kernel = castKernels[type];
  Location loc = before->getLoc();
  if (!kernel) {
    OpBuilder b(module.getContext());
    b.setInsertionPointToEnd(module.getBody());
    kernel = func::FuncOp::create(
        b, loc, ("cast_bf16_" + Twine(castKernels.size() - 1)).str(),
        b.getFunctionType({type}, {castType}));
    kernel->setAttr(attr::kKernel, b.getUnitAttr());
    Block *entry = kernel.addEntryBlock();
    b.setInsertionPointToStart(entry);
    func::ReturnOp::create(
        b, loc, convertElements(b, loc, entry->getArgument(0), bf16));
  }
  OpBuilder b(before);
  Value cast = func::CallOp::create(b, loc, kernel, value).getResult(0);
  casts[value] = cast;
  return cast;
}

std::optional<unsigned> Demoter::paramIndexOf(Value value) const {
  auto arg = dyn_cast<BlockArgument>(value);
  if (!arg || !isa<func::FuncOp>(arg.getOwner()->getParentOp()) ||
      arg.getArgNumber() < firstParam ||
      arg.getArgNumber() >= firstParam + numParams)
    return std::nullopt;
  return arg.getArgNumber() - firstParam;
}

Value Demoter::paramCopy(func::FuncOp host, unsigned index) {
  for (auto [param, copy] : paramCopies)
    if (param == index)
      return copy;
  BlockArgument param = host.getArgument(firstParam + index);
  auto type = withElementType(param.getType(), bf16); // the parameter's shape
  unsigned position = host.getNumArguments();
  // Appended after every argument, so the inputs and parameters keep
  // their positions (BufferResultsToOutParams appends the outputs after
  // these). func.func accepts any argument type, so this cannot fail.
  (void)host.insertArgument(position, type, DictionaryAttr(), param.getLoc());
  Value copy = host.getArgument(position);
  paramCopies.emplace_back(index, copy);
  return copy;
}

Value Demoter::bf16Operand(func::FuncOp host, Value value, Operation *before) {
  if (std::optional<unsigned> index = paramIndexOf(value))
    return paramCopy(host, *index);
  // Parameters' rows one after another (a fused projection's weights): the
  // same of their copies, which the plan places back to back like them.
  if (auto concat = value.getDefiningOp<tensor::ConcatOp>();
      concat && llvm::all_of(concat.getInputs(), [&](Value input) {
        return paramIndexOf(input).has_value();
      })) {
    SmallVector<Value> copies =
        llvm::map_to_vector(concat.getInputs(), [&](Value input) {
          return paramCopy(host, *paramIndexOf(input));
        });
    OpBuilder b(before);
    Value copy =
        tensor::ConcatOp::create(b, concat.getLoc(), concat.getDim(), copies);
    return copy;
  }
  auto slice = value.getDefiningOp<tensor::ExtractSliceOp>();
  if (!slice)
    return castToBf16(value, before);
  // A block of rows of a weight or other f32 tensor: the GEMM reads its
  // block of the whole tensor's bf16 copy, a view at an offset. A cast
  // kernel of the block would read its argument at an offset, which a
  // kernel cannot (its arguments are buffer starts).
  Value source = slice.getSource();
  std::optional<unsigned> index = paramIndexOf(source);
  Value whole = index ? paramCopy(host, *index) : castToBf16(source, before);
  OpBuilder b(before);
  return tensor::ExtractSliceOp::create(
      b, slice.getLoc(), withElementType(slice.getType(), bf16), whole,
      slice.getMixedOffsets(), slice.getMixedSizes(), slice.getMixedStrides());
}

LogicalResult Demoter::demoteLibraryAttention(func::FuncOp host,
                                              Operation *op) {
  auto forward = dyn_cast<growk::AttentionOp>(op);
  int64_t headDim = forward ? forward.getHeadDim()
                            : cast<growk::AttentionGradOp>(op).getHeadDim();
  if (!hasFlashAttentionInstance(headDim))
    return success();
  for (OpOperand &operand : op->getOpOperands())
    if (isLibraryAttentionInput(operand) &&
        cast<RankedTensorType>(operand.get().getType())
            .getElementType()
            .isF32())
      operand.set(bf16Operand(host, operand.get(), op));
  Type activations = op->getOperand(0).getType();
  // RoPE on load (rope tables among the operands) keeps its kind.
  bool rope = isFlashRopeKernel(
      op->getAttrOfType<StringAttr>(attr::kLibraryKernel).getValue());
  std::optional<std::string> kernel =
      forward ? flashForwardKernel(headDim, activations,
                                   forward.getInit().getType(), rope)
              : flashBackwardKernel(headDim, activations, rope);
  if (!kernel)
    return op->emitOpError("has no kernel library instance for head size ")
           << headDim << " and activations " << activations;
  op->setAttr(attr::kLibraryKernel, StringAttr::get(op->getContext(), *kernel));
  return success();
}

LogicalResult Demoter::addBf16Params(func::FuncOp host, growk::AdamWOp adamw) {
  if (!adamw.getBf16Params().empty())
    return success();
  SmallVector<Value> copies;
  for (auto [k, param] : llvm::enumerate(adamw.getParams())) {
    std::optional<unsigned> index = paramIndexOf(param);
    if (!index)
      return adamw.emitOpError("params #")
             << k << " is not a parameter argument of the host function, "
             << "so it has no bf16 copy";
    copies.push_back(paramCopy(host, *index));
  }
  OpBuilder b(adamw);
  auto updated = growk::AdamWOp::create(
      b, adamw.getLoc(), adamw.getParams(), adamw.getGrads(), adamw.getExpAvg(),
      adamw.getExpAvgSq(), adamw.getGradSums(), copies, adamw.getLr(),
      adamw.getStep(), adamw.getApply(), adamw.getLossNonfinite(),
      adamw.getGradNormInit(), adamw.getNonfiniteInit(), adamw.getBeta1Attr(),
      adamw.getBeta2Attr(), adamw.getEpsAttr(), adamw.getWeightDecayAttr(),
      adamw.getMaxGradNormAttr());
  for (NamedAttribute attr : adamw->getDiscardableAttrs())
    updated->setAttr(attr.getName(), attr.getValue());
  // The new copies are written into their arguments in place; nothing
  // reads the results.
  size_t before = adamw.getNumResults() - 2;
  for (size_t i = 0; i < adamw.getNumResults(); ++i)
    adamw.getResult(i).replaceAllUsesWith(
        updated.getResult(i < before ? i : i + copies.size()));
  adamw.erase();
  return success();
}

func::FuncOp Demoter::variantOf(func::FuncOp kernel, FunctionType type) {
  func::FuncOp &variant = variants[{kernel.getOperation(), type}];
  if (variant)
    return variant;
  OpBuilder b(kernel);
  b.setInsertionPointAfter(kernel);
  variant = cast<func::FuncOp>(b.clone(*kernel));
  variant.setSymName(
      (kernel.getSymName() + "_bf16_" + Twine(variants.size() - 1)).str());
  Block &entry = variant.getBody().front();
  Location loc = variant.getLoc();
  for (auto [arg, newType] : llvm::zip(entry.getArguments(), type.getInputs()))
    if (arg.getType() != newType) {
      Type f32 = cast<RankedTensorType>(arg.getType()).getElementType();
      arg.setType(newType);
      if (canWidenWhereRead(arg)) {
        widenWhereRead(arg, f32);
        continue;
      }
      // Otherwise widened once, at the start.
      b.setInsertionPointToStart(&entry);
      Value widened = convertElements(b, loc, arg, f32);
      arg.replaceAllUsesExcept(widened, widened.getDefiningOp());
    }
  // Results written as bf16 are rounded once: where they are computed, or
  // at the end.
  auto ret = cast<func::ReturnOp>(entry.getTerminator());
  for (auto [operand, newType] :
       llvm::zip(ret->getOpOperands(), type.getResults())) {
    if (operand.get().getType() == newType)
      continue;
    Type elementType = cast<RankedTensorType>(newType).getElementType();
    if (roundInProducer(b, operand.get(), elementType))
      continue;
    b.setInsertionPoint(ret);
    operand.set(convertElements(b, loc, operand.get(), elementType));
  }
  variant.setFunctionType(type);
  return variant;
}

void Demoter::demoteAssembledProducts(Block &body) {
  SmallVector<tensor::EmptyOp> empties(body.getOps<tensor::EmptyOp>());
  for (tensor::EmptyOp empty : empties) {
    if (!empty.getType().getElementType().isF32() || !empty->hasOneUse())
      continue;
    // Follow the chain: each insert_slice writes a GEMM's result (used
    // nowhere else) into the previous one's result.
    SmallVector<tensor::InsertSliceOp> chain;
    Value whole = empty.getResult();
    bool valid = true;
    while (valid && whole.hasOneUse()) {
      auto insert = dyn_cast<tensor::InsertSliceOp>(*whole.getUsers().begin());
      if (!insert || insert.getDest() != whole)
        break;
      auto matmul = insert.getSource().getDefiningOp<growk::MatmulOp>();
      valid = matmul && !matmul.getAcc() && insert.getSource().hasOneUse();
      chain.push_back(insert);
      whole = insert.getResult();
    }
    unsigned tensorCoreUses = 0;
    if (!valid || chain.empty() || !allUsesTakeBf16(whole, tensorCoreUses))
      continue;
    empty.getResult().setType(withElementType(empty.getType(), bf16));
    for (tensor::InsertSliceOp insert : chain) {
      insert.getSource().setType(
          withElementType(insert.getSource().getType(), bf16));
      insert.getResult().setType(
          withElementType(insert.getResult().getType(), bf16));
    }
    demote(whole);
  }
}

LogicalResult Demoter::run(func::FuncOp host) {
  Block &body = host.getBody().front();
  // The arguments: the inputs (tokens, ...), then the parameters.
  auto paramNames = host->getAttrOfType<ArrayAttr>(attr::kParamNames);
  auto inputNames = host->getAttrOfType<ArrayAttr>(attr::kInputNames);
  numParams = paramNames.size();
  firstParam = inputNames ? inputNames.size() : 1;
  paramCopies.clear();
  if (host.getNumArguments() != firstParam + numParams ||
      host->hasAttr(attr::kParamBf16Copies))
    return host.emitOpError("growc-demote-activations expects ")
           << firstParam << " inputs and " << numParams
           << " parameters as the arguments of an undemoted host function, "
              "got "
           << host.getNumArguments() << " arguments";
  demoteAssembledProducts(body);
  // 1. Which GEMM results and kernel results are stored as bf16.
  SmallVector<Value> demoted;
  for (Operation &op : body) {
    // The library attention's output, when all its readers take bf16 (the
    // o projection's GEMM, the gradient's D = rowsum(dout o o)): written
    // as bf16 by the kernel, into a bf16 destination.
    if (auto attention = dyn_cast<growk::AttentionOp>(op)) {
      unsigned tensorCoreUses = 0;
      auto empty = attention.getInit().getDefiningOp<tensor::EmptyOp>();
      if (attention->hasAttr(attr::kLibraryKernel) && empty &&
          empty->hasOneUse() &&
          hasFlashAttentionInstance(attention.getHeadDim()) &&
          allUsesTakeBf16(attention.getResult()[0], tensorCoreUses)) {
        empty.getResult().setType(withElementType(empty.getType(), bf16));
        demoted.push_back(attention.getResult()[0]);
      }
      continue;
    }
    auto matmul = dyn_cast<growk::MatmulOp>(op);
    bool fixedKernel = false;
    if (auto call = dyn_cast<func::CallOp>(op))
      fixedKernel =
          !getCalledKernel(call) || hasFixedSignature(getCalledKernel(call));
    if (!matmul && (!isKernelCall(&op) || fixedKernel))
      continue;
    if (matmul && matmul.getAcc()) {
      SmallVector<Value> chain = accumulatorChain(matmul);
      unsigned tensorCoreUses = 0;
      if (!chain.empty() && allUsesTakeBf16(matmul.getResult(), tensorCoreUses))
        llvm::append_range(demoted, chain);
      continue;
    }
    for (Value result : op.getResults()) {
      auto type = dyn_cast<RankedTensorType>(result.getType());
      if (!type || !type.getElementType().isF32())
        continue;
      unsigned tensorCoreUses = 0;
      if (!allUsesTakeBf16(result, tensorCoreUses))
        continue;
      // Kernel-to-kernel values keep f32: only what the tensor cores read
      // (a GEMM, the library attention) is demoted, where bf16 halves the
      // traffic.
      if (matmul || tensorCoreUses > 0)
        demoted.push_back(result);
    }
  }
  for (Value value : demoted)
    demote(value);

  // 2. The remaining f32 GEMM operands get bf16 copies: the parameters'
  // appended arguments, a cast kernel's result for anything else.
  SmallVector<growk::MatmulOp> matmuls(body.getOps<growk::MatmulOp>());
  for (growk::MatmulOp matmul : matmuls)
    for (OpOperand *operand :
         {&matmul.getLhsMutable(), &matmul.getRhsMutable()}) {
      auto type = cast<RankedTensorType>(operand->get().getType());
      if (type.getElementType().isF32())
        operand->set(bf16Operand(host, operand->get(), matmul));
      else if (!type.getElementType().isBF16())
        return matmul.emitOpError("operand of element type ")
               << type.getElementType() << " cannot be demoted to bf16";
    }
  // The library attention reads all its activations as bf16, and its
  // kernel is the instance for the types it now has.
  SmallVector<Operation *> attentions;
  for (Operation &op : body)
    if (isa<growk::AttentionOp, growk::AttentionGradOp>(op) &&
        op.hasAttr(attr::kLibraryKernel))
      attentions.push_back(&op);
  for (Operation *attention : attentions)
    if (failed(demoteLibraryAttention(host, attention)))
      return failure();
  // The f32 concatenations the copies' ones replaced: bufferized, an unused
  // one would still be a buffer and copies.
  for (auto concat :
       llvm::make_early_inc_range(body.getOps<tensor::ConcatOp>()))
    if (concat->use_empty())
      concat.erase();
  // A train graph's optimizer writes the copies of what it updates.
  SmallVector<growk::AdamWOp> steps(body.getOps<growk::AdamWOp>());
  for (growk::AdamWOp adamw : steps)
    if (failed(addBf16Params(host, adamw)))
      return failure();
  if (!paramCopies.empty()) {
    Builder b(host.getContext());
    host->setAttr(
        attr::kParamBf16Copies,
        b.getI64ArrayAttr(llvm::map_to_vector(
            paramCopies, [](auto copy) -> int64_t { return copy.first; })));
  }

  // 3. Every kernel call whose types changed calls a variant.
  SmallVector<func::CallOp> calls(body.getOps<func::CallOp>());
  for (func::CallOp call : calls) {
    func::FuncOp kernel = getCalledKernel(call);
    if (!kernel)
      continue;
    auto type = FunctionType::get(module.getContext(), call.getOperandTypes(),
                                  call.getResultTypes());
    if (type == kernel.getFunctionType())
      continue;
    if (hasFixedSignature(kernel))
      return call.emitOpError("would change the signature of ")
             << kernel.getSymName() << ", whose distribution keeps it";
    call.setCallee(variantOf(kernel, type).getSymName());
  }
  return success();
}

struct DemoteActivationsPass
    : growc::impl::DemoteActivationsBase<DemoteActivationsPass> {
  using DemoteActivationsBase::DemoteActivationsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (precision == "fp32")
      return;
    if (precision != "bf16") {
      module.emitError("growc-demote-activations: precision must be bf16 "
                       "or fp32, got '")
          << precision << "'";
      return signalPassFailure();
    }
    SmallVector<func::FuncOp> hosts;
    for (auto func : module.getOps<func::FuncOp>())
      if (func->hasAttr(attr::kParamNames))
        hosts.push_back(func);
    Demoter demoter(module);
    for (func::FuncOp host : hosts) {
      if (!host.getBody().hasOneBlock()) {
        host.emitOpError("growc-demote-activations expects a single-block "
                         "forward function");
        return signalPassFailure();
      }
      if (failed(demoter.run(host)))
        return signalPassFailure();
    }
    // Kernels every call now reaches through a variant are dropped.
    for (auto kernel :
         llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
      if (isKernel(kernel) && SymbolTable::symbolKnownUseEmpty(kernel, module))
        kernel.erase();
  }
};

} // namespace
