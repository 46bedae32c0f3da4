//===- AnalysisReport.cpp - depth-analysis reports as HTML ----------------===//
//
// The page is static HTML + the reports as JSON + a small script that
// builds every plot with plotly.js: the numbers stay inspectable in the
// page, and the charts are drawn by a maintained library rather than by
// hand-written SVG.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/AnalysisReport.h"

#include "growc/runtime/Safetensors.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace growc::rt;

#ifndef GROWC_PLOTLY_JS_DEFAULT
#define GROWC_PLOTLY_JS_DEFAULT ""
#endif

namespace {

constexpr const char *kDebianPlotly = "/usr/share/python3-plotly/plotly.js";

/// The script that draws the plots from `REPORTS` ([{label, report}]).
constexpr const char *kPlotScript = R"JS(
(function () {
  const root = document.getElementById('plots');
  const pending = [];
  const models = REPORTS.map(r => r.label);
  const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e',
                   '#8c564b', '#e377c2', '#17becf'];
  function section(title, text) {
    const h = document.createElement('h2');
    h.textContent = title;
    root.appendChild(h);
    if (text) {
      const p = document.createElement('p');
      p.textContent = text;
      root.appendChild(p);
    }
  }
  function plot(title, traces, layout) {
    const div = document.createElement('div');
    div.className = 'plot';
    div.dataset.title = title;
    root.appendChild(div);
    const base = {title: {text: title, font: {size: 14}}, height: 340,
                  margin: {l: 60, r: 20, t: 50, b: 50},
                  legend: {orientation: 'h', y: -0.2}};
    pending.push(Plotly.newPlot(div, traces, Object.assign(base, layout || {}),
                                {displaylogo: false, responsive: true})
      .then(() => { div.dataset.rendered = '1'; }));
  }
  function layers(n) { return Array.from({length: n}, (_, i) => i); }
  function perLayer(title, get, yTitle, extra) {
    const traces = REPORTS.map((r, k) => {
      const y = get(r.report);
      return {x: layers(y.length), y: y, name: r.label, mode: 'lines+markers',
              line: {color: palette[k % palette.length]}};
    });
    plot(title, traces, Object.assign({xaxis: {title: {text: 'layer l'}},
                                       yaxis: {title: {text: yTitle}}},
                                      extra || {}));
  }
  function heat(title, z, x, y, xTitle, yTitle, extra) {
    plot(title, [{z: z, x: x, y: y, type: 'heatmap', colorscale: 'Viridis',
                  hoverongaps: false}],
         Object.assign({xaxis: {title: {text: xTitle}},
                        yaxis: {title: {text: yTitle}}, height: 380}, extra || {}));
  }
  function fmt(v, d) { return v === null || v === undefined ? 'n/a' : v.toFixed(d); }

  // Summary table.
  const table = document.getElementById('summary');
  const head = ['model', 'layers', 'LN-Scaling', 'accuracy',
                'floors: copy / constant / chance', 'held-out loss',
                'depth score', 'mean top-5 overlap', 'weights: block period',
                'weights: block mirror'];
  let html = '<tr>' + head.map(h => '<th>' + h + '</th>').join('') + '</tr>';
  for (const r of REPORTS) {
    const p = r.report;
    const o = p.logit_lens.overlap_top5;
    const meanOverlap = o.reduce((a, b) => a + b, 0) / o.length;
    const cells = [r.label, p.layers, p.ln_scaling ? 'yes' : 'no',
                   fmt(p.clean.accuracy, 3) +
                       (p.clean.at_floor ? ' (at its floor)' : ''),
                   p.task && p.task.floors
                       ? [p.task.floors.copy, p.task.floors.constant,
                          p.task.floors.chance].map(v => fmt(v, 3)).join(' / ')
                       : 'n/a',
                   fmt(p.clean.loss, 4),
                   fmt(p.depth_score.score, 2), fmt(meanOverlap, 3),
                   fmt(p.weight_similarity.mean.block_period, 3),
                   fmt(p.weight_similarity.mean.block_mirror, 3)];
    html += '<tr>' + cells.map(c => '<td>' + String(c).replace(/</g, '&lt;') +
                                     '</td>').join('') + '</tr>';
  }
  table.innerHTML = html;

  // Training curves (the mini-study's reports carry them).
  const trained = REPORTS.filter(r => r.report.training);
  if (trained.length) {
    section('Training', 'Training loss per step (mean over the logged ' +
            'steps) and validation loss where measured.');
    plot('training loss', trained.map((r, k) => ({
      x: r.report.training.steps, y: r.report.training.loss, name: r.label,
      mode: 'lines', line: {color: palette[REPORTS.indexOf(r) % palette.length]}})),
      {xaxis: {title: {text: 'step'}}, yaxis: {title: {text: 'loss'}}});
    const accNames = Object.keys(trained[0].report.training.accuracy || {});
    if (accNames.length)
      plot('primitive accuracy after training', trained.map((r, k) => ({
        x: accNames, y: accNames.map(n => r.report.training.accuracy[n]),
        name: r.label, type: 'bar',
        marker: {color: palette[REPORTS.indexOf(r) % palette.length]}})),
        {barmode: 'group', yaxis: {title: {text: 'accuracy'}, range: [0, 1]}});
  }

  section('Logit lens (SPEC.md 5.1)', 'Each layer decoded with the final ' +
          'norm and head: top-5 agreement with the final layer, and ' +
          'KL(p_l || p_final), mean over held-out tokens. Layer l reads ' +
          'its input h_l (0: the embeddings; Csordás et al.) or its output ' +
          'h_{l+1}: ' + REPORTS.map(r => r.label + ' ' +
          ((r.report.logit_lens.at || 'output') === 'input' ? 'h_l' :
           'h_{l+1}')).join(', ') + '.');
  perLayer('top-5 overlap with the final layer', p => p.logit_lens.overlap_top5,
           'overlap', {yaxis: {range: [0, 1.05], title: {text: 'overlap'}}});
  perLayer('KL(p_l || p_final)', p => p.logit_lens.kl, 'nats');

  section('Early exit (SPEC.md 5.2)', 'Primitive accuracy of the answer ' +
          'decoded at layer l, divided by the full model\'s; undefined ' +
          'where the full model is not above its floor by two binomial ' +
          'standard errors (summary table).' + REPORTS.filter(
              r => r.report.clean.at_floor).map(
              r => ' ' + r.label + ': undefined: the model is at its floor.')
              .join(''));
  perLayer('early-exit relative accuracy', p => p.early_exit.relative,
           'relative accuracy');

  section('Depth score (SPEC.md 5.3)', 'Skip layer l before the split; ' +
          'e_l: mean relative change of the later layers\' contributions; ' +
          'o_l: change of the output distribution.');
  perLayer('per-layer effect e_l (legend: depth score)', p => p.depth_score.e,
           'e_l');
  // Put the depth score in the legend.
  const last = pending.length - 1;
  pending[last] = pending[last].then(() => {
    const div = root.querySelectorAll('div.plot')[last];
    Plotly.restyle(div, {name: REPORTS.map(r => r.label + ' (DS ' +
                                           fmt(r.report.depth_score.score, 2) + ')')});
  });
  perLayer('output effect o_l', p => p.depth_score.output_effect, 'o_l');
  for (const r of REPORTS) {
    const L = r.report.layers;
    heat('r_{l,j}: ' + r.label, r.report.depth_score.r, layers(L), layers(L),
         'later layer j', 'skipped layer l');
  }

  section('Interventions (SPEC.md 5.4-5.5)', 'Primitive accuracy and ' +
          'held-out loss relative to the unmodified model.');
  const skips = REPORTS.filter(r => r.report.interventions.skip.length);
  if (skips.length) {
    perLayer('skip layer l: relative accuracy', p =>
             p.interventions.skip.map(e => e.relative_accuracy), 'relative accuracy');
    perLayer('skip layer l: relative loss', p =>
             p.interventions.skip.map(e => e.relative_loss), 'loss / clean loss');
  }
  function windows(r, kind, key, metric, title) {
    const entries = r.report.interventions[kind];
    if (!entries.length) return;
    const sizes = [...new Set(entries.map(e => e.size))].sort((a, b) => a - b);
    const L = r.report.layers;
    const z = sizes.map(s => layers(L).map(p => {
      const e = entries.find(e => e.size === s && e[key] === p);
      return e ? e[metric] : null;
    }));
    heat(title + ': ' + r.label, z, layers(L), sizes.map(s => 'size ' + s),
         key === 'position' ? 'first window position p' : 'window start',
         'window size', {height: 120 + 45 * sizes.length});
  }
  for (const r of REPORTS) {
    windows(r, 'swap', 'position', 'relative_loss', 'block swap, relative loss');
    windows(r, 'swap', 'position', 'relative_accuracy',
            'block swap, relative accuracy');
    windows(r, 'reverse', 'start', 'relative_loss', 'window reverse, relative loss');
  }

  section('Residual stream (SPEC.md 5.6)', 'Means over held-out tokens.');
  perLayer('norm of the residual stream ||h_l||', p => p.residual.norm_h, 'norm');
  perLayer('attention contribution ||a_l|| / ||h_l||', p => p.residual.rel_attn,
           'ratio');
  perLayer('MLP contribution ||m_l|| / ||h^_l||', p => p.residual.rel_mlp, 'ratio');
  perLayer('layer contribution ||Delta_l|| / ||h_l||', p => p.residual.rel_delta,
           'ratio');
  perLayer('cos(a_l, h_l)', p => p.residual.cos_attn, 'cosine');
  perLayer('cos(m_l, h^_l)', p => p.residual.cos_mlp, 'cosine');
  perLayer('cos(Delta_l, h_l)', p => p.residual.cos_delta, 'cosine');
  perLayer('cos(h_{l+1}, h_l)', p => p.residual.cos_next, 'cosine');

  section('Weight similarity (SPEC.md 5.7)', 'Cosine similarity of the ' +
          'flattened weights of every pair of layers; the buttons pick the ' +
          'parameter group.');
  for (const r of REPORTS) {
    const groups = r.report.weight_similarity.groups;
    const names = Object.keys(groups);
    const L = r.report.layers;
    const traces = names.map((n, k) => ({
      z: groups[n].matrix, x: layers(L), y: layers(L), type: 'heatmap',
      colorscale: 'RdBu', zmin: -1, zmax: 1, reversescale: true,
      visible: k === 0, name: n}));
    const buttons = names.map((n, k) => ({
      label: n.replace('.weight', ''), method: 'update',
      args: [{visible: names.map((_, j) => j === k)},
             {title: {text: 'weight similarity, ' + n + ': ' + r.label}}]}));
    plot('weight similarity, ' + names[0] + ': ' + r.label, traces,
         {height: 460, xaxis: {title: {text: 'layer'}},
          yaxis: {title: {text: 'layer'}, autorange: 'reversed'},
          updatemenus: [{buttons: buttons, direction: 'down', x: 0, y: 1.18,
                         xanchor: 'left', showactive: true}]});
  }

  Promise.all(pending).then(() => {
    document.body.dataset.plotsRendered = String(pending.length);
  }, err => {
    document.body.dataset.plotError = String(err);
  });
})();
)JS";

constexpr const char *kStyle = R"CSS(
body { font-family: sans-serif; margin: 2em; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
div.plot { margin: 0.5em 0 1.5em 0; }
p.note { color: #555; font-size: 90%; }
)CSS";

StatusOr<std::string> readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// `text` made safe inside a <script> element: "</" could close it.
std::string scriptSafe(const std::string &text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<' && i + 1 < text.size() && text[i + 1] == '/') {
      out += "<\\/";
      ++i;
      continue;
    }
    out += text[i];
  }
  return out;
}

std::string htmlEscape(const std::string &text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '&':
      out += "&amp;";
      break;
    case '"':
      out += "&quot;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

} // namespace

StatusOr<std::string> growc::rt::findPlotlyJs(const std::string &explicitPath) {
  std::vector<std::string> candidates;
  if (!explicitPath.empty())
    candidates.push_back(explicitPath);
  else {
    if (const char *env = std::getenv("GROWC_PLOTLY_JS"); env && *env)
      candidates.push_back(env);
    if (*GROWC_PLOTLY_JS_DEFAULT)
      candidates.push_back(GROWC_PLOTLY_JS_DEFAULT);
    candidates.push_back(kDebianPlotly);
  }
  for (const std::string &path : candidates)
    if (std::ifstream(path))
      return path;
  return Status::error(
      "plotly.js not found (" + candidates.front() +
      "): install Debian's python3-plotly (scripts/setup.sh does), or give "
      "--plotly-js PATH or GROWC_PLOTLY_JS");
}

Status growc::rt::writeHtmlReport(const std::string &path,
                                  const std::vector<LabelledReport> &reports,
                                  const std::string &title,
                                  const std::string &plotlyJsPath) {
  if (reports.empty())
    return Status::error("no reports to write");
  for (const LabelledReport &r : reports) {
    const JsonValue *format = r.report.find("format");
    if (!format || format->asString() != "growc-analysis-report")
      return Status::error("'" + r.label +
                           "' is not a growc analysis report (format "
                           "\"growc-analysis-report\")");
  }
  StatusOr<std::string> plotly = readAll(plotlyJsPath);
  if (!plotly.isOk())
    return plotly.status();
  JsonValue data = JsonValue::array();
  for (const LabelledReport &r : reports) {
    JsonValue entry = JsonValue::object();
    entry.set("label", JsonValue::string(r.label));
    entry.set("report", r.report);
    data.push(std::move(entry));
  }
  std::string html;
  html += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
          "charset=\"utf-8\">\n<title>" +
          htmlEscape(title) + "</title>\n<style>" + kStyle + "</style>\n";
  html += "<script>\n" + scriptSafe(*plotly) + "\n</script>\n</head>\n<body>\n";
  html += "<h1>" + htmlEscape(title) + "</h1>\n";
  html += "<p class=\"note\">growc depth analyses (SPEC.md section 5, "
          "definitions in docs/analysis.md). Every number is also in the "
          "JSON report and in the data embedded in this page.</p>\n";
  html += "<table id=\"summary\"></table>\n<div id=\"plots\"></div>\n";
  html += "<script>\nconst REPORTS = " + scriptSafe(toJson(data)) + ";\n";
  html += kPlotScript;
  html += "</script>\n</body>\n</html>\n";
  return writeFileAtomically(path, [&](std::FILE *file) -> Status {
    if (std::fwrite(html.data(), 1, html.size(), file) != html.size())
      return Status::error("cannot write " + path);
    return Status::ok();
  });
}
