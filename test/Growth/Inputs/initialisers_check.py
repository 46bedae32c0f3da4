"""Numerical checks of the zero and scaled initialisers (growc-verify-grown-model,
docs/checkpoints.md "Migration through growth", docs/plan.md "scale").

  initialisers_check.py moments IN OUT
      IN (weights) plus AdamW state with distinct values: exp_avg = w / 2 +
      1/8, exp_avg_sq = w * w + 1/1024, optimizer.step = 7.
  initialisers_check.py weights ORIGINAL GROWN LINEAGE SCALE ZERO_MOMENTS
      every tensor of the migrated checkpoint GROWN against ORIGINAL: layer
      i of the grown model is layer LINEAGE[i] ("0,0*,1,1*"); the output
      projections of a copy are zeros (SCALE 0) or exactly
      float32(SCALE) * source as an IEEE f32 product (any other SCALE),
      everything else equals its source; moments equal the source's, or
      are zeros for copies when ZERO_MOMENTS is 1.
  initialisers_check.py plan PLAN
      prints "scale NAME VALUE" for each plan parameter with a "scale" key.

Each prints one summary for FileCheck and exits 1 on a mismatch.
"""

import array
import json
import struct
import sys

# The block-expansion checks' safetensors reader and failure exit.
from recipe_check import fail, read_safetensors as read

# The standard library only: a product of two f32 values is exact in a
# Python float (48 significant bits), so rounding it once to f32 (array
# "f") is the IEEE f32 product.
OUTPUT_PROJECTIONS = ("self_attn.o_proj.weight", "mlp.down_proj.weight")
MOMENTS = ("optimizer.exp_avg.", "optimizer.exp_avg_sq.")


def write(path, tensors):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def floats(tensor):
    if tensor[0] != "F32":
        fail("expected F32 values, got %s" % tensor[0])
    return array.array("f", tensor[2])


def moments(src, out):
    tensors = read(src)
    for name, tensor in list(tensors.items()):
        w = floats(tensor)
        tensors["optimizer.exp_avg." + name] = (
            "F32", tensor[1], array.array("f", (x / 2 + 0.125 for x in w)).tobytes())
        tensors["optimizer.exp_avg_sq." + name] = (
            "F32", tensor[1],
            array.array("f", (x * x + 1 / 1024 for x in w)).tobytes())
    tensors["optimizer.step"] = ("I64", [], struct.pack("<q", 7))
    write(out, tensors)
    print("moments: %d tensors" % len(tensors))


def source_of(name, lineage):
    """(source name, is a copy, is an output projection) of a parameter."""
    if not name.startswith("model.layers."):
        return name, False, False
    layer, suffix = name[len("model.layers."):].split(".", 1)
    entry = lineage[int(layer)]
    return ("model.layers.%s.%s" % (entry.rstrip("*"), suffix),
            entry.endswith("*"), suffix in OUTPUT_PROJECTIONS)


def weights(original, grown, lineage, scale, zero_moments):
    before, after = read(original), read(grown)
    lineage = lineage.split(",")
    factor = array.array("f", [float(scale)])[0]  # float32(SCALE)
    zero_moments = zero_moments == "1"
    counts = {"weights": 0, "zero": 0, "scaled": 0, "moments": 0,
              "zeroed moments": 0}
    for name, tensor in sorted(after.items()):
        if name == "optimizer.step":
            if tensor != before[name]:
                fail("optimizer.step changed")
            continue
        prefix = next((p for p in MOMENTS if name.startswith(p)), "")
        source, copy, output = source_of(name[len(prefix):], lineage)
        got, want = floats(tensor), floats(before[prefix + source])
        if prefix:
            counts["moments"] += 1
            if copy and zero_moments:
                want = array.array("f", [0.0] * len(want))
                counts["zeroed moments"] += 1
        else:
            counts["weights"] += 1
            if copy and output and factor == 0.0:
                want = array.array("f", [0.0] * len(want))
                counts["zero"] += 1
            elif copy and output:
                want = array.array("f", (factor * x for x in want))
                counts["scaled"] += 1
        if got.tobytes() != want.tobytes():
            fail("%s differs from %s%s (first values %s vs %s)"
                 % (name, prefix, source, list(got[:3]), list(want[:3])))
    if counts["weights"] + counts["moments"] + 1 != len(after):
        fail("unexpected tensors in %s" % grown)
    print("weights: %(weights)d exact, %(zero)d zero, %(scaled)d scaled; "
          "moments: %(moments)d exact, %(zeroed moments)d zeroed" % counts)


def plan(path):
    with open(path) as f:
        for param in json.load(f)["params"]:
            if "scale" in param:
                print("scale %s %r" % (param["name"], param["scale"]))
    print("plan: end")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"moments": moments, "weights": weights, "plan": plan}[command](*args)
