//===- Analysis.cpp - the depth analyses of SPEC.md §5 --------------------===//
//
// Runs the graphs of an analysis suite on held-out windows and primitive
// prompts and reduces their outputs to the metrics of SPEC.md §5. Every
// reduction is in double precision; the definitions (and the guards against
// zero norms) are the ones docs/analysis.md states and
// test/growc/Inputs/reference_metrics.py re-implements in PyTorch.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Analysis.h"

#include "growc/runtime/CpuExecutor.h"
#include "growc/runtime/Eval.h"
#include "growc/runtime/Periodicity.h"
#include "growc/runtime/Text.h"

#include "LogitRows.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

using namespace growc::rt;

namespace {

/// Norms below this count as zero in the denominators of ratios.
constexpr double kRatioFloor = 1e-6;
/// And products of norms below this in the denominators of cosines.
constexpr double kCosineFloor = 1e-12;

std::string directoryOf(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".")
                                    : path.substr(0, slash == 0 ? 1 : slash);
}

StatusOr<std::string> readText(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof())
    return Status::error("cannot read " + path);
  return text.str();
}

bool fileExists(const std::string &path) {
  std::ifstream in(path);
  return bool(in);
}

JsonValue numberOrNull(double value) {
  return std::isfinite(value) ? JsonValue::number(value) : JsonValue::null();
}

JsonValue toArray(const std::vector<double> &values) {
  JsonValue array = JsonValue::array();
  for (double v : values)
    array.push(numberOrNull(v));
  return array;
}

JsonValue toMatrix(const std::vector<std::vector<double>> &rows) {
  JsonValue matrix = JsonValue::array();
  for (const std::vector<double> &row : rows)
    matrix.push(toArray(row));
  return matrix;
}

double dot(const float *a, const float *b, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i)
    sum += double(a[i]) * double(b[i]);
  return sum;
}

double norm(const float *a, int64_t n) { return std::sqrt(dot(a, a, n)); }

double cosine(double ab, double na, double nb) {
  return ab / std::max(na * nb, kCosineFloor);
}

/// Mean next-token cross-entropy of `logits` [rows, seq, vocab] over the
/// targets that are not ignored: the sum and the count.
std::pair<double, int64_t> crossEntropy(const float *logits,
                                        const std::vector<int32_t> &targets,
                                        int64_t vocab) {
  double sum = 0;
  int64_t count = 0;
  std::vector<double> logp;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (targets[i] < 0)
      continue;
    logSoftmax(logits + int64_t(i) * vocab, vocab, logp);
    sum -= logp[targets[i]];
    ++count;
  }
  return {sum, count};
}

TensorView tokensView(const std::vector<int32_t> &tokens, int64_t rows,
                      int64_t seq) {
  return TensorView{"tokens",
                    DType::I32,
                    {rows, seq},
                    reinterpret_cast<const uint8_t *>(tokens.data()),
                    tokens.size() * sizeof(int32_t)};
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// The output `name` of a forward run, with the shape checked.
StatusOr<const OutputTensor *>
output(const std::map<std::string, OutputTensor> &outputs,
       const std::string &name, const std::string &plan) {
  auto it = outputs.find(name);
  if (it == outputs.end())
    return Status::error(plan + " has no output " + name +
                         "; recompile the suite (growc --analysis-suite)");
  return &it->second;
}

/// Runs one variant of the suite: an executor with the checkpoint loaded.
StatusOr<std::unique_ptr<CpuExecutor>> openVariant(const SuiteVariant &variant,
                                                   const Checkpoint &checkpoint,
                                                   const AnalysisSuite &suite,
                                                   int threads) {
  StatusOr<std::unique_ptr<CpuExecutor>> exec =
      CpuExecutor::load(variant.planPath, threads);
  if (!exec.isOk())
    return exec.status();
  const Plan &plan = (*exec)->plan();
  if (plan.graph != "forward" || plan.batch != suite.batch ||
      plan.seq != suite.seq)
    return Status::error(plan.path +
                         " is not a forward graph of the suite's "
                         "shape [" +
                         std::to_string(suite.batch) + ", " +
                         std::to_string(suite.seq) + "]");
  // The analyses index every output by these shapes and the logits by the
  // targets; the plan is a file, so check them before reading any. The
  // widths are the parameters', which loadParams ties to the checkpoint,
  // so every variant of a run agrees with the clean model's.
  const PlanParam *embed = plan.findParam("model.embed_tokens.weight");
  const PlanParam *norm = plan.findParam("model.norm.weight");
  if (!embed || !norm || embed->shape.size() != 2 || norm->shape.size() != 1 ||
      embed->shape[0] != plan.vocabSize)
    return Status::error(plan.path +
                         " lacks model.embed_tokens.weight [vocab_size, "
                         "hidden] or model.norm.weight [hidden]; recompile "
                         "the suite");
  for (const PlanTensor &out : plan.outputs) {
    bool overVocab = out.name == "logits" ||
                     out.name.rfind("logit_lens.", 0) == 0 ||
                     out.name.rfind("logit_lens_in.", 0) == 0;
    std::vector<int64_t> expected = {
        plan.batch, plan.seq, overVocab ? plan.vocabSize : norm->shape[0]};
    if (out.dtype != DType::F32 || out.shape != expected)
      return Status::error(plan.path + ": output " + out.name + " is " +
                           dtypeName(out.dtype) + " " + formatShape(out.shape) +
                           ", expected F32 " + formatShape(expected));
  }
  if (Status status = (*exec)->loadParams(checkpoint); !status.isOk())
    return status;
  return exec;
}

/// The task metric of a graph: primitive accuracy pooled over the depths.
StatusOr<std::map<std::string, double>>
taskAccuracy(CpuExecutor &exec, const AnalyzeOptions &options,
             const std::vector<std::string> &outputs) {
  std::map<std::string, int64_t> correct;
  int64_t count = 0;
  int maxDepth = options.primitive == Primitive::InductionCopy
                     ? options.minDepth
                     : options.maxDepth;
  for (int depth = options.minDepth; depth <= maxDepth; ++depth) {
    AccuracyOptions acc;
    acc.primitive = options.primitive;
    acc.depth = depth;
    acc.shots = options.shots;
    acc.count = options.count;
    acc.seed = options.seed + uint64_t(depth);
    acc.tokenizer = options.tokenizer;
    StatusOr<AccuracyResult> result = primitiveAccuracy(exec, acc, outputs);
    if (!result.isOk())
      return result.status();
    for (const std::string &name : outputs)
      correct[name] += result->correct.at(name);
    count += result->count;
  }
  std::map<std::string, double> accuracy;
  for (const std::string &name : outputs)
    accuracy[name] = count ? double(correct[name]) / double(count) : 0.0;
  return accuracy;
}

/// The floors of the task metric: each depth's primitiveFloors averaged
/// (taskAccuracy pools the same count of prompts per depth), and how many
/// prompts it pools.
struct TaskFloors {
  PrimitiveFloors floors;
  int64_t count = 0;
};
StatusOr<TaskFloors> taskFloors(const AnalyzeOptions &options) {
  int maxDepth = options.primitive == Primitive::InductionCopy
                     ? options.minDepth
                     : options.maxDepth;
  TaskFloors task;
  const int depths = maxDepth - options.minDepth + 1;
  for (int depth = options.minDepth; depth <= maxDepth; ++depth) {
    StatusOr<PrimitiveFloors> floors =
        primitiveFloors(options.primitive, depth);
    if (!floors.isOk())
      return floors.status();
    task.floors.copy += floors->copy / depths;
    task.floors.constant += floors->constant / depths;
    task.floors.chance += floors->chance / depths;
  }
  task.count = options.count * depths;
  return task;
}

/// Held-out loss of a graph's `logits` on every window.
StatusOr<double> heldOutLoss(CpuExecutor &exec, const EvalWindows &windows) {
  double sum = 0;
  int64_t count = 0;
  for (size_t w = 0; w < windows.tokens.size(); ++w) {
    auto outputs =
        exec.forward(tokensView(windows.tokens[w], windows.rows, windows.seq));
    if (!outputs.isOk())
      return outputs.status();
    StatusOr<const OutputTensor *> logits =
        output(*outputs, "logits", exec.plan().path);
    if (!logits.isOk())
      return logits.status();
    auto [s, n] =
        crossEntropy((*logits)->data, windows.targets[w], (*logits)->shape[2]);
    sum += s;
    count += n;
  }
  return count ? sum / double(count) : std::nan("");
}

/// Per-layer sums over tokens, turned into means at the end.
struct ResidualSums {
  explicit ResidualSums(int64_t layers)
      : normH(layers + 1), normA(layers), normM(layers), relA(layers),
        relM(layers), relD(layers), cosA(layers), cosM(layers), cosD(layers),
        cosNext(layers) {}
  std::vector<double> normH, normA, normM, relA, relM, relD, cosA, cosM, cosD,
      cosNext;
  int64_t tokens = 0;
};

} // namespace

const SuiteVariant *AnalysisSuite::find(const std::string &name) const {
  for (const SuiteVariant &variant : variants)
    if (variant.name == name)
      return &variant;
  return nullptr;
}

StatusOr<AnalysisSuite> growc::rt::loadAnalysisSuite(const std::string &path) {
  std::string manifest = path;
  auto endsWith = [&](const std::string &suffix) {
    return manifest.size() >= suffix.size() &&
           manifest.compare(manifest.size() - suffix.size(), suffix.size(),
                            suffix) == 0;
  };
  // suite.so -> suite.so.analysis.json (the kernels file's whole name, as
  // for plans).
  if (!endsWith(".json"))
    manifest += ".analysis.json";
  StatusOr<std::string> text = readText(manifest);
  if (!text.isOk())
    return Status::error(text.status().message() +
                         " (an analysis suite: growc model.mlir "
                         "--analysis-suite -o suite.so)");
  StatusOr<JsonValue> json = parseJson(*text);
  if (!json.isOk())
    return Status::error(manifest + ": " + json.status().message());
  auto bad = [&](const std::string &what) {
    return Status::error(manifest + ": " + what);
  };
  const JsonValue *format = json->find("format");
  if (!format || format->asString() != "growc-analysis-suite")
    return bad("not an analysis suite manifest (format "
               "\"growc-analysis-suite\")");
  const JsonValue *version = json->find("version");
  if (!version || version->asInt64() != std::optional<int64_t>(1))
    return bad("unsupported version (this runtime reads version 1)");
  AnalysisSuite suite;
  suite.path = manifest;
  auto integer = [&](const char *key, int64_t min, int64_t &out) -> bool {
    const JsonValue *value = json->find(key);
    return value && value->getInt64(out) && out >= min;
  };
  if (!integer("layers", 1, suite.layers) ||
      !integer("block_size", 1, suite.blockSize) ||
      !integer("batch", 1, suite.batch) || !integer("seq", 1, suite.seq) ||
      !integer("split", 1, suite.split) || suite.split >= suite.seq)
    return bad("layers, block_size, batch, seq and split must be positive "
               "integers, split < seq");
  if (const JsonValue *model = json->find("model"))
    suite.model = model->asString();
  if (const JsonValue *ln = json->find("ln_scaling"))
    suite.lnScaling = ln->asBool();
  if (const JsonValue *keep = json->find("keep_position_0"))
    suite.keepPosition0 = keep->asBool();
  if (const JsonValue *eps = json->find("rms_norm_eps")) {
    if (!eps->isNumber() || !(eps->asDouble() >= 0))
      return bad("rms_norm_eps must be a number >= 0");
    suite.rmsNormEps = eps->asDouble();
  }
  const JsonValue *variants = json->find("variants");
  if (!variants || !variants->isArray() || variants->size() == 0)
    return bad("no variants");
  std::string dir = directoryOf(manifest);
  bool sawSkipUntil = false;
  for (const JsonValue &entry : variants->elements()) {
    SuiteVariant variant;
    const JsonValue *name = entry.find("name");
    const JsonValue *kind = entry.find("kind");
    const JsonValue *plan = entry.find("plan");
    if (!name || !name->isString() || !kind || !kind->isString() || !plan ||
        !plan->isString() || plan->asString().find('/') != std::string::npos)
      return bad("every variant needs a name, a kind and a plan file beside "
                 "the manifest");
    variant.name = name->asString();
    variant.kind = kind->asString();
    variant.planPath = dir + "/" + plan->asString();
    auto field = [&](const char *key, int64_t &out) -> bool {
      const JsonValue *value = entry.find(key);
      return value && value->getInt64(out);
    };
    bool ok = true;
    if (variant.kind == "skip_until" || variant.kind == "skip")
      ok = field("layer", variant.layer) && variant.layer >= 0 &&
           variant.layer < suite.layers;
    else if (variant.kind == "swap")
      ok = field("position", variant.layer) && field("size", variant.size) &&
           variant.layer >= 0 && variant.size >= 0 &&
           variant.layer + 2 * variant.size <= suite.layers;
    else if (variant.kind == "reverse")
      ok = field("start", variant.layer) && field("size", variant.size) &&
           variant.layer >= 0 && variant.size >= 2 &&
           variant.layer + variant.size <= suite.layers;
    else if (variant.kind != "clean")
      return bad("unknown variant kind '" + variant.kind + "'");
    if (!ok)
      return bad("variant '" + variant.name +
                 "' has missing or out-of-range fields");
    if (!fileExists(variant.planPath))
      return bad("variant '" + variant.name + "': cannot read " +
                 variant.planPath);
    if (variant.kind == "skip_until") {
      // All or none: analyze passes the split to every depth-score graph.
      const JsonValue *input = entry.find("split_input");
      bool splitInput = input && input->asBool();
      if (sawSkipUntil && splitInput != suite.splitInput)
        return bad("the skip_until variants disagree on split_input");
      suite.splitInput = splitInput;
      sawSkipUntil = true;
    }
    if (suite.find(variant.name))
      return bad("variant '" + variant.name + "' is listed twice");
    suite.variants.push_back(std::move(variant));
  }
  const SuiteVariant *clean = suite.find("clean");
  if (!clean || clean->kind != "clean")
    return bad("no clean variant");
  return suite;
}

StatusOr<std::vector<DepthPrompt>>
growc::rt::loadDepthPrompts(const std::string &path, const Tokenizer &tokenizer,
                            int64_t seq) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error("cannot read prompt file " + path);
  std::vector<DepthPrompt> prompts;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    auto bad = [&](const std::string &why) {
      return Status::error(path + ":" + std::to_string(number) + ": " + why);
    };
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    StatusOr<JsonValue> json = parseJson(line);
    if (!json.isOk())
      return bad("not JSON: " + json.status().message());
    const JsonValue *prompt = json->find("prompt");
    const JsonValue *answer = json->find("answer");
    if (!json->isObject() || !prompt || !prompt->isString() || !answer ||
        !answer->isString())
      return bad("expected {\"prompt\": string, \"answer\": string[, "
                 "\"level\": string or integer]}");
    DepthPrompt item;
    if (const JsonValue *level = json->find("level")) {
      int64_t n;
      if (level->isString())
        item.level = level->asString();
      else if (level->getInt64(n))
        item.level = std::to_string(n);
      else
        return bad("\"level\" must be a string or an integer");
    }
    StatusOr<std::vector<int32_t>> head = tokenizer.encode(prompt->asString());
    StatusOr<std::vector<int32_t>> tail = tokenizer.encode(answer->asString());
    if (!head.isOk() || !tail.isOk())
      return bad((head.isOk() ? tail : head).status().message());
    if (tail->empty())
      return bad("the answer is empty (no token to split at)");
    // Position 0 is the document separator (EOS / <|endoftext|>), as
    // before every document of the training streams and every task prompt
    // of eval: the BOS-like attention sink the depth score keeps.
    if (std::optional<int32_t> separator = tokenizer.documentSeparator())
      item.tokens.push_back(*separator);
    item.tokens.insert(item.tokens.end(), head->begin(), head->end());
    item.answerStart = int64_t(item.tokens.size());
    item.tokens.insert(item.tokens.end(), tail->begin(), tail->end());
    if (int64_t(item.tokens.size()) > seq)
      return bad("separator + prompt + answer is " +
                 std::to_string(item.tokens.size()) +
                 " tokens, longer than the suite's seq " + std::to_string(seq) +
                 "; shorten it or compile the suite with a longer --seq");
    prompts.push_back(std::move(item));
  }
  if (in.bad())
    return Status::error("cannot read prompt file " + path);
  if (prompts.empty())
    return Status::error(path + ": no prompts (expected JSON lines "
                                "{\"prompt\": ..., \"answer\": ...})");
  return prompts;
}

std::vector<int64_t> growc::rt::answerSplits(int64_t start, int64_t end,
                                             int64_t n) {
  std::vector<int64_t> splits;
  for (int64_t k = 0; k < n; ++k) {
    int64_t split = start + k * (end - start) / n;
    if (splits.empty() || splits.back() != split)
      splits.push_back(split);
  }
  return splits;
}

EvalWindows growc::rt::drawWindows(TokenStream &stream, int64_t count,
                                   int64_t rows, int64_t seq) {
  EvalWindows windows;
  windows.rows = rows;
  windows.seq = seq;
  for (int64_t w = 0; w < count; ++w) {
    std::vector<int32_t> tokens(rows * seq), targets(rows * seq);
    stream.nextBatch(rows, seq, tokens.data(), targets.data());
    windows.tokens.push_back(std::move(tokens));
    windows.targets.push_back(std::move(targets));
  }
  return windows;
}

StatusOr<JsonValue> growc::rt::weightSimilarity(const Checkpoint &ckpt,
                                                int64_t layers,
                                                int64_t blockSize) {
  static const char *const kGroups[] = {
      "self_attn.q_proj.weight",        "self_attn.k_proj.weight",
      "self_attn.v_proj.weight",        "self_attn.o_proj.weight",
      "mlp.gate_proj.weight",           "mlp.up_proj.weight",
      "mlp.down_proj.weight",           "input_layernorm.weight",
      "post_attention_layernorm.weight"};
  JsonValue groups = JsonValue::object();
  double periodSum = 0, mirrorSum = 0, symmetrySum = 0;
  int64_t periodGroups = 0, mirrorGroups = 0, symmetryGroups = 0;
  for (const char *group : kGroups) {
    std::vector<const TensorView *> weights;
    int64_t size = -1;
    for (int64_t l = 0; l < layers; ++l) {
      std::string name = "model.layers." + std::to_string(l) + "." + group;
      const TensorView *tensor = ckpt.find(name);
      if (!tensor)
        return Status::error(ckpt.path() + ": no tensor " + name);
      if (!convertsExactly(tensor->dtype, DType::F32))
        return Status::error(ckpt.fileOf(*tensor) + ": " + name + " is " +
                             dtypeName(tensor->dtype) +
                             " (weight similarity reads F32, BF16 or F16)");
      if (size >= 0 && tensor->numElements() != size)
        return Status::error(ckpt.path() + ": " + name +
                             " differs in size from layer 0's");
      size = tensor->numElements();
      weights.push_back(tensor);
    }
    // Safetensors data is only byte-aligned: the floats are read into
    // copies (widened from bf16 or f16 checkpoints).
    std::vector<std::vector<float>> aligned(layers);
    for (int64_t l = 0; l < layers; ++l) {
      aligned[l].resize(size);
      convertTensor(*weights[l], DType::F32, aligned[l].data());
    }
    std::vector<double> norms(layers);
    for (int64_t l = 0; l < layers; ++l)
      norms[l] = norm(aligned[l].data(), size);
    std::vector<std::vector<double>> sim(layers, std::vector<double>(layers));
    for (int64_t i = 0; i < layers; ++i)
      for (int64_t j = i; j < layers; ++j)
        sim[i][j] = sim[j][i] =
            cosine(dot(aligned[i].data(), aligned[j].data(), size), norms[i],
                   norms[j]);
    // Structure: mean similarity of layer l to l + b (the same position in
    // the next block: high when blocks repeat, as after MIDAS), to the
    // mirror block's layer at the same offset (high when the block order
    // is a palindrome, as after LIDAS), and the correlation of S with its
    // 180-degree rotation S[L-1-i][L-1-j] off the diagonal.
    int64_t n = layers / blockSize;
    double period = 0, mirror = 0;
    int64_t periodCount = 0, mirrorCount = 0;
    for (int64_t l = 0; l + blockSize < layers; ++l, ++periodCount)
      period += sim[l][l + blockSize];
    if (layers % blockSize == 0)
      for (int64_t k = 0; k < n / 2; ++k)
        for (int64_t o = 0; o < blockSize; ++o, ++mirrorCount)
          mirror += sim[k * blockSize + o][(n - 1 - k) * blockSize + o];
    std::vector<double> x, y;
    for (int64_t i = 0; i < layers; ++i)
      for (int64_t j = 0; j < layers; ++j)
        if (i != j) {
          x.push_back(sim[i][j]);
          y.push_back(sim[layers - 1 - i][layers - 1 - j]);
        }
    double symmetry = std::nan("");
    if (x.size() > 1) {
      double mx = 0, my = 0;
      for (size_t i = 0; i < x.size(); ++i)
        mx += x[i], my += y[i];
      mx /= x.size();
      my /= y.size();
      double sxy = 0, sxx = 0, syy = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
      }
      if (sxx > 0 && syy > 0)
        symmetry = sxy / std::sqrt(sxx * syy);
    }
    JsonValue entry = JsonValue::object();
    entry.set("matrix", toMatrix(sim));
    double periodMean = periodCount ? period / periodCount : std::nan("");
    double mirrorMean = mirrorCount ? mirror / mirrorCount : std::nan("");
    entry.set("block_period", numberOrNull(periodMean));
    entry.set("block_mirror", numberOrNull(mirrorMean));
    entry.set("rotation_symmetry", numberOrNull(symmetry));
    if (std::isfinite(periodMean))
      periodSum += periodMean, ++periodGroups;
    if (std::isfinite(mirrorMean))
      mirrorSum += mirrorMean, ++mirrorGroups;
    if (std::isfinite(symmetry))
      symmetrySum += symmetry, ++symmetryGroups;
    groups.set(group, std::move(entry));
  }
  JsonValue result = JsonValue::object();
  result.set("groups", std::move(groups));
  JsonValue mean = JsonValue::object();
  mean.set("block_period", numberOrNull(periodGroups ? periodSum / periodGroups
                                                     : std::nan("")));
  mean.set("block_mirror", numberOrNull(mirrorGroups ? mirrorSum / mirrorGroups
                                                     : std::nan("")));
  mean.set("rotation_symmetry",
           numberOrNull(symmetryGroups ? symmetrySum / symmetryGroups
                                       : std::nan("")));
  result.set("mean", std::move(mean));
  return result;
}

StatusOr<JsonValue> growc::rt::analyzeCheckpoint(
    const AnalysisSuite &suite, const Checkpoint &checkpoint,
    const EvalWindows &windows, const AnalyzeOptions &options) {
  const int64_t L = suite.layers, rows = windows.rows, seq = windows.seq;
  const int64_t t = suite.split;
  if (rows != suite.batch || seq != suite.seq || windows.tokens.empty())
    return Status::error("analysis windows must be [batch, seq] of the suite");
  if (options.tunedLens && !suite.rmsNormEps)
    return Status::error(suite.path +
                         ": the manifest does not record the model's "
                         "rms_norm_eps, which the tuned lens decodes with "
                         "(a suite compiled before it did); compile the "
                         "suite again with growc --analysis-suite");
  auto progress = [&](const std::string &what) {
    if (options.progress)
      options.progress(what);
  };
  JsonValue timings = JsonValue::object();
  auto started = std::chrono::steady_clock::now();

  //===--- The clean model: logit lens, residual stream, references ------===//
  progress("clean model: logit lens, residual stream, early exit");
  auto clean =
      openVariant(*suite.find("clean"), checkpoint, suite, options.threads);
  if (!clean.isOk())
    return clean.status();
  // The suite's clean graph decodes either each layer's input h_l
  // (logit_lens_in.<l>, Csordás et al.'s index, the default of growc
  // --analysis-suite) or its output h_{l+1} (logit_lens.<l>); the report
  // says which.
  bool lensAtInput = false;
  for (const PlanTensor &out : (*clean)->plan().outputs)
    lensAtInput |= out.name.rfind("logit_lens_in.", 0) == 0;
  const std::string lensPrefix = lensAtInput ? "logit_lens_in." : "logit_lens.";
  std::vector<double> overlap(L), kl(L);
  ResidualSums res(L);
  int64_t hidden = 0, vocab = 0, lensTokens = 0;
  double cleanLossSum = 0;
  int64_t cleanLossCount = 0;
  std::vector<double> logpFinal, logpLayer;
  std::unique_ptr<TunedLensData> tuned;
  for (size_t w = 0; w < windows.tokens.size(); ++w) {
    auto outputs = (*clean)->forward(tokensView(windows.tokens[w], rows, seq));
    if (!outputs.isOk())
      return outputs.status();
    const std::string &plan = (*clean)->plan().path;
    std::vector<const OutputTensor *> h(L + 1), a(L), m(L), lens(L);
    for (int64_t l = 0; l <= L; ++l) {
      auto get = [&](const std::string &name, const OutputTensor *&out) {
        StatusOr<const OutputTensor *> o = output(*outputs, name, plan);
        if (o.isOk())
          out = *o;
        return o.status();
      };
      Status s = get("hidden." + std::to_string(l), h[l]);
      if (s.isOk() && l < L)
        s = get("attn." + std::to_string(l), a[l]);
      if (s.isOk() && l < L)
        s = get("mlp." + std::to_string(l), m[l]);
      if (s.isOk() && l < L)
        s = get(lensPrefix + std::to_string(l), lens[l]);
      if (!s.isOk())
        return s;
    }
    StatusOr<const OutputTensor *> logits = output(*outputs, "logits", plan);
    if (!logits.isOk())
      return logits.status();
    hidden = h[0]->shape[2];
    vocab = (*logits)->shape[2];
    const int64_t tokens = rows * seq;
    auto [lossSum, lossCount] =
        crossEntropy((*logits)->data, windows.targets[w], vocab);
    cleanLossSum += lossSum;
    cleanLossCount += lossCount;

    // Residual stream (SPEC.md §5.6), per token.
    std::vector<float> hhat(hidden), delta(hidden);
    for (int64_t i = 0; i < tokens; ++i) {
      res.normH[L] += norm(h[L]->data + i * hidden, hidden);
      for (int64_t l = 0; l < L; ++l) {
        const float *hl = h[l]->data + i * hidden;
        const float *al = a[l]->data + i * hidden;
        const float *ml = m[l]->data + i * hidden;
        const float *hn = h[l + 1]->data + i * hidden;
        for (int64_t d = 0; d < hidden; ++d) {
          hhat[d] = hl[d] + al[d];
          delta[d] = hn[d] - hl[d];
        }
        double nh = norm(hl, hidden), na = norm(al, hidden),
               nm = norm(ml, hidden), nhat = norm(hhat.data(), hidden),
               nd = norm(delta.data(), hidden), nn = norm(hn, hidden);
        res.normH[l] += nh;
        res.normA[l] += na;
        res.normM[l] += nm;
        res.relA[l] += na / std::max(nh, kRatioFloor);
        res.relM[l] += nm / std::max(nhat, kRatioFloor);
        res.relD[l] += nd / std::max(nh, kRatioFloor);
        res.cosA[l] += cosine(dot(al, hl, hidden), na, nh);
        res.cosM[l] += cosine(dot(ml, hhat.data(), hidden), nm, nhat);
        res.cosD[l] += cosine(dot(delta.data(), hl, hidden), nd, nh);
        res.cosNext[l] += cosine(dot(hn, hl, hidden), nn, nh);
      }
    }
    res.tokens += tokens;

    // Logit lens (SPEC.md §5.1), per token.
    for (int64_t i = 0; i < tokens; ++i) {
      const float *zf = (*logits)->data + i * vocab;
      std::vector<int64_t> topFinal = topK(zf, vocab, 5);
      logSoftmax(zf, vocab, logpFinal);
      for (int64_t l = 0; l < L; ++l) {
        const float *zl = lens[l]->data + i * vocab;
        std::vector<int64_t> top = topK(zl, vocab, 5);
        int64_t common = 0;
        for (int64_t x : top)
          common += std::count(topFinal.begin(), topFinal.end(), x);
        overlap[l] += double(common) / double(topFinal.size());
        logSoftmax(zl, vocab, logpLayer);
        double d = 0;
        for (int64_t v = 0; v < vocab; ++v)
          d += std::exp(logpLayer[v]) * (logpLayer[v] - logpFinal[v]);
        kl[l] += d;
      }
    }
    lensTokens += tokens;
    if (options.tunedLens) {
      // The states the logit lens decodes, for the tuned lens's translators.
      if (!tuned)
        tuned = std::make_unique<TunedLensData>(L, hidden, vocab);
      std::vector<const float *> states(L);
      for (int64_t l = 0; l < L; ++l)
        states[l] = h[lensAtInput ? l : l + 1]->data;
      tuned->append(states, (*logits)->data, tokens);
    }
  }
  for (int64_t l = 0; l < L; ++l) {
    overlap[l] /= double(lensTokens);
    kl[l] /= double(lensTokens);
  }
  auto mean = [&](std::vector<double> v) {
    for (double &x : v)
      x /= double(res.tokens);
    return v;
  };

  std::vector<std::string> lensNames = {"logits"};
  for (int64_t l = 0; l < L; ++l)
    lensNames.push_back(lensPrefix + std::to_string(l));
  auto accuracy = taskAccuracy(**clean, options, lensNames);
  if (!accuracy.isOk())
    return accuracy.status();
  const double cleanAccuracy = accuracy->at("logits");
  const double cleanLoss = cleanLossSum / double(cleanLossCount);
  // Relative accuracies are undefined (null) while the model is at its
  // floor: its layers would all read "as good as the last".
  auto floors = taskFloors(options);
  if (!floors.isOk())
    return floors.status();
  const bool atFloor =
      !aboveFloor(cleanAccuracy, floors->count, floors->floors.highest());
  auto relative = [&](double accuracy) {
    return relativeAccuracy(accuracy, cleanAccuracy, floors->count,
                            floors->floors.highest());
  };
  std::vector<double> exitAccuracy(L), exitRelative(L);
  for (int64_t l = 0; l < L; ++l) {
    exitAccuracy[l] = accuracy->at(lensPrefix + std::to_string(l));
    exitRelative[l] = relative(exitAccuracy[l]);
  }
  clean->reset();
  timings.set("clean_seconds", JsonValue::number(secondsSince(started)));

  //===--- Tuned lens (Belrose et al. 2023), on request -------------------===//
  std::optional<JsonValue> tunedJson;
  if (tuned) {
    started = std::chrono::steady_clock::now();
    auto trained = tunedLens(*tuned, checkpoint, *suite.rmsNormEps,
                             options.tunedLensOptions, progress);
    if (!trained.isOk())
      return trained.status();
    tunedJson = std::move(*trained);
    tuned.reset();
    timings.set("tuned_lens_seconds", JsonValue::number(secondsSince(started)));
  }

  //===--- Depth score (SPEC.md §5.3) ------------------------------------===//
  started = std::chrono::steady_clock::now();
  // The rows it measures: the held-out windows split at the suite's split,
  // or each prompt of --prompts split at positions of its answer. Each row
  // has its own split t and length n (the future positions t <= i < n).
  struct DepthRow {
    std::vector<int32_t> tokens; // [seq], padded with token 0
    int64_t split, length, group;
  };
  const bool fromPrompts = !options.depthPrompts.empty();
  std::vector<std::string> levels; // group names, sorted
  std::vector<int64_t> levelPrompts;
  std::vector<DepthRow> depthRows;
  if (fromPrompts) {
    if (!suite.splitInput)
      return Status::error(suite.path +
                           ": its depth-score graphs compile the split in; "
                           "--prompts needs a suite from this growc "
                           "(recompile it with growc --analysis-suite)");
    std::map<std::string, int64_t> index;
    for (const DepthPrompt &prompt : options.depthPrompts)
      index.emplace(prompt.level, 0);
    for (auto &[level, i] : index) {
      i = int64_t(levels.size());
      levels.push_back(level);
    }
    levelPrompts.assign(levels.size(), 0);
    for (const DepthPrompt &prompt : options.depthPrompts) {
      int64_t group = index.at(prompt.level);
      ++levelPrompts[group];
      std::vector<int32_t> tokens(seq, 0);
      std::copy(prompt.tokens.begin(), prompt.tokens.end(), tokens.begin());
      const int64_t n = int64_t(prompt.tokens.size());
      for (int64_t split :
           answerSplits(prompt.answerStart, n, options.depthSplits))
        depthRows.push_back({tokens, split, n, group});
    }
  } else {
    for (const std::vector<int32_t> &window : windows.tokens)
      for (int64_t row = 0; row < rows; ++row)
        depthRows.push_back(
            {std::vector<int32_t>(window.begin() + row * seq,
                                  window.begin() + (row + 1) * seq),
             t, seq, 0});
  }
  // Batches of the suite's rows (the last one maybe shorter).
  struct DepthBatch {
    std::vector<int32_t> tokens, split;
    int64_t first, count;
  };
  std::vector<DepthBatch> batches;
  for (int64_t first = 0; first < int64_t(depthRows.size()); first += rows) {
    DepthBatch batch{
        {}, {}, first, std::min<int64_t>(rows, depthRows.size() - first)};
    for (int64_t r = 0; r < batch.count; ++r) {
      const DepthRow &row = depthRows[first + r];
      batch.tokens.insert(batch.tokens.end(), row.tokens.begin(),
                          row.tokens.end());
      batch.split.push_back(int32_t(row.split));
    }
    batches.push_back(std::move(batch));
  }
  // The clean model's contributions Δ_j and output distributions at the
  // rows' future positions: [batch][layer][row * seq + i][hidden] and
  // [batch][row * seq + i][vocab] (positions outside [t, n) left zero).
  std::vector<std::vector<std::vector<float>>> refDelta;
  std::vector<std::vector<float>> refProbs;
  {
    auto cleanExec =
        openVariant(*suite.find("clean"), checkpoint, suite, options.threads);
    if (!cleanExec.isOk())
      return cleanExec.status();
    for (const DepthBatch &batch : batches) {
      auto outputs =
          (*cleanExec)->forward(tokensView(batch.tokens, batch.count, seq));
      if (!outputs.isOk())
        return outputs.status();
      const std::string &plan = (*cleanExec)->plan().path;
      std::vector<const OutputTensor *> h(L + 1);
      for (int64_t j = 0; j <= L; ++j) {
        auto o = output(*outputs, "hidden." + std::to_string(j), plan);
        if (!o.isOk())
          return o.status();
        h[j] = *o;
      }
      auto logits = output(*outputs, "logits", plan);
      if (!logits.isOk())
        return logits.status();
      const int64_t tokens = batch.count * seq;
      std::vector<std::vector<float>> deltas(L);
      for (int64_t j = 0; j < L; ++j) {
        deltas[j].resize(tokens * hidden);
        for (int64_t k = 0; k < tokens * hidden; ++k)
          deltas[j][k] = h[j + 1]->data[k] - h[j]->data[k];
      }
      refDelta.push_back(std::move(deltas));
      std::vector<float> probs(tokens * vocab, 0.0f);
      for (int64_t r = 0; r < batch.count; ++r) {
        const DepthRow &row = depthRows[batch.first + r];
        for (int64_t i = row.split; i < row.length; ++i) {
          int64_t k = r * seq + i;
          logSoftmax((*logits)->data + k * vocab, vocab, logpFinal);
          for (int64_t v = 0; v < vocab; ++v)
            probs[k * vocab + v] = float(std::exp(logpFinal[v]));
        }
      }
      refProbs.push_back(std::move(probs));
    }
  }
  // Per row, the maxima over its future positions: worstR[l][row][j]
  // (relative change of Δ_j with layer l skipped before t) and
  // worstO[l][row] (L2 change of the output distribution).
  const int64_t R = int64_t(depthRows.size());
  std::vector<std::vector<std::vector<double>>> worstR(
      L, std::vector<std::vector<double>>(R, std::vector<double>(L, 0.0)));
  std::vector<std::vector<double>> worstO(L, std::vector<double>(R, 0.0));
  bool haveDepthScore = true;
  for (int64_t l = 0; l < L; ++l) {
    const SuiteVariant *variant = suite.find("skip_until." + std::to_string(l));
    if (!variant) {
      haveDepthScore = false;
      continue;
    }
    progress(
        "depth score: skip layer " + std::to_string(l) + " before " +
        (fromPrompts ? std::string("each answer split") : std::to_string(t)));
    auto exec = openVariant(*variant, checkpoint, suite, options.threads);
    if (!exec.isOk())
      return exec.status();
    // A suite from before issue 17 compiles the split in.
    const bool takesSplit = (*exec)->plan().findInput("split") != nullptr;
    std::vector<double> logp;
    std::vector<float> diff(hidden);
    for (size_t bi = 0; bi < batches.size(); ++bi) {
      const DepthBatch &batch = batches[bi];
      TensorView splitView{
          "split",
          DType::I32,
          {batch.count},
          reinterpret_cast<const uint8_t *>(batch.split.data()),
          batch.split.size() * sizeof(int32_t)};
      auto outputs =
          (*exec)->forward(tokensView(batch.tokens, batch.count, seq), nullptr,
                           {}, takesSplit ? &splitView : nullptr);
      if (!outputs.isOk())
        return outputs.status();
      std::vector<const OutputTensor *> h(L + 1);
      for (int64_t j = 0; j <= L; ++j) {
        auto o = output(*outputs, "hidden." + std::to_string(j),
                        (*exec)->plan().path);
        if (!o.isOk())
          return o.status();
        h[j] = *o;
      }
      auto logits = output(*outputs, "logits", (*exec)->plan().path);
      if (!logits.isOk())
        return logits.status();
      for (int64_t r = 0; r < batch.count; ++r) {
        const int64_t index = batch.first + r;
        const DepthRow &row = depthRows[index];
        for (int64_t j = l + 1; j < L; ++j) {
          double worst = 0;
          for (int64_t i = row.split; i < row.length; ++i) {
            int64_t k = (r * seq + i) * hidden;
            const float *clean = refDelta[bi][j].data() + k;
            for (int64_t d = 0; d < hidden; ++d)
              diff[d] = (h[j + 1]->data[k + d] - h[j]->data[k + d]) - clean[d];
            worst =
                std::max(worst, norm(diff.data(), hidden) /
                                    std::max(norm(clean, hidden), kRatioFloor));
          }
          worstR[l][index][j] = worst;
        }
        double worst = 0;
        for (int64_t i = row.split; i < row.length; ++i) {
          int64_t k = r * seq + i;
          logSoftmax((*logits)->data + k * vocab, vocab, logp);
          const float *p = refProbs[bi].data() + k * vocab;
          double sq = 0;
          for (int64_t v = 0; v < vocab; ++v) {
            double e = std::exp(logp[v]) - double(p[v]);
            sq += e * e;
          }
          worst = std::max(worst, std::sqrt(sq));
        }
        worstO[l][index] = worst;
      }
    }
  }
  // r_{l,j}, e_l, the score and o_l over a group of rows (all of them, or
  // one level's), aggregated over rows by max or mean.
  auto depthScoreOf = [&](auto inGroup) {
    std::vector<std::vector<double>> r(L, std::vector<double>(L, std::nan("")));
    std::vector<double> effect(L, 0.0), outputEffect(L, 0.0);
    int64_t count = 0;
    for (int64_t row = 0; row < R; ++row)
      count += inGroup(row) ? 1 : 0;
    auto aggregate = [&](auto value) {
      double agg = 0;
      for (int64_t row = 0; row < R; ++row)
        if (inGroup(row))
          agg = options.meanOverPrompts ? agg + value(row)
                                        : std::max(agg, value(row));
      return options.meanOverPrompts ? agg / double(std::max<int64_t>(1, count))
                                     : agg;
    };
    for (int64_t l = 0; l < L; ++l) {
      double sum = 0;
      for (int64_t j = l + 1; j < L; ++j) {
        r[l][j] = aggregate([&](int64_t row) { return worstR[l][row][j]; });
        sum += r[l][j];
      }
      effect[l] = sum / double(std::max<int64_t>(1, L - 1 - l));
      outputEffect[l] = aggregate([&](int64_t row) { return worstO[l][row]; });
    }
    double weighted = 0, total = 0;
    for (int64_t l = 0; l < L; ++l) {
      weighted += double(l) * effect[l];
      total += effect[l];
    }
    JsonValue json = JsonValue::object();
    json.set("score",
             numberOrNull(haveDepthScore && total > 0 ? weighted / total
                                                      : std::nan("")));
    json.set("e", toArray(effect));
    json.set("r", toMatrix(r));
    json.set("output_effect", toArray(outputEffect));
    return json;
  };
  JsonValue pooled = depthScoreOf([](int64_t) { return true; });
  JsonValue byLevel = JsonValue::array();
  for (int64_t g = 0; g < int64_t(levels.size()); ++g) {
    JsonValue level =
        depthScoreOf([&](int64_t row) { return depthRows[row].group == g; });
    JsonValue entry = JsonValue::object();
    entry.set("level", JsonValue::string(levels[g]));
    entry.set("prompts", JsonValue::number(levelPrompts[g]));
    int64_t splits = 0;
    for (const DepthRow &row : depthRows)
      splits += row.group == g ? 1 : 0;
    entry.set("splits", JsonValue::number(splits));
    for (const char *key : {"score", "e", "r", "output_effect"})
      entry.set(key, *level.find(key));
    byLevel.push(std::move(entry));
  }
  timings.set("depth_score_seconds", JsonValue::number(secondsSince(started)));

  //===--- Skips, swaps, reversals (SPEC.md §5.4-5) -----------------------===//
  started = std::chrono::steady_clock::now();
  JsonValue swaps = JsonValue::array(), skips = JsonValue::array(),
            reverses = JsonValue::array();
  for (const SuiteVariant &variant : suite.variants) {
    if (variant.kind != "swap" && variant.kind != "skip" &&
        variant.kind != "reverse")
      continue;
    progress("intervention " + variant.name);
    auto exec = openVariant(variant, checkpoint, suite, options.threads);
    if (!exec.isOk())
      return exec.status();
    auto acc = taskAccuracy(**exec, options, {"logits"});
    if (!acc.isOk())
      return acc.status();
    auto loss = heldOutLoss(**exec, windows);
    if (!loss.isOk())
      return loss.status();
    JsonValue entry = JsonValue::object();
    if (variant.kind == "skip") {
      entry.set("layer", JsonValue::number(variant.layer));
    } else {
      entry.set("size", JsonValue::number(variant.size));
      entry.set(variant.kind == "swap" ? "position" : "start",
                JsonValue::number(variant.layer));
    }
    double a = acc->at("logits");
    entry.set("accuracy", JsonValue::number(a));
    entry.set("relative_accuracy", numberOrNull(relative(a)));
    entry.set("loss", numberOrNull(*loss));
    entry.set("relative_loss", numberOrNull(*loss / cleanLoss));
    (variant.kind == "swap"   ? swaps
     : variant.kind == "skip" ? skips
                              : reverses)
        .push(std::move(entry));
  }
  timings.set("interventions_seconds",
              JsonValue::number(secondsSince(started)));

  //===--- Weight similarity (SPEC.md §5.7) -------------------------------===//
  started = std::chrono::steady_clock::now();
  progress("weight similarity");
  auto similarity = weightSimilarity(checkpoint, L, suite.blockSize);
  if (!similarity.isOk())
    return similarity.status();
  timings.set("weight_similarity_seconds",
              JsonValue::number(secondsSince(started)));

  //===--- The report -----------------------------------------------------===//
  JsonValue report = JsonValue::object();
  report.set("format", JsonValue::string("growc-analysis-report"));
  report.set("version", JsonValue::number(1));
  report.set("model", JsonValue::string(suite.model));
  report.set("checkpoint", JsonValue::string(checkpoint.path()));
  report.set("layers", JsonValue::number(L));
  report.set("block_size", JsonValue::number(suite.blockSize));
  report.set("ln_scaling", JsonValue::boolean(suite.lnScaling));
  JsonValue data = JsonValue::object();
  data.set("spec", JsonValue::string(options.dataSpec));
  data.set("windows", JsonValue::number(int64_t(windows.tokens.size())));
  data.set("batch", JsonValue::number(rows));
  data.set("seq", JsonValue::number(seq));
  report.set("data", std::move(data));
  JsonValue task = JsonValue::object();
  task.set("primitive", JsonValue::string(primitiveName(options.primitive)));
  task.set("min_depth", JsonValue::number(options.minDepth));
  task.set("max_depth", JsonValue::number(options.maxDepth));
  task.set("shots", JsonValue::number(options.shots));
  task.set("count_per_depth", JsonValue::number(options.count));
  task.set("seed", JsonValue::number(options.seed));
  JsonValue floorsJson = JsonValue::object();
  floorsJson.set("copy", JsonValue::number(floors->floors.copy));
  floorsJson.set("constant", JsonValue::number(floors->floors.constant));
  floorsJson.set("chance", JsonValue::number(floors->floors.chance));
  task.set("floors", std::move(floorsJson));
  report.set("task", std::move(task));
  JsonValue cleanJson = JsonValue::object();
  cleanJson.set("accuracy", JsonValue::number(cleanAccuracy));
  cleanJson.set("at_floor", JsonValue::boolean(atFloor));
  cleanJson.set("loss", numberOrNull(cleanLoss));
  report.set("clean", std::move(cleanJson));
  JsonValue lensJson = JsonValue::object();
  lensJson.set("at", JsonValue::string(lensAtInput ? "input" : "output"));
  lensJson.set("overlap_top5", toArray(overlap));
  lensJson.set("kl", toArray(kl));
  report.set("logit_lens", std::move(lensJson));
  if (tunedJson)
    report.set("tuned_lens", std::move(*tunedJson));
  JsonValue exitJson = JsonValue::object();
  exitJson.set("accuracy", toArray(exitAccuracy));
  exitJson.set("relative", toArray(exitRelative));
  report.set("early_exit", std::move(exitJson));
  JsonValue ds = JsonValue::object();
  ds.set("split", JsonValue::number(t));
  ds.set("aggregate",
         JsonValue::string(options.meanOverPrompts ? "mean" : "max"));
  ds.set("source", JsonValue::string(fromPrompts ? "prompts" : "windows"));
  ds.set("keep_position_0", JsonValue::boolean(suite.keepPosition0));
  for (const char *key : {"r", "e", "score", "output_effect"})
    ds.set(key, *pooled.find(key));
  if (fromPrompts) {
    ds.set("prompts", JsonValue::number(int64_t(options.depthPrompts.size())));
    ds.set("splits_per_answer", JsonValue::number(options.depthSplits));
    ds.set("rows", JsonValue::number(R));
    ds.set("by_level", std::move(byLevel));
  }
  report.set("depth_score", std::move(ds));
  JsonValue interventions = JsonValue::object();
  interventions.set("swap", std::move(swaps));
  interventions.set("skip", std::move(skips));
  interventions.set("reverse", std::move(reverses));
  report.set("interventions", std::move(interventions));
  JsonValue residual = JsonValue::object();
  residual.set("norm_h", toArray(mean(res.normH)));
  residual.set("norm_attn", toArray(mean(res.normA)));
  residual.set("norm_mlp", toArray(mean(res.normM)));
  residual.set("rel_attn", toArray(mean(res.relA)));
  residual.set("rel_mlp", toArray(mean(res.relM)));
  residual.set("rel_delta", toArray(mean(res.relD)));
  residual.set("cos_attn", toArray(mean(res.cosA)));
  residual.set("cos_mlp", toArray(mean(res.cosM)));
  residual.set("cos_delta", toArray(mean(res.cosD)));
  residual.set("cos_next", toArray(mean(res.cosNext)));
  // The period-b oscillation of the sublayer contributions (SPEC.md §5.6).
  report.set("periodicity", periodicityReport(residual, suite.blockSize));
  report.set("residual", std::move(residual));
  report.set("weight_similarity", std::move(*similarity));
  report.set("timings", std::move(timings));
  return report;
}
