#!/usr/bin/env python3
"""Checks of growc-run export's folders (test/Runtime/export.test), written
from transformers' save_pretrained conventions, independently of growc.
Commands separated by "+" run in one process:

  logits A.safetensors B.safetensors TOL
      whether the "logits" of two files agree to TOL (max |a - b| / max |b|).
  reference ARGS...
      llama_reference.py ARGS.
  tokens OUT.safetensors
      a [2, 16] batch of token ids below 259.
  folder DIR CONFIG CHECKPOINT DTYPE [MAX_SHARD_BYTES]
      DIR is what save_pretrained writes for the checkpoint's model: the
      config's fields in order with num_hidden_layers and the dtype field(s)
      changed; generation_config.json with the config's special token ids
      (none without any); every safetensors file {"format": "pt"}; the model's tensors
      only (no optimizer.*, growc.*; lm_head only when untied), each equal
      to the checkpoint's converted by torch (round to nearest even, NaN
      and Inf kept); shards split as transformers splits them and an index
      sorted with the right total_size. Prints a summary.
  craft IN.safetensors OUT.safetensors [--drop NAME] [--rename OLD=NEW]
      [--copy FROM=TO] [--special NAME] [--metadata KEY=VALUE]
      a copy of a checkpoint's float tensors, some dropped, renamed or
      copied, NAME's first
      values set to the float32 edge cases of rounding (ties, NaN, Inf,
      subnormals, the largest finite floats), or metadata added.
  tokenizer DIR LARGEST_ID MERGES
      a byte-level BPE tokenizer.json (ids 0..LARGEST_ID, MERGES merges, so
      that its size can be chosen) and tokenizer_config.json in DIR.
  config IN OUT KEY=JSON...
      IN with fields set (or removed: KEY=) in place, new ones at the end.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "Reference"))
import llama_reference as ref  # noqa: E402

TORCH = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
NAMES = {"float32": "F32", "bfloat16": "BF16", "float16": "F16"}
SHARD = "model-%05d-of-%05d.safetensors"


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def raw(path):
    """(header dict, data bytes) of a safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)), f.read()


def tensor(header, data, name):
    """The torch tensor `name`, in its stored dtype (bit exact)."""
    info = header[name]
    begin, end = info["data_offsets"]
    buf = bytearray(data[begin:end])
    if info["dtype"] == "BF16":
        t = torch.frombuffer(buf, dtype=torch.int16).view(torch.bfloat16)
    elif info["dtype"] == "F16":
        t = torch.frombuffer(buf, dtype=torch.float16) if buf else torch.zeros(0, dtype=torch.float16)
    else:
        t = torch.from_numpy(np.frombuffer(buf, dtype=ref._ST_DTYPES[info["dtype"]]).copy())
    return t.reshape(info["shape"])


def same_bits(a, b):
    """Equal bit for bit, except that any NaN matches any NaN (torch's own
    scalar and vector conversions give NaN different bits)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    view = {torch.float32: torch.int32, torch.bfloat16: torch.int16, torch.float16: torch.int16}
    nan_a, nan_b = torch.isnan(a), torch.isnan(b)
    bits_a, bits_b = a.contiguous().view(view[a.dtype]), b.contiguous().view(view[b.dtype])
    return torch.equal(nan_a, nan_b) and torch.equal(bits_a[~nan_a], bits_b[~nan_b])


def logits(a, b, tol):
    x = torch.from_numpy(ref.read_safetensors(a)["logits"]).double()
    y = torch.from_numpy(ref.read_safetensors(b)["logits"]).double()
    if x.shape != y.shape:
        fail("logits shapes %s and %s" % (tuple(x.shape), tuple(y.shape)))
    err = float((x - y).abs().max()) / max(float(y.abs().max()), 1e-30)
    if err <= float(tol):
        print("logits agree: relative error %s %s" % ("0" if err == 0 else "below", tol))
    else:
        print("logits differ: relative error %.3g > %s" % (err, tol))


def state_dict_order(layers, tied):
    """LlamaForCausalLM.state_dict()'s names: modules in the order their
    __init__ creates them (LlamaDecoderLayer: self_attn, mlp, then the two
    norms)."""
    names = ["model.embed_tokens.weight"]
    for i in range(layers):
        names += ["model.layers.%d.%s" % (i, p) for p in (
            "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
            "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
            "mlp.down_proj.weight", "input_layernorm.weight",
            "post_attention_layernorm.weight")]
    return names + ["model.norm.weight"] + ([] if tied else ["lm_head.weight"])


def split_like_transformers(names, sizes, limit):
    """huggingface_hub's split_state_dict_into_shards_factory."""
    shards, current, current_size = [], [], 0
    for name in names:
        size = sizes[name]
        if size > limit:
            shards.append([name])
            continue
        if current_size + size > limit and current:
            shards.append(current)
            current, current_size = [], 0
        current.append(name)
        current_size += size
    if current:
        shards.append(current)
    return shards


def folder(path, config_path, checkpoint, dtype, limit=None):
    with open(config_path) as f:
        config = json.load(f, object_pairs_hook=lambda pairs: pairs)
    with open(os.path.join(path, "config.json")) as f:
        text = f.read()
    exported = json.loads(text, object_pairs_hook=lambda pairs: pairs)
    if not text.endswith("}\n"):
        fail("config.json does not end with a newline")
    given, got = dict(config), dict(exported)
    ck_header, ck_data = raw(checkpoint)
    layers = len({n.split(".")[2] for n in ck_header if n.startswith("model.layers.")})
    # Every field kept, in order; only the depth and dtype change; only
    # model_type/architectures may be added (after them).
    kept = [k for k, _ in exported][:len(config)]
    if kept != [k for k, _ in config]:
        fail("config.json fields %s, expected %s first" % (kept, [k for k, _ in config]))
    dtype_keys = [k for k in ("dtype", "torch_dtype") if k in given] or ["torch_dtype"]
    for key, value in config:
        want = layers if key == "num_hidden_layers" else value
        if key == "layer_types":
            want = value[:1] * layers
        if key in dtype_keys:
            want = dtype
        if got[key] != want:
            fail("config.json %s = %r, expected %r" % (key, got[key], want))
    for key in dtype_keys:
        if got.get(key) != dtype:
            fail("config.json %s = %r, expected %r" % (key, got.get(key), dtype))
    if "dtype" in given and "torch_dtype" not in given and "torch_dtype" in got:
        fail("config.json gained torch_dtype though the config spells it dtype")
    extra = set(got) - set(given) - {"torch_dtype", "num_hidden_layers", "model_type",
                                     "architectures"}
    if extra:
        fail("config.json gained %s" % sorted(extra))

    # generation_config.json as GenerationConfig.from_model_config derives it.
    special = {k: given[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id")
               if given.get(k) is not None}
    generation = os.path.join(path, "generation_config.json")
    if special:
        with open(generation) as f:
            got_generation = json.load(f)
        if got_generation != dict(special, _from_model_config=True):
            fail("generation_config.json %s, expected %s" % (got_generation, special))
    elif os.path.exists(generation):
        fail("generation_config.json, though the config names no special token")

    want = state_dict_order(layers, given.get("tie_word_embeddings", False))
    stored = NAMES[dtype]
    itemsize = torch.tensor([], dtype=TORCH[stored]).element_size()
    sizes = {n: int(np.prod(ck_header[n]["shape"])) * itemsize for n in want}
    index_path = os.path.join(path, ref.INDEX_NAME)
    if os.path.exists(index_path):
        with open(index_path) as f:
            index_text = f.read()
        index = json.loads(index_text)
        if index_text != json.dumps(index, indent=2, sort_keys=True) + "\n":
            fail("the index is not written as transformers writes it (indent 2, sorted keys)")
        shards = split_like_transformers(want, sizes, limit)
        expected_map = {n: SHARD % (k + 1, len(shards))
                        for k, shard in enumerate(shards) for n in shard}
        if index["weight_map"] != expected_map:
            fail("weight_map %s, expected %s" % (index["weight_map"], expected_map))
        if index["metadata"] != {"total_size": sum(sizes.values())}:
            fail("index metadata %s" % index["metadata"])
        files = sorted(set(expected_map.values()))
    else:
        if limit is not None and len(split_like_transformers(want, sizes, limit)) > 1:
            fail("one file, though the tensors pass %d bytes" % limit)
        files = ["model.safetensors"]
        expected_map = {n: files[0] for n in want}
    for name in os.listdir(path):
        if name.endswith(".safetensors") and name not in files:
            fail("unexpected file %s" % name)
    checked = 0
    for file in files:
        header, data = raw(os.path.join(path, file))
        metadata = header.pop("__metadata__", None)
        if not metadata or metadata.get("format") != "pt":
            fail("%s: metadata %r lacks format pt" % (file, metadata))
        names = [n for n in header]
        if names != [n for n in want if expected_map[n] == file]:
            fail("%s holds %s, not in state_dict order" % (file, names))
        for name in names:
            if header[name]["dtype"] != stored:
                fail("%s: %s is %s, expected %s" % (file, name, header[name]["dtype"], stored))
            source = tensor(ck_header, ck_data, name).to(torch.float32)
            if not same_bits(tensor(header, data, name), source.to(TORCH[stored])):
                fail("%s: %s differs from the checkpoint's rounded by torch" % (file, name))
            checked += 1
    print("folder ok: %d layers, %s, %d tensors in %s" % (layers, dtype, checked, ", ".join(files)))


def craft(path, out, args):
    header, data = raw(path)
    metadata = header.pop("__metadata__", None) or {}
    tensors = {n: tensor(header, data, n) for n in header if header[n]["dtype"] in TORCH}
    while args:
        flag, value = args[0], args[1]
        args = args[2:]
        if flag == "--drop":
            del tensors[value]
        elif flag == "--copy":
            old, new = value.split("=")
            tensors[new] = tensors[old].clone()
        elif flag == "--rename":
            old, new = value.split("=")
            tensors[new] = tensors.pop(old)
        elif flag == "--scale":
            name, factor = value.split("=")
            tensors[name] = tensors[name] * float(factor)
        elif flag == "--special":
            # Ties to even both ways, NaN, infinities, the largest finite
            # float (to bf16: Inf), subnormals of both formats, -0.
            bits = np.array([0x3F808000, 0x3F818000, 0x3F80C000, 0x7FC00001,
                             0xFF800001, 0x7F800000, 0xFF800000, 0x7F7FFFFF,
                             0x477FF000, 0x477FEFFF, 0x33800000, 0x33000001,
                             0x00000001, 0x80000000, 0x387FC000, 0x38800000],
                            dtype=np.uint32)
            flat = tensors[value].flatten().clone()
            flat[:len(bits)] = torch.from_numpy(bits.view(np.float32).copy())
            tensors[value] = flat.reshape(tensors[value].shape)
        elif flag == "--metadata":
            key, text = value.split("=", 1)
            metadata[key] = text
        else:
            fail("unknown craft flag " + flag)
    ref.write_safetensors(out, tensors, metadata=metadata)


def tokenizer(path, largest, merges):
    os.makedirs(path, exist_ok=True)
    vocab = {"t%d" % i: i for i in range(int(largest))}
    with open(os.path.join(path, "tokenizer.json"), "w") as f:
        json.dump({"version": "1.0", "added_tokens": [
            {"id": int(largest), "content": "<|endoftext|>", "special": True}],
            "model": {"type": "BPE", "vocab": vocab,
                      "merges": ["t%d t%d" % (i % 7, i % 5) for i in range(int(merges))]}}, f)
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump({"eos_token": "<|endoftext|>"}, f)


def edit_config(path, out, edits):
    with open(path) as f:
        config = json.load(f)
    for edit in edits:
        key, value = edit.split("=", 1)
        if value:
            config[key] = json.loads(value)
        else:
            config.pop(key, None)
    with open(out, "w") as f:
        json.dump(config, f, indent=2)


def tokens(path):
    ref.write_safetensors(path, {"tokens": (np.arange(32, dtype=np.int32).reshape(2, 16) * 37)
                                 % 259})


def main():
    # Commands separated by "+" run in one process (torch loads once).
    argv = sys.argv[1:]
    while argv:
        end = argv.index("+") if "+" in argv else len(argv)
        run(argv[0], argv[1:end])
        argv = argv[end + 1:]


def run(command, args):
    if command == "logits":
        logits(*args)
    elif command == "folder":
        folder(args[0], args[1], args[2], args[3], int(args[4]) if len(args) > 4 else None)
    elif command == "craft":
        craft(args[0], args[1], args[2:])
    elif command == "tokenizer":
        tokenizer(*args)
    elif command == "config":
        edit_config(args[0], args[1], args[2:])
    elif command == "tokens":
        tokens(*args)
    elif command == "reference":
        if ref.main(args) != 0:
            fail("llama_reference.py %s failed" % " ".join(args))
    else:
        fail("unknown command " + command)


if __name__ == "__main__":
    main()
