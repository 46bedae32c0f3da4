// Runs the scripts of an HTML analysis report (growc-run report) under
// node with a minimal DOM, the page built with Inputs/plotly_stub.js in
// place of plotly.js, so that the report's own logic (arms, seed means,
// shared colour ranges, axes, floors) is checked without a browser:
//
//   node run_report.js report.html props.json
//
// writes what check_report.py --props writes (per plot: its title, axes,
// traces and shapes, here from the stub's full layout; svg_shapes: its
// layout's shapes, as nothing is drawn) and prints the summary table's rows,
// the notes and the sections' headings and texts.
'use strict';
const fs = require('fs');
const vm = require('vm');

class Element {
  constructor(tag) {
    this.tagName = tag;
    this.children = [];
    this.dataset = {};
    this.className = '';
    this.textContent = '';
    this.innerHTML = '';
    this.parent = null;
  }
  appendChild(child) {
    child.parent = this;
    this.children.push(child);
    return child;
  }
  after(node) {
    const siblings = this.parent.children;
    siblings.splice(siblings.indexOf(this) + 1, 0, node);
    node.parent = this.parent;
  }
  // Only the one selector the page has used ('div.plot').
  querySelectorAll(selector) {
    if (selector !== 'div.plot')
      throw new Error('run_report.js: unsupported selector ' + selector);
    return [...this.walk()].filter(e => e.className === 'plot');
  }
  *walk() {
    yield this;
    for (const c of this.children) yield* c.walk();
  }
}

const html = fs.readFileSync(process.argv[2], 'utf8');
const body = new Element('body');
const summary = body.appendChild(new Element('table'));
const plots = body.appendChild(new Element('div'));
const document = {
  body: body,
  getElementById: id => ({summary: summary, plots: plots})[id] || null,
  createElement: tag => new Element(tag),
};
const context = vm.createContext({document: document, console: console});
for (const m of html.matchAll(/<script>([\s\S]*?)<\/script>/g))
  vm.runInContext(m[1], context, {filename: process.argv[2]});

function finish() {
  if (body.dataset.plotError) {
    console.error('FAIL: a plot failed: ' + body.dataset.plotError);
    process.exit(1);
  }
  if (body.dataset.plotsRendered === undefined) {
    console.error('FAIL: the page never finished drawing its plots');
    process.exit(1);
  }
  const divs = [...body.walk()].filter(e => e.className === 'plot');
  // The same properties the page records (data-props), read here from
  // the stub's full layout so that a page which records none is checked
  // alike.
  const axis = a => a ? {type: a.type, dtick: a.dtick,
                         title: a.title ? a.title.text : ''} : null;
  const out = divs.map(d => {
    const fl = d._fullLayout || {};
    return {
      title: d.dataset.title, x: axis(fl.xaxis), y: axis(fl.yaxis),
      shapes: (fl.shapes || []).length,
      svg_shapes: (fl.shapes || []).length,
      annotations: (fl.annotations || []).map(a => a.text),
      traces: (d._fullData || []).map(t => ({
        type: t.type, name: t.name, zmin: t.zmin, zmax: t.zmax,
        colorbar: t.colorbar && t.colorbar.title ? t.colorbar.title.text : '',
        error_y: !!(t.error_y && t.error_y.visible && t.error_y.array),
        x0: t.x && t.x.length ? t.x[0] : null,
        finite_z: Array.isArray(t.z) && t.z.some(
            row => Array.isArray(row) && row.some(Number.isFinite))}))};
  });
  fs.writeFileSync(process.argv[3], JSON.stringify(out, null, 1));
  console.log('run-report: ' + body.dataset.plotsRendered +
              ' plots rendered, ' + divs.length + ' on the page');
  for (const row of summary.innerHTML.split('</tr>').filter(r => r))
    console.log('row: ' + row.replace(/<\/t[dh]>/g, ' | ')
                             .replace(/<[^>]*>/g, '').trim());
  for (const e of body.walk())
    if (e.className === 'note')
      console.log('note: ' + e.textContent);
  // Each section's heading and text.
  for (const e of plots.children)
    if (e.tagName === 'h2')
      console.log('text: ' + e.textContent + ':');
    else if (e.tagName === 'p')
      console.log('text: ' + e.textContent);
}
setTimeout(finish, 0);
