//===- KernelOutlining.h - groups of host ops into kernels ------*- C++ -*-===//
//
// The reusable half of kernel formation, for passes that decide fusion
// differently: the pass chooses which ops of a host function belong
// together, outlineKernel turns each group into a kernel (a `func.func`
// marked `growc.kernel`) and a call to it, and a KernelCache makes groups
// with structurally equal bodies one kernel, so that the kernel count does
// not grow with depth. growc-form-kernels and growc-outline-elementwise are
// its clients; docs/fusion.md says how to write another.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_FUSION_KERNELOUTLINING_H
#define GROWC_PASSES_FUSION_KERNELOUTLINING_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

namespace growc {

/// Whether `func` is a kernel: outlined by outlineKernel (or a mixed
/// precision variant or cast kernel), launched by the plan.
bool isKernel(mlir::func::FuncOp func);

/// The kernel `call` calls; null when it calls anything else.
mlir::func::FuncOp getCalledKernel(mlir::func::CallOp call);

/// Whether outlining clones `op` into each kernel that uses it instead of
/// passing its result: constants and tensor.empty, free to recreate and
/// never worth a buffer between kernels.
bool isRematerializable(mlir::Operation *op);

/// Erases the rematerializable ops of `host` that outlining left unused.
void eraseUnusedRematerializable(mlir::func::FuncOp host);

/// The stem of a kernel's name, from what its ops compute: up to three
/// tags in op order ("rmsnorm", "rope", "swiglu", "attention", "adamw",
/// ...), or the shape of its work ("reduce", "map") when none applies.
/// KernelCache appends the kernel's index ("rmsnorm_rope_3").
std::string describeKernel(mlir::func::FuncOp kernel);

/// The kernels of one module, looked up by structure: outlining a group
/// equal to an earlier one (same signature, equal body) reuses that kernel.
class KernelCache {
public:
  /// Starts from the kernels `module` already has, so that a pass running
  /// after kernel formation reuses them and numbers its own after them.
  explicit KernelCache(mlir::ModuleOp module);

  /// The kernel whose type and body equal `candidate`'s, or null.
  mlir::func::FuncOp lookup(mlir::func::FuncOp candidate) const;
  /// Adds the new kernel `kernel`: marks it as a kernel and names it
  /// after what it computes and its index (describeKernel: "swiglu_4"),
  /// unique in the module.
  void insert(mlir::func::FuncOp kernel);

  mlir::ModuleOp getModule() const { return module; }
  llvm::ArrayRef<mlir::func::FuncOp> getKernels() const { return kernels; }

private:
  mlir::ModuleOp module;
  llvm::SmallVector<mlir::func::FuncOp> kernels;
};

/// Outlines `group` — ops of `host`'s single block, in block order, with
/// their regions — into a kernel and replaces them by one call to it,
/// placed where the first op was. The kernel's arguments are the values
/// the group reads from outside (rematerializable ones are cloned in
/// instead), its results those the group defines and anything else uses.
/// An equal kernel in `cache` is reused; a new one is added to it. Fails
/// with a diagnostic, changing nothing, when the group holds a host step
/// (growk::HostStepOpInterface) or a terminator, or reads a value defined
/// after its first op by an op outside it (the call could not read it).
mlir::FailureOr<mlir::func::FuncOp>
outlineKernel(mlir::func::FuncOp host, llvm::ArrayRef<mlir::Operation *> group,
              KernelCache &cache);

} // namespace growc

#endif // GROWC_PASSES_FUSION_KERNELOUTLINING_H
