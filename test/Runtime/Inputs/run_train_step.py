#!/usr/bin/env python3
"""Checks growc's training step (growc --graph=train, growc-run train-step):
the loss, the gradient norm (the grad_norm output: what clip_grad_norm_
returns), gradients clipped at global norm 1.0 and one AdamW step
(betas 0.9/0.95, eps 1e-8, weight decay 0.01) against PyTorch autograd,
torch.nn.utils.clip_grad_norm_ and torch.optim.AdamW on the independent
reference model (float64). --step > 1 starts from given moments (bias
correction of a later step); otherwise the moments start at zero.
Several cases run in one process: COMMON-ARGS + CASE-ARGS + CASE-ARGS ...;
each prints "run-train-step: case TMP" before its result.
"""
import argparse
import os
import sys

import numpy as np
import torch

from e2e import (add_model_arguments, cases, llama_reference, prepare_model,
                 random_batch, reference_loss, run)


def check_case(argv):
    ap = argparse.ArgumentParser()
    add_model_arguments(ap)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--step", type=int, default=1)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--growc-flags", default="",
                    help="extra compile flags, e.g. '--loss-rows=4'")
    a = ap.parse_args(argv)
    print("run-train-step: case %s" % os.path.basename(a.tmp), flush=True)
    rng = np.random.default_rng(a.seed)
    config, model, weights_path, weights = prepare_model(a, rng)

    checkpoint = dict(weights)
    moments = {}
    if a.step > 1:  # a run in progress: moments of earlier steps
        for name, w in weights.items():
            moments[name] = (rng.normal(0, 1e-2, w.shape).astype(np.float32),
                             rng.uniform(0, 1e-4, w.shape).astype(np.float32))
            checkpoint["optimizer.exp_avg." + name] = moments[name][0]
            checkpoint["optimizer.exp_avg_sq." + name] = moments[name][1]
    start_path = os.path.join(a.tmp, "start.safetensors")
    llama_reference.write_safetensors(start_path, checkpoint)

    artifact = os.path.join(a.tmp, "train.so")
    run([a.growc, model, "--graph=train", "--batch", str(a.batch), "--seq", str(a.seq),
         "-o", artifact] + a.growc_flags.split())
    tokens, targets = random_batch(config, a.batch, a.seq, rng)
    batch_path = os.path.join(a.tmp, "batch.safetensors")
    llama_reference.write_safetensors(batch_path, {"tokens": tokens, "targets": targets})
    out_path = os.path.join(a.tmp, "next.safetensors")
    run([a.growc_run, "train-step", artifact, "--weights", start_path,
         "--batch", batch_path, "--lr", repr(a.lr), "--step", str(a.step),
         "--out", out_path])
    got = llama_reference.read_safetensors(out_path)

    params, loss = reference_loss(config, weights, tokens, targets)
    grad_norm = torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
    optimizer = torch.optim.AdamW(list(params.values()), lr=a.lr, betas=(0.9, 0.95),
                                  eps=1e-8, weight_decay=0.01, foreach=False)
    if a.step > 1:
        for name, p in params.items():
            optimizer.state[p] = {
                "step": torch.tensor(float(a.step - 1)),
                "exp_avg": torch.tensor(moments[name][0], dtype=torch.float64),
                "exp_avg_sq": torch.tensor(moments[name][1], dtype=torch.float64)}
    optimizer.step()

    # The step is finite: its non-finite flag is 0 (docs/training.md); its
    # gradient norm is what clip_grad_norm_ returns (before clipping).
    expected = {"loss": loss.detach().reshape(1).numpy(),
                "nonfinite": np.zeros(1),
                "grad_norm": grad_norm.detach().reshape(1).numpy()}
    for name, p in params.items():
        state = optimizer.state[p]
        expected[name] = p.detach().numpy()
        expected["optimizer.exp_avg." + name] = state["exp_avg"].numpy()
        expected["optimizer.exp_avg_sq." + name] = state["exp_avg_sq"].numpy()
    if sorted(expected) != sorted(got):
        raise SystemExit("FAIL: outputs %s, expected %s" % (sorted(got), sorted(expected)))
    worst, worst_name = 0.0, ""
    for name, want in expected.items():
        have = np.asarray(got[name], dtype=np.float64)
        # Weights move by ~lr: compare the update, not the weight itself.
        if name in weights:
            have, want = have - weights[name], want - weights[name]
        err = np.abs(have - want).max() / max(np.abs(want).max(), 1e-30)
        if name == "nonfinite":
            err = np.abs(have - want).max()
        if err > worst:
            worst, worst_name = err, name
        if not err < a.tolerance:
            raise SystemExit("FAIL: %s: relative error %.3g >= %g" % (name, err, a.tolerance))
    print("run-train-step: loss, gradient norm, %d updated weights and their AdamW "
          "moments match torch.optim.AdamW at step %d (worst relative error %s)" % (
              len(weights), a.step,
              "below 1e-5" if worst < 1e-5 else "%.1e in %s" % (worst, worst_name)),
          flush=True)


def main():
    for argv in cases(sys.argv[1:]):
        check_case(argv)


if __name__ == "__main__":
    main()
