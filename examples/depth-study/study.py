#!/usr/bin/env python3
"""The depth-analysis mini-study: baseline, LN-Scaling, MIDAS and LIDAS at
equal steps, each analysed with growc-run analyze, one comparison report.

Four versions of the tiny example model (examples/tiny/config.json: hidden
64, 4 heads / 2 KV heads, byte vocabulary) with the same final depth are
trained for the same number of steps on the same data and LR schedule:

  baseline     the full-depth model from the start;
  ln-scaling   the same with LayerNorm-Scaling (SPEC.md section 4);
  midas        growc --grow=midas --stages=K from one block;
  lidas        growc --grow=lidas --stages=K (Prop-alpha schedule, SPEC.md 3).

The data mixes, row by row, natural text (Debian's license texts; another
license is the held-out text) with the reasoning primitives variable
assignment (depths 0-2) and induction copy, supervised on their answers
(growc-run's mix:... data spec). Then, per model: primitive accuracy
(growc-run eval: variable assignment depths 0, 1, 2 and induction copy),
the analysis suite of its final model (growc --analysis-suite) and
growc-run analyze (held-out text loss, task accuracy on variable assignment
0-2); eval and analyze run inside the context the models were trained at
(--seq: forward graphs and the analysis suite at --seq, its depth-score
split at --seq/2, --shots 2 prompts of at most 106 tokens of the 128;
growc-run refuses longer ones, issue 17); finally growc-run report draws the four together (study.html), with
study.json and a markdown table (study.md) of the numbers and timings.

  python3 examples/depth-study/study.py [--steps 800] [--layers 8]
      [--block-size 2] [--batch 8] [--seq 128] [--shots 2] [--lr 3e-3] [--seed 0]
      [--out out/depth-study]

The defaults finish in about 10 minutes on a 2-core machine; --steps,
--layers and --batch scale it up. Needs growc and growc-run in
$GROWC_BUILD_DIR/bin (default build/bin).
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(os.environ.get("GROWC_BUILD_DIR", os.path.join(ROOT, "build")), "bin")
MODELS = ("baseline", "ln-scaling", "midas", "lidas")
LICENSES = "/usr/share/common-licenses"
TRAIN_TEXTS = ("GPL-3", "Apache-2.0", "LGPL-2.1", "GFDL-1.3", "Artistic", "MPL-1.1")
HELD_OUT_TEXT = "MPL-2.0"


def tool(name):
    return os.path.join(BIN, name)


def run(cmd, log=None):
    began = time.time()
    result = subprocess.run(cmd, capture_output=True, text=True)
    if log:
        with open(log, "w") as f:
            f.write(" ".join(cmd) + "\n" + result.stdout + result.stderr)
    if result.returncode != 0:
        sys.exit("study: %s failed:\n%s" % (" ".join(cmd), result.stderr[-4000:]))
    return result, time.time() - began


def corpora(out):
    """The training text and the held-out text: Debian's license texts
    (always installed, by base-files), else the repository's documentation."""
    train = os.path.join(out, "train.txt")
    held = os.path.join(out, "heldout.txt")
    texts = [os.path.join(LICENSES, n) for n in TRAIN_TEXTS
             if os.path.exists(os.path.join(LICENSES, n))]
    held_src = os.path.join(LICENSES, HELD_OUT_TEXT)
    if len(texts) < 2 or not os.path.exists(held_src):
        docs = sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
        texts, held_src = docs[1:], docs[0]
    with open(train, "w") as f:
        for path in texts:
            f.write(open(path, errors="replace").read() + "\n")
    with open(held, "w") as f:
        f.write(open(held_src, errors="replace").read())
    return train, held


def smooth(values, window):
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--block-size", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--shots", type=int, default=2,
                    help="shots of the eval and analyze prompts (2: inside the default --seq)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-count", type=int, default=100,
                    help="prompts per depth for growc-run eval and analyze")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "depth-study"))
    a = ap.parse_args()
    models = a.models.split(",")
    if a.layers % a.block_size or a.block_size % 2:
        sys.exit("study: --layers must be a multiple of an even --block-size (LIDAS)")
    os.makedirs(a.out, exist_ok=True)
    timings = {}
    began = time.time()

    # Models and artifacts.
    t0 = time.time()
    config = os.path.join(ROOT, "examples", "tiny", "config.json")
    final = os.path.join(a.out, "final.mlir")
    start = os.path.join(a.out, "start.mlir")
    ln = os.path.join(a.out, "final-ln.mlir")
    for path, layers in ((final, a.layers), (start, a.block_size)):
        run([tool("growc"), "--import-hf-config", config, "--num-layers", str(layers),
             "--block-size", str(a.block_size), "--model-name", "tiny", "-o", path])
    run([tool("growc"), final, "--analysis-passes=growc-scale-layer-norms",
         "--emit=mlir", "-o", ln])
    stages = a.layers // a.block_size
    shape = ["--batch", str(a.batch), "--seq", str(a.seq), "--quiet"]
    final_model = {"baseline": final, "ln-scaling": ln, "midas": final, "lidas": final}
    artifacts = {}
    for m in models:
        artifacts[m] = os.path.join(a.out, m + ".train.so")
        if m in ("midas", "lidas"):
            run([tool("growc"), start, "--graph=train", "--grow=" + m,
                 "--stages=%d" % stages] + shape + ["-o", artifacts[m]])
        else:
            run([tool("growc"), final_model[m], "--graph=train"] + shape +
                ["-o", artifacts[m]])
    # Forward graphs for growc-run eval at the trained context.
    forwards = {}
    for m in models:
        forwards[m] = os.path.join(a.out, m + ".fwd.so")
        run([tool("growc"), final_model[m], "--graph=forward", "--batch", "16", "--seq", str(a.seq),
             "--quiet", "-o", forwards[m]])
    train_text, held_text = corpora(a.out)
    data = ("mix:text:%s,primitives:var-assign-math:0-2:answers,"
            "primitives:induction-copy:answers" % train_text)
    timings["compile_s"] = time.time() - t0

    results = {}
    for m in models:
        r = {"model": m}
        # Train.
        init = os.path.join(a.out, m + ".init.safetensors")
        run([tool("growc"), start if m in ("midas", "lidas") else final_model[m],
             "--init-weights-out", init, "--seed", str(a.seed)])
        metrics = os.path.join(a.out, m + ".metrics.jsonl")
        ckpt = os.path.join(a.out, m + ".safetensors")
        if os.path.exists(metrics):
            os.remove(metrics)
        cmd = [tool("growc-run"), "train", artifacts[m], "--weights", init, "--data", data,
               "--seed", str(a.seed), "--steps", str(a.steps), "--lr", str(a.lr),
               "--metrics", metrics, "--out", ckpt, "--threads", str(a.threads)]
        if m in ("midas", "lidas"):
            cmd += ["--grow", m, "--stages", str(stages)]
        print("study: training %s (%d steps)" % (m, a.steps), flush=True)
        _, r["train_s"] = run(cmd, log=os.path.join(a.out, m + ".train.log"))
        lines = [json.loads(x) for x in open(metrics)]
        steps = [x for x in lines if "step" in x and "loss" in x]
        compute = next((x for x in lines if x.get("event") == "growth_compute"), None)
        r["flop_saving"] = compute.get("flop_saving") if compute else 1.0
        r["final_train_loss"] = sum(s["loss"] for s in steps[-20:]) / max(1, len(steps[-20:]))

        # Primitive accuracy (growc-run eval), held-out prompts.
        t0 = time.time()
        acc = {}
        out, _ = run([tool("growc-run"), "eval", forwards[m], "--weights", ckpt,
                      "--primitive", "var-assign-math", "--depth", "0-2",
                      "--shots", str(a.shots),
                      "--count", str(a.eval_count), "--seed", "1000",
                      "--threads", str(a.threads)])
        for line in out.stdout.splitlines():
            x = json.loads(line)
            acc["var-assign d%d" % x["depth"]] = x["accuracy"]
        out, _ = run([tool("growc-run"), "eval", forwards[m], "--weights", ckpt,
                      "--primitive", "induction-copy", "--shots", str(a.shots),
                      "--count", str(a.eval_count),
                      "--seed", "1000", "--threads", str(a.threads)])
        acc["induction copy"] = json.loads(out.stdout.splitlines()[0])["accuracy"]
        r["accuracy"] = acc
        r["eval_s"] = time.time() - t0

        # The analysis suite and growc-run analyze.
        suite = os.path.join(a.out, m + ".suite.so")
        print("study: analysing %s" % m, flush=True)
        _, r["suite_compile_s"] = run([tool("growc"), final_model[m], "--analysis-suite",
                                       "--batch", "8", "--seq", str(a.seq), "--quiet",
                                       "-o", suite])
        report = os.path.join(a.out, m + ".report.json")
        _, r["analyze_s"] = run([tool("growc-run"), "analyze", suite, "--weights", ckpt,
                                 "--primitive", "var-assign-math", "--depth", "0-2",
                                 "--shots", str(a.shots),
                                 "--count", str(max(8, a.eval_count // 2)),
                                 "--data", "text:" + held_text, "--windows", "4",
                                 "--threads", str(a.threads), "--out", report])
        rep = json.load(open(report))
        window = max(1, len(steps) // 50)
        rep["training"] = {
            "steps": [s["step"] for s in steps][::window],
            "loss": smooth([s["loss"] for s in steps], 20)[::window],
            "accuracy": acc,
            "seconds": r["train_s"],
            "flop_saving": r["flop_saving"],
        }
        with open(report, "w") as f:
            json.dump(rep, f, indent=1)
        r["report"] = os.path.basename(report)
        r["depth_score"] = rep["depth_score"]["score"]
        r["held_out_loss"] = rep["clean"]["loss"]
        ov = rep["logit_lens"]["overlap_top5"]
        r["mean_overlap"] = sum(ov) / len(ov)
        swaps = [s["relative_loss"] for s in rep["interventions"]["swap"]
                 if s["relative_loss"] is not None]
        r["mean_swap_relative_loss"] = sum(swaps) / len(swaps) if swaps else None
        r["weights_block_period"] = rep["weight_similarity"]["mean"]["block_period"]
        r["weights_block_mirror"] = rep["weight_similarity"]["mean"]["block_mirror"]
        results[m] = r

    # One comparison report.
    html = os.path.join(a.out, "study.html")
    # The reports, then their labels in the same order: growc-run report
    # takes no report after a --label.
    cmd = [tool("growc-run"), "report"]
    cmd += [os.path.join(a.out, results[m]["report"]) for m in models]
    for m in models:
        cmd += ["--label", m]
    _, timings["report_s"] = run(cmd + ["--title", "growc depth-analysis mini-study",
                                        "--html", html])
    timings["total_s"] = time.time() - began
    summary = {"args": vars(a), "models": results, "timings": timings}
    with open(os.path.join(a.out, "study.json"), "w") as f:
        json.dump(summary, f, indent=1)

    def fmt(v, d=3):
        return "n/a" if v is None else ("%.*f" % (d, v))

    rows = ["| model | held-out loss | train loss | var-assign d0 / d1 / d2 | induction copy "
            "| depth score | mean top-5 overlap | mean swap loss ratio | weights period / mirror "
            "| FLOP saving | train s | analyse s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in models:
        r = results[m]
        acc = r["accuracy"]
        rows.append("| %s | %s | %s | %s / %s / %s | %s | %s | %s | %s | %s / %s | %s | %.0f | %.0f |" % (
            m, fmt(r["held_out_loss"]), fmt(r["final_train_loss"]),
            fmt(acc["var-assign d0"], 2), fmt(acc["var-assign d1"], 2),
            fmt(acc["var-assign d2"], 2), fmt(acc["induction copy"], 2),
            fmt(r["depth_score"], 2), fmt(r["mean_overlap"]), fmt(r["mean_swap_relative_loss"]),
            fmt(r["weights_block_period"], 2), fmt(r["weights_block_mirror"], 2),
            fmt(r["flop_saving"], 2), r["train_s"], r["suite_compile_s"] + r["analyze_s"]))
    table = "\n".join(rows)
    with open(os.path.join(a.out, "study.md"), "w") as f:
        f.write(table + "\n\nTotal %.0f s (compile %.0f s).\n" % (timings["total_s"],
                                                                 timings["compile_s"]))
    print(table)
    print("study: %s, %.0f s in all" % (html, timings["total_s"]))


if __name__ == "__main__":
    main()
