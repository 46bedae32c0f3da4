//===- CudaExecutorGpuTest.cpp - the CUDA executor on a real GPU ----------===//
//
// The toy plans with real kernels (ToyKernels.cu, compiled to PTX by nvcc
// at build time), the real driver and the real cuBLASLt: the forward
// against the toy reference on the first run and on CUDA-graph replays, and
// the training step's commits on the device. Skipped where there is no
// driver or GPU (CI); CudaExecutorFakeTest checks the same host logic
// everywhere.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/CudaExecutor.h"

#include "ToyModel.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

using namespace growc::rt;
using namespace growc::rt::test;

namespace {

class CudaExecutorGpuTest : public CudaCacheDirTest {
protected:
  /// The executor on the real GPU, or nullptr with `skip` set when this
  /// machine has none.
  std::unique_ptr<CudaExecutor> create(const std::string &planText,
                                       std::string &skip) {
    const std::string ptx = GROWC_TOY_PTX_PATH;
    if (ptx.empty() || !std::filesystem::exists(ptx)) {
      skip = "no toy PTX (nvcc was not found at build time)";
      return nullptr;
    }
    // The toy PTX with the signature table of the plan's kernels, as growc
    // appends it, and the plan bound to that file.
    std::ifstream in(ptx, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    if (!text.empty() && text.back() != '\n')
      text += '\n';
    writeText("fwd.ptx", text + ptxSignatureLine(kernelTableOf(planText)));
    writeText("fwd.plan.json", bindPlan(planText, file("fwd.ptx")));
    StatusOr<Plan> plan = loadPlan(file("fwd.plan.json"));
    EXPECT_TRUE(plan.isOk()) << plan.status().message();
    if (!plan.isOk())
      return nullptr;
    StatusOr<std::unique_ptr<CudaExecutor>> executor =
        CudaExecutor::create(std::move(*plan), CudaExecutor::Options());
    if (!executor.isOk()) {
      const std::string &message = executor.status().message();
      if (contains(message, "CUDA driver") ||
          contains(message, "no CUDA device"))
        skip = message;
      else
        ADD_FAILURE() << message;
      return nullptr;
    }
    return std::move(*executor);
  }
};

TEST_F(CudaExecutorGpuTest, ToyForwardOnTheGpu) {
  std::string skip;
  std::unique_ptr<CudaExecutor> executor =
      create(replaceOnce(gpuPlan(), R"("kernels_file": "fwd.so")",
                         R"("kernels_file": "fwd.ptx")"),
             skip);
  if (!skip.empty())
    GTEST_SKIP() << skip;
  ASSERT_TRUE(executor);
  ToyWeights weights;
  writeTensors("w.safetensors", weights.tensors());
  StatusOr<SafetensorsFile> checkpoint =
      SafetensorsFile::open(file("w.safetensors"));
  ASSERT_TRUE(checkpoint.isOk());
  ASSERT_TRUE(executor->loadParams(*checkpoint).isOk());
  for (std::vector<int32_t> tokens : {std::vector<int32_t>{0, 1, 2, 3, 4, 0},
                                      std::vector<int32_t>{4, 4, 1, 0, 2, 3},
                                      std::vector<int32_t>{1, 2, 3, 4, 0, 1}}) {
    auto outputs = executor->forward(int32View(tokens, "tokens"));
    ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
    ToyReference want = toyReference(weights, tokens);
    std::vector<float> logits = outputs->at("logits").toVector();
    ASSERT_EQ(logits.size(), want.logits.size());
    for (size_t i = 0; i < logits.size(); ++i)
      EXPECT_NEAR(logits[i], want.logits[i], 1e-5f) << "logits " << i;
    EXPECT_EQ(outputs->at("hidden").toVector(), want.hidden);
  }
}

} // namespace
