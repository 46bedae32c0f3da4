//===- KernelOps.cpp - the kernel-level growk dialect ---------------------===//
//
// Verifiers, memory effects and bufferization of the growk ops, and which
// of them are host steps (HostStepOpInterface).
//
//===----------------------------------------------------------------------===//

#include "dialects/Kernel/KernelOps.h"

#include "growc/Codegen/FlashAttentionKernels.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace growc::growk;

#include "dialects/Kernel/HostStepOpInterface.cpp.inc"
#include "dialects/Kernel/KernelDialect.cpp.inc"

void GrowKDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/Kernel/KernelOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Host steps
//===----------------------------------------------------------------------===//

bool growc::growk::isHostStepView(Operation *op) {
  auto takesViews = [](Operation *step) {
    auto hostStep = dyn_cast_if_present<HostStepOpInterface>(step);
    return hostStep && hostStep.isHostStep() && hostStep.takesViews();
  };
  if (auto extract = dyn_cast<tensor::ExtractSliceOp>(op)) {
    // A block of whole rows is contiguous: returned, it is an output at an
    // offset into its buffer (a fused projection's gradient in a grad
    // graph) rather than a copy kernel.
    auto source = extract.getSourceType();
    bool rowBlock = source.getRank() == 2 && extract.hasUnitStride() &&
                    extract.getStaticOffsets().back() == 0 &&
                    !ShapedType::isDynamic(extract.getStaticOffsets()[0]) &&
                    extract.getType().getRank() == 2 &&
                    extract.getStaticSizes()[1] == source.getDimSize(1);
    return !extract->use_empty() &&
           llvm::all_of(extract->getUsers(), [&](Operation *user) {
             return takesViews(user) || (rowBlock && isa<func::ReturnOp>(user));
           });
  }
  if (auto insert = dyn_cast<tensor::InsertSliceOp>(op))
    return takesViews(insert.getSource().getDefiningOp());
  // A reshape that only host steps (and the return) read: a view of its
  // operand's buffer, not a kernel's output (an RMSNorm's inverse RMS as
  // the [1, rows] operand of its weight gradient's GEMM, whose [1, D]
  // result is the gradient).
  if (isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(op))
    return !op->use_empty() &&
           llvm::all_of(op->getUsers(), [](Operation *user) {
             auto hostStep = dyn_cast<HostStepOpInterface>(user);
             return isa<func::ReturnOp>(user) ||
                    (hostStep && hostStep.isHostStep());
           });
  // Weights' rows one after another (fused projections): a view of
  // parameters the plan places back to back.
  if (auto concat = dyn_cast<tensor::ConcatOp>(op))
    return concat.getDim() == 0 && !concat->use_empty() &&
           llvm::all_of(concat.getInputs(), llvm::IsaPred<BlockArgument>) &&
           llvm::all_of(concat->getUsers(), takesViews);
  return false;
}

// A GEMM is a cuBLASLt / OpenBLAS call with an offset per operand.
bool MatmulOp::takesViews() { return true; }

// Its lists name whole buffers, but the gradients of fused projections are
// blocks of rows of one GEMM's output that, in order, tile it: the plan
// emitter merges such consecutive views into their buffer.
bool AdamWOp::takesViews() { return true; }

// Attention is the library's only when growc-attention-to-tensor-cores
// named its kernel; its plan step has an offset per operand.
bool AttentionOp::isHostStep() {
  return (*this)->hasAttr(growc::attr::kLibraryKernel);
}
bool AttentionOp::takesViews() { return isHostStep(); }
bool AttentionGradOp::isHostStep() {
  return (*this)->hasAttr(growc::attr::kLibraryKernel);
}
bool AttentionGradOp::takesViews() { return isHostStep(); }

//===----------------------------------------------------------------------===//
// Verifiers and bufferization
//===----------------------------------------------------------------------===//

/// The rules growk.attention and growk.attention_grad share: whole
/// sequences of rows, grouped KV heads, q a whole number of heads wide.
static LogicalResult verifyHeadGeometry(Operation *op, int64_t rows,
                                        int64_t qWidth, int64_t heads,
                                        int64_t kvHeads, int64_t seqLen) {
  if (rows % seqLen != 0)
    return op->emitOpError("rows (")
           << rows << ") must be a multiple of seq_len (" << seqLen << ")";
  if (heads % kvHeads != 0)
    return op->emitOpError("heads (")
           << heads << ") must be a multiple of kv_heads (" << kvHeads << ")";
  if (qWidth % heads != 0)
    return op->emitOpError("q width ") << qWidth << " is not heads x head_dim";
  return success();
}

/// The operand types growk.attention and growk.attention_grad share:
/// static 2-D, all tensors or all memrefs, f32; or, on the kernel
/// library's form (growc-demote-activations stores its activations as
/// bf16), the first `activations` operands bf16 alike and, if
/// `bf16Output`, the operand after them bf16 too.
static LogicalResult verifyAttentionOperands(Operation *op, ValueRange operands,
                                             size_t activations,
                                             bool bf16Output) {
  bool onTensors = isa<RankedTensorType>(operands[0].getType());
  Type activation = cast<ShapedType>(operands[0].getType()).getElementType();
  for (auto [i, operand] : llvm::enumerate(operands)) {
    auto type = cast<ShapedType>(operand.getType());
    if (isa<RankedTensorType>(type) != onTensors)
      return op->emitOpError("operands must be all tensors or all memrefs");
    if (!type.hasRank() || type.getRank() != 2 || !type.hasStaticShape())
      return op->emitOpError("operands must be static 2-D, got ") << type;
    Type element = type.getElementType();
    if (i < activations && element != activation)
      return op->emitOpError("operand #")
             << i << " must have the element type of q, " << activation
             << ", got " << type;
    if (element.isF32())
      continue;
    bool mayBeBf16 = i < activations || (bf16Output && i == activations);
    if (!element.isBF16() || !mayBeBf16)
      return op->emitOpError("operand #") << i << " must be f32, got " << type;
    if (!op->hasAttr(growc::attr::kLibraryKernel))
      return op->emitOpError("bf16 operands need the kernel library's form "
                             "(growc.library_kernel), got ")
             << type;
  }
  return success();
}

/// The log-sum-exps the kernel library's forward writes and its gradient
/// reads: f32 [batch · heads, seq_len], on the library's form only.
static LogicalResult verifyLse(Operation *op, Value lse, int64_t batch,
                               int64_t heads, int64_t seqLen, bool onTensors) {
  auto type = cast<ShapedType>(lse.getType());
  if (isa<RankedTensorType>(type) != onTensors)
    return op->emitOpError("operands must be all tensors or all memrefs");
  if (!op->hasAttr(growc::attr::kLibraryKernel))
    return op->emitOpError("lse needs the kernel library's form "
                           "(growc.library_kernel)");
  if (!type.hasRank() || !type.hasStaticShape() || type.getRank() != 2 ||
      !type.getElementType().isF32() || type.getDimSize(0) != batch * heads ||
      type.getDimSize(1) != seqLen)
    return op->emitOpError("lse must be f32 [batch x heads = ")
           << batch * heads << ", seq_len = " << seqLen << "], got " << type;
  return success();
}

/// RoPE on load (the kernel library's form only): with `columns`, q, k
/// and v are one width (the row stride the kernels take) and hold their
/// heads from columns [qc, kc, vc]; `rope` is empty or the tables cos and
/// sin, f32 [rows, head_dim / 2], and needs `columns`.
static LogicalResult verifyRopeOnLoad(Operation *op, ValueRange qkv,
                                      std::optional<ArrayRef<int64_t>> columns,
                                      ValueRange rope, int64_t heads,
                                      int64_t kvHeads, int64_t headDim,
                                      bool onTensors) {
  auto kernel = op->getAttrOfType<StringAttr>(growc::attr::kLibraryKernel);
  if ((columns || !rope.empty()) && !kernel)
    return op->emitOpError("columns and rope need the kernel library's form "
                           "(growc.library_kernel)");
  if (kernel && growc::isFlashRopeKernel(kernel.getValue()) == rope.empty())
    return op->emitOpError("the kernel ")
           << kernel
           << (rope.empty() ? " rotates q and k: it needs rope tables"
                            : " reads rotated q and k: rope tables "
                              "need a *_rope_* kernel");
  if (columns) {
    if (columns->size() != 3)
      return op->emitOpError("columns must be [q, k, v] (3 columns), got ")
             << columns->size();
    int64_t width = cast<ShapedType>(qkv[0].getType()).getDimSize(1);
    for (auto [i, operand] : llvm::enumerate(qkv)) {
      int64_t first = (*columns)[i];
      int64_t heads_ = i == 0 ? heads : kvHeads;
      if (cast<ShapedType>(operand.getType()).getDimSize(1) != width)
        return op->emitOpError("q, k and v with columns must have one width, "
                               "got ")
               << qkv[0].getType() << " and " << operand.getType();
      if (first < 0 || first + heads_ * headDim > width)
        return op->emitOpError("column ")
               << first << " of operand #" << i << " leaves no room for "
               << heads_ << " heads of " << headDim << " in a width of "
               << width;
    }
  }
  if (rope.empty())
    return success();
  if (!columns)
    return op->emitOpError("rope needs columns (q, k and v column blocks of "
                           "one matrix)");
  int64_t rows = cast<ShapedType>(qkv[0].getType()).getDimSize(0);
  if (rope.size() != 2 || headDim % 2 != 0)
    return op->emitOpError("rope must be two tables (cos, sin) of an even "
                           "head_dim, got ")
           << rope.size() << " tables, head_dim " << headDim;
  for (Value table : rope) {
    auto type = cast<ShapedType>(table.getType());
    if (isa<TensorType>(type) != onTensors)
      return op->emitOpError("operands must be all tensors or all memrefs");
    if (!type.hasRank() || !type.hasStaticShape() || type.getRank() != 2 ||
        !type.getElementType().isF32() || type.getDimSize(0) != rows ||
        type.getDimSize(1) != headDim / 2)
      return op->emitOpError("rope tables must be f32 [rows = ")
             << rows << ", head_dim / 2 = " << headDim / 2 << "], got " << type;
  }
  return success();
}

/// A destination-style op on memrefs: it reads its inputs and writes its
/// inits.
static void addDestinationStyleEffects(
    DestinationStyleOpInterface op,
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  for (OpOperand &operand : op->getOpOperands())
    effects.emplace_back(
        op.isDpsInit(&operand)
            ? static_cast<MemoryEffects::Effect *>(MemoryEffects::Write::get())
            : MemoryEffects::Read::get(),
        &operand, SideEffects::DefaultResource::get());
}

/// The buffer of every operand of a destination-style op being bufferized.
static FailureOr<SmallVector<Value>>
operandBuffers(Operation *op, RewriterBase &rewriter,
               const bufferization::BufferizationOptions &options,
               bufferization::BufferizationState &state) {
  SmallVector<Value> buffers;
  for (Value operand : op->getOperands()) {
    FailureOr<Value> buffer =
        bufferization::getBuffer(rewriter, operand, options, state);
    if (failed(buffer))
      return failure();
    buffers.push_back(*buffer);
  }
  return buffers;
}

LogicalResult MatmulOp::verify() {
  ArrayRef<int64_t> a = getLhs().getType().getShape();
  ArrayRef<int64_t> b = getRhs().getType().getShape();
  ArrayRef<int64_t> c = getResult().getType().getShape();
  int64_t m = getTransposeLhs() ? a[1] : a[0];
  int64_t ka = getTransposeLhs() ? a[0] : a[1];
  int64_t n = getTransposeRhs() ? b[0] : b[1];
  int64_t kb = getTransposeRhs() ? b[1] : b[0];
  if (ka != kb)
    return emitOpError("contraction sizes differ: A is ")
           << getLhs().getType() << (getTransposeLhs() ? " ([K, M])" : "")
           << " and B is " << getRhs().getType()
           << (getTransposeRhs() ? " (B is [N, K])" : " (B is [K, N])");
  if (c[0] != m || c[1] != n)
    return emitOpError("result must be [")
           << m << ", " << n << "], got " << getResult().getType();
  if (getAcc() && getAcc().getType() != getResult().getType())
    return emitOpError("acc must have the result type ")
           << getResult().getType() << ", got " << getAcc().getType();
  return success();
}

LogicalResult AllReduceOp::verify() {
  auto value = cast<ShapedType>(getValue().getType());
  bool onTensors = isa<RankedTensorType>(value);
  if (!value.hasStaticShape() || !value.getElementType().isF32())
    return emitOpError("reduces a static f32 tensor or memref, got ") << value;
  if (onTensors != bool(getResult()))
    return emitOpError(onTensors ? "on tensors has one result"
                                 : "on memrefs has no result");
  if (onTensors && getResult().getType() != value)
    return emitOpError("result type must be the value's type ") << value;
  if (Value when = getWhen()) {
    auto flag = cast<ShapedType>(when.getType());
    if (isa<RankedTensorType>(flag) != onTensors || !flag.hasStaticShape() ||
        flag.getNumElements() != 1 || !flag.getElementType().isF32())
      return emitOpError("'when' must be a one-element f32 ")
             << (onTensors ? "tensor" : "memref") << ", got " << flag;
  }
  if (getReduction() != "mean" && getReduction() != "sum")
    return emitOpError("reduction must be \"mean\" or \"sum\", got \"")
           << getReduction() << "\"";
  return success();
}

void AllReduceOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  if (!isa<MemRefType>(getValue().getType()))
    return;
  effects.emplace_back(MemoryEffects::Read::get(), &getValueMutable(),
                       SideEffects::DefaultResource::get());
  effects.emplace_back(MemoryEffects::Write::get(), &getValueMutable(),
                       SideEffects::DefaultResource::get());
  for (OpOperand &when : getWhenMutable())
    effects.emplace_back(MemoryEffects::Read::get(), &when,
                         SideEffects::DefaultResource::get());
}

bool AllReduceOp::bufferizesToMemoryRead(OpOperand &,
                                         const bufferization::AnalysisState &) {
  return true;
}

bool AllReduceOp::bufferizesToMemoryWrite(
    OpOperand &operand, const bufferization::AnalysisState &) {
  return operand.getOperandNumber() == 0;
}

bufferization::AliasingValueList
AllReduceOp::getAliasingValues(OpOperand &operand,
                               const bufferization::AnalysisState &) {
  if (operand.getOperandNumber() != 0)
    return {};
  return {{getResult(), bufferization::BufferRelation::Equivalent}};
}

LogicalResult
AllReduceOp::bufferize(RewriterBase &rewriter,
                       const bufferization::BufferizationOptions &options,
                       bufferization::BufferizationState &state) {
  FailureOr<Value> value =
      bufferization::getBuffer(rewriter, getValue(), options, state);
  if (failed(value))
    return failure();
  Value when;
  if (getWhen()) {
    FailureOr<Value> flag =
        bufferization::getBuffer(rewriter, getWhen(), options, state);
    if (failed(flag))
      return failure();
    when = *flag;
  }
  rewriter.setInsertionPoint(*this);
  AllReduceOp::create(rewriter, getLoc(), Type(), *value, when,
                      getReductionAttr());
  bufferization::replaceOpWithBufferizedValues(rewriter, *this, *value);
  return success();
}

//===----------------------------------------------------------------------===//
// AdamW
//===----------------------------------------------------------------------===//

SmallVector<OpOperand *> AdamWOp::getWrittenOperands() {
  SmallVector<OpOperand *> written;
  for (MutableOperandRange group :
       {getParamsMutable(), getExpAvgMutable(), getExpAvgSqMutable(),
        getGradSumsMutable(), getBf16ParamsMutable()})
    for (OpOperand &operand : static_cast<MutableArrayRef<OpOperand>>(group))
      written.push_back(&operand);
  written.push_back(&getGradNormInitMutable());
  written.push_back(&getNonfiniteInitMutable());
  return written;
}

LogicalResult
AdamWOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                          ValueRange operands, DictionaryAttr attributes,
                          OpaqueProperties properties, RegionRange regions,
                          SmallVectorImpl<Type> &inferredReturnTypes) {
  // On tensors each written operand has its result; memrefs have none.
  Adaptor adaptor(operands, attributes, properties, regions);
  if (!isa<RankedTensorType>(adaptor.getLr().getType()))
    return success();
  for (ValueRange group :
       {adaptor.getParams(), adaptor.getExpAvg(), adaptor.getExpAvgSq(),
        adaptor.getGradSums(), adaptor.getBf16Params()})
    llvm::append_range(inferredReturnTypes, group.getTypes());
  inferredReturnTypes.push_back(adaptor.getGradNormInit().getType());
  inferredReturnTypes.push_back(adaptor.getNonfiniteInit().getType());
  return success();
}

LogicalResult AdamWOp::verify() {
  size_t n = getParams().size();
  if (n == 0)
    return emitOpError("updates at least one parameter");
  bool onTensors = isa<RankedTensorType>(getLr().getType());
  for (Value operand : getOperands())
    if (isa<RankedTensorType>(operand.getType()) != onTensors)
      return emitOpError("operands must be all tensors or all memrefs");
  std::pair<StringRef, OperandRange> groups[] = {{"grads", getGrads()},
                                                 {"exp_avg", getExpAvg()},
                                                 {"exp_avg_sq", getExpAvgSq()},
                                                 {"grad_sums", getGradSums()}};
  for (auto [name, group] : groups) {
    if (group.size() != n && !(name == "grad_sums" && group.empty()))
      return emitOpError("has ")
             << n << " params but " << group.size() << " " << name
             << "; each list holds one per parameter, in the same order";
  }
  // The step is elementwise over flat regions of f32 whose k-th tensors
  // have the same shape.
  for (auto [k, param] : llvm::enumerate(getParams())) {
    auto type = cast<ShapedType>(param.getType());
    if (!type.hasStaticShape() || !type.getElementType().isF32())
      return emitOpError("params must be static f32, got ") << type;
    for (auto [name, group] : groups) {
      if (group.empty())
        continue;
      auto other = cast<ShapedType>(group[k].getType());
      if (other.getShape() != type.getShape() ||
          other.getElementType() != type.getElementType())
        return emitOpError() << name << " #" << k << " must have the shape "
                             << "and element type of params #" << k << " ("
                             << type << "), got " << other;
    }
  }
  // The bf16 copies: one per parameter (or none), its shape in bf16.
  if (!getBf16Params().empty() && getBf16Params().size() != n)
    return emitOpError("has ")
           << n << " params but " << getBf16Params().size()
           << " bf16_params; each list holds one per parameter, in the same "
              "order";
  for (auto [k, copy] : llvm::enumerate(getBf16Params())) {
    auto type = cast<ShapedType>(getParams()[k].getType());
    auto other = cast<ShapedType>(copy.getType());
    if (other.getShape() != type.getShape() || !other.getElementType().isBF16())
      return emitOpError() << "bf16_params #" << k << " must have the shape "
                           << "of params #" << k << " (" << type
                           << ") in bf16, got " << other;
  }
  std::pair<StringRef, Value> scalars[] = {
      {"lr", getLr()},
      {"step", getStep()},
      {"apply", getApply()},
      {"loss_nonfinite", getLossNonfinite()},
      {"grad_norm", getGradNormInit()},
      {"nonfinite", getNonfiniteInit()}};
  for (auto [name, scalar] : scalars) {
    if (!scalar)
      continue;
    auto type = cast<ShapedType>(scalar.getType());
    if (!type.hasStaticShape() || type.getNumElements() != 1 ||
        !type.getElementType().isF32())
      return emitOpError() << "'" << name << "' must be a one-element f32 "
                           << (onTensors ? "tensor" : "memref") << ", got "
                           << type;
  }
  // The sums are reset on the applying micro-batch, which only `apply`
  // names.
  if (!getGradSums().empty() && !getApply())
    return emitOpError("grad_sums (gradient accumulation) need 'apply'");
  double beta1 = getBeta1().convertToDouble(),
         beta2 = getBeta2().convertToDouble();
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
    return emitOpError("beta1 and beta2 must be in [0, 1), got ")
           << beta1 << " and " << beta2;
  if (!(getEps().convertToDouble() > 0) ||
      !(getMaxGradNorm().convertToDouble() > 0) ||
      !(getWeightDecay().convertToDouble() >= 0))
    return emitOpError("eps and max_grad_norm must be positive and "
                       "weight_decay non-negative");
  return success();
}

/// Whether the step reads `operand`'s old value: everything but the sums
/// (overwritten with 0 or the gradient) and the two destinations.
static bool adamWReads(AdamWOp op, OpOperand &operand) {
  OperandRange sums = op.getGradSums();
  unsigned number = operand.getOperandNumber();
  bool isSum = !sums.empty() && number >= sums.getBeginOperandIndex() &&
               number < sums.getBeginOperandIndex() + sums.size();
  return !isSum && &operand != &op.getGradNormInitMutable() &&
         &operand != &op.getNonfiniteInitMutable();
}

void AdamWOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  if (!isa<MemRefType>(getLr().getType()))
    return;
  SmallVector<OpOperand *> written = getWrittenOperands();
  for (OpOperand &operand : getOperation()->getOpOperands()) {
    if (adamWReads(*this, operand))
      effects.emplace_back(MemoryEffects::Read::get(), &operand,
                           SideEffects::DefaultResource::get());
    if (llvm::is_contained(written, &operand))
      effects.emplace_back(MemoryEffects::Write::get(), &operand,
                           SideEffects::DefaultResource::get());
  }
}

bool AdamWOp::bufferizesToMemoryRead(OpOperand &operand,
                                     const bufferization::AnalysisState &) {
  return adamWReads(*this, operand);
}

bool AdamWOp::bufferizesToMemoryWrite(OpOperand &operand,
                                      const bufferization::AnalysisState &) {
  return llvm::is_contained(getWrittenOperands(), &operand);
}

bufferization::AliasingValueList
AdamWOp::getAliasingValues(OpOperand &operand,
                           const bufferization::AnalysisState &) {
  SmallVector<OpOperand *> written = getWrittenOperands();
  auto *it = llvm::find(written, &operand);
  if (it == written.end())
    return {};
  return {{getResult(it - written.begin()),
           bufferization::BufferRelation::Equivalent}};
}

LogicalResult
AdamWOp::bufferize(RewriterBase &rewriter,
                   const bufferization::BufferizationOptions &options,
                   bufferization::BufferizationState &state) {
  // The same op on the operands' buffers; the written buffers are the
  // results.
  FailureOr<SmallVector<Value>> buffers =
      operandBuffers(*this, rewriter, options, state);
  if (failed(buffers))
    return failure();
  ArrayRef<Value> b = *buffers;
  auto group = [&](OperandRange range) {
    return range.empty() ? ValueRange()
                         : b.slice(range.getBeginOperandIndex(), range.size());
  };
  SmallVector<Value> results =
      llvm::map_to_vector(getWrittenOperands(), [&](OpOperand *operand) {
        return b[operand->getOperandNumber()];
      });
  auto at = [&](OpOperand &operand) { return b[operand.getOperandNumber()]; };
  Value apply;
  if (!getApplyMutable().empty())
    apply = at(getApplyMutable()[0]);
  rewriter.setInsertionPoint(*this);
  auto onBuffers = AdamWOp::create(
      rewriter, getLoc(), TypeRange{}, group(getParams()), group(getGrads()),
      group(getExpAvg()), group(getExpAvgSq()), group(getGradSums()),
      group(getBf16Params()), at(getLrMutable()), at(getStepMutable()), apply,
      at(getLossNonfiniteMutable()), at(getGradNormInitMutable()),
      at(getNonfiniteInitMutable()), getBeta1Attr(), getBeta2Attr(),
      getEpsAttr(), getWeightDecayAttr(), getMaxGradNormAttr());
  for (NamedAttribute attr : (*this)->getDiscardableAttrs())
    onBuffers->setAttr(attr.getName(), attr.getValue());
  bufferization::replaceOpWithBufferizedValues(rewriter, *this, results);
  return success();
}

LogicalResult AttentionOp::verify() {
  auto q = cast<ShapedType>(getQ().getType());
  auto k = cast<ShapedType>(getK().getType());
  auto v = cast<ShapedType>(getV().getType());
  auto init = cast<ShapedType>(getInit().getType());
  bool onTensors = isa<RankedTensorType>(q);
  if (failed(verifyAttentionOperands(*this, {getQ(), getK(), getV(), getInit()},
                                     3, /*bf16Output=*/true)))
    return failure();
  size_t results = getLseInit() ? 2 : 1;
  if (onTensors ? getNumResults() != results : getNumResults() != 0)
    return emitOpError(onTensors ? "on tensors has one result per init"
                                 : "on memrefs has no result");
  if (onTensors && getResult()[0].getType() != init)
    return emitOpError("result type must be the init type ") << init;
  if (Value lse = getLseInit()) {
    if (failed(verifyLse(*this, lse, q.getDimSize(0) / getSeqLen(), getHeads(),
                         getSeqLen(), onTensors)))
      return failure();
    if (onTensors && getResult()[1].getType() != lse.getType())
      return emitOpError("the second result's type must be lse_init's");
  }
  int64_t rows = q.getDimSize(0), heads = getHeads(), kvHeads = getKvHeads();
  if (k.getDimSize(0) != rows || v.getDimSize(0) != rows ||
      init.getDimSize(0) != rows)
    return emitOpError("q, k, v and init must have the same rows, got ")
           << q << ", " << k << ", " << v << ", " << init;
  // Without columns, q is as wide as the output (whose width the head
  // size comes from).
  if (!getColumns() && init.getDimSize(1) != q.getDimSize(1))
    return emitOpError("init must have the shape of q");
  if (failed(verifyHeadGeometry(*this, rows, init.getDimSize(1), heads, kvHeads,
                                getSeqLen())))
    return failure();
  int64_t headDim = getHeadDim();
  if (failed(verifyRopeOnLoad(*this, {getQ(), getK(), getV()}, getColumns(),
                              getRope(), heads, kvHeads, headDim, onTensors)))
    return failure();
  if (getColumns())
    return success();
  if (k.getDimSize(1) != kvHeads * headDim ||
      v.getDimSize(1) != kvHeads * headDim)
    return emitOpError("k and v must be [rows, kv_heads x head_dim = ")
           << kvHeads * headDim << "]";
  return success();
}

void AttentionOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  if (!isa<MemRefType>(getInit().getType()))
    return;
  addDestinationStyleEffects(*this, effects);
}

bool AttentionOp::bufferizesToMemoryRead(OpOperand &operand,
                                         const bufferization::AnalysisState &) {
  // The outputs are only written.
  return !isDpsInit(&operand);
}

bool AttentionOp::bufferizesToMemoryWrite(
    OpOperand &operand, const bufferization::AnalysisState &) {
  return isDpsInit(&operand);
}

bufferization::AliasingValueList
AttentionOp::getAliasingValues(OpOperand &operand,
                               const bufferization::AnalysisState &) {
  if (!isDpsInit(&operand))
    return {};
  return {{getResult()[operand.getOperandNumber() - 3],
           bufferization::BufferRelation::Equivalent}};
}

LogicalResult
AttentionOp::bufferize(RewriterBase &rewriter,
                       const bufferization::BufferizationOptions &options,
                       bufferization::BufferizationState &state) {
  FailureOr<SmallVector<Value>> buffers =
      operandBuffers(*this, rewriter, options, state);
  if (failed(buffers))
    return failure();
  rewriter.setInsertionPoint(*this);
  ArrayRef<Value> b = *buffers;
  size_t inits = getLseInit() ? 2 : 1;
  auto onBuffers = AttentionOp::create(
      rewriter, getLoc(), TypeRange{}, b[0], b[1], b[2], b[3],
      getLseInit() ? b[4] : Value(), b.drop_front(3 + inits), getHeads(),
      getKvHeads(), getSeqLen(), getKeyBlock(), getColumnsAttr());
  // Discardable attributes (attr::kLibraryKernel) say how it runs.
  for (NamedAttribute attr : (*this)->getDiscardableAttrs())
    onBuffers->setAttr(attr.getName(), attr.getValue());
  bufferization::replaceOpWithBufferizedValues(rewriter, *this,
                                               b.slice(3, inits));
  return success();
}

LogicalResult AttentionGradOp::verify() {
  SmallVector<Value> operands = {getQ(),      getK(),     getV(),
                                 getO(),      getDout(),  getDqInit(),
                                 getDkInit(), getDvInit()};
  bool onTensors = isa<RankedTensorType>(getQ().getType());
  auto shape = [](Value v) { return cast<ShapedType>(v.getType()); };
  if (failed(verifyAttentionOperands(*this, operands, 5,
                                     /*bf16Output=*/false)))
    return failure();
  if (Value lse = getLse())
    if (failed(verifyLse(*this, lse, shape(getQ()).getDimSize(0) / getSeqLen(),
                         getHeads(), getSeqLen(), onTensors)))
      return failure();
  if (onTensors ? getNumResults() != 3 : getNumResults() != 0)
    return emitOpError(onTensors ? "on tensors has three results (dq, dk, dv)"
                                 : "on memrefs has no result");
  if (onTensors)
    for (auto [result, init] : llvm::zip(
             getResults(), ValueRange{getDqInit(), getDkInit(), getDvInit()}))
      if (result.getType() != init.getType())
        return emitOpError("result types must be the init types");
  ShapedType q = shape(getQ());
  int64_t rows = q.getDimSize(0), heads = getHeads(), kvHeads = getKvHeads();
  for (Value operand : operands)
    if (shape(operand).getDimSize(0) != rows)
      return emitOpError("every operand must have ")
             << rows << " rows, got " << operand.getType();
  int64_t qWidth = shape(getDqInit()).getDimSize(1);
  // Without columns, o, dout and dq_init are as wide as q.
  if (!getColumns())
    for (Value operand : {getO(), getDout(), getDqInit()})
      if (shape(operand).getDimSize(1) != q.getDimSize(1))
        return emitOpError("o, dout and dq_init must have the shape of q");
  if (failed(
          verifyHeadGeometry(*this, rows, qWidth, heads, kvHeads, getSeqLen())))
    return failure();
  int64_t kvWidth = kvHeads * (qWidth / heads);
  if (failed(verifyRopeOnLoad(*this, {getQ(), getK(), getV()}, getColumns(),
                              getRope(), heads, kvHeads, getHeadDim(),
                              onTensors)))
    return failure();
  for (Value operand : {getO(), getDout()})
    if (shape(operand).getDimSize(1) != qWidth)
      return emitOpError("o and dout must have the shape of dq_init");
  SmallVector<Value> kvLike = {getDkInit(), getDvInit()};
  if (!getColumns())
    kvLike.append({getK(), getV()});
  for (Value operand : kvLike)
    if (shape(operand).getDimSize(1) != kvWidth)
      return emitOpError("k, v, dk_init and dv_init must be [rows, kv_heads "
                         "x head_dim = ")
             << kvWidth << "]";
  return success();
}

void AttentionGradOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  if (!isa<MemRefType>(getQ().getType()))
    return;
  addDestinationStyleEffects(*this, effects);
}

bool AttentionGradOp::bufferizesToMemoryRead(
    OpOperand &operand, const bufferization::AnalysisState &) {
  // The gradients are only written.
  return !isDpsInit(&operand);
}

bool AttentionGradOp::bufferizesToMemoryWrite(
    OpOperand &operand, const bufferization::AnalysisState &) {
  return isDpsInit(&operand);
}

bufferization::AliasingValueList
AttentionGradOp::getAliasingValues(OpOperand &operand,
                                   const bufferization::AnalysisState &) {
  if (!isDpsInit(&operand))
    return {};
  return {{getResults()[operand.getOperandNumber() - 5],
           bufferization::BufferRelation::Equivalent}};
}

LogicalResult
AttentionGradOp::bufferize(RewriterBase &rewriter,
                           const bufferization::BufferizationOptions &options,
                           bufferization::BufferizationState &state) {
  FailureOr<SmallVector<Value>> buffers =
      operandBuffers(*this, rewriter, options, state);
  if (failed(buffers))
    return failure();
  rewriter.setInsertionPoint(*this);
  ArrayRef<Value> b = *buffers;
  auto onBuffers = AttentionGradOp::create(
      rewriter, getLoc(), TypeRange{}, b[0], b[1], b[2], b[3], b[4], b[5], b[6],
      b[7], getLse() ? b[8] : Value(), b.drop_front(getLse() ? 9 : 8),
      getHeads(), getKvHeads(), getSeqLen(), getKeyBlock(), getColumnsAttr());
  for (NamedAttribute attr : (*this)->getDiscardableAttrs())
    onBuffers->setAttr(attr.getName(), attr.getValue());
  bufferization::replaceOpWithBufferizedValues(rewriter, *this, b.slice(5, 3));
  return success();
}

//===----------------------------------------------------------------------===//
// Forward tape
//===----------------------------------------------------------------------===//

LogicalResult ForwardTapeOp::verify() {
  size_t n = getValues().size();
  if (getPositions().size() != n || getSlots().size() != n)
    return emitOpError("records ")
           << n << " values but " << getPositions().size() << " positions and "
           << getSlots().size() << " slots; each value needs one of each";
  if (llvm::any_of(getPositions(), [](int64_t p) { return p < 0; }))
    return emitOpError("positions index the model's body and cannot be "
                       "negative");
  return success();
}

#define GET_OP_CLASSES
#include "dialects/Kernel/KernelOps.cpp.inc"
