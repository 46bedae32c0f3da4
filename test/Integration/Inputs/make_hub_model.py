"""Builds a small SmolLM2-style model folder as the Hugging Face Hub serves
one, for test/Integration/hub-round-trip.test (no downloads):

  config.json                    written as transformers v5 writes it:
                                 rope_parameters (theta 100000, no
                                 rope_theta), dtype bfloat16, tied
                                 embeddings, SmolLM's extra fields
  model-0000{1,2}-of-00002.safetensors + model.safetensors.index.json
                                 bf16 tensors in two shards; the first also
                                 holds lm_head.weight equal to the
                                 embedding and a rotary inv_freq buffer, as
                                 some Hub checkpoints of tied models do
  tokenizer.json, tokenizer_config.json
                                 the SmolLM-style byte-level BPE of
                                 test/Tokenizer/Inputs/make_tokenizers.py
  ../corpus.txt                  text to train on

  make_hub_model.py TOKENIZERS_DIR OUT_DIR
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "Reference"))
from random_model import random_weights  # noqa: E402

LAYERS = 4


def bf16_bytes(array):
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)) \
        .to(torch.bfloat16).view(torch.int16).numpy().tobytes()


def write_shard(path, tensors):
    """tensors: {name: (dtype, shape, bytes)}; the format's rules (offsets
    in order, header padded to 8 bytes, {"format": "pt"})."""
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name in sorted(tensors):
        dtype, shape, blob = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return offset


def main():
    tokenizers, out = sys.argv[1:3]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(tokenizers, "smollm.json"), encoding="utf-8") as f:
        tokenizer = json.load(f)
    ids = list(tokenizer["model"]["vocab"].values()) + \
        [t["id"] for t in tokenizer["added_tokens"]]
    vocab = max(ids) + 1
    shutil.copy(os.path.join(tokenizers, "smollm.json"),
                os.path.join(out, "tokenizer.json"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                   "model_max_length": 8192,
                   "tokenizer_class": "GPT2Tokenizer"}, f, indent=2)

    config = {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False,
        "attention_dropout": 0.0, "bos_token_id": 0, "dtype": "bfloat16",
        "eos_token_id": 0, "head_dim": 8, "hidden_act": "silu",
        "hidden_size": 32, "initializer_range": 0.02,
        "intermediate_size": 64, "is_llama_config": True,
        "max_position_embeddings": 8192, "mlp_bias": False,
        "model_type": "llama", "num_attention_heads": 4,
        "num_hidden_layers": LAYERS, "num_key_value_heads": 2,
        "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_interleaved": False,
        "rope_parameters": {"rope_theta": 100000.0, "rope_type": "default"},
        "tie_word_embeddings": True, "transformers_version": "5.0.0",
        "use_cache": True, "vocab_size": vocab}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)

    weights = random_weights(config, LAYERS, np.random.default_rng(16))
    tensors = {name: ("BF16", array.shape, bf16_bytes(array))
               for name, array in weights.items()}
    tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"]
    inv_freq = 1.0 / 100000.0 ** (np.arange(0, 8, 2, dtype=np.float32) / 8)
    tensors["model.rotary_emb.inv_freq"] = (
        "F32", inv_freq.shape, inv_freq.astype("<f4").tobytes())
    first = {n for n in tensors
             if not n.startswith("model.layers.")
             or int(n.split(".")[2]) < LAYERS // 2}
    first.discard("model.norm.weight")
    shards = {"model-00001-of-00002.safetensors": first,
              "model-00002-of-00002.safetensors": set(tensors) - first}
    weight_map, total = {}, 0
    for file, names in shards.items():
        write_shard(os.path.join(out, file), {n: tensors[n] for n in names})
        for n in names:
            weight_map[n] = file
            if n != "model.rotary_emb.inv_freq":
                total += len(tensors[n][2])
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total},
                   "weight_map": dict(sorted(weight_map.items()))}, f,
                  indent=2)

    with open(os.path.join(out, "..", "corpus.txt"), "w",
              encoding="utf-8") as f:
        with open(os.path.join(tokenizers, "docs.jsonl"),
                  encoding="utf-8") as docs:
            texts = [json.loads(line)["text"] for line in docs]
        f.write("\n".join(texts * 8))
    print("vocab", vocab, "layers", LAYERS)


if __name__ == "__main__":
    main()
