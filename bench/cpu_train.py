#!/usr/bin/env python3
"""CPU training-step throughput: growc's train graph (growc --graph=train,
growc-run train-step: loss, backward, clipping, AdamW) against PyTorch 1.13
eager (reference model of test/Reference/llama_reference.py in float32,
autograd, clip_grad_norm_, torch.optim.AdamW) on the same weights, batch
and threads, in one run. Also reports growc's compile time, the GEMM vs
non-GEMM split and 1 -> N thread scaling.

  /usr/bin/python3 bench/cpu_train.py [--config examples/tiny/config.json]
      [--layers L] [--batch 4] [--seq 64] [--threads 2] [--repeat 3]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "Reference"))
import llama_reference  # noqa: E402

BIN = os.path.join(os.environ.get("GROWC_BUILD_DIR", os.path.join(ROOT, "build")), "bin")


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("bench: %s failed:\n%s" % (" ".join(cmd), result.stderr))
    return result


def growc_step(artifact, weights, batch, threads, repeat, tmp):
    out = run([os.path.join(BIN, "growc-run"), "train-step", artifact,
               "--weights", weights, "--batch", batch, "--lr", "1e-3", "--step", "1",
               "--out", os.path.join(tmp, "next.safetensors"), "--verbose",
               "--repeat", str(repeat), "--threads", str(threads)]).stderr
    total = float(re.search(r"step ([0-9.]+) ms", out).group(1))
    gemm = float(re.search(r"gemm\s+\d+ calls\s+([0-9.]+) ms", out).group(1))
    return total, gemm


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=os.path.join(ROOT, "examples", "tiny", "config.json"))
    ap.add_argument("--layers", type=int)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    config = json.load(open(a.config))
    config.setdefault("num_key_value_heads", config["num_attention_heads"])
    config.setdefault("head_dim", config["hidden_size"] // config["num_attention_heads"])
    growc = os.path.join(BIN, "growc")
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "model.mlir")
        layers = ["--num-layers", str(a.layers)] if a.layers else []
        run([growc, "--import-hf-config", a.config, "-o", model] + layers)
        artifact = os.path.join(tmp, "train.so")
        start = time.perf_counter()
        run([growc, model, "--graph=train", "--batch", str(a.batch), "--seq", str(a.seq),
             "-o", artifact])
        compile_s = time.perf_counter() - start
        weights = os.path.join(tmp, "weights.safetensors")
        run([growc, model, "--init-weights-out", weights, "--seed", "1"])
        rng = np.random.default_rng(0)
        tokens = rng.integers(0, config["vocab_size"], (a.batch, a.seq)).astype(np.int32)
        targets = np.roll(tokens, -1, axis=1)
        batch = os.path.join(tmp, "batch.safetensors")
        llama_reference.write_safetensors(batch, {"tokens": tokens, "targets": targets})

        growc_ms, gemm_ms = growc_step(artifact, weights, batch, a.threads, a.repeat, tmp)
        growc_one_ms, _ = (growc_step(artifact, weights, batch, 1, a.repeat, tmp)
                           if a.threads != 1 else (growc_ms, gemm_ms))

        torch.set_num_threads(a.threads)
        w = {k: torch.tensor(np.asarray(v), requires_grad=True)
             for k, v in llama_reference.read_safetensors(weights).items()}
        params = list(w.values())
        optimizer = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.95), eps=1e-8,
                                      weight_decay=0.01)
        target_tensor = torch.from_numpy(targets.astype(np.int64)).reshape(-1)
        best = float("inf")
        for _ in range(a.repeat):
            start = time.perf_counter()
            optimizer.zero_grad()
            logits = llama_reference.forward(config, w, tokens, dtype=torch.float32,
                                             differentiable=True)["logits"]
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), target_tensor)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            best = min(best, time.perf_counter() - start)
        torch_ms = best * 1e3

    tokens_n = a.batch * a.seq
    name = os.path.basename(os.path.dirname(a.config))
    print("model %s%s, B=%d, T=%d, %d threads" % (
        name, " (%d layers)" % a.layers if a.layers else "", a.batch, a.seq, a.threads))
    print("compile the train step: %.2f s" % compile_s)
    print("growc train step  %9.1f ms  %8.0f tokens/s  (%.0f%% outside GEMMs; "
          "1 thread %.1f ms: %.2fx scaling)" % (
              growc_ms, tokens_n / growc_ms * 1e3, 100 * (1 - gemm_ms / growc_ms),
              growc_one_ms, growc_one_ms / growc_ms))
    print("PyTorch eager     %9.1f ms  %8.0f tokens/s" % (torch_ms, tokens_n / torch_ms * 1e3))
    print("speedup vs PyTorch eager: %.2fx" % (torch_ms / growc_ms))


if __name__ == "__main__":
    main()
