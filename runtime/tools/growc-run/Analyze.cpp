//===- Analyze.cpp - growc-run analyze and growc-run report --------------===//
//
//   growc-run analyze SUITE --weights C.safetensors [--primitive NAME]
//       [--depth MIN-MAX] [--count N] [--data SPEC] [--windows N]
//       [--aggregate max|mean] --out report.json [--html report.html]
//   growc-run report A.json [B.json ...] [--label NAME ...] --html out.html
//
// The command-line side of the depth analyses (runtime/lib/Analysis.cpp
// computes them, AnalysisReport.cpp draws them).
//
//===----------------------------------------------------------------------===//

#include "Analyze.h"
#include "Options.h"

#include "growc/runtime/Analysis.h"
#include "growc/runtime/AnalysisReport.h"
#include "growc/runtime/Json.h"
#include "growc/runtime/Safetensors.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

using namespace growc::rt;

namespace {

int fail(const std::string &message) {
  std::fprintf(stderr, "growc-run: %s\n", message.c_str());
  return 1;
}

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

int growc::rt::runAnalyze(const std::vector<std::string_view> &args) {
  std::string suitePath, weights, out, html, plotlyJs, dataSpec;
  std::string primitiveText = "var-assign-math";
  long minDepth = 0, maxDepth = 2, shots = 5, count = 100, windowCount = 4,
       threads = 0;
  unsigned long long seed = 0;
  bool meanAggregate = false, verbose = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view name = args[i];
    if (name.size() < 2 || name.substr(0, 2) != "--") {
      if (!suitePath.empty())
        return fail("analyze: unexpected argument '" + std::string(name) + "'");
      suitePath = std::string(name);
      continue;
    }
    if (name == "--verbose") {
      verbose = true;
      continue;
    }
    std::optional<std::string> value = optionValue(args, i, name);
    if (!value || value->empty())
      return fail("analyze: " + std::string(name) + " needs a value");
    bool ok = true;
    if (name == "--weights")
      weights = *value;
    else if (name == "--out")
      out = *value;
    else if (name == "--html")
      html = *value;
    else if (name == "--plotly-js")
      plotlyJs = *value;
    else if (name == "--data")
      dataSpec = *value;
    else if (name == "--primitive")
      primitiveText = *value;
    else if (name == "--depth")
      ok = parseDepthRange(*value, 8, minDepth, maxDepth);
    else if (name == "--shots")
      ok = parseInteger(*value, 0, 64, shots);
    else if (name == "--count")
      ok = parseInteger(*value, 1, 1000000, count);
    else if (name == "--windows")
      ok = parseInteger(*value, 1, 100000, windowCount);
    else if (name == "--threads")
      ok = parseInteger(*value, 1, 1024, threads);
    else if (name == "--seed") {
      long n = 0;
      ok = parseInteger(*value, 0, std::numeric_limits<long>::max(), n);
      seed = static_cast<unsigned long long>(n);
    } else if (name == "--aggregate") {
      ok = *value == "max" || *value == "mean";
      meanAggregate = *value == "mean";
    } else
      return fail("analyze: unknown option '" + std::string(name) +
                  "' (see growc-run --help)");
    if (!ok)
      return fail("analyze: bad value '" + *value + "' for " +
                  std::string(name));
  }
  if (suitePath.empty() || weights.empty() || out.empty())
    return fail("analyze: SUITE, --weights and --out are required");

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
  StatusOr<SafetensorsFile> checkpoint = SafetensorsFile::open(weights);
  if (!checkpoint.isOk())
    return fail("analyze: " + checkpoint.status().message());

  // Held-out windows: by default the task's own examples, from a seed far
  // from the training streams' (which start at the run's --seed).
  if (dataSpec.empty())
    dataSpec = "primitives:" + primitiveText + ":" + std::to_string(minDepth) +
               "-" + std::to_string(maxDepth);
  const uint64_t heldOutSeed = 0x5eed0000ULL + seed;
  StatusOr<std::unique_ptr<TokenStream>> stream =
      openDataSpec(dataSpec, heldOutSeed, ByteTokenizer::kVocabSize);
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

int growc::rt::runReport(const std::vector<std::string_view> &args) {
  std::vector<std::string> inputs, labels;
  std::string html, plotlyJs, title = "growc depth analyses";
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view name = args[i];
    if (name.size() < 2 || name.substr(0, 2) != "--") {
      inputs.push_back(std::string(name));
      continue;
    }
    std::optional<std::string> value = optionValue(args, i, name);
    if (!value || value->empty())
      return fail("report: " + std::string(name) + " needs a value");
    if (name == "--html")
      html = *value;
    else if (name == "--label")
      labels.push_back(*value);
    else if (name == "--title")
      title = *value;
    else if (name == "--plotly-js")
      plotlyJs = *value;
    else
      return fail("report: unknown option '" + std::string(name) +
                  "' (see growc-run --help)");
  }
  if (inputs.empty() || html.empty())
    return fail("report: at least one report.json and --html are required");
  if (!labels.empty() && labels.size() != inputs.size())
    return fail("report: give one --label per report, or none");
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
