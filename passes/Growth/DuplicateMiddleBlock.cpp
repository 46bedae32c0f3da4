//===- DuplicateMiddleBlock.cpp - MIDAS middle-block duplication pass ---===//
//
// Applies planGrowthStep(GrowthMethod::Midas) to every model in the module; the
// index math lives in GrowthPlan.cpp and the IR surgery in LayerSurgery.cpp.
//
//===----------------------------------------------------------------------===//

#include "passes/Growth/Passes.h"

#include "growc/Growth/LayerSurgery.h"

namespace growc {
#define GEN_PASS_DEF_DUPLICATEMIDDLEBLOCK
#include "passes/Growth/Passes.h.inc"
} // namespace growc

using namespace growc;

namespace {
struct DuplicateMiddleBlockPass
    : growc::impl::DuplicateMiddleBlockBase<DuplicateMiddleBlockPass> {
  using DuplicateMiddleBlockBase::DuplicateMiddleBlockBase;

  void runOnOperation() override {
    for (auto model : getOperation().getOps<grow::ModelOp>())
      if (failed(growModel(model, GrowthMethod::Midas, blockSize, steps,
                           LidasOddPolicy::Midas)))
        return signalPassFailure();
  }
};
} // namespace
