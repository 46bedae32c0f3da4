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

/// The script that draws the plots from `REPORTS` ([{label, report}]):
/// reports of one label are seeds of one arm (seed mean ± sample std).
constexpr const char *kPlotScript = R"JS(
(function () {
  const root = document.getElementById('plots');
  const pending = [];
  const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e',
                   '#8c564b', '#e377c2', '#17becf'];
  // Reports given the same label are seeds of one arm; arms keep the order
  // their labels first appear in, and one colour each in every plot.
  const arms = [];
  for (const r of REPORTS) {
    let arm = arms.find(a => a.label === r.label);
    if (!arm) {
      arm = {label: r.label, reports: [],
             color: palette[arms.length % palette.length]};
      arms.push(arm);
    }
    arm.reports.push(r.report);
  }
  const seeded = arms.some(a => a.reports.length > 1);

  function num(v) { return typeof v === 'number' && isFinite(v); }
  // Mean, sample standard deviation (n - 1) and n of the finite values.
  function stat(values) {
    const v = values.filter(num);
    if (!v.length) return {mean: null, std: null, n: 0};
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    const s = v.length < 2 ? null : Math.sqrt(
        v.reduce((a, b) => a + (b - m) * (b - m), 0) / (v.length - 1));
    return {mean: m, std: s, n: v.length};
  }
  // f(report), or null where an older report lacks the field.
  function pick(p, f) {
    try { const v = f(p); return v === undefined ? null : v; }
    catch (e) { return null; }
  }
  function armStat(arm, f) { return stat(arm.reports.map(p => pick(p, f))); }
  // Element-wise statistics of a per-layer array over the arm's seeds.
  function curveStat(arm, f) {
    const ys = arm.reports.map(p => pick(p, f)).filter(Array.isArray);
    if (!ys.length) return null;
    const out = {mean: [], std: [], n: [], seeds: ys.length};
    const len = Math.max(...ys.map(y => y.length));
    for (let i = 0; i < len; ++i) {
      const s = stat(ys.map(y => y[i]));
      out.mean.push(s.mean); out.std.push(s.std); out.n.push(s.n);
    }
    return out;
  }
  // The seed mean of a matrix (null where no seed has a value).
  function matrixMean(arm, f) {
    const ms = arm.reports.map(p => pick(p, f)).filter(Array.isArray);
    if (!ms.length) return null;
    return ms[0].map((row, i) => row.map(
        (_, j) => stat(ms.map(m => m[i] ? m[i][j] : null)).mean));
  }
  function fmt(v, d) { return num(v) ? v.toFixed(d) : 'n/a'; }
  // "mean ± std (n)" for an arm of several seeds, the value for one.
  function fmtStat(s, d, seeds) {
    if (!s || !s.n) return 'n/a';
    if (seeds < 2) return fmt(s.mean, d);
    return fmt(s.mean, d) + ' ± ' + fmt(s.std, d) + ' (' + s.n + ')';
  }
  function armName(arm) {
    return arm.label + (arm.reports.length > 1
                            ? ' (' + arm.reports.length + ' seeds)' : '');
  }
  function layers(n, from) {
    return Array.from({length: n - (from || 0)}, (_, i) => i + (from || 0));
  }
  // Layer axes: integer ticks only.
  function layerAxis(title) {
    return {title: {text: title}, dtick: 1, tick0: 0, zeroline: false};
  }

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
  // Draws one plot; once drawn, div.dataset.props records what plotly.js
  // made of it (axis types and ticks, colour ranges, error bars, shapes),
  // read back from its full layout, for the tests.
  function plot(title, traces, layout) {
    const div = document.createElement('div');
    div.className = 'plot';
    div.dataset.title = title;
    root.appendChild(div);
    const base = {title: {text: title, font: {size: 14}}, height: 340,
                  margin: {l: 70, r: 20, t: 50, b: 50},
                  legend: {orientation: 'h', y: -0.25}};
    pending.push(Plotly.newPlot(div, traces, Object.assign(base, layout || {}),
                                {displaylogo: false, responsive: true})
      .then(() => {
        const fl = div._fullLayout;
        const axis = a => a ? {type: a.type, dtick: a.dtick,
                               title: a.title ? a.title.text : ''} : null;
        div.dataset.props = JSON.stringify({
          x: axis(fl.xaxis), y: axis(fl.yaxis),
          shapes: (fl.shapes || []).length,
          annotations: (fl.annotations || []).map(a => a.text),
          traces: div._fullData.map(t => ({
            type: t.type, name: t.name, zmin: t.zmin, zmax: t.zmax,
            colorbar: t.colorbar && t.colorbar.title ? t.colorbar.title.text
                                                      : '',
            error_y: !!(t.error_y && t.error_y.visible && t.error_y.array),
            x0: t.x && t.x.length ? t.x[0] : null,
            finite_z: Array.isArray(t.z) && t.z.some(
                row => Array.isArray(row) && row.some(num))}))});
        div.dataset.rendered = '1';
      }));
  }

  // The floors every report carries (task.floors, seed means): one set of
  // grey lines when the arms share them, else one per arm in its colour.
  const floorKinds = ['copy', 'constant', 'chance'];
  function floorLines() {
    const sets = [];
    for (const arm of arms) {
      const f = floorKinds.map(k => armStat(arm, p => p.task.floors[k]).mean);
      if (f.some(num)) sets.push({arm: arm, f: f});
    }
    const same = sets.every(s => s.f.every(
        (v, i) => Math.abs((v || 0) - (sets[0].f[i] || 0)) < 1e-9));
    const shapes = [], annotations = [];
    for (const s of (same ? sets.slice(0, 1) : sets))
      s.f.forEach((v, i) => {
        if (!num(v)) return;
        const color = same ? '#666' : s.arm.color;
        shapes.push({type: 'line', xref: 'paper', x0: 0, x1: 1, yref: 'y',
                     y0: v, y1: v,
                     line: {color: color, width: 1,
                            dash: ['dash', 'dot', 'dashdot'][i]}});
        annotations.push({xref: 'paper', yref: 'y', y: v, showarrow: false,
                          x: [1, 0, 0.5][i],
                          xanchor: ['right', 'left', 'center'][i],
                          yshift: i === 2 ? -8 : 8,
                          font: {size: 10, color: color},
                          text: (same ? '' : s.arm.label + ' ') +
                                floorKinds[i] + ' floor ' + fmt(v, 3)});
      });
    return {shapes: shapes, annotations: annotations};
  }
  // Said on a plot none of whose arms has a value (all null in the
  // reports), rather than left as empty axes.
  const noValues = {xref: 'paper', yref: 'paper', x: 0.5, y: 0.5,
                    showarrow: false, font: {size: 13, color: '#666'},
                    text: 'no values: undefined (null) in every report, ' +
                          'e.g. a relative accuracy at the floor'};
  function anyFinite(rows) {
    return rows.some(r => Array.isArray(r) ? anyFinite(r) : num(r));
  }
  // Dotted lines between the blocks of b layers (the period of §4.3).
  function blockLines(from) {
    const b = pick(arms[0].reports[0], p => p.block_size);
    const L = Math.max(...REPORTS.map(r => r.report.layers));
    const shapes = [];
    if (!num(b) || b < 1) return shapes;
    for (let x = b; x < L; x += b)
      if (x - 0.5 > (from || 0))
        shapes.push({type: 'line', yref: 'paper', y0: 0, y1: 1, xref: 'x',
                     x0: x - 0.5, x1: x - 0.5,
                     line: {color: '#bbb', width: 1, dash: 'dot'}});
    return shapes;
  }

  // Per-layer curves: per arm the seed mean with error bars of ± one
  // standard deviation across seeds. series: [{f, suffix, dash}];
  // opts.from drops the first layers from the axis (their values go in the
  // legend), opts.log a log y axis, opts.floors the floor lines.
  function perLayer(title, series, yTitle, opts) {
    opts = opts || {};
    const from = opts.from || 0;
    const traces = [];
    for (const s of series)
      for (const arm of arms) {
        const c = curveStat(arm, s.f);
        if (!c) continue;
        let name = armName(arm) + (s.suffix || '');
        if (from)
          name += ' (layer 0: ' + fmtStat({mean: c.mean[0], std: c.std[0],
                                            n: c.n[0]}, 3, c.seeds) + ')';
        const t = {x: layers(c.mean.length, from), y: c.mean.slice(from),
                   name: name, mode: 'lines+markers', legendgroup: arm.label,
                   line: {color: arm.color, dash: s.dash || 'solid'},
                   marker: {color: arm.color}};
        if (c.seeds > 1)
          t.error_y = {type: 'data', visible: true, color: arm.color,
                       thickness: 1.2, width: 4,
                       array: c.std.slice(from).map(v => num(v) ? v : 0)};
        traces.push(t);
      }
    const floors = opts.floors ? floorLines() : {shapes: [], annotations: []};
    const layout = {
      xaxis: layerAxis('layer l'),
      yaxis: Object.assign({title: {text: yTitle}},
                           opts.log ? {type: 'log'} : {}, opts.yaxis || {}),
      shapes: floors.shapes.concat(opts.shapes || []),
      annotations: floors.annotations.concat(
          anyFinite(traces.map(t => t.y)) ? [] : [noValues])};
    plot(title, traces, layout);
  }
  // One arm's bars over categories: get(report, category)'s seed means,
  // error bars of ± one standard deviation when the arm has several seeds.
  function armBars(arm, categories, get) {
    const s = categories.map(c => armStat(arm, p => get(p, c)));
    const t = {x: categories, y: s.map(v => v.mean), name: armName(arm),
               type: 'bar', marker: {color: arm.color}};
    if (arm.reports.length > 1)
      t.error_y = {type: 'data', visible: true,
                   array: s.map(v => num(v.std) ? v.std : 0)};
    return t;
  }
  // Heat maps of one quantity share a colour range over every arm (so the
  // arms compare), extra.zmin/zmax where the quantity has a natural one;
  // maps: [{arm, z (seed means), x, y, and optionally traces (several z,
  // as the weight groups), xAxis, yAxis, layout}].
  function heats(title, maps, xTitle, yTitle, colorTitle, extra) {
    let lo = Infinity, hi = -Infinity;
    for (const m of maps)
      for (const row of m.z)
        for (const v of row)
          if (num(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (extra && extra.zmin !== undefined) { lo = extra.zmin; hi = extra.zmax; }
    if (!(lo <= hi)) { lo = 0; hi = 1; }
    if (lo === hi) { lo -= 0.5; hi += 0.5; }
    for (const m of maps) {
      const traces = (m.traces || [{z: m.z}]).map(t => Object.assign({
        x: m.x, y: m.y, type: 'heatmap', hoverongaps: false,
        colorscale: (extra && extra.colorscale) || 'Viridis',
        zmin: lo, zmax: hi, zauto: false,
        colorbar: {title: {text: colorTitle, side: 'right'}}}, t));
      plot(title + ': ' + armName(m.arm) +
               (m.arm.reports.length > 1 ? ', seed mean' : ''),
           traces, Object.assign({
             xaxis: Object.assign(m.xAxis || layerAxis(xTitle),
                                  {range: [-0.5, m.x.length - 0.5]}),
             yaxis: m.yAxis || layerAxis(yTitle), height: 380,
             annotations: anyFinite(traces.map(t => t.z)) ? [] : [noValues]},
             m.layout || {}));
    }
  }

  // Summary table: one row per arm.
  const table = document.getElementById('summary');
  const hasPeriod = REPORTS.some(r => r.report.periodicity);
  const hasTuned = REPORTS.some(r => r.report.tuned_lens);
  const periodSeries = ['rel_attn', 'rel_mlp', 'rel_delta', 'cos_attn',
                        'cos_mlp'];
  const meanOf = a => Array.isArray(a) ? stat(a).mean : null;
  const head = ['model', 'seeds', 'layers', 'LN-Scaling', 'accuracy',
                'floors: copy / constant / chance', 'held-out loss',
                'depth score', 'mean top-5 overlap']
      .concat(hasTuned ? ['tuned lens: mean top-5 overlap'] : [])
      .concat(hasPeriod ? ['power at period b: ' + periodSeries.join(' / ')]
                        : [])
      .concat(['weights: block period', 'weights: block mirror']);
  let html = '<tr>' + head.map(h => '<th>' + h + '</th>').join('') + '</tr>';
  for (const arm of arms) {
    const n = arm.reports.length;
    const S = (f, d) => fmtStat(armStat(arm, f), d, n);
    const atFloor = arm.reports.filter(p => p.clean.at_floor).length;
    const cells = [
      arm.label, n, [...new Set(arm.reports.map(p => p.layers))].join(', '),
      arm.reports[0].ln_scaling ? 'yes' : 'no',
      S(p => p.clean.accuracy, 3) +
          (atFloor ? (n > 1 ? ' (' + atFloor + ' of ' + n + ' at the floor)'
                            : ' (at its floor)') : ''),
      floorKinds.map(k => S(p => p.task.floors[k], 3)).join(' / '),
      S(p => p.clean.loss, 4), S(p => p.depth_score.score, 2),
      S(p => meanOf(p.logit_lens.overlap_top5), 3)]
      .concat(hasTuned ? [S(p => meanOf(p.tuned_lens.overlap_top5), 3)] : [])
      .concat(hasPeriod ? [!arm.reports.some(p => p.periodicity) ? 'n/a' :
                           'b = ' + [...new Set(arm.reports.map(
                               p => pick(p, q => q.periodicity.period)))]
                               .map(v => num(v) ? v : 'n/a').join(', ') + ': ' +
                           periodSeries.map(k => S(
                               p => p.periodicity.series[k], 2)).join(' / ')]
                        : [])
      .concat([S(p => p.weight_similarity.mean.block_period, 3),
               S(p => p.weight_similarity.mean.block_mirror, 3)]);
    html += '<tr>' + cells.map(c => '<td>' + String(c).replace(/</g, '&lt;') +
                                     '</td>').join('') + '</tr>';
  }
  table.innerHTML = html;
  // Notes below the table (each goes right after it: last first).
  if (hasPeriod) {
    const d = REPORTS.map(r => pick(r.report, p => p.periodicity.definition))
                  .find(v => v);
    if (d) {
      const p = document.createElement('p');
      p.className = 'note';
      p.textContent = 'Power at period b: ' + d;
      table.after(p);
    }
  }

  if (seeded) {
    const p = document.createElement('p');
    p.className = 'note';
    p.textContent = 'Reports given the same label are seeds of one arm: ' +
        'scalars read mean ± sample standard deviation (number of seeds ' +
        'with a value); curves are seed means with error bars of ± one ' +
        'standard deviation; heat maps show the seed mean.';
    table.after(p);
  }
  // Training curves (the mini-study's reports carry them).
  const trainedArms = arms.filter(a => a.reports.some(p => p.training));
  if (trainedArms.length) {
    section('Training', 'Training loss per step (seed mean, band ± one ' +
            'standard deviation across seeds) and the primitive accuracy ' +
            'after training, with the task floors.');
    const traces = [];
    for (const arm of trainedArms) {
      const runs = arm.reports.filter(p => p.training);
      const steps = runs[0].training.steps;
      const c = curveStat({reports: runs}, p => p.training.loss);
      const band = c.mean.map((m, i) => num(c.std[i]) ? c.std[i] : 0);
      if (runs.length > 1) {
        traces.push({x: steps, y: c.mean.map((m, i) => m + band[i]),
                     mode: 'lines', line: {width: 0}, showlegend: false,
                     hoverinfo: 'skip', legendgroup: arm.label});
        traces.push({x: steps, y: c.mean.map((m, i) => m - band[i]),
                     mode: 'lines', line: {width: 0}, fill: 'tonexty',
                     fillcolor: arm.color + '33', showlegend: false,
                     hoverinfo: 'skip', legendgroup: arm.label});
      }
      traces.push({x: steps, y: c.mean, name: armName(arm), mode: 'lines',
                   legendgroup: arm.label, line: {color: arm.color}});
    }
    plot('training loss', traces, {xaxis: {title: {text: 'step'}},
                                   yaxis: {title: {text: 'loss (nats)'}}});
    const accNames = [...new Set([].concat(...trainedArms.map(a => [].concat(
        ...a.reports.map(p => Object.keys(pick(p, q => q.training.accuracy) ||
                                          {}))))))];
    if (accNames.length) {
      const bars = trainedArms.map(arm => armBars(
          arm, accNames, (p, n) => p.training.accuracy[n]));
      // training.floors ({name: {copy, constant, chance}}) gives each
      // primitive its own floors, drawn on its bars; else the lines are
      // the floors of the task analyze measured.
      const own = trainedArms[0].reports[0].training.floors;
      let layout = {barmode: 'group', xaxis: {title: {text: 'primitive'}},
                    yaxis: {title: {text: 'accuracy'}, range: [0, 1]}};
      if (own) {
        floorKinds.forEach((k, i) => bars.push({
          x: accNames, y: accNames.map(n => own[n] ? own[n][k] : null),
          name: k + ' floor', mode: 'markers', type: 'scatter',
          marker: {symbol: 'line-ew-open', size: 40, color: '#666',
                   line: {width: 2}}, opacity: [1, 0.7, 0.4][i]}));
      } else {
        const f = floorLines();
        layout.shapes = f.shapes;
        layout.annotations = f.annotations;
      }
      plot('primitive accuracy after training', bars, layout);
    }
  }

  section('Logit lens (SPEC.md 5.1)', 'Each layer decoded with the final ' +
          'norm and head: top-5 agreement with the final layer, and ' +
          'KL(p_l || p_final), mean over held-out tokens. Layer l reads ' +
          'its input h_l (0: the embeddings; Csordás et al.) or its output ' +
          'h_{l+1}: ' + arms.map(a => a.label + ' ' +
          ((a.reports[0].logit_lens.at || 'output') === 'input' ? 'h_l' :
           'h_{l+1}')).join(', ') + '.' + (hasTuned ? ' Dotted: the tuned ' +
          'lens (Belrose et al. 2023, an affine translator per layer ' +
          'trained on held-out text) at the same index.' : ''));
  const lensSeries = key => [{f: p => p.logit_lens[key], suffix: ''}].concat(
      hasTuned ? [{f: p => p.tuned_lens[key], suffix: ' tuned lens',
                   dash: 'dot'}] : []);
  perLayer('top-5 overlap with the final layer', lensSeries('overlap_top5'),
           'top-5 overlap (fraction)', {yaxis: {range: [0, 1.05]}});
  perLayer('KL(p_l || p_final)', lensSeries('kl'), 'KL (nats)');

  section('Early exit (SPEC.md 5.2)', 'Primitive accuracy of the answer ' +
          'decoded at layer l, with the task floors; relative: divided by ' +
          'the full model\'s, undefined where the full model is not above ' +
          'its floor by two binomial standard errors (summary table).' +
          arms.filter(a => a.reports.some(p => p.clean.at_floor)).map(
              a => ' ' + a.label + ': undefined: the model is at its floor.')
              .join(''));
  perLayer('early-exit accuracy', [{f: p => p.early_exit.accuracy}],
           'accuracy', {floors: true, yaxis: {range: [0, 1.05]}});
  perLayer('early-exit relative accuracy', [{f: p => p.early_exit.relative}],
           'accuracy ÷ full model\'s');

  section('Depth score (SPEC.md 5.3)', 'Skip layer l before the split; ' +
          'e_l: mean relative change of the later layers\' contributions; ' +
          'o_l: change of the output distribution; the depth score ' +
          'Σ l·e_l / Σ e_l per arm (seed mean ± one standard deviation).' +
          (REPORTS.some(r => r.report.depth_score.source) ? ' Splits: ' +
           arms.map(a => a.label + ' ' + [...new Set(a.reports.map(p => {
             const d = p.depth_score;
             return (d.source || 'windows') +
                    (d.keep_position_0 === true ? ', position 0 kept'
                     : d.keep_position_0 === false ? ', position 0 skipped'
                                                   : '');
           }))].join(' / ')).join('; ') + '.' : ''));
  plot('depth score', arms.map(arm => Object.assign(
      armBars(arm, [arm.label], p => p.depth_score.score),
      {showlegend: false, textposition: 'inside',
       text: [fmtStat(armStat(arm, p => p.depth_score.score), 2,
                      arm.reports.length)]})),
       {xaxis: {title: {text: 'arm'}},
        yaxis: {title: {text: 'depth score (Σ l·e_l / Σ e_l)'},
                rangemode: 'tozero'}});
  const levels = [...new Set([].concat(...REPORTS.map(r => (pick(
      r.report, p => p.depth_score.by_level) || []).map(e => e.level))))];
  if (levels.length) {
    plot('depth score per level', arms.map(arm => armBars(
        arm, levels,
        (p, l) => p.depth_score.by_level.find(e => e.level === l).score)),
        {barmode: 'group', xaxis: {title: {text: 'level'}, type: 'category'},
         yaxis: {title: {text: 'depth score (Σ l·e_l / Σ e_l)'},
                 rangemode: 'tozero'}});
  }
  perLayer('per-layer effect e_l', [{f: p => p.depth_score.e}],
           'e_l (mean relative change)');
  perLayer('output effect o_l', [{f: p => p.depth_score.output_effect}],
           'o_l (L2 change of softmax)');
  heats('r_{l,j}', arms.map(arm => {
    const L = arm.reports[0].layers;
    return {arm: arm, z: matrixMean(arm, p => p.depth_score.r),
            x: layers(L), y: layers(L)};
  }), 'later layer j', 'skipped layer l',
        'r_{l,j}: relative change<br>of layer j\'s output');

  section('Interventions (SPEC.md 5.4-5.5)', 'Primitive accuracy (with the ' +
          'task floors) and held-out loss, absolute and relative to the ' +
          'unmodified model. Heat maps of one quantity share one colour ' +
          'scale across the arms.');
  if (REPORTS.some(r => r.report.interventions.skip.length)) {
    perLayer('skip layer l: accuracy',
             [{f: p => p.interventions.skip.map(e => e.accuracy)}], 'accuracy',
             {floors: true, yaxis: {range: [0, 1.05]}});
    perLayer('skip layer l: relative accuracy',
             [{f: p => p.interventions.skip.map(e => e.relative_accuracy)}],
             'accuracy ÷ clean');
    perLayer('skip layer l: relative loss',
             [{f: p => p.interventions.skip.map(e => e.relative_loss)}],
             'loss ÷ clean loss');
  }
  function windows(kind, key, metric, title, colorTitle) {
    const maps = [];
    for (const arm of arms) {
      const all = arm.reports.map(p => p.interventions[kind]);
      if (!all[0].length) continue;
      const sizes = [...new Set(all[0].map(e => e.size))].sort((a, b) => a - b);
      const L = arm.reports[0].layers;
      const z = sizes.map(s => layers(L).map(q => stat(all.map(entries => {
        const e = entries.find(e => e.size === s && e[key] === q);
        return e ? e[metric] : null;
      })).mean));
      maps.push({arm: arm, z: z, x: layers(L), y: sizes,
                 yAxis: Object.assign(layerAxis('window size (layers)'),
                                      {tick0: 1}),
                 layout: {height: 150 + 45 * sizes.length}});
    }
    heats(title, maps,
          key === 'position' ? 'first layer of the window p'
                             : 'first layer of the window', '', colorTitle);
  }
  windows('swap', 'position', 'relative_loss', 'block swap, relative loss',
          'relative loss<br>(÷ clean)');
  windows('swap', 'position', 'relative_accuracy',
          'block swap, relative accuracy', 'relative accuracy<br>(÷ clean)');
  windows('reverse', 'start', 'relative_loss', 'window reverse, relative loss',
          'relative loss<br>(÷ clean)');

  section('Residual stream (SPEC.md 5.6)', 'Means over held-out tokens; ' +
          'norms and ratios on log axes. The ratios start at layer 1: ' +
          'layer 0 reads the embeddings, whose small norm makes its ' +
          'ratio tens of times the others; its value is in the legend. ' +
          'Dotted lines separate the blocks.');
  perLayer('norm of the residual stream ||h_l||', [{f: p => p.residual.norm_h}],
           '||h_l|| (log)', {log: true, shapes: blockLines(0)});
  const ratio = (title, f, yTitle) => perLayer(
      title, [{f: f}], yTitle, {log: true, from: 1, shapes: blockLines(1)});
  ratio('attention contribution ||a_l|| / ||h_l||', p => p.residual.rel_attn,
        'ratio (log)');
  ratio('MLP contribution ||m_l|| / ||h^_l||', p => p.residual.rel_mlp,
        'ratio (log)');
  ratio('layer contribution ||Delta_l|| / ||h_l||', p => p.residual.rel_delta,
        'ratio (log)');
  const cosine = (title, f) => perLayer(title, [{f: f}], 'cosine',
                                        {shapes: blockLines(0)});
  cosine('cos(a_l, h_l)', p => p.residual.cos_attn);
  cosine('cos(m_l, h^_l)', p => p.residual.cos_mlp);
  cosine('cos(Delta_l, h_l)', p => p.residual.cos_delta);
  cosine('cos(h_{l+1}, h_l)', p => p.residual.cos_next);

  section('Weight similarity (SPEC.md 5.7)', 'Cosine similarity of the ' +
          'flattened weights of every pair of layers (seed mean); the ' +
          'buttons pick the parameter group.');
  heats('weight similarity', arms.map(arm => {
    const names = Object.keys(arm.reports[0].weight_similarity.groups);
    const L = arm.reports[0].layers;
    return {arm: arm, x: layers(L), y: layers(L), z: [],
            traces: names.map((n, k) => ({
              z: matrixMean(arm, p => p.weight_similarity.groups[n].matrix),
              reversescale: true, visible: k === 0, name: n})),
            yAxis: Object.assign(layerAxis('layer'), {autorange: 'reversed'}),
            layout: {height: 460, updatemenus: [{
              buttons: names.map((n, k) => ({
                label: n.replace('.weight', ''), method: 'restyle',
                args: [{visible: names.map((_, j) => j === k)}]})),
              direction: 'down', x: 0, y: 1.18, xanchor: 'left',
              showactive: true}]}};
  }), 'layer', 'layer', 'cosine similarity', {zmin: -1, zmax: 1,
                                              colorscale: 'RdBu'});

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
  // Reports of one label are seeds of one arm, averaged layer by layer:
  // they must have the same depth.
  for (size_t i = 0; i < reports.size(); ++i)
    for (size_t j = 0; j < i; ++j) {
      if (reports[i].label != reports[j].label)
        continue;
      const JsonValue *a = reports[j].report.find("layers");
      const JsonValue *b = reports[i].report.find("layers");
      double la = a ? a->asDouble() : -1, lb = b ? b->asDouble() : -1;
      if (la != lb)
        return Status::error(
            "'" + reports[i].label + "' labels reports of " +
            std::to_string(static_cast<long>(la)) + " and " +
            std::to_string(static_cast<long>(lb)) +
            " layers: reports of one label are seeds of one arm and need "
            "the same depth");
      break;
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
