//===- CudaLibrariesTest.cpp - the CUDA libraries' failure paths ----------===//
//
// What can be checked on a machine without a GPU: a missing driver is a
// plain message, the toolkit's stub driver loads (every entry point
// resolves by its ABI name) but refuses cuInit with a readable error,
// cuBLASLt and NCCL resolve from the toolkit when it is installed, and the
// CUDA executor turns all of this, and a CPU plan, into errors instead of
// crashes. Runs only where the CUDA headers were found (GROWC_HAVE_CUDA).
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/CudaLibraries.h"
#include "growc/runtime/CudaExecutor.h"
#include "growc/runtime/GemmTuning.h"

#include "ToyModel.h"

#include <gtest/gtest.h>

#include <filesystem>

using namespace growc::rt;
using namespace growc::rt::test;

namespace {

TEST(CudaLibrariesTest, MissingDriverIsAPlainError) {
  auto driver = cuda::Driver::load("/nonexistent/libcuda.so.1");
  ASSERT_FALSE(driver.isOk());
  EXPECT_TRUE(
      contains(driver.status().message(), "cannot load the CUDA driver"));
  EXPECT_TRUE(contains(driver.status().message(), "--device=cpu"));
}

TEST(CudaLibrariesTest, StubDriverResolvesButCannotInitialize) {
  const std::string stub = GROWC_CUDA_STUB_DRIVER;
  if (stub.empty() || !std::filesystem::exists(stub))
    GTEST_SKIP() << "no CUDA stub driver on this machine";
  auto driver = cuda::Driver::load(stub);
  ASSERT_TRUE(driver.isOk()) << driver.status().message();
  // The ABI names of renamed entry points resolved (cuMemAlloc_v2, ...).
  EXPECT_NE((*driver)->cuMemAlloc, nullptr);
  EXPECT_NE((*driver)->cuGraphInstantiate, nullptr);
  CUresult result = (*driver)->cuInit(0);
  if (result == CUDA_SUCCESS)
    GTEST_SKIP() << "the stub initialised: a real driver is present";
  Status status = (*driver)->check(result, "cuInit");
  EXPECT_FALSE(status.isOk());
  EXPECT_TRUE(contains(status.message(), "cuInit: CUDA_ERROR_STUB_LIBRARY"));
}

TEST(CudaLibrariesTest, ToolkitLibrariesResolve) {
  auto blas = cuda::BlasLt::load();
  if (!blas.isOk())
    GTEST_SKIP() << blas.status().message();
  EXPECT_NE((*blas)->cublasLtMatmul, nullptr);
  EXPECT_TRUE(contains(
      (*blas)->check(CUBLAS_STATUS_NOT_SUPPORTED, "cublasLtMatmul").message(),
      "cublasLtMatmul: "));
  auto nccl = cuda::Nccl::load();
  if (!nccl.isOk())
    GTEST_SKIP() << nccl.status().message();
  int version = 0;
  ASSERT_TRUE((*nccl)
                  ->check((*nccl)->ncclGetVersion(&version), "ncclGetVersion")
                  .isOk());
  EXPECT_GE(version, 20000);
  EXPECT_FALSE((*nccl)->check(ncclInvalidArgument, "ncclAllReduce").isOk());
}

TEST(CudaLibrariesTest, MissingCublasLtIsAPlainError) {
  auto blas = cuda::BlasLt::load("/nonexistent/libcublasLt.so");
  ASSERT_FALSE(blas.isOk());
  EXPECT_TRUE(contains(blas.status().message(), "cannot load cuBLASLt"));
}

class CudaExecutorTest : public TempDirTest {};

TEST_F(CudaExecutorTest, CpuPlanIsRejected) {
  writeArtifact();
  StatusOr<Plan> plan = loadPlan(file("fwd.plan.json"));
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  auto executor = CudaExecutor::create(std::move(*plan), {});
  ASSERT_FALSE(executor.isOk());
  EXPECT_TRUE(contains(executor.status().message(), "--target=nvptx"));
}

TEST_F(CudaExecutorTest, NoDriverIsAPlainError) {
  writeArtifact(gpuPlan());
  StatusOr<Plan> plan = loadPlan(file("fwd.plan.json"));
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  CudaExecutor::Options options;
  options.driverPath = "/nonexistent/libcuda.so.1";
  auto executor = CudaExecutor::create(std::move(*plan), options);
  ASSERT_FALSE(executor.isOk());
  EXPECT_TRUE(contains(executor.status().message(), "NVIDIA driver"));
}

TEST_F(CudaExecutorTest, StubDriverIsAPlainError) {
  const std::string stub = GROWC_CUDA_STUB_DRIVER;
  if (stub.empty() || !std::filesystem::exists(stub))
    GTEST_SKIP() << "no CUDA stub driver on this machine";
  writeArtifact(gpuPlan());
  StatusOr<Plan> plan = loadPlan(file("fwd.plan.json"));
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  CudaExecutor::Options options;
  options.driverPath = stub;
  auto executor = CudaExecutor::create(std::move(*plan), options);
  if (executor.isOk())
    GTEST_SKIP() << "a real driver and GPU are present";
  EXPECT_TRUE(
      contains(executor.status().message(),
               "no usable CUDA driver: cuInit: CUDA_ERROR_STUB_LIBRARY"));
}

TEST(CudaExecutorCacheTest, AlgorithmCacheFollowsTheEnvironment) {
  ::setenv("GROWC_CACHE_DIR", "/tmp/growc-cache-test", 1);
  EXPECT_EQ(algorithmCachePath(),
            "/tmp/growc-cache-test/cublaslt-algorithms.txt");
  ::unsetenv("GROWC_CACHE_DIR");
  ::setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(algorithmCachePath(), "/tmp/xdg/growc/cublaslt-algorithms.txt");
  ::unsetenv("XDG_CACHE_HOME");
}

} // namespace
