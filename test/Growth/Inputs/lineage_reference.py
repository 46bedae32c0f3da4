#!/usr/bin/env python3
"""Checks growc's growth lineage against SPEC.md §2, recomputed here.

For every growth method, block size b in {1, 2, 4} and block count n in 1..8
(where the request is valid) this builds an n·b-layer model with growc,
grows it K times with `growc --print-lineage`, and compares the printed
lineage (source layer of every new layer, `*` for copies) with the layer
lists of SPEC.md §2 evaluated by the plain index math below. Invalid
requests (LIDAS with odd b) must fail with a message instead.
"""
import argparse
import os
import subprocess
import sys


def grow_once(layers, b, method, odd="midas"):
    """One growth step on a list of (source, is_copy) per SPEC.md §2."""
    L = len(layers)
    n = L // b
    m = -(-n // 2)  # ceil(n / 2)
    if method == "gradstack":
        start, at = L - b, L
    elif method == "lidas" and (n % 2 == 0 or odd == "centred"):
        start, at = L // 2 - b // 2, L // 2
    else:  # midas, and lidas with odd n by default
        start, at = (m - 1) * b, m * b
    copies = [(src, True) for src, _ in layers[start:start + b]]
    return layers[:at] + copies + layers[at:]


def expected_lineage(n, b, method, steps, odd="midas"):
    layers = [(i, False) for i in range(n * b)]
    for _ in range(steps):
        layers = grow_once(layers, b, method, odd)
    return " ".join(f"{src}{'*' if copy else ''}" for src, copy in layers)


def run_growc(growc, config, tmp, n, b, method, steps, odd):
    model = os.path.join(tmp, f"n{n}b{b}.mlir")
    subprocess.run([growc, "--import-hf-config", config, "--num-layers",
                    str(n * b), "--block-size", str(b), "-o", model],
                   check=True, capture_output=True)
    return subprocess.run([growc, model, f"--grow={method}",
                           f"--grow-steps={steps}", f"--lidas-odd={odd}",
                           "--print-lineage", "--quiet"],
                          capture_output=True, text=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--growc", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--tmp", required=True)
    args = parser.parse_args()
    os.makedirs(args.tmp, exist_ok=True)

    cases = checked = rejected = 0
    for method in ("midas", "lidas", "gradstack"):
        for b in (1, 2, 4):
            for n in range(1, 9):
                for steps, odd in ((1, "midas"), (3, "midas"), (2, "centred")):
                    if odd == "centred" and method != "lidas":
                        continue
                    cases += 1
                    result = run_growc(args.growc, args.config, args.tmp, n, b,
                                       method, steps, odd)
                    if method == "lidas" and b % 2:
                        if result.returncode == 0 or \
                                "even block size" not in result.stderr:
                            sys.exit(f"FAIL: lidas b={b} n={n} should be "
                                     f"rejected, got rc={result.returncode} "
                                     f"{result.stderr!r}")
                        rejected += 1
                        continue
                    if result.returncode != 0:
                        sys.exit(f"FAIL: {method} b={b} n={n} K={steps}: "
                                 f"{result.stderr}")
                    got = result.stdout.strip().removeprefix("lineage: ")
                    want = expected_lineage(n, b, method, steps, odd)
                    if got != want:
                        sys.exit(f"FAIL: {method} odd={odd} b={b} n={n} "
                                 f"K={steps}\n  growc: {got}\n  spec:  {want}")
                    checked += 1
    print(f"lineage: {checked} growths match SPEC.md, {rejected} invalid "
          f"requests rejected, {cases} cases")


if __name__ == "__main__":
    main()
