//===- Analyze.h - growc-run's depth-analysis commands ----------*- C++ -*-===//
//
// Entry points of `growc-run analyze` and `growc-run report`, dispatched
// from growc-run.cpp (docs/analysis.md).
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TOOLS_GROWC_RUN_ANALYZE_H
#define GROWC_RUNTIME_TOOLS_GROWC_RUN_ANALYZE_H

#include <string_view>
#include <vector>

namespace growc::rt {

/// growc-run analyze SUITE --weights C --out report.json [--html r.html] ...
int runAnalyze(const std::vector<std::string_view> &args);

/// growc-run report A.json [B.json ...] [--label NAME ...] --html out.html
int runReport(const std::vector<std::string_view> &args);

} // namespace growc::rt

#endif // GROWC_RUNTIME_TOOLS_GROWC_RUN_ANALYZE_H
