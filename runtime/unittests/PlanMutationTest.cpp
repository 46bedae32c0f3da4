//===- PlanMutationTest.cpp - No edit of a plan makes a kernel misbehave --===//
//
// A plan is a file on disk; whatever it says, loading it either fails with a
// message that starts with its path, or the run completes (under ASan: with
// no invalid access). This test edits real plans systematically and checks
// exactly that: every integer field set to v ± 1, 2v, 0, -1 and a huge
// value; every kernel argument, GEMM operand and all-reduce buffer replaced
// by every other buffer; every buffer moved onto every other buffer's
// offset; every step dropped and duplicated. Each edited plan is written
// (serializePlan), verified (parsePlan, as loadPlan does), prepared, given
// random parameters and run on valid tokens (and targets, for a train
// graph).
//
// The plans: the toy artifact (ToyModel.h; its stand-in kernels follow the
// generated kernels' rules) everywhere, and where the runtime is built with
// the compiler, a forward and a train artifact that growc compiles at build
// time (GROWC_MUTATION_ARTIFACTS_DIR; the environment variable of the same
// name points the test at other ones, say a directory of older kernels).
// The compiled plans have too many edits to run them all in a unit test
// (4,531 and 106,501: 3 s and 6 min), so they run a fixed, evenly spread
// subset (every 4th, every 263rd) unless GROWC_MUTATION_ALL is set.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/CpuExecutor.h"
#include "growc/runtime/Plan.h"

#include "ToyModel.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace growc::rt;
using namespace growc::rt::test;

namespace fs = std::filesystem;

namespace {

/// Every integer field of `plan` that a plan file spells out, in a fixed
/// order (the edits address them by position).
std::vector<int64_t *> integerFields(Plan &plan) {
  std::vector<int64_t *> fields = {&plan.batch,     &plan.seq,
                                   &plan.vocabSize, &plan.alignment,
                                   &plan.arenaSize, &plan.microBatches};
  for (PlanBuffer &buffer : plan.buffers)
    fields.insert(fields.end(), {&buffer.id, &buffer.offset, &buffer.size});
  auto tensor = [&](PlanTensor &t) {
    fields.push_back(&t.buffer);
    for (int64_t &d : t.shape)
      fields.push_back(&d);
  };
  for (PlanTensor &t : plan.inputs)
    tensor(t);
  for (PlanParam &t : plan.params)
    tensor(t);
  for (PlanTensor &t : plan.outputs)
    tensor(t);
  for (PlanKernel &kernel : plan.kernels) {
    fields.push_back(&kernel.blocks);
    for (PlanKernelArg &arg : kernel.args)
      for (int64_t &d : arg.shape)
        fields.push_back(&d);
  }
  for (PlanStep &step : plan.steps) {
    switch (step.op) {
    case PlanStep::Op::Kernel:
      fields.push_back(&step.kernel);
      for (int64_t &id : step.args)
        fields.push_back(&id);
      break;
    case PlanStep::Op::Gemm:
      fields.insert(fields.end(),
                    {&step.a, &step.b, &step.c, &step.aOffset, &step.bOffset,
                     &step.cOffset, &step.m, &step.n, &step.k, &step.transA,
                     &step.transB, &step.beta});
      break;
    case PlanStep::Op::AllReduce:
      for (int64_t &id : step.buffers)
        fields.push_back(&id);
      fields.push_back(&step.when);
      break;
    case PlanStep::Op::Attention:
    case PlanStep::Op::AttentionGrad:
      break; // nvptx plans only
    }
  }
  return fields;
}

/// The buffer references of the steps, the places where an edit can swap
/// one buffer for another.
std::vector<int64_t *> stepBufferRefs(Plan &plan) {
  std::vector<int64_t *> refs;
  for (PlanStep &step : plan.steps) {
    for (int64_t &id : step.args)
      refs.push_back(&id);
    if (step.op == PlanStep::Op::Gemm)
      refs.insert(refs.end(), {&step.a, &step.b, &step.c});
    for (int64_t &id : step.buffers)
      refs.push_back(&id);
  }
  return refs;
}

using Mutation = std::function<void(Plan &)>;

/// Every edit of `base`, as functions on a copy of it.
std::vector<Mutation> mutationsOf(const Plan &base) {
  std::vector<Mutation> mutations;
  Plan probe = base;
  const size_t numFields = integerFields(probe).size();
  constexpr int64_t kHuge = int64_t(1) << 40;
  const std::vector<std::function<int64_t(int64_t)>> values = {
      [](int64_t v) { return v + 1; },
      [](int64_t v) { return v - 1; },
      [](int64_t v) { return v * 2; },
      [](int64_t) { return int64_t(0); },
      [](int64_t) { return int64_t(-1); },
      [](int64_t) { return kHuge; },
      [](int64_t) { return std::numeric_limits<int64_t>::max(); }};
  for (size_t i = 0; i < numFields; ++i)
    for (const auto &value : values)
      mutations.push_back([i, value](Plan &plan) {
        int64_t *field = integerFields(plan)[i];
        *field = value(*field);
      });
  const int64_t numBuffers = static_cast<int64_t>(base.buffers.size());
  const size_t numRefs = stepBufferRefs(probe).size();
  for (size_t i = 0; i < numRefs; ++i)
    for (int64_t id = 0; id < numBuffers; ++id)
      mutations.push_back([i, id](Plan &plan) {
        int64_t *ref = stepBufferRefs(plan)[i];
        if (*ref != id)
          *ref = id;
      });
  for (int64_t moved = 0; moved < numBuffers; ++moved)
    for (int64_t onto = 0; onto < numBuffers; ++onto)
      if (moved != onto)
        mutations.push_back([moved, onto](Plan &plan) {
          plan.buffers[moved].offset = plan.buffers[onto].offset;
        });
  for (size_t s = 0; s < base.steps.size(); ++s) {
    mutations.push_back(
        [s](Plan &plan) { plan.steps.erase(plan.steps.begin() + s); });
    mutations.push_back([s](Plan &plan) {
      PlanStep copy = plan.steps[s];
      plan.steps.insert(plan.steps.begin() + s, std::move(copy));
    });
  }
  return mutations;
}

/// Random values for a tensor of `byteSize` bytes: normal floats, so that
/// a float buffer read as int32 indices holds values far out of range.
std::vector<uint8_t> randomBytes(size_t byteSize, std::mt19937 &rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> floats((byteSize + sizeof(float) - 1) / sizeof(float));
  for (float &f : floats)
    f = dist(rng);
  std::vector<uint8_t> bytes(byteSize);
  std::memcpy(bytes.data(), floats.data(), byteSize);
  return bytes;
}

class PlanMutationTest : public TempDirTest {
protected:
  /// Runs every edit of the plan of `kernels` (a kernels file whose plan
  /// sits beside it): each must be rejected with a message that starts
  /// with the plan's path, or run. `stride` > 1 runs every stride-th edit.
  void runMutations(const std::string &kernels, size_t stride = 1) {
    // A copy of the artifact in the test's directory, where the edited
    // plans are written.
    StatusOr<Plan> source = loadPlan(planPathFor(kernels));
    ASSERT_TRUE(source.isOk()) << source.status().message();
    const std::string planPath =
        (fs::path(dir) / fs::path(planPathFor(kernels)).filename()).string();
    if (!fs::equivalent(fs::path(kernels).parent_path(), dir)) {
      fs::copy_file(source->kernelsPath, file(source->kernelsFile),
                    fs::copy_options::overwrite_existing);
      fs::copy_file(planPathFor(kernels), planPath,
                    fs::copy_options::overwrite_existing);
    }
    StatusOr<Plan> base = loadPlan(planPath);
    ASSERT_TRUE(base.isOk()) << base.status().message();

    // Random parameters, and valid inputs.
    std::mt19937 rng(15);
    std::vector<std::vector<uint8_t>> data;
    std::vector<TensorToWrite> params;
    for (const PlanParam &param : base->params) {
      data.push_back(randomBytes(size_t(param.byteSize), rng));
      params.push_back({param.name, param.dtype, param.shape,
                        data.back().data(), data.back().size()});
    }
    writeTensors("weights.safetensors", params);
    StatusOr<SafetensorsFile> weights =
        SafetensorsFile::open(file("weights.safetensors"));
    ASSERT_TRUE(weights.isOk()) << weights.status().message();
    const int64_t positions = base->batch * base->seq;
    std::vector<int32_t> tokens(positions), targets(positions);
    for (int64_t i = 0; i < positions; ++i) {
      tokens[i] = int32_t((i * 7 + 1) % base->vocabSize);
      targets[i] = i % 5 == 4 ? CpuExecutor::kIgnoreIndex
                              : int32_t((i * 3 + 2) % base->vocabSize);
    }
    auto view = [&](const std::vector<int32_t> &values, const char *name) {
      return TensorView{name,
                        DType::I32,
                        {base->batch, base->seq},
                        reinterpret_cast<const uint8_t *>(values.data()),
                        values.size() * sizeof(int32_t)};
    };
    const TensorView tokensView = view(tokens, "tokens");
    const TensorView targetsView = view(targets, "targets");
    const bool hasTargets = base->findInput("targets") != nullptr;
    const std::map<std::string, float> scalars = {
        {"lr", 1e-3f}, {"step", 1.0f}, {"apply", 1.0f}};
    auto run = [&](Plan plan) -> Status {
      StatusOr<std::unique_ptr<CpuExecutor>> executor =
          CpuExecutor::create(std::move(plan), /*threads=*/1);
      if (!executor.isOk())
        return executor.status();
      if (Status loaded = (*executor)->loadParams(*weights); !loaded.isOk())
        return loaded;
      std::map<std::string, float> given;
      for (const PlanTensor &input : (*executor)->plan().inputs)
        if (scalars.count(input.name))
          given[input.name] = scalars.at(input.name);
      return (*executor)
          ->forward(tokensView, hasTargets ? &targetsView : nullptr, given)
          .status();
    };
    // The unedited plan runs; its executor stays open, so that the edits'
    // executors share its loaded kernels.
    StatusOr<std::unique_ptr<CpuExecutor>> kept =
        CpuExecutor::create(*base, /*threads=*/1);
    ASSERT_TRUE(kept.isOk()) << kept.status().message();
    Status baseRun = run(*base);
    ASSERT_TRUE(baseRun.isOk()) << baseRun.message();

    std::vector<Mutation> mutations = mutationsOf(*base);
    size_t rejected = 0, ran = 0;
    for (size_t i = 0; i < mutations.size(); i += stride) {
      Plan edited = *base;
      mutations[i](edited);
      // parsePlan is loadPlan without reading the file: writing thousands
      // of files costs more than the rest of the test.
      StatusOr<Plan> loaded = parsePlan(serializePlan(edited), planPath);
      if (!loaded.isOk()) {
        ++rejected;
        EXPECT_EQ(loaded.status().message().rfind(planPath + ": ", 0), 0u)
            << "edit " << i << ": " << loaded.status().message();
        continue;
      }
      ++ran;
      // Clean errors (a checkpoint that no longer fits, tokens outside a
      // smaller vocabulary) are as good as a completed run; a crash is not.
      (void)run(std::move(*loaded));
    }
    // Both outcomes occur: the edits reach the executor.
    EXPECT_GT(rejected, 0u);
    EXPECT_GT(ran, 0u);
    std::printf("%s: %zu edits of %zu: %zu rejected, %zu ran\n",
                planPath.c_str(), rejected + ran, mutations.size(), rejected,
                ran);
  }

  /// The compiled artifacts' directory, or "" where there are none.
  static std::string compiledArtifacts() {
    if (const char *env = std::getenv("GROWC_MUTATION_ARTIFACTS_DIR"))
      return env;
    return GROWC_MUTATION_ARTIFACTS_DIR;
  }
};

//===----------------------------------------------------------------------===//
// Live buffers never share bytes
//===----------------------------------------------------------------------===//

/// The toy plan, edited by `edit` and verified again.
StatusOr<Plan> editedToy(const std::function<void(Plan &)> &edit) {
  StatusOr<Plan> toy = parsePlan(kToyPlan, "toy.plan.json");
  EXPECT_TRUE(toy.isOk()) << toy.status().message();
  if (!toy.isOk())
    return toy;
  edit(*toy);
  return parsePlan(serializePlan(*toy), "x.plan.json");
}

/// The toy plan edited by `edit` must be rejected with `message`.
void expectRejected(const std::function<void(Plan &)> &edit,
                    const std::string &message) {
  StatusOr<Plan> plan = editedToy(edit);
  ASSERT_FALSE(plan.isOk());
  EXPECT_EQ(plan.status().message(), message);
}

PlanStep kernelStep(int64_t kernel, std::vector<int64_t> args) {
  PlanStep step;
  step.kernel = kernel;
  step.args = std::move(args);
  return step;
}

TEST(PlanLiveBuffers, OverlapWithAnInputIsRejected) {
  // The GEMM's output moved onto the tokens, which the runtime writes
  // before the first step and which are live for the whole run.
  expectRejected([](Plan &plan) { plan.buffers[4].offset = 0; },
                 "x.plan.json: buffers[4] (bytes [0, 128)) overlaps "
                 "buffers[0] (bytes [0, 64)) while both are live (steps "
                 "1..2 and the whole run)");
}

TEST(PlanLiveBuffers, IntermediatesShareBytesOnlyBetweenLifetimes) {
  // The logits computed twice through two intermediates, buffer 6 at
  // buffer 4's bytes: 4 is live at steps 1..2, 6 at steps 3..4.
  auto twice = [](Plan &plan) {
    PlanStep gemm = plan.steps[1];
    gemm.c = 6;
    plan.steps.push_back(gemm);
    plan.steps.push_back(kernelStep(1, {6, 5}));
    plan.buffers.push_back({6, plan.buffers[4].offset, 128});
  };
  StatusOr<Plan> plan = editedToy(twice);
  EXPECT_TRUE(plan.isOk()) << plan.status().message();
  // Lifetimes are closed intervals: a buffer that a step reads is still
  // live when that step writes another.
  expectRejected(
      [](Plan &plan) {
        plan.buffers.push_back({6, plan.buffers[4].offset, 128});
        plan.steps[2].args = {4, 6};
        plan.steps.push_back(kernelStep(1, {6, 5}));
      },
      "x.plan.json: buffers[6] (bytes [448, 576)) overlaps buffers[4] "
      "(bytes [448, 576)) while both are live (steps 2..3 and steps 1..2)");
}

//===----------------------------------------------------------------------===//
// Edited plans
//===----------------------------------------------------------------------===//

TEST_F(PlanMutationTest, ToyForward) {
  writeArtifact();
  runMutations(file("fwd.so"));
}

TEST_F(PlanMutationTest, CompiledForward) {
  if (compiledArtifacts().empty())
    GTEST_SKIP() << "no compiled artifacts (a runtime-only build)";
  runMutations((fs::path(compiledArtifacts()) / "fwd.so").string(),
               std::getenv("GROWC_MUTATION_ALL") ? 1 : 4);
}

TEST_F(PlanMutationTest, CompiledTrain) {
  if (compiledArtifacts().empty())
    GTEST_SKIP() << "no compiled artifacts (a runtime-only build)";
  runMutations((fs::path(compiledArtifacts()) / "train.so").string(),
               std::getenv("GROWC_MUTATION_ALL") ? 1 : 263);
}

} // namespace
