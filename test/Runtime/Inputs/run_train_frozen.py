#!/usr/bin/env python3
"""Checks training only part of a model (growc --trainable=SPEC): two train
steps (growc-run train-step at steps 1 and 2) against PyTorch with
requires_grad=False on the frozen parameters: the loss, the gradient norm of
the trainable parameters only (what clip_grad_norm_ over them returns), and
two AdamW steps of the trainable parameters with their moments; frozen
parameters have no outputs and no moments. Then growc-run train's own loop
for 2 steps: its checkpoint keeps the frozen weights bit for bit and holds
moments of the trainable parameters only. Cases as in run_train_step.py:
COMMON-ARGS + CASE-ARGS + CASE-ARGS ...
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

from check_frozen_checkpoint import report
from e2e import (add_model_arguments, cases, llama_reference, mean_cross_entropy,
                 prepare_model, random_batch, run)


def train_step(a, artifact, weights, tokens, targets, step, name):
    start = os.path.join(a.tmp, name + ".in.safetensors")
    llama_reference.write_safetensors(start, weights)
    batch = os.path.join(a.tmp, name + ".batch.safetensors")
    llama_reference.write_safetensors(batch, {"tokens": tokens, "targets": targets})
    out = os.path.join(a.tmp, name + ".out.safetensors")
    run([a.growc_run, "train-step", artifact, "--weights", start, "--batch", batch,
         "--lr", repr(a.lr), "--step", str(step), "--out", out])
    return llama_reference.read_safetensors(out)


def check_case(argv):
    ap = argparse.ArgumentParser()
    add_model_arguments(ap)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--trainable", required=True)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    # The second AdamW update divides moments that cancel where the two
    # steps' gradients nearly do (m ~ 1e-8 beside 1e-2): fp32 rounding of
    # the gradients moves such an element's update by ~1e-4 of the largest
    # one. The moments themselves, the loss and the norm keep --tolerance.
    ap.add_argument("--update-tolerance", type=float, default=1e-3)
    a = ap.parse_args(argv)
    print("run-train-frozen: case %s" % os.path.basename(a.tmp), flush=True)
    rng = np.random.default_rng(a.seed)
    config, model, weights_path, weights = prepare_model(a, rng)
    artifact = os.path.join(a.tmp, "train.so")
    run([a.growc, model, "--graph=train", "--trainable=" + a.trainable, "--batch",
         str(a.batch), "--seq", str(a.seq), "-o", artifact])
    plan = json.load(open(artifact + ".plan.json"))
    frozen = {p["name"] for p in plan["params"] if p.get("frozen")}
    trained = [n for n in weights if n not in frozen]
    print("run-train-frozen: %d of %d parameters frozen: %s" % (
        len(frozen), len(weights), " ".join(sorted(
            {n.split(".")[2] if n.startswith("model.layers.") else n for n in frozen},
            key=lambda s: (not s.isdigit(), s)))), flush=True)

    # Two steps of growc: the second from the first's trained weights and
    # moments, with the frozen weights as they were.
    batches = [random_batch(config, a.batch, a.seq, rng) for _ in range(2)]
    got1 = train_step(a, artifact, weights, *batches[0], 1, "step1")
    unexpected = [k for k in got1 if any(k.endswith("." + f) or k == f for f in frozen)]
    if unexpected:
        raise SystemExit("FAIL: outputs of frozen parameters: %s" % unexpected[:4])
    second = dict(weights)
    second.update({k: v for k, v in got1.items()
                   if k in weights or k.startswith("optimizer.")})
    got2 = train_step(a, artifact, second, *batches[1], 2, "step2")

    # PyTorch: the frozen parameters do not require grad, and the optimizer
    # and the clip see only the others.
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k not in frozen)
              for k, v in weights.items()}
    trainable = [params[n] for n in trained]
    optimizer = torch.optim.AdamW(trainable, lr=a.lr, betas=(0.9, 0.95), eps=1e-8,
                                  weight_decay=0.01, foreach=False)
    expected = []
    for tokens, targets in batches:
        optimizer.zero_grad()
        loss = mean_cross_entropy(config, params, tokens, targets)
        loss.backward()
        if any(params[n].grad is not None for n in frozen):
            raise SystemExit("FAIL: the reference computed a frozen gradient")
        norm = torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        expected.append((loss.item(), norm.item()))

    worst = 0.0
    for step, (got, (loss, norm)) in enumerate(zip((got1, got2), expected), 1):
        for name, want in (("loss", loss), ("grad_norm", norm)):
            err = abs(float(got[name][0]) - want) / abs(want)
            worst = max(worst, err)
            if not err < a.tolerance:
                raise SystemExit("FAIL: step %d %s: %r, torch %r" % (step, name, got[name][0], want))
    want_names = set(trained) | {"optimizer.%s.%s" % (k, n) for n in trained
                                 for k in ("exp_avg", "exp_avg_sq")}
    have_names = {k for k in got2 if k not in ("loss", "nonfinite", "grad_norm")}
    if have_names != want_names:
        raise SystemExit("FAIL: step 2 outputs %s, expected %s" % (
            sorted(have_names ^ want_names)[:4], "the trainable parameters and moments"))
    for name in trained:
        p = params[name]
        state = optimizer.state[p]
        for key, want, base, tolerance in (
                (name, p.detach().numpy(), weights[name], a.update_tolerance),
                ("optimizer.exp_avg." + name, state["exp_avg"].numpy(), 0, a.tolerance),
                ("optimizer.exp_avg_sq." + name, state["exp_avg_sq"].numpy(), 0, a.tolerance)):
            # Weights move by ~lr: compare the update, not the weight.
            have = np.asarray(got2[key], dtype=np.float64) - base
            want = want - base
            err = np.abs(have - want).max() / max(np.abs(want).max(), 1e-30)
            worst = max(worst, err)
            if not err < tolerance:
                raise SystemExit("FAIL: %s: relative error %.3g >= %g" % (key, err, tolerance))
    print("run-train-frozen: 2 AdamW steps of %d trainable parameters match torch with "
          "requires_grad=False on the %d frozen ones (worst relative error %s)" % (
              len(trained), len(frozen), "below 1e-5" if worst < 1e-5 else "%.1e" % worst),
          flush=True)

    # growc-run train's loop: frozen weights saved unchanged, moments only
    # for what trains.
    out, data = (os.path.join(a.tmp, "loop.safetensors"),
                 os.path.join(a.tmp, "tokens.u16"))
    rng.integers(0, config["vocab_size"], 4096).astype("<u2").tofile(data)
    result = run([a.growc_run, "train", artifact, "--weights", weights_path,
                  "--data", "u16:" + data, "--steps", "2", "--out", out])
    print(result.stderr.splitlines()[0], flush=True)
    print("run-train-frozen: loop: " + report(artifact + ".plan.json", weights_path, out),
          flush=True)


def main():
    for argv in cases(sys.argv[1:]):
        check_case(argv)


if __name__ == "__main__":
    main()
