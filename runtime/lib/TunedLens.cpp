//===- TunedLens.cpp - the tuned lens of Belrose et al. 2023 --------------===//
//
// Trains one affine translator per layer so that the model's own final
// RMSNorm and head decode it into the final distribution. Everything is in
// double precision (the states and logits are the model's float32 outputs):
// the forward and backward of RMSNorm and the head GEMMs are written out
// here and go through CBLAS's dgemm, over chunks of tokens so that the
// [tokens, vocab] intermediates stay small at a 49k vocabulary.
// test/growc/Inputs/reference_tuned_lens.py re-implements the recipe with
// PyTorch autograd.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/TunedLens.h"
#include "growc/runtime/Text.h"

#include "LogitRows.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <tuple>

#include <cblas.h>

using namespace growc::rt;

namespace {

/// Tokens per chunk of a pass: bounds the [chunk, vocab] buffers.
constexpr int64_t kChunk = 256;
/// Belrose et al.'s Nesterov momentum.
constexpr double kMomentum = 0.9;

/// The model's decoder: final RMSNorm weight, epsilon and head.
struct Head {
  int64_t hidden = 0, vocab = 0;
  double eps = 0;
  std::vector<double> norm;    // [hidden]
  std::vector<double> unembed; // [vocab, hidden]
};

StatusOr<std::vector<double>> readWeight(const Checkpoint &checkpoint,
                                         const std::string &name,
                                         const std::vector<int64_t> &shape) {
  const TensorView *tensor = checkpoint.find(name);
  if (!tensor)
    return Status::error(checkpoint.path() + ": no tensor " + name);
  if (tensor->shape != shape || !convertsExactly(tensor->dtype, DType::F32))
    return Status::error(
        checkpoint.fileOf(*tensor) + ": " + name + " is " +
        dtypeName(tensor->dtype) + " " + formatShape(tensor->shape) +
        ", the tuned lens expects F32, BF16 or F16 " + formatShape(shape));
  std::vector<float> values(tensor->numElements());
  convertTensor(*tensor, DType::F32, values.data());
  return std::vector<double>(values.begin(), values.end());
}

/// One translator: y = A x + b, A row-major [hidden, hidden].
struct Translator {
  std::vector<double> A, b;
  explicit Translator(int64_t d) : A(d * d, 0.0), b(d, 0.0) {
    for (int64_t k = 0; k < d; ++k)
      A[k * d + k] = 1.0;
  }
};

/// Called per token of a pass with its lens logits and the final logits.
using TokenVisitor = std::function<void(const double *lens, const float *fin)>;

/// The mean over tokens [begin, end) of KL(p_final || p_lens), the
/// objective. With `gradA`, adds the objective's gradients to gradA and
/// gradB; with `visit`, shows it every token.
double pass(const Head &head, const float *states, const float *logits,
            int64_t begin, int64_t end, const Translator &lens,
            std::vector<double> *gradA, std::vector<double> *gradB,
            const TokenVisitor &visit) {
  const int64_t d = head.hidden, V = head.vocab, n = end - begin;
  std::vector<double> X(kChunk * d), Y(kChunk * d), U(kChunk * d),
      Z(kChunk * V), r(kChunk), logp, logpFinal, finalRow(V);
  double loss = 0;
  for (int64_t c0 = begin; c0 < end; c0 += kChunk) {
    const int64_t c = std::min(kChunk, end - c0);
    for (int64_t k = 0; k < c * d; ++k)
      X[k] = states[c0 * d + k];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(c), int(d), int(d),
                1.0, X.data(), int(d), lens.A.data(), int(d), 0.0, Y.data(),
                int(d));
    for (int64_t i = 0; i < c; ++i) {
      double *y = Y.data() + i * d;
      double sq = 0;
      for (int64_t k = 0; k < d; ++k) {
        y[k] += lens.b[k];
        sq += y[k] * y[k];
      }
      r[i] = std::sqrt(sq / double(d) + head.eps);
      for (int64_t k = 0; k < d; ++k) {
        U[i * d + k] = y[k] / r[i];
        // Y now holds the normed, weighted state the head reads.
        y[k] = U[i * d + k] * head.norm[k];
      }
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(c), int(V), int(d),
                1.0, Y.data(), int(d), head.unembed.data(), int(d), 0.0,
                Z.data(), int(V));
    for (int64_t i = 0; i < c; ++i) {
      double *z = Z.data() + i * V;
      const float *fin = logits + (c0 + i) * V;
      if (visit)
        visit(z, fin);
      for (int64_t v = 0; v < V; ++v)
        finalRow[v] = fin[v];
      logSoftmax(finalRow.data(), V, logpFinal);
      logSoftmax(z, V, logp);
      for (int64_t v = 0; v < V; ++v) {
        double p = std::exp(logpFinal[v]);
        loss += p * (logpFinal[v] - logp[v]);
        // z becomes dKL/dz = (softmax(z) - p_final) / n.
        z[v] = (std::exp(logp[v]) - p) / double(n);
      }
    }
    if (!gradA)
      continue;
    // Back through the head: dY' = dZ W_U, then the norm's weight and
    // RMSNorm: dy = (g - u (g.u) / d) / r with g = dY' * w.
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(c), int(d),
                int(V), 1.0, Z.data(), int(V), head.unembed.data(), int(d), 0.0,
                Y.data(), int(d));
    for (int64_t i = 0; i < c; ++i) {
      double *g = Y.data() + i * d;
      const double *u = U.data() + i * d;
      double gu = 0;
      for (int64_t k = 0; k < d; ++k) {
        g[k] *= head.norm[k];
        gu += g[k] * u[k];
      }
      for (int64_t k = 0; k < d; ++k) {
        g[k] = (g[k] - u[k] * gu / double(d)) / r[i];
        (*gradB)[k] += g[k];
      }
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(d), int(d), int(c),
                1.0, Y.data(), int(d), X.data(), int(d), 1.0, gradA->data(),
                int(d));
  }
  return loss / double(n);
}

} // namespace

TunedLensData::TunedLensData(int64_t layers, int64_t hidden, int64_t vocab)
    : layers_(layers), hidden_(hidden), vocab_(vocab), states_(layers) {}

void TunedLensData::append(const std::vector<const float *> &states,
                           const float *logits, int64_t tokens) {
  for (int64_t l = 0; l < layers_; ++l)
    states_[l].insert(states_[l].end(), states[l],
                      states[l] + tokens * hidden_);
  logits_.insert(logits_.end(), logits, logits + tokens * vocab_);
  tokens_ += tokens;
}

StatusOr<JsonValue>
growc::rt::tunedLens(const TunedLensData &data, const Checkpoint &checkpoint,
                     double rmsNormEps, const TunedLensOptions &options,
                     const std::function<void(const std::string &)> &progress) {
  auto started = std::chrono::steady_clock::now();
  const int64_t L = data.layers(), d = data.hidden(), V = data.vocab();
  const int64_t N = data.tokens(), nTrain = N / 2;
  if (nTrain < 1 || options.steps < 0 || !(options.lr >= 0))
    return Status::error("the tuned lens needs at least 2 held-out tokens, "
                         "steps >= 0 and lr >= 0");
  Head head;
  head.hidden = d;
  head.vocab = V;
  auto norm = readWeight(checkpoint, "model.norm.weight", {d});
  if (!norm.isOk())
    return norm.status();
  head.norm = std::move(*norm);
  // The head: lm_head.weight, or the embedding when the model ties them.
  const std::string headName = checkpoint.find("lm_head.weight")
                                   ? "lm_head.weight"
                                   : "model.embed_tokens.weight";
  auto unembed = readWeight(checkpoint, headName, {V, d});
  if (!unembed.isOk())
    return unembed.status();
  head.unembed = std::move(*unembed);
  head.eps = rmsNormEps;

  std::vector<double> overlap(L), kl(L), klObjective(L), logitLensKl(L),
      logitLensObjective(L), trainInitial(L), trainFinal(L);
  for (int64_t l = 0; l < L; ++l) {
    if (progress)
      progress("tuned lens: layer " + std::to_string(l));
    const float *states = data.states(l);
    const float *logits = data.logits();
    Translator lens(d), velocity(d);
    std::fill(velocity.A.begin(), velocity.A.end(), 0.0);
    std::vector<double> gradA(d * d), gradB(d);
    for (int64_t step = 0; step < options.steps; ++step) {
      std::fill(gradA.begin(), gradA.end(), 0.0);
      std::fill(gradB.begin(), gradB.end(), 0.0);
      double loss =
          pass(head, states, logits, 0, nTrain, lens, &gradA, &gradB, nullptr);
      if (step == 0)
        trainInitial[l] = loss;
      // SGD with Nesterov momentum (PyTorch's form, no dampening):
      // v = mu v + g, theta -= lr_t (g + mu v), lr_t decaying linearly.
      const double lr =
          options.lr * (1.0 - double(step) / double(options.steps));
      auto update = [&](std::vector<double> &theta, std::vector<double> &v,
                        const std::vector<double> &g) {
        for (size_t k = 0; k < theta.size(); ++k) {
          v[k] = kMomentum * v[k] + g[k];
          theta[k] -= lr * (g[k] + kMomentum * v[k]);
        }
      };
      update(lens.A, velocity.A, gradA);
      update(lens.b, velocity.b, gradB);
    }
    trainFinal[l] =
        pass(head, states, logits, 0, nTrain, lens, nullptr, nullptr, nullptr);
    if (options.steps == 0)
      trainInitial[l] = trainFinal[l];

    // The held-out half: top-5 overlap with the final logits and
    // KL(p_lens || p_final), as the logit lens reports them.
    auto evaluate = [&](const Translator &t, double *overlapSum) {
      double reverseSum = 0;
      std::vector<double> logp, logpFinal, fin(V);
      auto visit = [&](const double *z, const float *f) {
        if (overlapSum) {
          std::vector<int64_t> top = topK(z, V, 5), topFinal = topK(f, V, 5);
          int64_t common = 0;
          for (int64_t x : top)
            common += std::count(topFinal.begin(), topFinal.end(), x);
          *overlapSum += double(common) / double(topFinal.size());
        }
        for (int64_t v = 0; v < V; ++v)
          fin[v] = f[v];
        logSoftmax(fin.data(), V, logpFinal);
        logSoftmax(z, V, logp);
        for (int64_t v = 0; v < V; ++v)
          reverseSum += std::exp(logp[v]) * (logp[v] - logpFinal[v]);
      };
      double objective =
          pass(head, states, logits, nTrain, N, t, nullptr, nullptr, visit);
      return std::make_pair(reverseSum / double(N - nTrain), objective);
    };
    double overlapSum = 0;
    auto [reverse, objective] = evaluate(lens, &overlapSum);
    overlap[l] = overlapSum / double(N - nTrain);
    kl[l] = reverse;
    klObjective[l] = objective;
    // The logit lens (the identity translator) on the same tokens.
    std::tie(logitLensKl[l], logitLensObjective[l]) =
        evaluate(Translator(d), nullptr);
  }

  auto array = [](const std::vector<double> &values) {
    JsonValue a = JsonValue::array();
    for (double v : values)
      a.push(std::isfinite(v) ? JsonValue::number(v) : JsonValue::null());
    return a;
  };
  JsonValue result = JsonValue::object();
  result.set("overlap_top5", array(overlap));
  result.set("kl", array(kl));
  result.set("kl_final_lens", array(klObjective));
  result.set("logit_lens_kl", array(logitLensKl));
  result.set("logit_lens_kl_final_lens", array(logitLensObjective));
  result.set("train_tokens", JsonValue::number(nTrain));
  result.set("eval_tokens", JsonValue::number(N - nTrain));
  result.set("steps", JsonValue::number(options.steps));
  result.set("lr", JsonValue::number(options.lr));
  result.set("optimizer",
             JsonValue::string("full-batch SGD, Nesterov momentum 0.9, "
                               "learning rate decaying linearly to 0"));
  result.set("rms_norm_eps", JsonValue::number(head.eps));
  result.set("train_kl_initial", array(trainInitial));
  result.set("train_kl_final", array(trainFinal));
  result.set("seconds",
             JsonValue::number(std::chrono::duration<double>(
                                   std::chrono::steady_clock::now() - started)
                                   .count()));
  return result;
}
