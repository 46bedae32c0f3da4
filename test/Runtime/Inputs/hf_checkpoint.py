"""Turns a growc f32 checkpoint into what the Hub holds: bf16 (or f16)
tensors in shards named by model.safetensors.index.json, as save_pretrained
writes them, with the buffers older transformers saved (RoPE inv_freq) and,
for a tied model, lm_head.weight beside the embedding. Also writes the f32
checkpoint of exactly the same values, so that a test can check that growc
loads the Hub form as that f32 file, bit for bit.

  hf_checkpoint.py IN.safetensors --out DIR --f32 SAME.safetensors
                   [--dtype bf16|f16] [--shards N] [--tied-head] [--buffers]
                   [--tokens PREFIX --vocab V]

--tokens also writes the same token ids as int32 (PREFIX.i32.safetensors)
and as int64, as PyTorch saves input_ids (PREFIX.i64.safetensors).

numpy only (no torch import: this runs in lit tests, where time counts);
the rounding to bf16 is to nearest even, as torch's .to(torch.bfloat16).
"""

import argparse
import json
import os
import struct

import numpy as np

_DTYPES = {"F32": "<f4", "BF16": "<u2", "F16": "<f2", "I32": "<i4", "I64": "<i8"}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], dtype=_DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def write_safetensors(path, tensors, metadata=None):
    """{name: (dtype code, array)}, in the order given."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, (code, array) in tensors.items():
        raw = np.ascontiguousarray(array, dtype=_DTYPES[code]).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks))


def to_bf16(array):
    """bf16 bits of f32 values (finite), rounded to nearest even."""
    bits = np.ascontiguousarray(array, dtype="<f4").view("<u4").astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("--out", required=True)
    parser.add_argument("--f32", required=True)
    parser.add_argument("--dtype", choices=["bf16", "f16"], default="bf16")
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--tied-head", action="store_true",
                        help="also save lm_head.weight = the embedding")
    parser.add_argument("--buffers", action="store_true",
                        help="also save the RoPE inv_freq buffers")
    parser.add_argument("--tokens")
    parser.add_argument("--vocab", type=int, default=2)
    args = parser.parse_args()

    if args.tokens:
        ids = (np.arange(8).reshape(1, 8) * 7) % args.vocab
        write_safetensors(args.tokens + ".i32.safetensors", {"tokens": ("I32", ids)})
        write_safetensors(args.tokens + ".i64.safetensors", {"tokens": ("I64", ids)})

    code = args.dtype.upper()
    hub, same = {}, {}
    for name, array in read_safetensors(args.checkpoint).items():
        if code == "BF16":
            bits = to_bf16(array)
            hub[name] = (code, bits)
            same[name] = ("F32", (bits.astype("<u4") << 16).view("<f4"))
        else:
            half = array.astype("<f2")
            hub[name] = (code, half)
            same[name] = ("F32", half.astype("<f4"))
    # The f32 file holds the rounded values, widened exactly (with the
    # shards' metadata, so that what growc derives from both is the same).
    write_safetensors(args.f32, same, {"format": "pt"})

    if args.tied_head:
        hub["lm_head.weight"] = hub["model.embed_tokens.weight"]
    if args.buffers:
        inv_freq = 1.0 / (10000 ** (np.arange(0, 8, 2) / 8))
        hub["model.rotary_emb.inv_freq"] = ("F32", inv_freq)
        hub["model.layers.0.self_attn.rotary_emb.inv_freq"] = ("F32", inv_freq)

    os.makedirs(args.out, exist_ok=True)
    names = sorted(hub)
    per_shard = -(-len(names) // args.shards)
    weight_map, total = {}, 0
    for i in range(args.shards):
        shard = "model-%05d-of-%05d.safetensors" % (i + 1, args.shards)
        chunk = {n: hub[n] for n in names[i * per_shard:(i + 1) * per_shard]}
        write_safetensors(os.path.join(args.out, shard), chunk, {"format": "pt"})
        for name, (_, array) in chunk.items():
            weight_map[name] = shard
            total += array.nbytes
    with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


if __name__ == "__main__":
    main()
