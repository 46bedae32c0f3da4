#!/usr/bin/env python3
"""Checks the metrics lines of growc-run train (docs/training.md, "Metrics")
on a token file, whose first batch is known: the file's first B*T*M tokens
(M micro-batches), the targets one token on. The first step's loss and
gradient norm must be the reference model's on that batch (float64
autograd; the norm is what torch.nn.utils.clip_grad_norm_ returns). Every
line must carry the throughput and time fields with sane values: tokens/s
positive, model TFLOP/s equal to 6N + 12LTd FLOPs per token at the step's
rate, MFU against --peak-tflops (null without it, on a CPU), an ISO-8601
UTC time naming the same millisecond as unix_time, times in order.
"""
import argparse
import datetime
import json
import os

import numpy as np
import torch

from e2e import add_model_arguments, llama_reference, prepare_model, reference_loss, run


def flops_per_token(config, layers, seq, weights):
    """growc's FlopModel: 6 per token and parameter of the layers and the
    unembedding (V x d), plus attention's 12 L T d_attn (PaLM, appendix B)."""
    layer0 = sum(w.size for k, w in weights.items() if k.startswith("model.layers.0."))
    head = config["vocab_size"] * config["hidden_size"]
    attention = config["num_attention_heads"] * config["head_dim"]
    return 6 * (layers * layer0 + head) + 12 * layers * seq * attention


def main():
    ap = argparse.ArgumentParser()
    add_model_arguments(ap)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--accumulate", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--peak-tflops", type=float)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    config, model, weights_path, weights = prepare_model(a, rng)

    artifact = os.path.join(a.tmp, "train.so")
    flags = ["--accumulate", str(a.accumulate)] if a.accumulate > 1 else []
    run([a.growc, model, "--graph=train", "--batch", str(a.batch), "--seq", str(a.seq),
         "-o", artifact] + flags)
    rows = a.batch * a.accumulate
    n = rows * a.seq
    data = rng.integers(0, config["vocab_size"], n * a.steps + 1).astype("<u2")
    data_path = os.path.join(a.tmp, "tokens.u16")
    data.tofile(data_path)
    metrics = os.path.join(a.tmp, "m.jsonl")
    extra = ["--peak-tflops", repr(a.peak_tflops)] if a.peak_tflops else []
    run([a.growc_run, "train", artifact, "--threads", "1", "--weights", weights_path,
         "--data", "u16:" + data_path, "--steps", str(a.steps), "--metrics", metrics,
         "--out", os.path.join(a.tmp, "c.safetensors")] + extra)
    lines = [json.loads(line) for line in open(metrics)]
    if [r["step"] for r in lines] != list(range(1, a.steps + 1)):
        raise SystemExit("FAIL: steps %s" % [r["step"] for r in lines])

    tokens = data[:n].astype(np.int32).reshape(rows, a.seq)
    targets = data[1:n + 1].astype(np.int32).reshape(rows, a.seq)
    params, loss = reference_loss(config, weights, tokens, targets)
    norm = float(torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0))
    first = lines[0]
    for name, want in (("loss", float(loss)), ("grad_norm", norm)):
        err = abs(first[name] - want) / abs(want)
        if not err < a.tolerance:
            raise SystemExit("FAIL: step 1 %s %r, the reference's %r (relative error %.3g)"
                             % (name, first[name], want, err))

    layers = sum(1 for k in weights if k.endswith(".input_layernorm.weight"))
    per_token = flops_per_token(config, layers, a.seq, weights)
    times = []
    for r in lines:
        problems = []
        if not (r["tokens_per_s"] > 0 and r["step_tokens_per_s"] > 0 and r["step_ms"] > 0):
            problems.append("tokens/s or step time not positive")
        if not r["grad_norm"] > 0:
            problems.append("grad_norm %r" % r["grad_norm"])
        tflops = per_token * r["step_tokens_per_s"] / 1e12
        if abs(r["model_tflops"] - tflops) > 1e-3 * tflops:
            problems.append("model_tflops %r, expected %r" % (r["model_tflops"], tflops))
        if a.peak_tflops is None:
            if r["mfu"] is not None:
                problems.append("mfu %r without a peak" % r["mfu"])
        elif r["mfu"] is None or not (
                abs(r["mfu"] - r["model_tflops"] / a.peak_tflops) <= 1e-5 * r["mfu"]):
            problems.append("mfu %r, model_tflops %r / %r" % (r["mfu"], r["model_tflops"],
                                                               a.peak_tflops))
        at = datetime.datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
        if at.replace(tzinfo=datetime.timezone.utc).timestamp() != r["unix_time"]:
            problems.append("time %s is not unix_time %r" % (r["time"], r["unix_time"]))
        if not r["elapsed_s"] > 0:
            problems.append("elapsed_s %r" % r["elapsed_s"])
        if problems:
            raise SystemExit("FAIL: step %d: %s" % (r["step"], "; ".join(problems)))
        times.append((r["unix_time"], r["elapsed_s"]))
    if times != sorted(times):
        raise SystemExit("FAIL: times out of order: %s" % times)
    print("train-metrics: %d steps; step 1 loss and gradient norm match the reference "
          "(clip_grad_norm_ %.4g); throughput, mfu %s and times sane"
          % (len(lines), norm, "null" if a.peak_tflops is None else "against the peak"))


if __name__ == "__main__":
    main()
