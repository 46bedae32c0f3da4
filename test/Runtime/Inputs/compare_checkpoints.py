"""Compares two safetensors checkpoints tensor by tensor, byte for byte (or,
with --rtol, F32 tensors to within a relative tolerance of their largest
magnitude): prints 'same N tensors' or each difference and exits 1.
--ignore NAME (--ignore-prefix P) skips tensors that only one of them is
expected to have; --only-suffix S compares only the tensors whose names end
with S (and fails when there are none)."""
import argparse
import json
import struct
import sys

import numpy as np


def tensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = (info["dtype"], tuple(info["shape"]), data[begin:end])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--ignore", action="append", default=[])
    ap.add_argument("--ignore-prefix", action="append", default=[])
    ap.add_argument("--only-suffix", default="")
    ap.add_argument("--rtol", type=float, default=0.0)
    args = ap.parse_args()
    a, b = tensors(args.a), tensors(args.b)
    for t in (a, b):
        for name in list(t):
            if name in args.ignore or any(name.startswith(p) for p in args.ignore_prefix) \
                    or not name.endswith(args.only_suffix):
                del t[name]
    if args.only_suffix and not a:
        print("no tensor ends with %s" % args.only_suffix)
        sys.exit(1)
    problems = ["only in %s: %s" % (args.a, n) for n in sorted(set(a) - set(b))]
    problems += ["only in %s: %s" % (args.b, n) for n in sorted(set(b) - set(a))]
    def differs(x, y):
        if x == y:
            return False
        if not args.rtol or x[0] != "F32" or y[0] != "F32" or x[1] != y[1]:
            return True
        u, v = np.frombuffer(x[2], "<f4"), np.frombuffer(y[2], "<f4")
        scale = max(float(np.max(np.abs(v))), 1e-30)
        return float(np.max(np.abs(u - v))) / scale > args.rtol
    problems += ["differs: %s" % n for n in sorted(set(a) & set(b)) if differs(a[n], b[n])]
    if problems:
        print("\n".join(problems[:20]))
        sys.exit(1)
    print("same %d tensors" % len(a))


if __name__ == "__main__":
    main()
