//===- CheckpointTest.cpp - Hub checkpoints: shards, dtypes, extra tensors ===//
//
// Checkpoint::open on the three forms save_pretrained writes (one file, an
// index of shards, a directory holding either) and one test per rule the
// index is checked by; the exact bf16/f16 widening over every bit pattern;
// planParamLoad's rules for what a checkpoint may hold beside a plan's
// parameters (the tied head, RoPE buffers, training state) and in which
// dtypes.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Checkpoint.h"
#include "growc/runtime/Executor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

using namespace growc::rt;
namespace fs = std::filesystem;

namespace {

class CheckpointTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl =
        (fs::temp_directory_path() / "growc-ckpt-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  std::string file(const std::string &name) const {
    return (fs::path(dir) / name).string();
  }

  void writeText(const std::string &name, const std::string &text) const {
    std::ofstream(file(name)) << text;
  }

  /// A shard holding f32 tensors of `count` elements named `names`.
  void writeShard(const std::string &name,
                  const std::vector<std::string> &names, int64_t count = 2) {
    std::vector<float> values(count, 1.5f);
    std::vector<TensorToWrite> tensors;
    for (const std::string &tensor : names)
      tensors.push_back(
          {tensor, DType::F32, {count}, values.data(), size_t(count) * 4});
    ASSERT_TRUE(
        writeSafetensors(file(name), tensors, {{"format", "pt"}}).isOk());
  }

  /// An index naming, for each tensor, its shard.
  void writeIndex(const std::string &name,
                  const std::vector<std::pair<std::string, std::string>> &map) {
    std::string text = "{\"metadata\": {\"total_size\": 16}, \"weight_map\": {";
    for (size_t i = 0; i < map.size(); ++i)
      text +=
          (i ? ", \"" : "\"") + map[i].first + "\": \"" + map[i].second + "\"";
    writeText(name, text + "}}");
  }

  /// Opens `path`, expecting an error containing every one of `parts`.
  void expectOpenFails(const std::string &path,
                       const std::vector<std::string> &parts) {
    StatusOr<Checkpoint> opened = Checkpoint::open(path);
    ASSERT_FALSE(opened.isOk());
    for (const std::string &part : parts)
      EXPECT_NE(opened.status().message().find(part), std::string::npos)
          << "'" << part << "' not in: " << opened.status().message();
  }

  std::string dir;
};

//===----------------------------------------------------------------------===//
// The index and the three forms
//===----------------------------------------------------------------------===//

TEST(CheckpointIndexTest, ParsesWeightMap) {
  auto entries = parseCheckpointIndex(
      R"({"metadata": {"total_size": 8}, "weight_map": {"b": "s2.safetensors",
          "a": "sub/s1.safetensors"}})",
      "i.json");
  ASSERT_TRUE(entries.isOk()) << entries.status().message();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].tensor, "a");
  EXPECT_EQ((*entries)[0].shard, "sub/s1.safetensors");
  EXPECT_EQ((*entries)[1].shard, "s2.safetensors");
}

TEST(CheckpointIndexTest, RejectsMalformedIndexes) {
  struct Case {
    const char *text, *expected;
  } cases[] = {
      {"[1]", "a checkpoint index is a JSON object"},
      {R"({"metadata": {}})", "no \"weight_map\""},
      {R"({"weight_map": {"a": 3}})", "entry 'a' must name a shard file"},
      {R"({"weight_map": {}})", "names no tensors"},
      {R"({"metadata": 5, "weight_map": {"a": "s"}})", "\"metadata\" must"},
      {R"({"weight_map": {"a": "/etc/s.safetensors"}})", "absolute path"},
      {R"({"weight_map": {"a": "../s.safetensors"}})", "leaves the"},
      {R"({"weight_map": {"a": "x/../../s.safetensors"}})", "leaves the"},
      {R"({"weight_map": {"a": ""}})", "is empty"},
      {R"({"weight_map": {"a": "s", "a": "t"}})", "duplicate key 'a'"},
  };
  for (const Case &c : cases) {
    auto entries = parseCheckpointIndex(c.text, "i.json");
    ASSERT_FALSE(entries.isOk()) << c.text;
    EXPECT_NE(entries.status().message().find(c.expected), std::string::npos)
        << entries.status().message();
    EXPECT_EQ(entries.status().message().rfind("i.json: ", 0), 0u);
  }
  // A name with ".." inside is a file name, not a parent directory.
  EXPECT_TRUE(
      parseCheckpointIndex(R"({"weight_map": {"a": "s..x"}})", "i").isOk());
}

TEST_F(CheckpointTest, OpensShardsThroughTheIndex) {
  writeShard("model-00001-of-00002.safetensors", {"a", "c"});
  writeShard("model-00002-of-00002.safetensors", {"b"});
  writeIndex("model.safetensors.index.json",
             {{"a", "model-00001-of-00002.safetensors"},
              {"b", "model-00002-of-00002.safetensors"},
              {"c", "model-00001-of-00002.safetensors"}});
  for (const std::string &path : {file("model.safetensors.index.json"), dir}) {
    StatusOr<Checkpoint> opened = Checkpoint::open(path);
    ASSERT_TRUE(opened.isOk()) << opened.status().message();
    ASSERT_EQ(opened->tensors().size(), 3u);
    EXPECT_EQ(opened->tensors()[1].name, "b");
    EXPECT_EQ(opened->fileOf(*opened->find("b")),
              file("model-00002-of-00002.safetensors"));
    EXPECT_EQ(opened->fileOf(*opened->find("c")),
              file("model-00001-of-00002.safetensors"));
    float value;
    std::memcpy(&value, opened->find("c")->data, 4);
    EXPECT_EQ(value, 1.5f);
    ASSERT_EQ(opened->metadata().size(), 1u);
    EXPECT_EQ(opened->metadata()[0].second, "pt");
    EXPECT_EQ(opened->path(), path);
  }
}

TEST_F(CheckpointTest, DirectoryWithOneFile) {
  writeShard("model.safetensors", {"w"});
  StatusOr<Checkpoint> opened = Checkpoint::open(dir);
  ASSERT_TRUE(opened.isOk()) << opened.status().message();
  EXPECT_TRUE(opened->find("w"));
  EXPECT_EQ(opened->fileOf(*opened->find("w")), file("model.safetensors"));
}

TEST_F(CheckpointTest, DirectoryRules) {
  expectOpenFails(dir, {dir, "must hold model.safetensors or "
                             "model.safetensors.index.json"});
  writeText("pytorch_model.bin", "pickle");
  expectOpenFails(dir, {"safe_serialization=True"});
  writeShard("model.safetensors", {"w"});
  writeShard("s.safetensors", {"w"});
  writeIndex("model.safetensors.index.json", {{"w", "s.safetensors"}});
  expectOpenFails(dir, {"holds both", "ambiguous"});
}

TEST_F(CheckpointTest, MissingShard) {
  writeShard("s1.safetensors", {"a"});
  writeIndex("i.json", {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}});
  expectOpenFails(file("i.json"),
                  {file("s2.safetensors"), "cannot open", "named by"});
}

TEST_F(CheckpointTest, TensorInTheWrongShard) {
  writeShard("s1.safetensors", {"a", "b"});
  writeShard("s2.safetensors", {"c"});
  writeIndex("i.json", {{"a", "s1.safetensors"},
                        {"b", "s2.safetensors"},
                        {"c", "s2.safetensors"}});
  expectOpenFails(file("i.json"),
                  {file("s1.safetensors"), "tensor 'b'", "puts in"});
}

TEST_F(CheckpointTest, TensorInTwoShards) {
  writeShard("s1.safetensors", {"a", "b"});
  writeShard("s2.safetensors", {"b"});
  writeIndex("i.json", {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}});
  expectOpenFails(file("i.json"), {"tensor 'b'", "or in two"});
}

TEST_F(CheckpointTest, TensorTheIndexDoesNotList) {
  writeShard("s1.safetensors", {"a", "extra"});
  writeIndex("i.json", {{"a", "s1.safetensors"}});
  expectOpenFails(file("i.json"), {"tensor 'extra'", "does not list"});
}

TEST_F(CheckpointTest, ListedTensorMissingFromItsShard) {
  writeShard("s1.safetensors", {"a"});
  writeIndex("i.json", {{"a", "s1.safetensors"}, {"b", "s1.safetensors"}});
  expectOpenFails(file("i.json"),
                  {"puts tensor 'b' in 's1.safetensors'", "does not hold"});
}

TEST_F(CheckpointTest, ShardOutsideTheDirectoryIsNotOpened) {
  fs::create_directory(file("sub"));
  writeShard("outside.safetensors", {"a"});
  writeIndex("sub/i.json", {{"a", "../outside.safetensors"}});
  expectOpenFails(file("sub/i.json"), {"leaves the checkpoint's directory"});
}

TEST_F(CheckpointTest, ShardsDisagreeOnMetadata) {
  std::vector<float> v(2);
  ASSERT_TRUE(writeSafetensors(file("s1"),
                               {{"a", DType::F32, {2}, v.data(), 8}},
                               {{"format", "pt"}})
                  .isOk());
  ASSERT_TRUE(writeSafetensors(file("s2"),
                               {{"b", DType::F32, {2}, v.data(), 8}},
                               {{"format", "np"}})
                  .isOk());
  writeIndex("i.json", {{"a", "s1"}, {"b", "s2"}});
  expectOpenFails(file("i.json"), {"metadata 'format' differs"});
}

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

/// The value of bf16 / f16 bits by their definition, in double.
double halfValue(uint16_t bits, int mantissaBits, int bias) {
  int exponentMask = (1 << (15 - mantissaBits)) - 1;
  int exponent = (bits >> mantissaBits) & exponentMask;
  double mantissa = bits & ((1 << mantissaBits) - 1);
  double sign = (bits & 0x8000) ? -1.0 : 1.0;
  if (exponent == exponentMask)
    return mantissa ? NAN : sign * INFINITY;
  if (exponent == 0)
    return sign * std::ldexp(mantissa, 1 - bias - mantissaBits);
  return sign *
         std::ldexp(1.0 + std::ldexp(mantissa, -mantissaBits), exponent - bias);
}

void expectWidening(float (*widen)(uint16_t), int mantissaBits, int bias) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float wide = widen(uint16_t(bits));
    double expected = halfValue(uint16_t(bits), mantissaBits, bias);
    uint32_t wideBits;
    std::memcpy(&wideBits, &wide, 4);
    EXPECT_EQ(wideBits >> 31, bits >> 15) << bits; // sign, -0 and NaNs too
    if (std::isnan(expected)) {
      ASSERT_TRUE(std::isnan(wide)) << bits;
      // The payload moves up with the mantissa.
      EXPECT_EQ((wideBits >> (23 - mantissaBits)) & ((1u << mantissaBits) - 1),
                bits & ((1u << mantissaBits) - 1))
          << bits;
    } else {
      ASSERT_EQ(double(wide), expected) << bits;
    }
  }
}

TEST(CheckpointDTypeTest, Bf16WidensExactly) {
  expectWidening(widenBf16, 7, 127);
  EXPECT_EQ(widenBf16(0x0001), std::ldexp(1.0f, -133)); // smallest subnormal
}

TEST(CheckpointDTypeTest, F16WidensExactly) {
  expectWidening(widenF16, 10, 15);
  EXPECT_EQ(widenF16(0x0001), std::ldexp(1.0f, -24)); // subnormal in f16 only
  EXPECT_EQ(widenF16(0x7bff), 65504.0f);
}

TEST(CheckpointDTypeTest, ConvertsOnlyExactly) {
  EXPECT_TRUE(convertsExactly(DType::BF16, DType::F32));
  EXPECT_TRUE(convertsExactly(DType::F16, DType::F32));
  EXPECT_TRUE(convertsExactly(DType::BF16, DType::BF16));
  EXPECT_FALSE(convertsExactly(DType::F32, DType::BF16));
  EXPECT_FALSE(convertsExactly(DType::F16, DType::BF16));
  EXPECT_FALSE(convertsExactly(DType::BF16, DType::F16));
  EXPECT_FALSE(convertsExactly(DType::F64, DType::F32));
}

TEST(CheckpointDTypeTest, ConvertTensorReadsUnalignedData) {
  // bf16 1.0, -2.5, +inf at an odd address.
  uint8_t raw[7] = {0, 0x80, 0x3f, 0x20, 0xc0, 0x80, 0x7f};
  TensorView view{"t", DType::BF16, {3}, raw + 1, 6};
  float out[3];
  convertTensor(view, DType::F32, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.5f);
  EXPECT_EQ(out[2], INFINITY);
}

//===----------------------------------------------------------------------===//
// planParamLoad
//===----------------------------------------------------------------------===//

/// A model of two parameters (embedding [3, 2], norm [2]), tied unless
/// `untied`, with the AdamW first moment of the norm.
Plan tinyPlan(DType dtype = DType::F32, bool untied = false) {
  Plan plan;
  plan.model = "tiny";
  plan.path = "tiny.plan.json";
  auto add = [&](const std::string &name, DType type,
                 std::vector<int64_t> shape) {
    PlanParam param;
    param.name = name;
    param.dtype = type;
    param.shape = shape;
    param.numElements = 1;
    for (int64_t d : shape)
      param.numElements *= d;
    param.byteSize = param.numElements * int64_t(dtypeSize(type));
    param.buffer = int64_t(plan.params.size());
    plan.params.push_back(param);
  };
  add(kEmbedName, dtype, {3, 2});
  add("model.norm.weight", dtype, {2});
  if (untied)
    add(kLmHeadName, dtype, {3, 2});
  add("optimizer.exp_avg.model.norm.weight", DType::F32, {2});
  return plan;
}

/// bf16 bits of small exact values.
uint16_t bf16Of(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return uint16_t(bits >> 16);
}

class PlanParamLoadTest : public CheckpointTest {
protected:
  PlanParamLoadTest() {
    for (int i = 0; i < 6; ++i)
      embed.push_back(bf16Of(float(i) - 2.5f));
    norm = {bf16Of(1.0f), bf16Of(-0.0f)};
  }

  /// A checkpoint of the bf16 embedding and norm plus `extra`.
  StatusOr<Checkpoint> open(const std::vector<TensorToWrite> &extra = {}) {
    std::vector<TensorToWrite> tensors = {
        {kEmbedName, DType::BF16, {3, 2}, embed.data(), 12},
        {"model.norm.weight", DType::BF16, {2}, norm.data(), 4}};
    tensors.insert(tensors.end(), extra.begin(), extra.end());
    Status written = writeSafetensors(file("c.safetensors"), tensors);
    if (!written.isOk())
      return written;
    return Checkpoint::open(file("c.safetensors"));
  }

  void expectLoadFails(const Plan &plan,
                       const std::vector<TensorToWrite> &extra,
                       const std::vector<std::string> &parts) {
    StatusOr<Checkpoint> checkpoint = open(extra);
    ASSERT_TRUE(checkpoint.isOk()) << checkpoint.status().message();
    auto loads = planParamLoad(plan, *checkpoint);
    ASSERT_FALSE(loads.isOk());
    for (const std::string &part : parts)
      EXPECT_NE(loads.status().message().find(part), std::string::npos)
          << "'" << part << "' not in: " << loads.status().message();
  }

  std::vector<uint16_t> embed, norm;
};

TEST_F(PlanParamLoadTest, Bf16IntoF32MasterWeights) {
  Plan plan = tinyPlan();
  StatusOr<Checkpoint> checkpoint = open();
  ASSERT_TRUE(checkpoint.isOk()) << checkpoint.status().message();
  auto loads = planParamLoad(plan, *checkpoint);
  ASSERT_TRUE(loads.isOk()) << loads.status().message();
  ASSERT_EQ(loads->size(), 3u);
  std::vector<float> values(6, 99.0f);
  (*loads)[0].writeTo(values.data());
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(values[i], float(i) - 2.5f);
  (*loads)[1].writeTo(values.data());
  EXPECT_EQ(values[0], 1.0f);
  EXPECT_TRUE(std::signbit(values[1]));
  // The moment the checkpoint lacks starts at zero.
  EXPECT_EQ((*loads)[2].tensor, nullptr);
  (*loads)[2].writeTo(values.data());
  EXPECT_EQ(values[0], 0.0f);
}

TEST_F(PlanParamLoadTest, Bf16PlanTakesBf16AsItIs) {
  Plan plan = tinyPlan(DType::BF16);
  StatusOr<Checkpoint> checkpoint = open();
  ASSERT_TRUE(checkpoint.isOk());
  auto loads = planParamLoad(plan, *checkpoint);
  ASSERT_TRUE(loads.isOk()) << loads.status().message();
  std::vector<uint16_t> out(6);
  (*loads)[0].writeTo(out.data());
  EXPECT_EQ(out, embed);
}

TEST_F(PlanParamLoadTest, NoRoundingOnLoad) {
  Plan plan = tinyPlan(DType::BF16);
  std::vector<float> wide(6);
  std::vector<TensorToWrite> none;
  // An f32 checkpoint for a bf16 plan: refused, saying what to do.
  std::vector<float> f32Norm = {1.0f, 2.0f};
  std::vector<TensorToWrite> tensors = {
      {kEmbedName, DType::F32, {3, 2}, wide.data(), 24},
      {"model.norm.weight", DType::F32, {2}, f32Norm.data(), 8}};
  ASSERT_TRUE(writeSafetensors(file("f.safetensors"), tensors).isOk());
  StatusOr<Checkpoint> checkpoint = Checkpoint::open(file("f.safetensors"));
  ASSERT_TRUE(checkpoint.isOk());
  auto loads = planParamLoad(plan, *checkpoint);
  ASSERT_FALSE(loads.isOk());
  EXPECT_NE(loads.status().message().find(
                "is F32, the plan expects BF16: growc does not round"),
            std::string::npos)
      << loads.status().message();
  EXPECT_NE(loads.status().message().find("--param-dtype f32"),
            std::string::npos);
  // bf16 into an f16 plan would overflow: refused too.
  expectLoadFails(tinyPlan(DType::F16), none,
                  {"is BF16, the plan expects F16"});
}

TEST_F(PlanParamLoadTest, TiedHeadEqualToTheEmbeddingIsAccepted) {
  // Saved in f32 while the embedding is bf16: equal after conversion.
  std::vector<float> head(6);
  for (int i = 0; i < 6; ++i)
    head[i] = float(i) - 2.5f;
  StatusOr<Checkpoint> checkpoint =
      open({{kLmHeadName, DType::F32, {3, 2}, head.data(), 24}});
  ASSERT_TRUE(checkpoint.isOk());
  Plan plan = tinyPlan();
  auto loads = planParamLoad(plan, *checkpoint);
  EXPECT_TRUE(loads.isOk()) << loads.status().message();
}

TEST_F(PlanParamLoadTest, TiedHeadThatDiffersIsRefused) {
  std::vector<uint16_t> head = embed;
  head[5] = bf16Of(7.0f);
  expectLoadFails(tinyPlan(),
                  {{kLmHeadName, DType::BF16, {3, 2}, head.data(), 12}},
                  {file("c.safetensors"),
                   "'lm_head.weight' differs from "
                   "'model.embed_tokens.weight' at [2, 1]",
                   "tie_word_embeddings"});
  std::vector<uint16_t> transposed(6);
  expectLoadFails(tinyPlan(),
                  {{kLmHeadName, DType::BF16, {2, 3}, transposed.data(), 12}},
                  {"has shape [2, 3]", "tie_word_embeddings"});
}

TEST_F(PlanParamLoadTest, UntiedPlanNeedsItsHead) {
  StatusOr<Checkpoint> checkpoint = open();
  ASSERT_TRUE(checkpoint.isOk());
  Plan plan = tinyPlan(DType::F32, /*untied=*/true);
  auto loads = planParamLoad(plan, *checkpoint);
  ASSERT_FALSE(loads.isOk());
  EXPECT_NE(loads.status().message().find("missing parameter 'lm_head.weight'"),
            std::string::npos);
}

TEST_F(PlanParamLoadTest, RopeBuffersAreIgnored) {
  std::vector<float> invFreq(2, 1.0f);
  std::vector<TensorToWrite> buffers;
  for (const char *name : {"model.rotary_emb.inv_freq",
                           "model.layers.0.self_attn.rotary_emb.inv_freq",
                           "model.layers.17.self_attn.rotary_emb.cos_cached"})
    buffers.push_back({name, DType::F32, {2}, invFreq.data(), 8});
  StatusOr<Checkpoint> checkpoint = open(buffers);
  ASSERT_TRUE(checkpoint.isOk());
  Plan plan = tinyPlan();
  auto loads = planParamLoad(plan, *checkpoint);
  EXPECT_TRUE(loads.isOk()) << loads.status().message();
  // Near misses are still unknown tensors.
  for (const char *name : {"model.layers.x.self_attn.rotary_emb.inv_freq",
                           "model.layers.0.mlp.rotary_emb.inv_freq",
                           "rotary_emb.inv_freq", "model.rotary_emb.weight"}) {
    EXPECT_FALSE(isIgnoredBuffer(name)) << name;
    expectLoadFails(tinyPlan(), {{name, DType::F32, {2}, invFreq.data(), 8}},
                    {"tensor '" + std::string(name) +
                     "' is not a parameter of model 'tiny'"});
  }
}

TEST_F(PlanParamLoadTest, TrainingStateIsAccepted) {
  std::vector<float> moment(2, 0.25f);
  int64_t step = 3;
  StatusOr<Checkpoint> checkpoint =
      open({{"optimizer.exp_avg.model.norm.weight",
             DType::F32,
             {2},
             moment.data(),
             8},
            {"growc.train.step", DType::I64, {1}, &step, 8}});
  ASSERT_TRUE(checkpoint.isOk());
  Plan plan = tinyPlan();
  auto loads = planParamLoad(plan, *checkpoint);
  ASSERT_TRUE(loads.isOk()) << loads.status().message();
  std::vector<float> out(2);
  (*loads)[2].writeTo(out.data());
  EXPECT_EQ(out[0], 0.25f);
}

TEST_F(PlanParamLoadTest, UnknownTensorNamesItsShard) {
  std::vector<uint16_t> e = embed, n = norm, other(2);
  ASSERT_TRUE(writeSafetensors(
                  file("s1"), {{kEmbedName, DType::BF16, {3, 2}, e.data(), 12}})
                  .isOk());
  ASSERT_TRUE(
      writeSafetensors(file("s2"),
                       {{"model.norm.weight", DType::BF16, {2}, n.data(), 4},
                        {"model.extra", DType::BF16, {2}, other.data(), 4}})
          .isOk());
  writeIndex(
      "i.json",
      {{kEmbedName, "s1"}, {"model.norm.weight", "s2"}, {"model.extra", "s2"}});
  StatusOr<Checkpoint> checkpoint = Checkpoint::open(file("i.json"));
  ASSERT_TRUE(checkpoint.isOk()) << checkpoint.status().message();
  Plan plan = tinyPlan();
  auto loads = planParamLoad(plan, *checkpoint);
  ASSERT_FALSE(loads.isOk());
  EXPECT_EQ(loads.status().message().rfind(file("s2") + ": tensor "
                                                        "'model.extra' is not "
                                                        "a parameter",
                                           0),
            0u)
      << loads.status().message();
}

} // namespace
