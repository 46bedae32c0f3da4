#!/usr/bin/env python3
"""Checks the properties issue 17 asks of an HTML analysis report, from the
plots' properties check_report.py --props dumped (what plotly.js drew, read
back from its full layout in headless Chromium):

    report_properties.py props.json --seeded ARM

prints one line per property ("ok: ..." or "FAIL: ...") and exits 1 if any
failed: heat maps of one quantity share one colour range over the arms,
with a titled colour bar; every layer axis has integer ticks (dtick 1);
every axis is titled; the residual norms and ratios are on log axes, the
ratios starting at layer 1 with layer 0's value in the legend; every
per-layer curve of arm ARM (several seeds) has error bars, as do the depth
score bars; every absolute accuracy plot draws the floors; the depth score
is a bar chart (per level too when the reports have levels).
"""
import argparse
import json
import re
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("props")
    ap.add_argument("--seeded", required=True)
    a = ap.parse_args()
    plots = json.load(open(a.props))
    failed = []

    def check(name, bad):
        print(("FAIL: %s: %s" % (name, bad)) if bad else "ok: " + name)
        if bad:
            failed.append(name)

    # What each plot is, from its traces and axes (not from what the page
    # says): heat maps by the quantity their title names, per-layer curves
    # (scatter traces over a layer axis), the depth-score charts.
    blank = {"type": None, "dtick": None, "title": ""}
    for p in plots:
        p["x"], p["y"] = p.get("x") or blank, p.get("y") or blank
        types = {t["type"] for t in p.get("traces", [])}
        if "heatmap" in types:
            p["kind"], p["quantity"] = "heatmap", p["title"].split(": ")[0]
        elif types == {"scatter"} and re.search(r"\blayer\b", p["x"]["title"]):
            p["kind"] = "curve"
        elif p["title"].startswith("depth score"):
            p["kind"] = "depth-score"
        else:
            p["kind"] = None
    by_quantity = {}
    for p in plots:
        if p["kind"] == "heatmap":
            t = p["traces"][0]
            by_quantity.setdefault(p["quantity"], []).append(
                (t.get("zmin"), t.get("zmax"), t["colorbar"], t["finite_z"]))
    for q, ranges in sorted(by_quantity.items()):
        if not any(r[3] for r in ranges):  # all null (accuracy at the floor)
            continue
        check("heat maps '%s': %d, one colour range, titled colour bar"
              % (q, len(ranges)),
              "" if len(ranges) > 1 and len(set(ranges)) == 1 and ranges[0][2]
              and ranges[0][0] is not None
              else ranges)
    axes = [(p["title"], k, p[k]) for p in plots for k in ("x", "y")]
    check("every layer axis has dtick 1",
          [(t, k) for t, k, ax in axes
           if re.search(r"\blayers?\b", ax["title"]) and
           not (ax["type"] == "linear" and ax.get("dtick") == 1)])
    check("every axis titled",
          [(t, k) for t, k, ax in axes if not ax["title"]])
    residual = [p for p in plots if "||" in p["title"] and
                p["title"].startswith(("norm of", "attention", "MLP",
                                       "layer"))]
    check("residual norms and ratios on log axes (%d)" % len(residual),
          [p["title"] for p in residual if p["y"]["type"] != "log"])
    ratios = [p for p in residual if "/" in p["title"]]
    check("residual ratios start at layer 1, layer 0 in the legend (%d)"
          % len(ratios),
          [p["title"] for p in ratios if len(ratios) != 3 or any(
              t["x0"] != 1 or "(layer 0: " not in t["name"]
              for t in p["traces"])])
    curves = [p for p in plots if p["kind"] == "curve"]
    check("every curve of %s has error bars (%d plots)"
          % (a.seeded, len(curves)),
          [p["title"] for p in curves if not any(
              t["error_y"] for t in p["traces"]
              if t["name"].startswith(a.seeded + " "))])
    accuracy = [p for p in plots if p["y"]["title"] == "accuracy"]
    check("floors on every accuracy plot (%d)" % len(accuracy),
          [p["title"] for p in accuracy if not (
              (p["shapes"] == 3 and p["svg_shapes"] == 3 and
               sum("floor" in t for t in p["annotations"]) == 3) or
              {"copy floor", "constant floor", "chance floor"} <=
              {t["name"] for t in p["traces"]})])
    scores = [p for p in plots if p["kind"] == "depth-score"]
    check("depth score bar charts with error bars: %s"
          % ", ".join(p["title"] for p in scores),
          [p["title"] for p in scores or [{"title": "none"}] if not any(
              t["type"] == "bar" and t["error_y"]
              for t in p.get("traces", []))])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
