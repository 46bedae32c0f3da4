#!/usr/bin/env python3
"""Makes the seeds of a two-arm report test from one real analysis report:
    make_seed_reports.py r.json OUTDIR
writes OUTDIR/{a1,a2,b1,b2}.json. Arm a: the report and a copy with every
measured float scaled layer by layer (a second "seed"); arm b: two more
scalings, plus the fields the newer analyses add (tuned_lens,
periodicity, depth_score.by_level) and a training section, as hand-made
values in the contract of docs/analysis.md. The task and its floors stay
the report's own, so the arms share them."""
import copy
import json
import math
import os
import sys

KEEP = {"task", "data", "trained_context", "timings", "format", "version"}


def scaled(value, factor, index=[0]):
    """`value` with every float multiplied by a factor that varies with the
    element's position, so seeds differ layer by layer."""
    if isinstance(value, float):
        index[0] += 1
        return value * (1 + factor * math.sin(index[0]))
    if isinstance(value, list):
        return [scaled(v, factor) for v in value]
    if isinstance(value, dict):
        return {k: v if k in KEEP else scaled(v, factor)
                for k, v in value.items()}
    return value


def main():
    report = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    layers = report["layers"]
    arms = {"a1": report, "a2": scaled(report, 0.1),
            "b1": scaled(report, 0.3), "b2": scaled(report, 0.4)}
    for seed, name in enumerate(["b1", "b2"]):
        r = arms[name]
        r["tuned_lens"] = {
            "overlap_top5": [0.5 + 0.1 * l / layers + 0.02 * seed
                             for l in range(layers)],
            "kl": [1.0 / (l + 1) + 0.05 * seed for l in range(layers)],
            "train_tokens": 4096, "eval_tokens": 1024, "steps": 50,
            "lr": 1e-3, "train_kl_initial": [2.0] * layers,
            "train_kl_final": [0.5] * layers}
        r["periodicity"] = {
            "period": report["block_size"],
            "series": {"rel_attn": 0.41 + 0.02 * seed, "rel_mlp": 0.3,
                       "rel_delta": 0.5, "cos_attn": None, "cos_mlp": 0.2},
            "definition": "fraction of the spectral power of the per-layer "
                          "series at period b"}
        ds = r["depth_score"]
        ds["source"], ds["keep_position_0"] = "prompts", True
        ds["by_level"] = [
            {"level": level, "prompts": 8, "splits": 32,
             "score": ds["score"] * (1 + 0.1 * k) + 0.05 * seed,
             "e": ds["e"], "r": ds["r"], "output_effect": ds["output_effect"]}
            for k, level in enumerate(["1", "2", "3"])]
    for seed, name in enumerate(["a1", "a2", "b1", "b2"]):
        arms[name]["training"] = {
            "steps": [0, 10, 20, 30],
            "loss": [5.0 - s + 0.1 * seed for s in range(4)],
            "accuracy": {"var-assign d0": 0.3 + 0.05 * seed,
                         "induction copy": 0.2 + 0.02 * seed},
            "floors": {"var-assign d0": {"copy": 1 / 3, "constant": 0.104,
                                         "chance": 0.1},
                       "induction copy": {"copy": 0.2, "constant": 0.05,
                                          "chance": 1 / 26}}}
    for name, r in arms.items():
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()
