#!/usr/bin/env python3
"""GPU training checks and train-step timing (issue: GPU execution), run by
scripts/gpu.sh on a GPU machine; with --device=cpu and .so artifacts it runs
the same checks on the CPU (how this script is tested without a GPU).

  1. grad: growc-run grad on the grad artifact against PyTorch autograd
     (the independent reference model test/Reference/llama_reference.py in
     float64 on the CPU): the loss and every parameter's gradient, worst
     relative error (max |diff| / max |reference| per tensor);
  2. a short training run: --steps train-step calls on one fixed batch, each
     from the previous step's checkpoint, at learning rate 1e-3: the loss
     must fall;
  3. the optimizer step's time in the training loop (growc-run train on
     random tokens, --metrics' step_ms, the median after two warm-up
     steps: parameters and moments stay on the device, only the loss comes
     back) against PyTorch eager and, where it works, torch.compile, both
     on --torch-device: the same model (a compact Llama with
     scaled_dot_product_attention), loss, backward, clip_grad_norm_(1),
     AdamW(fused where available); with --precision bf16, PyTorch runs
     under bf16 autocast. Also the model FLOPs utilisation where the GPU's
     peak is known (6 N per token for the N GEMM parameters, LM head
     included, plus 6 T d per layer and token for causal attention).

The grad artifact may be of either precision (--grad-tolerance: 1e-4 for
fp32, the check the table reports). Prints one JSON line.

  python3 bench/gpu_train.py --grad A.grad.ptx --train A.train.ptx
      --config C.json [--layers L] --batch B --seq T [--device cuda]
      [--torch-device cuda] [--growc-run PATH] [--steps 8] [--repeat 10]
      [--precision fp32|bf16] [--no-check] [--no-compile] [--profile P.json]

--profile also runs growc-run train-step --profile-json P.json: where the
step's time goes, with the memory-bound kernels' bandwidth against the
device's copy bandwidth and each GEMM against the fastest cuBLASLt
candidate for its shape; the row gets the summary.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "Reference"))
import llama_reference  # noqa: E402
from random_model import random_weights  # noqa: E402


def growc_run(args):
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(args[:2]), result.stderr.strip()[-2000:]))
    return result.stderr


def rel_err(got, want):
    scale = float(np.max(np.abs(want))) or 1.0
    return float(np.max(np.abs(np.asarray(got, np.float64) - want))) / scale


def check_grads(a, config, weights, tokens, targets, tmp, wpath, bpath):
    out = os.path.join(tmp, "grad.safetensors")
    growc_run([a.growc_run, "grad", a.grad, "--device=" + a.device, "--weights", wpath,
               "--batch", bpath, "--out", out])
    got = llama_reference.read_safetensors(out)
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
              for k, v in weights.items()}
    logits = llama_reference.forward(config, params, tokens, dtype=torch.float64,
                                     differentiable=True)["logits"]
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        torch.from_numpy(targets.astype(np.int64)).reshape(-1), ignore_index=-100)
    loss.backward()
    worst = rel_err(got["loss"], loss.detach().reshape(1).numpy())
    for name, p in params.items():
        key = "grad." + name
        if key not in got:
            raise RuntimeError("grad output lacks " + key)
        worst = max(worst, rel_err(got[key], p.grad.numpy()))
    return worst, float(loss)


def short_run(a, tmp, wpath, bpath):
    losses, current = [], wpath
    for step in range(1, a.steps + 1):
        out = os.path.join(tmp, "step%d.safetensors" % step)
        growc_run([a.growc_run, "train-step", a.train, "--device=" + a.device,
                   "--weights", current, "--batch", bpath, "--lr", "1e-3",
                   "--step", str(step), "--out", out])
        state = llama_reference.read_safetensors(out)
        losses.append(float(state.pop("loss")[0]))
        # The next step starts from the updated weights and moments.
        current = os.path.join(tmp, "state%d.safetensors" % step)
        llama_reference.write_safetensors(current, state)
    return losses


def attention(q, k, v):
    """Causal attention: PyTorch's fused kernel where it has one (2.x)."""
    sdpa = getattr(torch.nn.functional, "scaled_dot_product_attention", None)
    if sdpa is not None:
        return sdpa(q, k, v, is_causal=True)
    T = q.shape[-2]
    scores = (q @ k.transpose(-1, -2)) / q.shape[-1] ** 0.5
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), -1) @ v


class Llama(torch.nn.Module):
    """The timing baseline: the same Llama as llama_reference (pre-norm
    RMSNorm, rotate-half RoPE, GQA causal attention, SwiGLU, tied or untied
    head) on any device, written for speed rather than as the reference."""

    def __init__(self, config, weights, layers, device):
        super().__init__()
        self.c = config
        self.layers = layers
        self.p = torch.nn.ParameterDict({
            k.replace(".", "__"): torch.nn.Parameter(torch.tensor(np.asarray(v), device=device))
            for k, v in weights.items()})
        hd = config["head_dim"]
        inv = 1.0 / (config.get("rope_theta", 10000.0) ** (
            torch.arange(0, hd, 2, device=device, dtype=torch.float32) / hd))
        self.inv = inv
        self.head = ("lm_head.weight" if "lm_head.weight" in weights
                     else "model.embed_tokens.weight")

    def w(self, name):
        return self.p[name.replace(".", "__")]

    def norm(self, x, w):
        eps = self.c.get("rms_norm_eps", 1e-6)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def forward(self, tokens):
        c = self.c
        B, T = tokens.shape
        H, KV, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        h = torch.nn.functional.embedding(tokens, self.w("model.embed_tokens.weight"))
        freqs = torch.outer(torch.arange(T, device=tokens.device, dtype=torch.float32), self.inv)
        emb = torch.cat([freqs, freqs], -1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]

        def rope(x):
            x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
            return x * cos + torch.cat([-x2, x1], -1) * sin

        for i in range(self.layers):
            p = "model.layers.%d." % i
            n = self.norm(h, self.w(p + "input_layernorm.weight"))
            q = (n @ self.w(p + "self_attn.q_proj.weight").t()).view(B, T, H, hd).transpose(1, 2)
            k = (n @ self.w(p + "self_attn.k_proj.weight").t()).view(B, T, KV, hd).transpose(1, 2)
            v = (n @ self.w(p + "self_attn.v_proj.weight").t()).view(B, T, KV, hd).transpose(1, 2)
            q, k = rope(q), rope(k)
            k = k.repeat_interleave(H // KV, 1)
            v = v.repeat_interleave(H // KV, 1)
            o = attention(q, k, v)
            h = h + o.transpose(1, 2).reshape(B, T, H * hd) @ self.w(p + "self_attn.o_proj.weight").t()
            n = self.norm(h, self.w(p + "post_attention_layernorm.weight"))
            g = n @ self.w(p + "mlp.gate_proj.weight").t()
            u = n @ self.w(p + "mlp.up_proj.weight").t()
            h = h + (torch.nn.functional.silu(g) * u) @ self.w(p + "mlp.down_proj.weight").t()
        h = self.norm(h, self.w("model.norm.weight"))
        return h @ self.w(self.head).t()


# Dense peak FLOP/s by device name and precision (NVIDIA's data sheets,
# SXM parts; fp32 without TF32, which cuBLASLt's CUBLAS_COMPUTE_32F does
# not use).
PEAKS = {"H100": {"bf16": 989.4e12, "fp32": 66.9e12},
         "H200": {"bf16": 989.4e12, "fp32": 66.9e12}}


def model_flops_per_token(config, layers, seq):
    """Training FLOPs per token: 6 per GEMM parameter and token (forward
    and backward), plus causal attention's 6 T d per layer (scores and
    values, half the positions, times three)."""
    d, H, KV, hd = (config["hidden_size"], config["num_attention_heads"],
                    config["num_key_value_heads"], config["head_dim"])
    ffn, V = config["intermediate_size"], config["vocab_size"]
    per_layer = d * H * hd + 2 * d * KV * hd + H * hd * d + 3 * d * ffn
    gemm_params = layers * per_layer + V * d
    return 6 * gemm_params + 6 * layers * seq * H * hd


def growc_loop_step_ms(a, config, tmp, wpath):
    """The median optimizer step of growc-run train on random tokens."""
    rng = np.random.default_rng(1)
    data = os.path.join(tmp, "tokens.u32")
    rng.integers(0, config["vocab_size"], (a.repeat + 3) * a.batch * (a.seq + 1) + 1,
                 dtype=np.uint32).astype("<u4").tofile(data)
    metrics = os.path.join(tmp, "loop.jsonl")
    growc_run([a.growc_run, "train", a.train, "--device=" + a.device, "--weights", wpath,
               "--data", "u32:" + data, "--steps", str(a.repeat + 2), "--lr", "1e-3",
               "--metrics", metrics, "--out", os.path.join(tmp, "loop.safetensors")])
    steps = [json.loads(l) for l in open(metrics) if l.strip()]
    times = sorted(r["step_ms"] for r in steps[2:] if "step_ms" in r)
    if not times:
        raise RuntimeError("growc-run train wrote no step_ms metrics")
    return times[len(times) // 2]


def torch_step_ms(a, config, weights, layers, tokens, targets, compiled):
    device = torch.device(a.torch_device)
    model = Llama(config, weights, layers, device)
    fn = torch.compile(model) if compiled else model
    params = list(model.parameters())
    try:
        opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.95), eps=1e-8,
                                weight_decay=0.01, fused=device.type == "cuda")
    except (TypeError, RuntimeError):
        opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.95), eps=1e-8,
                                weight_decay=0.01)
    t = torch.tensor(tokens.astype(np.int64), device=device)
    y = torch.tensor(targets.astype(np.int64), device=device).reshape(-1)
    # The baseline must compute what growc does.
    with torch.no_grad():
        got = model(t).float().cpu().numpy()
    want = llama_reference.forward(config, weights, tokens)["logits"].numpy()
    if rel_err(got, want) > 1e-3:
        raise RuntimeError("the PyTorch baseline's logits differ from the reference "
                           "(%.2e)" % rel_err(got, want))

    autocast = (torch.autocast(device.type, dtype=torch.bfloat16)
                if a.precision == "bf16" else None)

    def step():
        opt.zero_grad(set_to_none=True)
        if autocast is not None:
            with autocast:
                logits = fn(t)
        else:
            logits = fn(t)
        loss = torch.nn.functional.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]), y, ignore_index=-100)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(3):  # warm-up (and compilation)
        step()
    sync()
    best = float("inf")
    for _ in range(a.repeat):
        start = time.perf_counter()
        step()
        sync()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grad", help="grad artifact (growc --graph=grad); needed unless --no-check")
    ap.add_argument("--train", required=True, help="train artifact (growc --graph=train)")
    ap.add_argument("--config", required=True)
    ap.add_argument("--layers", type=int, default=0)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--growc-run", default=os.path.join(ROOT, "build", "bin", "growc-run"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--torch-device", default="cuda")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="the train artifact's (PyTorch runs under bf16 autocast to match)")
    ap.add_argument("--grad-tolerance", type=float, default=1e-4)
    ap.add_argument("--profile", help="write growc-run's step profile (JSON) here")
    ap.add_argument("--label", help="the row's name (default: the config's directory)")
    ap.add_argument("--no-check", action="store_true",
                    help="timing only: skip the float64 gradient reference "
                    "(minutes on the CPU at full size)")
    a = ap.parse_args()
    if not a.no_check and not a.grad:
        ap.error("--grad is needed for the gradient check (or --no-check)")
    config = json.load(open(a.config))
    config.setdefault("num_key_value_heads", config["num_attention_heads"])
    config.setdefault("head_dim", config["hidden_size"] // config["num_attention_heads"])
    layers = a.layers or config["num_hidden_layers"]
    rng = np.random.default_rng(0)
    weights = random_weights(config, layers, rng)
    tokens = rng.integers(0, config["vocab_size"], (a.batch, a.seq)).astype(np.int32)
    targets = np.roll(tokens, -1, axis=1).astype(np.int32)
    targets[:, -1] = -100
    tmp = tempfile.mkdtemp(prefix="growc-gpu-train-")
    wpath, bpath = os.path.join(tmp, "w.safetensors"), os.path.join(tmp, "b.safetensors")
    llama_reference.write_safetensors(wpath, weights)
    llama_reference.write_safetensors(bpath, {"tokens": tokens, "targets": targets})
    row = {"config": a.label or os.path.basename(os.path.dirname(a.config)), "layers": layers,
           "batch": a.batch, "seq": a.seq, "device": a.device, "precision": a.precision}
    try:
        if not a.no_check:
            row["grad_max_rel_err"], row["loss"] = check_grads(
                a, config, weights, tokens, targets, tmp, wpath, bpath)
        row["losses"] = short_run(a, tmp, wpath, bpath)
        row["growc_step_ms"] = growc_loop_step_ms(a, config, tmp, wpath)
        if a.profile:
            growc_run([a.growc_run, "train-step", a.train, "--device=" + a.device,
                       "--weights", wpath, "--batch", bpath, "--lr", "1e-3", "--step", "1",
                       "--out", os.path.join(tmp, "profiled.safetensors"), "--repeat", "3",
                       "--profile-json", a.profile])
            profile = json.load(open(a.profile))
            row["profile"] = {k: v for k, v in profile.items() if k != "groups"}
    except RuntimeError as e:
        row["error"] = str(e)
        print(json.dumps(row))
        sys.exit(1)
    row["torch_eager_ms"] = torch_step_ms(a, config, weights, layers, tokens, targets, False)
    if not a.no_compile:
        try:
            row["torch_compile_ms"] = torch_step_ms(a, config, weights, layers, tokens,
                                                    targets, True)
        except Exception as e:  # torch.compile needs a working Triton/C++ toolchain
            row["torch_compile_error"] = str(e).splitlines()[0][:200]
    row["tokens_per_s"] = a.batch * a.seq / row["growc_step_ms"] * 1e3
    if a.device == "cuda" and torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        row["gpu"] = name
        peak = next((p[a.precision] for k, p in PEAKS.items() if k in name), None)
        if peak:
            flops = model_flops_per_token(config, layers, a.seq) * row["tokens_per_s"]
            row["mfu"] = flops / peak
    row["loss_falls"] = row["losses"][-1] < 0.9 * row["losses"][0]
    row["ok"] = (row.get("grad_max_rel_err", 0.0) < a.grad_tolerance
                 and row["loss_falls"])
    print(json.dumps(row))


if __name__ == "__main__":
    main()
