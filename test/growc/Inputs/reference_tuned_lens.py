#!/usr/bin/env python3
"""PyTorch re-implementation of growc-run analyze's tuned lens and period-b
metric (docs/analysis.md "Tuned lens" and "Periodicity"), checked against
`growc-run analyze --tuned-lens` on a tiny random model.

The script builds a random model (test/Reference/random_model.py), compiles
its analysis suite with growc, writes held-out windows as a u16 token file
(a sparse random Markov chain, so that the two halves of the tokens come
from one distribution the lens can learn), runs `growc-run analyze`, and
recomputes the tuned lens from test/Reference/llama_reference.py's own
float32 forward pass: per layer a float64 affine translator (identity and
zero at the start) trained by torch.optim.SGD (Nesterov momentum 0.9,
LambdaLR linear decay to 0, full batch) with autograd on the first half of
the tokens, evaluated on the second half. Checks per layer: top-5 overlap,
KL(p_lens || p_final), KL(p_final || p_lens), the logit lens on the same
tokens, the train objective before and after training; and the property
that the trained lens's eval KL(p_final || p_lens) is below the logit
lens's at every layer. The period-b metric is recomputed with numpy's FFT
(when b divides L - 1) or a least-squares sinusoid (otherwise) from the
report's residual series (which analysis-reference.test checks).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Reference"))
import llama_reference as ref  # noqa: E402
from random_model import random_weights  # noqa: E402
sys.path.insert(0, HERE)
from reference_metrics import FAILURES, check, close, run  # noqa: E402

# ---------------------------------------------------------------------------
# The tuned lens, with autograd
# ---------------------------------------------------------------------------

def lens_logits(x, A, b, norm_w, unembed, eps):
    y = x @ A.T + b
    y = y * torch.rsqrt((y * y).mean(-1, keepdim=True) + eps) * norm_w
    return y @ unembed.T


def kl(logp, logq):
    """KL(p || q) per token."""
    return (logp.exp() * (logp - logq)).sum(-1)


def tuned_lens(states, final, norm_w, unembed, eps, steps, lr):
    """states [N, d] float64, final logits [N, V]: the report's per-layer
    numbers for one layer."""
    n = states.shape[0] // 2
    lp_final = torch.log_softmax(final, -1)
    d = states.shape[1]
    A = torch.eye(d, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([A, b], lr=lr, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 - s / steps)

    def objective(lo, hi, A, b):
        z = lens_logits(states[lo:hi], A, b, norm_w, unembed, eps)
        return kl(lp_final[lo:hi], torch.log_softmax(z, -1)).mean()

    initial = None
    for step in range(steps):
        opt.zero_grad()
        loss = objective(0, n, A, b)
        if step == 0:
            initial = loss.item()
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        final_train = objective(0, n, A, b).item()
        out = {"train_kl_initial": final_train if initial is None else initial,
               "train_kl_final": final_train}
        for prefix, (At, bt) in (("", (A, b)),
                                 ("logit_lens_", (torch.eye(d, dtype=torch.float64),
                                                  torch.zeros(d, dtype=torch.float64)))):
            z = lens_logits(states[n:], At, bt, norm_w, unembed, eps)
            lp = torch.log_softmax(z, -1)
            out[prefix + "kl"] = kl(lp, lp_final[n:]).mean().item()
            out[prefix + "kl_final_lens"] = kl(lp_final[n:], lp).mean().item()
            if not prefix:
                top = torch.topk(z, 5, -1).indices
                top_final = torch.topk(final[n:], 5, -1).indices
                common = (top.unsqueeze(-1) == top_final.unsqueeze(-2)).any(-1).sum(-1)
                out["overlap_top5"] = (common.double() / 5).mean().item()
    return out


# ---------------------------------------------------------------------------
# The period-b metric
# ---------------------------------------------------------------------------

def period_fraction(series, b):
    x = np.asarray(series[1:], dtype=np.float64)
    n = len(x)
    if b <= 1 or b >= n or np.ptp(x) == 0:
        return None
    x = x - x.mean()
    if n % b == 0:
        power = np.abs(np.fft.fft(x)) ** 2
        k = n // b
        return float((power[k] + (power[n - k] if n - k != k else 0)) / power[1:].sum())
    i = np.arange(n)
    design = np.stack([np.ones(n), np.cos(2 * np.pi * i / b), np.sin(2 * np.pi * i / b)], 1)
    coef, *_ = np.linalg.lstsq(design, x, rcond=None)
    resid = x - design @ coef
    return float(1 - (resid ** 2).sum() / (x ** 2).sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--growc", required=True)
    ap.add_argument("--growc-run", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--block-size", type=int, default=2)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--lr", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tmp", required=True)
    a = ap.parse_args()
    os.makedirs(a.tmp, exist_ok=True)
    torch.manual_seed(0)
    rng = np.random.default_rng(a.seed)
    config = json.load(open(a.config))
    config.setdefault("num_key_value_heads", config["num_attention_heads"])
    config.setdefault("head_dim", config["hidden_size"] // config["num_attention_heads"])
    L, B, T, nwin = a.layers, 2, 64, 4

    model = os.path.join(a.tmp, "model.mlir")
    wpath = os.path.join(a.tmp, "w.safetensors")
    run([a.growc, "--import-hf-config", a.config, "--num-layers", str(L),
         "--block-size", str(a.block_size), "-o", model])
    weights = random_weights(config, L, rng)
    ref.write_safetensors(wpath, weights)
    suite = os.path.join(a.tmp, "suite.so")
    run([a.growc, model, "--analysis-suite", "--batch", str(B), "--seq", str(T),
         "--analysis-split", str(T // 2), "--quiet",
         "-o", suite])

    # Held-out tokens: a Markov chain over 32 tokens, two successors each.
    succ = rng.integers(0, 32, (32, 2))
    stream = np.zeros(nwin * B * T + 1, dtype=np.uint16)
    for i in range(1, len(stream)):
        stream[i] = succ[stream[i - 1], rng.integers(0, 2)]
    data = os.path.join(a.tmp, "heldout.u16")
    stream.tofile(data)
    # growc-run reads consecutive [B, T] windows: token j of the stream.
    windows = [stream[w * B * T:(w + 1) * B * T].astype(np.int64).reshape(B, T)
               for w in range(nwin)]

    report_path = os.path.join(a.tmp, "report.json")
    run([a.growc_run, "analyze", suite, "--weights", wpath, "--out", report_path,
         "--depth", "0", "--shots", "0", "--count", "4", "--data", "u16:" + data,
         "--windows", str(nwin), "--threads", "1", "--tuned-lens",
         "--tuned-lens-steps", str(a.steps), "--tuned-lens-lr", str(a.lr)])
    rep = json.load(open(report_path))
    tl = rep["tuned_lens"]

    outputs = ["logits"] + ["hidden.%d" % l for l in range(L)]
    fw = [ref.forward(config, weights, w, outputs=outputs) for w in windows]
    cat = {k: torch.cat([f[k].reshape(B * T, -1) for f in fw], 0).double()
           for k in outputs}
    N = nwin * B * T
    check("token counts", tl["train_tokens"] == N // 2 and tl["eval_tokens"] == N - N // 2,
          "%d + %d" % (tl["train_tokens"], tl["eval_tokens"]))
    # The suite manifest records the model's epsilon.
    check("epsilon from the suite", abs(tl["rms_norm_eps"] - config["rms_norm_eps"]) < 1e-12,
          "%.6g" % tl["rms_norm_eps"])
    norm_w = torch.tensor(weights["model.norm.weight"], dtype=torch.float64)
    unembed = torch.tensor(weights.get("lm_head.weight", weights["model.embed_tokens.weight"]),
                           dtype=torch.float64)
    per = [tuned_lens(cat["hidden.%d" % l], cat["logits"], norm_w, unembed,
                      config["rms_norm_eps"], a.steps, a.lr) for l in range(L)]
    ex = {k: [p[k] for p in per] for k in per[0]}
    # The translators' inputs differ at float32 rounding (two forward
    # passes); SGD carries that through smoothly, so the trained lens's KLs
    # agree to 1e-4 relative, and top-5 sets differ only at near-ties.
    for key in ("train_kl_initial", "train_kl_final", "kl", "kl_final_lens",
                "logit_lens_kl", "logit_lens_kl_final_lens"):
        close("tuned lens " + key, tl[key], ex[key], 1e-4, 1e-7)
    close("tuned lens overlap_top5", tl["overlap_top5"], ex["overlap_top5"], 0, 4e-3)
    check("logit lens on the eval half matches the suite's lens at the input",
          rep["logit_lens"]["at"] == "input")
    check("training lowers the objective at every layer",
          all(f < i for f, i in zip(tl["train_kl_final"], tl["train_kl_initial"])))
    check("tuned lens beats the logit lens on held-out tokens at every layer",
          all(t < g for t, g in zip(tl["kl_final_lens"], tl["logit_lens_kl_final_lens"])),
          "tuned %s vs logit %s" % (["%.3f" % x for x in tl["kl_final_lens"]],
                                    ["%.3f" % x for x in tl["logit_lens_kl_final_lens"]]))

    per_b = rep["periodicity"]
    check("periodicity period = block size", per_b["period"] == a.block_size)
    for key in ("rel_attn", "rel_mlp", "rel_delta", "cos_attn", "cos_mlp"):
        expected = period_fraction(rep["residual"][key], a.block_size)
        got = per_b["series"][key]
        ok = (got is None) == (expected is None) and (
            got is None or abs(got - expected) <= 1e-9)
        check("periodicity " + key, ok, "growc %s, reference %s" % (got, expected))

    print("FAIL" if FAILURES else "PASS")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
