#!/usr/bin/env python3
"""PTX compile report: cold compile time of a model's graph (the forward by
default, or --graph=loss|grad|train) to PTX for sm_90, the same at 2 layers
(depth must not cost compile time: kernels are deduplicated), and ptxas's
register / spill / shared-memory report for every kernel, kept as a table
(and as JSON with --json).

  python3 bench/ptx_report.py [--config examples/smollm-135m/config.json]
      [--graph forward] [--batch 4] [--seq 256] [--repeat 3] [--json out.json]

Needs the CUDA toolkit (ptxas, libdevice) but no GPU.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(os.environ.get("GROWC_BUILD_DIR", os.path.join(ROOT, "build")), "bin")


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("bench: %s failed:\n%s" % (" ".join(cmd), result.stderr))
    return result


def best_time(cmd, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run(cmd)
        times.append(time.perf_counter() - start)
    return min(times)


def ptxas_report(ptxas, ptx):
    """Per entry: registers, spill stores/loads, stack, shared memory."""
    out = run([ptxas, "-arch=sm_90", "-v", ptx, "-o", os.devnull]).stderr
    kernels, current = {}, None
    for line in out.splitlines():
        m = re.search(r"Compiling entry function '(\w+)'", line)
        if m:
            current = kernels.setdefault(m.group(1), {"smem": 0})
            continue
        if current is None:
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, "
                      r"(\d+) bytes spill loads", line)
        if m:
            current.update(stack=int(m.group(1)), spill_stores=int(m.group(2)),
                           spill_loads=int(m.group(3)))
        m = re.search(r"Used (\d+) registers", line)
        if m:
            current["registers"] = int(m.group(1))
        m = re.search(r"(\d+) bytes smem", line)
        if m:
            current["smem"] = int(m.group(1))
    return kernels


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config",
                    default=os.path.join(ROOT, "examples", "smollm-135m",
                                         "config.json"))
    ap.add_argument("--graph", default="forward",
                    choices=["forward", "loss", "grad", "train"])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    cuda = os.environ.get("CUDA_HOME", "/usr/local/cuda")
    ptxas = shutil.which("ptxas") or os.path.join(cuda, "bin", "ptxas")
    if not os.access(ptxas, os.X_OK):
        sys.exit("bench: ptxas not found (install the CUDA toolkit or set "
                 "CUDA_HOME)")
    growc = os.path.join(BIN, "growc")
    with tempfile.TemporaryDirectory() as tmp:
        full = os.path.join(tmp, "full.mlir")
        two = os.path.join(tmp, "two.mlir")
        run([growc, "--import-hf-config", a.config, "-o", full])
        run([growc, "--import-hf-config", a.config, "--num-layers", "2",
             "--block-size", "1", "-o", two])
        layers = len(re.findall(r"grow\.layer ", open(full).read()))
        shape = ["--graph=" + a.graph, "--batch", str(a.batch), "--seq", str(a.seq)]
        ptx = os.path.join(tmp, "fwd.ptx")
        t_full = best_time([growc, full] + shape + ["-o", ptx], a.repeat)
        t_two = best_time([growc, two] + shape +
                          ["-o", os.path.join(tmp, "two.ptx")], a.repeat)
        kernels = ptxas_report(ptxas, ptx)
        plan = json.load(open(ptx + ".plan.json"))
        launches = {k["name"]: k["launch"] for k in plan["kernels"]}
        steps = plan["steps"]
        n_kernel_steps = sum(1 for s in steps if s["op"] == "kernel")
        n_gemms = sum(1 for s in steps if s["op"] == "gemm")

    name = os.path.basename(os.path.dirname(a.config)) or a.config
    print("PTX for sm_90: %s %s graph, B=%d, T=%d (%d layers)" %
          (name, a.graph, a.batch, a.seq, layers))
    print("  cold compile to PTX (best of %d): %.2f s (%d layers) vs %.2f s "
          "(2 layers): ratio %.2fx" % (a.repeat, t_full, layers, t_two,
                                        t_full / t_two))
    print("  %d kernels, %d launches and %d GEMMs per run" %
          (len(kernels), n_kernel_steps, n_gemms))
    print("  %-16s %5s %6s %7s %7s %6s  %-14s %s" %
          ("kernel", "regs", "spillS", "spillL", "stack", "smem", "grid",
           "block"))
    for k in sorted(kernels):
        r, l = kernels[k], launches.get(k, {})
        print("  %-16s %5d %6d %7d %7d %6d  %-14s %s" %
              (k, r.get("registers", -1), r.get("spill_stores", -1),
               r.get("spill_loads", -1), r.get("stack", -1), r["smem"],
               "x".join(map(str, l.get("grid", []))),
               "x".join(map(str, l.get("block", [])))))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"model": name, "graph": a.graph, "batch": a.batch, "seq": a.seq,
                       "layers": layers, "compile_s": t_full,
                       "compile_two_layers_s": t_two, "kernels": kernels,
                       "launches": launches}, f, indent=2)


if __name__ == "__main__":
    main()
