//===- InitialisersTest.cpp - zero and scaled initialisers through growth -===//
//
// rebuildLayers with LayerSource::outputScale (what block expansion builds
// on): how the output projections' initialisers compose over repeated
// growth, and how migrateCheckpoint writes them: zeros, exact f32 products,
// bf16 products rounded to nearest even, moments by the copy flag. The
// expected values are computed here independently of the runtime's
// converters.
//
//===----------------------------------------------------------------------===//

#include "growc/Growth/LayerSurgery.h"
#include "growc/Growth/MigrateCheckpoint.h"
#include "growc/Import/HFConfig.h"
#include "growc/runtime/Checkpoint.h"
#include "growc/runtime/Safetensors.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/SymbolTable.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <unistd.h>

using namespace mlir;
using namespace growc;
using namespace growc::grow;
namespace rt = growc::rt;

namespace {

constexpr const char *kConfig = R"({
  "vocab_size": 32, "hidden_size": 16, "intermediate_size": 24,
  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
  "head_dim": 4, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
  "rope_theta": 10000.0, "tie_word_embeddings": true
})";

constexpr const char *kOProj = "self_attn.o_proj.weight";
constexpr const char *kDownProj = "mlp.down_proj.weight";
constexpr const char *kQProj = "self_attn.q_proj.weight";

class Initialisers : public ::testing::Test {
protected:
  void SetUp() override { context.loadDialect<GrowDialect>(); }

  ModelOp import(const char *paramDType = "f32") {
    ImportOptions options;
    options.blockSize = 1;
    options.paramDType = paramDType;
    auto imported = importHFConfig(&context, kConfig, options);
    EXPECT_TRUE(bool(imported)) << llvm::toString(imported.takeError());
    module = std::move(imported->module);
    return *module->getOps<ModelOp>().begin();
  }

  ParamOp param(ModelOp model, int64_t layer, const char *suffix) {
    auto op = SymbolTable::lookupNearestSymbolFrom<ParamOp>(
        model, StringAttr::get(&context, layerParamName(layer, suffix)));
    EXPECT_TRUE(op) << layerParamName(layer, suffix);
    return op;
  }

  /// "copy zero from L", "copy x0.25 from L", "from L": a parameter's
  /// provenance and initialiser in one comparable string.
  std::string provenance(ModelOp model, int64_t layer, const char *suffix) {
    ParamOp p = param(model, layer, suffix);
    std::string out = p.getCopy() ? "copy " : "";
    if (p.getZero())
      out += "zero ";
    if (p.getScale())
      out += "x" + std::to_string(p.getScale()->convertToDouble()) + " ";
    auto source = parseLayerParamName(*p.getSource());
    return out + "from " + std::to_string(source->first);
  }

  /// Runs rebuildLayers and returns the error it reported ("" on success).
  std::string rebuild(ModelOp model, ArrayRef<LayerSource> layers) {
    std::string message;
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      message = diag.str();
      return success();
    });
    bool ok = succeeded(rebuildLayers(model, layers, /*blockSize=*/1));
    EXPECT_EQ(ok, message.empty()) << message;
    return message;
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
};

TEST_F(Initialisers, OutputScaleComposesOverGrowth) {
  ModelOp model = import();
  ASSERT_EQ(rebuild(model, {{0, false}, {1, false}, {1, true, 0.5}}), "");
  // Only the output projections are scaled; the whole layer is a copy.
  EXPECT_EQ(provenance(model, 2, kOProj), "copy x0.500000 from 1");
  EXPECT_EQ(provenance(model, 2, kDownProj), "copy x0.500000 from 1");
  EXPECT_EQ(provenance(model, 2, kQProj), "copy from 1");
  EXPECT_EQ(provenance(model, 1, kOProj), "from 1");

  // Scales multiply; a product of 1 is a plain copy; a scale of 0 is zero,
  // and makes even a layer kept in place (isCopy false) a copy.
  ASSERT_EQ(rebuild(model, {{0, false},
                            {1, false},
                            {2, false},
                            {2, true, 0.5},
                            {2, true, 2.0},
                            {0, false, 0.0}}),
            "");
  EXPECT_EQ(provenance(model, 2, kOProj), "copy x0.500000 from 1");
  EXPECT_EQ(provenance(model, 3, kOProj), "copy x0.250000 from 1");
  EXPECT_EQ(provenance(model, 4, kDownProj), "copy from 1");
  EXPECT_FALSE(param(model, 4, kDownProj).getScale());
  EXPECT_EQ(provenance(model, 5, kOProj), "copy zero from 0");
  EXPECT_EQ(provenance(model, 5, kQProj), "copy from 0");

  // Zero stays zero whatever the next factor.
  ASSERT_EQ(rebuild(model, {{5, false}, {5, true, 3.0}}), "");
  EXPECT_EQ(provenance(model, 0, kDownProj), "copy zero from 0");
  EXPECT_EQ(provenance(model, 1, kDownProj), "copy zero from 0");
}

TEST_F(Initialisers, NonFiniteScalesAreErrors) {
  ModelOp model = import();
  EXPECT_NE(rebuild(model, {{0, false}, {1, true, INFINITY}})
                .find("the factor must be finite"),
            std::string::npos);
  ASSERT_EQ(rebuild(model, {{0, false}, {1, true, 1e300}}), "");
  EXPECT_NE(rebuild(model, {{0, false}, {1, true, 1e300}}).find("overflows"),
            std::string::npos);
}

/// Deterministic weights that are not round numbers, so that products
/// round.
float weightAt(size_t tensor, size_t i) {
  return std::sin(0.37f * float(i) + float(tensor)) * 0.173f;
}

class InitialiserMigration : public Initialisers {
protected:
  void SetUp() override {
    Initialisers::SetUp();
    dir = std::filesystem::temp_directory_path() /
          ("growc-initialisers-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  /// Writes `model`'s checkpoint (weights in `dtype`, f32 moments m = w + 1
  /// and v = w * w) and returns the f32 weights by name.
  std::map<std::string, std::vector<float>> writeCheckpoint(ModelOp model,
                                                            rt::DType dtype) {
    std::map<std::string, std::vector<float>> weights;
    std::deque<std::vector<uint8_t>> storage;
    std::vector<rt::TensorToWrite> tensors;
    auto add = [&](std::string name, rt::DType type, std::vector<int64_t> shape,
                   const std::vector<float> &values) {
      std::vector<uint8_t> &bytes = storage.emplace_back();
      for (float value : values) {
        uint32_t bits;
        std::memcpy(&bits, &value, 4);
        if (type == rt::DType::BF16) {
          bytes.push_back(uint8_t(bits >> 16));
          bytes.push_back(uint8_t(bits >> 24));
        } else {
          bytes.insert(bytes.end(), {uint8_t(bits), uint8_t(bits >> 8),
                                     uint8_t(bits >> 16), uint8_t(bits >> 24)});
        }
      }
      tensors.push_back({std::move(name), type, std::move(shape), bytes.data(),
                         bytes.size()});
    };
    size_t index = 0;
    for (ParamOp p : model.getParams()) {
      auto shape = llvm::to_vector(p.getTensorType().getShape());
      std::vector<float> values(p.getTensorType().getNumElements());
      for (size_t i = 0; i < values.size(); ++i) {
        values[i] = weightAt(index, i);
        if (dtype == rt::DType::BF16) // representable in bf16
          values[i] = bf16ToFloat(uint16_t(floatBits(values[i]) >> 16));
      }
      std::vector<float> m(values), v(values);
      for (size_t i = 0; i < values.size(); ++i) {
        m[i] += 1.0f;
        v[i] *= values[i];
      }
      std::string name = p.getSymName().str();
      add(name, dtype, {shape.begin(), shape.end()}, values);
      add("optimizer.exp_avg." + name, rt::DType::F32,
          {shape.begin(), shape.end()}, m);
      add("optimizer.exp_avg_sq." + name, rt::DType::F32,
          {shape.begin(), shape.end()}, v);
      weights[name] = values;
      ++index;
    }
    rt::Status written = rt::writeSafetensors(input(), tensors);
    EXPECT_TRUE(written.isOk()) << written.message();
    return weights;
  }

  static uint32_t floatBits(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    return bits;
  }
  static float bf16ToFloat(uint16_t half) {
    uint32_t bits = uint32_t(half) << 16;
    float value;
    std::memcpy(&value, &bits, 4);
    return value;
  }

  /// Reads tensor `name` of the migrated checkpoint as f32 values.
  std::vector<float> read(const rt::Checkpoint &file, const std::string &name) {
    const rt::TensorView *view = file.find(name);
    EXPECT_TRUE(view) << name;
    if (!view)
      return {};
    std::vector<float> values(view->numElements());
    for (size_t i = 0; i < values.size(); ++i) {
      if (view->dtype == rt::DType::BF16) {
        uint16_t half;
        std::memcpy(&half, view->data + 2 * i, 2);
        values[i] = bf16ToFloat(half);
      } else {
        std::memcpy(&values[i], view->data + 4 * i, 4);
      }
    }
    return values;
  }

  std::string input() const { return (dir / "in.safetensors").string(); }
  std::string output() const { return (dir / "out.safetensors").string(); }

  std::filesystem::path dir;
};

TEST_F(InitialiserMigration, ZeroAndScaledF32) {
  ModelOp before = import();
  auto weights = writeCheckpoint(before, rt::DType::F32);
  OwningOpRef<ModuleOp> grown = module->clone();
  ModelOp after = *grown->getOps<ModelOp>().begin();
  ASSERT_EQ(
      rebuild(after, {{0, false}, {1, false}, {1, true, 0.0}, {0, true, 0.1}}),
      "");

  for (bool zeroMoments : {false, true}) {
    MigrationOptions options;
    options.zeroCopiedMoments = zeroMoments;
    auto report = migrateCheckpoint(before, after, input(), output(), options);
    ASSERT_TRUE(bool(report)) << llvm::toString(report.takeError());
    EXPECT_EQ(report->weightsWritten, 2 + 4 * kLayerParamSuffixes.size());
    EXPECT_EQ(report->weightsZeroed, 2u);
    EXPECT_EQ(report->weightsScaled, 2u);
    auto file = rt::Checkpoint::open(output());
    ASSERT_TRUE(file.isOk()) << file.status().message();

    for (const char *suffix : {kOProj, kDownProj}) {
      std::string name = layerParamName(2, suffix);
      for (float value : read(*file, name))
        ASSERT_EQ(floatBits(value), 0u) << name;
      // Exactly float(0.1) * w in f32, as torch's `w * 0.1` computes it.
      const std::vector<float> &source = weights[layerParamName(0, suffix)];
      std::vector<float> scaled = read(*file, layerParamName(3, suffix));
      ASSERT_EQ(scaled.size(), source.size());
      for (size_t i = 0; i < source.size(); ++i)
        ASSERT_EQ(floatBits(scaled[i]), floatBits(source[i] * 0.1f)) << i;
      // Moments follow the copy flag, not the initialiser.
      std::vector<float> m = read(*file, "optimizer.exp_avg." + name);
      std::vector<float> sourceM(weights[layerParamName(1, suffix)]);
      for (float &value : sourceM)
        value += 1.0f;
      EXPECT_EQ(m, zeroMoments ? std::vector<float>(m.size(), 0.0f) : sourceM);
    }
    // The rest of a scaled layer is a plain copy.
    EXPECT_EQ(read(*file, layerParamName(3, kQProj)),
              weights[layerParamName(0, kQProj)]);
  }
}

TEST_F(InitialiserMigration, ScaledBf16RoundsToNearestEven) {
  ModelOp before = import("bf16");
  auto weights = writeCheckpoint(before, rt::DType::BF16);
  OwningOpRef<ModuleOp> grown = module->clone();
  ModelOp after = *grown->getOps<ModelOp>().begin();
  ASSERT_EQ(rebuild(after, {{0, false}, {1, false}, {1, true, 0.3}}), "");
  auto report =
      migrateCheckpoint(before, after, input(), output(), MigrationOptions());
  ASSERT_TRUE(bool(report)) << llvm::toString(report.takeError());
  EXPECT_EQ(report->weightsScaled, 2u);
  auto file = rt::Checkpoint::open(output());
  ASSERT_TRUE(file.isOk()) << file.status().message();
  const rt::TensorView *view = file->find(layerParamName(2, kOProj));
  ASSERT_TRUE(view);
  EXPECT_EQ(view->dtype, rt::DType::BF16);
  const std::vector<float> &source = weights[layerParamName(1, kOProj)];
  std::vector<float> scaled = read(*file, layerParamName(2, kOProj));
  size_t roundedUp = 0;
  for (size_t i = 0; i < source.size(); ++i) {
    // The f32 product, rounded to nearest even on the low 16 bits.
    uint32_t bits = floatBits(source[i] * 0.3f);
    uint32_t rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16;
    roundedUp += rounded != bits >> 16;
    ASSERT_EQ(floatBits(scaled[i]), rounded << 16) << i;
  }
  EXPECT_GT(roundedUp, 0u); // the data exercises rounding, not truncation
}

} // namespace
