"""Checks `growc-run cost --json` against numbers derived without it.

    check_cost.py CONFIG.json PLAN.json COST.json exact|blocks|frozen

From the Hugging Face config alone: the model's GEMM FLOPs (6 · N · tokens,
N the weights of the decoder's seven projections and the LM head). From the
plan's JSON, read here independently of the runtime: the graph nodes (one
per kernel, GEMM and attention step, three per attention_grad step, none
per all_reduce, plus one device copy per output named like a parameter;
each micro-batch one call) and the executed GEMM FLOPs (2·m·n·k). `exact`:
the executed GEMMs are the model's; `blocks`: so are they with the
cross-entropy in blocks of token rows, whose logit GEMMs (one per block,
[rows, V]) are counted; `frozen`:
the compiler left out the GEMMs of frozen weights (growc --trainable), and
the executed GEMMs are exactly those the cost model says the model needs.
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
    params = {p["name"] for p in plan["params"]}
    copies = sum(1 for o in plan["outputs"] if o["name"] in params)
    launches = sum({"kernel": 1, "gemm": 1, "attention": 1,
                    "attention_grad": 3, "all_reduce": 0}[s["op"]] for s in steps)
    check("nodes", counted["nodes"], calls * (launches + copies))
    check("copies", counted["copies"], calls * copies)
    executed = calls * sum(2 * s["m"] * s["n"] * s["k"]
                           for s in steps if s["op"] == "gemm")
    check("gemm flops", counted["gemm_flops"], executed)
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
