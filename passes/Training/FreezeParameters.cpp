//===- FreezeParameters.cpp - train only part of a model ------------------===//
//
// Marks `frozen` every grow.param that `trainable=SPEC` does not select, and
// unmarks the selected ones, so that SPEC alone says what the train graph
// updates: the lowering then gives frozen parameters no gradient output,
// and the optimizer step no moments and no AdamW update (LLaMA Pro's
// "train only the new blocks"). SPEC is resolved by the runtime's
// resolveTrainable (growc/runtime/Trainable.h), the same code with which
// growc-run train checks a plan against a SPEC.
//
//===----------------------------------------------------------------------===//

#include "passes/Training/Passes.h"

#include "growc/runtime/Trainable.h"

namespace growc {
#define GEN_PASS_DEF_FREEZEPARAMETERS
#include "passes/Training/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;
using namespace growc::grow;

namespace {

struct FreezeParametersPass
    : growc::impl::FreezeParametersBase<FreezeParametersPass> {
  using FreezeParametersBase::FreezeParametersBase;

  void runOnOperation() override {
    for (ModelOp model : getOperation().getOps<ModelOp>())
      if (failed(freeze(model)))
        return signalPassFailure();
  }

  LogicalResult freeze(ModelOp model) {
    SmallVector<ParamOp> params = model.getParams();
    std::vector<rt::TrainableParam> named;
    for (ParamOp param : params)
      named.push_back({param.getSymName().str(), param.getCopy()});
    rt::StatusOr<std::vector<bool>> selected =
        rt::resolveTrainable(trainable, named);
    if (!selected.isOk())
      return model.emitOpError("growc-freeze-parameters: ")
             << selected.status().message();
    for (auto [param, trains] : llvm::zip_equal(params, *selected))
      param.setFrozen(!trains);
    return success();
  }
};

} // namespace
