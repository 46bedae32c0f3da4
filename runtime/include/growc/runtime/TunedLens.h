//===- TunedLens.h - the tuned lens of Belrose et al. 2023 ------*- C++ -*-===//
//
// `growc-run analyze --tuned-lens`: per layer l an affine translator
// h -> A_l h + b_l (identity and zero at the start), decoded by the model's
// own final RMSNorm and head, trained to predict the model's final
// distribution on the first half of the held-out tokens and evaluated on
// the second (Belrose et al., "Eliciting Latent Predictions from
// Transformers with the Tuned Lens", 2023). Forward and backward are
// written out here, in double precision; docs/analysis.md "Tuned lens"
// states the recipe and its cost.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TUNEDLENS_H
#define GROWC_RUNTIME_TUNEDLENS_H

#include "growc/runtime/Checkpoint.h"
#include "growc/runtime/Json.h"
#include "growc/runtime/Status.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace growc::rt {

struct TunedLensOptions {
  /// Full-batch steps of SGD with Nesterov momentum 0.9, the learning rate
  /// decaying linearly from `lr` to 0 (Belrose et al.'s optimizer).
  int64_t steps = 100;
  double lr = 0.03;
};

/// What the tuned lens trains and evaluates on, gathered from the clean
/// model's forward runs: per token (in window, row, position order), the
/// states the logit lens decodes at each layer and the final logits.
class TunedLensData {
public:
  TunedLensData(int64_t layers, int64_t hidden, int64_t vocab);
  /// Appends `tokens` tokens: states[l] is [tokens, hidden] for l < layers,
  /// logits [tokens, vocab].
  void append(const std::vector<const float *> &states, const float *logits,
              int64_t tokens);
  int64_t layers() const { return layers_; }
  int64_t hidden() const { return hidden_; }
  int64_t vocab() const { return vocab_; }
  int64_t tokens() const { return tokens_; }

  const float *states(int64_t layer) const { return states_[layer].data(); }
  const float *logits() const { return logits_.data(); }

private:
  int64_t layers_, hidden_, vocab_, tokens_ = 0;
  std::vector<std::vector<float>> states_; // [layer][token * hidden]
  std::vector<float> logits_;              // [token * vocab]
};

/// Trains the translators on the first floor(N/2) tokens and evaluates them
/// on the rest: the report's `tuned_lens` object (docs/analysis.md). The
/// final norm and the head (lm_head.weight, or the tied embedding) come
/// from `checkpoint`, the norm's epsilon from the suite manifest;
/// `progress` is told each layer.
StatusOr<JsonValue>
tunedLens(const TunedLensData &data, const Checkpoint &checkpoint,
          double rmsNormEps, const TunedLensOptions &options,
          const std::function<void(const std::string &)> &progress = {});

} // namespace growc::rt

#endif // GROWC_RUNTIME_TUNEDLENS_H
