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

struct AttentionToTensorCoresPass
    : growc::impl::AttentionToTensorCoresBase<AttentionToTensorCoresPass> {
  using AttentionToTensorCoresBase::AttentionToTensorCoresBase;

  void runOnOperation() override {
    // Ops left in the flash form: one warning for all of them.
    SmallVector<std::pair<Operation *, int64_t>> unsupported;
    getOperation().walk([&](Operation *op) {
      if (auto forward = dyn_cast<growk::AttentionOp>(op))
        if (!markForLibrary(op,
                            flashForwardKernel(forward.getHeadDim(),
                                               forward.getQ().getType(),
                                               forward.getInit().getType())))
          unsupported.emplace_back(op, forward.getHeadDim());
      // The backward's three passes; the plan emitter lists them.
      if (auto backward = dyn_cast<growk::AttentionGradOp>(op))
        if (!markForLibrary(op, flashBackwardKernel(backward.getHeadDim(),
                                                    backward.getQ().getType())))
          unsupported.emplace_back(op, backward.getHeadDim());
    });
    if (warnUnsupported && !unsupported.empty())
      unsupported.front().first->emitWarning(llvm::formatv(
          "no tensor-core attention kernel for head size {0} (the library "
          "has 16, 32 and 64, f32 activations); {1} attention op(s) keep the "
          "flash form",
          unsupported.front().second, unsupported.size()));
  }
};

} // namespace
