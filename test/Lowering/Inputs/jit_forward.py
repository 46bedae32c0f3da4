#!/usr/bin/env python3
"""Runs growc's tensor-level forward function on the CPU JIT and compares it
with the independent PyTorch reference (test/Reference/llama_reference.py).

The model is imported and lowered by growc (growc-lower-model-to-tensors),
wrapped in a `main` that feeds seeded random weights and tokens as constants
and prints every output, lowered to LLVM with upstream MLIR passes and run by
mlir-runner. Analysis rewrites given with --passes are applied before the
lowering and mirrored in the reference call.
Several cases run in one process: COMMON-ARGS + CASE-ARGS + CASE-ARGS ...;
each prints "jit-forward: case TMP" before its result.
"""
import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Reference"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Runtime", "Inputs"))
import llama_reference  # noqa: E402
from e2e import cases  # noqa: E402
from random_model import random_weights  # noqa: E402

LLVM_LIB = "/usr/lib/llvm-22/lib"
LOWER_TO_LLVM = [
    "--growc-lower-library-calls-to-linalg",
    "--one-shot-bufferize=bufferize-function-boundaries "
    "allow-return-allocs-from-loops "
    "function-boundary-type-conversion=identity-layout-map",
    "--convert-linalg-to-loops", "--scf-forall-to-for", "--convert-scf-to-cf",
    "--expand-strided-metadata", "--lower-affine",
    "--finalize-memref-to-llvm", "--convert-math-to-llvm",
    "--convert-arith-to-llvm", "--convert-index-to-llvm",
    "--convert-cf-to-llvm", "--convert-func-to-llvm",
    "--reconcile-unrealized-casts",
]


def run(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        sys.exit("FAIL: %s\n%s" % (" ".join(cmd), result.stderr[-4000:]))
    return result.stdout


def dense(array, mlir_type):
    if array.dtype == np.int32:
        body = np.array2string(array, separator=",", threshold=1 << 30,
                               max_line_width=1 << 30)
    else:
        body = np.array2string(array, separator=",", threshold=1 << 30,
                               max_line_width=1 << 30,
                               formatter={"float_kind": lambda x: "%.9e" % x})
    return "dense<%s> : %s" % (body.replace("\n", ""), mlir_type)


def tensor_type(shape, elem):
    return "tensor<%s%s>" % ("".join("%dx" % s for s in shape), elem)


def parse_prints(text):
    """Every printMemrefF32 block as a flat float list, in order."""
    blocks = re.split(r"Unranked Memref[^\n]*\n", text)[1:]
    out = []
    for block in blocks:
        numbers = re.findall(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)", block)
        out.append(np.array([float(x) for x in numbers], dtype=np.float64))
    return out


def check_case(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--growc", required=True)
    ap.add_argument("--growc-opt", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--key-block", type=int, default=64)
    ap.add_argument("--passes", default="",
                    help="growc-opt passes applied before lowering, separated by ';'")
    ap.add_argument("--reference", default="{}",
                    help="JSON of keyword arguments for the reference")
    ap.add_argument("--grow", default="",
                    help="growc growth options, e.g. '--grow=lidas --grow-steps=2': "
                         "the grown model runs on the checkpoint growc migrated")
    ap.add_argument("--no-fuse", action="store_true",
                    help="run the unfused tensor IR (no growc-form-kernels)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    a = ap.parse_args(argv)
    print("jit-forward: case %s" % os.path.basename(a.tmp), flush=True)
    os.makedirs(a.tmp, exist_ok=True)
    config = json.load(open(a.config))
    config.setdefault("num_key_value_heads", config["num_attention_heads"])
    config.setdefault("head_dim", config["hidden_size"] // config["num_attention_heads"])

    model = os.path.join(a.tmp, "model.mlir")
    run([a.growc, "--import-hf-config", a.config, "--num-layers", str(a.layers),
         "--block-size", "1", "-o", model])
    rng = np.random.default_rng(a.seed)
    weights = random_weights(config, a.layers, rng)
    tokens = rng.integers(0, config["vocab_size"], (a.batch, a.seq)).astype(np.int32)
    if a.grow:
        # Grow the IR and migrate the checkpoint with growc; the reference
        # sees only the migrated tensors.
        base = os.path.join(a.tmp, "base.safetensors")
        grown_weights = os.path.join(a.tmp, "grown.safetensors")
        llama_reference.write_safetensors(base, weights)
        grown = os.path.join(a.tmp, "grown.mlir")
        run([a.growc, model] + a.grow.split() + ["--quiet", "--weights-in", base,
             "--weights-out", grown_weights, "--emit=mlir", "-o", grown])
        model = grown
        weights = {k: np.asarray(v, dtype=np.float32)
                   for k, v in llama_reference.read_safetensors(grown_weights).items()}

    lower = "--growc-lower-model-to-tensors=batch=%d seq=%d key-block=%d" % (
        a.batch, a.seq, a.key_block)
    passes = [p.strip() for p in a.passes.split(";") if p.strip()]
    fuse = [] if a.no_fuse else ["--growc-form-kernels"]
    forward = run([a.growc_opt, model] + passes + [lower, "--growc-expand-attention"] + fuse)
    names = json.loads(re.search(r"growc\.output_names = (\[[^\]]*\])", forward).group(1))
    params = json.loads(re.search(r"growc\.param_names = (\[[^\]]*\])", forward).group(1))
    signature = re.search(r"func\.func @model\(([^)]*)\) -> \(?([^{]*?)\)? attributes", forward)
    result_types = [t.strip() for t in re.findall(r"tensor<[^>]*>", signature.group(2))]

    lines = ["  func.func private @printMemrefF32(tensor<*xf32>)",
             "  func.func @main() {",
             "    %tokens = arith.constant " + dense(tokens, tensor_type(tokens.shape, "i32"))]
    args, types = ["%tokens"], [tensor_type(tokens.shape, "i32")]
    for i, name in enumerate(params):
        t = tensor_type(weights[name].shape, "f32")
        lines.append("    %%p%d = arith.constant %s" % (i, dense(weights[name], t)))
        args.append("%%p%d" % i)
        types.append(t)
    lines.append("    %%r:%d = call @model(%s) : (%s) -> (%s)" % (
        len(result_types), ", ".join(args), ", ".join(types), ", ".join(result_types)))
    for i, t in enumerate(result_types):
        lines.append("    %%u%d = tensor.cast %%r#%d : %s to tensor<*xf32>" % (i, i, t))
        lines.append("    call @printMemrefF32(%%u%d) : (tensor<*xf32>) -> ()" % i)
    lines += ["    return", "  }"]
    body = forward.rstrip()
    assert body.endswith("}")
    program = body[:-1] + "\n".join(lines) + "\n}\n"
    prog_path = os.path.join(a.tmp, "program.mlir")
    open(prog_path, "w").write(program)
    llvm = run([a.growc_opt, prog_path] + LOWER_TO_LLVM)
    llvm_path = os.path.join(a.tmp, "program.llvm.mlir")
    open(llvm_path, "w").write(llvm)
    printed = run(["/usr/lib/llvm-22/bin/mlir-runner", llvm_path, "-e", "main",
                   "--entry-point-result=void", "-O2",
                   "--shared-libs=%s/libmlir_runner_utils.so,%s/libmlir_c_runner_utils.so"
                   % (LLVM_LIB, LLVM_LIB)])
    got = parse_prints(printed)

    kwargs = json.loads(a.reference)
    ref = llama_reference.forward(config, weights, tokens, outputs=tuple(names),
                                  dtype=torch.float64, **kwargs)
    worst = 0.0
    for name, values in zip(names, got):
        want = ref[name].detach().numpy().astype(np.float64).ravel()
        if values.shape != want.shape:
            sys.exit("FAIL: output %s has %d values, reference %d" % (
                name, values.size, want.size))
        scale = max(np.abs(want).max(), 1e-30)
        err = np.abs(values - want).max() / scale
        worst = max(worst, err)
        if not err < a.tolerance:
            sys.exit("FAIL: output %s: relative error %.3g >= %g" % (name, err, a.tolerance))
    print("jit-forward: %d outputs match the PyTorch reference (worst relative "
          "error %s)" % (len(names), "below 1e-5" if worst < 1e-5 else "%.1e" % worst),
          flush=True)


def main():
    for argv in cases(sys.argv[1:]):
        check_case(argv)


if __name__ == "__main__":
    main()
