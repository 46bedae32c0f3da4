"""Checks `growc-run cost --json` against numbers derived without it.

    check_cost.py CONFIG.json PLAN.json COST.json exact|blocks|frozen

From the Hugging Face config alone: the model's GEMM FLOPs (6 · N · tokens,
N the weights of the decoder's seven projections and the LM head). From the
plan's JSON, read here independently of the runtime: the graph nodes (one
per kernel, GEMM and attention step, one per entry point of an
attention_grad step (prep and main), three per adamw step, none per
all_reduce, plus one device copy per output named like a
parameter that is not in the parameter's buffer; each micro-batch one
call), the executed GEMM FLOPs (2·m·n·k), the attention FLOPs (whole 64x64
tiles up to the diagonal: 4 per pair and head dimension forward, 10 in the
two-launch backward), and the adamw step's bytes (its
regions' N floats, R = 4·N bytes, from the buffers of its params list:
per call R for the squared norm and 4 per scalar; the update R of
gradients, 6·R of parameters and moments and R/2 of the parameters' bf16
copies (`bf16_params`) on the applying call, R of gradient sums with
accumulation), and the pure cast launches (kernels whose two arguments are
an F32 tensor and a BF16 one of as many elements). `exact`:
the executed GEMMs are the model's; `blocks`: so are they with the
cross-entropy in blocks of token rows, whose logit GEMMs (one per block,
[rows, V]) are counted; `frozen`:
the compiler left out the GEMMs of frozen weights (growc --trainable), and
the executed GEMMs are exactly those the cost model says the model needs.
Beside those: one [1, tokens] x [tokens, D] GEMM per trained RMSNorm
weight, its gradient (counted and checked apart).
Prints one line per property; a mismatch exits 1.
"""

import json
import sys


def main():
    config_path, plan_path, cost_path, mode = sys.argv[1:]
    config = json.load(open(config_path))
    plan = json.load(open(plan_path))
    cost = json.load(open(cost_path))
    counted = cost["counted"]
    failed = False

    def check(what, got, expected):
        nonlocal failed
        ok = got == expected
        failed |= not ok
        print(f"{what}: {'ok' if ok else 'MISMATCH'} {got} (expected {expected})")

    d = config["hidden_size"]
    heads = config["num_attention_heads"]
    kv_heads = config["num_key_value_heads"]
    head_dim = config.get("head_dim", d // heads)
    inter = config["intermediate_size"]
    layer = d * heads * head_dim * 2 + d * kv_heads * head_dim * 2 + 3 * d * inter
    vocab = config["vocab_size"]
    n = config["num_hidden_layers"] * layer + vocab * d
    # A train graph's step is all its micro-batches, each one call.
    calls = plan.get("micro_batches", 1)
    tokens = plan["batch"] * plan["seq"] * calls
    model = 6 * n * tokens
    check("tokens", cost["tokens"], tokens)
    check("matmul params", counted["matmul_params"], n)
    check("model gemm flops", counted["model_gemm_flops"], model)

    steps = plan["steps"]
    param_buffers = {p["name"]: p["buffer"] for p in plan["params"]}
    copies = sum(1 for o in plan["outputs"]
                 if o["name"] in param_buffers
                 and o["buffer"] != param_buffers[o["name"]])
    # attention_grad: one launch per library entry point (prep and main).
    launches = sum(len(s["symbols"]) if s["op"] == "attention_grad" else
                   {"kernel": 1, "gemm": 1, "attention": 1, "adamw": 3,
                    "all_reduce": 0}[s["op"]] for s in steps)
    check("nodes", counted["nodes"], calls * (launches + copies))
    check("copies", counted["copies"], calls * copies)
    buffers = plan["buffers"]
    optimizer = 0
    for s in steps:
        if s["op"] != "adamw":
            continue
        first, last = buffers[s["params"][0]], buffers[s["params"][-1]]
        region = last["offset"] + last["size"] - first["offset"]
        sums = region if s.get("grad_sums") else 0
        scalars = 4 * sum(1 for key in ("lr", "step", "apply", "loss_nonfinite",
                                        "grad_norm", "nonfinite") if s[key] >= 0)
        # The applying call also writes the parameters' bf16 copies (2 bytes
        # per element of the region) under mixed precision.
        copies_bf16 = region // 2 if s.get("bf16_params") else 0
        optimizer += (calls * (region + scalars + region + sums)
                      + 6 * region + copies_bf16)
    kinds = {k["kind"]: k for k in counted["kinds"]}
    check("optimizer nodes", kinds["optimizer"]["nodes"],
          calls * 3 * sum(1 for s in steps if s["op"] == "adamw"))
    check("optimizer bytes", kinds["optimizer"]["bytes"], optimizer)
    # Pure casts: kernels whose only work is an F32 tensor's BF16 copy.
    kernels = plan["kernels"]

    def pure_cast(kernel):
        args = kernel["args"]
        count = [1] * len(args)
        for i, arg in enumerate(args):
            for d in arg["shape"]:
                count[i] *= d
        return (len(args) == 2 and args[0]["dtype"] == "F32"
                and args[1]["dtype"] == "BF16" and count[0] == count[1])
    casts = calls * sum(1 for s in steps if s["op"] == "kernel"
                        and pure_cast(kernels[s["kernel"]]))
    check("pure casts", counted["pure_cast_launches"], casts)
    executed = calls * sum(2 * s["m"] * s["n"] * s["k"]
                           for s in steps if s["op"] == "gemm")
    check("gemm flops", counted["gemm_flops"], executed)
    # Each trained RMSNorm weight's gradient is a column sum in its dx
    # kernel on the GPU (docs/gpu.md), not a GEMM of the rows' inverse RMS
    # [1, tokens] by a [tokens, D] product: no GEMM with m = 1, and one
    # kernel step per trained norm passes the plan's one zeroed buffer (the
    # completion counter of its last block).
    norms = [p for p in plan["params"]
             if p["name"].endswith("norm.weight")
             and not p["name"].startswith("optimizer.")
             and not p.get("frozen", False)]
    norm_gemms = [s for s in steps if s["op"] == "gemm" and s["m"] == 1]
    zeroed = [b["id"] for b in plan["buffers"] if b.get("zeroed")]
    counting = sum(1 for s in steps
                   if s["op"] == "kernel" and set(zeroed) & set(s["args"]))
    check("norm weight gradients", (len(norm_gemms), len(zeroed), counting),
          (0, 1 if norms else 0, len(norms)))
    # Attention: whole 64x64 tiles up to the diagonal, per pair and head
    # dimension 4 FLOPs forward (S, PV), 10 in the backward (5 products
    # reading the saved LSE: S, dP, dV, dK, dQ).
    attention = 0
    for s in steps:
        if s["op"] not in ("attention", "attention_grad"):
            continue
        tiles = -(-s["seq_len"] // 64)
        pairs = 64 * 64 * tiles * (tiles + 1) // 2
        per_pair = 4 if s["op"] == "attention" else 10
        attention += per_pair * pairs * s["batch"] * s["heads"] * s["head_dim"]
    check("attention flops", counted["attention_flops_executed"],
          calls * attention)
    # The backward's main pass (per launch; the report gives the first's
    # grid): a block per key tile, query head and sample
    # (FlashAttention.cu), key tile t taking tiles - t tile pairs.
    grads = [s for s in steps if s["op"] == "attention_grad"]
    expected = []
    if grads:
        s = grads[0]
        tiles = -(-s["seq_len"] // 64)
        copies = s["heads"] * s["batch"]
        expected = [(calls * len(grads), tiles * copies,
                     tiles * (tiles + 1) // 2 * copies)]
    check("attention backward blocks",
          [(b["launches"], b["blocks"], b["tile_pairs"])
           for b in cost["predicted"]["attention_balance"]
           if b["pass"] == "backward"], expected)
    if mode == "frozen":
        check("frozen", counted["frozen_params"] > 0, True)
        check("executed == needed < model",
              executed == counted["needed_gemm_flops"] < model, True)
    else:
        check("executed == model", executed == model, True)
    if mode == "blocks":
        logit_gemms = [s for s in steps
                       if s["op"] == "gemm" and s["n"] == vocab and s["trans_b"]]
        check("logit GEMMs", len(logit_gemms), 3)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
