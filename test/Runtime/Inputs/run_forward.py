#!/usr/bin/env python3
"""End-to-end CPU check: growc compiles a model to native kernels + plan,
growc-run executes it on a checkpoint, and the outputs match the independent
PyTorch reference (test/Reference/llama_reference.py, float64).

Optional growth (with the checkpoint migrated by growc) and analysis
rewrites (--analysis-passes, mirrored by --reference keyword arguments).
Tokens may be smaller than the compiled shape (--tokens-batch/--tokens-seq).
With --loss the loss graph is compiled (growc --graph=loss) and its mean
cross-entropy compared with torch.nn.functional.cross_entropy of the
reference logits, a quarter of the targets ignored (-100).
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Reference"))
import llama_reference  # noqa: E402
from random_model import random_weights  # noqa: E402


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("FAIL: %s\n%s" % (" ".join(cmd), result.stderr[-4000:]))
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--growc", required=True)
    ap.add_argument("--growc-run", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--block-size", type=int, default=1)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--tokens-batch", type=int)
    ap.add_argument("--tokens-seq", type=int)
    ap.add_argument("--key-block", type=int, default=64)
    ap.add_argument("--grow", default="")
    ap.add_argument("--analysis-passes", default="")
    ap.add_argument("--reference", default="{}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--loss", action="store_true",
                    help="compile and check the loss graph")
    ap.add_argument("--run-flags", default="",
                    help="extra growc-run flags, e.g. '--threads 3'")
    ap.add_argument("--growc-flags", default="",
                    help="extra compile flags, e.g. '--kernel-form=gpu'")
    a = ap.parse_args()
    os.makedirs(a.tmp, exist_ok=True)
    config = json.load(open(a.config))
    config.setdefault("num_key_value_heads", config["num_attention_heads"])
    config.setdefault("head_dim", config["hidden_size"] // config["num_attention_heads"])

    rng = np.random.default_rng(a.seed)
    model = os.path.join(a.tmp, "model.mlir")
    weights_path = os.path.join(a.tmp, "weights.safetensors")
    run([a.growc, "--import-hf-config", a.config, "--num-layers", str(a.layers),
         "--block-size", str(a.block_size), "-o", model])
    weights = random_weights(config, a.layers, rng)
    llama_reference.write_safetensors(weights_path, weights)
    if a.grow:
        grown, grown_weights = (os.path.join(a.tmp, "grown.mlir"),
                                os.path.join(a.tmp, "grown.safetensors"))
        run([a.growc, model] + a.grow.split() + ["--quiet", "--weights-in", weights_path,
             "--weights-out", grown_weights, "--emit=mlir", "-o", grown])
        model, weights_path = grown, grown_weights
        weights = {k: np.asarray(v, dtype=np.float32) for k, v in
                   llama_reference.read_safetensors(weights_path).items()}

    artifact = os.path.join(a.tmp, "art", "forward.so")
    os.makedirs(os.path.dirname(artifact), exist_ok=True)
    cmd = [a.growc, model, "--batch", str(a.batch), "--seq", str(a.seq),
           "--key-block", str(a.key_block), "-o", artifact]
    if a.analysis_passes:
        cmd.append("--analysis-passes=" + a.analysis_passes)
    cmd += a.growc_flags.split()
    if a.loss:
        cmd.append("--graph=loss")
    run(cmd)
    plan = json.load(open(os.path.join(a.tmp, "art", "forward.plan.json")))
    names = [o["name"] for o in plan["outputs"]]

    b = a.tokens_batch or a.batch
    t = a.tokens_seq or a.seq
    tokens = rng.integers(0, config["vocab_size"], (b, t)).astype(np.int32)
    tokens_path = os.path.join(a.tmp, "tokens.safetensors")
    out_path = os.path.join(a.tmp, "out.safetensors")
    inputs = {"tokens": tokens}
    if a.loss:
        targets = rng.integers(0, config["vocab_size"], (b, t)).astype(np.int32)
        targets[rng.random((b, t)) < 0.25] = -100
        inputs["targets"] = targets
    llama_reference.write_safetensors(tokens_path, inputs)
    run([a.growc_run, "forward", artifact, "--weights", weights_path,
         "--tokens", tokens_path, "--out", out_path] + a.run_flags.split())
    got = llama_reference.read_safetensors(out_path)

    if a.loss:
        logits = llama_reference.forward(config, weights, tokens, dtype=torch.float64,
                                         **json.loads(a.reference))["logits"]
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            torch.from_numpy(targets.astype(np.int64)).reshape(-1), ignore_index=-100)
        ref = {"loss": loss.reshape(1)}
    else:
        ref = llama_reference.forward(config, weights, tokens, outputs=tuple(names),
                                      dtype=torch.float64, **json.loads(a.reference))
    worst = 0.0
    for name in names:
        want = ref[name].detach().numpy()
        have = np.asarray(got[name], dtype=np.float64)
        if have.shape != want.shape:
            sys.exit("FAIL: output %s has shape %s, reference %s" % (
                name, have.shape, want.shape))
        err = np.abs(have - want).max() / max(np.abs(want).max(), 1e-30)
        worst = max(worst, err)
        if not err < a.tolerance:
            sys.exit("FAIL: output %s: relative error %.3g >= %g" % (name, err, a.tolerance))
    if a.loss:
        print("run-forward: the loss matches PyTorch's cross_entropy (%.6f)" % float(
            ref["loss"][0]))
    print("run-forward: %d outputs match the PyTorch reference with %d kernels "
          "and %d steps (worst relative error %s)" % (
              len(names), len(plan["kernels"]), len(plan["steps"]),
              "below 1e-5" if worst < 1e-5 else "%.1e" % worst))


if __name__ == "__main__":
    main()
