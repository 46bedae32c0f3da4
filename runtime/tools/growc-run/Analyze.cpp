//===- Analyze.cpp - growc-run analyze and growc-run report --------------===//
//
//   growc-run analyze SUITE --weights C.safetensors [--primitive NAME]
//       [--depth MIN-MAX] [--count N] [--data SPEC] [--windows N]
//       [--aggregate max|mean] [--allow-beyond-context]
//       [--prompts ITEMS.jsonl [--splits N]]
//       [--tuned-lens [--tuned-lens-steps N] [--tuned-lens-lr X]]
//       --out report.json [--html report.html]
//   growc-run report A.json [B.json ...] [--label NAME ...] --html out.html
//
// The command-line side of the depth analyses (runtime/lib/Analysis.cpp
// computes them, AnalysisReport.cpp draws them). A suite whose sequence
// (and so its depth-score split and prompts) reaches beyond the context the
// checkpoint was trained at is refused unless --allow-beyond-context, which
// the report then records.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "growc/runtime/Analysis.h"
#include "growc/runtime/AnalysisReport.h"
#include "growc/runtime/Checkpoint.h"
#include "growc/runtime/Json.h"
#include "growc/runtime/Plan.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Tokenizer.h"
#include "growc/runtime/TrainOutputs.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>

using namespace growc::rt;

namespace {

Status writeText(const std::string &path, const std::string &text) {
  return writeFileAtomically(path, [&](std::FILE *file) -> Status {
    if (std::fwrite(text.data(), 1, text.size(), file) != text.size())
      return Status::error("cannot write " + path);
    return Status::ok();
  });
}

StatusOr<JsonValue> readJsonFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  StatusOr<JsonValue> json = parseJson(text.str());
  if (!json.isOk())
    return Status::error(path + ": " + json.status().message());
  return json;
}

} // namespace

namespace {

struct AnalyzeArgs {
  std::string suitePath, weights, out, html, plotlyJs, dataSpec, tokenizer;
  std::string prompts; // depth-score prompt file (JSON lines)
  long splits = 4;     // depth-score splits per answer
  std::string primitiveText = "var-assign-math", depth = "0-2",
              aggregate = "max";
  long shots = 5, count = 100, windowCount = 4, threads = 0;
  unsigned long long seed = 0;
  bool verbose = false, allowBeyondContext = false;
  bool tunedLens = false;
  long tunedLensSteps = TunedLensOptions().steps;
  double tunedLensLr = TunedLensOptions().lr;
};

int runAnalyze(AnalyzeArgs args) {
  long minDepth = 0, maxDepth = 2;
  parseDepthRange(args.depth, minDepth, maxDepth);
  const std::string &suitePath = args.suitePath, &weights = args.weights,
                    &out = args.out, &html = args.html,
                    &plotlyJs = args.plotlyJs,
                    &primitiveText = args.primitiveText;
  std::string &dataSpec = args.dataSpec;
  long shots = args.shots, count = args.count, windowCount = args.windowCount,
       threads = args.threads;
  unsigned long long seed = args.seed;
  bool meanAggregate = args.aggregate == "mean", verbose = args.verbose;
  StatusOr<AnalysisSuite> suite = loadAnalysisSuite(suitePath);
  if (!suite.isOk())
    return fail("analyze: " + suite.status().message());
  StatusOr<Primitive> primitive = parsePrimitive(primitiveText);
  if (!primitive.isOk())
    return fail("analyze: " + primitive.status().message());
  std::string plotlyPath;
  if (!html.empty()) {
    // Before the analysis, so that a missing plotting library fails fast.
    StatusOr<std::string> found = findPlotlyJs(plotlyJs);
    if (!found.isOk())
      return fail("analyze: " + found.status().message());
    plotlyPath = *found;
  }
  StatusOr<Checkpoint> checkpoint = Checkpoint::open(weights);
  if (!checkpoint.isOk())
    return fail("analyze: " + checkpoint.status().message());
  // Every window and the depth score's future positions (from the split)
  // run to the suite's seq; past the trained context they measure a model
  // on positions it never saw.
  StatusOr<std::optional<int64_t>> context =
      trainedContextOf("analyze", *checkpoint);
  if (!context.isOk())
    return fail("analyze: " + context.status().message());
  const bool beyondContext = *context && suite->seq > **context;
  if (beyondContext) {
    std::string said =
        suite->path + " runs windows of " + std::to_string(suite->seq) +
        " tokens (the depth score's split at " + std::to_string(suite->split) +
        "), beyond the " + std::to_string(**context) + " tokens " + weights +
        " was trained at (" + kTrainedContextKey + ")";
    if (!args.allowBeyondContext)
      return fail("analyze: " + said +
                  "; compile the suite with growc --analysis-suite --seq " +
                  std::to_string(**context) +
                  " or less, or give --allow-beyond-context to analyse "
                  "where the model was not trained");
    std::fprintf(stderr,
                 "growc-run: analyze: WARNING: --allow-beyond-context: %s; "
                 "the report is measured beyond the trained context\n",
                 said.c_str());
  }

  // Held-out windows: by default the task's own examples, from a seed far
  // from the training streams' (which start at the run's --seed).
  if (dataSpec.empty())
    dataSpec = "primitives:" + primitiveText + ":" + std::to_string(minDepth) +
               "-" + std::to_string(maxDepth);
  const uint64_t heldOutSeed = 0x5eed0000ULL + seed;
  // The model's vocabulary (the clean graph's) decides how text and
  // prompts become tokens: bytes for the byte vocabulary, --tokenizer
  // otherwise.
  const SuiteVariant *clean = suite->find("clean");
  StatusOr<Plan> cleanPlan = loadPlan(clean->planPath);
  if (!cleanPlan.isOk())
    return fail("analyze: " + cleanPlan.status().message());
  StatusOr<std::unique_ptr<Tokenizer>> loaded =
      loadTokenizerOption(args.tokenizer);
  if (!loaded.isOk())
    return fail("analyze: " + loaded.status().message());
  const Tokenizer *given = loaded->get();
  StatusOr<const Tokenizer *> tokenizer =
      tokenizerFor(given, cleanPlan->vocabSize, primitiveText + " prompts");
  if (!tokenizer.isOk())
    return fail("analyze: " + tokenizer.status().message());
  // Answer-span prompts for the depth score, in the model's tokens.
  std::vector<DepthPrompt> depthPrompts;
  if (!args.prompts.empty()) {
    StatusOr<std::vector<DepthPrompt>> loadedPrompts =
        loadDepthPrompts(args.prompts, **tokenizer, suite->seq);
    if (!loadedPrompts.isOk())
      return fail("analyze: --prompts " + loadedPrompts.status().message());
    depthPrompts = std::move(*loadedPrompts);
  }
  StatusOr<std::unique_ptr<TokenStream>> stream =
      openDataSpec(dataSpec, heldOutSeed, cleanPlan->vocabSize, given);
  if (!stream.isOk())
    return fail("analyze: " + stream.status().message());
  EvalWindows windows =
      drawWindows(**stream, windowCount, suite->batch, suite->seq);

  AnalyzeOptions options;
  options.primitive = *primitive;
  options.minDepth = int(minDepth);
  options.maxDepth = int(maxDepth);
  options.shots = int(shots);
  options.count = count;
  options.seed = seed;
  options.meanOverPrompts = meanAggregate;
  options.threads = int(threads);
  options.dataSpec = dataSpec;
  options.tokenizer = given;
  options.depthPrompts = std::move(depthPrompts);
  options.depthSplits = args.splits;
  options.tunedLens = args.tunedLens;
  options.tunedLensOptions.steps = args.tunedLensSteps;
  options.tunedLensOptions.lr = args.tunedLensLr;
  if (verbose)
    options.progress = [](const std::string &what) {
      std::fprintf(stderr, "growc-run analyze: %s\n", what.c_str());
    };
  auto started = std::chrono::steady_clock::now();
  StatusOr<JsonValue> report =
      analyzeCheckpoint(*suite, *checkpoint, windows, options);
  if (!report.isOk())
    return fail("analyze: " + report.status().message());
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  JsonValue trained = JsonValue::object();
  trained.set("context",
              *context ? JsonValue::number(**context) : JsonValue::null());
  trained.set("seq", JsonValue::number(suite->seq));
  trained.set("split", JsonValue::number(suite->split));
  trained.set("beyond_context", JsonValue::boolean(beyondContext));
  report->set("trained_context", std::move(trained));
  if (Status s = writeText(out, toJson(*report, 1) + "\n"); !s.isOk())
    return fail("analyze: " + s.message());
  if (!html.empty()) {
    std::string label = suite->model.empty() ? weights : suite->model;
    if (Status s = writeHtmlReport(html, {{label, *report}},
                                   "Depth analysis: " + weights, plotlyPath);
        !s.isOk())
      return fail("analyze: " + s.message());
  }
  const JsonValue *ds = report->find("depth_score");
  const JsonValue *score = ds ? ds->find("score") : nullptr;
  std::fprintf(stderr,
               "growc-run analyze: %zu graphs, %lld layers, depth score %s, "
               "%.1f s\n",
               suite->variants.size(), (long long)suite->layers,
               score && score->isNumber()
                   ? std::to_string(score->asDouble()).c_str()
                   : "n/a",
               seconds);
  return 0;
}

struct ReportArgs {
  std::vector<std::string> inputs, labels;
  std::string html, plotlyJs, title = "growc depth analyses";
};

int runReport(const ReportArgs &args) {
  const std::vector<std::string> &inputs = args.inputs, &labels = args.labels;
  const std::string &html = args.html, &plotlyJs = args.plotlyJs,
                    &title = args.title;
  if (inputs.empty() || html.empty())
    return fail("report: at least one report.json and --html are required");
  if (!labels.empty() && labels.size() != inputs.size())
    return fail("report: " + std::to_string(labels.size()) + " --label for " +
                std::to_string(inputs.size()) +
                " reports: give one per report, in order (a label given "
                "several times makes those reports seeds of one arm), or "
                "none");
  StatusOr<std::string> plotly = findPlotlyJs(plotlyJs);
  if (!plotly.isOk())
    return fail("report: " + plotly.status().message());
  std::vector<LabelledReport> reports;
  for (size_t i = 0; i < inputs.size(); ++i) {
    StatusOr<JsonValue> json = readJsonFile(inputs[i]);
    if (!json.isOk())
      return fail("report: " + json.status().message());
    reports.push_back({labels.empty() ? inputs[i] : labels[i], *json});
  }
  if (Status s = writeHtmlReport(html, reports, title, *plotly); !s.isOk())
    return fail("report: " + s.message());
  return 0;
}

} // namespace

Command growc::rt::addAnalyzeCommand(CLI::App &app) {
  auto args = std::make_shared<AnalyzeArgs>();
  CLI::App *command = addCommand(
      app, "analyze", "The depth analyses of a checkpoint",
      "The depth analyses of SPEC.md section 5 on checkpoint C, from the\n"
      "graphs of SUITE (growc model.mlir --analysis-suite -o suite.so;\n"
      "SUITE is suite.so or suite.so.analysis.json): logit-lens overlap and "
      "KL,\n"
      "early-exit accuracy, the depth score (r, e, o), block swaps, layer\n"
      "skips and window reversals (task accuracy and held-out loss),\n"
      "residual-stream statistics and weight similarity. Task: NAME's\n"
      "prompts (default var-assign-math, depths 0-2, COUNT per depth);\n"
      "held-out windows: SPEC (default the task's examples). A model\n"
      "without the 259-token byte vocabulary needs --tokenizer T. A suite\n"
      "whose seq exceeds the context C was trained at (growc.trained_context)\n"
      "is refused unless --allow-beyond-context. R.json has every number;\n"
      "R.html plots them (docs/analysis.md).");
  command->add_option("SUITE", args->suitePath, "The analysis suite")
      ->required();
  command->add_option("--weights", args->weights, "The checkpoint C")
      ->required();
  command->add_option("--out", args->out, "The report R.json")->required();
  command->add_option("--html", args->html, "Also plot it to R.html");
  command->add_option("--plotly-js", args->plotlyJs,
                      "plotly.js to copy into the page (default: found at "
                      "configure time, or GROWC_PLOTLY_JS)");
  command->add_option("--data", args->dataSpec,
                      "Held-out windows from SPEC (default: the task's "
                      "examples)");
  command->add_option("--primitive", args->primitiveText,
                      "The task (var-assign-math)");
  command->add_option("--tokenizer", args->tokenizer,
                      "tokenizer.json (or its folder) rendering prompts and "
                      "text for a model without the byte vocabulary");
  depthRange(
      command->add_option("--depth", args->depth, "Task depths MIN-MAX (0-2)"),
      8);
  integerIn(command->add_option("--shots", args->shots, "Shots (5)"), 0, 64);
  integerIn(
      command->add_option("--count", args->count, "Prompts per depth (100)"), 1,
      1000000);
  integerIn(command->add_option("--windows", args->windowCount,
                                "Held-out windows (4)"),
            1, 100000);
  integerIn(command->add_option("--threads", args->threads,
                                "Threads of the CPU executor"),
            1, 1024, "a count in [1, 1024]");
  integerIn(command->add_option("--seed", args->seed, "Prompt seed (0)"), 0,
            std::numeric_limits<long>::max(), "a non-negative integer");
  oneOf(command->add_option("--aggregate", args->aggregate,
                            "Over prompts: max or mean (max)"),
        {"max", "mean"});
  command->add_option("--prompts", args->prompts,
                      "Depth score on answer spans: JSON lines {\"prompt\": "
                      "..., \"answer\": ...[, \"level\": ...]}, each split "
                      "at --splits positions of its answer, scored per level "
                      "(default: the held-out windows at the suite's split)");
  integerIn(command->add_option("--splits", args->splits,
                                "With --prompts: splits per answer (4)"),
            1, 1024);
  addFlag(*command, "--allow-beyond-context", args->allowBeyondContext,
          "Analyse a suite whose seq exceeds the context the checkpoint was "
          "trained at (refused otherwise), with a warning; the report "
          "records it (trained_context.beyond_context)");
  addFlag(*command, "--tuned-lens", args->tunedLens,
          "Also train a tuned lens (Belrose et al. 2023) on the first half "
          "of the held-out tokens and evaluate it on the second "
          "(tuned_lens in R.json; docs/analysis.md)");
  integerIn(command->add_option("--tuned-lens-steps", args->tunedLensSteps,
                                "Its full-batch optimizer steps (100)"),
            0, 1000000);
  numberWhere(
      command->add_option(
          "--tuned-lens-lr", args->tunedLensLr,
          "Its initial learning rate, SGD with Nesterov momentum "
          "0.9 decaying linearly to 0 (0.03)"),
      [](double x) { return x >= 0 && x <= 1e6; }, "a rate >= 0");
  addFlag(*command, "--verbose", args->verbose, "Print progress to stderr");
  return {command, [args] { return runAnalyze(*args); }};
}

Command growc::rt::addReportCommand(CLI::App &app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App *command =
      addCommand(app, "report", "One HTML page comparing analysis reports",
                 "One self-contained HTML page comparing analysis reports\n"
                 "(growc-run analyze --out R.json).");
  command->add_option("REPORTS", args->inputs, "R1.json [R2.json ...]");
  command->add_option("--label", args->labels,
                      "A name per report, in order (default: its path); "
                      "reports of one name are seeds of one arm (mean ± std)");
  command->add_option("--html", args->html, "The page OUT.html");
  command->add_option("--title", args->title, "The page's title");
  command->add_option("--plotly-js", args->plotlyJs,
                      "plotly.js to copy into the page");
  return {command, [args] { return runReport(*args); }};
}
