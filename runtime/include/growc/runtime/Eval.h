//===- Eval.h - accuracy on the reasoning primitives ------------*- C++ -*-===//
//
// SPEC.md §6's evaluation: seeded k-shot prompts of a reasoning primitive,
// the answer decoded greedily after the prompt, exact match. Prompts are
// laid out the way the training stream lays out solved examples (each
// example after an EOS token, prompt and answer encoded on their own), so
// a model trained on `primitives:NAME` sees its shots in the format it
// learned; a model with another vocabulary gets them through its
// tokenizer. Any float
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
  /// Renders the prompts (tokenizerFor in Data.h): null for the byte
  /// tokenizer, which only a model with the byte vocabulary accepts.
  const Tokenizer *tokenizer = nullptr;
};

struct AccuracyResult {
  int64_t count = 0;
  /// Correct answers by scored output name.
  std::map<std::string, int64_t> correct;
  double accuracy(const std::string &output) const {
    return count ? double(correct.at(output)) / double(count) : 0.0;
  }
};

/// A prompt's token ids: each example of `examples` (generatePromptExamples:
/// the shots, then the query) after the tokenizer's EOS, the shots with
/// their answers; and the query's answer.
struct EncodedPrompt {
  std::vector<int32_t> prompt, answer;
};
StatusOr<EncodedPrompt>
encodePrompt(const Tokenizer &tokenizer,
             const std::vector<PrimitiveExample> &examples);

/// The lengths of the prompts primitiveAccuracy would run for `options`
/// on a model of `vocabSize` tokens, counted as the model reads them (the
/// prompt and the answer's tokens but its last).
struct PromptLengths {
  int64_t longest = 0;
  /// How many are longer than the `context` given (0 when it is not).
  int64_t beyond = 0;
};
StatusOr<PromptLengths> promptLengths(const AccuracyOptions &options,
                                      int64_t vocabSize, int64_t context = 0);

/// What a model scores without solving the task, measured on the
/// generator's own examples (generateExample of `primitive` at `depth`):
/// `copy` is the expected accuracy of answering with a candidate drawn
/// uniformly from those the current example offers (the digits it assigns
/// for variable assignment, so 1/3 at depth 0 where three chains start and
/// 1/2 deeper; the distinct letters of the sequence for induction copy);
/// `constant` is the frequency of the most frequent answer (the best
/// single answer); `chance` is uniform over the answer vocabulary (10
/// digits or 26 letters). `samples` examples drawn from `seed`.
struct PrimitiveFloors {
  double copy = 0, constant = 0, chance = 0;
  /// The highest of the three: the accuracy to beat.
  double highest() const;
};
StatusOr<PrimitiveFloors> primitiveFloors(Primitive primitive, int depth,
                                          int64_t samples = 20000,
                                          uint64_t seed = 0);

/// Whether `accuracy` over `count` prompts is above `floor` by more than
/// two binomial standard errors of the floor (sqrt(floor (1 - floor) /
/// count)): below that the model is indistinguishable from its floor and
/// a ratio of its accuracies says nothing.
bool aboveFloor(double accuracy, int64_t count, double floor);

/// `accuracy` relative to the full model's `final` accuracy over `count`
/// prompts: NaN (undefined) unless `final` is aboveFloor `floor`, since a
/// model at its floor has every layer "as good as the last" and a ratio of
/// 1.0 would read as a result.
double relativeAccuracy(double accuracy, double final, int64_t count,
                        double floor);

/// Runs `options.count` prompts through `exec` (a forward graph, params
/// loaded) in batches of its compiled batch size and scores each output in
/// `outputs` (float [B, T, vocab]). An answer of several tokens (under a
/// BPE tokenizer) is correct when the argmax at each of its positions,
/// given the prompt and the answer's earlier tokens, is its token: what
/// greedy decoding of that many tokens gives. A prompt longer than the
/// compiled sequence is an error naming the length needed.
StatusOr<AccuracyResult>
primitiveAccuracy(CpuExecutor &exec, const AccuracyOptions &options,
                  const std::vector<std::string> &outputs = {"logits"});

} // namespace growc::rt

#endif // GROWC_RUNTIME_EVAL_H
