#!/usr/bin/env python3
"""Opens an HTML analysis report in headless Chromium and checks that every
plot rendered: the page marks <body data-plots-rendered="N"> once plotly.js
has drawn all N plots (and data-plot-error if one failed); each of the N
div.plot must hold plotly's SVG and be marked data-rendered; each --expect
text must be on the drawn page (what the page's scripts wrote, e.g. the
summary table's cells). --props FILE writes, per plot, its title, the
properties the page read back from plotly.js's full layout once drawn
(data-props: axis types and ticks, colour ranges, error bars, shapes) and
the number of shapes drawn in its SVG, for report_properties.py.

    check_report.py --chromium chromium report.html [--min-plots K]
                    [--expect TEXT]... [--props FILE]
"""
import argparse
import html
import html.parser
import json
import subprocess
import sys


class Plots(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.body = {}
        self.plots = []      # [attrs, svg count]
        self.stack = []      # open tags, plot index or None
        self.classes = []    # open tags' classes
        self.shapes = {}     # plot index -> paths drawn in a shapelayer

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "body":
            self.body = attrs
        index = None
        if tag == "div" and "plot" in (attrs.get("class") or "").split():
            self.plots.append([attrs, 0])
            index = len(self.plots) - 1
        if tag == "svg" and "main-svg" in (attrs.get("class") or ""):
            for open_index in reversed(self.stack):
                if open_index is not None:
                    self.plots[open_index][1] += 1
                    break
        if tag == "path" and any("shapelayer" in c for c in self.classes):
            for open_index in reversed(self.stack):
                if open_index is not None:
                    self.shapes[open_index] = self.shapes.get(open_index, 0) + 1
                    break
        if tag not in ("br", "img", "input", "meta", "link", "path", "rect",
                       "line", "circle", "stop", "use", "image"):
            self.stack.append(index)
            self.classes.append(attrs.get("class") or "")

    def handle_endtag(self, tag):
        if self.stack and tag not in ("path", "rect", "line", "circle", "stop",
                                      "use", "image"):
            self.stack.pop()
            self.classes.pop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chromium", required=True)
    ap.add_argument("--min-plots", type=int, default=1)
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--props")
    ap.add_argument("report")
    a = ap.parse_args()
    dom = subprocess.run(
        [a.chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-dev-shm-usage", "--virtual-time-budget=30000",
         "--dump-dom", "file://" + __import__("os").path.abspath(a.report)],
        capture_output=True, text=True, timeout=300)
    if dom.returncode != 0 or "<body" not in dom.stdout:
        sys.exit("FAIL: chromium could not load the report:\n" + dom.stderr[-2000:])
    parser = Plots()
    parser.feed(dom.stdout)
    if "data-plot-error" in parser.body:
        sys.exit("FAIL: a plot failed: " + parser.body["data-plot-error"])
    rendered = parser.body.get("data-plots-rendered")
    if rendered is None:
        sys.exit("FAIL: the page never finished drawing its plots")
    bad = [p[0].get("data-title") for p in parser.plots
           if p[0].get("data-rendered") != "1" or p[1] == 0]
    if bad:
        sys.exit("FAIL: plots without a drawing: %s" % bad)
    if int(rendered) != len(parser.plots) or len(parser.plots) < a.min_plots:
        sys.exit("FAIL: %s plots rendered, %d on the page, at least %d expected"
                 % (rendered, len(parser.plots), a.min_plots))
    missing = [t for t in a.expect if html.unescape(t) not in html.unescape(dom.stdout)]
    if missing:
        sys.exit("FAIL: not on the page: %s" % missing)
    if a.props:
        with open(a.props, "w") as f:
            json.dump([dict(json.loads(p[0].get("data-props") or "{}"),
                            title=p[0].get("data-title"),
                            svg_shapes=parser.shapes.get(i, 0))
                       for i, p in enumerate(parser.plots)], f, indent=1)
    print("check-report: %d plots rendered" % len(parser.plots))


if __name__ == "__main__":
    main()
