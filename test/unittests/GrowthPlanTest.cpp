//===- GrowthPlanTest.cpp - unit tests for the growth index math ----------===//
//
// Checks planGrowthStep against SPEC.md §2's worked table and its invalid
// requests; the exhaustive n x b sweep lives in the lit suite
// (test/Growth/lineage-sweep.test).
//
//===----------------------------------------------------------------------===//

#include "growc/Growth/GrowthPlan.h"

#include "gtest/gtest.h"

using namespace growc;

namespace {

struct Copy {
  int64_t begin, end, at;
};

Copy planCopy(GrowthMethod method, int64_t layers, int64_t b,
              LidasOddPolicy odd = LidasOddPolicy::Midas) {
  llvm::Expected<GrowthStep> step = planGrowthStep(method, layers, b, odd);
  EXPECT_TRUE(bool(step)) << llvm::toString(step.takeError());
  return {step->copyBegin, step->copyEnd, step->insertAt};
}

std::string errorOf(GrowthMethod method, int64_t layers, int64_t b) {
  llvm::Expected<GrowthStep> step = planGrowthStep(method, layers, b);
  EXPECT_FALSE(bool(step));
  return step ? "" : llvm::toString(step.takeError());
}

TEST(GrowthPlan, SpecWorkedTable) {
  // SPEC.md §2, b = 4: (n -> n+1): MIDAS and LIDAS [from, to) -> at.
  const Copy midas[] = {
      {0, 4, 4}, {0, 4, 4}, {4, 8, 8}, {4, 8, 8}, {8, 12, 12}};
  const Copy lidas[] = {
      {0, 4, 4}, {2, 6, 4}, {4, 8, 8}, {6, 10, 8}, {8, 12, 12}};
  for (int64_t n = 1; n <= 5; ++n) {
    Copy m = planCopy(GrowthMethod::Midas, 4 * n, 4);
    Copy l = planCopy(GrowthMethod::Lidas, 4 * n, 4);
    EXPECT_EQ(m.begin, midas[n - 1].begin) << "n=" << n;
    EXPECT_EQ(m.at, midas[n - 1].at) << "n=" << n;
    EXPECT_EQ(l.begin, lidas[n - 1].begin) << "n=" << n;
    EXPECT_EQ(l.end, lidas[n - 1].end) << "n=" << n;
    EXPECT_EQ(l.at, lidas[n - 1].at) << "n=" << n;
  }
}

TEST(GrowthPlan, LayerListInsertsExactCopies) {
  // LIDAS, b = 4, L = 8: x1 x2 x3 x4 | y1 y2 y3 y4 ->
  // x1 x2 x3 x4 | x3' x4' y1' y2' | y1 y2 y3 y4.
  llvm::Expected<GrowthStep> step = planGrowthStep(GrowthMethod::Lidas, 8, 4);
  ASSERT_TRUE(bool(step));
  std::vector<int64_t> sources;
  std::vector<bool> copies;
  for (const LayerSource &src : step->layers) {
    sources.push_back(src.oldIndex);
    copies.push_back(src.isCopy);
  }
  EXPECT_EQ(sources,
            (std::vector<int64_t>{0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7}));
  EXPECT_EQ(copies, (std::vector<bool>{0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(step->describe(), "lidas: 2 -> 3 blocks of 4 (8 -> 12 layers): "
                              "copy layers [2, 6), insert at 4");
}

TEST(GrowthPlan, OddPolicyAndGradStack) {
  // n = 3, b = 2, L = 6: default copies the central block [2, 4) to 4;
  // centred copies [2, 4) to 3.
  Copy byBlock = planCopy(GrowthMethod::Lidas, 6, 2);
  Copy centred = planCopy(GrowthMethod::Lidas, 6, 2, LidasOddPolicy::Centred);
  EXPECT_EQ(byBlock.begin, 2);
  EXPECT_EQ(byBlock.at, 4);
  EXPECT_EQ(centred.begin, 2);
  EXPECT_EQ(centred.at, 3);
  Copy stack = planCopy(GrowthMethod::GradStack, 6, 2);
  EXPECT_EQ(stack.begin, 4);
  EXPECT_EQ(stack.end, 6);
  EXPECT_EQ(stack.at, 6);
}

TEST(GrowthPlan, InvalidRequests) {
  EXPECT_NE(errorOf(GrowthMethod::Midas, 0, 4).find("without layers"),
            std::string::npos);
  EXPECT_NE(errorOf(GrowthMethod::Midas, 6, 4).find("not a multiple"),
            std::string::npos);
  EXPECT_NE(errorOf(GrowthMethod::Lidas, 6, 3).find("even block size"),
            std::string::npos);
  EXPECT_NE(errorOf(GrowthMethod::Midas, 4, 0).find("at least 1"),
            std::string::npos);
}

TEST(GrowthPlan, MethodNamesRoundTrip) {
  for (GrowthMethod m :
       {GrowthMethod::Midas, GrowthMethod::Lidas, GrowthMethod::GradStack})
    EXPECT_EQ(parseGrowthMethod(growthMethodName(m)), m);
  EXPECT_FALSE(parseGrowthMethod("MIDAS").has_value());
  EXPECT_FALSE(parseLidasOddPolicy("center").has_value());
}

} // namespace
