//===- AppendLastBlock.cpp - GradStack last-block stacking pass ---===//
//
// Applies planGrowthStep(GrowthMethod::GradStack) to every model in the module;
// the index math lives in GrowthPlan.cpp and the IR surgery in
// LayerSurgery.cpp.
//
//===----------------------------------------------------------------------===//

#include "passes/Growth/Passes.h"

#include "growc/Growth/LayerSurgery.h"

namespace growc {
#define GEN_PASS_DEF_APPENDLASTBLOCK
#include "passes/Growth/Passes.h.inc"
} // namespace growc

using namespace growc;

namespace {
struct AppendLastBlockPass
    : growc::impl::AppendLastBlockBase<AppendLastBlockPass> {
  using AppendLastBlockBase::AppendLastBlockBase;

  void runOnOperation() override {
    for (auto model : getOperation().getOps<grow::ModelOp>())
      if (failed(growModel(model, GrowthMethod::GradStack, blockSize, steps,
                           LidasOddPolicy::Midas)))
        return signalPassFailure();
  }
};
} // namespace
