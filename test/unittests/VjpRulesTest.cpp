//===- VjpRulesTest.cpp - the model-level ops' VJP rules -----------------===//
//
// Runs each grow op's VjpOpInterface rule against a context that records
// what the rule asks for and adds, instead of building tensors: which
// values receive cotangents, which parameters gradients, and from which
// forward intermediates. The numerics of the rules, through the lowering's
// tensor-level rules, are checked against PyTorch autograd by
// test/Runtime/grad-cpu.test.
//
//===----------------------------------------------------------------------===//

#include "dialects/Grow/GrowOps.h"
#include "growc/Import/HFConfig.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/DenseMap.h"

#include "gtest/gtest.h"

#include <map>
#include <string>
#include <vector>

using namespace mlir;
using namespace growc;
using namespace growc::grow;

namespace {

constexpr const char *kConfig = R"({
  "vocab_size": 32, "hidden_size": 16, "intermediate_size": 24,
  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
  "head_dim": 4, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
  "rope_theta": 10000.0, "tie_word_embeddings": true
})";

/// Stands in for the lowering: every tensor it returns is a distinct
/// placeholder value, and every call is recorded.
class RecordingContext : public VjpContext {
public:
  explicit RecordingContext(ModelOp model) : model(model) {
    // Placeholders: the model's own values are as good as any.
    for (Operation &op : model.getBodyBlock())
      for (Value v : op.getResults())
        pool.push_back(v);
    pool.push_back(model.getBodyBlock().getArgument(0));
  }

  Value fresh(const std::string &what) {
    Value v = pool[next++ % pool.size()];
    made.push_back(what);
    return v;
  }

  Value forward(Value modelValue) override {
    forwardReads.push_back(modelValue);
    return fresh("forward");
  }
  const LayerTape *layerTape(Operation *op) override {
    auto it = tape.find(op);
    return it == tape.end() ? nullptr : &it->second;
  }
  Value param(StringRef name) override {
    params.push_back(name.str());
    return fresh("param");
  }
  Value tokens() override { return fresh("tokens"); }
  Value targets() override { return fresh("targets"); }
  void addCotangent(Value modelValue, Value) override {
    cotangentsTo.push_back(modelValue);
  }
  void addParamGrad(StringRef name, Value) override {
    ++paramGrads[name.str()];
  }
  void setLoss(Value) override { ++losses; }
  bool isLossLogits(Value modelValue) override {
    return modelValue == lossLogits;
  }
  Value add(Value, Value) override { return fresh("add"); }
  Value matmulInputGrad(Value, Value, Value) override { return fresh("dx"); }
  Value matmulWeightGrad(Value, Value) override { return fresh("dw"); }
  std::pair<Value, Value> rmsNormGrad(Value, Value, double scale, Value,
                                      Value) override {
    normScales.push_back(scale);
    return {fresh("rms dx"), fresh("rms dw")};
  }
  Value ropeGrad(Value, int64_t heads) override {
    ropeHeads.push_back(heads);
    return fresh("rope");
  }
  std::pair<Value, Value> swigluGrad(Value, Value, Value) override {
    return {fresh("dgate"), fresh("dup")};
  }
  Value concatRows(ValueRange weights) override {
    concatSizes.push_back(weights.size());
    return fresh("concat");
  }
  Value rowBlock(Value, int64_t, int64_t) override { return fresh("block"); }
  Value swigluHalvesGrad(Value, Value) override { return fresh("dgate|dup"); }
  Value qkvGrad(Value, Value, Value) override { return fresh("dq|dk|dv"); }
  std::tuple<Value, Value, Value> attentionGrad(Value q, Value k, Value v,
                                                Value o, Value) override {
    attentionInputs = {q, k, v, o};
    return {fresh("dq"), fresh("dk"), fresh("dv")};
  }
  Value embedGrad(Value, Value) override { return fresh("dtable"); }
  std::tuple<Value, Value, Value> crossEntropyGrad(Value, Value,
                                                   Value) override {
    return {fresh("loss"), fresh("dnormed"), fresh("dhead")};
  }

  ModelOp model;
  std::vector<Value> pool;
  size_t next = 0;
  std::vector<std::string> made;
  llvm::DenseMap<Operation *, LayerTape> tape;
  Value lossLogits;
  std::vector<Value> forwardReads, cotangentsTo, attentionInputs;
  std::vector<std::string> params;
  std::map<std::string, int> paramGrads;
  std::vector<double> normScales;
  std::vector<int64_t> ropeHeads;
  std::vector<size_t> concatSizes;
  int losses = 0;
};

class VjpRules : public ::testing::Test {
protected:
  void SetUp() override {
    context.loadDialect<GrowDialect>();
    auto imported = importHFConfig(&context, kConfig, ImportOptions());
    ASSERT_TRUE(bool(imported)) << llvm::toString(imported.takeError());
    module = std::move(imported->module);
    model = *module->getOps<ModelOp>().begin();
    for (Operation &op : model.getBodyBlock()) {
      if (auto layer = dyn_cast<LayerOp>(op))
        layers.push_back(layer);
      else if (auto embed = dyn_cast<EmbedOp>(op))
        this->embed = embed;
      else if (auto norm = dyn_cast<RMSNormOp>(op))
        finalNorm = norm;
      else if (auto head = dyn_cast<LMHeadOp>(op))
        this->head = head;
    }
    ASSERT_EQ(layers.size(), 2u);
  }

  /// Each parameter of layer `index` with one gradient.
  static std::map<std::string, int> oneGradPerParameter(int index) {
    std::map<std::string, int> expected;
    for (const char *suffix :
         {"input_layernorm.weight", "self_attn.q_proj.weight",
          "self_attn.k_proj.weight", "self_attn.v_proj.weight",
          "self_attn.o_proj.weight", "post_attention_layernorm.weight",
          "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"})
      expected["model.layers." + std::to_string(index) + "." + suffix] = 1;
    return expected;
  }

  /// A distinct placeholder per tape entry, as the lowering records them.
  LayerTape tapeFor(RecordingContext &ctx) {
    SmallVector<Value> tape;
    for (unsigned i = 0; i < LayerTape::kNumFields; ++i)
      tape.push_back(ctx.pool[i % ctx.pool.size()]);
    return LayerTape::fromValues(tape);
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  ModelOp model;
  SmallVector<LayerOp> layers;
  EmbedOp embed;
  RMSNormOp finalNorm;
  LMHeadOp head;
};

TEST_F(VjpRules, LossHeadSeedsTheReversePass) {
  RecordingContext ctx(model);
  ctx.lossLogits = head.getLogits();
  auto rule = cast<VjpOpInterface>(head.getOperation());
  ASSERT_TRUE(succeeded(rule.buildVjp(ctx, ValueRange{Value()})));
  EXPECT_EQ(ctx.losses, 1);
  ASSERT_EQ(ctx.cotangentsTo.size(), 1u);
  EXPECT_EQ(ctx.cotangentsTo[0], head.getInput());
  // A tied head: its gradient is the embedding table's.
  EXPECT_EQ(ctx.paramGrads,
            (std::map<std::string, int>{{"model.embed_tokens.weight", 1}}));
}

TEST_F(VjpRules, OpsNothingDependsOnContributeNothing) {
  RecordingContext ctx(model);
  for (Operation *op :
       {finalNorm.getOperation(), embed.getOperation(), head.getOperation()})
    ASSERT_TRUE(
        succeeded(cast<VjpOpInterface>(op).buildVjp(ctx, ValueRange{Value()})));
  ASSERT_TRUE(succeeded(cast<VjpOpInterface>(layers[1].getOperation())
                            .buildVjp(ctx, ValueRange{Value()})));
  EXPECT_TRUE(ctx.cotangentsTo.empty());
  EXPECT_TRUE(ctx.paramGrads.empty());
  EXPECT_EQ(ctx.losses, 0);
}

TEST_F(VjpRules, NormAndEmbedding) {
  RecordingContext ctx(model);
  Value dy = ctx.pool[0];
  ASSERT_TRUE(succeeded(cast<VjpOpInterface>(finalNorm.getOperation())
                            .buildVjp(ctx, ValueRange{dy})));
  ASSERT_EQ(ctx.cotangentsTo.size(), 1u);
  EXPECT_EQ(ctx.cotangentsTo[0], finalNorm.getInput());
  EXPECT_EQ(ctx.normScales, std::vector<double>{1.0});
  ASSERT_TRUE(succeeded(cast<VjpOpInterface>(embed.getOperation())
                            .buildVjp(ctx, ValueRange{dy})));
  // The embedding has no input to differentiate: only its table.
  EXPECT_EQ(ctx.cotangentsTo.size(), 1u);
  EXPECT_EQ(ctx.paramGrads,
            (std::map<std::string, int>{{"model.norm.weight", 1},
                                        {"model.embed_tokens.weight", 1}}));
}

TEST_F(VjpRules, LayerDifferentiatesEveryParameterFromItsTape) {
  RecordingContext ctx(model);
  LayerOp layer = layers[1];
  layer.setNormScale(APFloat(0.5));
  LayerTape tape = tapeFor(ctx);
  ctx.tape[layer] = tape;
  ASSERT_TRUE(succeeded(cast<VjpOpInterface>(layer.getOperation())
                            .buildVjp(ctx, ValueRange{ctx.pool[3]})));
  EXPECT_EQ(ctx.paramGrads, oneGradPerParameter(1));
  ASSERT_EQ(ctx.cotangentsTo.size(), 1u);
  EXPECT_EQ(ctx.cotangentsTo[0], layer.getInput());
  // Attention is differentiated at its RoPE'd q and k, its v and output.
  EXPECT_EQ(ctx.attentionInputs,
            (std::vector<Value>{tape.q, tape.k, tape.v, tape.attn}));
  EXPECT_EQ(ctx.ropeHeads, (std::vector<int64_t>{4, 2}));
  // Both norms scaled by the layer's LayerNorm-Scaling factor.
  EXPECT_EQ(ctx.normScales, (std::vector<double>{0.5, 0.5}));
  // The rule reads the forward only through its tape.
  EXPECT_TRUE(ctx.forwardReads.empty());
}

TEST_F(VjpRules, FusedProjectionsDifferentiateThroughOneGemmEach) {
  RecordingContext ctx(model);
  LayerOp layer = layers[0];
  LayerTape tape = tapeFor(ctx);
  tape.up = tape.gate; // the one gate|up GEMM output: fused projections
  ASSERT_TRUE(tape.fusedProjections());
  ctx.tape[layer] = tape;
  ASSERT_TRUE(succeeded(cast<VjpOpInterface>(layer.getOperation())
                            .buildVjp(ctx, ValueRange{ctx.pool[3]})));
  // Still one gradient per parameter (blocks of the fused ones' rows).
  EXPECT_EQ(ctx.paramGrads, oneGradPerParameter(0));
  // gate|up and q|k|v: one concatenation (one GEMM operand) each; RoPE's
  // VJP is inside the fused dY kernel, not a rule call of its own.
  EXPECT_EQ(ctx.concatSizes, (std::vector<size_t>{2, 3}));
  EXPECT_TRUE(ctx.ropeHeads.empty());
  EXPECT_EQ(llvm::count(ctx.made, "dq|dk|dv"), 1);
  EXPECT_EQ(llvm::count(ctx.made, "dgate|dup"), 1);
  EXPECT_EQ(llvm::count(ctx.made, "dgate"), 0);
}

TEST_F(VjpRules, LayerRejectsAMissingTapeAndAnalysisRewrites) {
  std::vector<std::string> errors;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
    errors.push_back(d.str());
    return success();
  });
  RecordingContext ctx(model);
  auto rule = cast<VjpOpInterface>(layers[0].getOperation());
  EXPECT_TRUE(failed(rule.buildVjp(ctx, ValueRange{ctx.pool[0]})));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("recorded no tape"), std::string::npos) << errors[0];
  layers[0].setSkip(true);
  ctx.tape[layers[0]] = tapeFor(ctx);
  EXPECT_TRUE(failed(rule.buildVjp(ctx, ValueRange{ctx.pool[0]})));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[1].find("differentiates plain layers"), std::string::npos)
      << errors[1];
}

} // namespace
