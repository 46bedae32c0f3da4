#!/usr/bin/env python3
"""Baseline vs MIDAS vs LIDAS at equal steps: a small growth experiment.

Trains the tiny example (examples/tiny/config.json: hidden 64, 4 heads / 2 KV
heads, vocabulary 259) to a final depth of --layers layers three ways, each
for --steps steps on the same data with the same LR schedule:

  baseline  the full-depth model from the start;
  midas     growc --grow=midas --stages=K from --start-layers layers;
  lidas     growc --grow=lidas --stages=K, the same stages (Prop-alpha
            schedule, alpha 1, grow fraction 0.8; SPEC.md section 3).

The data is a reasoning primitive (default variable assignment, depths 0-2,
supervised on the answer tokens: primitives:NAME:MIN-MAX:answers). Each run
is then evaluated with growc-run eval (--shots, default 0: exact match of
the answer, per depth) on held-out prompts inside the context it was
trained at (0-shot prompts of depths 0-2 need at most 34 tokens of the
64; growc-run eval refuses longer ones, issue 17), and its loss curve, accuracies, training
time and compute (the growth runs' own report) are written to
OUT/results.json, a markdown table OUT/results.md and, when matplotlib is
available, OUT/loss-curves.png.

  /usr/bin/python3 bench/growth_experiment.py [--steps 2000] [--seeds 0 1]
      [--layers 8] [--start-layers 2] [--block-size 2] [--batch 16] [--seq 64]
      [--lr 3e-3] [--data var-assign-math:0-2] [--shots 0]
      [--out out/growth-experiment]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(os.environ.get("GROWC_BUILD_DIR", os.path.join(ROOT, "build")), "bin")
METHODS = ("baseline", "midas", "lidas")


def run(cmd, log=None):
    began = time.time()
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("growth_experiment: %s failed:\n%s" % (" ".join(cmd), result.stderr[-4000:]))
    if log:
        with open(log, "w") as f:
            f.write(result.stderr)
    return result, time.time() - began


def tool(name):
    return os.path.join(BIN, name)


def build_artifacts(a, out):
    """Models, train artifacts (one per method) and one forward artifact for
    the final depth (the three final models share names and shapes)."""
    config = os.path.join(ROOT, "examples", "tiny", "config.json")
    models = {}
    for name, layers in (("final", a.layers), ("start", a.start_layers)):
        path = os.path.join(out, name + ".mlir")
        run([tool("growc"), "--import-hf-config", config, "--num-layers", str(layers),
             "--block-size", str(a.block_size), "--model-name", "tiny", "-o", path])
        models[name] = path
    stages = (a.layers - a.start_layers) // a.block_size + 1
    shape = ["--batch", str(a.batch), "--seq", str(a.seq)]
    artifacts = {"baseline": os.path.join(out, "baseline.so")}
    run([tool("growc"), models["final"], "--graph=train"] + shape + ["-o", artifacts["baseline"]])
    for method in ("midas", "lidas"):
        artifacts[method] = os.path.join(out, method + ".so")
        run([tool("growc"), models["start"], "--graph=train", "--grow=" + method,
             "--stages=%d" % stages, "--quiet"] + shape + ["-o", artifacts[method]])
    forward = os.path.join(out, "forward.so")
    run([tool("growc"), models["final"], "--graph=forward", "--batch", "32", "--seq",
         str(a.eval_seq), "-o", forward])
    return models, artifacts, forward, stages


def train_and_eval(a, out, models, artifacts, forward, stages, method, seed):
    tag = "%s-seed%d" % (method, seed)
    init = os.path.join(out, tag + "-init.safetensors")
    run([tool("growc"), models["start" if method != "baseline" else "final"],
         "--init-weights-out", init, "--seed", str(seed)])
    metrics = os.path.join(out, tag + ".jsonl")
    checkpoint = os.path.join(out, tag + ".safetensors")
    cmd = [tool("growc-run"), "train", artifacts[method], "--weights", init,
           "--data", "primitives:%s:answers" % a.data, "--seed", str(seed),
           "--steps", str(a.steps), "--lr", str(a.lr), "--val-every", str(a.val_every),
           "--metrics", metrics, "--out", checkpoint, "--threads", str(a.threads)]
    if method != "baseline":
        cmd += ["--grow", method, "--stages", str(stages)]
    result, seconds = run(cmd, log=os.path.join(out, tag + ".log"))
    lines = [json.loads(l) for l in open(metrics)]
    steps = [l for l in lines if "step" in l]
    compute = next((l for l in lines if l.get("event") == "growth_compute"), None)
    name, depths = a.data.split(":")[0], a.data.split(":")[1] if ":" in a.data else "0"
    evaluated, _ = run([tool("growc-run"), "eval", forward, "--weights", checkpoint,
                        "--primitive", name, "--depth", depths, "--count", str(a.eval_count),
                        "--shots", str(a.shots), "--seed", "1000"])
    accuracy = {str(r["depth"]): r["accuracy"]
                for r in map(json.loads, evaluated.stdout.splitlines())}
    return {
        "method": method, "seed": seed, "seconds": seconds,
        "loss": [s["loss"] for s in steps],
        "val_loss": [(s["step"], s["val_loss"]) for s in steps if "val_loss" in s],
        "layers": [s.get("layers", a.layers) for s in steps],
        "accuracy": accuracy,
        "flop_saving": compute["flop_saving"] if compute else 1.0,
    }


def smooth(values, window):
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def mean(xs):
    return sum(xs) / len(xs)


def summarize(a, runs, out):
    window = max(1, a.steps // 20)
    marks = [int(a.steps * f) for f in (0.1, 0.25, 0.5, 0.75, 1.0)]
    depths = sorted(runs[0]["accuracy"])
    lines = ["| method | final layers | train time (s) | FLOP saving | "
             + " | ".join("loss @%d" % m for m in marks) + " | "
             + " | ".join("acc depth %s" % d for d in depths) + " |",
             "|---" * (4 + len(marks) + len(depths)) + "|"]
    for method in METHODS:
        mine = [r for r in runs if r["method"] == method]
        curves = [smooth(r["loss"], window) for r in mine]
        cells = ["%.3f" % mean([c[m - 1] for c in curves]) for m in marks]
        acc = []
        for d in depths:
            values = [r["accuracy"][d] for r in mine]
            acc.append("%.3f" % mean(values) + (" (%.3f–%.3f)" % (min(values), max(values))
                                                if len(values) > 1 else ""))
        lines.append("| %s | %d | %.0f | %.3fx | %s | %s |" % (
            method, a.layers, mean([r["seconds"] for r in mine]),
            mean([r["flop_saving"] for r in mine]), " | ".join(cells), " | ".join(acc)))
    table = "\n".join(lines)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not available: no plot)")
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for method, color in zip(METHODS, ("black", "tab:blue", "tab:red")):
        for i, r in enumerate(x for x in runs if x["method"] == method):
            ax.plot(range(1, len(r["loss"]) + 1), smooth(r["loss"], window), color=color,
                    alpha=0.9 if i == 0 else 0.4, label=method if i == 0 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (answer tokens, smoothed over %d steps)" % window)
    ax.set_title("tiny model, %d layers at the end, %s" % (a.layers, a.data))
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss-curves.png"), dpi=110)
    print("plot: %s" % os.path.join(out, "loss-curves.png"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--start-layers", type=int, default=2)
    ap.add_argument("--block-size", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--data", default="var-assign-math:0-2")
    ap.add_argument("--val-every", type=int, default=100)
    ap.add_argument("--eval-count", type=int, default=300)
    ap.add_argument("--shots", type=int, default=0,
                    help="shots of the eval prompts (0: inside the default --seq 64)")
    ap.add_argument("--eval-seq", type=int, default=None,
                    help="the forward graph's seq (default --seq: the trained context)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "growth-experiment"))
    a = ap.parse_args()
    a.eval_seq = a.eval_seq or a.seq
    if (a.layers - a.start_layers) % a.block_size or a.start_layers % a.block_size:
        sys.exit("growth_experiment: --layers and --start-layers must be whole blocks")
    os.makedirs(a.out, exist_ok=True)
    models, artifacts, forward, stages = build_artifacts(a, a.out)
    runs = []
    for seed in a.seeds:
        for method in METHODS:
            r = train_and_eval(a, a.out, models, artifacts, forward, stages, method, seed)
            print("%-8s seed %d: %.0f s, final loss %.3f, accuracy %s" % (
                method, seed, r["seconds"], mean(r["loss"][-50:]), r["accuracy"]), flush=True)
            runs.append(r)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"options": vars(a), "runs": runs}, f)
    summarize(a, runs, a.out)


if __name__ == "__main__":
    main()
