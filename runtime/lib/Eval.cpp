//===- Eval.cpp - accuracy on the reasoning primitives --------------------===//
//
// Seeded k-shot prompts rendered by the model's tokenizer (Eval.h), scored
// by greedy exact match of the answer's tokens.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Eval.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

using namespace growc::rt;

StatusOr<EncodedPrompt>
growc::rt::encodePrompt(const Tokenizer &tokenizer,
                        const std::vector<PrimitiveExample> &examples) {
  std::optional<int32_t> eos = tokenizer.documentSeparator();
  if (!eos)
    return Status::error(tokenizer.describe() +
                         " has no document separator to put between "
                         "examples");
  EncodedPrompt encoded;
  for (size_t i = 0; i < examples.size(); ++i) {
    StatusOr<EncodedExample> example = encodeExample(tokenizer, examples[i]);
    if (!example.isOk())
      return example.status();
    encoded.prompt.push_back(*eos);
    encoded.prompt.insert(encoded.prompt.end(), example->prompt.begin(),
                          example->prompt.end());
    if (i + 1 < examples.size())
      encoded.prompt.insert(encoded.prompt.end(), example->answer.begin(),
                            example->answer.end());
    else
      encoded.answer = std::move(example->answer);
  }
  return encoded;
}

namespace {

/// One prompt of `options` drawn from `rng` and what the model reads for
/// it: the prompt, then the answer's tokens but its last, so that position
/// prompt - 1 + i predicts answer token i.
struct PromptRow {
  EncodedPrompt prompt;
  std::vector<int32_t> input;
};

StatusOr<PromptRow> drawPrompt(const Tokenizer &tokenizer,
                               const AccuracyOptions &options, Rng &rng) {
  StatusOr<std::vector<PrimitiveExample>> examples = generatePromptExamples(
      options.primitive, options.depth, options.shots, rng);
  if (!examples.isOk())
    return examples.status();
  StatusOr<EncodedPrompt> prompt = encodePrompt(tokenizer, *examples);
  if (!prompt.isOk())
    return prompt.status();
  PromptRow row{std::move(*prompt), {}};
  row.input = row.prompt.prompt;
  row.input.insert(row.input.end(), row.prompt.answer.begin(),
                   row.prompt.answer.end() - 1);
  return row;
}

} // namespace

StatusOr<PromptLengths> growc::rt::promptLengths(const AccuracyOptions &options,
                                                 int64_t vocabSize,
                                                 int64_t context) {
  StatusOr<const Tokenizer *> tokenizer =
      tokenizerFor(options.tokenizer, vocabSize,
                   std::string(primitiveName(options.primitive)) + " prompts");
  if (!tokenizer.isOk())
    return tokenizer.status();
  // The same draws, in the same order, as primitiveAccuracy makes.
  Rng rng(options.seed);
  PromptLengths lengths;
  for (int64_t i = 0; i < options.count; ++i) {
    StatusOr<PromptRow> row = drawPrompt(**tokenizer, options, rng);
    if (!row.isOk())
      return row.status();
    int64_t length = int64_t(row->input.size());
    lengths.longest = std::max(lengths.longest, length);
    lengths.beyond += context > 0 && length > context;
  }
  return lengths;
}

StatusOr<AccuracyResult>
growc::rt::primitiveAccuracy(CpuExecutor &exec, const AccuracyOptions &options,
                             const std::vector<std::string> &outputs) {
  const Plan &plan = exec.plan();
  for (const std::string &name : outputs) {
    const PlanTensor *output = plan.findOutput(name);
    if (!output || output->shape.size() != 3 ||
        output->shape[2] != plan.vocabSize)
      return Status::error(plan.path + ": no output " + name +
                           " of shape [batch, seq, vocab]");
  }
  StatusOr<const Tokenizer *> tokenizer =
      tokenizerFor(options.tokenizer, plan.vocabSize,
                   std::string(primitiveName(options.primitive)) + " prompts");
  if (!tokenizer.isOk())
    return tokenizer.status();
  const int32_t eos = *(*tokenizer)->documentSeparator();
  Rng rng(options.seed);
  AccuracyResult result;
  for (const std::string &name : outputs)
    result.correct[name] = 0;
  const int64_t batch = plan.batch, seq = plan.seq;
  while (result.count < options.count) {
    int64_t rows = std::min(batch, options.count - result.count);
    std::vector<std::vector<int32_t>> inputs;
    std::vector<EncodedPrompt> prompts;
    int64_t longest = 0;
    for (int64_t r = 0; r < rows; ++r) {
      StatusOr<PromptRow> row = drawPrompt(**tokenizer, options, rng);
      if (!row.isOk())
        return row.status();
      longest = std::max<int64_t>(longest, row->input.size());
      inputs.push_back(std::move(row->input));
      prompts.push_back(std::move(row->prompt));
    }
    if (longest > seq)
      return Status::error("a " + std::to_string(options.shots) + "-shot " +
                           primitiveName(options.primitive) +
                           " prompt of depth " + std::to_string(options.depth) +
                           " needs " + std::to_string(longest) + " tokens; " +
                           plan.path + " was compiled for " +
                           std::to_string(seq) + " (growc --seq)");
    // Right-padded with EOS: causal attention keeps padding out of every
    // prompt position.
    std::vector<int32_t> tokens(rows * longest, eos);
    for (int64_t r = 0; r < rows; ++r)
      std::copy(inputs[r].begin(), inputs[r].end(),
                tokens.begin() + r * longest);
    TensorView view{"tokens",
                    DType::I32,
                    {rows, longest},
                    reinterpret_cast<const uint8_t *>(tokens.data()),
                    tokens.size() * 4};
    auto computed = exec.forward(view);
    if (!computed.isOk())
      return computed.status();
    for (const std::string &name : outputs) {
      const OutputTensor &logits = computed->at(name);
      const int64_t vocab = logits.shape[2];
      for (int64_t r = 0; r < rows; ++r) {
        const std::vector<int32_t> &answer = prompts[r].answer;
        const int64_t first = int64_t(prompts[r].prompt.size()) - 1;
        bool correct = true;
        for (size_t i = 0; i < answer.size() && correct; ++i) {
          const float *row =
              logits.data + (r * longest + first + int64_t(i)) * vocab;
          correct = std::max_element(row, row + vocab) - row == answer[i];
        }
        result.correct[name] += correct;
      }
    }
    result.count += rows;
  }
  return result;
}

double PrimitiveFloors::highest() const {
  return std::max({copy, constant, chance});
}

StatusOr<PrimitiveFloors> growc::rt::primitiveFloors(Primitive primitive,
                                                     int depth, int64_t samples,
                                                     uint64_t seed) {
  if (samples <= 0)
    return Status::error("primitive floors need at least one sample");
  const bool letters = primitive == Primitive::InductionCopy;
  auto isCandidate = [letters](char c) {
    return letters ? c >= 'a' && c <= 'z' : c >= '0' && c <= '9';
  };
  Rng rng(seed);
  std::map<std::string, int64_t> answers;
  double copyTotal = 0;
  for (int64_t i = 0; i < samples; ++i) {
    StatusOr<PrimitiveExample> example = generateExample(primitive, depth, rng);
    if (!example.isOk())
      return example.status();
    ++answers[example->answer];
    // The copy heuristic's candidates: what the example itself offers. For
    // induction copy only the sequence before the space (the copied span
    // repeats letters of it).
    std::string_view text = example->prompt;
    if (letters)
      text = text.substr(0, text.find(' '));
    std::set<char> candidates;
    for (char c : text)
      if (isCandidate(c))
        candidates.insert(c);
    if (!candidates.empty() && example->answer.size() == 1 &&
        candidates.count(example->answer[0]))
      copyTotal += 1.0 / double(candidates.size());
  }
  PrimitiveFloors floors;
  floors.copy = copyTotal / double(samples);
  int64_t most = 0;
  for (const auto &[answer, count] : answers)
    most = std::max(most, count);
  floors.constant = double(most) / double(samples);
  floors.chance = letters ? 1.0 / 26 : 1.0 / 10;
  return floors;
}

bool growc::rt::aboveFloor(double accuracy, int64_t count, double floor) {
  if (count <= 0)
    return false;
  return accuracy > floor + 2 * std::sqrt(floor * (1 - floor) / double(count));
}

double growc::rt::relativeAccuracy(double accuracy, double final, int64_t count,
                                   double floor) {
  if (!aboveFloor(final, count, floor))
    return std::nan("");
  return accuracy / final;
}
