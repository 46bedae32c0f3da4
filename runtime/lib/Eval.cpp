//===- Eval.cpp - accuracy on the reasoning primitives --------------------===//

#include "growc/runtime/Eval.h"

#include <algorithm>

using namespace growc::rt;

std::vector<int32_t> growc::rt::encodePrompt(const std::string &prompt) {
  std::vector<int32_t> ids{ByteTokenizer::kEos};
  size_t begin = 0;
  while (true) {
    size_t end = prompt.find('\n', begin);
    std::vector<int32_t> line =
        ByteTokenizer::encode(std::string_view(prompt).substr(
            begin, end == std::string::npos ? std::string::npos : end - begin));
    ids.insert(ids.end(), line.begin(), line.end());
    if (end == std::string::npos)
      return ids;
    ids.push_back(ByteTokenizer::kEos);
    begin = end + 1;
  }
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
  Rng rng(options.seed);
  AccuracyResult result;
  for (const std::string &name : outputs)
    result.correct[name] = 0;
  const int64_t batch = plan.batch, seq = plan.seq;
  while (result.count < options.count) {
    int64_t rows = std::min(batch, options.count - result.count);
    std::vector<std::vector<int32_t>> prompts;
    std::vector<int32_t> answers;
    int64_t longest = 0;
    for (int64_t r = 0; r < rows; ++r) {
      StatusOr<PrimitiveExample> example =
          generatePrompt(options.primitive, options.depth, options.shots, rng);
      if (!example.isOk())
        return example.status();
      prompts.push_back(encodePrompt(example->prompt));
      answers.push_back(ByteTokenizer::encode(example->answer).at(0));
      longest = std::max<int64_t>(longest, prompts.back().size());
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
    std::vector<int32_t> tokens(rows * longest, ByteTokenizer::kEos);
    for (int64_t r = 0; r < rows; ++r)
      std::copy(prompts[r].begin(), prompts[r].end(),
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
        const float *row =
            logits.data +
            (r * longest + int64_t(prompts[r].size()) - 1) * vocab;
        int64_t best = std::max_element(row, row + vocab) - row;
        result.correct[name] += best == answers[r];
      }
    }
    result.count += rows;
  }
  return result;
}
