//===- OutlineElementwise.cpp - one kind of elementwise op, own kernels ---===//
//
// A fusion pass in a few lines, written against the outlining API
// (KernelOutlining.h) as the worked example of docs/fusion.md: it only
// decides the groups — each elementwise linalg.generic whose body holds
// the chosen op, alone — and lets outlineKernel make the kernels, equal
// ones once. Opt-in: no growc pipeline runs it, so the default kernels
// stay as growc-form-kernels forms them.
//
//===----------------------------------------------------------------------===//

#include "passes/Fusion/Passes.h"

#include "growc/AttrNames.h"
#include "passes/Fusion/KernelOutlining.h"

namespace growc {
#define GEN_PASS_DEF_OUTLINEELEMENTWISE
#include "passes/Fusion/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;

namespace {

struct OutlineElementwisePass
    : growc::impl::OutlineElementwiseBase<OutlineElementwisePass> {
  using OutlineElementwiseBase::OutlineElementwiseBase;

  /// Whether `generic` is elementwise (no reduction loop, so a kernel of
  /// its own is a plain row kernel) and its body holds the chosen op. An op
  /// the lowering already wants alone (an AdamW update) is left to
  /// growc-form-kernels, which also moves its prepared operands in.
  bool isChosen(linalg::GenericOp generic) {
    return !generic->hasAttr(attr::kOwnKernel) &&
           generic.getNumLoops() == generic.getNumParallelLoops() &&
           llvm::any_of(generic.getBody()->getOperations(), [&](Operation &op) {
             return op.getName().getStringRef() == bodyOp;
           });
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!OperationName(bodyOp, &getContext()).isRegistered()) {
      module.emitError("growc-outline-elementwise: body-op '")
          << bodyOp << "' is not a registered op";
      return signalPassFailure();
    }
    KernelCache cache(module);
    for (auto host : llvm::to_vector(module.getOps<func::FuncOp>())) {
      if (!host->hasAttr(attr::kParamNames))
        continue;
      if (!host.getBody().hasOneBlock()) {
        host.emitOpError("growc-outline-elementwise expects a single-block "
                         "host function");
        return signalPassFailure();
      }
      // Collected first: outlining erases the ops it outlines.
      SmallVector<linalg::GenericOp> chosen;
      for (auto generic : host.getBody().front().getOps<linalg::GenericOp>())
        if (isChosen(generic))
          chosen.push_back(generic);
      for (linalg::GenericOp generic : chosen)
        if (failed(outlineKernel(host, {generic.getOperation()}, cache)))
          return signalPassFailure();
      eraseUnusedRematerializable(host);
    }
  }
};

} // namespace
