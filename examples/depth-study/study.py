#!/usr/bin/env python3
"""The depth-analysis mini-study: baseline, LN-Scaling, MIDAS and LIDAS,
each arm at its own swept learning rate, over several seeds, compared at
equal steps, at matched training FLOPs and at matched loss.

Four versions of the tiny example model (examples/tiny/config.json: hidden
64, 4 heads / 2 KV heads, byte vocabulary) with the same final depth are
trained on the same data and WSD schedule:

  baseline     the full-depth model from the start;
  ln-scaling   the same with LayerNorm-Scaling (SPEC.md section 4);
  midas        growc --grow=midas --stages=K from one block;
  lidas        growc --grow=lidas --stages=K (Prop-alpha schedule, SPEC.md 3).

Protocol (docs/depth-study.md says why):

  1. Learning rate: each arm is trained with every rate of --lrs on the
     first seed; the rate with the lowest validation loss (mean of the
     validation points over the last fifth of the run, on a license text
     used nowhere else) is that arm's rate. When that rate is an end of the
     grid, the grid is extended past it (at most --max-extend times), so the
     choice is bracketed. Those runs are kept as the first seed's runs.
  2. Seeds: the other --seeds are trained at the arm's rate (the seed sets
     the initial weights and the data order).
  3. Every final checkpoint: primitive accuracy (growc-run eval, 0-shot..
     --shots prompts inside the trained context, --eval-count per depth,
     printed beside the task's floors), and growc-run analyze (held-out
     license text, the depth score on answer-span prompts per level:
     variable assignment depths 0-2 and held-out text continuations).
  4. Matched FLOPs: a growth arm's run costs 1/saving of the baseline's, so
     the non-grown arms are also scored at the checkpoint nearest to step
     steps/saving (checkpoints every --save-every steps).
  5. Matched loss: per seed, the highest final training loss of the four
     arms (averaged over 50 steps; the arms of a seed see the same batches)
     is the target; every arm is scored at its first kept checkpoint (in
     the final stage, for growth arms) whose training loss, averaged over
     the 50 steps around it, reaches it.

Outputs in --out: study.md (tables: LR sweep, equal steps, matched FLOPs,
matched loss; mean +- std over seeds, n), study.json (every number),
study.html (growc-run report, the seeds of an arm drawn as one arm with
error bars), the per-run reports, logs and checkpoints.

  /usr/bin/python3 examples/depth-study/study.py [--steps 800] [--layers 8]
      [--block-size 2] [--batch 8] [--seq 128] [--shots 2] [--lrs 1e-3,3e-3,1e-2]
      [--seeds 0,1,2] [--save-every 50] [--out out/depth-study]

The defaults take about 45 minutes on a quiet 2-core machine (most of it
the 20-28 training runs); --lrs with one rate skips the sweep. Needs growc
and growc-run in $GROWC_BUILD_DIR/bin (default build/bin).
"""
import argparse
import glob
import json
import math
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(os.environ.get("GROWC_BUILD_DIR", os.path.join(ROOT, "build")), "bin")
MODELS = ("baseline", "ln-scaling", "midas", "lidas")
GROWN = ("midas", "lidas")
LICENSES = "/usr/share/common-licenses"
TRAIN_TEXTS = ("GPL-3", "Apache-2.0", "LGPL-2.1", "GFDL-1.3", "Artistic", "MPL-1.1")
VALIDATION_TEXT = "GPL-1"   # selects learning rates and matched-loss points
HELD_OUT_TEXT = "MPL-2.0"   # the analyses' held-out text and text prompts
TASKS = ("var-assign d0", "var-assign d1", "var-assign d2", "induction copy")


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


def progress(message):
    print("study [%s]: %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def read_text(name, fallback_index):
    path = os.path.join(LICENSES, name)
    if os.path.exists(path):
        return open(path, errors="replace").read()
    # No Debian license texts: the repository's documentation instead.
    docs = sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    return open(docs[fallback_index % len(docs)], errors="replace").read()


def corpora(out):
    """Training text, validation text and held-out text, three disjoint
    files (Debian's license texts, always installed by base-files)."""
    paths = {k: os.path.join(out, k + ".txt") for k in ("train", "validation", "heldout")}
    with open(paths["train"], "w") as f:
        for i, name in enumerate(TRAIN_TEXTS):
            f.write(read_text(name, 2 + i) + "\n")
    with open(paths["validation"], "w") as f:
        f.write(read_text(VALIDATION_TEXT, 0))
    with open(paths["heldout"], "w") as f:
        f.write(read_text(HELD_OUT_TEXT, 1))
    return paths


def answer_span_prompts(out, heldout, count, seq):
    """The depth score's prompt file (JSON lines {prompt, answer, level}):
    0-shot variable-assignment prompts of depths 0-2 (one-digit answers: one
    split, at the answer; growc-run analyze puts the EOS that starts every
    training example before each item, and shots would be separated by
    newlines the models never saw) and held-out text continuations (a
    64-byte prompt and a 32-byte answer: splits at the answer start and
    inside it)."""
    path = os.path.join(out, "prompts.jsonl")
    lines = []
    for depth in (0, 1, 2):
        result, _ = run([tool("growc-run"), "sample", "--primitive", "var-assign-math",
                         "--depth", str(depth), "--shots", "0", "--count", str(count),
                         "--seed", str(3000 + depth)])
        for line in result.stdout.splitlines():
            item = json.loads(line)
            item["level"] = "var-assign d%d" % depth
            lines.append(item)
    text = " ".join(open(heldout).read().split())
    for i in range(count):
        at = (i * 997) % max(1, len(text) - 100)
        lines.append({"prompt": text[at:at + 64], "answer": text[at + 64:at + 96],
                      "level": "text"})
    for item in lines:
        if len(item["prompt"]) + len(item["answer"]) + 2 > seq:
            sys.exit("study: a prompt of %d bytes does not fit --seq %d; lower --shots"
                     % (len(item["prompt"]) + len(item["answer"]), seq))
    with open(path, "w") as f:
        for item in lines:
            f.write(json.dumps(item) + "\n")
    return path


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None, 0
    m = sum(values) / len(values)
    if len(values) == 1:
        return m, None, 1
    var = sum((v - m) ** 2 for v in values) / (len(values) - 1)
    return m, math.sqrt(var), len(values)


def fmt_ms(values, digits=3):
    m, s, n = mean_std(values)
    if m is None:
        return "n/a"
    if s is None:
        return "%.*f (n=1)" % (digits, m)
    return "%.*f ± %.*f" % (digits, m, digits, s)


def train_loss_around(metrics, step, half=25):
    """Mean training loss over the steps (step - half, step + half] of a
    run's metrics file."""
    losses = [x["loss"] for x in map(json.loads, open(metrics))
              if "loss" in x and "step" in x and step - half < x["step"] <= step + half]
    return sum(losses) / len(losses)


def smooth(values, window):
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


class Study:
    def __init__(self, a):
        self.a = a
        self.out = a.out
        self.models = a.models.split(",")
        self.seeds = [int(s) for s in a.seeds.split(",")]
        self.lrs = [float(x) for x in a.lrs.split(",")]
        self.stages = a.layers // a.block_size
        self.timings = {}

    # -- compile ---------------------------------------------------------
    def compile(self):
        a = self.a
        config = os.path.join(ROOT, "examples", "tiny", "config.json")
        final = os.path.join(self.out, "final.mlir")
        self.start = os.path.join(self.out, "start.mlir")
        ln = os.path.join(self.out, "final-ln.mlir")
        for path, layers in ((final, a.layers), (self.start, a.block_size)):
            run([tool("growc"), "--import-hf-config", config, "--num-layers", str(layers),
                 "--block-size", str(a.block_size), "--model-name", "tiny", "-o", path])
        run([tool("growc"), final, "--analysis-passes=growc-scale-layer-norms",
             "--emit=mlir", "-o", ln])
        self.final_model = {"baseline": final, "ln-scaling": ln, "midas": final,
                            "lidas": final}
        shape = ["--batch", str(a.batch), "--seq", str(a.seq), "--quiet"]
        self.train_art, self.forward_art, self.suite = {}, {}, {}
        for m in self.models:
            self.train_art[m] = os.path.join(self.out, m + ".train.so")
            if m in GROWN:
                run([tool("growc"), self.start, "--graph=train", "--grow=" + m,
                     "--stages=%d" % self.stages] + shape + ["-o", self.train_art[m]])
            else:
                run([tool("growc"), self.final_model[m], "--graph=train"] + shape +
                    ["-o", self.train_art[m]])
            # Forward graphs for eval and the analysis suite, at the trained
            # context.
            self.forward_art[m] = os.path.join(self.out, m + ".fwd.so")
            run([tool("growc"), self.final_model[m], "--graph=forward", "--batch", "16",
                 "--seq", str(a.seq), "--quiet", "-o", self.forward_art[m]])
            self.suite[m] = os.path.join(self.out, m + ".suite.so")
            run([tool("growc"), self.final_model[m], "--analysis-suite", "--batch", "8",
                 "--seq", str(a.seq), "--quiet", "-o", self.suite[m]])

    # -- training ----------------------------------------------------------
    def train(self, m, seed, lr):
        """One training run; returns its record (metrics summary and the
        checkpoints it saved)."""
        a = self.a
        tag = "%s.s%d.lr%g" % (m, seed, lr)
        record_path = os.path.join(self.out, tag + ".run.json")
        key = {"steps": a.steps, "layers": a.layers, "block_size": a.block_size,
               "batch": a.batch, "seq": a.seq, "save_every": a.save_every,
               "val_every": a.val_every, "data": self.data, "val_data": self.val_data}
        if a.reuse and os.path.exists(record_path):
            record = json.load(open(record_path))
            if record.get("key") == key and os.path.exists(record["checkpoint"]):
                progress("reusing %s seed %d lr %g (trained in %.0f s)"
                         % (m, seed, lr, record["train_s"]))
                return record
        init = os.path.join(self.out, "%s.s%d.init.safetensors" % (m, seed))
        if not os.path.exists(init):
            run([tool("growc"), self.start if m in GROWN else self.final_model[m],
                 "--init-weights-out", init, "--seed", str(seed)])
        metrics = os.path.join(self.out, tag + ".metrics.jsonl")
        ckpt = os.path.join(self.out, tag + ".safetensors")
        kept = os.path.join(self.out, tag + ".step*.safetensors")
        for stale in [p for p in [metrics] if os.path.exists(p)] + glob.glob(kept):
            os.remove(stale)
        cmd = [tool("growc-run"), "train", self.train_art[m], "--weights", init,
               "--data", self.data, "--val-data", self.val_data,
               "--val-every", str(a.val_every), "--keep-every", str(a.save_every),
               "--seed", str(seed), "--steps", str(a.steps), "--lr", str(lr),
               "--metrics", metrics, "--out", ckpt, "--threads", str(a.threads)]
        if m in GROWN:
            cmd += ["--grow", m, "--stages", str(self.stages)]
        progress("training %s seed %d lr %g (%d steps)" % (m, seed, lr, a.steps))
        _, seconds = run(cmd, log=os.path.join(self.out, tag + ".train.log"))
        lines = [json.loads(x) for x in open(metrics)]
        steps = [x for x in lines if "step" in x and "loss" in x]
        vals = [(x["step"], x["val_loss"]) for x in steps if x.get("val_loss") is not None]
        compute = next((x for x in lines if x.get("event") == "growth_compute"), None)
        tail = [v for s, v in vals if s >= a.steps * 0.8]
        smoothed = smooth([v for _, v in vals], 4)
        final_layers = steps[-1].get("layers", a.layers) if steps else a.layers
        saved = {}
        for path in glob.glob(kept):
            saved[int(path.rsplit(".step", 1)[1].split(".")[0])] = path
        record = {
            "key": key,
            "model": m, "seed": seed, "lr": lr, "train_s": seconds, "checkpoint": ckpt,
            "metrics": metrics,
            "flop_saving": compute.get("flop_saving") if compute else 1.0,
            "final_train_loss": sum(s["loss"] for s in steps[-20:]) / max(1, len(steps[-20:])),
            "val_loss": sum(tail) / len(tail) if tail else None,
            "val_curve": [[s, v] for (s, _), v in zip(vals, smoothed)],
            "final_stage_from": min([s["step"] for s in steps
                                     if s.get("layers", final_layers) == final_layers] or [0]),
            "saved": {str(k): v for k, v in sorted(saved.items())},
            "train_loss_curve": smooth([s["loss"] for s in steps], 20),
            "steps": [s["step"] for s in steps],
        }
        with open(record_path, "w") as f:
            json.dump(record, f)
        return record

    # -- scoring -----------------------------------------------------------
    def evaluate(self, m, ckpt):
        a = self.a
        acc, floors = {}, {}
        out, _ = run([tool("growc-run"), "eval", self.forward_art[m], "--weights", ckpt,
                      "--primitive", "var-assign-math", "--depth", "0-2",
                      "--shots", str(a.shots), "--count", str(a.eval_count),
                      "--seed", "1000", "--threads", str(a.threads)])
        for line in out.stdout.splitlines():
            x = json.loads(line)
            key = "var-assign d%d" % x["depth"]
            acc[key] = x["accuracy"]
            floors[key] = {"copy": x["floor_copy"], "constant": x["floor_constant"],
                           "chance": x["chance"]}
        out, _ = run([tool("growc-run"), "eval", self.forward_art[m], "--weights", ckpt,
                      "--primitive", "induction-copy", "--shots", str(a.shots),
                      "--count", str(a.eval_count), "--seed", "1000",
                      "--threads", str(a.threads)])
        x = json.loads(out.stdout.splitlines()[0])
        acc["induction copy"] = x["accuracy"]
        floors["induction copy"] = {"copy": x["floor_copy"], "constant": x["floor_constant"],
                                    "chance": x["chance"]}
        return acc, floors

    def analyze(self, r):
        a = self.a
        m = r["model"]
        report = os.path.join(self.out, "%s.s%d.report.json" % (m, r["seed"]))
        progress("analysing %s seed %d" % (m, r["seed"]))
        cmd = [tool("growc-run"), "analyze", self.suite[m], "--weights", r["checkpoint"],
               "--primitive", "var-assign-math", "--depth", "0-2",
               "--shots", str(a.shots), "--count", str(a.analyze_count),
               "--data", "text:" + self.texts["heldout"], "--windows", "4",
               "--threads", str(a.threads), "--tuned-lens", "--out", report]
        if self.prompts:
            cmd += ["--prompts", self.prompts]
        _, r["analyze_s"] = run(cmd, log=report + ".log")
        rep = json.load(open(report))
        window = max(1, len(r["steps"]) // 50)
        rep["training"] = {
            "steps": r["steps"][::window],
            "loss": r["train_loss_curve"][::window],
            "accuracy": r["accuracy"],
            "floors": r["floors"],
            "seconds": r["train_s"],
            "flop_saving": r["flop_saving"],
            "lr": r["lr"],
            "seed": r["seed"],
        }
        with open(report, "w") as f:
            json.dump(rep, f, indent=1)
        r["report"] = report
        ds = rep["depth_score"]
        r["depth_score"] = ds.get("score")
        r["depth_score_by_level"] = {x["level"]: x.get("score") for x in ds.get("by_level", [])}
        r["held_out_loss"] = rep["clean"]["loss"]
        ov = rep["logit_lens"]["overlap_top5"]
        r["mean_overlap"] = sum(ov) / len(ov)
        swaps = [s["relative_loss"] for s in rep["interventions"]["swap"]
                 if s["relative_loss"] is not None]
        r["mean_swap_relative_loss"] = sum(swaps) / len(swaps) if swaps else None
        period = rep.get("periodicity", {}).get("series", {})
        r["period_rel_attn"] = period.get("rel_attn")
        r["weights_block_period"] = rep["weight_similarity"]["mean"]["block_period"]
        r["weights_block_mirror"] = rep["weight_similarity"]["mean"]["block_mirror"]

    def bracket(self, m, seed, tried):
        """The rate of `tried` (lr -> run) with the lowest validation loss;
        while that is an end of the grid, the grid is extended past it by
        its own ratio (at most --max-extend times), so that the chosen rate
        is bracketed by worse ones rather than cut off by the grid."""
        def best():
            scored = [(r["val_loss"], lr) for lr, r in tried.items()
                      if r["val_loss"] is not None and math.isfinite(r["val_loss"])]
            return min(scored)[1] if scored else None
        if len(self.lrs) < 2 or best() is None:
            return best() or min(tried)
        factor = sorted(self.lrs)[1] / sorted(self.lrs)[0]
        for _ in range(self.a.max_extend):
            lr = best()
            if lr is None:
                break
            if lr == min(tried):
                nxt = float("%.1g" % (lr / factor))
            elif lr == max(tried):
                nxt = float("%.1g" % (lr * factor))
            else:
                break
            progress("%s: the best rate %g is at the end of the grid; trying %g"
                     % (m, lr, nxt))
            tried[nxt] = self.train(m, seed, nxt)
        return best() or min(tried)

    def checkpoint_at(self, r, step):
        """The checkpoint of run r saved at `step` (the final one at the end)."""
        if step >= self.a.steps:
            return r["checkpoint"]
        return r["saved"].get(str(step))

    # -- the study -----------------------------------------------------------
    def main(self):
        a = self.a
        began = time.time()
        os.makedirs(self.out, exist_ok=True)
        t0 = time.time()
        self.texts = corpora(self.out)
        streams = ("primitives:var-assign-math:0-2:answers,primitives:induction-copy:answers")
        self.data = "mix:text:%s,%s" % (self.texts["train"], streams)
        self.val_data = "mix:text:%s,%s" % (self.texts["validation"], streams)
        self.prompts = (None if a.no_prompts else
                        answer_span_prompts(self.out, self.texts["heldout"],
                                            a.prompt_count, a.seq))
        self.compile()
        self.timings["compile_s"] = time.time() - t0

        # 1. The LR sweep on the first seed.
        t0 = time.time()
        first = self.seeds[0]
        sweep = {m: {} for m in self.models}
        chosen = {}
        for m in self.models:
            for lr in self.lrs:
                sweep[m][lr] = self.train(m, first, lr)
            chosen[m] = self.bracket(m, first, sweep[m])
        self.timings["sweep_s"] = time.time() - t0

        # 2. The other seeds at the chosen rates.
        t0 = time.time()
        runs = {m: [sweep[m][chosen[m]]] for m in self.models}
        for seed in self.seeds[1:]:
            for m in self.models:
                runs[m].append(self.train(m, seed, chosen[m]))
        self.timings["seeds_s"] = time.time() - t0
        self.timings["training_runs_s"] = sum(
            r["train_s"] for m in self.models
            for r in list(sweep[m].values()) + runs[m][1:])
        if a.train_only:
            progress("trained every run (%.1f min of training); --train-only: stopping"
                     % (self.timings["training_runs_s"] / 60))
            return

        # 3. Equal steps: accuracy and the analyses of every final checkpoint.
        t0 = time.time()
        for m in self.models:
            for r in runs[m]:
                progress("scoring %s seed %d" % (m, r["seed"]))
                r["accuracy"], r["floors"] = self.evaluate(m, r["checkpoint"])
                self.analyze(r)
        self.timings["score_s"] = time.time() - t0

        # 4. Matched FLOPs: the non-grown arms at steps / saving.
        t0 = time.time()
        savings = [r["flop_saving"] for m in self.models if m in GROWN for r in runs[m]]
        matched_flops = None
        if savings:
            saving = sum(savings) / len(savings)
            target = a.steps / saving
            step = int(round(target / a.save_every)) * a.save_every
            matched_flops = {"saving": saving, "step": step,
                             "flop_ratio": step / target, "accuracy": {}}
            for m in self.models:
                if m in GROWN:
                    continue
                for r in runs[m]:
                    ckpt = self.checkpoint_at(r, step)
                    if ckpt:
                        progress("scoring %s seed %d at step %d (matched FLOPs)"
                                 % (m, r["seed"], step))
                        r["matched_flops"] = self.evaluate(m, ckpt)[0]

        # 5. Matched loss, per seed: the training objective (the arms of a
        # seed see the same batches in the same order), averaged over the
        # 50 steps around each kept checkpoint. The validation loss is one
        # batch of a short text at a time: it swings with the text's content
        # (1.9 to 3.1 within 100 steps) and only compares runs at equal steps.
        for i in range(len(self.seeds)):
            arms = [runs[m][i] for m in self.models if i < len(runs[m])]
            target = max(train_loss_around(r["metrics"], a.steps) for r in arms)
            for r in arms:
                candidates = [s for s in range(a.save_every, a.steps + 1, a.save_every)
                              if s >= r["final_stage_from"] and self.checkpoint_at(r, s)
                              and train_loss_around(r["metrics"], s) <= target]
                if not candidates:
                    continue
                step = min(candidates)
                r["matched_loss"] = {"target": target, "step": step}
                ckpt = self.checkpoint_at(r, step)
                if step >= a.steps or ckpt == r["checkpoint"]:
                    r["matched_loss"]["accuracy"] = r["accuracy"]
                else:
                    progress("scoring %s seed %d at step %d (matched loss)"
                             % (r["model"], r["seed"], step))
                    r["matched_loss"]["accuracy"] = self.evaluate(r["model"], ckpt)[0]
        self.timings["matched_s"] = time.time() - t0

        # One comparison page: an arm's seeds share its label.
        html = os.path.join(self.out, "study.html")
        cmd = [tool("growc-run"), "report"]
        labels = []
        for m in self.models:
            for r in runs[m]:
                cmd.append(r["report"])
                labels.append(m)
        for label in labels:
            cmd += ["--label", label]
        _, self.timings["report_s"] = run(cmd + ["--title", "growc depth-analysis mini-study",
                                                 "--html", html])
        self.timings["total_s"] = time.time() - began
        self.write(sweep, chosen, runs, matched_flops, html)

    def write(self, sweep, chosen, runs, matched_flops, html):
        a = self.a
        for m in self.models:
            for r in runs[m]:
                for key in ("train_loss_curve", "steps"):
                    r.pop(key, None)
        for m in sweep:
            for r in sweep[m].values():
                for key in ("train_loss_curve", "steps"):
                    r.pop(key, None)
        summary = {"args": vars(a), "chosen_lr": chosen,
                   "sweep": {m: {str(lr): {"val_loss": r["val_loss"],
                                           "final_train_loss": r["final_train_loss"]}
                                 for lr, r in sweep[m].items()} for m in sweep},
                   "runs": runs, "matched_flops": matched_flops, "timings": self.timings}
        with open(os.path.join(self.out, "study.json"), "w") as f:
            json.dump(summary, f, indent=1)

        md = []
        md.append("LR sweep (seed %d; validation loss, mean over the last fifth of the run; "
                  "**chosen**):\n" % self.seeds[0])
        grid = sorted({lr for m in self.models for lr in sweep[m]})
        md.append("| arm | " + " | ".join("lr %g" % lr for lr in grid) + " |")
        md.append("|---|" + "---|" * len(grid))
        for m in self.models:
            cells = []
            for lr in grid:
                if lr not in sweep[m]:
                    cells.append("")
                    continue
                v = sweep[m][lr]["val_loss"]
                cell = "n/a" if v is None else "%.3f" % v
                cells.append("**%s**" % cell if lr == chosen[m] else cell)
            md.append("| %s | %s |" % (m, " | ".join(cells)))
        n = len(self.seeds)
        md.append("\nEqual steps (%d steps; mean ± std over %d seeds):\n" % (a.steps, n))
        md.append("| arm | lr | val loss | held-out loss | " + " | ".join(TASKS) +
                  " | depth score (text) | depth score (var-assign d0/d1/d2) | mean top-5 overlap "
                  "| swap loss ratio | period-b power (rel_attn) | weights period / mirror "
                  "| FLOP saving | train s |")
        md.append("|---|" + "---|" * (13 + len(TASKS) - 1))
        for m in self.models:
            rs = runs[m]
            col = lambda k: [r.get(k) for r in rs]
            acc = lambda t: [r["accuracy"].get(t) for r in rs]
            lvl = lambda lv: [r.get("depth_score_by_level", {}).get(lv) for r in rs]
            md.append("| %s | %g | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s |" % (
                m, chosen[m], fmt_ms(col("val_loss")), fmt_ms(col("held_out_loss")),
                " | ".join(fmt_ms(acc(t), 2) for t in TASKS),
                fmt_ms(lvl("text"), 2) if any(v is not None for v in lvl("text"))
                else fmt_ms(col("depth_score"), 2),
                " / ".join(fmt_ms(lvl("var-assign d%d" % d), 2) for d in range(3)),
                fmt_ms(col("mean_overlap")), fmt_ms(col("mean_swap_relative_loss")),
                fmt_ms(col("period_rel_attn"), 2),
                fmt_ms(col("weights_block_period"), 2), fmt_ms(col("weights_block_mirror"), 2),
                fmt_ms(col("flop_saving"), 2), fmt_ms(col("train_s"), 0)))
        floors = runs[self.models[0]][0]["floors"]
        md.append("\nFloors (the highest of copy heuristic, constant answer and chance, "
                  "from the generator): " +
                  ", ".join("%s %.2f" % (t, max(floors[t].values())) for t in TASKS) + ".")
        if matched_flops:
            md.append("\nMatched training FLOPs: the grown arms' whole run (saving %.3fx) "
                      "against the other arms at step %d (%.3f of the grown arms' FLOPs):\n"
                      % (matched_flops["saving"], matched_flops["step"],
                         matched_flops["flop_ratio"]))
            md.append("| arm | at step | " + " | ".join(TASKS) + " |")
            md.append("|---|---|" + "---|" * len(TASKS))
            for m in self.models:
                rs = runs[m]
                key = "accuracy" if m in GROWN else "matched_flops"
                step = a.steps if m in GROWN else matched_flops["step"]
                md.append("| %s | %d | %s |" % (m, step, " | ".join(
                    fmt_ms([r.get(key, {}).get(t) for r in rs], 2) for t in TASKS)))
        md.append("\nMatched loss (per seed, every arm at its first kept checkpoint whose "
                  "training loss, averaged over the 50 steps around it, reaches the worst "
                  "arm's final one; growth arms in their final stage):\n")
        md.append("| arm | steps | " + " | ".join(TASKS) + " |")
        md.append("|---|---|" + "---|" * len(TASKS))
        for m in self.models:
            rs = [r for r in runs[m] if "matched_loss" in r]
            steps = ", ".join(str(r["matched_loss"]["step"]) for r in rs) or "not reached"
            md.append("| %s | %s | %s |" % (m, steps, " | ".join(
                fmt_ms([r["matched_loss"]["accuracy"].get(t) for r in rs], 2) for t in TASKS)))
        t = self.timings
        md.append("\nTime: %.1f min in all (compile %.0f s, LR sweep %.0f s, other seeds %.0f s, "
                  "scoring and analyses %.0f s, matched points %.0f s, report %.0f s); "
                  "the %d training runs took %.1f min%s."
                  % (t["total_s"] / 60, t["compile_s"], t["sweep_s"], t["seeds_s"],
                     t["score_s"], t["matched_s"], t["report_s"],
                     sum(len(sweep[m]) for m in self.models) + (len(self.seeds) - 1) * len(self.models),
                     t["training_runs_s"] / 60,
                     " (reused from an earlier invocation)" if a.reuse else ""))
        text = "\n".join(md) + "\n"
        with open(os.path.join(self.out, "study.md"), "w") as f:
            f.write(text)
        print(text)
        print("study: %s, %.1f min in all" % (html, t["total_s"] / 60))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--block-size", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--shots", type=int, default=2,
                    help="shots of the eval and analyze prompts (2: inside the default --seq)")
    ap.add_argument("--lrs", default="1e-3,3e-3,1e-2",
                    help="learning rates swept per arm on the first seed (one: no sweep)")
    ap.add_argument("--max-extend", type=int, default=2,
                    help="times the LR grid may be extended past its best end")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--save-every", type=int, default=50,
                    help="kept checkpoints (growc-run train --keep-every) for the "
                         "matched-FLOPs and matched-loss points")
    ap.add_argument("--val-every", type=int, default=25)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-count", type=int, default=200,
                    help="prompts per depth for growc-run eval")
    ap.add_argument("--analyze-count", type=int, default=50,
                    help="prompts per depth for growc-run analyze's task metrics")
    ap.add_argument("--prompt-count", type=int, default=24,
                    help="answer-span prompts per level for the depth score")
    ap.add_argument("--no-prompts", action="store_true",
                    help="depth score on held-out windows split at seq/2 instead of prompts")
    ap.add_argument("--reuse", action="store_true",
                    help="keep the training runs a previous study with the same settings "
                         "left in --out (re-score and re-analyse only)")
    ap.add_argument("--train-only", action="store_true",
                    help="stop after training (score later with --reuse)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "depth-study"))
    a = ap.parse_args()
    if a.layers % a.block_size or a.block_size % 2:
        sys.exit("study: --layers must be a multiple of an even --block-size (LIDAS)")
    if a.steps % a.save_every:
        sys.exit("study: --steps must be a multiple of --save-every")
    Study(a).main()


if __name__ == "__main__":
    main()
