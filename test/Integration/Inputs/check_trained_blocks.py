#!/usr/bin/env python3
"""Checks, independently of growc, what training only the inserted blocks
did to a checkpoint (test/Integration/block-expansion.test):

  check_trained_blocks.py BEFORE.safetensors AFTER.safetensors LAYERS

LAYERS is a comma list of the layer indices that were trainable. Every
model tensor of another layer, the embedding and the final norm must be
bit-identical in AFTER; every tensor of a trainable layer must have
changed (training moved it), and AFTER holds AdamW moments for exactly the
trainable tensors. Prints a one-line summary.
"""
import json
import re
import struct
import sys


def tensors(path):
    """name -> (dtype, shape, raw bytes) of a safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = (info["dtype"], info["shape"], data[begin:end])
    return out


def main():
    before, after = tensors(sys.argv[1]), tensors(sys.argv[2])
    trainable = {int(x) for x in sys.argv[3].split(",")}
    layer_of = re.compile(r"^model\.layers\.(\d+)\.")
    frozen_same = trained_changed = 0
    for name, (dtype, shape, data) in before.items():
        if name.startswith(("optimizer.", "growc.")):
            continue
        if name not in after:
            sys.exit("FAIL: %s is missing after training" % name)
        match = layer_of.match(name)
        is_trainable = match is not None and int(match.group(1)) in trainable
        new = after[name]
        if (new[0], new[1]) != (dtype, shape):
            sys.exit("FAIL: %s changed dtype or shape" % name)
        if is_trainable:
            if new[2] == data:
                sys.exit("FAIL: trainable %s did not change" % name)
            trained_changed += 1
        else:
            if new[2] != data:
                sys.exit("FAIL: frozen %s changed" % name)
            frozen_same += 1
        for moment in ("optimizer.exp_avg.", "optimizer.exp_avg_sq."):
            if (moment + name in after) != is_trainable:
                sys.exit("FAIL: %s%s is %s" % (
                    moment, name,
                    "missing" if is_trainable else "present for a frozen tensor"))
    print("frozen tensors unchanged: %d, trained tensors changed: %d"
          % (frozen_same, trained_changed))


if __name__ == "__main__":
    main()
