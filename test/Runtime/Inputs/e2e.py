"""Shared set-up of the end-to-end checks (run_forward.py, run_grad.py,
run_train_step.py): run a command, build a model with random weights
(optionally grown by growc with its checkpoint migrated), draw a batch, and
the reference loss with autograd."""
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


def cases(argv):
    """Splits COMMON + CASE + CASE ... (a lone "+" between them) into one
    argument list per case, each COMMON followed by that case's arguments,
    so a test runs all its cases in one process (torch imports once). No
    "+": one case."""
    parts, start = [], 0
    for i, arg in enumerate(argv + ["+"]):
        if arg == "+":
            parts.append(argv[start:i])
            start = i + 1
    if len(parts) == 1:
        return parts
    return [parts[0] + case for case in parts[1:]]


def add_model_arguments(ap):
    ap.add_argument("--growc", required=True)
    ap.add_argument("--growc-run", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--block-size", type=int, default=1)
    ap.add_argument("--grow", default="")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tmp", required=True)


def prepare_model(a, rng):
    """Returns (config, model.mlir, weights path, {name: float32 array})."""
    os.makedirs(a.tmp, exist_ok=True)
    config = json.load(open(a.config))
    config.setdefault("num_key_value_heads", config["num_attention_heads"])
    config.setdefault("head_dim", config["hidden_size"] // config["num_attention_heads"])
    model = os.path.join(a.tmp, "model.mlir")
    weights_path = os.path.join(a.tmp, "weights.safetensors")
    run([a.growc, "--import-hf-config", a.config, "--num-layers", str(a.layers),
         "--block-size", str(a.block_size), "-o", model])
    llama_reference.write_safetensors(weights_path, random_weights(config, a.layers, rng))
    if a.grow:
        grown, grown_weights = (os.path.join(a.tmp, "grown.mlir"),
                                os.path.join(a.tmp, "grown.safetensors"))
        run([a.growc, model] + a.grow.split() + ["--quiet", "--weights-in", weights_path,
             "--weights-out", grown_weights, "--emit=mlir", "-o", grown])
        model, weights_path = grown, grown_weights
    weights = {k: np.asarray(v, dtype=np.float32)
               for k, v in llama_reference.read_safetensors(weights_path).items()}
    return config, model, weights_path, weights


def random_batch(config, batch, seq, rng):
    """Tokens and targets (int32 [batch, seq]), a quarter of targets -100."""
    tokens = rng.integers(0, config["vocab_size"], (batch, seq)).astype(np.int32)
    targets = rng.integers(0, config["vocab_size"], (batch, seq)).astype(np.int32)
    targets[rng.random((batch, seq)) < 0.25] = -100
    return tokens, targets


def mean_cross_entropy(config, params, tokens, targets, ln_scaling=False):
    """The reference model's mean cross-entropy (float64, differentiable)
    over {name: parameter tensor}."""
    logits = llama_reference.forward(config, params, tokens, dtype=torch.float64,
                                     differentiable=True, ln_scaling=ln_scaling)["logits"]
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        torch.from_numpy(targets.astype(np.int64)).reshape(-1), ignore_index=-100)


def reference_loss(config, weights, tokens, targets, ln_scaling=False):
    """The reference model's mean cross-entropy in float64 with autograd run:
    returns ({name: parameter tensor with .grad}, loss)."""
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
              for k, v in weights.items()}
    loss = mean_cross_entropy(config, params, tokens, targets, ln_scaling)
    loss.backward()
    return params, loss
