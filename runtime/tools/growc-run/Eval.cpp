//===- Eval.cpp - growc-run eval ------------------------------------------===//
//
//   growc-run eval ART --weights C.safetensors --primitive NAME
//       [--depth K|MIN-MAX] [--shots 5] [--count 200] [--seed S]
//       [--tokenizer T] [--allow-beyond-context]
//
// Accuracy of a forward graph with the weights of a checkpoint on seeded
// k-shot prompts of a reasoning primitive (SPEC.md section 6;
// runtime/lib/Eval.cpp scores them), one JSON line per depth with the
// task's floors beside the accuracy (primitiveFloors: the copy heuristic,
// the best constant answer, uniform chance) and whether the accuracy is
// above the highest by two binomial standard errors. Prompts
// longer than the context the checkpoint was trained at are refused unless
// --allow-beyond-context, which the JSON lines then record.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "growc/runtime/Checkpoint.h"
#include "growc/runtime/CpuExecutor.h"
#include "growc/runtime/Data.h"
#include "growc/runtime/Eval.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Tokenizer.h"
#include "growc/runtime/TrainOutputs.h"

#include <cstdio>
#include <limits>
#include <memory>

using namespace growc::rt;

namespace {

struct EvalOptions {
  std::string artifact, weights, primitiveName, depth = "0", tokenizer;
  long shots = 5, count = 200, threads = 0;
  unsigned long long seed = 0;
  bool allowBeyondContext = false;
};

/// The AccuracyOptions of depth `depth`.
AccuracyOptions accuracyOptions(const EvalOptions &opts, Primitive primitive,
                                const Tokenizer *tokenizer, long depth) {
  AccuracyOptions options;
  options.tokenizer = tokenizer;
  options.primitive = primitive;
  options.depth = int(depth);
  options.shots = int(opts.shots);
  options.count = opts.count;
  // One prompt set per depth, the same for every checkpoint.
  options.seed = opts.seed + uint64_t(depth);
  return options;
}

int runEval(const EvalOptions &opts) {
  long minDepth = 0, maxDepth = 0;
  parseDepthRange(opts.depth, minDepth, maxDepth);
  StatusOr<Primitive> primitive = parsePrimitive(opts.primitiveName);
  if (!primitive.isOk())
    return fail("eval: " + primitive.status().message());
  if (*primitive == Primitive::InductionCopy)
    maxDepth = minDepth = 0;
  StatusOr<std::unique_ptr<CpuExecutor>> exec =
      CpuExecutor::load(opts.artifact, int(opts.threads));
  if (!exec.isOk())
    return fail(exec.status());
  if ((*exec)->plan().graph != "forward")
    return fail((*exec)->plan().path + " is a " + (*exec)->plan().graph +
                " graph; eval runs a forward graph (growc --graph=forward)");
  StatusOr<Checkpoint> checkpoint = Checkpoint::open(opts.weights);
  if (!checkpoint.isOk())
    return fail(checkpoint.status());
  if (Status status = (*exec)->loadParams(*checkpoint); !status.isOk())
    return fail(status);
  StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      loadTokenizerOption(opts.tokenizer);
  if (!tokenizer.isOk())
    return fail("eval: " + tokenizer.status().message());
  StatusOr<std::optional<int64_t>> context =
      trainedContextOf("eval", *checkpoint);
  if (!context.isOk())
    return fail("eval: " + context.status().message());
  // Every depth's prompts against the trained context before any runs, so
  // that a refusal comes before the first result. Prompts longer than the
  // compiled sequence are primitiveAccuracy's error, as before.
  const Plan &plan = (*exec)->plan();
  std::vector<PromptLengths> lengths;
  for (long depth = minDepth; depth <= maxDepth; ++depth) {
    StatusOr<PromptLengths> measured = promptLengths(
        accuracyOptions(opts, *primitive, tokenizer->get(), depth),
        plan.vocabSize, context->value_or(0));
    if (!measured.isOk())
      return fail("eval: " + measured.status().message());
    lengths.push_back(*measured);
    if (!measured->beyond || measured->longest > plan.seq)
      continue;
    std::string said =
        std::to_string(measured->beyond) + " of " + std::to_string(opts.count) +
        " " + std::to_string(opts.shots) + "-shot " + opts.primitiveName +
        " prompts of depth " + std::to_string(depth) + " read more than the " +
        std::to_string(**context) + " tokens " + opts.weights +
        " was trained at (" + kTrainedContextKey + "), up to " +
        std::to_string(measured->longest);
    if (!opts.allowBeyondContext)
      return fail("eval: " + said +
                  "; give fewer --shots, or --allow-beyond-context to "
                  "evaluate where the model was not trained");
    std::fprintf(stderr,
                 "growc-run: eval: WARNING: --allow-beyond-context: %s; "
                 "their accuracy is measured beyond the trained context\n",
                 said.c_str());
  }
  for (long depth = minDepth; depth <= maxDepth; ++depth) {
    StatusOr<AccuracyResult> result = primitiveAccuracy(
        **exec, accuracyOptions(opts, *primitive, tokenizer->get(), depth));
    if (!result.isOk())
      return fail("eval: " + result.status().message());
    // The task's floors (a property of the generator, not of this prompt
    // set, so a fixed seed): an accuracy reads against them, not 0.
    StatusOr<PrimitiveFloors> floors = primitiveFloors(*primitive, int(depth));
    if (!floors.isOk())
      return fail("eval: " + floors.status().message());
    const double accuracy = result->accuracy("logits");
    const PromptLengths &measured = lengths[depth - minDepth];
    std::string known = *context ? std::to_string(**context) : "null",
                beyond = *context ? std::to_string(measured.beyond) : "null";
    std::printf(
        "{\"primitive\": \"%s\", \"depth\": %ld, \"shots\": %ld, "
        "\"count\": %lld, \"correct\": %lld, \"accuracy\": %.4f, "
        "\"longest_prompt\": %lld, \"trained_context\": %s, "
        "\"beyond_context\": %s, \"floor_copy\": %.4f, "
        "\"floor_constant\": %.4f, \"chance\": %.4f, "
        "\"above_floor\": %s}\n",
        opts.primitiveName.c_str(), depth, opts.shots, (long long)result->count,
        (long long)result->correct.at("logits"), accuracy,
        (long long)measured.longest, known.c_str(), beyond.c_str(),
        floors->copy, floors->constant, floors->chance,
        aboveFloor(accuracy, result->count, floors->highest()) ? "true"
                                                               : "false");
  }
  return 0;
}

} // namespace

Command growc::rt::addEvalCommand(CLI::App &app) {
  auto opts = std::make_shared<EvalOptions>();
  CLI::App *command = addCommand(
      app, "eval", "Accuracy of a checkpoint on reasoning-primitive prompts",
      "Accuracy of a forward graph with the weights of C on seeded k-shot\n"
      "prompts of a reasoning primitive (SPEC.md section 6): the answer by\n"
      "greedy decoding after the prompt, exact match. Prompts are laid out\n"
      "like the training stream (each example after an EOS); a model\n"
      "without the 259-token byte vocabulary renders them through\n"
      "--tokenizer T. Prompts longer than the context C was trained at\n"
      "(growc.trained_context, written by growc-run train) are refused\n"
      "unless --allow-beyond-context. Prints one JSON line per depth, with\n"
      "the task's floors beside the accuracy: floor_copy (answering with a\n"
      "value the example assigns), floor_constant (the most frequent\n"
      "answer), chance (uniform over the answers), and above_floor (the\n"
      "accuracy beats the highest by two binomial standard errors).");
  command->add_option("ART", opts->artifact, "A forward artifact")->required();
  command->add_option("--weights", opts->weights, "The checkpoint C")
      ->required();
  command
      ->add_option("--primitive", opts->primitiveName,
                   "var-assign-math, var-assign-code or induction-copy")
      ->required();
  depthRange(command->add_option("--depth", opts->depth,
                                 "A depth K or a range MIN-MAX (0)"),
             8);
  integerIn(command->add_option("--shots", opts->shots, "Shots (5)"), 0, 64);
  integerIn(
      command->add_option("--count", opts->count, "Prompts per depth (200)"), 1,
      1000000);
  integerIn(command->add_option("--seed", opts->seed, "Prompt seed (0)"), 0,
            std::numeric_limits<long>::max(), "a non-negative integer");
  command->add_option("--tokenizer", opts->tokenizer,
                      "tokenizer.json (or its folder) rendering the prompts "
                      "for a model without the byte vocabulary");
  addFlag(*command, "--allow-beyond-context", opts->allowBeyondContext,
          "Evaluate prompts longer than the context the checkpoint was "
          "trained at (refused otherwise), with a warning; the JSON lines "
          "count them (beyond_context)");
  integerIn(command->add_option("--threads", opts->threads,
                                "Threads of the CPU executor"),
            1, 1024, "a count in [1, 1024]");
  return {command, [opts] { return runEval(*opts); }};
}

StatusOr<std::optional<int64_t>>
growc::rt::trainedContextOf(const std::string &command,
                            const Checkpoint &checkpoint) {
  StatusOr<std::optional<int64_t>> context =
      recordedTrainedContext(checkpoint.path(), checkpoint.metadata());
  if (context.isOk() && !*context)
    std::fprintf(stderr,
                 "growc-run: %s: note: trained context unknown: %s records "
                 "no %s (not written by growc-run train), so nothing is "
                 "checked against it\n",
                 command.c_str(), checkpoint.path().c_str(),
                 kTrainedContextKey);
  return context;
}
