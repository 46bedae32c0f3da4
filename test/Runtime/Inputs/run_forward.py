#!/usr/bin/env python3
"""End-to-end CPU check: growc compiles a model to native kernels + plan,
growc-run executes it on a checkpoint, and the outputs match the independent
PyTorch reference (test/Reference/llama_reference.py, float64). With
--precision=bf16 in --growc-flags (the GPU-shaped bf16 kernels run on the
CPU) the tolerance is bf16's (--tolerance 1e-2) and --gemm-dtype BF16
checks that the plan's GEMMs really read bf16.

Optional growth (with the checkpoint migrated by growc) and analysis
rewrites (--analysis-passes, mirrored by --reference keyword arguments).
Tokens may be smaller than the compiled shape (--tokens-batch/--tokens-seq).
With --loss the loss graph is compiled (growc --graph=loss) and its mean
cross-entropy compared with torch.nn.functional.cross_entropy of the
reference logits, a quarter of the targets ignored (-100).
Several cases run in one process: COMMON-ARGS + CASE-ARGS + CASE-ARGS ...;
each prints "run-forward: case TMP" before its results.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

from e2e import add_model_arguments, cases, llama_reference, prepare_model, run


def check_case(argv):
    ap = argparse.ArgumentParser()
    add_model_arguments(ap)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--tokens-batch", type=int)
    ap.add_argument("--tokens-seq", type=int)
    ap.add_argument("--key-block", type=int, default=64)
    ap.add_argument("--analysis-passes", default="")
    ap.add_argument("--reference", default="{}")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--loss", action="store_true",
                    help="compile and check the loss graph")
    ap.add_argument("--run-flags", default="",
                    help="extra growc-run flags, e.g. '--threads 3'")
    ap.add_argument("--artifact", choices=["so", "ptx"], default="so",
                    help="ptx: compile for the GPU and run there (growc-run "
                    "picks the device from the artifact)")
    ap.add_argument("--growc-flags", default="",
                    help="extra compile flags, e.g. '--kernel-form=gpu'")
    ap.add_argument("--gemm-dtype", default="F32",
                    help="element type every GEMM of the plan must read "
                         "(BF16 with --precision=bf16)")
    a = ap.parse_args(argv)
    print("run-forward: case %s" % os.path.basename(a.tmp), flush=True)
    rng = np.random.default_rng(a.seed)
    config, model, weights_path, weights = prepare_model(a, rng)

    artifact = os.path.join(a.tmp, "art", "forward." + a.artifact)
    os.makedirs(os.path.dirname(artifact), exist_ok=True)
    cmd = [a.growc, model, "--batch", str(a.batch), "--seq", str(a.seq),
           "--key-block", str(a.key_block), "-o", artifact]
    if a.analysis_passes:
        cmd.append("--analysis-passes=" + a.analysis_passes)
    cmd += a.growc_flags.split()
    cmd.append("--graph=loss" if a.loss else "--graph=forward")
    run(cmd)
    plan = json.load(open(artifact + ".plan.json"))
    names = [o["name"] for o in plan["outputs"]]
    # The precision is the plan's: an fp32 GEMM names no dtypes.
    gemms = [s for s in plan["steps"] if s["op"] == "gemm"]
    for step in gemms:
        read = (step.get("a_dtype", "F32"), step.get("b_dtype", "F32"))
        if read != (a.gemm_dtype, a.gemm_dtype):
            sys.exit("FAIL: a GEMM reads %s x %s, expected %s" % (
                read + (a.gemm_dtype,)))
    if a.gemm_dtype != "F32":
        print("run-forward: %d GEMMs read %s operands" % (len(gemms), a.gemm_dtype))

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
              "below 1e-5" if worst < 1e-5 else "%.1e" % worst), flush=True)


def main():
    for argv in cases(sys.argv[1:]):
        check_case(argv)


if __name__ == "__main__":
    main()
