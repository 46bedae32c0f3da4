"""Numerical checks of the one-shot growth recipes (docs/pretrained-growth.md).

  recipe_check.py tokens OUT VOCAB
      writes int32 token ids [2, 8] for growc-run forward.
  recipe_check.py logits BEFORE AFTER
      the logits of the model before growth and after block expansion agree
      to 1e-6 relative (the zeroed output projections make each new layer
      the identity on the residual stream).
  recipe_check.py weights ORIGINAL GROWN LINEAGE
      every tensor of the migrated checkpoint GROWN equals its source in
      ORIGINAL: layer i of the grown model is layer LINEAGE[i] ("0,1,2,1*"),
      embedding, final norm and head are themselves; a "z" after a source
      (block expansion's copies) means o_proj and down_proj are zero.

Each prints one summary line for FileCheck and exits 1 on a mismatch.
"""

import array
import json
import struct
import sys

# The standard library only (no numpy, no torch): these checks run in every
# lit run and need nothing the driver tests do not.
OUTPUT_PROJECTIONS = ("self_attn.o_proj.weight", "mlp.down_proj.weight")


def read_safetensors(path):
    """{name: (dtype, shape, raw bytes)} of a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + size])
    header.pop("__metadata__", None)
    data = blob[8 + size:]
    return {name: (info["dtype"], info["shape"],
                   data[info["data_offsets"][0]:info["data_offsets"][1]])
            for name, info in header.items()}


def floats(tensor):
    dtype, _, raw = tensor
    if dtype != "F32":
        fail("expected F32 values, got %s" % dtype)
    return array.array("f", raw)


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def tokens(out, vocab):
    ids = array.array("i", ((i * 5 + 3) % int(vocab) for i in range(16)))
    text = json.dumps({"tokens": {"dtype": "I32", "shape": [2, 8],
                                  "data_offsets": [0, len(ids) * 4]}}).encode()
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + ids.tobytes())
    print("tokens: 2 x 8")


def logits(before, after):
    (a,) = read_safetensors(before).values()
    (b,) = read_safetensors(after).values()
    if a[1] != b[1]:
        fail("logits of shape %s before and %s after" % (a[1], b[1]))
    a, b = floats(a), floats(b)
    scale = max(abs(x) for x in a)
    diff = max(abs(x - y) for x, y in zip(a, b))
    if not scale > 0 or diff > 1e-6 * scale:
        fail("logits differ by %g (max |logit| %g)" % (diff, scale))
    print("logits: %d values equal to 1e-6 relative" % len(a))


def weights(original, grown, lineage):
    old = read_safetensors(original)
    new = read_safetensors(grown)
    sources = lineage.split(",")
    checked = zeroed = 0
    for name, value in new.items():
        parts = name.split(".")
        if name.startswith("model.layers."):
            position, suffix = int(parts[2]), ".".join(parts[3:])
            if position >= len(sources):
                fail("%s: the lineage has %d layers" % (name, len(sources)))
            source = sources[position]
            expected = old["model.layers.%d.%s" % (int(source.rstrip("*z")), suffix)]
            if source.endswith("z") and suffix in OUTPUT_PROJECTIONS:
                dtype, shape, raw = expected
                expected = (dtype, shape, bytes(len(raw)))  # +0.0 everywhere
                zeroed += 1
        else:
            expected = old[name]
        if expected != value:
            fail("%s does not equal its source (lineage %s)" % (name, lineage))
        checked += 1
    layers = {n.split(".")[2] for n in new if n.startswith("model.layers.")}
    if len(layers) != len(sources):
        fail("%d layers in the checkpoint, %d in the lineage" % (len(layers), len(sources)))
    print("weights: %d tensors equal their sources, %d zero" % (checked, zeroed))


if __name__ == "__main__":
    commands = {"tokens": tokens, "logits": logits, "weights": weights}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
