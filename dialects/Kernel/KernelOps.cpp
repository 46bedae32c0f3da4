//===- KernelOps.cpp - the kernel-level growk dialect ---------------------===//

#include "dialects/Kernel/KernelOps.h"

using namespace mlir;
using namespace growc::growk;

#include "dialects/Kernel/KernelDialect.cpp.inc"

void GrowKDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/Kernel/KernelOps.cpp.inc"
      >();
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

LogicalResult AttentionOp::verify() {
  auto q = cast<ShapedType>(getQ().getType());
  auto k = cast<ShapedType>(getK().getType());
  auto v = cast<ShapedType>(getV().getType());
  auto init = cast<ShapedType>(getInit().getType());
  bool onTensors = isa<RankedTensorType>(q);
  for (ShapedType type : {q, k, v, init}) {
    if (isa<RankedTensorType>(type) != onTensors)
      return emitOpError("operands must be all tensors or all memrefs");
    if (!type.hasRank() || type.getRank() != 2 || !type.hasStaticShape() ||
        !type.getElementType().isF32())
      return emitOpError("operands must be static 2-D f32, got ") << type;
  }
  if (onTensors != (getNumResults() == 1) || getNumResults() > 1)
    return emitOpError(onTensors ? "on tensors has one result"
                                 : "on memrefs has no result");
  if (onTensors && getResult()[0].getType() != init)
    return emitOpError("result type must be the init type ") << init;
  int64_t rows = q.getDimSize(0), heads = getHeads(), kvHeads = getKvHeads();
  if (k.getDimSize(0) != rows || v.getDimSize(0) != rows ||
      init.getDimSize(0) != rows)
    return emitOpError("q, k, v and init must have the same rows, got ")
           << q << ", " << k << ", " << v << ", " << init;
  if (rows % getSeqLen() != 0)
    return emitOpError("rows (")
           << rows << ") must be a multiple of seq_len (" << getSeqLen() << ")";
  if (heads % kvHeads != 0)
    return emitOpError("heads (")
           << heads << ") must be a multiple of kv_heads (" << kvHeads << ")";
  if (q.getDimSize(1) % heads != 0)
    return emitOpError("q width ")
           << q.getDimSize(1) << " is not heads x head_dim";
  int64_t headDim = q.getDimSize(1) / heads;
  if (k.getDimSize(1) != kvHeads * headDim ||
      v.getDimSize(1) != kvHeads * headDim)
    return emitOpError("k and v must be [rows, kv_heads x head_dim = ")
           << kvHeads * headDim << "]";
  if (init.getDimSize(1) != q.getDimSize(1))
    return emitOpError("init must have the shape of q");
  return success();
}

void AttentionOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  if (!isa<MemRefType>(getInit().getType()))
    return;
  for (OpOperand *operand : {&getQMutable(), &getKMutable(), &getVMutable()})
    effects.emplace_back(MemoryEffects::Read::get(), operand,
                         SideEffects::DefaultResource::get());
  effects.emplace_back(MemoryEffects::Write::get(), &getInitMutable(),
                       SideEffects::DefaultResource::get());
}

bool AttentionOp::bufferizesToMemoryRead(OpOperand &operand,
                                         const bufferization::AnalysisState &) {
  // The output is only written.
  return operand.getOperandNumber() != getInitMutable().getOperandNumber();
}

bool AttentionOp::bufferizesToMemoryWrite(
    OpOperand &operand, const bufferization::AnalysisState &) {
  return operand.getOperandNumber() == getInitMutable().getOperandNumber();
}

bufferization::AliasingValueList
AttentionOp::getAliasingValues(OpOperand &operand,
                               const bufferization::AnalysisState &) {
  if (operand.getOperandNumber() != getInitMutable().getOperandNumber())
    return {};
  return {{getResult()[0], bufferization::BufferRelation::Equivalent}};
}

LogicalResult
AttentionOp::bufferize(RewriterBase &rewriter,
                       const bufferization::BufferizationOptions &options,
                       bufferization::BufferizationState &state) {
  SmallVector<Value> buffers;
  for (Value operand : getOperands()) {
    FailureOr<Value> buffer =
        bufferization::getBuffer(rewriter, operand, options, state);
    if (failed(buffer))
      return failure();
    buffers.push_back(*buffer);
  }
  rewriter.setInsertionPoint(*this);
  AttentionOp::create(rewriter, getLoc(), TypeRange{}, buffers[0], buffers[1],
                      buffers[2], buffers[3], getHeads(), getKvHeads(),
                      getSeqLen(), getKeyBlock());
  bufferization::replaceOpWithBufferizedValues(rewriter, *this, buffers[3]);
  return success();
}

#define GET_OP_CLASSES
#include "dialects/Kernel/KernelOps.cpp.inc"
