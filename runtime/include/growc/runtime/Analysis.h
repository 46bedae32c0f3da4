//===- Analysis.h - the depth analyses of SPEC.md §5 -----------*- C++ -*-===//
//
// `growc-run analyze` computes every metric of SPEC.md §5 for one
// checkpoint from the forward graphs of an analysis suite (`growc
// --analysis-suite`, docs/analysis.md): the clean model's early-exit heads
// (logit lens, early-exit accuracy, residual-stream statistics), the depth
// score's skip-until-t graphs, and the layer skips, window swaps and
// reversals (primitive accuracy and held-out loss relative to the clean
// model). Weight similarity is read from the checkpoint directly. The
// result is one JSON document (AnalysisReport.h turns reports into HTML).
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_ANALYSIS_H
#define GROWC_RUNTIME_ANALYSIS_H

#include "growc/runtime/Checkpoint.h"
#include "growc/runtime/Data.h"
#include "growc/runtime/Json.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Status.h"
#include "growc/runtime/TunedLens.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace growc::rt {

/// One graph of a suite, as its manifest lists it.
struct SuiteVariant {
  std::string name; ///< e.g. "clean", "skip_until.3", "swap.2.0"
  std::string kind; ///< clean | skip_until | skip | swap | reverse
  /// skip_until, skip: the layer position; swap: the first window's
  /// position; reverse: the window's start.
  int64_t layer = -1;
  int64_t size = 0; ///< swap, reverse: window size
  std::string planPath;
};

/// A suite manifest (suite.so.analysis.json), checked.
struct AnalysisSuite {
  std::string path;
  std::string model;
  int64_t layers = 0;
  int64_t blockSize = 1;
  bool lnScaling = false;
  int64_t batch = 0;
  int64_t seq = 0;
  int64_t split = 0;
  /// The depth-score graphs take their split per row as the input `split`
  /// (suites before issue 17 compiled `split` into them).
  bool splitInput = false;
  /// The depth-score graphs keep the layer at position 0 (suites before
  /// issue 17 skipped it there; growc --analysis-skip-position-0 still does).
  bool keepPosition0 = false;
  /// The model's RMSNorm epsilon (suites before issue 17 do not record it;
  /// the tuned lens needs it).
  std::optional<double> rmsNormEps;
  std::vector<SuiteVariant> variants;

  const SuiteVariant *find(const std::string &name) const;
};

/// Loads a manifest; `path` may also be the suite's kernels file (x.so,
/// whose manifest is x.so.analysis.json). Checks the format, that every
/// variant's plan exists and that there is a clean variant.
StatusOr<AnalysisSuite> loadAnalysisSuite(const std::string &path);

/// Held-out token windows: each `rows` x `seq` int32 tokens and their
/// next-token targets (-100 = ignored), row-major.
struct EvalWindows {
  int64_t rows = 0;
  int64_t seq = 0;
  std::vector<std::vector<int32_t>> tokens;
  std::vector<std::vector<int32_t>> targets;
};

/// One item of a depth-score prompt file: prompt + answer as tokens, the
/// position of the answer's first token, and its level ("" if none).
struct DepthPrompt {
  std::string level;
  std::vector<int32_t> tokens;
  int64_t answerStart = 0;
};

/// Reads JSON lines {"prompt": str, "answer": str[, "level": str|int]},
/// each tokenized as [separator] + encode(prompt) + encode(answer) by
/// `tokenizer` (its document separator, when it has one, at position 0);
/// refuses (naming the file and line) bad JSON, missing or empty fields, an
/// empty file and items longer than `seq` tokens.
StatusOr<std::vector<DepthPrompt>> loadDepthPrompts(const std::string &path,
                                                    const Tokenizer &tokenizer,
                                                    int64_t seq);

/// The depth score's splits inside an answer at [start, end): start +
/// floor(k (end - start) / n) for k = 0..n-1, without repeats (one split
/// for a one-token answer).
std::vector<int64_t> answerSplits(int64_t start, int64_t end, int64_t n);

/// Draws `count` windows of [rows, seq] from `stream`.
EvalWindows drawWindows(TokenStream &stream, int64_t count, int64_t rows,
                        int64_t seq);

struct AnalyzeOptions {
  /// Task metric: SPEC.md §6 prompts, depths [minDepth, maxDepth], each
  /// depth with `count` prompts seeded `seed + depth` (as growc-run eval).
  Primitive primitive = Primitive::VarAssignMath;
  int minDepth = 0;
  int maxDepth = 0;
  int shots = 5;
  int64_t count = 100;
  uint64_t seed = 0;
  /// Depth score: aggregate r_{l,j} and o_l over prompts (rows) by max
  /// (SPEC's default) or mean.
  bool meanOverPrompts = false;
  /// Also train and evaluate a tuned lens (TunedLens.h) on the held-out
  /// windows' tokens.
  bool tunedLens = false;
  TunedLensOptions tunedLensOptions;
  /// Executor threads (0: the default).
  int threads = 0;
  /// Renders the task's prompts (AccuracyOptions::tokenizer): null for
  /// the byte tokenizer.
  const Tokenizer *tokenizer = nullptr;
  /// Depth score on answer spans (growc-run analyze --prompts): each prompt
  /// split at `depthSplits` positions of its answer; empty: the held-out
  /// windows, split at the suite's split.
  std::vector<DepthPrompt> depthPrompts;
  int64_t depthSplits = 4;
  /// Described in the report (where the held-out windows come from).
  std::string dataSpec;
  /// Called with a short description of each stage (progress on stderr).
  std::function<void(const std::string &)> progress;
};

/// Every metric of SPEC.md §5 for `checkpoint` (see docs/analysis.md for
/// the exact definitions and the JSON layout).
StatusOr<JsonValue> analyzeCheckpoint(const AnalysisSuite &suite,
                                      const Checkpoint &checkpoint,
                                      const EvalWindows &windows,
                                      const AnalyzeOptions &options);

/// SPEC.md §5.7: per parameter group, the L x L cosine similarities of the
/// layers' flattened weights, plus summaries of their structure.
StatusOr<JsonValue> weightSimilarity(const Checkpoint &checkpoint,
                                     int64_t layers, int64_t blockSize);

} // namespace growc::rt

#endif // GROWC_RUNTIME_ANALYSIS_H
