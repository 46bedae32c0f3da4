//===- PlanTest.cpp - Tests for loading and verifying plans ---------------===//
//
// The toy plan of ToyModel.h loads with every field in place; then one test
// per verification rule of docs/plan.md, each breaking the valid plan in one
// place and checking that the message names the plan, the field and the
// problem.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Plan.h"
#include "growc/runtime/Executor.h"
#include "growc/runtime/Json.h"
#include "growc/runtime/KernelsFile.h"
#include "growc/runtime/RunInterface.h"

#include "AdamWPlan.h"
#include "ToyModel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace growc::rt;
using namespace growc::rt::test;
namespace fs = std::filesystem;

namespace {

const char *const kPlanPath = "/artifacts/fwd.plan.json";

/// Asserts that `text` is rejected with a message that starts with the plan
/// path and contains every string of `expected`.
void expectRejected(const std::string &text,
                    const std::vector<std::string> &expected) {
  StatusOr<Plan> plan = parsePlan(text, kPlanPath);
  ASSERT_FALSE(plan.isOk()) << "plan unexpectedly accepted";
  const std::string &message = plan.status().message();
  EXPECT_EQ(message.rfind(std::string(kPlanPath) + ": ", 0), 0u) << message;
  for (const std::string &part : expected)
    EXPECT_NE(message.find(part), std::string::npos)
        << "message '" << message << "' lacks '" << part << "'";
}

//===----------------------------------------------------------------------===//
// The valid plan
//===----------------------------------------------------------------------===//

TEST(PlanTest, ValidPlanParses) {
  StatusOr<Plan> result = parsePlan(kToyPlan, kPlanPath);
  ASSERT_TRUE(result.isOk()) << result.status().message();
  const Plan &plan = *result;
  EXPECT_EQ(plan.path, kPlanPath);
  EXPECT_EQ(plan.directory, "/artifacts");
  EXPECT_EQ(plan.graph, "forward");
  EXPECT_EQ(plan.target, "cpu");
  EXPECT_EQ(plan.model, "toy");
  EXPECT_EQ(plan.kernelsFile, "fwd.so");
  EXPECT_EQ(plan.kernelsPath, "/artifacts/fwd.so");
  EXPECT_EQ(plan.batch, 2);
  EXPECT_EQ(plan.seq, 3);
  EXPECT_EQ(plan.vocabSize, 5);
  EXPECT_EQ(plan.alignment, 64);
  EXPECT_EQ(plan.arenaSize, 704);

  ASSERT_EQ(plan.buffers.size(), 6u);
  EXPECT_EQ(plan.buffers[2].id, 2);
  EXPECT_EQ(plan.buffers[2].offset, 192);
  EXPECT_EQ(plan.buffers[2].size, 128);

  ASSERT_EQ(plan.inputs.size(), 1u);
  EXPECT_EQ(plan.inputs[0].name, "tokens");
  EXPECT_EQ(plan.inputs[0].dtype, DType::I32);
  EXPECT_EQ(plan.inputs[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(plan.inputs[0].numElements, 6);
  EXPECT_EQ(plan.inputs[0].byteSize, 24);

  ASSERT_EQ(plan.params.size(), 2u);
  EXPECT_EQ(plan.params[1].name, "lm_head.weight");
  EXPECT_EQ(plan.params[1].buffer, 2);
  EXPECT_EQ(plan.params[1].source, "lm_head.weight");
  EXPECT_TRUE(plan.params[1].copy);
  EXPECT_FALSE(plan.params[0].copy);
  EXPECT_EQ(plan.params[1].byteSize, 80);

  ASSERT_EQ(plan.outputs.size(), 2u);
  EXPECT_EQ(plan.outputs[0].name, "logits");
  EXPECT_EQ(plan.outputs[0].shape, (std::vector<int64_t>{2, 3, 5}));

  ASSERT_EQ(plan.kernels.size(), 2u);
  EXPECT_EQ(plan.kernels[0].symbol, "embed_packed");
  ASSERT_EQ(plan.kernels[0].args.size(), 3u);
  EXPECT_EQ(plan.kernels[0].args[2].dtype, DType::F32);
  EXPECT_EQ(plan.kernels[0].args[2].byteSize, 96);

  ASSERT_EQ(plan.steps.size(), 3u);
  EXPECT_EQ(plan.steps[0].op, PlanStep::Op::Kernel);
  EXPECT_EQ(plan.steps[0].kernel, 0);
  EXPECT_EQ(plan.steps[0].args, (std::vector<int64_t>{0, 1, 3}));
  const PlanStep &gemm = plan.steps[1];
  EXPECT_EQ(gemm.op, PlanStep::Op::Gemm);
  EXPECT_EQ(gemm.a, 3);
  EXPECT_EQ(gemm.b, 2);
  EXPECT_EQ(gemm.c, 4);
  EXPECT_EQ(gemm.m, 6);
  EXPECT_EQ(gemm.n, 5);
  EXPECT_EQ(gemm.k, 4);
  EXPECT_EQ(gemm.aOffset, 0);
  EXPECT_EQ(gemm.bOffset, 0);
  EXPECT_EQ(gemm.cOffset, 0);

  EXPECT_NE(plan.findParam("lm_head.weight"), nullptr);
  EXPECT_EQ(plan.findParam("logits"), nullptr);
  EXPECT_NE(plan.findOutput("hidden"), nullptr);
  EXPECT_NE(plan.findInput("tokens"), nullptr);
}

TEST(PlanTest, EmptySectionsAreValid) {
  // A graph with nothing to do is odd but well-formed.
  std::string text = R"({"format": "growc-plan", "version": 2,
    "kernels_hash": "xxh3-128:00000000000000000000000000000000",
    "graph": "forward", "target": "nvptx", "model": "", "kernels_file": "k.ptx",
    "batch": 1, "seq": 1, "vocab_size": 1, "alignment": 1, "arena_size": 0,
    "buffers": [], "inputs": [], "params": [], "outputs": [], "kernels": [],
    "steps": []})";
  StatusOr<Plan> plan = parsePlan(text, "k.plan.json");
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  // A plan in the current directory still names its kernels with a
  // directory, so that dlopen does not search the library path.
  EXPECT_EQ(plan->kernelsPath, "./k.ptx");
}

TEST(PlanTest, PlanPathFor) {
  EXPECT_EQ(planPathFor("out/fwd.plan.json"), "out/fwd.plan.json");
  EXPECT_EQ(planPathFor("out/fwd.so"), "out/fwd.so.plan.json");
  EXPECT_EQ(planPathFor("train.ptx"), "train.ptx.plan.json");
  EXPECT_EQ(planPathFor("/a.b/c.so"), "/a.b/c.so.plan.json");
  // Anything else is taken to be a plan.
  EXPECT_EQ(planPathFor("custom.json"), "custom.json");
}

//===----------------------------------------------------------------------===//
// loadPlan: files
//===----------------------------------------------------------------------===//

using PlanFileTest = TempDirTest;

TEST_F(PlanFileTest, LoadsPlanWithKernelsFile) {
  writeText("fwd.so.plan.json", kToyPlan);
  writeText("fwd.so", "");
  StatusOr<Plan> plan = loadPlan(file("fwd.so.plan.json"));
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  EXPECT_EQ(plan->kernelsPath, file("fwd.so"));
  // Through the kernels file's name as well.
  StatusOr<Plan> viaKernels = loadPlan(planPathFor(file("fwd.so")));
  ASSERT_TRUE(viaKernels.isOk()) << viaKernels.status().message();
}

TEST_F(PlanFileTest, MissingKernelsFile) {
  writeText("fwd.plan.json", kToyPlan);
  StatusOr<Plan> plan = loadPlan(file("fwd.plan.json"));
  ASSERT_FALSE(plan.isOk());
  const std::string &message = plan.status().message();
  EXPECT_NE(message.find("kernels file " + file("fwd.so")), std::string::npos)
      << message;
  EXPECT_NE(message.find("No such file"), std::string::npos) << message;
}

TEST_F(PlanFileTest, KernelsFileIsADirectory) {
  writeText("fwd.plan.json", kToyPlan);
  fs::create_directory(file("fwd.so"));
  StatusOr<Plan> plan = loadPlan(file("fwd.plan.json"));
  ASSERT_FALSE(plan.isOk());
  EXPECT_NE(plan.status().message().find("not a regular file"),
            std::string::npos)
      << plan.status().message();
}

TEST_F(PlanFileTest, MissingPlan) {
  StatusOr<Plan> plan = loadPlan(file("nope.plan.json"));
  ASSERT_FALSE(plan.isOk());
  EXPECT_NE(
      plan.status().message().find(file("nope.plan.json") + ": cannot open"),
      std::string::npos)
      << plan.status().message();
}

TEST_F(PlanFileTest, TruncatedPlanFile) {
  std::string text = kToyPlan;
  writeText("fwd.plan.json", text.substr(0, text.size() / 2));
  writeText("fwd.so", "");
  StatusOr<Plan> plan = loadPlan(file("fwd.plan.json"));
  ASSERT_FALSE(plan.isOk());
  EXPECT_NE(
      plan.status().message().find(file("fwd.plan.json") + ": invalid JSON"),
      std::string::npos)
      << plan.status().message();
}

//===----------------------------------------------------------------------===//
// Rejected plans: one per rule
//===----------------------------------------------------------------------===//

/// The valid plan with `from` replaced by `to` must be rejected with a
/// message containing every string of `expected`.
struct BadPlan {
  const char *name;
  const char *from;
  const char *to;
  std::vector<std::string> expected;
};

class BadPlanTest : public ::testing::TestWithParam<BadPlan> {};

TEST_P(BadPlanTest, IsRejected) {
  const BadPlan &bad = GetParam();
  expectRejected(replaceOnce(kToyPlan, bad.from, bad.to), bad.expected);
}

const BadPlan kBadPlans[] = {
    // Format and version.
    {"WrongFormat",
     R"("format": "growc-plan")",
     R"("format": "onnx")",
     {"not a growc plan", "'onnx'"}},
    {"FormatNotString",
     R"("format": "growc-plan")",
     R"("format": 1)",
     {"format must be a string"}},
    {"NewerVersion",
     R"("version": 2)",
     R"("version": 3)",
     {"unsupported plan version 3", "reads version 2"}},
    {"VersionAsString",
     R"("version": 2)",
     R"("version": "2")",
     {"unsupported plan version \"2\""}},
    // Version 1 plans carry no kernels_hash: not bound to their kernels.
    {"OlderVersion",
     R"("version": 2)",
     R"("version": 1)",
     {"plan version 1 comes from an older growc", "reads version 2",
      "recompile"}},
    {"MissingKernelsHash",
     R"("kernels_hash": "xxh3-128:00000000000000000000000000000000",)",
     "",
     {"missing field 'kernels_hash'"}},
    {"MalformedKernelsHash",
     R"("xxh3-128:00000000000000000000000000000000")",
     R"("md5:00000000000000000000000000000000")",
     {"kernels_hash 'md5:00000000000000000000000000000000' is not a content "
      "hash"}},
    // Header fields.
    {"MissingField", R"("seq": 3,)", "", {"missing field 'seq'"}},
    {"GemmTransNotZeroOrOne",
     R"("trans_a": 0)",
     R"("trans_a": 3)",
     {"steps[1].trans_a must be an integer in [0, 1], got 3"}},
    {"GemmBetaNotZeroOrOne",
     R"("trans_b": 1, "beta": 0)",
     R"("trans_b": 1, "beta": 2)",
     {"steps[1].beta must be an integer in [0, 1], got 2"}},
    {"KernelWithoutBlocks",
     R"("blocks": 6,)",
     "",
     {"kernels[0]", "missing field 'blocks'"}},
    {"KernelWithZeroBlocks",
     R"("blocks": 30,)",
     R"("blocks": 0,)",
     {"kernels[1].blocks must be an integer in [1, 2147483647], got 0"}},
    {"UnknownField",
     R"("model": "toy",)",
     R"("model": "toy", "extra": 1,)",
     {"unknown field 'extra'"}},
    {"UnknownTarget",
     R"("target": "cpu")",
     R"("target": "tpu")",
     {"unknown target 'tpu'"}},
    {"EmptyGraph",
     R"("graph": "forward")",
     R"("graph": "")",
     {"graph must not be empty"}},
    {"ZeroBatch",
     R"("batch": 2)",
     R"("batch": 0)",
     {"batch must be an integer >= 1, got 0"}},
    {"FractionalSeq",
     R"("seq": 3)",
     R"("seq": 3.5)",
     {"seq must be an integer >= 1, got 3.5"}},
    {"HugeArena",
     R"("arena_size": 704)",
     R"("arena_size": 99999999999999999999)",
     {"arena_size must be an integer"}},
    {"AlignmentNotPowerOfTwo",
     R"("alignment": 64)",
     R"("alignment": 48)",
     {"alignment must be a power of two, got 48"}},
    {"AbsoluteKernelsFile",
     R"("kernels_file": "fwd.so")",
     R"("kernels_file": "/tmp/fwd.so")",
     {"kernels_file '/tmp/fwd.so' must be relative"}},
    // Buffers.
    {"BufferOutsideArena",
     R"("arena_size": 704)",
     R"("arena_size": 700)",
     {"buffers[5]", "outside the arena of 700 bytes"}},
    {"MisalignedBuffer",
     R"({"id": 1, "offset": 64, "size": 128})",
     R"({"id": 1, "offset": 65, "size": 128})",
     {"buffers[1]", "offset 65 is not a multiple of the alignment 64"}},
    {"NonDenseBufferIds",
     R"({"id": 2, "offset": 192)",
     R"({"id": 7, "offset": 192)",
     {"buffers[2]", "id 7, expected 2", "dense"}},
    {"NegativeBufferSize",
     R"({"id": 1, "offset": 64, "size": 128})",
     R"({"id": 1, "offset": 64, "size": -1})",
     {"buffers[1].size must be an integer >= 0"}},
    // Named tensors.
    {"UnknownBufferInParam",
     R"("name": "model.embed_tokens.weight", "buffer": 1)",
     R"("name": "model.embed_tokens.weight", "buffer": 6)",
     {"params[0] ('model.embed_tokens.weight').buffer", "unknown buffer id 6",
      "6 buffers"}},
    {"UnknownBufferInOutput",
     R"("name": "logits", "buffer": 5)",
     R"("name": "logits", "buffer": 6)",
     {"outputs[0] ('logits').buffer", "unknown buffer id 6"}},
    {"UnknownBufferInInput",
     R"("name": "tokens", "buffer": 0)",
     R"("name": "tokens", "buffer": -1)",
     {"inputs[0] ('tokens').buffer", "unknown buffer id -1"}},
    {"TensorLargerThanBuffer",
     R"("buffer": 3, "dtype": "F32", "shape": [2, 3, 4])",
     R"("buffer": 3, "dtype": "F32", "shape": [2, 3, 8])",
     {"outputs[1] ('hidden')", "F32 [2, 3, 8] needs 192 bytes",
      "buffer 3 holds 128"}},
    {"DuplicateTensorName",
     R"({"name": "hidden")",
     R"({"name": "lm_head.weight")",
     {"outputs[1]", "duplicate tensor name 'lm_head.weight'", "params[1]"}},
    {"EmptyTensorName",
     R"({"name": "logits")",
     R"({"name": "")",
     {"outputs[0]: name must not be empty"}},
    {"UnknownDType",
     R"("name": "tokens", "buffer": 0, "dtype": "I32")",
     R"("name": "tokens", "buffer": 0, "dtype": "I33")",
     {"inputs[0] ('tokens').dtype", "unknown dtype 'I33'"}},
    {"NegativeDimension",
     R"("shape": [5, 4], "source": "lm_head.weight")",
     R"("shape": [5, -4], "source": "lm_head.weight")",
     {"params[1] ('lm_head.weight').shape",
      "dimensions must be integers >= 0, got -4"}},
    {"FractionalDimension",
     R"("shape": [2, 3]}])",
     R"("shape": [2.0, 3]}])",
     {"inputs[0] ('tokens').shape", "dimensions must be integers"}},
    {"ParamWithoutSource",
     R"(, "source": "lm_head.weight")",
     "",
     {"params[1] ('lm_head.weight'): missing field 'source'"}},
    {"ParamCopyNotBool",
     R"("copy": true)",
     R"("copy": "yes")",
     {"copy must be true or false"}},
    {"ParamScaleNotNumber",
     R"("copy": true)",
     R"("copy": true, "scale": "half")",
     {"params[1] ('lm_head.weight')", "scale must be a finite number",
      "\"half\""}},
    {"ParamScaleNull",
     R"("copy": true)",
     R"("copy": true, "scale": null)",
     {"params[1] ('lm_head.weight')", "scale must be a finite number",
      "got null"}},
    {"UnknownFieldInOutput",
     R"("name": "logits", "buffer": 5)",
     R"("name": "logits", "layout": "nhwc", "buffer": 5)",
     {"outputs[0]: unknown field 'layout'"}},
    // Kernels.
    {"DuplicateKernelName",
     R"({"name": "add_one")",
     R"({"name": "embed")",
     {"kernels[1]", "duplicate kernel name 'embed'"}},
    {"DuplicateKernelSymbol",
     R"("symbol": "add_one_packed")",
     R"("symbol": "embed_packed")",
     {"kernels[1]", "duplicate kernel symbol 'embed_packed'"}},
    {"EmptyKernelSymbol",
     R"("symbol": "add_one_packed")",
     R"("symbol": "")",
     {"kernels[1]", "not a valid symbol name"}},
    {"UnknownKernelArgDType",
     R"({"dtype": "F32", "shape": [30]}]})",
     R"({"dtype": "Q8", "shape": [30]}]})",
     {"kernels[1].args[1].dtype", "unknown dtype 'Q8'"}},
    {"KernelArgTooLarge",
     R"({"dtype": "F32", "shape": [2, 3, 4]})",
     R"({"dtype": "F32", "shape": [4294967296, 4294967296, 4]})",
     {"kernels[0].args[2].shape", "is too large"}},
    // Steps.
    {"UnknownOp",
     R"({"op": "gemm")",
     R"({"op": "conv")",
     {"steps[1].op", "unknown op 'conv'"}},
    {"UnknownFieldInStep",
     R"("m": 6,)",
     R"("m": 6, "epilogue": "relu",)",
     {"steps[1]: unknown field 'epilogue'"}},
    {"KernelIndexOutOfRange",
     R"("kernel": 1)",
     R"("kernel": 2)",
     {"steps[2].kernel", "kernel index 2 out of range", "2 kernels"}},
    {"ArgCountMismatch",
     R"("args": [4, 5])",
     R"("args": [4, 5, 5])",
     {"steps[2]", "passes 3 buffers but kernel 1 ('add_one') takes 2"}},
    {"UnknownBufferInKernelStep",
     R"("args": [0, 1, 3])",
     R"("args": [0, 1, 9])",
     {"steps[0].args[2]", "unknown buffer id 9"}},
    {"KernelArgDoesNotFitBuffer",
     R"("args": [0, 1, 3])",
     R"("args": [0, 0, 3])",
     {"steps[0].args[1]", "buffer 0 holds 64 bytes",
      "argument 1 of kernel 'embed' (F32 [5, 4]) needs 80"}},
    {"UnknownBufferInGemm",
     R"("a": 3)",
     R"("a": 42)",
     {"steps[1].a", "unknown buffer id 42"}},
    {"GemmOperandTooSmall",
     R"("k": 4)",
     R"("k": 8)",
     {"steps[1]", "gemm operand A [6, 8] needs 192 bytes",
      "buffer 3 holds 128"}},
    {"GemmOutputTooSmall",
     R"("m": 6)",
     R"("m": 7)",
     {"steps[1]", "gemm operand C [7, 5] needs 140 bytes"}},
    {"GemmZeroDimension",
     R"("n": 5)",
     R"("n": 0)",
     {"steps[1].n must be an integer in [1, 2147483647], got 0"}},
    {"GemmOutputOverlapsInput",
     R"("c": 4)",
     R"("c": 3)",
     {"steps[1]", "gemm output C (buffer 3) overlaps operand A (buffer 3)"}},
    // Operand offsets (row blocks of a larger matrix): within the buffer,
    // whole floats.
    {"GemmWithoutOffset",
     R"("b_offset": 0, )",
     "",
     {"steps[1]", "missing field 'b_offset'"}},
    {"GemmNegativeOffset",
     R"("a_offset": 0)",
     R"("a_offset": -4)",
     {"steps[1].a_offset must be an integer in [0, "}},
    {"GemmOffsetNotAFloat",
     R"("b_offset": 0)",
     R"("b_offset": 2)",
     {"steps[1]", "gemm operand B [5, 4] starts at byte 2 of buffer 2, not "
                  "a multiple of 4"}},
    {"GemmOffsetPastBuffer",
     R"("b_offset": 0)",
     R"("b_offset": 52)",
     {"steps[1]", "gemm operand B [5, 4] needs 80 bytes from byte 52 but "
                  "buffer 2 holds 128"}},
    {"GemmHugeOffset",
     R"("c_offset": 0)",
     R"("c_offset": 4611686018427387900)",
     {"steps[1]", "gemm operand C [6, 5] needs 120 bytes from byte "
                  "4611686018427387900"}},
    // Mixed precision: dtypes and the compute type come together, operands
    // are F32 or BF16 alike, the compute type is F32.
    {"GemmPartialPrecision",
     R"("c_offset": 0)",
     R"("c_offset": 0, "a_dtype": "BF16")",
     {"steps[1]", "names a_dtype, b_dtype, c_dtype and compute together"}},
    {"GemmUnknownElementType",
     R"("c_offset": 0)",
     R"("c_offset": 0, "a_dtype": "F16", "b_dtype": "F16", "c_dtype": "F32", "compute": "F32")",
     {"steps[1].a_dtype", "'F16' is not a gemm element type"}},
    {"GemmComputeNotF32",
     R"("c_offset": 0)",
     R"("c_offset": 0, "a_dtype": "BF16", "b_dtype": "BF16", "c_dtype": "F32", "compute": "BF16")",
     {"steps[1].compute", "'BF16' is not a compute type"}},
    {"GemmMixedOperands",
     R"("c_offset": 0)",
     R"("c_offset": 0, "a_dtype": "BF16", "b_dtype": "F32", "c_dtype": "F32", "compute": "F32")",
     {"steps[1]", "operands A (BF16) and B (F32) differ"}},
    {"GemmBf16OffsetNotAnElement",
     R"("b_offset": 0)",
     R"("b_offset": 1, "a_dtype": "BF16", "b_dtype": "BF16", "c_dtype": "F32", "compute": "F32")",
     {"steps[1]", "starts at byte 1 of buffer 2, not a multiple of 2"}},
    // Not a plan at all.
    {"TruncatedJson",
     R"("steps": [)",
     R"("steps": [{"op": )",
     {"invalid JSON"}},
};

INSTANTIATE_TEST_SUITE_P(PlanTest, BadPlanTest, ::testing::ValuesIn(kBadPlans),
                         [](const ::testing::TestParamInfo<BadPlan> &info) {
                           return std::string(info.param.name);
                         });

//===----------------------------------------------------------------------===//
// GPU (nvptx) plans: every kernel carries its launch
//===----------------------------------------------------------------------===//

TEST(PlanTest, GpuPlanParsesLaunches) {
  StatusOr<Plan> plan = parsePlan(gpuPlan(), kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  ASSERT_EQ(plan->kernels.size(), 2u);
  ASSERT_TRUE(plan->kernels[0].launch.has_value());
  const PlanLaunch &embed = *plan->kernels[0].launch;
  EXPECT_EQ(embed.grid[0], 6);
  EXPECT_EQ(embed.block[0], 256);
  EXPECT_EQ(embed.params, (std::vector<int64_t>{0, 2, 1}));
  const PlanLaunch &addOne = *plan->kernels[1].launch;
  EXPECT_EQ(addOne.grid[2], 3);
  EXPECT_EQ(addOne.block[1], 4);
  EXPECT_EQ(addOne.params, (std::vector<int64_t>{1, 0}));
  EXPECT_FALSE(parsePlan(kToyPlan, kPlanPath)->kernels[0].launch.has_value());
}

// A launch may ask for dynamic shared memory, up to what an sm_90 block can
// opt in to.
TEST(PlanTest, LaunchSharedBytes) {
  StatusOr<Plan> plan = parsePlan(gpuPlan(), kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  EXPECT_EQ(plan->kernels[0].launch->sharedBytes, 0);
  auto withShared = [](const std::string &bytes) {
    return gpuPlan(R"("launch": {"grid": [6, 1, 1], "block": [256, 1, 1], )"
                   R"("params": [0, 2, 1], "shared_bytes": )" +
                   bytes + "},");
  };
  plan = parsePlan(withShared("232448"), kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  EXPECT_EQ(plan->kernels[0].launch->sharedBytes, 232448);
  expectRejected(
      withShared("232449"),
      {"kernels[0].launch.shared_bytes must be an integer in [0, 232448]"});
}

// Attention kernels say so (for profiles); no other kind exists.
TEST(PlanTest, KernelKind) {
  StatusOr<Plan> plan =
      parsePlan(gpuPlan(std::string(R"("kind": "attention", )") + kEmbedLaunch),
                kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  EXPECT_EQ(plan->kernels[0].kind, "attention");
  EXPECT_EQ(plan->kernels[1].kind, "");
  expectRejected(gpuPlan(std::string(R"("kind": "gemm", )") + kEmbedLaunch),
                 {"kernels[0]", "unknown kind 'gemm'"});
}

TEST(PlanTest, GpuPlanRejectsBadLaunches) {
  expectRejected(gpuPlan(""), {"kernels[0]", "an nvptx kernel needs"});
  expectRejected(gpuPlan(R"("blocks": 2, )" + std::string(kEmbedLaunch)),
                 {"kernels[0]", "\"blocks\" is only for cpu kernels"});
  expectRejected(
      replaceOnce(kToyPlan, R"("symbol": "embed_packed",)",
                  R"("symbol": "embed_packed",)" + std::string(kEmbedLaunch)),
      {"kernels[0]", "\"launch\" is only for nvptx kernels"});
  expectRejected(
      gpuPlan(
          R"("launch": {"grid": [6, 1], "block": [256, 1, 1], "params": []},)"),
      {"kernels[0].launch.grid must have 3 sizes, got 2"});
  expectRejected(
      gpuPlan(
          R"("launch": {"grid": [6, 1, 1], "block": [0, 1, 1], "params": []},)"),
      {"kernels[0].launch.block[0] must be in [1, 1024], got 0"});
  expectRejected(
      gpuPlan(
          R"("launch": {"grid": [6, 70000, 1], "block": [1, 1, 1], "params": []},)"),
      {"kernels[0].launch.grid[1] must be in [1, 65535], got 70000"});
  expectRejected(
      gpuPlan(
          kEmbedLaunch,
          R"("launch": {"grid": [1, 1, 1], "block": [64, 32, 1], "params": []},)"),
      {"kernels[1].launch: more than 1024 threads per block"});
  expectRejected(
      gpuPlan(
          kEmbedLaunch,
          R"("launch": {"grid": [1, 1, 1], "block": [1, 1, 1], "params": [0, 2]},)"),
      {"kernels[1].launch.params", "distinct argument indices "
                                   "below 2, got 2"});
  expectRejected(
      gpuPlan(
          R"("launch": {"grid": [1, 1, 1], "block": [1, 1, 1], "params": [1, 1]},)"),
      {"kernels[0].launch.params", "got 1"});
  expectRejected(
      gpuPlan(
          R"("launch": {"grid": [1, 1, 1], "block": [1, 1, 1], "params": [], "smem": 0},)"),
      {"kernels[0].launch", "unknown field 'smem'"});
}

// A train graph's outputs are the next checkpoint: they may reuse a
// parameter's name (with its dtype and shape); other graphs may not.
TEST(PlanTest, TrainGraphOutputsMayNameParameters) {
  const std::string hidden =
      R"({"name": "hidden", "buffer": 3, "dtype": "F32", "shape": [2, 3, 4]})";
  std::string next = replaceOnce(
      kToyPlan, hidden,
      R"({"name": "lm_head.weight", "buffer": 3, "dtype": "F32", "shape": [5, 4]})");
  std::string train =
      replaceOnce(next, R"("graph": "forward")", R"("graph": "train")");
  StatusOr<Plan> plan = parsePlan(train, kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  EXPECT_NE(plan->findParam("lm_head.weight"), nullptr);
  expectRejected(next, {"outputs[1]", "duplicate tensor name 'lm_head.weight'",
                        "(also params[1])"});
  expectRejected(
      replaceOnce(train, R"("buffer": 3, "dtype": "F32", "shape": [5, 4]})",
                  R"("buffer": 3, "dtype": "F32", "shape": [4, 5]})"),
      {"the next value of parameter 'lm_head.weight' must be F32 [5, 4]"});
}

// A parameter's initialiser: "scale" is optional (absent: 1, a plain copy),
// written only where it is not 1, and read back as it was.
TEST(PlanTest, ParamScale) {
  StatusOr<Plan> plain = parsePlan(kToyPlan, kPlanPath);
  ASSERT_TRUE(plain.isOk()) << plain.status().message();
  EXPECT_EQ(plain->params[1].scale, 1.0);
  EXPECT_EQ(serializePlan(*plain).find("\"scale\""), std::string::npos);
  for (double scale : {0.0, 0.5, -2.0}) {
    Plan scaled = *plain;
    scaled.params[1].scale = scale;
    std::string written = serializePlan(scaled);
    EXPECT_NE(written.find("\"scale\""), std::string::npos) << written;
    StatusOr<Plan> back = parsePlan(written, kPlanPath);
    ASSERT_TRUE(back.isOk()) << back.status().message();
    EXPECT_EQ(back->params[1].scale, scale);
    EXPECT_EQ(back->params[0].scale, 1.0);
  }
}

// Migrating a growth run's live state applies only plain copies: a zero or
// scaled parameter is refused by name, not silently copied.
TEST(PlanTest, MigrationRefusesScaledParams) {
  StatusOr<Plan> from = parsePlan(kToyPlan, kPlanPath);
  ASSERT_TRUE(from.isOk()) << from.status().message();
  Plan to = *from;
  EXPECT_TRUE(planParamMigration(to, *from, false).isOk());
  to.params[1].scale = 0.0;
  auto refused = planParamMigration(to, *from, false);
  ASSERT_FALSE(refused.isOk());
  EXPECT_NE(refused.status().message().find(
                "'lm_head.weight' starts at 0.0 times 'lm_head.weight'; "
                "migrating live training state applies only plain copies"),
            std::string::npos)
      << refused.status().message();
}

// A GEMM operand may start inside its buffer (a block of rows of a larger
// matrix); only the bytes it covers count, for the bounds and for C
// overlapping an operand.
TEST(PlanTest, GemmElementTypes) {
  // Without dtypes a GEMM is fp32; with them, bf16 operands take half the
  // bytes (B [5, 4] from byte 88 of a 128-byte buffer fits only as bf16).
  StatusOr<Plan> fp32 = parsePlan(kToyPlan, kPlanPath);
  ASSERT_TRUE(fp32.isOk()) << fp32.status().message();
  EXPECT_EQ(fp32->steps[1].aType, DType::F32);
  EXPECT_EQ(fp32->steps[1].cType, DType::F32);
  StatusOr<Plan> bf16 = parsePlan(
      replaceOnce(kToyPlan, R"("b_offset": 0)",
                  R"("b_offset": 88, "a_dtype": "BF16", "b_dtype": "BF16", )"
                  R"("c_dtype": "F32", "compute": "F32")"),
      kPlanPath);
  ASSERT_TRUE(bf16.isOk()) << bf16.status().message();
  EXPECT_EQ(bf16->steps[1].aType, DType::BF16);
  EXPECT_EQ(bf16->steps[1].bType, DType::BF16);
  EXPECT_EQ(bf16->steps[1].cType, DType::F32);
}

TEST(PlanTest, GemmOperandsAtOffsets) {
  // B [5, 4] = 80 bytes ending exactly at the end of its 128-byte buffer.
  StatusOr<Plan> plan =
      parsePlan(replaceOnce(kToyPlan, R"("b_offset": 0)", R"("b_offset": 48)"),
                kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  EXPECT_EQ(plan->steps[1].bOffset, 48);
  // C [6, 5] = 120 bytes in A's 128-byte buffer overlaps A [6, 4] (96
  // bytes) from any offset that fits.
  expectRejected(
      replaceOnce(replaceOnce(kToyPlan, R"("c": 4)", R"("c": 3)"),
                  R"("c_offset": 0)", R"("c_offset": 8)"),
      {"steps[1]", "gemm output C (buffer 3) overlaps operand A (buffer 3)"});
}

//===----------------------------------------------------------------------===//
// attention steps (the GPU kernel library's tensor-core attention)
//===----------------------------------------------------------------------===//

/// The toy plan with `step` appended to its steps.
std::string withStep(const std::string &step) {
  return replaceOnce(
      kToyPlan, R"({"op": "kernel", "kernel": 1, "args": [4, 5]})",
      R"({"op": "kernel", "kernel": 1, "args": [4, 5]}, )" + step);
}

/// An attention step over 128-byte buffers: q and o [2, 16] f32 (2 heads of
/// 8), k and v [2, 8] (1 KV head), with `from` replaced by `to`.
std::string attentionStep(const std::string &from = "",
                          const std::string &to = "") {
  std::string step =
      R"({"op": "attention", "symbol": "growc_flash_forward_hd8_f32_f32", )"
      R"("q": 2, "k": 3, "v": 4, "o": 5, "q_offset": 0, "k_offset": 0, )"
      R"("v_offset": 64, "o_offset": 0, "batch": 1, "seq_len": 2, )"
      R"("heads": 2, "kv_heads": 1, "head_dim": 8})";
  return from.empty() ? step : replaceOnce(step, from, to);
}

std::string gpuPlanWithStep(const std::string &step) {
  return replaceOnce(
      gpuPlan(), R"({"op": "kernel", "kernel": 1, "args": [4, 5]})",
      R"({"op": "kernel", "kernel": 1, "args": [4, 5]}, )" + step);
}

TEST(PlanTest, AttentionStepParses) {
  StatusOr<Plan> plan = parsePlan(gpuPlanWithStep(attentionStep()), kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  const PlanStep &step = plan->steps.back();
  EXPECT_EQ(step.op, PlanStep::Op::Attention);
  EXPECT_EQ(step.symbols,
            std::vector<std::string>{"growc_flash_forward_hd8_f32_f32"});
  EXPECT_EQ(step.operands, (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(step.operandOffsets, (std::vector<int64_t>{0, 0, 64, 0}));
  EXPECT_EQ(step.seqLen, 2);
  EXPECT_EQ(step.heads, 2);
  EXPECT_EQ(step.kvHeads, 1);
  EXPECT_EQ(step.headDim, 8);
}

/// The backward's two passes.
const char *const kGradSymbols =
    R"(["growc_flash_backward_prep_hd8_f32", "growc_flash_backward_hd8_f32"])";

/// The backward over the same buffers: two passes, nine operands (lse
/// [2, 2] f32 at byte 96 of buffer 4).
std::string attentionGradStep(const std::string &symbols = kGradSymbols) {
  return R"({"op": "attention_grad", "symbols": )" + symbols +
         R"(, "q": 2, "k": 3, "v": 3, "o": 5, "dout": 2, "dq": 5, "dk": 4, )"
         R"("dv": 4, "lse": 4, "q_offset": 0, "k_offset": 0, "v_offset": 64, )"
         R"("o_offset": 0, "dout_offset": 0, "dq_offset": 0, "dk_offset": 0, )"
         R"("dv_offset": 64, "lse_offset": 96, "batch": 1, "seq_len": 2, )"
         R"("heads": 2, "kv_heads": 1, "head_dim": 8})";
}

TEST(PlanTest, AttentionGradStepParses) {
  StatusOr<Plan> plan =
      parsePlan(gpuPlanWithStep(attentionGradStep()), kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  const PlanStep &step = plan->steps.back();
  EXPECT_EQ(step.op, PlanStep::Op::AttentionGrad);
  EXPECT_EQ(step.symbols.size(), 2u);
  EXPECT_EQ(step.operands, (std::vector<int64_t>{2, 3, 3, 5, 2, 5, 4, 4, 4}));
  EXPECT_EQ(step.operandOffsets[7], 64);
  EXPECT_EQ(step.operandOffsets[8], 96);
  expectRejected(
      gpuPlanWithStep(attentionGradStep(R"(["growc_flash_backward_hd8_f32"])")),
      {"steps[3].symbols", "the backward has 2 passes"});
  // The backward reads the forward's log-sum-exps: lse is required, f32
  // [batch x heads, seq_len] (16 bytes).
  expectRejected(
      gpuPlanWithStep(replaceOnce(attentionGradStep(), R"("lse": 4, )", "")),
      {"steps[3]", "lse"});
  expectRejected(
      gpuPlanWithStep(replaceOnce(attentionGradStep(), R"("lse_offset": 96)",
                                  R"("lse_offset": 120)")),
      {"steps[3]", "attention_grad operand lse (F32 [2, 2]) needs "
                   "16 bytes from byte 120 but buffer 4 holds 128"});
}

TEST(PlanTest, AttentionForwardMaySaveItsLogSumExps) {
  std::string step = attentionStep(
      R"("head_dim": 8)", R"("head_dim": 8, "lse": 4, "lse_offset": 16)");
  StatusOr<Plan> plan = parsePlan(gpuPlanWithStep(step), kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  EXPECT_EQ(plan->steps.back().operands, (std::vector<int64_t>{2, 3, 4, 5, 4}));
  EXPECT_EQ(plan->steps.back().operandOffsets.back(), 16);
  // Written back under its name, and parsed back the same.
  std::string written = serializePlan(*plan);
  EXPECT_NE(written.find(R"("lse": 4)"), std::string::npos);
  StatusOr<Plan> again = parsePlan(written, kPlanPath);
  ASSERT_TRUE(again.isOk()) << again.status().message();
  EXPECT_EQ(again->steps.back().operandOffsets,
            plan->steps.back().operandOffsets);
}

TEST(PlanTest, Bf16AttentionOperandsAreSizedInTwoBytes) {
  // At seq_len 4, q and o [4, 16] need 256 bytes in f32 (rejected below)
  // but 128 in bf16, what their buffers hold; k and v [4, 8] 64 each.
  std::string step = replaceOnce(
      attentionStep(
          R"("seq_len": 2)",
          R"("seq_len": 4, "activation_dtype": "BF16", "o_dtype": "BF16")"),
      "_f32_f32", "_bf16_bf16");
  StatusOr<Plan> plan = parsePlan(gpuPlanWithStep(step), kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  EXPECT_EQ(plan->steps.back().activationType, DType::BF16);
  EXPECT_EQ(plan->steps.back().outputType, DType::BF16);
  // Written back with both fields; F32 steps name neither.
  std::string written = serializePlan(*plan);
  EXPECT_NE(written.find(R"("activation_dtype": "BF16")"), std::string::npos);
  StatusOr<Plan> again = parsePlan(written, kPlanPath);
  ASSERT_TRUE(again.isOk()) << again.status().message();
  EXPECT_EQ(again->steps.back().outputType, DType::BF16);
  StatusOr<Plan> f32 = parsePlan(gpuPlanWithStep(attentionStep()), kPlanPath);
  ASSERT_TRUE(f32.isOk());
  EXPECT_EQ(serializePlan(*f32).find("_dtype"), std::string::npos);
  // An f32 output at seq_len 4 does not fit; a bf16 offset is 2-aligned.
  expectRejected(
      gpuPlanWithStep(replaceOnce(
          attentionStep(R"("seq_len": 2)",
                        R"("seq_len": 4, "activation_dtype": "BF16")"),
          "_f32_f32", "_bf16_f32")),
      {"steps[3]", "attention operand o (F32 [4, 16]) needs 256 bytes"});
  // The entry point is the instance for the step's dtypes: an f32 kernel
  // would read 256 bytes of q from buffers verified for bf16's 128 (and
  // write 256 bytes of o), a bf16 backward would misread f32 operands.
  expectRejected(
      gpuPlanWithStep(replaceOnce(step, "_bf16_bf16", "_f32_f32")),
      {"steps[3]: 'growc_flash_forward_hd8_f32_f32' is not the instance for "
       "activation_dtype BF16 and o_dtype BF16 (its name would end "
       "_bf16_bf16)"});
  expectRejected(
      gpuPlanWithStep(replaceOnce(step, "_bf16_bf16", "_bf16_f32")),
      {"steps[3]: 'growc_flash_forward_hd8_bf16_f32' is not the instance for "
       "activation_dtype BF16 and o_dtype BF16"});
  expectRejected(
      gpuPlanWithStep(
          attentionGradStep(R"(["growc_flash_backward_prep_hd8_f32", )"
                            R"("growc_flash_backward_hd8_bf16"])")),
      {"steps[3]: 'growc_flash_backward_hd8_bf16' is not the instance for "
       "activation_dtype F32 (its name would end _f32)"});
  expectRejected(gpuPlanWithStep(replaceOnce(step, R"("v_offset": 64)",
                                             R"("v_offset": 63)")),
                 {"steps[3]", "attention operand v (BF16 [4, 8])"});
  expectRejected(
      gpuPlanWithStep(attentionStep(
          R"("seq_len": 2)", R"("seq_len": 2, "activation_dtype": "F16")")),
      {"steps[3].activation_dtype",
       "'F16' is not an attention element type (F32 or BF16)"});
  // The backward's o is an activation: it has no o_dtype.
  expectRejected(
      gpuPlanWithStep(replaceOnce(
          attentionGradStep(R"(["growc_flash_backward_prep_hd8_bf16", )"
                            R"("growc_flash_backward_hd8_bf16"])"),
          R"("head_dim": 8)", R"("head_dim": 8, "o_dtype": "BF16")")),
      {"steps[3]", "o_dtype"});
}

TEST(PlanTest, MalformedAttentionStepsAreRejected) {
  // Only GPU plans: the kernel is PTX.
  expectRejected(withStep(attentionStep()),
                 {"steps[3]", "an attention step in a cpu plan"});
  expectRejected(
      gpuPlanWithStep(
          attentionStep("growc_flash_forward_hd8_f32_f32", "kernel0")),
      {"steps[3].symbol", "'kernel0' is not a kernel library entry point"});
  expectRejected(gpuPlanWithStep(attentionStep(R"("heads": 2, "kv_heads": 1)",
                                               R"("heads": 3, "kv_heads": 2)")),
                 {"steps[3]", "3 heads do not group over 2 KV heads"});
  // q [4, 16] f32 is 256 bytes; its buffer holds 128.
  expectRejected(
      gpuPlanWithStep(attentionStep(R"("seq_len": 2)", R"("seq_len": 4)")),
      {"steps[3]", "attention operand q (F32 [4, 16]) needs 256 "
                   "bytes from byte 0 but buffer 2 holds 128"});
  expectRejected(
      gpuPlanWithStep(attentionStep(R"("v_offset": 64)", R"("v_offset": 66)")),
      {"steps[3]", "attention operand v"});
  expectRejected(gpuPlanWithStep(attentionStep(R"("head_dim": 8)",
                                               R"("head_dim": 8, "lse": 1)")),
                 {"steps[3]", "lse"});
  // The batch is a grid dimension of the kernels, at most 65535.
  expectRejected(
      gpuPlanWithStep(attentionStep(R"("batch": 1)", R"("batch": 65536)")),
      {"steps[3].batch"});
}

//===----------------------------------------------------------------------===//
// all_reduce steps (data parallelism)
//===----------------------------------------------------------------------===//

TEST(PlanTest, AllReduceStepParses) {
  StatusOr<Plan> plan = parsePlan(
      withStep(R"({"op": "all_reduce", "buffers": [3, 4], "reduction": "mean",
                   "when": -1},
                  {"op": "all_reduce", "buffers": [5], "reduction": "sum",
                   "when": 0})"),
      kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  ASSERT_EQ(plan->steps.size(), 5u);
  const PlanStep &mean = plan->steps[3];
  EXPECT_EQ(mean.op, PlanStep::Op::AllReduce);
  EXPECT_EQ(mean.buffers, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(mean.reduction, PlanReduction::Mean);
  EXPECT_EQ(mean.when, -1);
  EXPECT_EQ(plan->steps[4].reduction, PlanReduction::Sum);
  EXPECT_EQ(plan->steps[4].when, 0);
}

TEST(PlanTest, MalformedAllReduceStepsAreRejected) {
  auto step = [](const std::string &buffers, const std::string &reduction,
                 const std::string &when) {
    return withStep(R"({"op": "all_reduce", "buffers": )" + buffers +
                    R"(, "reduction": )" + reduction + R"(, "when": )" + when +
                    "}");
  };
  expectRejected(step("[]", R"("mean")", "-1"),
                 {"steps[3].buffers", "at least one buffer"});
  expectRejected(step("[9]", R"("mean")", "-1"),
                 {"steps[3].buffers[0]: unknown buffer id 9"});
  expectRejected(step("[-1]", R"("mean")", "-1"),
                 {"steps[3].buffers[0]: unknown buffer id -1"});
  expectRejected(step(R"(["3"])", R"("mean")", "-1"),
                 {"steps[3].buffers[0]: unknown buffer id \"3\""});
  expectRejected(step("[3, 3]", R"("mean")", "-1"),
                 {"steps[3].buffers[1]: buffer 3 is listed twice"});
  expectRejected(step("3", R"("mean")", "-1"),
                 {"steps[3].buffers must be an array"});
  expectRejected(step("[3]", R"("max")", "-1"),
                 {"steps[3].reduction: unknown reduction 'max'"});
  expectRejected(step("[3]", "1", "-1"),
                 {"steps[3].reduction must be a string"});
  expectRejected(step("[3]", R"("mean")", "-2"),
                 {"steps[3].when: must be -1 (always) or the id of a flag "
                  "buffer, got -2"});
  expectRejected(step("[3]", R"("mean")", "6"), {"steps[3].when", "got 6"});
  expectRejected(step("[3]", R"("mean")", "3"),
                 {"steps[3].when: flag buffer 3 overlaps reduced buffer 3"});
  expectRejected(
      withStep(R"({"op": "all_reduce", "buffers": [3], "reduction": "mean"})"),
      {"steps[3]: missing field 'when'"});
  expectRejected(withStep(R"({"op": "all_reduce", "buffers": [3],
                              "reduction": "mean", "when": -1, "bucket": 0})"),
                 {"steps[3]: unknown field 'bucket'"});
  // Buffers sharing bytes would be reduced twice; a buffer must hold whole
  // floats.
  expectRejected(
      replaceOnce(step("[1, 2]", R"("mean")", "-1"),
                  R"({"id": 2, "offset": 192, "size": 128})",
                  R"({"id": 2, "offset": 128, "size": 128})"),
      {"steps[3].buffers[1]: buffer 2 overlaps buffer 1 of the same step"});
  expectRejected(
      replaceOnce(step("[3]", R"("mean")", "-1"),
                  R"({"id": 3, "offset": 320, "size": 128})",
                  R"({"id": 3, "offset": 320, "size": 126})"),
      {"steps[3].buffers[0]: buffer 3 holds 126 bytes, not a whole number "
       "of floats"});
}

//===----------------------------------------------------------------------===//
// The adamw step (the flat optimizer of train graphs)
//===----------------------------------------------------------------------===//

TEST(PlanTest, AdamWStepParses) {
  for (bool accumulate : {false, true})
    for (const char *target : {"cpu", "nvptx"}) {
      AdamWPlanOptions options;
      options.accumulate = accumulate;
      options.target = target;
      Plan built = adamWPlan(options);
      StatusOr<Plan> plan = parsePlan(serializePlan(built), kPlanPath);
      ASSERT_TRUE(plan.isOk()) << plan.status().message();
      ASSERT_EQ(plan->steps.size(), 1u);
      const PlanStep &step = plan->steps[0], &want = built.steps[0];
      EXPECT_EQ(step.op, PlanStep::Op::AdamW);
      EXPECT_EQ(step.adamParams, want.adamParams);
      EXPECT_EQ(step.adamGrads, want.adamGrads);
      EXPECT_EQ(step.adamExpAvg, want.adamExpAvg);
      EXPECT_EQ(step.adamExpAvgSq, want.adamExpAvgSq);
      EXPECT_EQ(step.adamGradSums, want.adamGradSums);
      EXPECT_EQ(step.adamGradSums.size(), accumulate ? 3u : 0u);
      EXPECT_EQ(step.adamApply, want.adamApply);
      EXPECT_EQ(step.adamApply >= 0, accumulate);
      EXPECT_EQ(step.adamLr, want.adamLr);
      EXPECT_EQ(step.adamStep, want.adamStep);
      EXPECT_EQ(step.adamLossNonfinite, want.adamLossNonfinite);
      EXPECT_EQ(step.adamGradNorm, want.adamGradNorm);
      EXPECT_EQ(step.adamNonfinite, want.adamNonfinite);
      EXPECT_EQ(step.symbols.size(), std::string(target) == "cpu" ? 0u : 3u);
      EXPECT_DOUBLE_EQ(step.beta2, 0.95);
      // The next values live in the parameters' own buffers.
      EXPECT_EQ(plan->findOutput("p1")->buffer, plan->findParam("p1")->buffer);
    }
  // Plans whose next values have buffers of their own still load.
  AdamWPlanOptions own;
  own.ownNextValueBuffers = true;
  StatusOr<Plan> plan = parsePlan(adamWPlanText(own), kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  EXPECT_NE(plan->findOutput("p1")->buffer, plan->findParam("p1")->buffer);
}

/// The adamw plan with one change, written out.
std::string adamWPlanWith(const std::function<void(Plan &, PlanStep &)> &edit,
                          const AdamWPlanOptions &options = {}) {
  Plan plan = adamWPlan(options);
  edit(plan, plan.steps[0]);
  return serializePlan(plan);
}

TEST(PlanTest, MalformedAdamWStepsAreRejected) {
  AdamWPlanOptions gpu;
  gpu.target = "nvptx";
  AdamWPlanOptions accumulate;
  accumulate.accumulate = true;
  // Kernel library entry points: three growc_ symbols on nvptx, none on
  // cpu.
  expectRejected(adamWPlanWith([](Plan &, PlanStep &s) {
                   s.symbols = {"growc_a", "growc_b", "growc_c"};
                 }),
                 {"steps[0].symbols: only nvptx plans"});
  expectRejected(
      adamWPlanWith([](Plan &, PlanStep &s) { s.symbols.clear(); }, gpu),
      {"steps[0]: missing field 'symbols'"});
  expectRejected(
      adamWPlanWith([](Plan &, PlanStep &s) { s.symbols[1] = "adamw_s"; }, gpu),
      {"steps[0].symbols: 'adamw_s' is not a kernel library"});
  expectRejected(
      adamWPlanWith([](Plan &, PlanStep &s) { s.symbols.pop_back(); }, gpu),
      {"steps[0].symbols: the step has 3 launches", "not 2"});
  // One optimizer step per plan.
  expectRejected(
      adamWPlanWith([](Plan &p, PlanStep &s) { p.steps.push_back(s); }),
      {"steps[1]: a second adamw step (also steps[0])"});
  // The lists: one buffer per trained parameter each, known ids.
  expectRejected(
      adamWPlanWith([](Plan &, PlanStep &s) { s.adamExpAvg.pop_back(); }),
      {"steps[0].exp_avg: 2 buffers, but the step has 3 params"});
  expectRejected(adamWPlanWith([](Plan &, PlanStep &s) {
                   s.adamParams.clear();
                   s.adamGrads.clear();
                   s.adamExpAvg.clear();
                   s.adamExpAvgSq.clear();
                 }),
                 {"steps[0].params: an adamw step updates at least one"});
  expectRejected(adamWPlanWith([](Plan &p, PlanStep &s) {
                   s.adamGrads[2] = int64_t(p.buffers.size());
                 }),
                 {"steps[0].grads[2]: unknown buffer id"});
  expectRejected(
      adamWPlanWith([](Plan &, PlanStep &s) { s.adamApply = -1; }, accumulate),
      {"steps[0].grad_sums: gradient sums need an apply flag"});
  expectRejected(adamWPlanWith([](Plan &, PlanStep &s) { s.adamApply = -2; }),
                 {"steps[0].apply: must be -1", "got -2"});
  expectRejected(adamWPlanWith([](Plan &, PlanStep &s) { s.beta1 = 1.0; }),
                 {"steps[0].beta1 must be a finite number in [0, 1), got 1"});
  expectRejected(adamWPlanWith([](Plan &, PlanStep &s) { s.eps = 0.0; }),
                 {"steps[0].eps must be a finite number in (0, inf)"});
  expectRejected(
      adamWPlanWith([](Plan &, PlanStep &s) { s.maxGradNorm = -1.0; }),
      {"steps[0].max_grad_norm must be a finite number"});
  expectRejected(replaceOnce(adamWPlanText(), R"("op": "adamw",)",
                             R"("op": "adamw", "lr_schedule": 1,)"),
                 {"steps[0]: unknown field 'lr_schedule'"});
  expectRejected(replaceOnce(adamWPlanText(), R"("apply": -1,)", ""),
                 {"steps[0]: missing field 'apply'"});
}

TEST(PlanTest, AdamWLayoutIsVerified) {
  // The k-th buffers of all lists have one size.
  expectRejected(adamWPlanWith([](Plan &p, PlanStep &s) {
                   p.buffers[s.adamExpAvg[1]].size += 4;
                 }),
                 {"steps[0].exp_avg[1]: buffer",
                  "holds 32 bytes but "
                  "params[1]",
                  "holds 28"});
  // Every list has the params' element layout (D_k).
  expectRejected(adamWPlanWith([](Plan &p, PlanStep &s) {
                   p.buffers[s.adamGrads[1]].offset += 64;
                 }),
                 {"steps[0].grads[1]: buffer", "starts 320 bytes after "
                                               "grads[0], but params[1] "
                                               "starts 256"});
  // In order, without overlap.
  expectRejected(
      adamWPlanWith([](Plan &, PlanStep &s) {
        for (std::vector<int64_t> *list :
             {&s.adamParams, &s.adamGrads, &s.adamExpAvg, &s.adamExpAvgSq})
          std::swap((*list)[1], (*list)[2]);
      }),
      {"steps[0].params[2]: buffer", "does not follow buffer", "of params[1]"});
  // Nothing else inside a region, not even in a gap: the step writes it.
  expectRejected(adamWPlanWith([](Plan &p, PlanStep &s) {
                   int64_t gap = p.buffers[s.adamExpAvgSq[0]].offset + 192;
                   p.buffers.push_back({int64_t(p.buffers.size()), gap, 4});
                 }),
                 {"steps[0].exp_avg_sq: buffer 19 (bytes [", "lies inside "
                                                             "the list's "
                                                             "region"});
  // Only F32 data.
  expectRejected(adamWPlanWith([](Plan &p, PlanStep &) {
                   for (PlanParam &param : p.params)
                     if (param.name == "grad.p1")
                       param.dtype = DType::BF16;
                 }),
                 {"steps[0].grads[1]: buffer", "holds 'grad.p1' (BF16)"});
  // Scalars: F32 [1], outside the regions, the written ones apart.
  expectRejected(
      adamWPlanWith([](Plan &p, PlanStep &s) { p.buffers[s.adamLr].size = 8; }),
      {"steps[0].lr: buffer", "holds 8 bytes; a scalar is F32 [1]"});
  expectRejected(adamWPlanWith([](Plan &p, PlanStep &s) {
                   p.inputs.erase(p.inputs.begin() + 4); // loss_nonfinite
                   p.buffers[s.adamLossNonfinite].offset =
                       p.buffers[s.adamParams[0]].offset + 192;
                 }),
                 {"steps[0].params: buffer 4", "lies inside the list's"});
  expectRejected(
      adamWPlanWith([](Plan &, PlanStep &s) { s.adamGradNorm = s.adamLr; }),
      {"steps[0].grad_norm: buffer 2 shares bytes with lr"});
  expectRejected(adamWPlanWith([](Plan &, PlanStep &s) {
                   s.adamNonfinite = s.adamGradNorm;
                 }),
                 {"steps[0].nonfinite: buffer 5 shares bytes with grad_norm"});
}

// The step touches every buffer it names: an intermediate it reads is live
// there, so no other live buffer may share its bytes.
TEST(PlanTest, AdamWStepKeepsItsBuffersLive) {
  auto plan = [](bool overlap) {
    return adamWPlanWith([&](Plan &p, PlanStep &s) {
      // loss_nonfinite becomes an intermediate; another one, live around
      // the step, is placed at its bytes.
      p.inputs.erase(p.inputs.begin() + 4);
      int64_t offset =
          overlap ? p.buffers[s.adamLossNonfinite].offset : p.arenaSize;
      p.buffers.push_back({int64_t(p.buffers.size()), offset, 4});
      p.arenaSize += 64;
      PlanStep reduce;
      reduce.op = PlanStep::Op::AllReduce;
      reduce.buffers = {p.buffers.back().id};
      p.steps.insert(p.steps.begin(), reduce);
      p.steps.push_back(reduce);
    });
  };
  StatusOr<Plan> apart = parsePlan(plan(false), kPlanPath);
  EXPECT_TRUE(apart.isOk()) << apart.status().message();
  expectRejected(plan(true), {"buffers[4]", "overlaps buffers[19]",
                              "while both are live (steps 1..1 and steps "
                              "0..2)"});
}

// Mixed precision: the parameters' bf16 copies and the step's bf16_params.
TEST(PlanTest, AdamWBf16CopiesParse) {
  for (const char *target : {"cpu", "nvptx"}) {
    AdamWPlanOptions options;
    options.target = target;
    options.bf16Copies = true;
    Plan built = adamWPlan(options);
    StatusOr<Plan> plan = parsePlan(serializePlan(built), kPlanPath);
    ASSERT_TRUE(plan.isOk()) << plan.status().message();
    const PlanStep &step = plan->steps[0];
    EXPECT_EQ(step.adamBf16Params, built.steps[0].adamBf16Params);
    ASSERT_EQ(step.adamBf16Params.size(), 3u);
    for (size_t k = 0; k < 3; ++k)
      EXPECT_EQ(plan->params[k].bf16Copy, step.adamBf16Params[k]);
    EXPECT_EQ(plan->findParam("grad.p0")->bf16Copy, -1);
  }
  // A parameter no step updates (a frozen one, or a forward graph's) may
  // have a copy without any adamw step.
  Plan frozen = adamWPlan();
  frozen.steps.clear();
  frozen.params[0].bf16Copy = int64_t(frozen.buffers.size());
  frozen.buffers.push_back({frozen.params[0].bf16Copy, frozen.arenaSize, 80});
  frozen.arenaSize += 128;
  StatusOr<Plan> plan = parsePlan(serializePlan(frozen), kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  EXPECT_EQ(plan->params[0].bf16Copy, frozen.params[0].bf16Copy);
}

TEST(PlanTest, Bf16CopiesAreVerified) {
  AdamWPlanOptions bf16;
  bf16.bf16Copies = true;
  auto with = [&](const std::function<void(Plan &, PlanStep &)> &edit,
                  AdamWPlanOptions options) {
    options.bf16Copies = true;
    return adamWPlanWith(edit, options);
  };
  // The copy: half its parameter's buffer, of its own, of an F32 parameter.
  expectRejected(
      with([](Plan &p,
              PlanStep &s) { p.buffers[s.adamBf16Params[1]].size = 16; },
           bf16),
      {"params[1] ('p1').bf16_copy: buffer 20 holds 16 bytes, but the "
       "parameter's buffer 8 holds 28 (F32), so its BF16 copy is 14"});
  expectRejected(with(
                     [](Plan &p, PlanStep &) {
                       p.params[1].dtype = DType::BF16;
                       p.outputs[3].dtype = DType::BF16; // its next value
                     },
                     bf16),
                 {"params[1] ('p1').bf16_copy: the parameter is BF16"});
  expectRejected(with(
                     [](Plan &p, PlanStep &s) {
                       PlanTensor view;
                       view.name = "view";
                       view.buffer = s.adamBf16Params[1];
                       view.shape = {3};
                       p.outputs.push_back(view);
                     },
                     bf16),
                 {"params[1] ('p1').bf16_copy: buffer 20 holds the tensor "
                  "'view'; a bf16 copy has a buffer of its own"});
  AdamWPlanOptions twins = bf16;
  twins.sizes = {40, 7, 7};
  expectRejected(
      with([](Plan &p,
              PlanStep &) { p.params[2].bf16Copy = p.params[1].bf16Copy; },
           twins),
      {"params[2] ('p2').bf16_copy: buffer 20 is also the bf16_copy of 'p1'"});
  expectRejected(with(
                     [](Plan &p, PlanStep &s) {
                       int64_t at = p.buffers[s.adamBf16Params[0]].offset;
                       p.buffers.push_back({int64_t(p.buffers.size()), at, 4});
                     },
                     bf16),
                 {"params[0] ('p0').bf16_copy: buffer 19 (bytes [",
                  "overlaps buffer 22", "apart from every other buffer"});
  // The step's list: one per parameter, each its parameter's copy.
  expectRejected(
      with([](Plan &, PlanStep &s) { s.adamBf16Params.pop_back(); }, bf16),
      {"steps[0].bf16_params: 2 buffers, but the step has 3 params"});
  expectRejected(
      with([](Plan &, PlanStep &s) { s.adamBf16Params.clear(); }, bf16),
      {"steps[0].params[0]: parameter 'p0' has a bf16_copy (buffer 19) but "
       "the step has no bf16_params"});
  expectRejected(
      with([](Plan &,
              PlanStep &s) { s.adamBf16Params[1] = s.adamBf16Params[2]; },
           bf16),
      {"steps[0].bf16_params[1]: buffer 21 is not the bf16_copy of "
       "params[1]'s parameter 'p1' (that is buffer 20)"});
  expectRejected(
      with([](Plan &p,
              PlanStep &s) { s.adamBf16Params[1] = int64_t(p.buffers.size()); },
           bf16),
      {"steps[0].bf16_params[1]: unknown buffer id 22"});
  // Its layout: half the params' offsets, nothing else in the span.
  expectRejected(with(
                     [](Plan &p, PlanStep &s) {
                       p.buffers[s.adamBf16Params[2]].offset += 64;
                       p.arenaSize += 128;
                     },
                     bf16),
                 {"steps[0].bf16_params[2]: buffer 21 starts 256 bytes after "
                  "bf16_params[0], but params[2] starts 384 bytes after "
                  "params[0]"});
  expectRejected(with(
                     [](Plan &p, PlanStep &s) {
                       // Finer alignment: room for a buffer in a gap.
                       p.alignment = 16;
                       int64_t gap = p.buffers[s.adamBf16Params[1]].offset + 16;
                       p.buffers.push_back({int64_t(p.buffers.size()), gap, 4});
                     },
                     bf16),
                 {"steps[0].bf16_params: buffer 22 (bytes [", "lies inside the "
                                                              "list's region"});
}

/// The toy plan with a seventh buffer `entry` after the others and a third
/// kernel, "count", whose second argument `counter` a last step binds to
/// buffer `bound` (a completion counter where both are zeroed).
constexpr const char *kCounterArg =
    R"({"dtype": "I32", "shape": [1], "zeroed": true})";
std::string withBuffer(const std::string &entry,
                       const std::string &counter = kCounterArg,
                       int bound = 6) {
  std::string text = replaceOnce(
      replaceOnce(kToyPlan, R"("arena_size": 704,)", R"("arena_size": 768,)"),
      R"({"id": 5, "offset": 576, "size": 128})",
      R"({"id": 5, "offset": 576, "size": 128}, )" + entry);
  text = replaceOnce(text, R"({"dtype": "F32", "shape": [30]}]})",
                     R"({"dtype": "F32", "shape": [30]}]},
    {"name": "count", "symbol": "count_packed", "blocks": 2,
     "args": [{"dtype": "F32", "shape": [30]}, )" +
                         counter + "]}");
  return replaceOnce(text, R"({"op": "kernel", "kernel": 1, "args": [4, 5]})",
                     R"({"op": "kernel", "kernel": 1, "args": [4, 5]},
    {"op": "kernel", "kernel": 2, "args": [5, )" +
                         std::to_string(bound) + "]}");
}

TEST(PlanTest, ZeroedBuffers) {
  const std::string counter =
      R"({"id": 6, "offset": 704, "size": 4, "zeroed": true})";
  StatusOr<Plan> plan = parsePlan(withBuffer(counter), kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  EXPECT_TRUE(plan->buffers[6].zeroed);
  EXPECT_FALSE(plan->buffers[5].zeroed);
  EXPECT_TRUE(plan->kernels[2].args[1].zeroed);
  EXPECT_FALSE(plan->kernels[2].args[0].zeroed);
  // Written only where true; a flag, not a number.
  expectRejected(
      withBuffer(R"({"id": 6, "offset": 704, "size": 4, "zeroed": false})"),
      {"buffers[6]: \"zeroed\" is written only where true"});
  expectRejected(
      withBuffer(R"({"id": 6, "offset": 704, "size": 4, "zeroed": 1})"),
      {"buffers[6]", "zeroed"});
  expectRejected(
      withBuffer(counter, R"({"dtype": "I32", "shape": [1], "zeroed": false})"),
      {"kernels[2].args[1]: \"zeroed\" is written only where true"});
  expectRejected(
      withBuffer(counter, R"({"dtype": "I32", "shape": [1], "zeroed": "yes"})"),
      {"kernels[2].args[1]", "zeroed"});
  // Zero at every run's start: no bytes shared, no tensor, not empty.
  expectRejected(
      withBuffer(R"({"id": 6, "offset": 640, "size": 4, "zeroed": true})"),
      {"buffers[6]: the zeroed bytes [640, 644) overlap buffer 5 (bytes "
       "[576, 704))"});
  expectRejected(replaceOnce(kToyPlan,
                             R"({"id": 3, "offset": 320, "size": 128})",
                             R"({"id": 3, "offset": 320, "size": 128, )"
                             R"("zeroed": true})"),
                 {"buffers[3]: a zeroed buffer holds 'hidden'"});
  expectRejected(
      withBuffer(R"({"id": 6, "offset": 704, "size": 0, "zeroed": true})"),
      {"buffers[6]: a zeroed buffer is not empty"});
  // Counter arguments and zeroed buffers go together: a counter in an
  // ordinary buffer starts at whatever the last step left there (the
  // second run's count would never reach the last block), and a zeroed
  // buffer passed as anything else is left nonzero for the next run.
  expectRejected(withBuffer(counter, kCounterArg, /*bound=*/4),
                 {"steps[3].args[1]: argument 1 of kernel 'count' is a "
                  "completion counter but buffer 4 is not zeroed"});
  expectRejected(withBuffer(counter, R"({"dtype": "I32", "shape": [1]})"),
                 {"steps[3].args[1]: buffer 6 is zeroed (a completion "
                  "counter) but argument 1 of kernel 'count' is not a "
                  "counter"});
  // Only kernels count: no other step may use a zeroed buffer.
  expectRejected(
      replaceOnce(
          withBuffer(R"({"id": 6, "offset": 704, "size": 64, "zeroed": true})"),
          R"("b": 2, "c": 4, "m": 6, "n": 5, "k": 4)",
          R"("b": 2, "c": 6, "m": 3, "n": 5, "k": 4)"),
      {"steps[1]: buffer 6 is zeroed (a completion counter); only a kernel "
       "step's counter argument may use it"});
  // And one that no kernel counts in is no counter.
  expectRejected(replaceOnce(withBuffer(counter),
                             R"(,
    {"op": "kernel", "kernel": 2, "args": [5, 6]})",
                             ""),
                 {"buffers[6]: a zeroed buffer that no kernel step counts in"});
}

// The kernels file's signature table marks a counter argument, so that a
// plan edited to drop the mark (and pass the counter an ordinary buffer) is
// refused like any other signature edit.
TEST(PlanTest, SignatureTableMarksCounters) {
  StatusOr<Plan> plan = parsePlan(
      withBuffer(R"({"id": 6, "offset": 704, "size": 4, "zeroed": true})"),
      kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  std::string table = serializeKernelTable(plan->kernels);
  EXPECT_NE(table.find(R"({"dtype":"I32","shape":[1],"zeroed":true})"),
            std::string::npos)
      << table;
  Status same = checkKernelSignatures(*plan, table);
  EXPECT_TRUE(same.isOk()) << same.message();
  plan->kernels[2].args[1].zeroed = false;
  Status edited = checkKernelSignatures(*plan, table);
  ASSERT_FALSE(edited.isOk());
  EXPECT_NE(edited.message().find(
                "kernel 'count' argument 1: the plan says I32 [1], the "
                "kernels file was compiled for I32 [1] zeroed"),
            std::string::npos)
      << edited.message();
}

// Tensors at byte offsets of a shared buffer (the compiler's fused Q/K/V
// and gate|up weights): p0 and p1 lie back to back in one buffer per list,
// their bf16 copies in one copy buffer at half the offsets; `offset` is
// written only where it is not 0 and read back as it was.
TEST(PlanTest, ParamsShareABufferAtOffsets) {
  AdamWPlanOptions fused;
  fused.fused = 2;
  fused.bf16Copies = true;
  Plan built = adamWPlan(fused);
  std::string text = serializePlan(built);
  StatusOr<Plan> plan = parsePlan(text, kPlanPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  EXPECT_EQ(serializePlan(*plan), text);
  const PlanParam *p0 = plan->findParam("p0"), *p1 = plan->findParam("p1");
  ASSERT_TRUE(p0 && p1);
  EXPECT_EQ(p0->buffer, p1->buffer);
  EXPECT_EQ(p0->offset, 0);
  EXPECT_EQ(p1->offset, 160); // 40 floats
  EXPECT_EQ(plan->buffers[p0->buffer].size, 188);
  EXPECT_EQ(p0->bf16Copy, p1->bf16Copy);
  EXPECT_EQ(plan->buffers[p0->bf16Copy].size, 94);
  EXPECT_EQ(plan->findParam("optimizer.exp_avg.p1")->offset, 160);
  EXPECT_EQ(plan->findOutput("p1")->offset, 160);
  // The step lists the shared buffer once.
  EXPECT_EQ(plan->steps[0].adamParams.size(), 2u);
  EXPECT_EQ(plan->steps[0].adamBf16Params.size(), 2u);
  // Next values at their parameters' bytes are updated in place.
  EXPECT_TRUE(planNextValues(*plan).empty());
  // "offset" appears exactly where it is not 0: on p1, its gradient, its
  // state and their next values; a plan without shared buffers has none.
  auto tensorsWithOffset = [](const std::string &planText) {
    std::vector<std::string> names;
    StatusOr<JsonValue> json = parseJson(planText);
    EXPECT_TRUE(json.isOk());
    for (const char *section : {"inputs", "params", "outputs"})
      for (const JsonValue &entry : json->find(section)->elements())
        if (entry.find("offset"))
          names.push_back(entry.find("name")->asString());
    return names;
  };
  const std::vector<std::string> moved = {
      "p1", "grad.p1", "optimizer.exp_avg.p1", "optimizer.exp_avg_sq.p1",
      // the next values
      "p1", "optimizer.exp_avg.p1", "optimizer.exp_avg_sq.p1"};
  EXPECT_EQ(tensorsWithOffset(text), moved);
  EXPECT_TRUE(tensorsWithOffset(adamWPlanText()).empty());
}

// A next value at its parameter's buffer but another offset is a copy.
TEST(PlanTest, NextValueAtAnotherOffsetIsCopied) {
  AdamWPlanOptions fused;
  fused.fused = 2;
  fused.sizes = {8, 8, 32};
  StatusOr<Plan> swapped = parsePlan(adamWPlanWith(
                                         [](Plan &p, PlanStep &) {
                                           for (PlanTensor &out : p.outputs)
                                             if (out.name == "p0")
                                               out.offset = 32;
                                             else if (out.name == "p1")
                                               out.offset = 0;
                                         },
                                         fused),
                                     kPlanPath);
  ASSERT_TRUE(swapped.isOk()) << swapped.status().message();
  std::vector<NextValue> next = planNextValues(*swapped);
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].param->name, "p0");
  EXPECT_EQ(next[0].output->offset, 32);
  EXPECT_EQ(next[1].param->name, "p1");
  EXPECT_EQ(next[1].output->offset, 0);
}

TEST(PlanTest, SharedBuffersAreVerified) {
  AdamWPlanOptions fused;
  fused.fused = 2;
  const Plan base = adamWPlan(fused);
  const std::string shared = std::to_string(base.params[0].buffer);
  auto with = [&](const std::function<void(Plan &)> &edit,
                  AdamWPlanOptions options) {
    return adamWPlanWith([&](Plan &p, PlanStep &) { edit(p); }, options);
  };
  expectRejected(with([](Plan &p) { p.params[1].offset = 162; }, fused),
                 {"params[1] ('p1'): offset 162 is not a multiple of the F32 "
                  "element size 4"});
  expectRejected(
      with([](Plan &p) { p.params[1].offset = 164; }, fused),
      {"params[1] ('p1'): F32 [7] needs 28 bytes from byte 164 but buffer " +
       shared + " holds 188"});
  expectRejected(with([](Plan &p) { p.params[0].offset = -4; }, fused),
                 {"params[0] ('p0').offset must be an integer >= 0"});
  expectRejected(with([](Plan &p) { p.params[1].offset = 156; }, fused),
                 {"params[1] ('p1'): bytes [156, 184) of buffer " + shared +
                  " overlap params[0] ('p0') (bytes [0, 160)); tensors "
                  "sharing a buffer lie apart"});
  expectRejected(with(
                     [](Plan &p) {
                       for (PlanTensor &out : p.outputs)
                         if (out.name == "p1")
                           out.offset = 156;
                     },
                     fused),
                 {"overlap outputs[", "('p0') (bytes [0, 160))"});
  expectRejected(with([](Plan &p) { p.params[1].dtype = DType::BF16; }, fused),
                 {"params[1] ('p1') is BF16 but shares buffer " + shared +
                  " with params[0] ('p0'), which is F32"});
  expectRejected(with([](Plan &p) { p.params[1].frozen = true; }, fused),
                 {"params[1] ('p1') is frozen but shares buffer " + shared +
                  " with params[0] ('p0'), which is not; the adamw step "
                  "updates a buffer whole"});
  AdamWPlanOptions copies = fused;
  copies.bf16Copies = true;
  const Plan withCopies = adamWPlan(copies);
  const std::string copy = std::to_string(withCopies.params[0].bf16Copy);
  const std::string other = std::to_string(withCopies.params[2].bf16Copy);
  expectRejected(
      with([](Plan &p) { p.params[1].bf16Copy = p.params[2].bf16Copy; },
           copies),
      {"params[1] ('p1') has bf16_copy " + other + " but shares buffer " +
       shared + " with params[0] ('p0'), which has bf16_copy " + copy});
  expectRejected(with([](Plan &p) { p.params[1].bf16Copy = -1; }, copies),
                 {"params[1] ('p1') has no bf16_copy but shares buffer"});
  expectRejected(
      with([](Plan &p) { p.buffers[p.params[0].bf16Copy].size = 80; }, copies),
      {"params[0] ('p0').bf16_copy: buffer " + copy +
       " holds 80 bytes, but the parameter's buffer " + shared +
       " holds 188 (F32), so its BF16 copy is 94"});
  // A copy buffer of two parameter buffers stays an error.
  AdamWPlanOptions twins = copies;
  twins.sizes = {7, 7, 14};
  const Plan twinPlan = adamWPlan(twins);
  expectRejected(
      with([](Plan &p) { p.params[2].bf16Copy = p.params[0].bf16Copy; }, twins),
      {"params[2] ('p2').bf16_copy: buffer " +
       std::to_string(twinPlan.params[0].bf16Copy) +
       " is also the bf16_copy of 'p0' (buffer " +
       std::to_string(twinPlan.params[0].buffer) + ")"});
}

TEST(PlanTest, RejectsInvalidJson) {
  expectRejected("not json", {"invalid JSON"});
  expectRejected("", {"invalid JSON"});
  std::string text = kToyPlan;
  expectRejected(text.substr(0, text.size() - 1), {"invalid JSON"});
}

TEST(PlanTest, RejectsNonObject) {
  expectRejected("[]", {"the plan must be a JSON object"});
  expectRejected(
      replaceOnce(kToyPlan, R"({"op": "gemm")", R"(7, {"op": "gemm")"),
      {"steps[1] must be a JSON object, got 7"});
}

TEST(PlanTest, LongValuesAreShortenedInMessages) {
  std::string huge(10000, 'x');
  StatusOr<Plan> plan = parsePlan(
      replaceOnce(kToyPlan, R"("seq": 3)", "\"seq\": \"" + huge + "\""),
      kPlanPath);
  ASSERT_FALSE(plan.isOk());
  EXPECT_LT(plan.status().message().size(), 200u) << plan.status().message();
}

//===----------------------------------------------------------------------===//
// Writing plans (serializePlan): one schema for the compiler and the runtime
//===----------------------------------------------------------------------===//

/// The toy plans in every form the schema has: CPU and GPU kernels (launch,
/// shared memory, kind), bf16 GEMMs, attention and its gradient,
/// all_reduce steps with and without a flag, accumulation, a growth
/// section and the adamw step.
std::vector<std::string> everyPlanForm() {
  std::string shared =
      gpuPlan(R"("kind": "attention", "launch": {"grid": [6, 1, 1], )"
              R"("block": [256, 1, 1], "params": [0, 2, 1], )"
              R"("shared_bytes": 1024},)");
  std::string bf16 =
      replaceOnce(kToyPlan, R"("b_offset": 0)",
                  R"("b_offset": 88, "a_dtype": "BF16", "b_dtype": "BF16", )"
                  R"("c_dtype": "F32", "compute": "F32")");
  std::string reduces =
      withStep(R"({"op": "all_reduce", "buffers": [3, 4], "reduction": "mean",
                   "when": -1},
                  {"op": "all_reduce", "buffers": [5], "reduction": "sum",
                   "when": 0})");
  std::string growth = replaceOnce(
      kToyPlan, R"("format": "growc-plan",)",
      R"("format": "growc-plan", "micro_batches": 4, "growth": )"
      R"({"method": "lidas", "block_size": 2, "stages": [)"
      R"({"stage": 1, "layers": 2, "plan": "fwd.plan.json"}, )"
      R"({"stage": 2, "layers": 4, "plan": "fwd.stage2.plan.json"}]},)");
  AdamWPlanOptions gpuAccumulating;
  gpuAccumulating.target = "nvptx";
  gpuAccumulating.accumulate = true;
  AdamWPlanOptions bf16Copies;
  bf16Copies.bf16Copies = true;
  AdamWPlanOptions fusedCopies = bf16Copies;
  fusedCopies.fused = 2;
  return {kToyPlan, gpuPlan(), shared, bf16, reduces,
          gpuPlanWithStep(attentionStep()),
          gpuPlanWithStep(attentionGradStep()), growth,
          // A frozen parameter (growc --trainable).
          replaceOnce(kToyPlan, R"("copy": false})",
                      R"("copy": false, "frozen": true})"),
          // The flat optimizer step, with accumulation on the GPU.
          adamWPlanText(), adamWPlanText(gpuAccumulating),
          // Parameters sharing buffers at offsets (fused Q/K/V).
          adamWPlanText(fusedCopies),
          // Mixed precision: the parameters' bf16 copies.
          adamWPlanText(bf16Copies),
          // A completion counter (a column sum's last block resets it).
          withBuffer(R"({"id": 6, "offset": 704, "size": 4, "zeroed": true})")};
}

/// Whether every object in `value` lists its keys in sorted order.
bool keysSorted(const JsonValue &value) {
  if (value.isObject()) {
    for (size_t i = 1; i < value.members().size(); ++i)
      if (!(value.members()[i - 1].first < value.members()[i].first))
        return false;
    for (const auto &member : value.members())
      if (!keysSorted(member.second))
        return false;
  }
  if (value.isArray())
    for (const JsonValue &element : value.elements())
      if (!keysSorted(element))
        return false;
  return true;
}

/// `value` with every object's keys in sorted order.
JsonValue sortedKeys(const JsonValue &value) {
  if (value.isArray()) {
    JsonValue array = JsonValue::array();
    for (const JsonValue &element : value.elements())
      array.push(sortedKeys(element));
    return array;
  }
  if (!value.isObject())
    return value;
  auto members = value.members();
  std::sort(members.begin(), members.end(),
            [](const auto &a, const auto &b) { return a.first < b.first; });
  JsonValue object = JsonValue::object();
  for (const auto &[key, member] : members)
    object.set(key, sortedKeys(member));
  return object;
}

// parse -> serialize -> parse gives the same plan and the same text, and the
// text is canonical (sorted keys, the layout growc writes).
TEST(PlanTest, SerializeRoundTripsEveryForm) {
  for (const std::string &text : everyPlanForm()) {
    StatusOr<Plan> first = parsePlan(text, kPlanPath);
    ASSERT_TRUE(first.isOk()) << first.status().message();
    std::string written = serializePlan(*first);
    StatusOr<Plan> second = parsePlan(written, kPlanPath);
    ASSERT_TRUE(second.isOk()) << second.status().message() << "\n" << written;
    EXPECT_EQ(serializePlan(*second), written);
    // The text says what the original said, value for value.
    StatusOr<JsonValue> original = parseJson(text);
    StatusOr<JsonValue> canonical = parseJson(written);
    ASSERT_TRUE(original.isOk() && canonical.isOk());
    EXPECT_TRUE(sortedKeys(*original) == *canonical) << written;
    EXPECT_TRUE(keysSorted(*canonical)) << written;
    EXPECT_EQ(written.substr(0, 4), "{\n  ");
    EXPECT_EQ(written.back(), '\n');
  }
}

/// Every key the writer can produce, collected from `value`.
void collectKeys(const JsonValue &value, std::set<std::string> &keys) {
  if (value.isObject())
    for (const auto &[key, member] : value.members()) {
      keys.insert(key);
      collectKeys(member, keys);
    }
  if (value.isArray())
    for (const JsonValue &element : value.elements())
      collectKeys(element, keys);
}

// docs/plan.md is the human description of this schema: its example parses,
// and every field the writer produces is documented there.
TEST(PlanTest, DocsDescribeEveryField) {
  std::ifstream file(GROWC_PLAN_DOC);
  ASSERT_TRUE(file) << "cannot read " << GROWC_PLAN_DOC;
  std::stringstream buffer;
  buffer << file.rdbuf();
  std::string doc = buffer.str();
  size_t begin = doc.find("```json\n");
  ASSERT_NE(begin, std::string::npos) << "docs/plan.md has no JSON example";
  begin += 8;
  size_t end = doc.find("```", begin);
  StatusOr<Plan> example = parsePlan(doc.substr(begin, end - begin), kPlanPath);
  EXPECT_TRUE(example.isOk())
      << "docs/plan.md's example: " << example.status().message();
  std::set<std::string> keys;
  for (const std::string &text : everyPlanForm()) {
    StatusOr<Plan> plan = parsePlan(text, kPlanPath);
    ASSERT_TRUE(plan.isOk()) << plan.status().message();
    StatusOr<JsonValue> written = parseJson(serializePlan(*plan));
    ASSERT_TRUE(written.isOk());
    collectKeys(*written, keys);
  }
  EXPECT_GT(keys.size(), 60u);
  for (const std::string &key : keys)
    EXPECT_TRUE(doc.find("`" + key + "`") != std::string::npos ||
                doc.find("\"" + key + "\"") != std::string::npos)
        << "docs/plan.md does not describe the field '" << key << "'";
}

} // namespace
