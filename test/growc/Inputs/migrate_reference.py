#!/usr/bin/env python3
"""Independent reference check of growc's checkpoint migration.

Writes seeded random safetensors checkpoints with its own minimal writer,
grows them with `growc --grow=... --weights-in ... --weights-out ...`, reads
the result with its own strict reader and compares every tensor byte for byte
against the layer mapping computed here from SPEC.md section 2 with plain
index arithmetic (nothing of growc's provenance is read).

Also feeds growc broken checkpoints and checks that each is rejected with a
message naming the problem and that neither output file is written.

Usage: migrate_reference.py --growc PATH --config config.json --tmp DIR
Prints one summary line on success; exits 1 with a precise message on the
first mismatch.
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import time

import numpy as np

# ---------------------------------------------------------------------------
# The tiny model (examples/tiny/config.json), written out here on purpose.
# ---------------------------------------------------------------------------

HIDDEN, FFN, VOCAB, HEADS, KV_HEADS, HEAD_DIM = 64, 176, 259, 4, 2, 16
LAYER_PARAMS = [
    ("input_layernorm.weight", (HIDDEN,)),
    ("self_attn.q_proj.weight", (HEADS * HEAD_DIM, HIDDEN)),
    ("self_attn.k_proj.weight", (KV_HEADS * HEAD_DIM, HIDDEN)),
    ("self_attn.v_proj.weight", (KV_HEADS * HEAD_DIM, HIDDEN)),
    ("self_attn.o_proj.weight", (HIDDEN, HEADS * HEAD_DIM)),
    ("post_attention_layernorm.weight", (HIDDEN,)),
    ("mlp.gate_proj.weight", (FFN, HIDDEN)),
    ("mlp.up_proj.weight", (FFN, HIDDEN)),
    ("mlp.down_proj.weight", (HIDDEN, FFN)),
]
GLOBAL_PARAMS = [  # tied embeddings: no lm_head.weight
    ("model.embed_tokens.weight", (VOCAB, HIDDEN)),
    ("model.norm.weight", (HIDDEN,)),
]
EXP_AVG = "optimizer.exp_avg."
EXP_AVG_SQ = "optimizer.exp_avg_sq."
STEP = "optimizer.step"

ITEMSIZE = {"F32": 4, "BF16": 2, "F16": 2, "I64": 8, "F64": 8, "I32": 4}
PARAM_DTYPE = {"f32": "F32", "bf16": "BF16", "f16": "F16"}


def layer_param(i, suffix):
    return "model.layers.%d.%s" % (i, suffix)


def param_shapes(num_layers):
    """Ordered {name: shape} of a tiny model with `num_layers` layers."""
    out = {GLOBAL_PARAMS[0][0]: GLOBAL_PARAMS[0][1]}
    for i in range(num_layers):
        for suffix, shape in LAYER_PARAMS:
            out[layer_param(i, suffix)] = shape
    out[GLOBAL_PARAMS[1][0]] = GLOBAL_PARAMS[1][1]
    return out


def nbytes(dtype, shape):
    n = 1
    for d in shape:
        n *= d
    return n * ITEMSIZE[dtype]


class Mismatch(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Mismatch(message)


# ---------------------------------------------------------------------------
# Reference growth (SPEC.md section 2), on lists of (original layer, is_copy).
# ---------------------------------------------------------------------------


def copy_range(method, num_layers, b, lidas_odd="midas"):
    """(copy_begin, insert_at) of one growth step on a model of num_layers."""
    L = num_layers
    n = L // b
    m = (n + 1) // 2  # ceil(n / 2)
    if method == "gradstack":  # copy the last block and append it
        return L - b, L
    if method == "lidas" and (n % 2 == 0 or lidas_odd == "centred"):
        return L // 2 - b // 2, L // 2  # the b layers centred on mid-depth
    # MIDAS, and LIDAS with odd n by default: the block before mid-depth
    # (the central block for odd n), inserted after itself.
    return (m - 1) * b, m * b


def grow_once(lineage, method, b, lidas_odd="midas"):
    begin, at = copy_range(method, len(lineage), b, lidas_odd)
    copies = [(src, True) for src, _ in lineage[begin:begin + b]]
    return lineage[:at] + copies + lineage[at:]


def reference_lineage(num_layers, method, b, steps, lidas_odd="midas"):
    lineage = [(i, False) for i in range(num_layers)]
    for _ in range(steps):
        lineage = grow_once(lineage, method, b, lidas_odd)
    return lineage


def self_check_reference():
    """The reference against SPEC.md's own worked examples."""
    # Table: b = 4 from one block, (from, to) -> at for steps 1->2 .. 5->6.
    midas = [(0, 4), (0, 4), (4, 8), (4, 8), (8, 12)]
    lidas = [(0, 4), (2, 6), (4, 8), (6, 10), (8, 12)]
    midas_at = [4, 4, 8, 8, 12]
    lidas_at = [4, 4, 8, 8, 12]
    for k in range(5):
        L = 4 * (k + 1)
        for method, ranges, ats in (("midas", midas, midas_at),
                                    ("lidas", lidas, lidas_at)):
            begin, at = copy_range(method, L, 4)
            if (begin, begin + 4, at) != ranges[k] + (ats[k],):
                raise Mismatch("reference disagrees with the SPEC table for "
                               "%s step %d->%d" % (method, k + 1, k + 2))
    roles = "abcd"
    for method, want in (("midas", "abcd" * 8),
                         ("lidas", "abcdcdababcdcdabcdababcdcdababcd")):
        got = "".join(roles[s] for s, _ in reference_lineage(4, method, 4, 7))
        if got != want:
            raise Mismatch("reference %s lineage after 7 steps is %s, SPEC "
                           "says %s" % (method, got, want))
    # LIDAS example b = 4, L = 8: x1..x4 | x3' x4' y1' y2' | y1..y4.
    got = reference_lineage(8, "lidas", 4, 1)
    want = [(i, False) for i in range(4)] + [(2, True), (3, True), (4, True),
                                             (5, True)] + [(i, False)
                                                           for i in range(4, 8)]
    if got != want:
        raise Mismatch("reference LIDAS example: %s" % got)
    # GradStack appends a copy of the last block.
    if reference_lineage(4, "gradstack", 2, 1) != [(0, False), (1, False),
                                                   (2, False), (3, False),
                                                   (2, True), (3, True)]:
        raise Mismatch("reference GradStack example")


# ---------------------------------------------------------------------------
# Minimal safetensors writer and strict reader (independent of growc's).
# ---------------------------------------------------------------------------


def encode_safetensors(tensors, metadata=None, pad=0, overrides=None):
    """tensors: list of (name, dtype, shape, bytes) in file order.

    overrides: {name: dict} merged into that tensor's header entry after the
    offsets are computed (for building broken files). Returns the file bytes.
    """
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    chunks = []
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        chunks.append(bytes(data))
    for name, fields in (overrides or {}).items():
        header[name].update(fields)
    text = json.dumps(header, separators=(",", ":")).encode() + b" " * pad
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)


def read_safetensors(path):
    """Returns ({name: (dtype, shape, bytes)}, metadata) of a valid file."""
    with open(path, "rb") as f:
        raw = f.read()
    check(len(raw) >= 8, "%s: shorter than 8 bytes" % path)
    (hlen,) = struct.unpack("<Q", raw[:8])
    check(0 < hlen <= len(raw) - 8, "%s: bad header length %d" % (path, hlen))

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        check(len(keys) == len(set(keys)), "%s: duplicate header keys" % path)
        return dict(pairs)

    try:
        header = json.loads(raw[8:8 + hlen].decode("utf-8"),
                            object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise Mismatch("%s: header is not valid JSON: %s" % (path, e))
    check(isinstance(header, dict), "%s: header is not an object" % path)
    data = memoryview(raw)[8 + hlen:]
    metadata = header.pop("__metadata__", None)
    tensors = {}
    spans = []
    for name, entry in header.items():
        check(isinstance(entry, dict) and
              set(entry) == {"dtype", "shape", "data_offsets"},
              "%s: tensor %r: bad entry %r" % (path, name, entry))
        dtype, shape, (begin, end) = (entry["dtype"], tuple(entry["shape"]),
                                      entry["data_offsets"])
        check(dtype in ITEMSIZE, "%s: tensor %r: dtype %r" % (path, name, dtype))
        check(0 <= begin <= end <= len(data) and
              end - begin == nbytes(dtype, shape),
              "%s: tensor %r: data_offsets [%d, %d] do not fit %s %s in a "
              "%d-byte buffer" % (path, name, begin, end, dtype, shape,
                                  len(data)))
        tensors[name] = (dtype, shape, data[begin:end])
        spans.append((begin, end, name))
    covered = 0
    for begin, end, name in sorted(spans):
        check(begin == covered, "%s: tensor %r starts at %d, expected %d "
              "(overlap or hole)" % (path, name, begin, covered))
        covered = end
    check(covered == len(data), "%s: %d trailing bytes" %
          (path, len(data) - covered))
    return tensors, metadata


# ---------------------------------------------------------------------------
# Random checkpoints.
# ---------------------------------------------------------------------------


def random_bytes(rng, dtype, shape, nonneg=False):
    x = rng.standard_normal(size=shape, dtype=np.float32)
    if nonneg:
        x = np.abs(x) * np.float32(1e-3) + np.float32(1e-6)
    if dtype == "F32":
        return x.astype("<f4").tobytes()
    if dtype == "F16":
        return x.astype("<f2").tobytes()
    if dtype == "BF16":  # round toward zero: the top 16 bits of the f32
        return (x.astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()
    raise ValueError(dtype)


def make_checkpoint(seed, num_layers, param_dtype, moments, step_dtype):
    """{name: (dtype, shape, bytes)} for a model of num_layers layers."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in param_shapes(num_layers).items():
        out[name] = (param_dtype, shape, random_bytes(rng, param_dtype, shape))
        if moments:
            out[EXP_AVG + name] = ("F32", shape,
                                   random_bytes(rng, "F32", shape))
            out[EXP_AVG_SQ + name] = ("F32", shape,
                                      random_bytes(rng, "F32", shape, True))
    if step_dtype == "I64":
        out[STEP] = ("I64", (), struct.pack("<q", 1000 + seed))
    elif step_dtype == "F32":
        out[STEP] = ("F32", (), struct.pack("<f", 1000.0 + seed))
    return out


def serialise(ckpt, seed, metadata=None):
    """File bytes of a checkpoint, tensors in a seeded shuffled order."""
    names = sorted(ckpt)
    np.random.default_rng(seed + 7).shuffle(names)
    return encode_safetensors([(n,) + ckpt[n] for n in names],
                              metadata=metadata, pad=seed % 8)


# ---------------------------------------------------------------------------
# Expected grown checkpoint.
# ---------------------------------------------------------------------------


def expected_checkpoint(ckpt, lineage, zero_new_moments):
    """{name: (dtype, shape, bytes)} the grown checkpoint must hold."""
    moments = any(n.startswith(EXP_AVG) for n in ckpt)
    out = {}

    def put(new, old, copy):
        out[new] = ckpt[old]
        if moments:
            for prefix in (EXP_AVG, EXP_AVG_SQ):
                dtype, shape, data = ckpt[prefix + old]
                if copy and zero_new_moments:
                    data = bytes(len(data))
                out[prefix + new] = (dtype, shape, data)

    for name, _ in GLOBAL_PARAMS:
        put(name, name, False)
    for i, (src, copy) in enumerate(lineage):
        for suffix, _ in LAYER_PARAMS:
            put(layer_param(i, suffix), layer_param(src, suffix), copy)
    if STEP in ckpt:
        out[STEP] = ckpt[STEP]
    return out


# ---------------------------------------------------------------------------
# Driver.
# ---------------------------------------------------------------------------


class Runner:
    def __init__(self, growc, config, tmp):
        self.growc, self.config, self.tmp = growc, config, tmp
        self.models = {}
        self.inputs = {}
        self.grow_cases = 0
        self.tensors_compared = 0
        self.reject_cases = 0

    def run(self, args):
        return subprocess.run([self.growc] + args, capture_output=True,
                              text=True)

    def model(self, num_layers, b, dtype):
        key = (num_layers, b, dtype)
        if key not in self.models:
            path = os.path.join(self.tmp, "model-L%d-b%d-%s.mlir" % key)
            r = self.run(["--import-hf-config", self.config, "--num-layers",
                          str(num_layers), "--block-size", str(b),
                          "--param-dtype", dtype, "-o", path])
            check(r.returncode == 0 and os.path.exists(path),
                  "importing %s failed (rc %d): %s" % (key, r.returncode,
                                                       r.stderr))
            self.models[key] = path
        return self.models[key]

    def checkpoint(self, num_layers, dtype, moments, step_dtype):
        key = (num_layers, dtype, moments, step_dtype)
        if key not in self.inputs:
            seed = len(self.inputs) + 1
            ckpt = make_checkpoint(seed, num_layers, PARAM_DTYPE[dtype],
                                   moments, step_dtype)
            path = os.path.join(self.tmp, "in-%d.safetensors" % seed)
            metadata = {"format": "pt", "seed": str(seed)}
            write_file(path, serialise(ckpt, seed, metadata))
            self.inputs[key] = (path, ckpt, metadata)
        return self.inputs[key]

    def grow_case(self, method, n, b, steps, moments, zero=False,
                  dtype="f32", lidas_odd=None, step_dtype="I64", start=None,
                  keep=False):
        """Grows a model of n blocks of b layers `steps` times and checks the
        grown checkpoint. start=(model.mlir, (path, ckpt, metadata)) grows a
        given model and checkpoint instead of fresh ones. Returns the paths
        of the grown model and checkpoint when keep is set."""
        L = n * b
        if start:
            model, (path, ckpt, metadata) = start
        else:
            model = self.model(L, b, dtype)
            path, ckpt, metadata = self.checkpoint(L, dtype, moments,
                                                   step_dtype)
        with open(path, "rb") as f:
            before = f.read()
        tag = "%s%s n=%d b=%d K=%d %s%s%s%s" % (
            "from a grown model: " if start else "", method, n, b, steps,
            dtype,
            " moments" if moments else " no-moments",
            " --zero-new-moments" if zero else "",
            " --lidas-odd=" + lidas_odd if lidas_odd else "")
        case = os.path.join(self.tmp, "case-%d" % self.grow_cases)
        os.makedirs(case)
        out = os.path.join(case, "grown.safetensors")
        mlir = os.path.join(case, "grown.mlir")
        args = [model, "--grow=" + method, "--block-size", str(b),
                "--grow-steps", str(steps), "--weights-in", path,
                "--weights-out", out, "--emit=mlir", "-o", mlir]
        if zero:
            args.append("--zero-new-moments")
        if lidas_odd:
            args += ["--lidas-odd", lidas_odd]
        r = self.run(args)
        check(r.returncode == 0, "[%s] growc failed (rc %d):\n%s" %
              (tag, r.returncode, r.stderr))
        check(os.path.getsize(mlir) > 0, "[%s] %s is empty" % (tag, mlir))
        with open(path, "rb") as f:
            check(f.read() == before, "[%s] growc modified its input" % tag)

        lineage = reference_lineage(L, method, b, steps, lidas_odd or "midas")
        check(len(lineage) == L + steps * b, "[%s] reference length" % tag)
        want = expected_checkpoint(ckpt, lineage, zero)
        got, got_metadata = read_safetensors(out)
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        check(not missing, "[%s] output lacks %d tensors, first: %s" %
              (tag, len(missing), missing[:3]))
        check(not extra, "[%s] output has %d unexpected tensors, first: %s" %
              (tag, len(extra), extra[:3]))
        for name in sorted(want):
            wd, ws, wb = want[name]
            gd, gs, gb = got[name]
            check(gd == wd, "[%s] %s: dtype %s, expected %s" %
                  (tag, name, gd, wd))
            check(tuple(gs) == tuple(ws), "[%s] %s: shape %s, expected %s" %
                  (tag, name, list(gs), list(ws)))
            if gb != wb:
                # Say where the bytes do come from, if anywhere.
                srcs = [k for k, v in ckpt.items() if v[2] == gb]
                if not any(gb):
                    srcs.append("<zeros>")
                raise Mismatch("[%s] %s: bytes differ from the reference "
                               "(expected the data of %s; got the data of %s)"
                               % (tag, name, describe_source(name, lineage),
                                  srcs or "no input tensor"))
            self.tensors_compared += 1
        check(got_metadata == metadata, "[%s] __metadata__ %r, expected %r" %
              (tag, got_metadata, metadata))
        self.grow_cases += 1
        if keep:
            return mlir, out
        shutil.rmtree(case)

    def reject_case(self, what, data, expect, dtype="f32", preexisting=False):
        """growc must fail on checkpoint `data`, mention every string in
        `expect` on stderr, and write neither output."""
        case = os.path.join(self.tmp, "reject-%d" % self.reject_cases)
        os.makedirs(case)
        path = os.path.join(case, "in.safetensors")
        write_file(path, data)
        out = os.path.join(case, "grown.safetensors")
        mlir = os.path.join(case, "grown.mlir")
        sentinel = b"previous contents\n"
        if preexisting:
            write_file(out, sentinel)
        model = self.model(4, 2, dtype)
        r = self.run([model, "--grow=midas", "--block-size", "2",
                      "--grow-steps", "2", "--weights-in", path,
                      "--weights-out", out, "--emit=mlir", "-o", mlir])
        check(r.returncode != 0, "[reject: %s] growc exited 0" % what)
        for s in expect:
            check(s in r.stderr, "[reject: %s] stderr does not mention %r:\n%s"
                  % (what, s, r.stderr))
        check(not os.path.exists(mlir), "[reject: %s] %s was written" %
              (what, mlir))
        if preexisting:
            with open(out, "rb") as f:
                check(f.read() == sentinel, "[reject: %s] existing %s was "
                      "changed" % (what, out))
        else:
            check(not os.path.exists(out), "[reject: %s] %s was written" %
                  (what, out))
        left = sorted(set(os.listdir(case)) - {"in.safetensors",
                                               "grown.safetensors"})
        check(not left, "[reject: %s] left files behind: %s" % (what, left))
        shutil.rmtree(case)
        self.reject_cases += 1


def chained_cases(r):
    """Grow, then grow the grown model again from the checkpoint growc wrote
    (the train / grow / train / grow workflow). The second run's checkpoint
    is keyed by the grown model's names, so its reference lineage starts
    afresh from the grown model, and only the second run's layers are new
    copies."""
    for method, n, b, k1, k2, zero in (("midas", 2, 1, 1, 1, False),
                                       ("midas", 1, 2, 2, 2, True),
                                       ("lidas", 2, 2, 1, 2, False)):
        mlir, out = r.grow_case(method, n, b, k1, True, zero, keep=True)
        tensors, metadata = read_safetensors(out)
        ckpt = {k: (d, tuple(s), bytes(v)) for k, (d, s, v) in tensors.items()}
        r.grow_case(method, n + k1, b, k2, True, zero,
                    start=(mlir, (out, ckpt, metadata)))


def output_failure_cases(r):
    """A valid checkpoint, but -o cannot be written: growc must fail and
    leave no --weights-out behind either."""
    model = r.model(2, 1, "f32")
    path, _, _ = r.checkpoint(2, "f32", True, "I64")
    case = os.path.join(r.tmp, "o-failure")
    os.makedirs(case)
    out = os.path.join(case, "grown.safetensors")
    mlir = os.path.join(case, "no-such-directory", "grown.mlir")
    res = r.run([model, "--grow=midas", "--block-size", "1", "--weights-in",
                 path, "--weights-out", out, "--emit=mlir", "-o", mlir])
    check(res.returncode != 0, "[-o unwritable] growc exited 0")
    check("grown.mlir" in res.stderr, "[-o unwritable] stderr does not name "
          "the output:\n%s" % res.stderr)
    check(not os.path.exists(out), "[-o unwritable] growc failed but wrote "
          "--weights-out %s" % out)
    shutil.rmtree(case)
    r.reject_cases += 1


def describe_source(name, lineage):
    for prefix in (EXP_AVG_SQ, EXP_AVG, ""):
        if name.startswith(prefix + "model.layers."):
            rest = name[len(prefix + "model.layers."):]
            i, suffix = rest.split(".", 1)
            src, copy = lineage[int(i)]
            return "%s (layer %d%s)" % (prefix + layer_param(src, suffix),
                                        src, ", a copy" if copy else "")
    return name


def negative_cases(r):
    L = 4  # 2 blocks of 2 layers
    base = make_checkpoint(101, L, "F32", True, "I64")
    names = sorted(base)
    good = encode_safetensors([(n,) + base[n] for n in names])
    (hlen,) = struct.unpack("<Q", good[:8])
    data_start = 8 + hlen
    path_hint = "in.safetensors"

    # Truncation at several offsets: inside the length prefix, inside the
    # header, at the start of the data, inside it, one byte short.
    for cut in (0, 5, 8 + hlen // 2, data_start, data_start + 1000,
                (data_start + len(good)) // 2, len(good) - 1):
        problem = ("too short" if cut < 8 else
                   "truncated header" if cut < data_start else "truncated")
        r.reject_case("truncated at %d of %d" % (cut, len(good)), good[:cut],
                      [path_hint, problem])
    # Cut one byte short: the last tensor in the file no longer fits.
    r.reject_case("truncated data", good[:len(good) - 1],
                  ["truncated", names[-1]])
    r.reject_case("header length past the end",
                  struct.pack("<Q", len(good)) + good[8:],
                  ["truncated header", path_hint])
    r.reject_case("header length absurd",
                  struct.pack("<Q", 1 << 62) + good[8:], ["header length"])
    # Invalid JSON of the same length: drop the closing brace.
    text = good[8:data_start]
    broken = text[:text.rindex(b"}")] + b" " + text[text.rindex(b"}") + 1:]
    r.reject_case("invalid JSON header", good[:8] + broken + good[data_start:],
                  ["invalid JSON"])
    broken = text.replace(b'"dtype"', b"'dtype'", 1)
    r.reject_case("invalid JSON quotes", good[:8] + broken + good[data_start:],
                  ["invalid JSON"])

    def variant(drop=(), add=(), change=None):
        ckpt = dict(base)
        for n in drop:
            del ckpt[n]
        for n, v in add:
            ckpt[n] = v
        for n, v in (change or {}).items():
            ckpt[n] = v
        return encode_safetensors([(n,) + ckpt[n] for n in sorted(ckpt)])

    w = layer_param(1, "mlp.up_proj.weight")
    r.reject_case("missing weight", variant(drop=[w]), [w])
    r.reject_case("missing weight and its moments",
                  variant(drop=[w, EXP_AVG + w, EXP_AVG_SQ + w]), [w])
    r.reject_case("missing final norm", variant(drop=["model.norm.weight"]),
                  ["model.norm.weight"])
    k = layer_param(0, "self_attn.k_proj.weight")
    r.reject_case("wrong weight shape",
                  variant(change={k: ("F32", (64, 64),
                                      bytes(nbytes("F32", (64, 64))))}),
                  [k, "shape"])
    r.reject_case("transposed weight shape",
                  variant(change={k: ("F32", (64, 32), base[k][2])}),
                  [k, "shape"])
    mn = EXP_AVG + "model.norm.weight"
    r.reject_case("wrong moment shape",
                  variant(change={mn: ("F32", (65,), bytes(65 * 4))}),
                  [mn, "shape"])
    q = layer_param(2, "self_attn.q_proj.weight")
    # (F16 and BF16 widen exactly to the f32 model's and load:
    # test/Runtime/hf-checkpoint.test; F64 would be rounded.)
    r.reject_case("wrong weight dtype",
                  variant(change={q: ("F64", (64, 64), bytes(64 * 64 * 8))}),
                  [q, "dtype", "F64"])
    mq = EXP_AVG_SQ + q
    r.reject_case("moment not F32",
                  variant(change={mq: ("BF16", (64, 64), bytes(64 * 64 * 2))}),
                  [mq, "dtype", "BF16"])
    # A bf16 model given f32 weights.
    f32_ckpt = make_checkpoint(102, L, "F32", False, None)
    r.reject_case("f32 checkpoint for a bf16 model",
                  encode_safetensors([(n,) + f32_ckpt[n]
                                      for n in sorted(f32_ckpt)]),
                  ["dtype", "F32", "BF16"], dtype="bf16")
    r.reject_case("extra lm_head with tied embeddings",
                  variant(add=[("lm_head.weight",
                                ("F32", (VOCAB, HIDDEN),
                                 bytes(VOCAB * HIDDEN * 4)))]),
                  ["lm_head.weight"])
    extra = layer_param(L, "mlp.up_proj.weight")  # a layer the model lacks
    r.reject_case("extra layer weight",
                  variant(add=[(extra, ("F32", (FFN, HIDDEN),
                                        bytes(FFN * HIDDEN * 4)))]),
                  [extra])
    r.reject_case("moment of an unknown parameter",
                  variant(add=[(EXP_AVG + extra,
                                ("F32", (FFN, HIDDEN),
                                 bytes(FFN * HIDDEN * 4)))]),
                  [EXP_AVG + extra])
    r.reject_case("unknown optimizer entry",
                  variant(add=[("optimizer.lr", ("F32", (), bytes(4)))]),
                  ["optimizer.lr"])
    v = layer_param(3, "self_attn.v_proj.weight")
    r.reject_case("one exp_avg_sq missing", variant(drop=[EXP_AVG_SQ + v]),
                  [EXP_AVG_SQ + v])
    r.reject_case("one parameter's moments missing",
                  variant(drop=[EXP_AVG + v, EXP_AVG_SQ + v]), [EXP_AVG + v])
    all_sq = [n for n in base if n.startswith(EXP_AVG_SQ)]
    r.reject_case("no exp_avg_sq at all", variant(drop=all_sq),
                  [EXP_AVG_SQ])
    # Only one parameter has moments.
    only = {n: val for n, val in base.items()
            if not n.startswith("optimizer.exp_avg") or n.endswith(q)}
    r.reject_case("moments for one parameter only",
                  encode_safetensors([(n,) + only[n] for n in sorted(only)]),
                  ["optimizer.exp_avg"])

    # Overlapping data_offsets: two same-sized tensors share one range and
    # the buffer holds the bytes once (no hole, no trailing bytes).
    a, b = layer_param(0, "mlp.gate_proj.weight"), \
        layer_param(0, "mlp.up_proj.weight")
    order = [n for n in names if n != b] + [b]
    tensors = [(n,) + base[n] for n in order]
    # Offsets of `a` in the layout without `b`; `b` then aliases them.
    offset = 0
    for n in order[:-1]:
        if n == a:
            a_range = [offset, offset + len(base[n][2])]
        offset += len(base[n][2])
    header = {}
    offset = 0
    for n, dtype, shape, data in tensors[:-1]:
        header[n] = {"dtype": dtype, "shape": list(shape),
                     "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    header[b] = {"dtype": "F32", "shape": [FFN, HIDDEN],
                 "data_offsets": a_range}
    text = json.dumps(header).encode()
    overlap = struct.pack("<Q", len(text)) + text + \
        b"".join(t[3] for t in tensors[:-1])
    r.reject_case("overlapping data_offsets", overlap, ["overlap", a, b])
    # Overlap by a partial range, shifting everything after it.
    r.reject_case("data_offsets shifted into the previous tensor",
                  encode_safetensors(
                      [(n,) + base[n] for n in names],
                      overrides={names[1]: {"data_offsets": [
                          4, 4 + len(base[names[1]][2])]}}),
                  ["overlap", names[1]])
    # A failing migration leaves an existing output untouched.
    r.reject_case("missing weight over an existing output",
                  variant(drop=[w]), [w], preexisting=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--growc", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--tmp", required=True)
    a = p.parse_args()
    start = time.time()
    shutil.rmtree(a.tmp, ignore_errors=True)
    os.makedirs(a.tmp)
    r = Runner(a.growc, a.config, a.tmp)
    try:
        self_check_reference()
        # MIDAS and LIDAS over block counts, block sizes and step counts,
        # each with AdamW moments copied and zeroed for the copies, and
        # without moments (with and without --zero-new-moments) at K = 2.
        index = 0
        for method in ("midas", "lidas"):
            for b in (1, 2, 4):
                if method == "lidas" and b % 2:
                    continue
                for n in range(1, 6):
                    for steps in (1, 2, 3):
                        index += 1
                        step_dtype = "I64" if index % 3 else "F32"
                        for zero in (False, True):
                            r.grow_case(method, n, b, steps, True, zero,
                                        step_dtype=step_dtype)
                        if steps == 2:
                            r.grow_case(method, n, b, steps, False,
                                        bool(index % 2), step_dtype=step_dtype)
        r.grow_case("gradstack", 1, 4, 3, True, True)
        r.grow_case("gradstack", 3, 2, 2, True, False)
        r.grow_case("gradstack", 2, 1, 1, False, False, step_dtype=None)
        r.grow_case("lidas", 3, 4, 2, True, True, lidas_odd="centred")
        r.grow_case("lidas", 1, 2, 3, True, False, lidas_odd="centred")
        r.grow_case("lidas", 5, 2, 1, True, False, lidas_odd="midas")
        r.grow_case("midas", 2, 2, 2, True, False, dtype="bf16")
        r.grow_case("lidas", 3, 2, 2, True, True, dtype="bf16",
                    step_dtype="F32")
        r.grow_case("midas", 3, 1, 2, True, True, dtype="f16")
        negative_cases(r)
        counts = (r.grow_cases, r.tensors_compared, r.reject_cases)
        chained_cases(r)
        output_failure_cases(r)
    except Mismatch as e:
        print("migrate-reference: FAIL: %s" % e)
        return 1
    shutil.rmtree(a.tmp, ignore_errors=True)
    print("migrate-reference: %d growth cases, %d tensors byte-exact, "
          "%d rejection cases, all passed (%.1f s)" %
          (counts + (time.time() - start,)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
