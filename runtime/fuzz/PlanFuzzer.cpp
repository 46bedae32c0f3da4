//===- PlanFuzzer.cpp - libFuzzer target: the plan loader and verifier ----===//
//
// Feeds arbitrary text as the plan of a real kernels file (a forward graph
// compiled by growc; scripts/fuzz.sh builds it and names it in
// GROWC_FUZZ_KERNELS) to parsePlan, the verifier every executor relies on.
// A plan that passes is then run once on the CPU executor (zero parameters,
// in-vocabulary tokens), so that a rule the verifier misses shows up as a
// crash (a kernel writing outside the arena), an ASan or UBSan report, or a
// hang, instead of going unnoticed.
//
// The plan's "kernels_hash" binds it to the kernels file; a mutated plan
// keeps the real hash (taken from the plan compiled with the kernels file,
// when it has one), so that mutations
// reach the verifier and executor rather than stopping at the hash check.
// Plans that name another kernels file are parsed but not run.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/CpuExecutor.h"
#include "growc/runtime/Json.h"
#include "growc/runtime/Plan.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

using namespace growc::rt;

namespace {
/// Arenas and token batches beyond these are not run: the limits keep
/// libFuzzer's memory and time budgets for the verifier's logic instead of
/// for big (valid) plans.
constexpr int64_t kMaxArenaBytes = int64_t(256) << 20;
constexpr int64_t kMaxTokens = int64_t(1) << 16;

struct Setup {
  std::string kernelsPath; ///< The real kernels file.
  std::string planPath;    ///< Where the fuzzed plan claims to live.
  std::string kernelsHash; ///< Its hash in the compiled plan; empty if none.
  std::string scratch;     ///< A /dev/shm checkpoint of zero parameters.
  bool verbose = false;    ///< GROWC_FUZZ_VERBOSE: say what became of a plan.
};

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Setup &setup() {
  static Setup setup;
  return setup;
}

/// The input as the plan text to parse: with the real kernels hash if the
/// input is a JSON object that has the field.
std::string planText(std::string_view input) {
  if (setup().kernelsHash.empty())
    return std::string(input);
  StatusOr<JsonValue> root = parseJson(input);
  if (!root.isOk() || !root->isObject() || !root->find("kernels_hash"))
    return std::string(input);
  root->set("kernels_hash", JsonValue::string(setup().kernelsHash));
  return toJson(*root, 2);
}

/// With GROWC_FUZZ_VERBOSE set, prints how far an input got (for reading a
/// reproducer); `status` is the error that stopped it, if any.
void note(const char *stage, const Status &status) {
  if (setup().verbose)
    std::fprintf(stderr, "growc-fuzz-plan: %s: %s\n", stage,
                 status.isOk() ? "ok" : status.message().c_str());
}

/// Runs a verified plan once: zero parameters, tokens 0, 1, 2, ... modulo
/// the vocabulary, targets likewise and scalar inputs 1. Errors are fine;
/// crashes and sanitizer reports are findings.
void runOnce(Plan plan) {
  if (plan.target != "cpu" || plan.kernelsPath != setup().kernelsPath ||
      plan.arenaSize > kMaxArenaBytes || plan.vocabSize <= 0 ||
      plan.batch <= 0 || plan.seq <= 0 || plan.batch > kMaxTokens ||
      plan.seq > kMaxTokens || plan.batch * plan.seq > kMaxTokens)
    return;
  StatusOr<std::unique_ptr<CpuExecutor>> executor =
      CpuExecutor::create(std::move(plan), /*threads=*/1);
  note("executor", executor.status());
  if (!executor.isOk())
    return;
  CpuExecutor &exec = **executor;
  const Plan &verified = exec.plan();
  if (!writeSafetensors(setup().scratch, exec.paramTensors()).isOk())
    return;
  StatusOr<SafetensorsFile> params = SafetensorsFile::open(setup().scratch);
  if (!params.isOk() || !exec.loadParams(*params).isOk())
    return;

  std::vector<int32_t> ids(size_t(verified.batch * verified.seq));
  for (size_t i = 0; i < ids.size(); ++i)
    ids[i] = int32_t(i % size_t(verified.vocabSize));
  auto view = [&](const char *name) {
    return TensorView{name,
                      DType::I32,
                      {verified.batch, verified.seq},
                      reinterpret_cast<const uint8_t *>(ids.data()),
                      ids.size() * sizeof(int32_t)};
  };
  TensorView tokens = view("tokens"), targets = view("targets");
  std::map<std::string, float> scalars;
  for (const PlanTensor &input : verified.inputs)
    if (input.name != "tokens" && input.name != "targets")
      scalars[input.name] = 1.0f;
  StatusOr<std::map<std::string, OutputTensor>> outputs = exec.forward(
      tokens, verified.findInput("targets") ? &targets : nullptr, scalars);
  note("forward", outputs.status());
}
} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  const char *kernels = std::getenv("GROWC_FUZZ_KERNELS");
  if (!kernels || !*kernels) {
    std::fprintf(stderr, "growc-fuzz-plan: set GROWC_FUZZ_KERNELS to the "
                         "kernels file of a CPU forward graph compiled by "
                         "growc (scripts/fuzz.sh does)\n");
    std::exit(2);
  }
  Setup &s = setup();
  std::string compiledPlan = planPathFor(kernels);
  StatusOr<Plan> plan = parsePlan(readFile(compiledPlan), compiledPlan);
  if (!plan.isOk()) {
    std::fprintf(stderr, "growc-fuzz-plan: %s\n",
                 plan.status().message().c_str());
    std::exit(2);
  }
  s.kernelsPath = plan->kernelsPath;
  s.planPath = compiledPlan;
  StatusOr<JsonValue> root = parseJson(readFile(compiledPlan));
  if (const JsonValue *hash = root->find("kernels_hash"))
    s.kernelsHash = hash->asString();
  s.scratch =
      "/dev/shm/growc-fuzz-plan." + std::to_string(::getpid()) + ".safetensors";
  s.verbose = std::getenv("GROWC_FUZZ_VERBOSE") != nullptr;
  std::atexit([] { std::remove(setup().scratch.c_str()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text =
      planText(std::string_view(reinterpret_cast<const char *>(data), size));
  StatusOr<Plan> plan = parsePlan(text, setup().planPath);
  note("parsePlan", plan.status());
  if (plan.isOk())
    runOnce(std::move(*plan));
  return 0;
}
