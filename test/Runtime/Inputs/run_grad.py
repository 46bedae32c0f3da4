#!/usr/bin/env python3
"""End-to-end check of the grad graph: growc --graph=grad compiles the loss
and the gradient of every parameter, growc-run runs it on the CPU, and every
number is compared with PyTorch autograd through the independent reference
model (test/Reference/llama_reference.py, float64) and
torch.nn.functional.cross_entropy (ignore_index -100, a quarter of the
targets ignored). Optionally on a grown model with its migrated checkpoint.
Several cases run in one process: COMMON-ARGS + CASE-ARGS + CASE-ARGS ...;
each prints "run-grad: case TMP" before its results.
"""
import argparse
import json
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
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--artifact", choices=["so", "ptx"], default="so",
                    help="ptx: compile for the GPU and run there (growc-run "
                    "picks the device from the artifact)")
    ap.add_argument("--growc-flags", default="",
                    help="extra compile flags for both graphs, e.g. "
                    "'--loss-rows=4'")
    ap.add_argument("--ln-scaling", action="store_true",
                    help="compile with growc-scale-layer-norms and compare "
                    "with the reference's LayerNorm-Scaling")
    ap.add_argument("--bf16-autocast-bound", type=float, default=0,
                    help="bf16 artifacts: a gradient may also be off by this "
                    "many times the worst error of PyTorch's own bf16 "
                    "autocast gradients (both against float64), since bf16 "
                    "rounding alone exceeds the tolerance")
    ap.add_argument("--fd-params", type=int, default=3,
                    help="parameters to spot-check by finite differences")
    ap.add_argument("--tokens", choices=["uniform", "same", "zipf"],
                    default="uniform",
                    help="input token ids: uniform, one id for every token "
                    "(every embedding gradient row into one table row), or "
                    "Zipf-like (p(rank r) ~ 1/r: a few ids most of the time)")
    a = ap.parse_args(argv)
    print("run-grad: case %s" % os.path.basename(a.tmp), flush=True)
    rng = np.random.default_rng(a.seed)
    config, model, weights_path, weights = prepare_model(a, rng)
    if a.ln_scaling:
        a.growc_flags += " --analysis-passes=growc-scale-layer-norms"

    artifact = os.path.join(a.tmp, "grad." + a.artifact)
    run([a.growc, model, "--graph=grad", "--batch", str(a.batch), "--seq", str(a.seq),
         "-o", artifact] + a.growc_flags.split())
    plan = json.load(open(artifact + ".plan.json"))

    tokens, targets = random_batch(config, a.batch, a.seq, rng)
    if a.tokens == "same":
        tokens[:] = config["vocab_size"] - 2
    elif a.tokens == "zipf":
        vocab = config["vocab_size"]
        p = 1.0 / np.arange(1, vocab + 1)
        ids = rng.permutation(vocab)
        tokens = ids[rng.choice(vocab, tokens.shape, p=p / p.sum())].astype(np.int32)
    batch_path = os.path.join(a.tmp, "batch.safetensors")
    out_path = os.path.join(a.tmp, "out.safetensors")
    llama_reference.write_safetensors(batch_path, {"tokens": tokens, "targets": targets})
    run([a.growc_run, "grad", artifact, "--weights", weights_path,
         "--batch", batch_path, "--out", out_path])
    got = llama_reference.read_safetensors(out_path)

    params, loss = reference_loss(config, weights, tokens, targets,
                                  ln_scaling=a.ln_scaling)

    expected = {"loss": loss.detach().reshape(1).numpy()}
    for name, tensor in params.items():
        expected["grad." + name] = tensor.grad.numpy()
    if sorted(expected) != sorted(got):
        raise SystemExit("FAIL: outputs %s, expected %s" % (sorted(got), sorted(expected)))
    # With one id for every token, every position's values are equal, so
    # attention weights do not matter and the q and k projections'
    # gradients are zero in exact arithmetic (fp32 leaves rounding noise
    # there): errors are taken relative to at least a thousandth of the
    # largest gradient.
    floor = 1e-30
    if a.tokens == "same":
        floor = 1e-3 * max(np.abs(w).max() for n, w in expected.items()
                           if n.startswith("grad."))
    # PyTorch's own bf16 (CPU autocast, float32 master weights): how far
    # bf16 rounding alone takes each gradient from the float64 reference.
    autocast_err = {}
    if a.bf16_autocast_bound:
        ac = {k: torch.tensor(v, dtype=torch.float32, requires_grad=True)
              for k, v in weights.items()}
        with torch.autocast("cpu", dtype=torch.bfloat16):
            ac_logits = llama_reference.forward(config, ac, tokens, dtype=torch.float32,
                                                differentiable=True)["logits"]
        ac_loss = torch.nn.functional.cross_entropy(
            ac_logits.float().reshape(-1, ac_logits.shape[-1]),
            torch.from_numpy(targets.astype(np.int64)).reshape(-1), ignore_index=-100)
        ac_loss.backward()
        for name, tensor in ac.items():
            want = expected["grad." + name]
            autocast_err["grad." + name] = (
                np.abs(tensor.grad.double().numpy() - want).max() /
                max(np.abs(want).max(), floor))
    worst, worst_name = 0.0, ""
    for name, want in expected.items():
        have = np.asarray(got[name], dtype=np.float64)
        if have.shape != want.shape:
            raise SystemExit("FAIL: %s has shape %s, reference %s" % (name, have.shape, want.shape))
        err = np.abs(have - want).max() / max(np.abs(want).max(), floor)
        if err > worst:
            worst, worst_name = err, name
        bound = max(a.tolerance,
                    a.bf16_autocast_bound * max(autocast_err.values(), default=0.0))
        if not err < bound:
            raise SystemExit("FAIL: %s: relative error %.3g >= %g" % (name, err, bound))
    # Finite differences through growc itself: the loss graph, compiled
    # from the same model, at weights nudged by ±eps in the entries with the
    # largest gradients (central differences, float32, so a loose bound).
    loss_artifact = os.path.join(a.tmp, "loss." + a.artifact)
    run([a.growc, model, "--graph=loss", "--batch", str(a.batch), "--seq", str(a.seq),
         "-o", loss_artifact] + a.growc_flags.split())

    def growc_loss(nudged):
        path = os.path.join(a.tmp, "nudged.safetensors")
        out = os.path.join(a.tmp, "loss.safetensors")
        llama_reference.write_safetensors(path, nudged)
        run([a.growc_run, "forward", loss_artifact, "--weights", path,
             "--batch", batch_path, "--out", out])
        return float(np.asarray(llama_reference.read_safetensors(out)["loss"])[0])

    checked = 0
    for name in sorted(weights)[: a.fd_params]:
        grad = np.asarray(got["grad." + name], dtype=np.float64)
        index = np.unravel_index(np.argmax(np.abs(grad)), grad.shape)
        eps = 1e-2
        plus = dict(weights)
        plus[name] = weights[name].copy()
        plus[name][index] += eps
        minus = dict(weights)
        minus[name] = weights[name].copy()
        minus[name][index] -= eps
        estimate = (growc_loss(plus) - growc_loss(minus)) / (2 * eps)
        if not abs(estimate - grad[index]) <= 0.05 * abs(grad[index]) + 1e-4:
            raise SystemExit("FAIL: finite difference of %s%s: %.6g vs gradient %.6g"
                             % (name, list(index), estimate, grad[index]))
        checked += 1
    print("run-grad: %d finite-difference spot checks agree" % checked)
    print("run-grad: loss and %d gradients match PyTorch autograd with %d kernels "
          "and %d steps (worst relative error %s)" % (
              len(expected) - 1, len(plan["kernels"]), len(plan["steps"]),
              "below 1e-5" if worst < 1e-5 else "%.1e in %s" % (worst, worst_name)))
    if autocast_err:
        print("run-grad: PyTorch bf16 autocast's worst relative error: %.1e" %
              max(autocast_err.values()))
    sys.stdout.flush()


def main():
    for argv in cases(sys.argv[1:]):
        check_case(argv)


if __name__ == "__main__":
    main()
