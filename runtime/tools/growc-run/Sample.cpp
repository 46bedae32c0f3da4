//===- Sample.cpp - growc-run sample --------------------------------------===//
//
//   growc-run sample --primitive NAME [--depth K] [--shots N] [--seed S]
//       [--count C]
//
// Seeded reasoning-primitive prompts (SPEC.md section 6) as JSON lines
// {"prompt", "answer"}: the same seed gives the same lines on every
// machine, so that tests and people can see what the training data and the
// evaluation prompts look like.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "growc/runtime/Data.h"
#include "growc/runtime/Json.h"

#include <cstdio>
#include <limits>
#include <memory>

using namespace growc::rt;

namespace {

struct SampleOptions {
  std::string primitiveName;
  long depth = 0, shots = 5, count = 1;
  unsigned long long seed = 0;
};

/// `text` as a JSON string literal.
std::string jsonString(const std::string &text) {
  std::string out;
  appendJsonString(out, text);
  return out;
}

int runSample(const SampleOptions &opts) {
  StatusOr<Primitive> primitive = parsePrimitive(opts.primitiveName);
  if (!primitive.isOk())
    return fail("sample: " + primitive.status().message());
  Rng rng(opts.seed);
  for (long i = 0; i < opts.count; ++i) {
    StatusOr<PrimitiveExample> example =
        generatePrompt(*primitive, int(opts.depth), int(opts.shots), rng);
    if (!example.isOk())
      return fail("sample: " + example.status().message());
    std::printf("{\"prompt\": %s, \"answer\": %s}\n",
                jsonString(example->prompt).c_str(),
                jsonString(example->answer).c_str());
  }
  return 0;
}

} // namespace

Command growc::rt::addSampleCommand(CLI::App &app) {
  auto opts = std::make_shared<SampleOptions>();
  CLI::App *command = addCommand(
      app, "sample", "Print seeded reasoning-primitive prompts",
      "Prints C generated reasoning-primitive prompts (SPEC.md section 6)\n"
      "as JSON lines {\"prompt\", \"answer\"}; the same seed gives the same\n"
      "lines on every machine.");
  command
      ->add_option("--primitive", opts->primitiveName,
                   "var-assign-math, var-assign-code or induction-copy")
      ->required();
  integerIn(command->add_option("--depth", opts->depth, "Depth (0)"), 0, 8);
  integerIn(command->add_option("--shots", opts->shots, "Shots (5)"), 0, 64);
  integerIn(command->add_option("--seed", opts->seed, "Seed (0)"), 0,
            std::numeric_limits<long long>::max(), "a non-negative integer");
  integerIn(command->add_option("--count", opts->count, "Prompts (1)"), 1,
            1000000);
  return {command, [opts] { return runSample(*opts); }};
}
