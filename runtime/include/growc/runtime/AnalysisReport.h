//===- AnalysisReport.h - depth-analysis reports as HTML -------*- C++ -*-===//
//
// Turns one or more analysis reports (Analysis.h's JSON) into a single
// self-contained HTML page: the plotting library (plotly.js, from Debian's
// python3-plotly) is copied into the page, so it opens offline and nothing
// is fetched. One report gives its per-layer curves and heat maps; several
// (the mini-study) are overlaid curve by curve, with heat maps per model,
// a summary table and, when the reports carry them, training loss curves.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_ANALYSISREPORT_H
#define GROWC_RUNTIME_ANALYSISREPORT_H

#include "growc/runtime/Json.h"
#include "growc/runtime/Status.h"

#include <string>
#include <vector>

namespace growc::rt {

/// A report and the name it is shown under.
struct LabelledReport {
  std::string label;
  JsonValue report;
};

/// Where plotly.js is read from: `explicitPath` if given, else
/// $GROWC_PLOTLY_JS, else the path found when the runtime was configured,
/// else Debian's /usr/share/python3-plotly/plotly.js. An error names what
/// to install (scripts/setup.sh does).
StatusOr<std::string> findPlotlyJs(const std::string &explicitPath);

/// Writes the HTML page atomically. Every plot is a `div.plot`; once all
/// have rendered, the page sets `data-plots-rendered` on <body> to their
/// number (and `data-plot-error` if one failed), which is what the
/// headless-browser test reads.
Status writeHtmlReport(const std::string &path,
                       const std::vector<LabelledReport> &reports,
                       const std::string &title,
                       const std::string &plotlyJsPath);

} // namespace growc::rt

#endif // GROWC_RUNTIME_ANALYSISREPORT_H
