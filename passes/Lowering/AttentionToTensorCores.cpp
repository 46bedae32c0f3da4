//===- AttentionToTensorCores.cpp - attention as a library kernel ---------===//
//
// The GPU's third form of attention (growc --gpu-attention=mma): the
// forward as the hand-written FlashAttention-2 kernel of the kernel
// library (lib/Codegen/Kernels/FlashAttention.cu), the way GEMMs are
// cuBLASLt calls. The pass only decides which attentions qualify and
// names their kernel; kernel formation keeps a marked op on the host, the
// plan emitter writes an `attention` step for it and the GPU backend links
// the library's PTX into the artifact.
//
//===----------------------------------------------------------------------===//

#include "passes/Lowering/Passes.h"

#include "growc/AttrNames.h"
#include "growc/Codegen/FlashAttentionKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/Support/FormatVariadic.h"

namespace growc {
#define GEN_PASS_DEF_ATTENTIONTOTENSORCORES
#include "passes/Lowering/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;

namespace {

/// Names `op`'s library kernel `name`, if there is one; returns whether
/// there is. Every operand must be f32 (the element types before
/// growc-demote-activations).
bool markForLibrary(Operation *op, std::optional<std::string> name) {
  bool f32 = llvm::all_of(op->getOperands(), [](Value v) {
    return cast<ShapedType>(v.getType()).getElementType().isF32();
  });
  if (!name || !f32)
    return false;
  op->setAttr(attr::kLibraryKernel, StringAttr::get(op->getContext(), *name));
  return true;
}

/// Makes the library forward `forward` write its rows' log-sum-exps (a
/// second result, f32 [B · heads, T]) and `backward` read them.
void saveLse(growk::AttentionOp &forward, growk::AttentionGradOp backward) {
  if (!forward.getLseInit()) {
    OpBuilder b(forward);
    Location loc = forward.getLoc();
    auto lseType =
        RankedTensorType::get({int64_t(forward.getBatch() * forward.getHeads()),
                               int64_t(forward.getSeqLen())},
                              b.getF32Type());
    Value lse = tensor::EmptyOp::create(b, loc, lseType.getShape(),
                                        lseType.getElementType());
    auto saving = growk::AttentionOp::create(
        b, loc, TypeRange{forward.getInit().getType(), lseType}, forward.getQ(),
        forward.getK(), forward.getV(), forward.getInit(), lse,
        forward.getHeads(), forward.getKvHeads(), forward.getSeqLen(),
        forward.getKeyBlock());
    saving->setDiscardableAttrs(forward->getDiscardableAttrDictionary());
    forward.getResult()[0].replaceAllUsesWith(saving.getResult()[0]);
    forward.erase();
    forward = saving;
  }
  backward.getLseMutable().assign(forward.getResult()[1]);
}

/// A column block of `source` read by one of the model lowering's
/// elementwise ops (ModelTensorBuilder::rope, ::columns): q or k rotated
/// (cos and sin set) or v copied.
struct BlockRead {
  Value source, cos, sin;
  int64_t column = 0;
};

/// The constant index `v` holds, if it is one.
std::optional<int64_t> constantIndex(Value v) {
  if (auto constant = v.getDefiningOp<arith::ConstantIndexOp>())
    return constant.value();
  return std::nullopt;
}

/// Whether `generic` writes a fresh [rows, width] tensor over all-parallel
/// loops: the shape of the lowering's RoPE and column copies.
bool isFreshParallelMap(linalg::GenericOp generic, int64_t width) {
  auto type = dyn_cast<RankedTensorType>(generic.getResult(0).getType());
  return generic.getNumResults() == 1 && type && type.getRank() == 2 &&
         type.getDimSize(1) == width &&
         generic.getDpsInits()[0].getDefiningOp<tensor::EmptyOp>() &&
         llvm::all_of(generic.getIteratorTypesArray(),
                      [](utils::IteratorType type) {
                        return type == utils::IteratorType::parallel;
                      });
}

/// `x` as ModelTensorBuilder::rope(source, heads, /*inverse=*/false,
/// column) builds it for a block of a wider `source`: the body op for op
/// (each element x_i c + (i < hd / 2 ? -x_{i + hd/2} : x_{i - hd/2}) s,
/// with the tables' angle (i mod hd) mod hd / 2 of the row), nothing
/// else. Anything else (the inverse, another formula) is left alone.
std::optional<BlockRead> matchRope(Value x, int64_t headDim, int64_t width) {
  auto generic = x.getDefiningOp<linalg::GenericOp>();
  if (!generic || !isFreshParallelMap(generic, width) ||
      generic.getNumDpsInputs() != 2)
    return std::nullopt;
  MLIRContext *context = x.getContext();
  AffineExpr d0 = getAffineDimExpr(0, context),
             d1 = getAffineDimExpr(1, context);
  AffineMap angle =
      AffineMap::get(2, 0, {d0, (d1 % headDim) % (headDim / 2)}, context);
  SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
  if (maps[0] != angle || maps[1] != angle || !maps[2].isIdentity())
    return std::nullopt;
  // The body, op by op.
  static constexpr llvm::StringLiteral kBody[] = {
      "linalg.index",   "linalg.index",   "arith.constant", "arith.constant",
      "arith.constant", "arith.remui",    "arith.cmpi",     "arith.addi",
      "arith.subi",     "arith.select",   "arith.addi",     "tensor.extract",
      "arith.addi",     "tensor.extract", "arith.negf",     "arith.select",
      "arith.mulf",     "arith.mulf",     "arith.addf",     "linalg.yield"};
  Block &body = generic.getRegion().front();
  SmallVector<Operation *> ops;
  for (Operation &op : body)
    ops.push_back(&op);
  if (ops.size() != std::size(kBody))
    return std::nullopt;
  for (auto [op, name] : llvm::zip(ops, kBody))
    if (op->getName().getStringRef() != name)
      return std::nullopt;
  std::optional<int64_t> hd = constantIndex(ops[2]->getResult(0)),
                         half = constantIndex(ops[3]->getResult(0)),
                         column = constantIndex(ops[4]->getResult(0));
  auto element = cast<tensor::ExtractOp>(ops[11]),
       partner = cast<tensor::ExtractOp>(ops[13]);
  auto low = cast<arith::CmpIOp>(ops[6]);
  auto signedPartner = cast<arith::SelectOp>(ops[15]);
  auto elementTimesCos = cast<arith::MulFOp>(ops[16]),
       partnerTimesSin = cast<arith::MulFOp>(ops[17]);
  auto sum = cast<arith::AddFOp>(ops[18]);
  bool rotation = hd == headDim && half == headDim / 2 && column &&
                  low.getPredicate() == arith::CmpIPredicate::ult &&
                  element.getTensor() == partner.getTensor() &&
                  element.getTensor().getParentBlock() != &body &&
                  ops[14]->getOperand(0) == partner.getResult() &&
                  signedPartner.getCondition() == low.getResult() &&
                  signedPartner.getTrueValue() == ops[14]->getResult(0) &&
                  signedPartner.getFalseValue() == partner.getResult() &&
                  elementTimesCos.getLhs() == element.getResult() &&
                  elementTimesCos.getRhs() == body.getArgument(0) &&
                  partnerTimesSin.getLhs() == signedPartner.getResult() &&
                  partnerTimesSin.getRhs() == body.getArgument(1) &&
                  sum.getLhs() == elementTimesCos.getResult() &&
                  sum.getRhs() == partnerTimesSin.getResult() &&
                  ops[19]->getOperand(0) == sum.getResult();
  if (!rotation)
    return std::nullopt;
  return BlockRead{element.getTensor(), generic.getDpsInputs()[0],
                   generic.getDpsInputs()[1], *column};
}

/// `x` as ModelTensorBuilder::columns(source, column, width) builds it: a
/// copy of `width` columns of `source` from `column`.
std::optional<BlockRead> matchColumns(Value x, int64_t width) {
  auto generic = x.getDefiningOp<linalg::GenericOp>();
  if (!generic || !isFreshParallelMap(generic, width) ||
      generic.getNumDpsInputs() != 1)
    return std::nullopt;
  Block &body = generic.getRegion().front();
  if (body.getOperations().size() != 1 ||
      body.getTerminator()->getOperand(0) != body.getArgument(0))
    return std::nullopt;
  AffineMap read = generic.getIndexingMapsArray()[0];
  MLIRContext *context = x.getContext();
  AffineExpr d0 = getAffineDimExpr(0, context),
             d1 = getAffineDimExpr(1, context);
  for (int64_t column = 0,
               end = cast<RankedTensorType>(generic.getDpsInputs()[0].getType())
                         .getDimSize(1);
       column + width <= end; ++column)
    if (read == AffineMap::get(2, 0, {d0, d1 + column}, context))
      return BlockRead{generic.getDpsInputs()[0], Value(), Value(), column};
  return std::nullopt;
}

/// Makes the library attention or gradient `op` (q, k, v its first three
/// operands) read q and k rotated on load, and v, from the one matrix
/// they are RoPE and a copy of, if they are: `columns`, `rope` and the
/// rope kernel's name. Returns whether it did.
template <typename OpT>
bool foldRope(OpT op, int64_t heads, int64_t kvHeads, int64_t headDim) {
  std::optional<BlockRead> q = matchRope(op.getQ(), headDim, heads * headDim);
  std::optional<BlockRead> k = matchRope(op.getK(), headDim, kvHeads * headDim);
  std::optional<BlockRead> v = matchColumns(op.getV(), kvHeads * headDim);
  if (!q || !k || !v || k->source != q->source || v->source != q->source ||
      k->cos != q->cos || k->sin != q->sin)
    return false;
  std::optional<std::string> name;
  if constexpr (std::is_same_v<OpT, growk::AttentionOp>)
    name = flashForwardKernel(headDim, q->source.getType(),
                              op.getInit().getType(), /*rope=*/true);
  else
    name = flashBackwardKernel(headDim, q->source.getType(), /*rope=*/true);
  if (!name)
    return false;
  op.getQMutable().assign(q->source);
  op.getKMutable().assign(q->source);
  op.getVMutable().assign(q->source);
  op.getRopeMutable().assign(ValueRange{q->cos, q->sin});
  op.setColumns(ArrayRef<int64_t>{q->column, k->column, v->column});
  op->setAttr(attr::kLibraryKernel, StringAttr::get(op->getContext(), *name));
  return true;
}

struct AttentionToTensorCoresPass
    : growc::impl::AttentionToTensorCoresBase<AttentionToTensorCoresPass> {
  using AttentionToTensorCoresBase::AttentionToTensorCoresBase;

  void runOnOperation() override {
    // Ops left in the flash form: one warning for all of them.
    SmallVector<std::pair<Operation *, int64_t>> unsupported;
    SmallVector<Operation *> unpaired;
    getOperation().walk([&](Operation *op) {
      if (auto forward = dyn_cast<growk::AttentionOp>(op))
        if (!markForLibrary(op,
                            flashForwardKernel(forward.getHeadDim(),
                                               forward.getQ().getType(),
                                               forward.getInit().getType())))
          unsupported.emplace_back(op, forward.getHeadDim());
      // The backward's passes; the plan emitter lists them. They read the
      // forward's log-sum-exps, so a gradient is the library's only if
      // its forward is (then both are tensors of one function).
      if (auto backward = dyn_cast<growk::AttentionGradOp>(op)) {
        auto forward = backward.getO().getDefiningOp<growk::AttentionOp>();
        bool paired = forward && forward->hasAttr(attr::kLibraryKernel) &&
                      isa<RankedTensorType>(forward.getInit().getType()) &&
                      forward.getQ() == backward.getQ() &&
                      forward.getK() == backward.getK() &&
                      forward.getV() == backward.getV();
        if (!markForLibrary(op, flashBackwardKernel(backward.getHeadDim(),
                                                    backward.getQ().getType())))
          unsupported.emplace_back(op, backward.getHeadDim());
        else if (!paired) {
          op->removeAttr(attr::kLibraryKernel);
          unpaired.push_back(op);
        } else
          saveLse(forward, backward);
      }
    });
    if (ropeOnLoad)
      foldRopeIntoLibraryKernels();
    if (warnUnsupported && !unsupported.empty())
      unsupported.front().first->emitWarning(llvm::formatv(
          "no tensor-core attention kernel for head size {0} (the library "
          "has 16, 32 and 64, f32 activations); {1} attention op(s) keep the "
          "flash form",
          unsupported.front().second, unsupported.size()));
    if (warnUnsupported && !unpaired.empty())
      unpaired.front()->emitWarning(llvm::formatv(
          "{0} attention gradient(s) without the library forward they "
          "differentiate (whose log-sum-exps they read) keep the flash form",
          unpaired.size()));
  }

  /// rope-on-load: each library attention and gradient on its own (each
  /// reads the same values either way); the RoPE and copy ops nothing
  /// else reads go.
  void foldRopeIntoLibraryKernels() {
    llvm::SetVector<Operation *> readers;
    getOperation().walk([&](Operation *op) {
      if (!op->hasAttr(attr::kLibraryKernel))
        return;
      SmallVector<Value, 3> qkv(op->getOperands().take_front(3));
      bool folded = false;
      if (auto forward = dyn_cast<growk::AttentionOp>(op))
        folded = foldRope(forward, forward.getHeads(), forward.getKvHeads(),
                          forward.getHeadDim());
      else if (auto backward = dyn_cast<growk::AttentionGradOp>(op))
        folded = foldRope(backward, backward.getHeads(), backward.getKvHeads(),
                          backward.getHeadDim());
      if (folded)
        for (Value value : qkv)
          readers.insert(value.getDefiningOp());
    });
    for (Operation *reader : readers)
      if (reader->use_empty())
        reader->erase();
  }
};

} // namespace
