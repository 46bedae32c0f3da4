"""Re-binds a hand-edited plan to its kernels file, for tests that make an
artifact wrong on purpose to see what only running it shows.

    bind_plan.py PLAN

growc binds a plan to its kernels file (docs/plan.md, "The kernels file"):
the kernels file carries the plan's kernel entries as its signature table
and the plan records the file's content hash, so an edited plan or kernels
file is refused before it runs. This rewrites the PTX kernels file's
signature line from PLAN's kernels and PLAN's kernels_hash from the
result (XXH3-128 through libxxhash, as growc computes it), as if growc had
compiled them so.
"""

import ctypes
import json
import os
import sys

PREFIX = "// growc.kernel_signatures "


class Hash128(ctypes.Structure):
    _fields_ = [("low64", ctypes.c_uint64), ("high64", ctypes.c_uint64)]


def content_hash(data):
    xxhash = ctypes.CDLL("libxxhash.so.0")
    xxhash.XXH3_128bits.restype = Hash128
    xxhash.XXH3_128bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    h = xxhash.XXH3_128bits(data, len(data))
    # The canonical (big-endian) form, as growc writes it.
    return "xxh3-128:%016x%016x" % (h.high64, h.low64)


def main():
    plan_path = sys.argv[1]
    with open(plan_path) as f:
        plan = json.load(f)
    kernels_path = os.path.join(os.path.dirname(plan_path), plan["kernels_file"])
    with open(kernels_path) as f:
        lines = f.read().splitlines(keepends=True)
    table = json.dumps(plan["kernels"], sort_keys=True, separators=(",", ":"))
    lines = [l for l in lines if not l.startswith(PREFIX)]
    lines.append(PREFIX + table + "\n")
    data = "".join(lines).encode()
    with open(kernels_path, "wb") as f:
        f.write(data)
    plan["kernels_hash"] = content_hash(data)
    with open(plan_path, "w") as f:
        json.dump(plan, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
