//===- GrowthPlanTest.cpp - unit tests for the growth index math ----------===//
//
// Checks planGrowthStep against SPEC.md §2's worked table and its invalid
// requests; the exhaustive n x b sweep lives in the lit suite
// (test/Growth/lineage-sweep.test). Also the one-shot recipes' layer lists
// (docs/pretrained-growth.md) at the sizes of the papers.
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
       {GrowthMethod::Midas, GrowthMethod::Lidas, GrowthMethod::GradStack,
        GrowthMethod::BlockExpansion, GrowthMethod::DepthUpscale,
        GrowthMethod::Layers, GrowthMethod::GStack})
    EXPECT_EQ(parseGrowthMethod(growthMethodName(m)), m);
  EXPECT_FALSE(parseGrowthMethod("MIDAS").has_value());
  EXPECT_FALSE(parseLidasOddPolicy("center").has_value());
}

/// "0 1 1*z 2": each layer's source, * for copies, z for a zero and x<S>
/// for a scaled output (the driver's --print-lineage notation).
std::string lineageOf(const std::vector<LayerSource> &layers) {
  std::string out;
  for (const LayerSource &src : layers) {
    out += (out.empty() ? "" : " ") + std::to_string(src.oldIndex);
    if (src.isCopy)
      out += "*";
    if (src.outputScale == 0.0)
      out += "z";
    else if (src.outputScale != 1.0)
      out += "x" + std::to_string(src.outputScale);
  }
  return out;
}

LayerRecipe recipeOf(GrowthMethod method) {
  LayerRecipe recipe;
  recipe.method = method;
  return recipe;
}

template <typename T> std::string errorText(llvm::Expected<T> value) {
  EXPECT_FALSE(bool(value));
  return value ? "" : llvm::toString(value.takeError());
}

TEST(LayerRecipe, BlockExpansion) {
  auto layers = planBlockExpansion(4, 2, 0.0);
  ASSERT_TRUE(bool(layers));
  EXPECT_EQ(lineageOf(*layers), "0 1 1*z 2 3 3*z");
  // LLaMA Pro-8B: 32 layers, a new one after every 4 -> 40, blocks of 5.
  LayerRecipe recipe = recipeOf(GrowthMethod::BlockExpansion);
  recipe.expandEvery = 4;
  auto plan = planLayerRecipe(recipe, 32, 4);
  ASSERT_TRUE(bool(plan));
  EXPECT_EQ(plan->layers.size(), 40u);
  EXPECT_EQ(plan->blockSize, 5);
  EXPECT_EQ(plan->layers[4].oldIndex, 3);
  EXPECT_TRUE(plan->layers[39].isCopy);
  EXPECT_EQ(plan->describe(),
            "block-expansion: 32 -> 40 layers, a zero-output copy after "
            "every 4 (inserted at 4, 9, 14, 19, 24, 29, 34, 39); blocks of 5");
  auto scaled = planBlockExpansion(2, 2, 0.5);
  ASSERT_TRUE(bool(scaled));
  EXPECT_EQ(lineageOf(*scaled), "0 1 1*x0.500000");
  EXPECT_NE(errorText(planBlockExpansion(6, 4, 0.0)).find("does not divide"),
            std::string::npos);
  EXPECT_NE(errorText(planBlockExpansion(4, 0, 0.0)).find("at least 1"),
            std::string::npos);
}

TEST(LayerRecipe, DepthUpscale) {
  auto layers = planDepthUpscale(4, 1);
  ASSERT_TRUE(bool(layers));
  EXPECT_EQ(lineageOf(*layers), "0 1 2 1* 2* 3");
  // SOLAR 10.7B: 32 layers, M = 8 -> [0, 24) + [8, 32) = 48; blocks of 4
  // kept (48 = 12 x 4).
  LayerRecipe recipe = recipeOf(GrowthMethod::DepthUpscale);
  recipe.upscaleDrop = 8;
  auto plan = planLayerRecipe(recipe, 32, 4);
  ASSERT_TRUE(bool(plan));
  EXPECT_EQ(plan->layers.size(), 48u);
  EXPECT_EQ(plan->blockSize, 4);
  EXPECT_EQ(plan->layers[24].oldIndex, 8);
  EXPECT_TRUE(plan->layers[24].isCopy);
  EXPECT_FALSE(plan->layers[47].isCopy); // layer 31 occurs once
  for (int64_t drop : {0, 4})
    EXPECT_NE(errorText(planDepthUpscale(4, drop)).find("must be in [1, 4)"),
              std::string::npos);
}

TEST(LayerRecipe, LayerRanges) {
  auto ranges = parseLayerRanges("0:8, 4:12");
  ASSERT_TRUE(bool(ranges));
  ASSERT_EQ(ranges->size(), 2u);
  EXPECT_EQ((*ranges)[1].begin, 4);
  EXPECT_EQ((*ranges)[1].end, 12);
  auto layers = planLayerRanges(4, {{2, 4}, {0, 3}});
  ASSERT_TRUE(bool(layers));
  EXPECT_EQ(lineageOf(*layers), "2 3 0 1 2*");
  // Pruning: layer 3 dropped; 3 layers of a 2-block model -> blocks of 1.
  LayerRecipe recipe = recipeOf(GrowthMethod::Layers);
  recipe.layerRanges = "0:3";
  auto plan = planLayerRecipe(recipe, 4, 2);
  ASSERT_TRUE(bool(plan));
  EXPECT_EQ(plan->blockSize, 1);
  EXPECT_EQ(plan->describe(),
            "layers: 4 -> 3 layers, [0, 3), dropping [3, 4); blocks of 1");
  const std::pair<const char *, const char *> bad[] = {
      {"", "is empty"},
      {"0:2,,3:4", "has an empty entry"},
      {"0:2,x", "'x' is not BEGIN:END"},
      {"1:2:3", "'1:2:3' is not BEGIN:END"},
      {"-1:2", "'-1:2' is not BEGIN:END"},
      {"3:3", "'3:3' is empty"},
      {"4:2", "'4:2' is reversed"},
  };
  for (auto [text, message] : bad)
    EXPECT_NE(errorText(parseLayerRanges(text)).find(message),
              std::string::npos)
        << text;
  EXPECT_NE(errorText(planLayerRanges(4, {{0, 5}})).find("ends past"),
            std::string::npos);
}

TEST(LayerRecipe, GStack) {
  auto layers = planStack(2, 3);
  ASSERT_TRUE(bool(layers));
  EXPECT_EQ(lineageOf(*layers), "0 1 0* 1* 0* 1*");
  EXPECT_NE(errorText(planStack(2, 1)).find("at least 2"), std::string::npos);
  // Past the layer limit, and past int64 (no wrap-around).
  EXPECT_NE(errorText(planStack(2, int64_t(1) << 16)).find("131072 layers"),
            std::string::npos);
  EXPECT_NE(errorText(planStack(4, INT64_MAX)).find("more than 2^63"),
            std::string::npos);
  LayerRecipe recipe = recipeOf(GrowthMethod::GStack);
  recipe.stackFactor = 2;
  recipe.blockSize = 3;
  auto plan = planLayerRecipe(recipe, 3, 1);
  ASSERT_TRUE(bool(plan));
  EXPECT_EQ(plan->blockSize, 3);
  recipe.blockSize = 4;
  EXPECT_NE(errorText(planLayerRecipe(recipe, 3, 1))
                .find("block-size=4 does not divide the grown model's 6"),
            std::string::npos);
}

TEST(LayerRecipe, RecipesAreNotSteps) {
  EXPECT_TRUE(isLayerRecipe(GrowthMethod::GStack));
  EXPECT_FALSE(isLayerRecipe(GrowthMethod::Midas));
  EXPECT_NE(errorOf(GrowthMethod::BlockExpansion, 4, 2).find("one-shot"),
            std::string::npos);
  EXPECT_NE(errorText(planLayerRecipe(recipeOf(GrowthMethod::Midas), 4, 2))
                .find("not a one-shot recipe"),
            std::string::npos);
}

} // namespace
