//===- TrainableTest.cpp - --trainable SPECs and frozen plan params -------===//
//
// The SPEC grammar shared by growc-freeze-parameters and growc-run train
// (Trainable.h), the plan's "frozen" key and its rules (no optimizer state,
// never an output), and growc-run's check of a SPEC against a plan.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Trainable.h"

#include "ToyModel.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace growc::rt;
using namespace growc::rt::test;

namespace {

/// A two-layer tied model whose layer 1 is an inserted copy (two
/// parameters per layer are enough for the grammar).
std::vector<TrainableParam> grownModel() {
  return {{"model.embed_tokens.weight", false},
          {"model.layers.0.self_attn.q_proj.weight", false},
          {"model.layers.0.mlp.up_proj.weight", false},
          {"model.layers.1.self_attn.q_proj.weight", true},
          {"model.layers.1.mlp.up_proj.weight", true},
          {"model.norm.weight", false}};
}

std::vector<bool> resolved(const std::string &spec,
                           std::vector<TrainableParam> params = grownModel()) {
  StatusOr<std::vector<bool>> selected = resolveTrainable(spec, params);
  EXPECT_TRUE(selected.isOk()) << spec << ": " << selected.status().message();
  return selected.isOk() ? *selected : std::vector<bool>();
}

std::string rejection(const std::string &spec,
                      std::vector<TrainableParam> params = grownModel()) {
  StatusOr<std::vector<bool>> selected = resolveTrainable(spec, params);
  EXPECT_FALSE(selected.isOk()) << spec << " unexpectedly accepted";
  return selected.isOk() ? "" : selected.status().message();
}

TEST(TrainableTest, SpecsSelectParameters) {
  using V = std::vector<bool>;
  EXPECT_EQ(resolved("all"), V(6, true));
  EXPECT_EQ(resolved("inserted"), V({false, false, false, true, true, false}));
  EXPECT_EQ(resolved("1"), V({false, false, false, true, true, false}));
  EXPECT_EQ(resolved("0:2,norm"), V({false, true, true, true, true, true}));
  EXPECT_EQ(resolved("embed,0"), V({true, true, true, false, false, false}));
  std::vector<TrainableParam> untied = grownModel();
  untied.push_back({"lm_head.weight", false});
  EXPECT_EQ(resolved("lm_head", untied),
            V({false, false, false, false, false, false, true}));
}

TEST(TrainableTest, BadSpecsNameTheItem) {
  EXPECT_NE(rejection("1,x").find("--trainable=1,x: 'x' is not a layer N, "
                                  "a range A:B, 'embed', 'norm' or "
                                  "'lm_head'"),
            std::string::npos);
  EXPECT_NE(rejection("2").find("'2': layer 2 is not in the model, which has "
                                "2 layers (0-1)"),
            std::string::npos);
  EXPECT_NE(rejection("1:3").find("layer 2 is not in the model"),
            std::string::npos);
  EXPECT_NE(rejection("1:1").find("'1:1' is not a layer range A:B with A < B"),
            std::string::npos);
  EXPECT_NE(rejection("-1").find("'-1' is not a layer N"), std::string::npos);
  EXPECT_NE(rejection("0,").find("'' is not a layer N"), std::string::npos);
  EXPECT_NE(rejection("lm_head").find("ties its head to the embedding"),
            std::string::npos);
  std::vector<TrainableParam> notGrown = grownModel();
  for (TrainableParam &param : notGrown)
    param.copy = false;
  EXPECT_NE(rejection("inserted", notGrown)
                .find("--trainable=inserted selects nothing: no parameter "
                      "has growth provenance"),
            std::string::npos);
}

TEST(TrainableTest, DescribesSetsCompactly) {
  std::vector<TrainableParam> params = grownModel();
  EXPECT_EQ(describeParamSet(params, {true, true, true, true, true, true}),
            "layers 0-1; embed; norm");
  EXPECT_EQ(describeParamSet(params, {false, false, false, true, true, false}),
            "layer 1");
  // A layer partly selected is named parameter by parameter.
  EXPECT_EQ(describeParamSet(params, {false, true, false, false, false, true}),
            "model.layers.0.self_attn.q_proj.weight; norm");
  EXPECT_EQ(describeParamSet(params, std::vector<bool>(6, false)), "none");
}

//===----------------------------------------------------------------------===//
// Plans
//===----------------------------------------------------------------------===//

const char *const kPath = "/artifacts/train.plan.json";

/// The toy plan as a train graph whose embedding is frozen.
std::string frozenEmbedding() {
  std::string text =
      replaceOnce(kToyPlan, R"("graph": "forward")", R"("graph": "train")");
  return replaceOnce(text, R"("copy": false})",
                     R"("copy": false, "frozen": true})");
}

TEST(TrainableTest, PlanMarksFrozenParameters) {
  StatusOr<Plan> plan = parsePlan(frozenEmbedding(), kPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  EXPECT_TRUE(plan->params[0].frozen);
  EXPECT_FALSE(plan->params[1].frozen);
  // Written only where true.
  std::string written = serializePlan(*plan);
  EXPECT_EQ(written.find("\"frozen\": true"), written.rfind("\"frozen\""));
  EXPECT_NE(written.find("\"frozen\": true"), std::string::npos);
  StatusOr<Plan> whole = parsePlan(kToyPlan, kPath);
  ASSERT_TRUE(whole.isOk());
  EXPECT_EQ(serializePlan(*whole).find("frozen"), std::string::npos);
}

TEST(TrainableTest, FrozenParametersHaveNoStateAndNoNextValue) {
  std::string bad = replaceOnce(frozenEmbedding(), R"("frozen": true})",
                                R"("frozen": "yes"})");
  StatusOr<Plan> plan = parsePlan(bad, kPath);
  ASSERT_FALSE(plan.isOk());
  EXPECT_NE(plan.status().message().find("frozen must be true or false"),
            std::string::npos)
      << plan.status().message();

  // Its moment would be the state of a parameter the graph never updates.
  std::string state = replaceOnce(
      frozenEmbedding(), R"("source": "lm_head.weight", "copy": true})",
      R"("source": "lm_head.weight", "copy": true},
    {"name": "optimizer.exp_avg.model.embed_tokens.weight", "buffer": 4,
     "dtype": "F32", "shape": [5, 4], "source": "x", "copy": false})");
  plan = parsePlan(state, kPath);
  ASSERT_FALSE(plan.isOk());
  EXPECT_NE(plan.status().message().find(
                "params[0] ('model.embed_tokens.weight') is frozen but the "
                "plan has its optimizer state "
                "'optimizer.exp_avg.model.embed_tokens.weight'"),
            std::string::npos)
      << plan.status().message();

  // A next value would write it.
  std::string written = replaceOnce(
      frozenEmbedding(),
      R"({"name": "hidden", "buffer": 3, "dtype": "F32", "shape": [2, 3, 4]})",
      R"({"name": "model.embed_tokens.weight", "buffer": 3, "dtype": "F32", "shape": [5, 4]})");
  plan = parsePlan(written, kPath);
  ASSERT_FALSE(plan.isOk());
  EXPECT_NE(plan.status().message().find(
                "parameter 'model.embed_tokens.weight' is frozen; a train "
                "graph never writes it"),
            std::string::npos)
      << plan.status().message();
}

TEST(TrainableTest, CheckSpecAgainstPlan) {
  StatusOr<Plan> plan = parsePlan(frozenEmbedding(), kPath);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  EXPECT_TRUE(hasFrozenParams(*plan));
  EXPECT_EQ(describeTraining(*plan),
            "training 1 of 2 parameters (20 of 40 values); frozen: embed");
  EXPECT_TRUE(checkTrainable(*plan, "lm_head").isOk());
  // The toy head is a copy: `inserted` resolves to it.
  EXPECT_TRUE(checkTrainable(*plan, "inserted").isOk());
  Status differs = checkTrainable(*plan, "all");
  ASSERT_FALSE(differs.isOk());
  EXPECT_NE(differs.message().find(
                "--trainable=all trains embed; lm_head, but it was compiled "
                "to train lm_head. The frozen set is part of the compiled "
                "train graph; recompile it: growc MODEL.mlir --graph=train "
                "--trainable=all -o fwd.so"),
            std::string::npos)
      << differs.message();
  EXPECT_EQ(differs.message().rfind(kPath, 0), 0u) << differs.message();
}

} // namespace
