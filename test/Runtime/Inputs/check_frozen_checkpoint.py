#!/usr/bin/env python3
"""What a run of a plan with frozen parameters (growc --trainable) left in
its checkpoint: the frozen weights bit for bit as they started, every
trainable one moved, and AdamW moments of exactly the trainable ones.
Usage: check_frozen_checkpoint.py PLAN START CHECKPOINT (prints one line)."""
import json
import struct
import sys


def raw_tensors(path):
    """{name: bytes} of a safetensors file (any dtype, training state too)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    return {k: data[v["data_offsets"][0]:v["data_offsets"][1]]
            for k, v in header.items() if k != "__metadata__"}


def report(plan_path, start_path, saved_path):
    plan = json.load(open(plan_path))
    names = [p["name"] for p in plan["params"] if not p["name"].startswith("optimizer.")]
    frozen = {p["name"] for p in plan["params"] if p.get("frozen")}
    trained = [n for n in names if n not in frozen]
    start, saved = raw_tensors(start_path), raw_tensors(saved_path)
    kept = [n for n in frozen if saved[n] == start[n]]
    moved = [n for n in trained if saved[n] != start[n]]
    moments = sorted(k[len("optimizer.exp_avg."):] for k in saved
                     if k.startswith("optimizer.exp_avg."))
    return ("%d of %d frozen bit-identical, %d of %d trainable changed, moments of "
            "exactly the trainable: %s" % (len(kept), len(frozen), len(moved),
                                           len(trained), moments == sorted(trained)))


if __name__ == "__main__":
    print(report(*sys.argv[1:4]))
