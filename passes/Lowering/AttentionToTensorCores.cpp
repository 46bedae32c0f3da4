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
};

} // namespace
