#!/usr/bin/env python3
"""CPU forward throughput: growc (native kernels + OpenBLAS via growc-run)
against PyTorch eager (Debian torch 1.13, the float32 reference model of
test/Reference/llama_reference.py) on the same weights, tokens and threads,
in one run. Also reports compile time (2 layers vs the full depth), kernels
per layer and the fraction of growc's time outside GEMMs.

  /usr/bin/python3 bench/cpu_forward.py [--config examples/smollm-135m/config.json]
      [--batch 4] [--seq 256] [--threads 2] [--repeat 3]
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


def run(cmd, env=None):
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit("bench: %s failed:\n%s" % (" ".join(cmd), result.stderr))
    return result


def timed(cmd):
    start = time.perf_counter()
    run(cmd)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=os.path.join(ROOT, "examples", "smollm-135m", "config.json"))
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    config = json.load(open(a.config))
    tmp = tempfile.mkdtemp(prefix="growc-bench-")
    growc = os.path.join(BIN, "growc")

    model = os.path.join(tmp, "model.mlir")
    shallow = os.path.join(tmp, "shallow.mlir")
    run([growc, "--import-hf-config", a.config, "-o", model])
    run([growc, "--import-hf-config", a.config, "--num-layers", "2", "-o", shallow])
    shape = ["--batch", str(a.batch), "--seq", str(a.seq)]
    t_full = min(timed([growc, model, "--graph=forward"] + shape + ["-o", os.path.join(tmp, "full.so")]) for _ in range(3))
    t_two = min(timed([growc, shallow, "--graph=forward"] + shape + ["-o", os.path.join(tmp, "two.so")]) for _ in range(3))
    plan = json.load(open(os.path.join(tmp, "full.so.plan.json")))
    layers = config["num_hidden_layers"]
    launches = sum(s["op"] == "kernel" for s in plan["steps"])

    weights = os.path.join(tmp, "weights.safetensors")
    run([growc, model, "--init-weights-out", weights, "--seed", "1"])
    tokens = np.random.default_rng(0).integers(0, config["vocab_size"], (a.batch, a.seq)).astype(np.int32)
    tokens_path = os.path.join(tmp, "tokens.safetensors")
    llama_reference.write_safetensors(tokens_path, {"tokens": tokens})

    # growc-run splits kernels and GEMMs over its own threads (OpenBLAS
    # single-threaded inside them).
    out = run([os.path.join(BIN, "growc-run"), "forward", os.path.join(tmp, "full.so"),
               "--weights", weights, "--tokens", tokens_path,
               "--out", os.path.join(tmp, "out.safetensors"), "--verbose",
               "--repeat", str(a.repeat), "--threads", str(a.threads)]).stderr
    growc_ms = float(re.search(r"forward ([0-9.]+) ms", out).group(1))
    gemm_ms = float(re.search(r"gemm\s+\d+ calls\s+([0-9.]+) ms", out).group(1))

    w = {k: torch.from_numpy(np.asarray(v)) for k, v in llama_reference.read_safetensors(weights).items()}

    def torch_forward_ms(threads):
        torch.set_num_threads(threads)
        best = float("inf")
        with torch.no_grad():
            for _ in range(a.repeat):
                start = time.perf_counter()
                llama_reference.forward(config, w, tokens, dtype=torch.float32)
                best = min(best, time.perf_counter() - start)
        return best * 1e3

    torch_ms = torch_forward_ms(a.threads)
    # PyTorch's intra-op threads come on top of OpenBLAS's own (one per
    # core): with one intra-op thread it may oversubscribe less. Reported
    # as a second baseline, the better of the two configurations.
    torch_one_ms = torch_forward_ms(1) if a.threads != 1 else torch_ms
    tokens_n = a.batch * a.seq
    print("model %s, B=%d, T=%d, %d threads" % (os.path.basename(os.path.dirname(a.config)), a.batch, a.seq, a.threads))
    print("compile: %d layers %.2f s, 2 layers %.2f s, ratio %.2fx" % (layers, t_full, t_two, t_full / t_two))
    print("kernels: %d in the artifact, %.1f launches per layer" % (len(plan["kernels"]), (launches - 1) / layers))
    print("growc forward   %8.1f ms  %8.0f tokens/s  (%.0f%% of the time outside GEMMs)" % (
        growc_ms, tokens_n / growc_ms * 1e3, 100 * (1 - gemm_ms / growc_ms)))
    print("PyTorch eager   %8.1f ms  %8.0f tokens/s  (torch.set_num_threads(%d))" % (
        torch_ms, tokens_n / torch_ms * 1e3, a.threads))
    if a.threads != 1:
        print("PyTorch eager   %8.1f ms  %8.0f tokens/s  (torch.set_num_threads(1), "
              "OpenBLAS still on every core)" % (torch_one_ms, tokens_n / torch_one_ms * 1e3))
    print("speedup vs PyTorch eager: %.2fx (same threads), %.2fx (vs its faster "
          "configuration)" % (torch_ms / growc_ms, min(torch_ms, torch_one_ms) / growc_ms))


if __name__ == "__main__":
    main()
