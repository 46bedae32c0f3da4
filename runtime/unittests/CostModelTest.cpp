//===- CostModelTest.cpp - growc-run cost's counts and predictions --------===//
//
// The cost model (CostModel.h) on plans small enough to count by hand:
// the toy forward plan, and a hand-built two-micro-batch nvptx train plan
// with a kernel whose launch passes part of its arguments, a pure cast, a
// bf16 GEMM with a residual, both attention steps (the forward saving the
// LSE, the two-launch backward; a forward without the LSE apart), an
// all_reduce and two next values; AdamWPlan.h's adamw step; the GEMMs a
// model with frozen weights needs; the attention launches' block
// simulation on a GPU of two slots; a hand-made memory profile. Every
// expected number below is hand arithmetic.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/CostModel.h"
#include "growc/runtime/FlashAttentionLayout.h"
#include "growc/runtime/Json.h"
#include "growc/runtime/RunInterface.h"

#include "AdamWPlan.h"
#include "ToyModel.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace growc::rt::test {
namespace {

PlanKernelArg arg(DType dtype, std::vector<int64_t> shape) {
  PlanKernelArg a;
  a.dtype = dtype;
  a.shape = shape;
  a.numElements = 1;
  for (int64_t d : shape)
    a.numElements *= d;
  a.byteSize = a.numElements * int64_t(dtypeSize(dtype));
  return a;
}

template <typename T>
T tensor(const std::string &name, DType dtype, std::vector<int64_t> shape) {
  T t;
  t.name = name;
  t.dtype = dtype;
  t.shape = shape;
  PlanKernelArg a = arg(dtype, shape);
  t.numElements = a.numElements;
  t.byteSize = a.byteSize;
  return t;
}

/// batch 2, seq 128, 2 micro-batches: 512 tokens per optimizer step.
Plan trainPlan() {
  Plan plan;
  plan.path = "hand.plan.json";
  plan.graph = "train";
  plan.target = "nvptx";
  plan.batch = 2;
  plan.seq = 128;
  plan.microBatches = 2;
  const std::string q = "model.layers.0.self_attn.q_proj.weight";
  // A tied embedding [10, 8] (the head's weights), one [8, 8] projection,
  // a norm (no matrix product) and a moment (no weight of the model).
  plan.params = {
      tensor<PlanParam>("model.embed_tokens.weight", DType::F32, {10, 8}),
      tensor<PlanParam>(q, DType::F32, {8, 8}),
      tensor<PlanParam>("model.norm.weight", DType::F32, {8}),
      tensor<PlanParam>("optimizer.exp_avg." + q, DType::F32, {8, 8})};
  plan.inputs = {tensor<PlanTensor>("tokens", DType::I32, {2, 128}),
                 tensor<PlanTensor>("lr", DType::F32, {1})};
  // Two next values in buffers of their own (a plan without the adamw
  // step), a loss.
  plan.outputs = {
      tensor<PlanTensor>("loss", DType::F32, {1}),
      tensor<PlanTensor>(q, DType::F32, {8, 8}),
      tensor<PlanTensor>("optimizer.exp_avg." + q, DType::F32, {8, 8})};
  for (size_t i = 0; i < plan.params.size(); ++i)
    plan.params[i].buffer = int64_t(i);
  for (size_t i = 0; i < plan.outputs.size(); ++i)
    plan.outputs[i].buffer = int64_t(plan.params.size() + i);

  PlanKernel partial;
  partial.name = "partial";
  partial.args = {arg(DType::F32, {4, 4}), arg(DType::BF16, {4, 4}),
                  arg(DType::F32, {100})};
  partial.launch = PlanLaunch{};
  partial.launch->params = {0, 1}; // the scratch is not passed
  PlanKernel cast;
  cast.name = "cast";
  cast.args = {arg(DType::F32, {8, 8}), arg(DType::BF16, {8, 8})};
  cast.launch = PlanLaunch{};
  cast.launch->params = {0, 1};
  plan.kernels = {partial, cast};

  PlanStep kernel0, kernel1, gemm, attention, attentionGrad, allReduce;
  kernel0.kernel = 0;
  kernel1.kernel = 1;
  gemm.op = PlanStep::Op::Gemm;
  gemm.m = 256;
  gemm.n = 8;
  gemm.k = 8;
  gemm.beta = 1;
  gemm.aType = gemm.bType = DType::BF16;
  attention.op = PlanStep::Op::Attention;
  attention.symbols = {"growc_flash_forward_hd16_f32_f32"};
  attention.operands = {0, 1, 2, 3, 4}; // q, k, v, o, lse
  attentionGrad.op = PlanStep::Op::AttentionGrad;
  attentionGrad.symbols = {"growc_flash_backward_prep_hd16_f32",
                           "growc_flash_backward_hd16_f32"};
  // q, k, v, o, dout, dq, dk, dv, lse
  attentionGrad.operands = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  for (PlanStep *s : {&attention, &attentionGrad}) {
    s->batch = 2;
    s->seqLen = 128;
    s->heads = 2;
    s->kvHeads = 1;
    s->headDim = 16;
  }
  allReduce.op = PlanStep::Op::AllReduce;
  plan.steps = {kernel0, kernel1, gemm, attention, attentionGrad, allReduce};
  return plan;
}

GpuRates h100() {
  StatusOr<GpuRates> rates = gpuRatesFor("h100");
  EXPECT_TRUE(rates.isOk()) << rates.status().message();
  return *rates;
}

const KindCost &kind(const StepCost &cost, const std::string &name) {
  auto it = std::find_if(cost.kinds.begin(), cost.kinds.end(),
                         [&](const KindCost &k) { return k.kind == name; });
  EXPECT_NE(it, cost.kinds.end()) << name;
  return *it;
}

TEST(CostModelTest, TrainStepCountsMatchHandArithmetic) {
  Plan plan = trainPlan();
  StepCost cost = estimateStepCost(plan, h100(), CostAssumptions{});
  // Per call: 2 kernels, 1 GEMM, 1 + 2 attention launches, 2 copies (the
  // all_reduce is no node); two committing calls per optimizer step.
  EXPECT_EQ(cost.calls, 2);
  EXPECT_EQ(cost.tokens, 512);
  EXPECT_EQ(kind(cost, "kernel").nodes, 4);
  EXPECT_EQ(kind(cost, "gemm").nodes, 2);
  EXPECT_EQ(kind(cost, "attention").nodes, 6);
  EXPECT_EQ(kind(cost, "copy").nodes, 4);
  EXPECT_EQ(cost.nodes, 16);
  EXPECT_EQ(cost.attentionGradSteps, 2);
  EXPECT_EQ(cost.attentionLseWrites, 2);
  EXPECT_EQ(cost.allReduceSteps, 2);
  EXPECT_EQ(cost.pureCastLaunches, 2);
  // The copies are the executor's commits.
  EXPECT_EQ(cost.copies, 2 * int64_t(planNextValues(plan).size()));

  // GEMM: 2·256·8·8 per call; A 256x8 bf16, B 8x8 bf16, C 256x8 f32 read
  // and written (beta 1).
  EXPECT_DOUBLE_EQ(cost.gemmFlops, 2 * 2.0 * 256 * 8 * 8);
  EXPECT_DOUBLE_EQ(kind(cost, "gemm").bytes,
                   2 * (256 * 8 * 2 + 8 * 8 * 2 + 2 * 256 * 8 * 4.0));
  // The model: tied head 10x8 + q_proj 8x8 = 144 weights, 6·144·512.
  EXPECT_EQ(cost.matmulParams, 144);
  EXPECT_EQ(cost.modelGemmFactor, 6);
  EXPECT_DOUBLE_EQ(cost.modelGemmFlops, 6.0 * 144 * 512);

  // Kernels: the launch's two arguments (64 + 32 bytes), the cast's
  // 256 + 128. Copies: 256 bytes read and written, twice.
  EXPECT_DOUBLE_EQ(kind(cost, "kernel").bytes, 2 * (96 + 384.0));
  EXPECT_DOUBLE_EQ(kind(cost, "copy").bytes, 2 * 2 * 512.0);

  // Attention at T = 128: two 64-row tiles, 3 tile pairs of 64x64 = 12288
  // pairs executed, 128·129/2 = 8256 causal; B·H·hd = 64. Executed: 4 +
  // 10 FLOPs per pair and head dim (the backward's 5 products); causal 4
  // + 8.
  EXPECT_DOUBLE_EQ(cost.attentionFlopsExecuted, 2 * 14.0 * 12288 * 64);
  EXPECT_DOUBLE_EQ(cost.attentionFlopsCausal, 2 * 12.0 * 8256 * 64);
  // q/o/dout/dq 2·128·2·16 f32 (32 KiB), k/v/dk/dv half of that, lse and
  // delta 2·2·128 floats (2 KiB) each: forward q, k, v, o, lse; prep o,
  // dout, delta, the zeros of dq, dk and dv (2 query heads share the KV
  // head); main q, k, v, dout, lse, delta, and dq, dk and dv read and
  // written (atomic adds).
  const double q = 32768, kv = 16384, row = 2048;
  EXPECT_DOUBLE_EQ(kind(cost, "attention").bytes,
                   2 * ((2 * q + 2 * kv + row) + (3 * q + 2 * kv + row) +
                        (4 * q + 6 * kv + 2 * row)));
  // With a KV head per query head, main stores dk and dv and prep leaves
  // them alone.
  Plan mha = trainPlan();
  for (PlanStep &step : mha.steps)
    step.kvHeads = 2;
  StepCost mhaCost = estimateStepCost(mha, h100(), CostAssumptions{});
  EXPECT_DOUBLE_EQ(kind(mhaCost, "attention").bytes,
                   2 * ((4 * q + row) + (3 * q + row) + (8 * q + 2 * row)));

  // Host copies: 2 inputs in, the loss out (next values stay), per call.
  EXPECT_EQ(cost.hostCopiesIn, 4);
  EXPECT_EQ(cost.hostCopiesOut, 2);
  EXPECT_DOUBLE_EQ(cost.hostBytesOut, 8);
}

TEST(CostModelTest, Bf16AttentionMovesActivationsInTwoBytes) {
  Plan plan = trainPlan();
  for (PlanStep &step : plan.steps)
    if (step.op == PlanStep::Op::Attention ||
        step.op == PlanStep::Op::AttentionGrad)
      step.activationType = step.outputType = DType::BF16;
  StepCost cost = estimateStepCost(plan, h100(), CostAssumptions{});
  // Elements of q (o, dout, dq) and k (v, dk, dv) as in the f32 case: q, k,
  // v, o and dout move 2 bytes each, dq, dk, dv, lse and delta 4.
  const double q = 8192, kv = 4096, row = 2048;
  EXPECT_DOUBLE_EQ(kind(cost, "attention").bytes,
                   2 * (2 * (2 * q + 2 * kv) + row +         // forward
                        2 * 2 * q + row + 4 * (q + 2 * kv) + // prep
                        2 * (2 * q + 2 * kv) + 2 * row +     // main in
                        4 * (4 * kv + 2 * q)));              // main out
}

TEST(CostModelTest, RopeOnLoadReadsTheTablesInTheForwardAndMainPass) {
  // The bf16 plan with RoPE on load: q, k and v come out of one [B·T,
  // (H + 2 KVH)·hd] matrix (the same bytes as before), and the forward
  // and the main pass each read the tables cos and sin, f32 [B·T, hd/2]:
  // 2·4·256·8 bytes; prep reads neither.
  Plan plain = trainPlan(), rope = trainPlan();
  for (Plan *plan : {&plain, &rope})
    for (PlanStep &step : plan->steps)
      if (step.op == PlanStep::Op::Attention ||
          step.op == PlanStep::Op::AttentionGrad)
        step.activationType = step.outputType = DType::BF16;
  for (PlanStep &step : rope.steps)
    if (step.op == PlanStep::Op::Attention ||
        step.op == PlanStep::Op::AttentionGrad) {
      step.rope = true;
      step.rowStride = (step.heads + 2 * step.kvHeads) * step.headDim;
      step.operands.insert(step.operands.end(), {0, 1});
    }
  StepCost before = estimateStepCost(plain, h100(), CostAssumptions{}),
           after = estimateStepCost(rope, h100(), CostAssumptions{});
  const double tables = 2 * 4.0 * 256 * 8;
  EXPECT_DOUBLE_EQ(kind(after, "attention").bytes,
                   kind(before, "attention").bytes + 2 * 2 * tables);
  EXPECT_EQ(kind(after, "attention").nodes, kind(before, "attention").nodes);
  // The tables close the operand list: the forward's fifth operand is
  // still its lse, and one without an lse (4 operands and the tables)
  // writes none.
  EXPECT_EQ(after.attentionLseWrites, 2);
  for (PlanStep &step : rope.steps)
    if (step.op == PlanStep::Op::Attention)
      step.operands.erase(step.operands.begin() + 4);
  StepCost noLse = estimateStepCost(rope, h100(), CostAssumptions{});
  EXPECT_EQ(noLse.attentionLseWrites, 0);
  EXPECT_DOUBLE_EQ(kind(noLse, "attention").bytes,
                   kind(after, "attention").bytes - 2 * 2048.0);
}

TEST(CostModelTest, PredictionsAreRooflinesPlusNodeCost) {
  Plan plan = trainPlan();
  GpuRates gpu = h100();
  CostAssumptions a;
  a.nodeMicroseconds = 0;
  StepCost cost = estimateStepCost(plan, gpu, a);
  // The GEMM is memory-bound at the limit: its bytes at 3.35 TB/s.
  const KindCost &gemm = kind(cost, "gemm");
  EXPECT_DOUBLE_EQ(gemm.limitSeconds, gemm.bytes / 3.35e12);
  EXPECT_DOUBLE_EQ(gemm.predictedSeconds,
                   gemm.bytes / (3.35e12 * a.memoryEfficiency));
  // Bytes-only kinds scale with the memory efficiency.
  const KindCost &copy = kind(cost, "copy");
  EXPECT_DOUBLE_EQ(copy.predictedSeconds,
                   copy.limitSeconds / a.memoryEfficiency);
  // Attention at T = 128: its grids of 8 blocks (forward: 2 tiles x 2
  // heads x 2 samples, 1 or 2 tile pairs each; backward: 2 key tiles x 2
  // query heads x 2, 2 or 1 pairs) leave most of their slots (132 SMs x 4
  // blocks of head size 16 each: the backward's 128 registers allow 4)
  // idle: the makespans, 2 pairs, against 12 / 528 balanced (88x), make
  // both compute-bound;
  // the prep pass moves its bytes (3 q + dk, dv + delta). Alone at T
  // = 4096 (2080 tile pairs: 4·2080·4096·64 FLOPs against 3 MiB) the
  // forward is compute-bound at the bf16 peak or its efficiency, stretched
  // by the block simulation: 2·2·64 blocks of 1..64 tile pairs (8320 in
  // all) each on a slot of its own, the makespan 64 pairs against 8320 /
  // 528 balanced.
  const KindCost &attention = kind(cost, "attention");
  ASSERT_EQ(cost.attentionBalance.size(), 2u);
  EXPECT_EQ(cost.attentionBalance[0].slots, 528);
  EXPECT_EQ(cost.attentionBalance[1].slots, 528);
  EXPECT_NEAR(attention.limitSeconds,
              2 * (4.0 * 12288 * 64 * 88 / 989.4e12 +
                   (3 * 32768 + 2 * 16384 + 2048) / 3.35e12 +
                   10.0 * 12288 * 64 * 88 / 989.4e12),
              1e-12 * attention.limitSeconds);
  Plan long_ = plan;
  long_.steps = {plan.steps[3]};
  long_.steps[0].seqLen = 4096;
  StepCost longCost = estimateStepCost(long_, gpu, a);
  const KindCost &forward = kind(longCost, "attention");
  EXPECT_DOUBLE_EQ(forward.flops, 2 * 4.0 * 2080 * 4096 * 64);
  const double imbalance = 64.0 * 528 / 8320;
  ASSERT_EQ(longCost.attentionBalance.size(), 1u);
  EXPECT_DOUBLE_EQ(longCost.attentionBalance[0].imbalance, imbalance);
  EXPECT_DOUBLE_EQ(forward.limitSeconds, forward.flops * imbalance / 989.4e12);
  EXPECT_DOUBLE_EQ(forward.predictedSeconds,
                   forward.flops * imbalance /
                       (989.4e12 * a.attentionEfficiency));

  // A node cost adds to every node, at the limit and predicted alike.
  a.nodeMicroseconds = 2;
  StepCost withNodes = estimateStepCost(plan, gpu, a);
  EXPECT_NEAR(withNodes.limit.seconds - cost.limit.seconds, 16 * 2e-6, 1e-15);
  EXPECT_NEAR(withNodes.predicted.seconds - cost.predicted.seconds, 16 * 2e-6,
              1e-15);
  // Tokens per second and MFU follow from the time (Throughput.h).
  EXPECT_DOUBLE_EQ(withNodes.predicted.throughput.tokensPerSecond,
                   512 / withNodes.predicted.seconds);
  ASSERT_TRUE(withNodes.predicted.throughput.mfu);
  EXPECT_DOUBLE_EQ(*withNodes.predicted.throughput.mfu,
                   withNodes.mfuFlopsPerToken * 512 /
                       withNodes.predicted.seconds / 989.4e12);
}

// The adamw step: three memory-bound launches per call, no copies for next
// values in their parameters' buffers. AdamWPlan.h's regions cover
// N = (D_2 + 4·32) / 4 = (384 + 128) / 4 = 128 floats: R = 512 bytes.
TEST(CostModelTest, AdamWStepIsThreeMemoryBoundLaunchesPerCall) {
  CostAssumptions a;
  AdamWPlanOptions options;
  options.target = "nvptx";
  StepCost cost = estimateStepCost(adamWPlan(options), h100(), a);
  const double r = 512;
  // sumsq reads the gradients; the scalars pass 4 reads and 2 writes of 4
  // bytes; the update reads the gradients, reads and writes p, m and v.
  const KindCost &optimizer = kind(cost, "optimizer");
  EXPECT_EQ(optimizer.nodes, 3);
  EXPECT_EQ(cost.adamWSteps, 1);
  EXPECT_EQ(cost.nodes, 3);
  EXPECT_EQ(cost.copies, 0);
  EXPECT_EQ(kind(cost, "copy").nodes, 0);
  EXPECT_EQ(cost.pureCastLaunches, 0);
  EXPECT_DOUBLE_EQ(optimizer.flops, 0);
  EXPECT_DOUBLE_EQ(optimizer.bytes, r + 5 * 4 + (r + 6 * r));
  // Memory-bound: bytes over the bandwidth, plus the node cost.
  EXPECT_NEAR(optimizer.predictedSeconds,
              optimizer.bytes / (3.35e12 * a.memoryEfficiency) + 3 * 2e-6,
              1e-15);

  // Two micro-batches: both calls compute the norm and carry the sums,
  // the applying one also updates; the scalars include apply.
  options.accumulate = true;
  StepCost accumulating = estimateStepCost(adamWPlan(options), h100(), a);
  EXPECT_EQ(kind(accumulating, "optimizer").nodes, 6);
  EXPECT_EQ(accumulating.adamWSteps, 2);
  EXPECT_DOUBLE_EQ(kind(accumulating, "optimizer").bytes,
                   2 * (r + 6 * 4) + (r + 6 * r + r) + (r + r));

  // Mixed precision: the applying call also writes the parameters' bf16
  // copies, 2 bytes per element (R/2); the other call does not.
  options.bf16Copies = true;
  EXPECT_DOUBLE_EQ(
      kind(estimateStepCost(adamWPlan(options), h100(), a), "optimizer").bytes,
      2 * (r + 6 * 4) + (r + 6 * r + r / 2 + r) + (r + r));
  options.accumulate = false;
  EXPECT_DOUBLE_EQ(
      kind(estimateStepCost(adamWPlan(options), h100(), a), "optimizer").bytes,
      r + 5 * 4 + (r + 6 * r + r / 2));
  options.bf16Copies = false;
  options.accumulate = true;

  // Next values in buffers of their own are still copied: 3 parameters,
  // their 2 moments and their sums, per call.
  options.ownNextValueBuffers = true;
  StepCost copying = estimateStepCost(adamWPlan(options), h100(), a);
  EXPECT_EQ(copying.copies, 2 * 12);
  EXPECT_EQ(kind(copying, "copy").nodes, 2 * 12);
  EXPECT_EQ(copying.nodes, 6 + 2 * 12);

  // The report and the JSON say so.
  std::string report = formatStepCost(cost);
  EXPECT_NE(report.find("optimizer launches        3  (1 adamw steps x 3"),
            std::string::npos)
      << report;
  StatusOr<JsonValue> json = parseJson(stepCostJson(accumulating));
  ASSERT_TRUE(json.isOk());
  const JsonValue *counted = json->find("counted");
  EXPECT_EQ(counted->find("adamw_steps")->asInt64(), 2);
  EXPECT_EQ(counted->find("kinds")->elements()[3].find("kind")->asString(),
            "optimizer");
  EXPECT_EQ(counted->find("kinds")->elements()[3].find("bytes")->asInt64(),
            int64_t(2 * (r + 24) + 10 * r));
}

TEST(CostModelTest, ForwardWithoutLseWritesNone) {
  // A forward without the lse operand (a forward-only graph) writes no
  // LSE: q, k, v and o only.
  Plan plan = trainPlan();
  plan.steps[3].operands.resize(4);
  StepCost cost = estimateStepCost(plan, h100(), CostAssumptions{});
  EXPECT_EQ(cost.attentionLseWrites, 0);
  const double q = 32768, kv = 16384, row = 2048;
  EXPECT_DOUBLE_EQ(kind(cost, "attention").bytes,
                   2 * ((2 * q + 2 * kv) + (3 * q + 2 * kv + row) +
                        (4 * q + 6 * kv + 2 * row)));
  EXPECT_EQ(formatStepCost(cost).find("write the LSE"), std::string::npos);
}

TEST(CostModelTest, BlocksStartOnTheFirstSlotToComeFree) {
  // Two slots: the heavy block first leaves the light ones to the other
  // slot (makespan 4); last, it starts after them (1 + 1 + 4 = 6).
  EXPECT_DOUBLE_EQ(attentionBlockMakespan({4, 1, 1, 1, 1}, 2), 4);
  EXPECT_DOUBLE_EQ(attentionBlockMakespan({1, 1, 1, 1, 4}, 2), 6);
  EXPECT_DOUBLE_EQ(attentionBlockMakespan({3, 3, 3}, 8), 3);
  EXPECT_DOUBLE_EQ(attentionBlockMakespan({}, 2), 0);
}

TEST(CostModelTest, AttentionTimeIsTheSimulatedMakespan) {
  // One sample, T = 256 (4 tiles), 2 query heads on 1 KV head, hd 64, on
  // a GPU of 3 SMs x 1 block, heaviest blocks first. The forward's blocks
  // take query tiles 3, 3, 2, 2, ... (4, 4, 3, 3, 2, 2, 1, 1 tile pairs, 20
  // in all); the slots run 4 | 4 | 3, 3 (from 3) and 2, 2 (from 4), 1, 1
  // (from 6): makespan 7 against 20 / 3 balanced, 1.05. The backward's
  // blocks, one per key tile and query head, take key tiles 0, 0, 1, 1,
  // ... (4, 4, 3, 3, 2, 2, 1, 1 pairs): the same makespan, 1.05.
  Plan plan = trainPlan();
  plan.microBatches = 1;
  for (PlanStep &s : plan.steps) {
    s.batch = 1;
    s.seqLen = 256;
    s.headDim = 64;
  }
  GpuRates gpu = h100();
  gpu.sms = 3;
  CostAssumptions a;
  a.attentionBlocksPerSm = 1;
  a.nodeMicroseconds = 0;
  a.attentionEfficiency = 0.01; // compute-bound
  StepCost cost = estimateStepCost(plan, gpu, a);
  ASSERT_EQ(cost.attentionBalance.size(), 2u);
  const AttentionBalance &forward = cost.attentionBalance[0],
                         &backward = cost.attentionBalance[1];
  EXPECT_EQ(forward.kind, "forward");
  EXPECT_EQ(forward.slots, 3);
  EXPECT_EQ(forward.launches, 1);
  EXPECT_EQ(forward.blocks, 8);
  EXPECT_EQ(forward.pairs, 20);
  EXPECT_EQ(forward.maxBlockPairs, 4);
  EXPECT_DOUBLE_EQ(forward.imbalance, 7.0 * 3 / 20);
  EXPECT_EQ(backward.kind, "backward");
  EXPECT_EQ(backward.slots, 3);
  EXPECT_EQ(backward.blocks, 8);
  EXPECT_EQ(backward.pairs, 20);
  EXPECT_EQ(backward.maxBlockPairs, 4);
  EXPECT_DOUBLE_EQ(backward.imbalance, 7.0 * 3 / 20);
  // 10 tile pairs of 64x64 per head, B·H·hd = 128: the forward's 4 FLOPs
  // per pair and head dim and the backward's 10, both at 1.05 x, of 0.01
  // of the peak.
  const double rate = 989.4e12 * 0.01, pairs = 10.0 * 4096 * 128;
  EXPECT_DOUBLE_EQ(forward.flops, 4 * pairs);
  EXPECT_DOUBLE_EQ(forward.predictedSeconds, 4 * pairs * (7.0 * 3 / 20) / rate);
  EXPECT_DOUBLE_EQ(backward.predictedSeconds,
                   10 * pairs * (7.0 * 3 / 20) / rate);
  std::string report = formatStepCost(cost);
  EXPECT_NE(report.find("attention blocks       3 SMs x 1 resident blocks "
                        "per SM  given"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("  forward           1      3        8         20     "
                        "     4     1.050"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("forward 4, backward 10 (5 products, the saved LSE)"),
            std::string::npos)
      << report;
}

TEST(CostModelTest, SmolLmBackwardIsWithinOneLightBlockOfBalanced) {
  // SmolLM-135M's shape (B = 4, T = 2048: 32 tiles, 9 query heads on 3 KV
  // heads): the main pass's 1,152 blocks, one per key tile t and query
  // head, take 32 − t tile pairs, 19,008 in all, on 132·2 slots, 72 each
  // if balanced. Heaviest first, each block on the slot that comes free
  // first (LPT), the slots end at 71 (84 of them), 72 (120), 73 (36) and
  // 74 (24, e.g. 31 + 19 + 17 + 4 + 2 pairs): a makespan of 74, 1.028x,
  // within 2 pairs of balanced (it was 96, 1.33x, with one block per KV
  // head taking its 3 query heads). The loads were traced by a short
  // script replaying the same greedy order, not by hand; the bound that
  // matters, <= 1.2x (issue 20), holds with room.
  Plan plan = trainPlan();
  plan.microBatches = 1;
  plan.steps = {plan.steps[4]};
  PlanStep &s = plan.steps[0];
  s.batch = 4;
  s.seqLen = 2048;
  s.heads = 9;
  s.kvHeads = 3;
  s.headDim = 64;
  StepCost cost = estimateStepCost(plan, h100(), CostAssumptions{});
  ASSERT_EQ(cost.attentionBalance.size(), 1u);
  const AttentionBalance &main = cost.attentionBalance[0];
  EXPECT_EQ(main.slots, 264);
  EXPECT_EQ(main.blocks, 1152);
  EXPECT_EQ(main.pairs, 19008);
  EXPECT_EQ(main.maxBlockPairs, 32);
  EXPECT_DOUBLE_EQ(main.imbalance, 74.0 * 264 / 19008);
  EXPECT_LE(main.imbalance, 1.2); // issue 20's target
}

TEST(CostModelTest, MemoryProfileDeratesTheKernelsItMeasured) {
  // "partial" measured in two entries (summed): 1,000 bytes, 100 of them
  // by vector accesses (10%, below half), 30 sectors against 20: its
  // memory time x 1.5 / 0.8 = 1.875. "cast" measured perfectly coalesced
  // and vectorised: unchanged. The adamw update is no generated kernel.
  Plan plan = trainPlan();
  MemoryProfile profile;
  profile.source = "small.json";
  profile.kernels = {{"partial", 600, 0, 18, 12},
                     {"cast", 800, 800, 10, 10},
                     {"growc_adamw_update", 64, 64, 2, 2},
                     {"partial", 400, 100, 12, 8}};
  CostAssumptions a;
  a.nodeMicroseconds = 0;
  StepCost plain = estimateStepCost(plan, h100(), a);
  StepCost cost = estimateStepCost(plan, h100(), a, &profile);
  EXPECT_EQ(cost.memoryProfile, "small.json");
  EXPECT_EQ(cost.measuredKernels, 2);
  EXPECT_EQ(cost.deratedKernels, 1);
  EXPECT_EQ(cost.unmeasuredKernels, 0);
  EXPECT_EQ(cost.profileOnlyKernels, 1);
  auto kernel = [&](const std::string &name) {
    return *std::find_if(cost.kernels.begin(), cost.kernels.end(),
                         [&](const KernelCost &k) { return k.name == name; });
  };
  const KernelCost partial = kernel("partial"), cast = kernel("cast");
  EXPECT_DOUBLE_EQ(partial.sectorRatio, 1.5);
  EXPECT_DOUBLE_EQ(partial.vectorShare, 0.1);
  EXPECT_DOUBLE_EQ(partial.memoryFactor, 1.5 / 0.8);
  EXPECT_DOUBLE_EQ(partial.defaultSeconds, 2 * 96 / (3.35e12 * 0.7));
  EXPECT_DOUBLE_EQ(partial.predictedSeconds,
                   2 * 96 * 1.5 / (3.35e12 * 0.7 * 0.8));
  EXPECT_DOUBLE_EQ(cast.memoryFactor, 1);
  EXPECT_DOUBLE_EQ(cast.predictedSeconds, cast.defaultSeconds);
  // The kernel kind: counted bytes unchanged; the limit takes the extra
  // sectors, the prediction also the bandwidth factor.
  const KindCost &kernels = kind(cost, "kernel");
  EXPECT_DOUBLE_EQ(kernels.bytes, kind(plain, "kernel").bytes);
  EXPECT_DOUBLE_EQ(kernels.limitSeconds, 2 * (96 * 1.5 + 384) / 3.35e12);
  EXPECT_DOUBLE_EQ(kernels.predictedSeconds,
                   2 * (96 * 1.5 / 0.8 + 384) / (3.35e12 * 0.7));
  // Only generated kernels are derated: the rest of the step is as before.
  EXPECT_DOUBLE_EQ(cost.predicted.seconds - kernels.predictedSeconds,
                   plain.predicted.seconds -
                       kind(plain, "kernel").predictedSeconds);
  std::string report = formatStepCost(cost);
  EXPECT_NE(report.find("Memory profile small.json (the emulated GPU's counts "
                        "at a small shape): 2 of 2 generated kernels measured, "
                        "1 of them derated; 0 not in the profile"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("  partial                                            "
                        "2    1.500   10.0%   1.875"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("memory behaviour was measured on the emulated GPU "
                        "(small.json)"),
            std::string::npos)
      << report;
  StatusOr<JsonValue> json = parseJson(stepCostJson(cost));
  ASSERT_TRUE(json.isOk()) << json.status().message();
  const JsonValue *measured = json->find("predicted")->find("memory_profile");
  ASSERT_TRUE(measured);
  EXPECT_EQ(measured->find("derated_kernels")->asInt64(), 1);
  EXPECT_EQ(measured->find("derated")->elements()[0].find("name")->asString(),
            "partial");
  // A profile without "cast": it keeps the default and is counted.
  profile.kernels.erase(profile.kernels.begin() + 1);
  StepCost partly = estimateStepCost(plan, h100(), a, &profile);
  EXPECT_EQ(partly.measuredKernels, 1);
  EXPECT_EQ(partly.unmeasuredKernels, 1);
}

TEST(CostModelTest, ForwardPlanCountsOneCallWithoutCopies) {
  StatusOr<Plan> plan = parsePlan(kToyPlan, "toy.plan.json");
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  StepCost cost = estimateStepCost(*plan, h100(), CostAssumptions{});
  EXPECT_EQ(cost.calls, 1);
  EXPECT_EQ(cost.tokens, kBatch * kSeq);
  EXPECT_EQ(cost.nodes, 3);
  EXPECT_EQ(cost.copies, 0);
  // The GEMM 6x5x4; the model's only matrix product the separate head:
  // 2·20·6, the same.
  EXPECT_DOUBLE_EQ(cost.gemmFlops, 2.0 * 6 * 5 * 4);
  EXPECT_EQ(cost.matmulParams, kVocab * kDim);
  EXPECT_DOUBLE_EQ(cost.modelGemmFlops, cost.gemmFlops);
  // A CPU kernel touches all its arguments: embed's 24 + 80 + 96 bytes,
  // add_one's 120 + 120.
  EXPECT_DOUBLE_EQ(kind(cost, "kernel").bytes, 200 + 240.0);
  // The forward's outputs come back to the host.
  EXPECT_EQ(cost.hostCopiesOut, 2);
}

TEST(CostModelTest, FrozenWeightsNeedNoWeightGradientsNorEarlyInputGradients) {
  // Two layers; the tied table and layer 0's q_proj frozen, layer 1's
  // trainable: the head needs forward and dX (layer 1 trains below it), no
  // dW; layer 0's q_proj only its forward; layer 1's q_proj forward and
  // dW, no dX (nothing before it trains).
  Plan plan;
  plan.graph = "train";
  plan.batch = 1;
  plan.seq = 4;
  auto param = [](const std::string &name, std::vector<int64_t> shape,
                  bool frozen) {
    PlanParam p = tensor<PlanParam>(name, DType::F32, shape);
    p.frozen = frozen;
    return p;
  };
  plan.params = {
      param("model.embed_tokens.weight", {10, 8}, true),
      param("model.layers.0.self_attn.q_proj.weight", {8, 8}, true),
      param("model.layers.1.self_attn.q_proj.weight", {8, 8}, false)};
  StepCost cost = estimateStepCost(plan, h100(), CostAssumptions{});
  EXPECT_EQ(cost.frozenParams, 80 + 64);
  EXPECT_DOUBLE_EQ(cost.modelGemmFlops, 6.0 * (80 + 64 + 64) * 4);
  EXPECT_DOUBLE_EQ(cost.neededGemmFlops, (4.0 * 80 + 2 * 64 + 4 * 64) * 4);
  // Layer 1's attention norm trainable too: its q_proj needs dX as well.
  plan.params.push_back(
      param("model.layers.1.input_layernorm.weight", {8}, false));
  cost = estimateStepCost(plan, h100(), CostAssumptions{});
  EXPECT_DOUBLE_EQ(cost.neededGemmFlops, (4.0 * 80 + 2 * 64 + 6 * 64) * 4);
  // Nothing frozen: the standard 6·N.
  for (PlanParam &p : plan.params)
    p.frozen = false;
  cost = estimateStepCost(plan, h100(), CostAssumptions{});
  EXPECT_EQ(cost.frozenParams, 0);
  EXPECT_DOUBLE_EQ(cost.neededGemmFlops, cost.modelGemmFlops);
}

TEST(CostModelTest, GpusComeFromTheDatasheetTable) {
  StatusOr<GpuRates> h200 = gpuRatesFor("h200");
  ASSERT_TRUE(h200.isOk()) << h200.status().message();
  EXPECT_DOUBLE_EQ(h200->bf16.tflops, 989.4);
  EXPECT_DOUBLE_EQ(h200->memory.terabytesPerSecond, 4.8);
  EXPECT_DOUBLE_EQ(h100().memory.terabytesPerSecond, 3.35);
  EXPECT_DOUBLE_EQ(gpuMemoryBandwidth("NVIDIA H100 PCIe")->terabytesPerSecond,
                   2.0);
  // The A100's name does not say which memory it has: no guess.
  EXPECT_FALSE(gpuMemoryBandwidth("NVIDIA A100-SXM4-40GB"));
  StatusOr<GpuRates> unknown = gpuRatesFor("a100");
  ASSERT_FALSE(unknown.isOk());
  EXPECT_TRUE(contains(unknown.status().message(), "unknown GPU 'a100'"));
}

TEST(CostModelTest, JsonCarriesTheCountsExactly) {
  StepCost cost = estimateStepCost(trainPlan(), h100(), CostAssumptions{});
  StatusOr<JsonValue> json = parseJson(stepCostJson(cost));
  ASSERT_TRUE(json.isOk()) << json.status().message();
  const JsonValue *counted = json->find("counted");
  ASSERT_TRUE(counted);
  EXPECT_EQ(counted->find("nodes")->asInt64(), 16);
  EXPECT_EQ(counted->find("gemm_flops")->asInt64(), 65536);
  EXPECT_EQ(counted->find("model_gemm_flops")->asInt64(), 442368);
  const JsonValue *predicted = json->find("predicted");
  ASSERT_TRUE(predicted);
  EXPECT_DOUBLE_EQ(predicted->find("predicted")->find("step_ms")->asDouble(),
                   cost.predicted.seconds * 1e3);
  EXPECT_EQ(json->find("gpu")->asString(), "h100");
}

// The attention passes' dynamic shared memory, against what ptxas reported
// for the same tiles declared statically (hd 64: forward 46,080, backward
// 41,984; hd 128 forward 87,040), and the resident blocks it and the
// registers allow: 228 KiB hold two 85 KiB forward blocks at head size
// 128, 255 registers a thread two 128-thread blocks.
TEST(CostModelTest, AttentionOccupancyFromRegistersAndSharedMemory) {
  namespace flash = growc::flash;
  EXPECT_EQ(flash::sharedBytes(flash::Pass::Forward, 64), 46080);
  EXPECT_EQ(flash::sharedBytes(flash::Pass::BackwardMain, 64), 41984);
  EXPECT_EQ(flash::sharedBytes(flash::Pass::Forward, 128), 87040);
  // 16-row query steps: two 64-key tiles, 2 x 2 16-row tiles of 136 bf16
  // rows, dS 16 x 72 bf16, 2 x 2 x 16 floats.
  EXPECT_EQ(flash::sharedBytes(flash::Pass::BackwardMain, 128),
            2 * 64 * 136 * 2 + 4 * 16 * 136 * 2 + 16 * 72 * 2 + 4 * 16 * 4);
  EXPECT_EQ(flash::sharedBytes(flash::Pass::BackwardPrep, 128), 0);
  EXPECT_EQ(attentionOccupancy("forward", 64), 4);
  EXPECT_EQ(attentionOccupancy("backward", 64), 2);
  EXPECT_EQ(attentionOccupancy("forward", 128), 2);
  EXPECT_EQ(attentionOccupancy("backward", 128), 2);
  EXPECT_EQ(attentionOccupancy("forward", 32), 4);
  EXPECT_EQ(attentionOccupancy("backward", 32), 3);
}

} // namespace
} // namespace growc::rt::test
