//===- PlanEmitterTest.cpp - the adamw step's plan layout -----------------===//
//
// Emits plans from small hand-written bufferized train functions (what the
// kernel pipeline leaves: allocations, a growk.adamw, copies into the
// out-parameters) and checks what lib/Codegen/PlanEmitter.cpp promises for
// the optimizer step: its lists as flat regions with D_k = 4 * sum_{j<k}
// roundUp(n_j, 32), the outputs named like parameters in the parameters'
// buffers, and a clear error for gradients that are not whole buffers of
// their own, which the pipeline never produces and lit cannot reach.
//
//===----------------------------------------------------------------------===//

#include "dialects/Kernel/KernelOps.h"
#include "growc/Codegen/Codegen.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

#include <string>

using namespace mlir;
using namespace growc;

namespace {

/// A train function of two parameters w (40 floats: padded to 64 in a
/// region) and b (8); `grads` declares %gw and %gb (of `gradTypes`), views
/// of %big, a 48-float allocation, or allocations of their own.
std::string
trainFunction(const std::string &grads,
              const std::string &gradTypes = "memref<40xf32>, memref<8xf32>") {
  return R"mlir(
func.func @m(%tokens: memref<1x2xi32>, %lr: memref<1xf32>, %step: memref<1xf32>,
             %w: memref<40xf32>, %b: memref<8xf32>, %mw: memref<40xf32>,
             %mb: memref<8xf32>, %vw: memref<40xf32>, %vb: memref<8xf32>,
             %o_loss: memref<1xf32>, %o_bad: memref<1xf32>, %o_norm: memref<1xf32>,
             %o_w: memref<40xf32>, %o_b: memref<8xf32>, %o_mw: memref<40xf32>,
             %o_mb: memref<8xf32>, %o_vw: memref<40xf32>, %o_vb: memref<8xf32>)
    attributes {growc.graph = "train", growc.batch = 1 : i64, growc.seq = 2 : i64,
                growc.vocab_size = 4 : i64,
                growc.input_names = ["tokens", "lr", "step"],
                growc.param_names = ["w", "b", "optimizer.exp_avg.w", "optimizer.exp_avg.b", "optimizer.exp_avg_sq.w", "optimizer.exp_avg_sq.b"],
                growc.param_sources = ["w", "b", "optimizer.exp_avg.w", "optimizer.exp_avg.b", "optimizer.exp_avg_sq.w", "optimizer.exp_avg_sq.b"],
                growc.param_copies = [false, false, false, false, false, false],
                growc.output_names = ["loss", "nonfinite", "grad_norm", "w", "b", "optimizer.exp_avg.w", "optimizer.exp_avg.b", "optimizer.exp_avg_sq.w", "optimizer.exp_avg_sq.b"]} {
  %loss = memref.alloc() : memref<1xf32>
  %big = memref.alloc() : memref<48xf32>
)mlir" + grads +
         R"mlir(
  growk.adamw params(%w, %b : memref<40xf32>, memref<8xf32>)
      grads(%gw, %gb : )mlir" +
         gradTypes + R"mlir()
      exp_avg(%mw, %mb : memref<40xf32>, memref<8xf32>)
      exp_avg_sq(%vw, %vb : memref<40xf32>, memref<8xf32>)
      lr(%lr : memref<1xf32>) step(%step : memref<1xf32>)
      loss_nonfinite(%loss : memref<1xf32>)
      outs(%o_norm, %o_bad : memref<1xf32>, memref<1xf32>)
      {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64,
       weight_decay = 0.01 : f64, max_grad_norm = 1.0 : f64}
  memref.copy %loss, %o_loss : memref<1xf32> to memref<1xf32>
  memref.copy %w, %o_w : memref<40xf32> to memref<40xf32>
  memref.copy %b, %o_b : memref<8xf32> to memref<8xf32>
  memref.copy %mw, %o_mw : memref<40xf32> to memref<40xf32>
  memref.copy %mb, %o_mb : memref<8xf32> to memref<8xf32>
  memref.copy %vw, %o_vw : memref<40xf32> to memref<40xf32>
  memref.copy %vb, %o_vb : memref<8xf32> to memref<8xf32>
  return
}
)mlir";
}

class PlanEmitterTest : public ::testing::Test {
protected:
  PlanEmitterTest() {
    context.loadDialect<func::FuncDialect, memref::MemRefDialect,
                        growc::growk::GrowKDialect>();
  }
  /// The plan of `grads`' train function, or the emitter's error.
  llvm::Expected<rt::Plan>
  emit(const std::string &grads, llvm::StringRef target = "cpu",
       const std::string &gradTypes = "memref<40xf32>, memref<8xf32>") {
    module =
        parseSourceString<ModuleOp>(trainFunction(grads, gradTypes), &context);
    if (!module)
      return llvm::createStringError("the test's IR does not parse");
    return growc::emitPlan(*module, target, "m.so", 1 << 20);
  }
  MLIRContext context;
  OwningOpRef<ModuleOp> module;
};

TEST_F(PlanEmitterTest, RegionsAndInPlaceOutputs) {
  auto plan = emit(R"mlir(
  %gw = memref.alloc() : memref<40xf32>
  %gb = memref.alloc() : memref<8xf32>)mlir",
                   "nvptx");
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  const rt::PlanStep *adamw = nullptr;
  for (const rt::PlanStep &step : plan->steps)
    if (step.op == rt::PlanStep::Op::AdamW)
      adamw = &step;
  ASSERT_NE(adamw, nullptr);
  EXPECT_EQ(adamw->adamParams, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(adamw->adamExpAvg, (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(adamw->adamExpAvgSq, (std::vector<int64_t>{7, 8}));
  EXPECT_TRUE(adamw->adamGradSums.empty());
  EXPECT_EQ(adamw->adamLr, 1);
  EXPECT_EQ(adamw->adamStep, 2);
  EXPECT_EQ(adamw->adamApply, -1);
  EXPECT_EQ(adamw->symbols, (std::vector<std::string>{"growc_adamw_sumsq",
                                                      "growc_adamw_scalars",
                                                      "growc_adamw_update"}));
  // Every list: 128-byte aligned, b at D_1 = 4 * roundUp(40, 32) = 256.
  auto offset = [&](int64_t id) { return plan->buffers[id].offset; };
  for (const std::vector<int64_t> *list :
       {&adamw->adamParams, &adamw->adamExpAvg, &adamw->adamExpAvgSq,
        &adamw->adamGrads}) {
    EXPECT_EQ(offset((*list)[0]) % 128, 0);
    EXPECT_EQ(offset((*list)[1]) - offset((*list)[0]), 256);
  }
  // Nothing else inside a region [start, start + 256 + 32).
  for (const rt::PlanBuffer &buffer : plan->buffers)
    for (const std::vector<int64_t> *list :
         {&adamw->adamParams, &adamw->adamExpAvg, &adamw->adamExpAvgSq,
          &adamw->adamGrads}) {
      if (llvm::is_contained(*list, buffer.id))
        continue;
      int64_t start = offset((*list)[0]), end = start + 256 + 32;
      EXPECT_TRUE(buffer.offset >= end || buffer.offset + buffer.size <= start)
          << "buffer " << buffer.id << " inside a region";
    }
  // The next values are the parameters' own buffers.
  for (const rt::PlanTensor &output : plan->outputs)
    for (const rt::PlanParam &param : plan->params)
      if (output.name == param.name)
        EXPECT_EQ(output.buffer, param.buffer) << output.name;
  // CPU plans name no symbols: the runtime runs the step itself.
  auto cpu = emit(R"mlir(
  %gw = memref.alloc() : memref<40xf32>
  %gb = memref.alloc() : memref<8xf32>)mlir");
  ASSERT_TRUE(bool(cpu)) << llvm::toString(cpu.takeError());
  for (const rt::PlanStep &step : cpu->steps)
    EXPECT_TRUE(step.symbols.empty());
}

TEST_F(PlanEmitterTest, GradientAtAnOffsetIsRefused) {
  auto plan =
      emit(R"mlir(
  %gw = memref.subview %big[8] [40] [1] : memref<48xf32> to memref<40xf32, strided<[1], offset: 8>>
  %gb = memref.alloc() : memref<8xf32>)mlir",
           "cpu", "memref<40xf32, strided<[1], offset: 8>>, memref<8xf32>");
  ASSERT_FALSE(bool(plan));
  EXPECT_EQ(llvm::toString(plan.takeError()),
            "plan emission: the adamw step's grads #0 is not a whole buffer "
            "or the first block of one (a view at an offset)");
}

TEST_F(PlanEmitterTest, GradientPartOfALargerBufferIsRefused) {
  auto plan = emit(R"mlir(
  %gw = memref.alloc() : memref<40xf32>
  %gb = memref.subview %big[0] [8] [1] : memref<48xf32> to memref<8xf32, strided<[1]>>)mlir",
                   "cpu", "memref<40xf32>, memref<8xf32, strided<[1]>>");
  ASSERT_FALSE(bool(plan));
  EXPECT_EQ(llvm::toString(plan.takeError()),
            "plan emission: the adamw step's grads #1 is part of a larger "
            "buffer the list does not cover");
}

TEST_F(PlanEmitterTest, GraphArgumentAsGradientIsRefused) {
  // A gradient must be a buffer of its own, not a graph input (here b's
  // first moment, itself in a list).
  std::string ir = trainFunction(R"mlir(
  %gw = memref.alloc() : memref<40xf32>)mlir");
  size_t at = ir.find("grads(%gw, %gb");
  ir.replace(at, 14, "grads(%gw, %mb");
  module = parseSourceString<ModuleOp>(ir, &context);
  ASSERT_TRUE(bool(module));
  auto plan = growc::emitPlan(*module, "cpu", "m.so", 1 << 20);
  ASSERT_FALSE(bool(plan));
  EXPECT_EQ(llvm::toString(plan.takeError()),
            "plan emission: the adamw step's grads #1 is a graph input or "
            "output, not a gradient buffer of its own");
}

TEST_F(PlanEmitterTest, CopiedParameterIsRefused) {
  // What one-shot bufferization leaves when it cannot update w in place:
  // the step updates a copy, which would break the region layout.
  std::string ir = trainFunction(R"mlir(
  %gw = memref.alloc() : memref<40xf32>
  %gb = memref.alloc() : memref<8xf32>
  %wc = memref.alloc() : memref<40xf32>)mlir");
  size_t at = ir.find("params(%w,");
  ir.replace(at, 10, "params(%wc,");
  module = parseSourceString<ModuleOp>(ir, &context);
  ASSERT_TRUE(bool(module));
  auto plan = growc::emitPlan(*module, "cpu", "m.so", 1 << 20);
  ASSERT_FALSE(bool(plan));
  EXPECT_EQ(llvm::toString(plan.takeError()),
            "plan emission: the adamw step's params #0 is not the plan "
            "parameter itself: bufferization did not update it in place");
}

} // namespace
