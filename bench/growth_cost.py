#!/usr/bin/env python3
"""Predicted GPU time of a whole growth run from its stage plans, without a GPU.

  python3 bench/growth_cost.py ART --steps N [--alpha 1] [--grow-fraction 0.8]
      [--gpu h100|h200] [--baseline FULL.plan.json]

ART is a growth artifact (growc start.mlir --grow=lidas --stages=K ... -o x.ptx):
its plans x.ptx.plan.json (stage 1) and x.ptx.stage<k>.plan.json. Every stage's
step time is `growc-run cost`'s prediction (docs/gpu.md, "Cost model": a
roofline with efficiency factors and a fixed cost per graph node, no
measurement); the steps per stage follow SPEC.md section 3's Prop-alpha
schedule, T_i = g*N * i^alpha / sum_j j^alpha for the K stages, the rest of
the N steps at full depth, rounded as growc-run train rounds them (cumulative
sums). The non-grown run is N steps of the last stage (or of --baseline).
Prints a line per stage and the totals; every time printed is predicted.
"""
import argparse
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(os.environ.get("GROWC_BUILD_DIR", os.path.join(ROOT, "build")), "bin")


def cost(plan, gpu):
    result = subprocess.run([os.path.join(BIN, "growc-run"), "cost", plan, "--gpu", gpu,
                             "--json"], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("growth_cost: growc-run cost %s failed:\n%s" % (plan, result.stderr))
    return json.loads(result.stdout)


def stage_steps(steps, stages, alpha, grow_fraction):
    """Steps of each stage: rounded cumulative sums of g*N*i^a/sum j^a, the
    last stage running to N (docs/decisions.md, schedule rounding)."""
    weights = [i ** alpha for i in range(1, stages + 1)]
    total = sum(weights)
    ends, acc = [], 0.0
    for w in weights[:-1]:
        acc += grow_fraction * steps * w / total
        ends.append(int(math.floor(acc + 0.5)))  # llround, as GrowthSchedule.cpp
    ends.append(steps)
    begins = [0] + ends[:-1]
    return [e - b for b, e in zip(begins, ends)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("art")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--grow-fraction", type=float, default=0.8)
    ap.add_argument("--gpu", default="h100")
    ap.add_argument("--baseline", help="plan of the non-grown model (default: the last stage)")
    a = ap.parse_args()
    plans = [a.art + ".plan.json"]
    k = 2
    while os.path.exists("%s.stage%d.plan.json" % (a.art, k)):
        plans.append("%s.stage%d.plan.json" % (a.art, k))
        k += 1
    if not os.path.exists(plans[0]):
        sys.exit("growth_cost: %s has no plan %s" % (a.art, plans[0]))
    if len(plans) < 2:
        sys.exit("growth_cost: %s is not a growth artifact (no %s.stage2.plan.json)"
                 % (a.art, a.art))
    costs = [cost(p, a.gpu) for p in plans]
    base = cost(a.baseline, a.gpu) if a.baseline else costs[-1]
    steps = stage_steps(a.steps, len(plans), a.alpha, a.grow_fraction)
    tokens = costs[-1]["tokens"]
    grown_s = 0.0
    print("stage  steps      step ms (predicted)  nodes  MFU")
    for i, (c, n) in enumerate(zip(costs, steps)):
        p = c["predicted"]["predicted"]
        grown_s += n * p["step_ms"] / 1000
        print("%5d  %9d  %19.2f  %5d  %3.0f%%" % (i + 1, n, p["step_ms"],
                                                 c["counted"]["nodes"], 100 * p["mfu"]))
    base_ms = base["predicted"]["predicted"]["step_ms"]
    base_s = a.steps * base_ms / 1000
    print("%d steps of %d tokens (%.2fB tokens) on one %s, predicted: grown %.1f h, "
          "non-grown %.1f h (%.2f ms/step): %.3fx less time"
          % (a.steps, tokens, a.steps * tokens / 1e9, a.gpu.upper(), grown_s / 3600,
             base_s / 3600, base_ms, base_s / grown_s))


if __name__ == "__main__":
    main()
