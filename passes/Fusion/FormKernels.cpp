//===- FormKernels.cpp - group work between library calls into kernels ---===//
//
// The fusion decision of growc, stated simply: a GEMM is a library call and
// a hard boundary; everything between two boundaries is one kernel. For a
// pre-norm decoder this yields exactly the fused kernels worth having
// (residual + RMSNorm, RoPE + attention, SwiGLU) and keeps every
// intermediate of a group out of memory once the kernel is generated.
// Kernels are outlined as functions and deduplicated by structural
// equivalence, so the kernel count does not grow with depth.
//
//===----------------------------------------------------------------------===//

#include "passes/Fusion/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/OperationSupport.h"
#include "llvm/ADT/SetVector.h"

namespace growc {
#define GEN_PASS_DEF_FORMKERNELS
#include "passes/Fusion/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;

namespace {

/// Marks an op the lowering wants in a kernel of its own (an optimizer
/// update per parameter: independent work that would otherwise pile up into
/// one huge single-block kernel after the last GEMM).
constexpr llvm::StringLiteral kOwnKernelAttr = "growc.own_kernel";

/// Ops that end a group and stay in the host function.
bool isBoundary(Operation *op) {
  // An attention run by a library kernel (growc-attention-to-tensor-cores)
  // stays on the host, a plan step like a GEMM.
  return isa<growk::MatmulOp, growk::AllReduceOp, func::ReturnOp>(op) ||
         op->hasAttr("growc.library_kernel");
}

/// Ops that are free to recreate wherever they are used.
bool isRematerializable(Operation *op) {
  return isa<arith::ConstantOp, tensor::EmptyOp>(op);
}

/// Slices of a GEMM's operands or output (rows of the LM head and of its
/// gradient, in the chunked cross-entropy): views the plan addresses as a
/// buffer plus an offset, so they stay on the host. In a kernel they would
/// be copies.
bool isGemmView(Operation *op) {
  if (auto extract = dyn_cast<tensor::ExtractSliceOp>(op))
    return !extract->use_empty() &&
           llvm::all_of(extract->getUsers(), [](Operation *user) {
             return isa<growk::MatmulOp>(user);
           });
  if (auto insert = dyn_cast<tensor::InsertSliceOp>(op))
    return insert.getSource().getDefiningOp<growk::MatmulOp>() != nullptr;
  return false;
}

/// A reshape that only kernels of their own read (the head-major copies of
/// growc-attention-to-gemms): a view of its operand's buffer, so it stays
/// on the host instead of joining, and reshaping the result of, the kernel
/// that produces its operand.
bool isOwnKernelView(Operation *op) {
  return isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(op) &&
         !op->use_empty() && llvm::all_of(op->getUsers(), [](Operation *user) {
           return user->hasAttr(kOwnKernelAttr);
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
  if (!user->hasAttr(kOwnKernelAttr) || user->getBlock() != op->getBlock())
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

class KernelFormer {
public:
  KernelFormer(ModuleOp module) : module(module) {}

  /// Outlines `group` (ops of `host`, in order) into a kernel, reusing an
  /// equal existing one, and replaces it by a call.
  void outline(func::FuncOp host, ArrayRef<Operation *> group);

  unsigned numKernels() const { return kernels.size(); }

private:
  func::FuncOp findEqual(func::FuncOp candidate) {
    for (func::FuncOp kernel : kernels)
      if (kernel.getFunctionType() == candidate.getFunctionType() &&
          OperationEquivalence::isRegionEquivalentTo(
              &kernel.getBody(), &candidate.getBody(),
              OperationEquivalence::Flags::None))
        return kernel;
    return {};
  }

  ModuleOp module;
  SmallVector<func::FuncOp> kernels;
};

void KernelFormer::outline(func::FuncOp host, ArrayRef<Operation *> group) {
  llvm::SmallPtrSet<Operation *, 32> inGroup(group.begin(), group.end());
  // Inputs: values from outside the group (constants excepted); outputs:
  // results used outside it.
  llvm::SetVector<Value> inputs;
  llvm::SetVector<Operation *> cloned;
  SmallVector<Value> outputs;
  for (Operation *op : group) {
    op->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands()) {
        Operation *def = operand.getDefiningOp();
        if (def && inGroup.contains(def))
          continue;
        if (!def &&
            operand.getParentRegion()->isAncestor(nested->getParentRegion()) &&
            operand.getParentRegion() != &host.getBody())
          continue; // defined inside the group's regions
        if (def && def->getParentRegion() != &host.getBody())
          continue; // defined inside one of the group's ops
        if (def && isRematerializable(def))
          cloned.insert(def);
        else
          inputs.insert(operand);
      }
    });
    for (Value result : op->getResults())
      if (llvm::any_of(result.getUsers(), [&](Operation *user) {
            return !inGroup.contains(
                host.getBody().front().findAncestorOpInBlock(*user));
          }))
        outputs.push_back(result);
  }

  OpBuilder builder(module.getContext());
  builder.setInsertionPointToEnd(module.getBody());
  Location loc = group.front()->getLoc();
  auto type = builder.getFunctionType(
      llvm::map_to_vector(inputs, [](Value v) { return v.getType(); }),
      llvm::map_to_vector(outputs, [](Value v) { return v.getType(); }));
  auto kernel = func::FuncOp::create(builder, loc, "kernel", type);
  Block *entry = kernel.addEntryBlock();
  IRMapping mapping;
  for (auto [input, arg] : llvm::zip(inputs, entry->getArguments()))
    mapping.map(input, arg);
  builder.setInsertionPointToStart(entry);
  for (Operation *op : cloned)
    builder.clone(*op, mapping);
  for (Operation *op : group)
    builder.clone(*op, mapping);
  func::ReturnOp::create(
      builder, loc,
      llvm::map_to_vector(outputs, [&](Value v) { return mapping.lookup(v); }));

  if (func::FuncOp existing = findEqual(kernel)) {
    kernel.erase();
    kernel = existing;
  } else {
    kernel.setSymName(("kernel" + Twine(kernels.size())).str());
    kernel->setAttr("growc.kernel", builder.getUnitAttr());
    kernels.push_back(kernel);
  }

  builder.setInsertionPoint(group.front());
  auto call = func::CallOp::create(builder, loc, kernel, inputs.getArrayRef());
  for (auto [output, result] : llvm::zip(outputs, call.getResults()))
    output.replaceAllUsesWith(result);
  for (Operation *op : llvm::reverse(group))
    op->erase();
}

struct FormKernelsPass : growc::impl::FormKernelsBase<FormKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    KernelFormer former(module);
    SmallVector<func::FuncOp> forwards;
    for (auto func : module.getOps<func::FuncOp>())
      if (func->hasAttr("growc.param_names"))
        forwards.push_back(func);
    for (func::FuncOp host : forwards) {
      if (!host.getBody().hasOneBlock()) {
        host.emitOpError("growc-form-kernels expects a single-block forward "
                         "function");
        return signalPassFailure();
      }
      SmallVector<SmallVector<Operation *>> groups(1);
      SmallVector<Operation *> prepared;
      for (Operation &op : llvm::make_early_inc_range(host.getBody().front())) {
        if (isBoundary(&op)) {
          if (!groups.back().empty())
            groups.emplace_back();
          continue;
        }
        // Constants and empty tensors are cloned into each kernel that
        // uses them, never passed between kernels.
        if (isRematerializable(&op) || isGemmView(&op))
          continue;
        if (ownKernelPreparedFor(&op)) {
          prepared.push_back(&op);
          continue;
        }
        if (isOwnKernelView(&op))
          continue;
        // An unexpanded attention or attention gradient (the GPU target)
        // is a kernel of its own: it reads every key row, so it cannot
        // share a grid with the row-wise work (RoPE) that produces them.
        if (isa<growk::AttentionOp, growk::AttentionGradOp>(op) ||
            op.hasAttr(kOwnKernelAttr)) {
          if (!groups.back().empty())
            groups.emplace_back();
          // Its prepared operands move next to it (they read only block
          // arguments and constants), so the kernel's call, placed at the
          // group's first op, still follows the op's other operands.
          for (Operation *prep : prepared)
            if (ownKernelPreparedFor(prep) == &op) {
              prep->moveBefore(&op);
              groups.back().push_back(prep);
            }
          groups.back().push_back(&op);
          groups.emplace_back();
          continue;
        }
        groups.back().push_back(&op);
      }
      for (ArrayRef<Operation *> group : groups)
        if (!group.empty() && doesWork(group))
          former.outline(host, group);
      for (Operation &op :
           llvm::make_early_inc_range(llvm::reverse(host.getBody().front())))
        if (isRematerializable(&op) && op.use_empty())
          op.erase();
    }
  }
};

} // namespace
