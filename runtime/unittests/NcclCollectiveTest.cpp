//===- NcclCollectiveTest.cpp - the NCCL engine's failure paths -----------===//
//
// What can be checked without a GPU: no driver, the toolkit's stub driver
// and a missing bootstrap are plain errors. The engine itself (the unique
// id exchange, ncclCommInitRank, ncclAllReduce on the executor's
// communication stream) has not run on a GPU. Built only where the CUDA
// headers were found (GROWC_HAVE_CUDA).
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/NcclCollective.h"

#include "ToyModel.h"

#include <gtest/gtest.h>

#include <filesystem>

using namespace growc::rt;
using namespace growc::rt::test;

namespace {

TEST(NcclCollectiveTest, NeedsABootstrap) {
  auto engine = createNcclCollective(nullptr);
  ASSERT_FALSE(engine.isOk());
  EXPECT_TRUE(contains(engine.status().message(), "bootstrap"));
}

TEST(NcclCollectiveTest, NoDriverIsAPlainError) {
  NcclOptions options;
  options.driverPath = "/nonexistent/libcuda.so.1";
  auto engine = createNcclCollective(singleProcessCollective(), options);
  ASSERT_FALSE(engine.isOk());
  EXPECT_TRUE(
      contains(engine.status().message(), "cannot load the CUDA driver"));
}

TEST(NcclCollectiveTest, StubDriverIsAPlainError) {
  const std::string stub = GROWC_CUDA_STUB_DRIVER;
  if (stub.empty() || !std::filesystem::exists(stub))
    GTEST_SKIP() << "no CUDA stub driver on this machine";
  NcclOptions options;
  options.driverPath = stub;
  auto engine = createNcclCollective(singleProcessCollective(), options);
  if (engine.isOk())
    GTEST_SKIP() << "a real driver and GPU are present";
  EXPECT_TRUE(
      contains(engine.status().message(),
               "no usable CUDA driver: cuInit: CUDA_ERROR_STUB_LIBRARY"));
}

} // namespace
