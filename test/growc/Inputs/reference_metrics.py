#!/usr/bin/env python3
"""PyTorch re-implementation of growc's depth analyses (SPEC.md section 5,
docs/analysis.md), checked against `growc-run analyze` on a tiny random model.

The script builds a random model (test/Reference/random_model.py), compiles
its analysis suite with growc, writes held-out windows as a u16 token file,
runs `growc-run analyze`, and recomputes every metric from
test/Reference/llama_reference.py's forward pass (which knows layer orders,
skips and skip-until-t, and shares no code with growc): logit-lens overlap
and KL, early-exit accuracy, r_{l,j}, e_l, the depth score, o_l, the skip /
swap / reverse interventions' held-out loss and accuracy, the residual-stream
statistics and the weight similarity matrices. With --zero-layer Z, layer
Z's weights are all zero and e_Z must be 0. With --ln-scaling the model is
the LayerNorm-Scaling one (growc-scale-layer-norms), and every swapped or
reversed layer keeps the factor of its own index on both sides.

Also checks the invariants: a window-0 swap and a skip of nothing give the
clean model's numbers.
"""
import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Reference"))
import llama_reference as ref  # noqa: E402
from random_model import random_weights  # noqa: E402

EOS = 257
FAILURES = []
# Keyword arguments of every reference forward pass (--ln-scaling adds
# ln_scaling=True: the reference keeps each layer's own factor under swaps
# and reversals, as growc must).
FORWARD_OPTIONS = {}


def forward(config, weights, tokens, **kw):
    return ref.forward(config, weights, tokens, **FORWARD_OPTIONS, **kw)


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("FAIL: %s\n%s" % (" ".join(cmd), result.stderr[-4000:]))
    return result


def check(name, ok, detail=""):
    print("%s %s %s" % ("ok  " if ok else "FAIL", name, detail))
    if not ok:
        FAILURES.append(name)


def close(name, actual, expected, rtol, atol):
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    mask = ~np.isnan(e)
    nan_ok = np.array_equal(np.isnan(a), np.isnan(e))
    err = np.abs(a[mask] - e[mask])
    bound = atol + rtol * np.abs(e[mask])
    worst = float(np.max(err - bound)) if err.size else -1.0
    check(name, nan_ok and worst <= 0,
          "max |diff| %.3g" % (float(err.max()) if err.size else 0.0))


def as_array(values):
    """JSON numbers and nulls -> float64 array with NaN for null."""
    return np.array([[np.nan if x is None else x for x in row] if isinstance(row, list)
                     else (np.nan if row is None else row) for row in values],
                    dtype=np.float64)


# ---------------------------------------------------------------------------
# The definitions, in PyTorch (float64 reductions of float32 model outputs)
# ---------------------------------------------------------------------------

def log_softmax(z):
    return torch.log_softmax(z.double(), dim=-1)


def logit_lens(out, L, lens):
    final = out["logits"].double()
    top_final = torch.topk(final, 5, dim=-1).indices
    logp_final = log_softmax(final)
    overlap, kl = [], []
    for l in range(L):
        z = out[lens % l].double()
        top = torch.topk(z, 5, dim=-1).indices
        common = (top.unsqueeze(-1) == top_final.unsqueeze(-2)).any(-1).sum(-1)
        overlap.append((common.double() / 5).mean().item())
        logp = log_softmax(z)
        kl.append((logp.exp() * (logp - logp_final)).sum(-1).mean().item())
    return overlap, kl


def residual_stats(out, L):
    def n(x):
        return x.double().norm(dim=-1)

    def cos(x, y):
        return (x.double() * y.double()).sum(-1) / torch.clamp(n(x) * n(y), min=1e-12)

    def ratio(x, y):
        return n(x) / torch.clamp(n(y), min=1e-6)

    s = {k: [] for k in ("norm_h", "norm_attn", "norm_mlp", "rel_attn", "rel_mlp",
                         "rel_delta", "cos_attn", "cos_mlp", "cos_delta", "cos_next")}
    for l in range(L + 1):
        s["norm_h"].append(n(out["hidden.%d" % l]).mean().item())
    for l in range(L):
        h, a, m = out["hidden.%d" % l], out["attn.%d" % l], out["mlp.%d" % l]
        hn = out["hidden.%d" % (l + 1)]
        hhat = h.double() + a.double()
        delta = hn.double() - h.double()
        s["norm_attn"].append(n(a).mean().item())
        s["norm_mlp"].append(n(m).mean().item())
        s["rel_attn"].append(ratio(a, h).mean().item())
        s["rel_mlp"].append(ratio(m, hhat).mean().item())
        s["rel_delta"].append(ratio(delta, h).mean().item())
        s["cos_attn"].append(cos(a, h).mean().item())
        s["cos_mlp"].append(cos(m, hhat).mean().item())
        s["cos_delta"].append(cos(delta, h).mean().item())
        s["cos_next"].append(cos(hn, h).mean().item())
    return s


def depth_score_rows(config, weights, rows, L, aggregate="max", skip_from=1):
    """r_{l,j}, e_l, DS and o_l (SPEC.md 5.3) per group of rows.

    rows: (tokens [T], split t, length n, level); each row's layer l is
    skipped at positions skip_from <= i < t (skip_from = 1 keeps position 0,
    as Csordas et al. do) and its effects are maxima over its future
    positions t <= i < n. Returns {level: (r, e, ds, o)} plus None: all rows.
    """
    hidden = ["hidden.%d" % i for i in range(L + 1)]
    tokens = np.stack([row[0] for row in rows])
    splits = [row[1] for row in rows]
    valid = torch.zeros(len(rows), tokens.shape[1], dtype=torch.bool)
    for k, (_, t, n, _) in enumerate(rows):
        valid[k, t:n] = True
    c = forward(config, weights, tokens, outputs=hidden + ["logits"])
    per_r = torch.zeros(L, len(rows), L, dtype=torch.float64)
    per_o = torch.zeros(L, len(rows), dtype=torch.float64)

    def masked_max(v):  # [R, T] -> [R], over each row's future positions
        return torch.where(valid, v, torch.zeros_like(v)).max(dim=1).values

    for l in range(L):
        x = forward(config, weights, tokens, skip=[l], skip_until=splits,
                    skip_from=skip_from, outputs=hidden + ["logits"])
        for j in range(l + 1, L):
            d = (c[hidden[j + 1]] - c[hidden[j]]).double()
            dt = (x[hidden[j + 1]] - x[hidden[j]]).double()
            ratio = (dt - d).norm(dim=-1) / torch.clamp(d.norm(dim=-1), min=1e-6)
            per_r[l, :, j] = masked_max(ratio)
        p = torch.softmax(c["logits"].double(), -1)
        pt = torch.softmax(x["logits"].double(), -1)
        per_o[l] = masked_max((pt - p).norm(dim=-1))
    result = {}
    for level in [None] + sorted({row[3] for row in rows}):
        idx = [k for k, row in enumerate(rows) if level is None or row[3] == level]
        agg = (lambda v: v.max(0).values) if aggregate == "max" else (lambda v: v.mean(0))
        r = np.full((L, L), np.nan)
        e = np.zeros(L)
        o = np.zeros(L)
        for l in range(L):
            if l + 1 < L:
                r[l, l + 1:] = agg(per_r[l, idx, l + 1:]).numpy()
                e[l] = r[l, l + 1:].sum() / max(1, L - 1 - l)
            o[l] = agg(per_o[l, idx]).item()
        ds = float((np.arange(L) * e).sum() / e.sum()) if e.sum() > 0 else float("nan")
        result[level] = (r, e, ds, o)
    return result


def answer_splits(start, end, n):
    """The splits inside an answer at [start, end), as growc-run chooses them."""
    splits = []
    for k in range(n):
        s = start + k * (end - start) // n
        if not splits or splits[-1] != s:
            splits.append(s)
    return splits


def check_depth_score(name, got, expected):
    r, e, ds, o = expected
    close(name + " r_{l,j}", as_array(got["r"]), r, 1e-3, 1e-5)
    close(name + " e_l", got["e"], e, 1e-3, 1e-5)
    close(name + " DS", got["score"], ds, 1e-3, 1e-5)
    close(name + " o_l", got["output_effect"], o, 1e-3, 1e-5)


def held_out_loss(config, weights, windows, targets, **kw):
    total, count = 0.0, 0
    for w, tg in zip(windows, targets):
        logits = forward(config, weights, w, **kw)["logits"].double()
        tg = torch.from_numpy(tg.astype(np.int64))
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), tg.reshape(-1), ignore_index=-100,
            reduction="sum")
        total += loss.item()
        count += int((tg >= 0).sum())
    return total / count


def encode_prompt(prompt):
    ids = [EOS]
    for k, line in enumerate(prompt.split("\n")):
        if k:
            ids.append(EOS)
        ids.extend(line.encode())
    return ids


def task_accuracy(config, weights, prompts, outputs, **kw):
    correct = {name: 0 for name in outputs}
    for tokens, answer in prompts:
        out = forward(config, weights, np.array([tokens], dtype=np.int64),
                          outputs=outputs, **kw)
        for name in outputs:
            correct[name] += int(out[name][0, -1].argmax().item() == answer)
    return {name: correct[name] / len(prompts) for name in outputs}


def weight_similarity(weights, L, group):
    flat = [torch.from_numpy(weights["model.layers.%d.%s" % (l, group)]).double().reshape(-1)
            for l in range(L)]
    m = np.zeros((L, L))
    for i in range(L):
        for j in range(L):
            m[i, j] = (flat[i] @ flat[j]).item() / max(
                (flat[i].norm() * flat[j].norm()).item(), 1e-12)
    return m


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--growc", required=True)
    ap.add_argument("--growc-run", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--block-size", type=int, default=2)
    ap.add_argument("--zero-layer", type=int, default=-1)
    ap.add_argument("--aggregate", default="max")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ln-scaling", action="store_true",
                    help="analyse the LayerNorm-Scaling version of the model")
    ap.add_argument("--lens-at", choices=("input", "output"), default="input",
                    help="the suite's logit lens decodes each layer's input "
                         "h_l (logit_lens_in.<l>) or output h_{l+1} "
                         "(logit_lens.<l>)")
    ap.add_argument("--skip-position-0", action="store_true",
                    help="compile the suite with --analysis-skip-position-0 "
                         "(the depth score skips position 0 too)")
    ap.add_argument("--tmp", required=True)
    a = ap.parse_args()
    os.makedirs(a.tmp, exist_ok=True)
    torch.manual_seed(0)
    rng = np.random.default_rng(a.seed)
    config = json.load(open(a.config))
    config.setdefault("num_key_value_heads", config["num_attention_heads"])
    config.setdefault("head_dim", config["hidden_size"] // config["num_attention_heads"])
    L, B, T, split, count = a.layers, 2, 128, 64, 6

    model = os.path.join(a.tmp, "model.mlir")
    wpath = os.path.join(a.tmp, "w.safetensors")
    run([a.growc, "--import-hf-config", a.config, "--num-layers", str(L),
         "--block-size", str(a.block_size), "-o", model])
    if a.ln_scaling:
        run([a.growc, model, "--analysis-passes=growc-scale-layer-norms",
             "--emit=mlir", "-o", model])
        FORWARD_OPTIONS["ln_scaling"] = True
    weights = random_weights(config, L, rng)
    if a.zero_layer >= 0:
        for name in weights:
            if name.startswith("model.layers.%d." % a.zero_layer):
                weights[name] = np.zeros_like(weights[name])
    ref.write_safetensors(wpath, weights)

    suite = os.path.join(a.tmp, "suite.so")
    run([a.growc, model, "--analysis-suite", "--batch", str(B), "--seq", str(T),
         "--analysis-split", str(split), "--analysis-swap-windows=0,1,2",
         "--analysis-reverse-windows=2,3", "--analysis-lens-at", a.lens_at,
         "--quiet", "-o", suite] +
        (["--analysis-skip-position-0"] if a.skip_position_0 else []))
    skip_from = 0 if a.skip_position_0 else 1

    # Held-out windows: a token file read as consecutive [B, T] windows.
    nwin = 2
    stream = rng.integers(0, 256, nwin * B * T + 7).astype(np.uint16)
    data = os.path.join(a.tmp, "heldout.u16")
    stream.tofile(data)
    windows, targets = [], []
    pos = 0
    for _ in range(nwin):
        tok = np.zeros((B, T), dtype=np.int64)
        tgt = np.zeros((B, T), dtype=np.int64)
        for r in range(B):
            idx = (pos + np.arange(T + 1)) % len(stream)
            tok[r] = stream[idx[:-1]]
            tgt[r] = stream[idx[1:]]
            pos = (pos + T) % len(stream)
        windows.append(tok)
        targets.append(tgt)

    report_path = os.path.join(a.tmp, "report.json")
    run([a.growc_run, "analyze", suite, "--weights", wpath, "--out", report_path,
         "--primitive", "var-assign-math", "--depth", "0", "--count", str(count),
         "--data", "u16:" + data, "--windows", str(nwin), "--aggregate", a.aggregate,
         "--threads", "1"])
    rep = json.load(open(report_path))
    check("report ln_scaling = %s" % a.ln_scaling, rep["ln_scaling"] == a.ln_scaling)

    # Prompts of the task exactly as growc-run generates them (seed + depth).
    lines = run([a.growc_run, "sample", "--primitive", "var-assign-math", "--depth", "0",
                 "--seed", "0", "--count", str(count)]).stdout.splitlines()
    prompts = [(encode_prompt(json.loads(x)["prompt"]), ord(json.loads(x)["answer"]))
               for x in lines]

    # The lens the report should hold, computed by the reference itself.
    lens = "logit_lens_in.%d" if a.lens_at == "input" else "logit_lens.%d"
    check("report logit_lens.at = %s" % a.lens_at,
          rep["logit_lens"]["at"] == a.lens_at)
    outputs = (["logits"] + [lens % l for l in range(L)] +
               ["hidden.%d" % l for l in range(L + 1)] +
               ["attn.%d" % l for l in range(L)] + ["mlp.%d" % l for l in range(L)])
    clean = [forward(config, weights, w, outputs=outputs) for w in windows]
    cat = {k: torch.cat([c[k] for c in clean], 0) for k in outputs}

    # Logit lens.
    overlap, kl = logit_lens(cat, L, lens)
    close("logit-lens top-5 overlap", rep["logit_lens"]["overlap_top5"], overlap, 0, 2e-3)
    close("logit-lens KL", rep["logit_lens"]["kl"], kl, 2e-3, 1e-6)

    # Residual stream.
    stats = residual_stats(cat, L)
    for key, values in stats.items():
        close("residual " + key, rep["residual"][key], values, 1e-4, 1e-6)

    # Held-out loss of the clean model.
    clean_loss = held_out_loss(config, weights, windows, targets)
    close("clean held-out loss", rep["clean"]["loss"], clean_loss, 1e-5, 0)

    # Early exit: accuracy of every layer's decoded answer.
    names = ["logits"] + [lens % l for l in range(L)]
    acc = task_accuracy(config, weights, prompts, names)
    check("clean accuracy", abs(rep["clean"]["accuracy"] - acc["logits"]) < 1e-9,
          "%s vs %s" % (rep["clean"]["accuracy"], acc["logits"]))
    close("early-exit accuracy", rep["early_exit"]["accuracy"],
          [acc[lens % l] for l in range(L)], 0, 1e-9)

    # Depth score on the held-out windows, split at the suite's split.
    check("depth score keep_position_0 = %s" % (not a.skip_position_0),
          rep["depth_score"]["keep_position_0"] == (not a.skip_position_0)
          and rep["depth_score"]["source"] == "windows")
    window_rows = [(w[k], split, T, "") for w in windows for k in range(B)]
    r, e, ds, o = depth_score_rows(config, weights, window_rows, L, a.aggregate,
                                   skip_from)[None]
    check_depth_score("depth score", rep["depth_score"], (r, e, ds, o))
    print("depth score: growc %.6f, reference %.6f" % (rep["depth_score"]["score"], ds))

    # Interventions: held-out loss relative to clean.
    for entry in rep["interventions"]["skip"]:
        loss = held_out_loss(config, weights, windows, targets, skip=[entry["layer"]])
        close("skip %d loss" % entry["layer"], entry["loss"], loss, 1e-5, 0)
    for entry in rep["interventions"]["swap"]:
        p, s = entry["position"], entry["size"]
        order = list(range(L))
        order[p:p + 2 * s] = order[p + s:p + 2 * s] + order[p:p + s]
        loss = held_out_loss(config, weights, windows, targets, layer_order=order)
        close("swap %d.%d loss" % (s, p), entry["loss"], loss, 1e-5, 0)
        if s == 0:
            # Invariant: window 0 is the unmodified model.
            check("swap window 0 = clean loss",
                  abs(entry["relative_loss"] - 1) < 1e-6, str(entry["relative_loss"]))
            check("swap window 0 = clean accuracy",
                  entry["accuracy"] == rep["clean"]["accuracy"])
    for entry in rep["interventions"]["reverse"]:
        p, s = entry["start"], entry["size"]
        order = list(range(L))
        order[p:p + s] = order[p:p + s][::-1]
        loss = held_out_loss(config, weights, windows, targets, layer_order=order)
        close("reverse %d.%d loss" % (s, p), entry["loss"], loss, 1e-5, 0)
    swap1 = [x for x in rep["interventions"]["swap"] if x["size"] == 1]
    check("swap windows of size 1 at every valid position", len(swap1) == L - 1)
    check("no swap window larger than the model",
          all(x["position"] + 2 * x["size"] <= L for x in rep["interventions"]["swap"]))

    # Depth score on answer spans: two levels, answers of one token and of
    # several, each split at the answer start and inside the answer.
    items = [("x=3;y=x+1;y?", "4", 1), ("a=5;b=a;b=", "5", 1),
             ("q=12;r=q*2;r is ", "24 (twelve times two)", 2),
             ("n=7", "seven", 2), ("k=1;k+k=", "2", "2")]
    prompts_path = os.path.join(a.tmp, "prompts.jsonl")
    with open(prompts_path, "w") as f:
        for prompt, answer, level in items:
            f.write(json.dumps({"prompt": prompt, "answer": answer,
                                "level": level}) + "\n")
    prompt_report = os.path.join(a.tmp, "prompts.json")
    run([a.growc_run, "analyze", suite, "--weights", wpath, "--out", prompt_report,
         "--primitive", "var-assign-math", "--depth", "0", "--count", "1",
         "--data", "u16:" + data, "--windows", "1", "--aggregate", a.aggregate,
         "--prompts", prompts_path, "--splits", "3", "--threads", "1"])
    prep = json.load(open(prompt_report))["depth_score"]
    prompt_rows = []
    for prompt, answer, level in items:
        # The byte tokenizer's document separator (EOS) at position 0.
        ids = [EOS] + list(prompt.encode()) + list(answer.encode())
        tok = np.zeros(T, dtype=np.int64)
        tok[:len(ids)] = ids
        for t in answer_splits(1 + len(prompt.encode()), len(ids), 3):
            prompt_rows.append((tok, t, len(ids), str(level)))
    expected = depth_score_rows(config, weights, prompt_rows, L, a.aggregate, skip_from)
    check("prompts: source, levels, rows",
          prep["source"] == "prompts" and prep["rows"] == len(prompt_rows)
          and [x["level"] for x in prep["by_level"]] == ["1", "2"]
          and [x["prompts"] for x in prep["by_level"]] == [2, 3]
          and [x["splits"] for x in prep["by_level"]] == [2, 3 + 3 + 1],
          json.dumps([(x["level"], x["prompts"], x["splits"]) for x in prep["by_level"]]))
    check_depth_score("prompts pooled", prep, expected[None])
    for entry in prep["by_level"]:
        check_depth_score("prompts level %s" % entry["level"], entry,
                          expected[entry["level"]])
    print("prompts depth score: growc %.6f, reference %.6f"
          % (prep["score"], expected[None][2]))

    # Weight similarity.
    for group, entry in rep["weight_similarity"]["groups"].items():
        close("weight similarity " + group, as_array(entry["matrix"]),
              weight_similarity(weights, L, group), 0, 1e-6)

    # A layer of zeros contributes nothing, so skipping it changes nothing.
    if a.zero_layer >= 0:
        z = a.zero_layer
        check("zero layer: e_l = 0", abs(rep["depth_score"]["e"][z]) <= 1e-6,
              "e_%d = %g" % (z, rep["depth_score"]["e"][z]))
        check("zero layer: o_l = 0", abs(rep["depth_score"]["output_effect"][z]) <= 1e-6)

    # Invariant: skipping nothing is the clean model (same graph outputs).
    tok_path = os.path.join(a.tmp, "tokens.safetensors")
    ref.write_safetensors(tok_path, {"tokens": windows[0].astype(np.int32)})
    outs = {}
    for name, passes in (("plain", "growc-add-early-exit-heads"),
                         ("nothing", "growc-skip-layers{layers=},growc-add-early-exit-heads"),
                         ("until0", "growc-skip-layers{layers=1 until=0},"
                                    "growc-add-early-exit-heads")):
        so = os.path.join(a.tmp, name + ".so")
        out = os.path.join(a.tmp, name + ".safetensors")
        run([a.growc, model, "--graph=forward", "--analysis-passes=" + passes,
             "--batch", str(B), "--seq", str(T), "-o", so])
        run([a.growc_run, "forward", so, "--weights", wpath, "--tokens", tok_path,
             "--out", out, "--threads", "1"])
        outs[name] = ref.read_safetensors(out)
    for name in ("nothing", "until0"):
        worst = max(float(np.max(np.abs(np.asarray(outs[name][k]) - np.asarray(v))))
                    for k, v in outs["plain"].items())
        check("skip %s = clean outputs" % name, worst <= 1e-6, "max |diff| %.3g" % worst)

    if FAILURES:
        sys.exit("FAILED: %d checks: %s" % (len(FAILURES), ", ".join(FAILURES)))
    print("PASS")


if __name__ == "__main__":
    main()
