#!/usr/bin/env python3
"""GPU forward check and timing (issue: GPU execution), run by
scripts/gpu.sh on a GPU machine: random weights for a config (seeded, as the
numerical tests make them), growc-run forward on the PTX artifact with the
CUDA executor, logits against the float32 PyTorch reference
(test/Reference/llama_reference.py, on the CPU), and growc's best forward
time. Prints one JSON line. With --device=cpu and a .so artifact it checks
the same things on the CPU (how this script is tested without a GPU).

  python3 bench/gpu_forward.py --artifact A.ptx --config C.json
      [--layers L] [--batch B] [--seq T] [--growc-run PATH] [--device cuda]
      [--tolerance 1e-4]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "Reference"))
import llama_reference  # noqa: E402
from random_model import random_weights  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifact", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--layers", type=int, default=0)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--growc-run", default=os.path.join(ROOT, "build", "bin", "growc-run"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--tolerance", type=float, default=1e-4,
                    help="max relative error of the logits (1e-2 for bf16)")
    a = ap.parse_args()
    config = json.load(open(a.config))
    config.setdefault("num_key_value_heads", config["num_attention_heads"])
    config.setdefault("head_dim", config["hidden_size"] // config["num_attention_heads"])
    layers = a.layers or config["num_hidden_layers"]
    rng = np.random.default_rng(0)
    weights = random_weights(config, layers, rng)
    tokens = rng.integers(0, config["vocab_size"], (a.batch, a.seq)).astype(np.int32)
    tmp = tempfile.mkdtemp(prefix="growc-gpu-")
    wpath, tpath, opath = (os.path.join(tmp, n) for n in ("w.safetensors", "t.safetensors", "o.safetensors"))
    llama_reference.write_safetensors(wpath, weights)
    llama_reference.write_safetensors(tpath, {"tokens": tokens})
    result = subprocess.run([a.growc_run, "forward", a.artifact, "--device=" + a.device,
                             "--weights", wpath, "--tokens", tpath, "--out", opath,
                             "--repeat", str(a.repeat), "--verbose"], capture_output=True, text=True)
    if result.returncode != 0:
        print(json.dumps({"config": a.config, "error": result.stderr.strip()[-2000:]}))
        sys.exit(1)
    ms = float(re.search(r"forward ([0-9.]+) ms", result.stderr).group(1))
    logits = llama_reference.read_safetensors(opath)["logits"]
    reference = llama_reference.forward(config, weights, tokens)["logits"].numpy()
    rel = float(np.max(np.abs(logits - reference)) / np.max(np.abs(reference)))
    print(json.dumps({"config": os.path.basename(os.path.dirname(a.config)), "layers": layers,
                      "batch": a.batch, "seq": a.seq, "device": a.device,
                      "growc_ms": ms, "tokens_per_s": a.batch * a.seq / ms * 1e3,
                      "precision": "bf16" if ".bf16." in a.artifact else "fp32",
                      "max_rel_err": rel, "ok": rel < a.tolerance}))


if __name__ == "__main__":
    main()
