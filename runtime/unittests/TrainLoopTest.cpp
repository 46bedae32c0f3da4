//===- TrainLoopTest.cpp - Tests of the training loop ---------------------===//
//
// runTrainLoop (TrainLoop.h) on the toy model of ToyModel.h made trainable
// in plain C++: logits = (embed[token] * scale_0 * ... * scale_{L-1}) .
// lm_head^T + 1, mean cross-entropy, AdamW; its L "layers" are the scale
// vectors model.layers.<i>.scale, so that a growth stage has more of them.
// The data is a learnable task (target = 2 * token + 1 mod V) whose
// stream seeks by position like the real ones. The tests check what the
// loop promises: the loss falls, a run stopped and resumed from its
// checkpoint ends bit for bit where an uninterrupted run ends, a growth
// step migrates weights and AdamW moments by the next plan's provenance, a
// non-finite step stops the run (or is skipped) without touching the last
// checkpoint, and the outputs (TrainOutputs.h) keep their promises: the
// lock, stale temporaries, metrics cut back on resume, run options.
//
//===----------------------------------------------------------------------===//

#include "ToyModel.h"

#include "growc/runtime/TrainLoop.h"
#include "growc/runtime/TrainOutputs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace growc::rt::test {
namespace {

//===----------------------------------------------------------------------===//
// The toy model, trainable
//===----------------------------------------------------------------------===//

std::string scaleName(int layer) {
  return "model.layers." + std::to_string(layer) + ".scale";
}

/// A train plan of the toy model with `layers` scale vectors; with
/// `grownFrom`, layers beyond it are inserted copies of the last one.
Plan toyTrainPlan(int layers, int grownFrom = 0) {
  Plan plan;
  plan.path = "toy-" + std::to_string(layers) + ".plan.json";
  plan.graph = "train";
  plan.target = "cpu";
  plan.model = "toy";
  plan.batch = kBatch;
  plan.seq = kSeq;
  plan.vocabSize = kVocab;
  auto add = [&](const std::string &name, std::vector<int64_t> shape,
                 const std::string &source, bool copy) {
    PlanParam param;
    param.name = name;
    param.shape = shape;
    param.numElements = 1;
    for (int64_t d : shape)
      param.numElements *= d;
    param.byteSize = param.numElements * 4;
    param.source = source;
    param.copy = copy;
    plan.params.push_back(param);
  };
  std::vector<std::string> names = {"model.embed_tokens.weight",
                                    "lm_head.weight"};
  add(names[0], {kVocab, kDim}, names[0], false);
  add(names[1], {kVocab, kDim}, names[1], false);
  for (int i = 0; i < layers; ++i) {
    bool inserted = grownFrom && i >= grownFrom;
    add(scaleName(i), {kDim}, scaleName(inserted ? grownFrom - 1 : i),
        inserted);
    names.push_back(scaleName(i));
  }
  for (const char *kind : {"optimizer.exp_avg.", "optimizer.exp_avg_sq."})
    for (const std::string &name : names) {
      const PlanParam *owner = plan.findParam(name);
      add(kind + name, owner->shape, "", false);
    }
  return plan;
}

/// The toy model's train step on the host, as an Executor.
class ToyTrainer : public Executor {
public:
  explicit ToyTrainer(Plan plan) : thePlan(std::move(plan)) {
    for (const PlanParam &param : thePlan.params)
      values[param.name].assign(param.numElements, 0.0f);
  }

  const Plan &plan() const override { return thePlan; }
  std::string describe() const override { return "toy trainer"; }
  void setCollective(Collective *) override {}

  Status loadParams(const Checkpoint &checkpoint) override {
    for (const PlanParam &param : thePlan.params) {
      std::vector<float> &value = values[param.name];
      const TensorView *tensor = checkpoint.find(param.name);
      if (!tensor) {
        if (param.name.rfind("optimizer.", 0) != 0)
          return Status::error("missing parameter " + param.name);
        std::fill(value.begin(), value.end(), 0.0f);
        continue;
      }
      if (tensor->byteSize != value.size() * 4)
        return Status::error(param.name + " has the wrong size");
      std::memcpy(value.data(), tensor->data, tensor->byteSize);
    }
    return Status::ok();
  }

  StatusOr<std::map<std::string, OutputTensor>>
  trainStep(const TensorView &tokens, const TensorView &targets,
            const std::map<std::string, float> &scalars, bool commit) override {
    // A poisoned step behaves like the train graph at a NaN loss: the
    // flag is set and nothing changes.
    if (commit && poisoned.count(int64_t(scalars.at("step")))) {
      lossValue = {NAN};
      flagValue = {1.0f};
      OutputTensor loss, flag;
      loss.shape = flag.shape = {1};
      loss.numElements = flag.numElements = 1;
      loss.data = lossValue.data();
      flag.data = flagValue.data();
      return std::map<std::string, OutputTensor>{{"loss", loss},
                                                 {"nonfinite", flag}};
    }
    std::map<std::string, std::vector<float>> grads;
    for (auto &[name, value] : values)
      grads[name].assign(value.size(), 0.0f);
    int layers = 0;
    while (values.count(scaleName(layers)))
      ++layers;
    std::vector<float> &embed = values["model.embed_tokens.weight"];
    std::vector<float> &head = values["lm_head.weight"];
    const auto *tok = reinterpret_cast<const int32_t *>(tokens.data);
    const auto *tgt = reinterpret_cast<const int32_t *>(targets.data);
    const int64_t n = kBatch * kSeq;
    float loss = 0;
    for (int64_t i = 0; i < n; ++i) {
      float scale[kDim], h[kDim], logits[kVocab], dh[kDim] = {};
      for (int d = 0; d < kDim; ++d) {
        scale[d] = 1.0f;
        for (int l = 0; l < layers; ++l)
          scale[d] *= values[scaleName(l)][d];
        h[d] = embed[tok[i] * kDim + d] * scale[d];
      }
      float max = -INFINITY, sum = 0;
      for (int v = 0; v < kVocab; ++v) {
        logits[v] = 1.0f;
        for (int d = 0; d < kDim; ++d)
          logits[v] += h[d] * head[v * kDim + d];
        max = std::max(max, logits[v]);
      }
      for (int v = 0; v < kVocab; ++v)
        sum += std::exp(logits[v] - max);
      loss += (std::log(sum) + max - logits[tgt[i]]) / float(n);
      for (int v = 0; v < kVocab; ++v) {
        float dl = (std::exp(logits[v] - max) / sum - (v == tgt[i])) / n;
        for (int d = 0; d < kDim; ++d) {
          grads["lm_head.weight"][v * kDim + d] += dl * h[d];
          dh[d] += dl * head[v * kDim + d];
        }
      }
      for (int d = 0; d < kDim; ++d) {
        float e = embed[tok[i] * kDim + d];
        grads["model.embed_tokens.weight"][tok[i] * kDim + d] +=
            dh[d] * scale[d];
        for (int l = 0; l < layers; ++l) {
          float others = 1.0f;
          for (int k = 0; k < layers; ++k)
            if (k != l)
              others *= values[scaleName(k)][d];
          grads[scaleName(l)][d] += dh[d] * e * others;
        }
      }
    }
    if (commit) {
      // AdamW without weight decay, at the step's learning rate.
      const float lr = scalars.at("lr"), t = scalars.at("step");
      const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
      for (auto &[name, value] : values) {
        if (name.rfind("optimizer.", 0) == 0)
          continue;
        std::vector<float> &m = values["optimizer.exp_avg." + name];
        std::vector<float> &v = values["optimizer.exp_avg_sq." + name];
        for (size_t k = 0; k < value.size(); ++k) {
          float g = grads[name][k];
          m[k] = b1 * m[k] + (1 - b1) * g;
          v[k] = b2 * v[k] + (1 - b2) * g * g;
          float mHat = m[k] / (1 - std::pow(b1, t));
          float vHat = v[k] / (1 - std::pow(b2, t));
          value[k] -= lr * mHat / (std::sqrt(vHat) + eps);
        }
      }
    }
    lossValue = {loss};
    OutputTensor out;
    out.shape = {1};
    out.data = lossValue.data();
    out.numElements = 1;
    return std::map<std::string, OutputTensor>{{"loss", out}};
  }

  StatusOr<std::vector<TensorToWrite>> readParams() override {
    std::vector<TensorToWrite> tensors;
    for (const PlanParam &param : thePlan.params) {
      const std::vector<float> &value = values.at(param.name);
      tensors.push_back({param.name, DType::F32, param.shape, value.data(),
                         value.size() * 4});
    }
    return tensors;
  }

  StatusOr<MigrationReport> migrateFrom(const Executor &previous,
                                        bool zeroCopiedMoments) override {
    const auto &from = static_cast<const ToyTrainer &>(previous);
    StatusOr<std::vector<ParamMove>> moves =
        planParamMigration(thePlan, from.plan(), zeroCopiedMoments);
    if (!moves.isOk())
      return moves.status();
    for (const ParamMove &move : *moves) {
      std::vector<float> &to = values[move.to->name];
      if (move.from)
        to = from.values.at(move.from->name);
      else
        std::fill(to.begin(), to.end(), 0.0f);
    }
    return reportOf(*moves);
  }

  const std::vector<float> &value(const std::string &name) const {
    return values.at(name);
  }

  /// 1-based steps at which the step is non-finite.
  std::set<int64_t> poisoned;

private:
  Plan thePlan;
  std::map<std::string, std::vector<float>> values;
  std::vector<float> lossValue, flagValue;
};

/// A learnable task: random tokens, target 2 * token + 1 mod V. The i-th
/// token of the stream is a function of the seed and i alone, so that
/// seek() is exact like the real streams'.
class LearnableStream : public TokenStream {
public:
  explicit LearnableStream(uint64_t seed) : seed(seed) {}
  void nextBatch(int64_t batch, int64_t seq, int32_t *tokens,
                 int32_t *targets) override {
    for (int64_t i = 0; i < batch * seq; ++i, ++pos) {
      uint64_t x =
          (seed + 1) * 0x9e3779b97f4a7c15ULL + pos * 0xbf58476d1ce4e5b9ULL;
      x ^= x >> 31;
      x *= 0x94d049bb133111ebULL;
      x ^= x >> 29;
      tokens[i] = int32_t(x % kVocab);
      targets[i] = (2 * tokens[i] + 1) % kVocab;
    }
  }
  uint64_t position() const override { return pos; }
  void seek(uint64_t position) override { pos = position; }

private:
  uint64_t seed, pos = 0;
};

//===----------------------------------------------------------------------===//
// Fixture
//===----------------------------------------------------------------------===//

class TrainLoopTest : public TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    collective = singleProcessCollective();
  }

  /// Writes the toy weights (scales at one) for a model of `layers`.
  std::string writeStart(int layers) {
    ToyWeights weights;
    std::vector<TensorToWrite> tensors = weights.tensors();
    ones.assign(kDim, 1.0f);
    std::vector<std::string> names;
    for (int i = 0; i < layers; ++i)
      names.push_back(scaleName(i));
    for (const std::string &name : names)
      tensors.push_back({name, DType::F32, {kDim}, ones.data(), kDim * 4});
    startWeights = weights;
    EXPECT_TRUE(writeSafetensors(file("start.safetensors"), tensors).isOk());
    return file("start.safetensors");
  }

  /// Runs the loop from `start` and returns its summary; every created
  /// executor is recorded in `made`.
  StatusOr<TrainSummary> train(const TrainPlans &plans,
                               const std::string &start,
                               const TrainLoopOptions &options,
                               const TrainCallbacks &callbacks = {}) {
    StatusOr<SafetensorsFile> file = SafetensorsFile::open(start);
    if (!file.isOk())
      return file.status();
    ExecutorFactory factory =
        [&](const Plan &plan) -> StatusOr<std::unique_ptr<Executor>> {
      auto trainer = std::make_unique<ToyTrainer>(plan);
      trainer->poisoned = poisonedSteps;
      made.push_back(trainer.get());
      return std::unique_ptr<Executor>(std::move(trainer));
    };
    DataOpener data = [](uint64_t seed,
                         bool) -> StatusOr<std::unique_ptr<TokenStream>> {
      return std::unique_ptr<TokenStream>(new LearnableStream(seed));
    };
    return runTrainLoop(plans, *file, factory, data, *collective, options,
                        callbacks);
  }

  /// Every tensor of the safetensors file at `path`, by name.
  std::map<std::string, std::vector<uint8_t>> read(const std::string &path) {
    std::map<std::string, std::vector<uint8_t>> tensors;
    StatusOr<SafetensorsFile> opened = SafetensorsFile::open(path);
    EXPECT_TRUE(opened.isOk()) << opened.status().message();
    if (!opened.isOk())
      return tensors;
    for (const TensorView &t : opened->tensors())
      tensors[t.name].assign(t.data, t.data + t.byteSize);
    return tensors;
  }

  TrainLoopOptions options(int64_t steps, const std::string &out) {
    TrainLoopOptions opts;
    opts.steps = steps;
    opts.lr = 0.05;
    opts.seed = 7;
    opts.out = file(out);
    return opts;
  }

  /// The model's tensors of a checkpoint, without the loop's state.
  std::map<std::string, std::vector<uint8_t>>
  modelTensors(const std::string &path) {
    auto tensors = read(path);
    for (auto it = tensors.begin(); it != tensors.end();)
      it = it->first.rfind("growc.train.", 0) == 0 ? tensors.erase(it)
                                                   : std::next(it);
    return tensors;
  }

  std::string readText(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::unique_ptr<Collective> collective;
  std::set<int64_t> poisonedSteps;
  std::vector<float> ones;
  ToyWeights startWeights;
  std::vector<ToyTrainer *> made;
};

TrainPlans plainRun(int layers) {
  TrainPlans plans;
  plans.stages.push_back(toyTrainPlan(layers));
  return plans;
}

TrainPlans growthRun(int64_t steps) {
  TrainPlans plans;
  plans.stages = {toyTrainPlan(1), toyTrainPlan(2, /*grownFrom=*/1)};
  ScheduleOptions schedule;
  schedule.totalSteps = steps;
  schedule.stages = 2;
  schedule.blockSize = 1;
  schedule.startBlocks = 1;
  StatusOr<GrowthSchedule> planned = planGrowthSchedule(schedule);
  EXPECT_TRUE(planned.isOk()) << planned.status().message();
  plans.schedule = *planned;
  return plans;
}

//===----------------------------------------------------------------------===//
// Tests
//===----------------------------------------------------------------------===//

TEST_F(TrainLoopTest, TheTrainerIsTheToyModel) {
  // With every scale at one, the trainer's logits are the toy graph's:
  // its loss on a batch is the cross-entropy of toyReference's logits.
  std::string start = writeStart(1);
  ToyTrainer trainer(toyTrainPlan(1));
  StatusOr<SafetensorsFile> file = SafetensorsFile::open(start);
  ASSERT_TRUE(file.isOk());
  ASSERT_TRUE(trainer.loadParams(*file).isOk());
  std::vector<int32_t> tokens = {0, 1, 2, 3, 4, 0},
                       targets = {1, 3, 0, 2, 4, 1};
  std::map<std::string, float> scalars = {{"lr", 0.0f}, {"step", 1.0f}};
  auto out = trainer.trainStep(int32View(tokens, "tokens"),
                               int32View(targets, "targets"), scalars,
                               /*commit=*/false);
  ASSERT_TRUE(out.isOk());
  ToyReference ref = toyReference(startWeights, tokens);
  double expected = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    double sum = 0;
    for (int v = 0; v < kVocab; ++v)
      sum += std::exp(double(ref.logits[i * kVocab + v]));
    expected += (std::log(sum) - ref.logits[i * kVocab + targets[i]]) / 6.0;
  }
  EXPECT_NEAR(out->at("loss").data[0], expected, 1e-5);
}

TEST_F(TrainLoopTest, LossFallsOnALearnableTask) {
  std::string start = writeStart(1);
  std::vector<double> losses;
  TrainCallbacks callbacks;
  callbacks.onStep = [&](const TrainStepReport &step) {
    EXPECT_EQ(step.step, int64_t(losses.size()) + 1);
    EXPECT_EQ(step.totalSteps, 120);
    losses.push_back(step.loss);
  };
  StatusOr<TrainSummary> summary =
      train(plainRun(1), start, options(120, "out.safetensors"), callbacks);
  ASSERT_TRUE(summary.isOk()) << summary.status().message();
  ASSERT_EQ(losses.size(), 120u);
  EXPECT_EQ(summary->firstLoss, losses.front());
  EXPECT_EQ(summary->lastLoss, losses.back());
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) {
    first += losses[i] / 10;
    last += losses[losses.size() - 1 - i] / 10;
  }
  // ln 5 = 1.61 is chance; the mapping is learnable, so the loss must
  // fall far below where it started.
  EXPECT_LT(last, 0.25 * first) << "first " << first << ", last " << last;
  // The checkpoint holds the trained weights and where the run ended.
  auto saved = read(file("out.safetensors"));
  ASSERT_TRUE(saved.count("growc.train.step"));
  int64_t step;
  std::memcpy(&step, saved["growc.train.step"].data(), 8);
  EXPECT_EQ(step, 120);
  EXPECT_FALSE(saved.count("growc.train.stage")); // not a growth run
  EXPECT_NE(saved["lm_head.weight"],
            std::vector<uint8_t>(
                reinterpret_cast<const uint8_t *>(startWeights.head.data()),
                reinterpret_cast<const uint8_t *>(startWeights.head.data()) +
                    kVocab * kDim * 4));
}

TEST_F(TrainLoopTest, ResumeEqualsAnUninterruptedRun) {
  std::string start = writeStart(1);
  TrainLoopOptions full = options(20, "full.safetensors");
  full.valEvery = 4;
  ASSERT_TRUE(train(plainRun(1), start, full).isOk());

  // Stopped after step 7 (as a preemption would), then resumed.
  TrainLoopOptions first = full;
  first.out = file("half.safetensors");
  first.stopAt = 7;
  StatusOr<TrainSummary> half = train(plainRun(1), start, first);
  ASSERT_TRUE(half.isOk()) << half.status().message();
  EXPECT_EQ(half->lastStep, 7);
  TrainLoopOptions rest = full;
  rest.out = file("rest.safetensors");
  rest.resume = true;
  rest.seed = 12345; // a resumed run takes its checkpoint's seed
  StatusOr<TrainSummary> resumed =
      train(plainRun(1), file("half.safetensors"), rest);
  ASSERT_TRUE(resumed.isOk()) << resumed.status().message();
  EXPECT_EQ(resumed->firstStep, 7);

  auto a = read(file("full.safetensors")), b = read(file("rest.safetensors"));
  ASSERT_EQ(a.size(), b.size());
  for (const auto &[name, bytes] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_EQ(bytes, b[name]) << name << " differs from the uninterrupted run";
  }

  // A file that is not a checkpoint of this loop cannot be resumed.
  StatusOr<TrainSummary> wrong = train(plainRun(1), start, rest);
  ASSERT_FALSE(wrong.isOk());
  EXPECT_TRUE(
      contains(wrong.status().message(), "not a growc-run train checkpoint"));
}

TEST_F(TrainLoopTest, GrowthMigratesWeightsAndMoments) {
  const int64_t steps = 20;
  TrainPlans plans = growthRun(steps);
  const int64_t boundary = plans.schedule->stages[0].endStep;
  ASSERT_GT(boundary, 0);
  ASSERT_LT(boundary, steps);
  std::string start = writeStart(1);
  int grows = 0;
  TrainCallbacks callbacks;
  std::vector<std::optional<int64_t>> layers;
  callbacks.onStep = [&](const TrainStepReport &step) {
    layers.push_back(step.layers);
  };
  callbacks.onGrow = [&](const GrowthStepReport &grow) {
    ++grows;
    EXPECT_EQ(grow.afterStep, boundary);
    EXPECT_EQ(grow.stage, 2);
    EXPECT_EQ(grow.fromLayers, 1);
    EXPECT_EQ(grow.toLayers, 2);
    // Every tensor of stage 2 came from stage 1: 4 parameters and their 8
    // moments, of which layer 1 and its moments start an inserted copy.
    EXPECT_EQ(grow.migration.copied, 12);
    EXPECT_EQ(grow.migration.duplicated, 3);
    EXPECT_EQ(grow.migration.zeroedMoments, 0);
    ASSERT_EQ(made.size(), 2u);
    const ToyTrainer &before = *made[0], &after = *made[1];
    for (const std::string name :
         {"model.embed_tokens.weight", "lm_head.weight",
          "optimizer.exp_avg.lm_head.weight"})
      EXPECT_EQ(after.value(name), before.value(name)) << name;
    for (const std::string prefix :
         {"", "optimizer.exp_avg.", "optimizer.exp_avg_sq."}) {
      EXPECT_EQ(after.value(prefix + scaleName(0)),
                before.value(prefix + scaleName(0)));
      EXPECT_EQ(after.value(prefix + scaleName(1)),
                before.value(prefix + scaleName(0)))
          << "the inserted layer starts from layer 0's " << prefix;
    }
    // The moments moved are the trained ones, not zeros.
    EXPECT_NE(after.value("optimizer.exp_avg." + scaleName(1)),
              std::vector<float>(kDim, 0.0f));
  };
  StatusOr<TrainSummary> summary =
      train(plans, start, options(steps, "grown.safetensors"), callbacks);
  ASSERT_TRUE(summary.isOk()) << summary.status().message();
  EXPECT_EQ(grows, 1);
  ASSERT_EQ(layers.size(), size_t(steps));
  EXPECT_EQ(layers[boundary - 1], 1);
  EXPECT_EQ(layers[boundary], 2);
  EXPECT_EQ(summary->stageSteps[1], boundary);
  EXPECT_EQ(summary->stageSteps[2], steps - boundary);

  auto saved = read(file("grown.safetensors"));
  ASSERT_TRUE(saved.count("growc.train.stage"));
  int64_t stage;
  std::memcpy(&stage, saved["growc.train.stage"].data(), 8);
  EXPECT_EQ(stage, 2);
  EXPECT_TRUE(saved.count(scaleName(1)));

  // With zeroNewMoments the inserted copy starts with zero moments.
  made.clear();
  TrainLoopOptions zeroed = options(steps, "zeroed.safetensors");
  zeroed.zeroNewMoments = true;
  TrainCallbacks check;
  check.onGrow = [&](const GrowthStepReport &grow) {
    EXPECT_EQ(grow.migration.zeroedMoments, 2);
    EXPECT_EQ(made.back()->value("optimizer.exp_avg." + scaleName(1)),
              std::vector<float>(kDim, 0.0f));
    EXPECT_EQ(made.back()->value(scaleName(1)), made[0]->value(scaleName(0)));
  };
  ASSERT_TRUE(train(plans, start, zeroed, check).isOk());

  // Stopped before the growth step and resumed: the stage comes from the
  // checkpoint, the growth happens in the resumed run, and the result is
  // the uninterrupted run's, bit for bit.
  TrainLoopOptions first = options(steps, "before.safetensors");
  first.stopAt = boundary - 1;
  ASSERT_TRUE(train(plans, start, first).isOk());
  TrainLoopOptions rest = options(steps, "after.safetensors");
  rest.resume = true;
  ASSERT_TRUE(train(plans, file("before.safetensors"), rest).isOk());
  auto a = read(file("grown.safetensors")), b = read(file("after.safetensors"));
  ASSERT_EQ(a.size(), b.size());
  for (const auto &[name, bytes] : a)
    EXPECT_EQ(bytes, b[name]) << name;
}

} // namespace
} // namespace growc::rt::test

namespace growc::rt::test {
namespace {

//===----------------------------------------------------------------------===//
// Non-finite steps
//===----------------------------------------------------------------------===//

TEST_F(TrainLoopTest, ANonfiniteStepStopsAndKeepsTheLastCheckpoint) {
  std::string start = writeStart(1);
  // The reference: the same run stopped after step 4.
  TrainLoopOptions clean = options(10, "clean.safetensors");
  clean.saveEvery = 2;
  clean.stopAt = 4;
  ASSERT_TRUE(train(plainRun(1), start, clean).isOk());

  poisonedSteps = {5};
  TrainLoopOptions opts = options(10, "run.safetensors");
  opts.saveEvery = 2;
  std::vector<int64_t> reported;
  std::vector<int64_t> checkpoints;
  TrainCallbacks callbacks;
  callbacks.onStep = [&](const TrainStepReport &step) {
    reported.push_back(step.step);
    EXPECT_EQ(step.nonfinite, step.step == 5);
  };
  callbacks.beforeCheckpoint = [&](int64_t step) {
    checkpoints.push_back(step);
    return Status::ok();
  };
  StatusOr<TrainSummary> run = train(plainRun(1), start, opts, callbacks);
  ASSERT_FALSE(run.isOk());
  EXPECT_EQ(run.status().message(),
            "step 5: the loss is nan; stopping. The last checkpoint, " +
                file("run.safetensors") + " at step 4, is kept.");
  EXPECT_EQ(reported, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  // Nothing was written after the bad step: the file is step 4's.
  EXPECT_EQ(checkpoints, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(read(file("run.safetensors")), read(file("clean.safetensors")));
}

TEST_F(TrainLoopTest, KeepEveryKeepsEachKthCheckpointBesideTheRollingOne) {
  std::string start = writeStart(1);
  // The references: the same run stopped after steps 2 and 4.
  for (int64_t stop : {2, 4}) {
    TrainLoopOptions ref =
        options(6, "ref" + std::to_string(stop) + ".safetensors");
    ref.stopAt = stop;
    ASSERT_TRUE(train(plainRun(1), start, ref).isOk());
  }
  TrainLoopOptions opts = options(6, "run.safetensors");
  opts.keepEvery = 2;
  ASSERT_TRUE(train(plainRun(1), start, opts).isOk());
  EXPECT_EQ(read(file("run.step2.safetensors")),
            read(file("ref2.safetensors")));
  EXPECT_EQ(read(file("run.step4.safetensors")),
            read(file("ref4.safetensors")));
  // The end of the run is the --out checkpoint itself, not a kept copy.
  EXPECT_FALSE(std::filesystem::exists(file("run.step6.safetensors")));
  EXPECT_EQ(keptCheckpointPath("dir/c.safetensors", 50),
            "dir/c.step50.safetensors");
  EXPECT_EQ(keptCheckpointPath("c.ckpt", 7), "c.ckpt.step7");
}

TEST_F(TrainLoopTest, SkippedStepsChangeNothingAndTooManyStop) {
  std::string start = writeStart(1);
  TrainLoopOptions two = options(10, "two.safetensors");
  two.stopAt = 2;
  ASSERT_TRUE(train(plainRun(1), start, two).isOk());

  // Steps 3 and 4 skipped: the model after step 4 is the one after step 2.
  poisonedSteps = {3, 4};
  TrainLoopOptions skip = options(10, "skip.safetensors");
  skip.stopAt = 4;
  skip.onNonfinite = NonfinitePolicy::Skip;
  std::vector<int64_t> skipped;
  TrainCallbacks callbacks;
  callbacks.record = [&](const TrainStepReport &step) {
    skipped.push_back(step.skippedSteps);
    return Status::ok();
  };
  StatusOr<TrainSummary> run = train(plainRun(1), start, skip, callbacks);
  ASSERT_TRUE(run.isOk()) << run.status().message();
  EXPECT_EQ(run->skippedSteps, 2);
  EXPECT_EQ(skipped, (std::vector<int64_t>{0, 0, 1, 2}));
  EXPECT_EQ(modelTensors(file("skip.safetensors")),
            modelTensors(file("two.safetensors")));

  // Three in a row (the limit) end the run, naming them.
  poisonedSteps = {3, 4, 5, 6, 7};
  skip.stopAt = 0;
  skip.maxSkippedInARow = 3;
  skip.out = file("many.safetensors");
  StatusOr<TrainSummary> many = train(plainRun(1), start, skip);
  ASSERT_FALSE(many.isOk());
  EXPECT_EQ(many.status().message(),
            "steps 3..5: 3 non-finite steps in a row, skipped (at the last, "
            "the loss is nan); stopping. No checkpoint was written "
            "(--save-every K writes one every K steps).");
}

//===----------------------------------------------------------------------===//
// Run options
//===----------------------------------------------------------------------===//

TEST_F(TrainLoopTest, CheckpointsRecordTheRunOptions) {
  std::string start = writeStart(1);
  TrainLoopOptions opts = options(4, "out.safetensors");
  opts.runOptions = R"({"steps":4,"lr":0.05})";
  ASSERT_TRUE(train(plainRun(1), start, opts).isOk());
  StatusOr<SafetensorsFile> saved =
      SafetensorsFile::open(file("out.safetensors"));
  ASSERT_TRUE(saved.isOk());
  // After the "format" that every file gets (Safetensors.h).
  ASSERT_EQ(saved->metadata().size(), 2u);
  EXPECT_EQ(saved->metadata()[0].first, "format");
  EXPECT_EQ(saved->metadata()[1].first, kRunOptionsKey);
  EXPECT_EQ(saved->metadata()[1].second, opts.runOptions);
}

TEST_F(TrainLoopTest, CheckpointsRecordTheTrainedContext) {
  std::string start = writeStart(1);
  TrainLoopOptions opts = options(4, "out.safetensors");
  opts.trainedContext = 64;
  ASSERT_TRUE(train(plainRun(1), start, opts).isOk());
  StatusOr<SafetensorsFile> saved =
      SafetensorsFile::open(file("out.safetensors"));
  ASSERT_TRUE(saved.isOk());
  StatusOr<std::optional<int64_t>> context =
      recordedTrainedContext(saved->path(), saved->metadata());
  ASSERT_TRUE(context.isOk()) << context.status().message();
  EXPECT_EQ(*context, std::optional<int64_t>(64));
}

TEST(TrainedContext, ARecordIsAPositiveTokenCount) {
  using Metadata = std::vector<std::pair<std::string, std::string>>;
  StatusOr<std::optional<int64_t>> none =
      recordedTrainedContext("w.safetensors", Metadata{{"format", "pt"}});
  ASSERT_TRUE(none.isOk());
  EXPECT_FALSE(none->has_value());
  for (const char *bad :
       {"", "0", "-16", "16k", " 16", "99999999999999999999"}) {
    StatusOr<std::optional<int64_t>> parsed = recordedTrainedContext(
        "c.safetensors", Metadata{{kTrainedContextKey, bad}});
    ASSERT_FALSE(parsed.isOk()) << bad;
    EXPECT_EQ(
        parsed.status().message(),
        std::string("c.safetensors: its growc.trained_context metadata '") +
            bad + "' is not a positive token count");
  }
}

std::vector<RunOption> commandOptions(bool seedGiven, uint64_t seed,
                                      bool lrGiven, double lr) {
  return {
      {"steps", JsonValue::number(100), true, false},
      {"lr", JsonValue::number(lr), lrGiven, false},
      {"seed", JsonValue::number(seed), seedGiven, false},
      {"data", JsonValue::string("primitives:induction-copy"), false, false},
      {"global_batch", JsonValue::number(8), true, true}};
}

TEST(RunOptions, AResumeTakesRecordedOptionsAndRefusesOthers) {
  JsonValue recorded = runOptionsJson(commandOptions(true, 1, true, 0.001));
  recorded.set("data", JsonValue::string("text:a.txt"));
  // Different options given: refused, naming each one both ways.
  StatusOr<ResumedOptions> changed =
      resolveResumedOptions(recorded, commandOptions(true, 2, true, 0.002), {});
  ASSERT_FALSE(changed.isOk());
  EXPECT_EQ(changed.status().message(),
            "--resume: the run was started with --lr 0.001 --seed 1; this "
            "command says --lr 0.002 --seed 2. Pass --override lr,seed to "
            "change them deliberately.");
  // Named by --override: taken from the command.
  StatusOr<ResumedOptions> overridden = resolveResumedOptions(
      recorded, commandOptions(true, 2, true, 0.002), {"seed", "lr"});
  ASSERT_TRUE(overridden.isOk()) << overridden.status().message();
  EXPECT_EQ(formatRunOptions(overridden->options),
            "--steps 100 --lr 0.002 --seed 2 --data text:a.txt global batch 8");
  EXPECT_EQ(overridden->overridden, (std::vector<std::string>{"lr", "seed"}));
  // Left out: the recorded values (and said so where they differ from
  // this command's defaults).
  StatusOr<ResumedOptions> taken = resolveResumedOptions(
      recorded, commandOptions(false, 0, false, 0.003), {});
  ASSERT_TRUE(taken.isOk()) << taken.status().message();
  EXPECT_EQ(formatRunOptions(taken->options),
            "--steps 100 --lr 0.001 --seed 1 --data text:a.txt global batch 8");
  EXPECT_EQ(taken->taken, (std::vector<std::string>{"lr", "seed", "data"}));
  // The artifact's global batch is compared like a flag.
  StatusOr<ResumedOptions> batch = resolveResumedOptions(
      runOptionsJson(commandOptions(true, 1, true, 0.001)),
      {{"global_batch", JsonValue::number(16), true, true}}, {});
  ASSERT_FALSE(batch.isOk());
  EXPECT_TRUE(contains(batch.status().message(),
                       "started with global batch 8; this command says "
                       "global batch 16. Pass --override global_batch"));
  // A checkpoint without recorded options: the command's, unchecked.
  StatusOr<ResumedOptions> none = resolveResumedOptions(
      std::nullopt, commandOptions(true, 2, false, 0.003), {});
  ASSERT_TRUE(none.isOk());
  EXPECT_TRUE(none->taken.empty());
  // --override of something a run does not record.
  StatusOr<ResumedOptions> unknown = resolveResumedOptions(
      recorded, commandOptions(true, 1, true, 0.001), {"threads"});
  ASSERT_FALSE(unknown.isOk());
  EXPECT_EQ(unknown.status().message(),
            "--override: 'threads' is not an option a run records (steps, "
            "lr, seed, data, global_batch)");
}

//===----------------------------------------------------------------------===//
// Outputs
//===----------------------------------------------------------------------===//

TEST_F(TrainLoopTest, MetricsAreJsonLinesCutBackOnResume) {
  std::string path = file("m.jsonl");
  StatusOr<std::unique_ptr<MetricsLog>> log = MetricsLog::open(path, {});
  ASSERT_TRUE(log.isOk()) << log.status().message();
  for (int step = 1; step <= 6; ++step) {
    JsonValue line = JsonValue::object();
    line.set("step", JsonValue::number(step))
        .set("loss", JsonValue::number(step == 6 ? NAN : 1.5));
    ASSERT_TRUE((*log)->write(line).isOk());
    if (step == 3) {
      JsonValue grow = JsonValue::object();
      grow.set("event", JsonValue::string("grow"))
          .set("at_step", JsonValue::number(3));
      ASSERT_TRUE((*log)->write(grow).isOk());
    }
  }
  ASSERT_TRUE((*log)->sync().isOk());
  ASSERT_TRUE((*log)->close().isOk());
  const std::string firstFour = "{\"step\": 1, \"loss\": 1.5}\n"
                                "{\"step\": 2, \"loss\": 1.5}\n"
                                "{\"step\": 3, \"loss\": 1.5}\n"
                                "{\"event\": \"grow\", \"at_step\": 3}\n"
                                "{\"step\": 4, \"loss\": 1.5}\n";
  EXPECT_EQ(readText(path), firstFour + "{\"step\": 5, \"loss\": 1.5}\n"
                                        "{\"step\": 6, \"loss\": null}\n");
  // A killed run's last line, cut short.
  { std::ofstream(path, std::ios::app) << "{\"step\": 7, \"lo"; }
  // Resumed from a checkpoint after step 4: steps 1-4 and the growth
  // before step 4 stay; steps 5-6 and the cut line go.
  int64_t dropped = 0;
  log = MetricsLog::open(path, 4, &dropped);
  ASSERT_TRUE(log.isOk()) << log.status().message();
  EXPECT_EQ(dropped, 3);
  JsonValue five = JsonValue::object();
  five.set("step", JsonValue::number(5));
  ASSERT_TRUE((*log)->write(five).isOk());
  ASSERT_TRUE((*log)->close().isOk());
  EXPECT_EQ(readText(path), firstFour + "{\"step\": 5}\n");
  // A file that is not metrics is refused, not cut.
  writeText("notes.txt", "my notes\nabout the run\n");
  StatusOr<std::unique_ptr<MetricsLog>> notes =
      MetricsLog::open(file("notes.txt"), 4);
  ASSERT_FALSE(notes.isOk());
  EXPECT_TRUE(contains(notes.status().message(),
                       "notes.txt:1: not a JSON line of growc-run train's "
                       "metrics"));
  EXPECT_EQ(readText(file("notes.txt")), "my notes\nabout the run\n");
  // A write error is an error.
  StatusOr<std::unique_ptr<MetricsLog>> full =
      MetricsLog::open("/dev/full", {});
  ASSERT_TRUE(full.isOk());
  Status written = (*full)->write(five);
  ASSERT_FALSE(written.isOk());
  EXPECT_TRUE(contains(written.message(), "--metrics /dev/full: cannot write"));
}

TEST_F(TrainLoopTest, OneRunAtATimeWritesAnOut) {
  std::string out = file("c.safetensors");
  StatusOr<std::unique_ptr<OutputLock>> first = OutputLock::acquire(out);
  ASSERT_TRUE(first.isOk()) << first.status().message();
  EXPECT_EQ(readText(out + ".lock"), std::to_string(::getpid()) + "\n");
  StatusOr<std::unique_ptr<OutputLock>> second = OutputLock::acquire(out);
  ASSERT_FALSE(second.isOk());
  EXPECT_EQ(second.status().message(),
            "--out " + out +
                " is being written by another growc-run train "
                "(PID " +
                std::to_string(::getpid()) + "), which holds " + out +
                ".lock; wait for it to end or choose another --out");
  first->reset();
  EXPECT_FALSE(std::ifstream(out + ".lock").good());
  EXPECT_TRUE(OutputLock::acquire(out).isOk());
}

TEST_F(TrainLoopTest, KilledRunsTemporariesAreRemoved) {
  std::string out = file("c.safetensors");
  // A PID that has ended: a child that exited.
  pid_t child = ::fork();
  if (child == 0)
    ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);
  std::string dead = out + ".tmp." + std::to_string(child) + ".a1b2c3";
  std::string live = out + ".tmp." + std::to_string(::getpid()) + ".d4e5f6";
  std::string other =
      file("other.safetensors.tmp." + std::to_string(child) + ".a1b2c3");
  for (const std::string &path : {dead, live, other})
    std::ofstream(path) << "partial";
  EXPECT_EQ(removeStaleTemporaries(out), std::vector<std::string>{dead});
  EXPECT_FALSE(std::ifstream(dead).good());
  EXPECT_TRUE(std::ifstream(live).good());
  EXPECT_TRUE(std::ifstream(other).good());
}

TEST_F(TrainLoopTest, TheCheckpointFolderIsCheckedBeforeTheFirstStep) {
  EXPECT_TRUE(checkCheckpointWritable(file("c.safetensors")).isOk());
  Status folder = checkCheckpointWritable(dir);
  ASSERT_FALSE(folder.isOk());
  EXPECT_TRUE(contains(folder.message(), "is a folder"));
  Status missing = checkCheckpointWritable(file("nodir/c.safetensors"));
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.message(), "--out " + file("nodir/c.safetensors") +
                                   ": cannot write a checkpoint in " +
                                   file("nodir") +
                                   ": No such file or directory");
  // Nothing is left behind by the check.
  std::vector<std::string> left;
  for (const auto &entry : std::filesystem::directory_iterator(dir))
    left.push_back(entry.path().filename().string());
  EXPECT_TRUE(left.empty());
}

} // namespace
} // namespace growc::rt::test
