//===- FormKernels.cpp - group work between library calls into kernels ---===//
//
// The fusion decision of growc, stated simply: a GEMM is a library call and
// a hard boundary; everything between two boundaries is one kernel. For a
// pre-norm decoder this yields exactly the fused kernels worth having
// (residual + RMSNorm, RoPE + attention, SwiGLU) and keeps every
// intermediate of a group out of memory once the kernel is generated.
// Work that needs a kernel of its own (attention, a column reduction such
// as an RMSNorm weight's gradient) does not split the run around it: the
// row work after it that does not read it stays in the run's kernel (the
// residual gradient's add in the RMSNorm backward's row kernel).
// This file only decides the groups; outlining them into deduplicated
// kernel functions is KernelOutlining.h's job, shared with other fusion
// passes.
//
//===----------------------------------------------------------------------===//

#include "passes/Fusion/Passes.h"

#include "growc/AttrNames.h"
#include "passes/Fusion/KernelOutlining.h"

namespace growc {
#define GEN_PASS_DEF_FORMKERNELS
#include "passes/Fusion/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;

namespace {

/// Ops that end a group and stay in the host function: plan steps (GEMMs,
/// all-reduces, library attention), calls of kernels formed before (by
/// another fusion pass) and the return.
bool isBoundary(Operation *op) {
  if (auto call = dyn_cast<func::CallOp>(op))
    return getCalledKernel(call) != nullptr;
  return growk::isHostStep(op) || isa<func::ReturnOp>(op);
}

/// A reshape that only kernels of their own read (the head-major copies of
/// growc-attention-to-gemms): a view of its operand's buffer, so it stays
/// on the host instead of joining, and reshaping the result of, the kernel
/// that produces its operand.
bool isOwnKernelView(Operation *op) {
  return isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(op) &&
         !op->use_empty() && llvm::all_of(op->getUsers(), [](Operation *user) {
           return user->hasAttr(attr::kOwnKernel);
         });
}

/// Whether `op` only prepares an operand of a kernel of its own — the
/// initial value of its reduction (a fill) or a view of an input — from
/// values available anywhere (block arguments, constants). It then goes
/// into that kernel instead of ending the previous one: a fill or view of
/// [1] or [B, T] there would make the previous kernel's rows dependent (no
/// longer one block per row) or turn it into a copy.
Operation *ownKernelPreparedFor(Operation *op) {
  if (!isa<linalg::FillOp, tensor::CollapseShapeOp, tensor::ExpandShapeOp>(
          op) ||
      !op->hasOneUse())
    return nullptr;
  Operation *user = *op->getUsers().begin();
  if (!user->hasAttr(attr::kOwnKernel) || user->getBlock() != op->getBlock())
    return nullptr;
  for (Value operand : op->getOperands()) {
    Operation *def = operand.getDefiningOp();
    if (def && !isRematerializable(def))
      return nullptr;
  }
  return user;
}

/// Whether a group computes anything (a group of only reshapes and
/// constants is left on the host, where reshapes are views).
bool doesWork(ArrayRef<Operation *> group) {
  return llvm::any_of(group, [](Operation *op) {
    return !isRematerializable(op) &&
           !isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(op);
  });
}

/// Whether `op` or an op nested in it reads a result of an op in `defs`.
bool readsAny(Operation *op, const llvm::SmallPtrSetImpl<Operation *> &defs) {
  return op
      ->walk([&](Operation *nested) {
        for (Value operand : nested->getOperands())
          if (Operation *def = operand.getDefiningOp();
              def && defs.contains(def))
            return WalkResult::interrupt();
        return WalkResult::advance();
      })
      .wasInterrupted();
}

struct FormKernelsPass : growc::impl::FormKernelsBase<FormKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    KernelCache cache(module);
    SmallVector<func::FuncOp> forwards;
    for (auto func : module.getOps<func::FuncOp>())
      if (func->hasAttr(attr::kParamNames))
        forwards.push_back(func);
    for (func::FuncOp host : forwards) {
      if (!host.getBody().hasOneBlock()) {
        host.emitOpError("growc-form-kernels expects a single-block forward "
                         "function");
        return signalPassFailure();
      }
      SmallVector<SmallVector<Operation *>> groups(1);
      SmallVector<Operation *> prepared;
      // Kernels of their own met while groups.back() was open, and what
      // reads their results outside a kernel (views): the open group goes
      // on past them until one of its ops reads them.
      SmallVector<SmallVector<Operation *>> deferred;
      llvm::SmallPtrSet<Operation *, 8> deferredDefs;
      auto endGroup = [&] {
        if (!groups.back().empty())
          groups.emplace_back();
        // After the group they followed: their calls stay where the ops
        // were, after the group's call (placed at its first op), so they
        // read the group's results.
        for (SmallVector<Operation *> &own : deferred)
          groups.insert(std::prev(groups.end()), std::move(own));
        deferred.clear();
        deferredDefs.clear();
      };
      for (Operation &op : llvm::make_early_inc_range(host.getBody().front())) {
        if (isBoundary(&op)) {
          endGroup();
          continue;
        }
        bool readsDeferred =
            !deferredDefs.empty() && readsAny(&op, deferredDefs);
        // Constants and empty tensors are cloned into each kernel that
        // uses them, never passed between kernels; views stay on the host.
        if (isRematerializable(&op) || growk::isHostStepView(&op)) {
          if (readsDeferred)
            deferredDefs.insert(&op);
          continue;
        }
        if (ownKernelPreparedFor(&op)) {
          prepared.push_back(&op);
          continue;
        }
        if (isOwnKernelView(&op)) {
          if (readsDeferred)
            deferredDefs.insert(&op);
          continue;
        }
        // An unexpanded attention or attention gradient (the GPU target)
        // is a kernel of its own: it reads every key row, so it cannot
        // share a grid with the row-wise work (RoPE) that produces them;
        // so is an op the lowering marked (a column reduction). An open
        // group does not end there: the kernel is outlined after it, and
        // the group's later ops that do not read it stay in the group.
        if (isa<growk::AttentionOp, growk::AttentionGradOp>(op) ||
            op.hasAttr(attr::kOwnKernel)) {
          SmallVector<Operation *> own;
          // Its prepared operands move next to it (they read only block
          // arguments and constants), so the kernel's call, placed at the
          // group's first op, still follows the op's other operands.
          for (Operation *prep : prepared)
            if (ownKernelPreparedFor(prep) == &op) {
              prep->moveBefore(&op);
              own.push_back(prep);
            }
          own.push_back(&op);
          if (groups.back().empty()) {
            groups.back() = std::move(own);
            groups.emplace_back();
          } else {
            deferred.push_back(std::move(own));
            deferredDefs.insert(&op);
          }
          continue;
        }
        // The open group's call comes before the deferred kernels, so an
        // op reading them starts the next group.
        if (readsDeferred)
          endGroup();
        groups.back().push_back(&op);
      }
      endGroup();
      for (ArrayRef<Operation *> group : groups)
        if (!group.empty() && doesWork(group) &&
            failed(outlineKernel(host, group, cache)))
          return signalPassFailure();
      eraseUnusedRematerializable(host);
    }
  }
};

} // namespace
