//===- Eval.h - accuracy on the reasoning primitives ------------*- C++ -*-===//
//
// SPEC.md §6's evaluation: seeded k-shot prompts of a reasoning primitive,
// the answer token decoded by argmax at the prompt's last position, exact
// match. Prompts are laid out the way the training stream lays out solved
// examples (each example after an EOS token), so a model trained on
// `primitives:NAME` sees its shots in the format it learned. Any float
// output [B, T, V] of a forward graph can be scored, which is how the
// early-exit heads of an analysis graph are scored layer by layer.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_EVAL_H
#define GROWC_RUNTIME_EVAL_H

#include "growc/runtime/CpuExecutor.h"
#include "growc/runtime/Data.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace growc::rt {

struct AccuracyOptions {
  Primitive primitive = Primitive::VarAssignMath;
  int depth = 0;
  int shots = 5;
  int64_t count = 200;
  uint64_t seed = 0;
};

struct AccuracyResult {
  int64_t count = 0;
  /// Correct answers by scored output name.
  std::map<std::string, int64_t> correct;
  double accuracy(const std::string &output) const {
    return count ? double(correct.at(output)) / double(count) : 0.0;
  }
};

/// The token ids of a prompt: EOS, then each line of `prompt` (the shots
/// and the query) with an EOS between lines.
std::vector<int32_t> encodePrompt(const std::string &prompt);

/// Runs `options.count` prompts through `exec` (a forward graph, params
/// loaded) in batches of its compiled batch size and scores each output in
/// `outputs` (float [B, T, vocab]). A prompt longer than the compiled
/// sequence is an error naming the length needed.
StatusOr<AccuracyResult>
primitiveAccuracy(CpuExecutor &exec, const AccuracyOptions &options,
                  const std::vector<std::string> &outputs = {"logits"});

} // namespace growc::rt

#endif // GROWC_RUNTIME_EVAL_H
