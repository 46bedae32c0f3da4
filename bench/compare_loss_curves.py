#!/usr/bin/env python3
"""Compares two growc-run train --metrics files step by step (scripts/gpu.sh:
the training loop on the GPU against the same run on the CPU, same data,
seed and schedule): the worst relative difference of the training losses
and of the validation losses. Prints one JSON line; exits 1 when a run is
missing steps or the worst difference is above --tolerance.

  python3 bench/compare_loss_curves.py REFERENCE.jsonl RUN.jsonl
      [--tolerance 2e-3] [--label NAME]
"""
import argparse
import json
import sys


def read(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    return {r["step"]: r for r in rows if "step" in r}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reference")
    ap.add_argument("run")
    ap.add_argument("--tolerance", type=float, default=2e-3)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    want, got = read(a.reference), read(a.run)
    row = {"label": a.label, "steps": len(want)}
    missing = sorted(set(want) - set(got))
    if not want or missing:
        row["error"] = "steps missing from %s: %s" % (a.run, missing[:5] or "all")
        print(json.dumps(row))
        sys.exit(1)
    worst = {"loss": 0.0, "val_loss": 0.0}
    for step, w in want.items():
        for key in worst:
            if key in w:
                if key not in got[step]:
                    row["error"] = "step %d of %s has no %s" % (step, a.run, key)
                    print(json.dumps(row))
                    sys.exit(1)
                diff = abs(got[step][key] - w[key]) / max(abs(w[key]), 1e-12)
                worst[key] = max(worst[key], diff)
    last = max(want)
    row.update({"first_loss": want[min(want)]["loss"], "last_loss": want[last]["loss"],
                "run_last_loss": got[last]["loss"], "max_rel_diff_loss": worst["loss"],
                "max_rel_diff_val_loss": worst["val_loss"], "tolerance": a.tolerance})
    row["ok"] = max(worst.values()) <= a.tolerance
    print(json.dumps(row))
    sys.exit(0 if row["ok"] else 1)


if __name__ == "__main__":
    main()
