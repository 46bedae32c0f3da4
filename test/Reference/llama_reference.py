#!/usr/bin/env python3
"""Independent PyTorch reference of the Hugging Face Llama forward pass.

Numerical tests of growc's code generation compare against this file. It is
written from the math of transformers' `modeling_llama` (which is not
installed here) and from /work/shared/SPEC.md sections 1, 4 and 5, and shares
no code with growc.

Model (SPEC.md section 1; layers are numbered by *position* p = 0..L-1):

    h_0     = E[tokens]
    a_p     = Attn(s_p * RMSNorm_in(h_p))           s_p = 1/sqrt(i+1) with
    hhat_p  = h_p + a_p                                   LN-Scaling (i: the
                                                          index of the layer
                                                          at p), else 1
    m_p     = MLP(s_p * RMSNorm_post(hhat_p))
    h_{p+1} = hhat_p + m_p
    logits  = W_U . RMSNorm_final(h_L)               (W_U = E when tied)

Semantics followed exactly as transformers does them:

* RMSNorm: x * rsqrt(mean(x^2, -1) + eps) * w, computed in the compute dtype
  (float32, or float64 for a high-precision reference).
* RoPE, rotate-half convention: inv_freq = 1 / theta^(arange(0, hd, 2) / hd)
  and the angles pos * inv_freq are float32 quantities, as transformers
  computes them in float32 whatever the model dtype; cos/sin of those angles
  are then taken in the compute dtype. q' = q*cos + rotate_half(q)*sin with
  emb = cat(freqs, freqs).
* Attention: causal, grouped KV heads repeated with repeat_kv (query head h
  reads KV head h // (heads / kv_heads)), scores scaled by head_dim**-0.5,
  softmax in at least float32, no biases, no padding mask (positions 0..T-1 in
  every batch row).
* MLP: down(silu(gate(x)) * up(x)).

Analysis options (growc's `grow.layer` attributes, docs/decisions.md):

* `layer_order`: position p runs the weights of layer `layer_order[p]`.
* `skip`: positions whose layer is the identity; with `skip_until = t` only
  token positions < t (0-based) are skipped. The layer is computed normally
  for every position and then `where(pos < t, h, layer_out)` is taken, so
  later positions attend to the (un-updated) inputs of earlier ones exactly
  as a masked layer would. a_p = m_p = 0 at skipped positions. `skip_until`
  may also be a list, one split per batch row, and `skip_from = f` skips
  only positions >= f (1 keeps position 0, the depth score's default).
* `ln_scaling`: both pre-sublayer norms of the layer of index i are
  multiplied by 1/sqrt(i+1) (the final norm is not). The factor belongs to
  the layer, not to its position: with `layer_order` each layer runs with
  the factor it was trained with, as in a swap of a trained LN-Scaling
  model (Csordás et al. 2025 permute the trained layers, factors included).

A Hugging Face model folder (--model-dir) is read as from_pretrained reads
it (config.json; model.safetensors, or model.safetensors.index.json and its
shards; F32/F16/BF16 upcast to the compute dtype; saved RoPE tables
ignored), except that a missing or unexpected tensor is an error, not a
warning.

Outputs: "logits", "logit_lens.<l>" = W_U . RMSNorm_final(h_{l+1}),
"logit_lens_in.<l>" = W_U . RMSNorm_final(h_l) (the lens at the input of
layer l, Csordás et al.'s index), "hidden.<l>" = h_l (l = 0..L),
"attn.<l>" = a_l, "mlp.<l>" = m_l.

Command line:
    llama_reference.py (--config config.json --weights W.safetensors | --model-dir DIR)
        --tokens T.safetensors --out O.safetensors
        [--outputs logits,logit_lens.0,...] [--float64]
        [--layer-order 2,1,0] [--skip 1,2] [--skip-until 3] [--ln-scaling]
    llama_reference.py --self-test
"""

import argparse
import contextlib
import json
import math
import os
import re
import struct
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

SUPPORTED_DTYPES = (torch.float32, torch.float64)

# Per-layer parameters: short key -> Hugging Face suffix.
LAYER_PARAMS = {
    "input_norm": "input_layernorm.weight",
    "q": "self_attn.q_proj.weight",
    "k": "self_attn.k_proj.weight",
    "v": "self_attn.v_proj.weight",
    "o": "self_attn.o_proj.weight",
    "post_norm": "post_attention_layernorm.weight",
    "gate": "mlp.gate_proj.weight",
    "up": "mlp.up_proj.weight",
    "down": "mlp.down_proj.weight",
}
EMBED = "model.embed_tokens.weight"
FINAL_NORM = "model.norm.weight"
LM_HEAD = "lm_head.weight"
_LAYER_KEY = re.compile(r"^model\.layers\.(\d+)\.")


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

class ModelConfig:
    """The fields of a LlamaConfig that the forward pass needs, with HF defaults."""

    def __init__(self, config, num_layers):
        if not isinstance(config, dict):
            raise TypeError("config must be a dict (a parsed config.json)")
        _reject_unsupported(config)
        try:
            self.vocab = int(config["vocab_size"])
            self.hidden = int(config["hidden_size"])
            self.ffn = int(config["intermediate_size"])
            self.heads = int(config["num_attention_heads"])
        except KeyError as e:
            raise ValueError("config lacks required field %s" % e) from None
        kv = config.get("num_key_value_heads")
        self.kv_heads = self.heads if kv is None else int(kv)
        hd = config.get("head_dim")
        self.head_dim = self.hidden // self.heads if hd is None else int(hd)
        eps = config.get("rms_norm_eps")
        self.eps = 1e-6 if eps is None else float(eps)
        self.rope_theta, self.rope_scaling = _rope_settings(config)
        self.tied = bool(config.get("tie_word_embeddings", False))
        # The weights decide the depth: grown checkpoints may come with a
        # config whose num_hidden_layers was not updated.
        self.num_layers = num_layers
        if self.heads % self.kv_heads != 0:
            raise ValueError("num_attention_heads (%d) is not a multiple of "
                             "num_key_value_heads (%d)" % (self.heads, self.kv_heads))
        if self.head_dim % 2 != 0:
            raise ValueError("RoPE needs an even head_dim, got %d" % self.head_dim)


def _reject_unsupported(config):
    """Fail loudly on config fields that would change the math modelled here."""
    act = config.get("hidden_act", "silu")
    if act not in (None, "silu"):
        raise NotImplementedError("hidden_act %r (only silu)" % act)
    for key in ("attention_bias", "mlp_bias", "rope_interleaved"):
        if config.get(key):
            raise NotImplementedError("%s = true (not modelled)" % key)
    if config.get("partial_rotary_factor", 1.0) not in (None, 1.0):
        raise NotImplementedError("partial_rotary_factor %r" % config["partial_rotary_factor"])
    model_type = config.get("model_type", "llama")
    if model_type not in (None, "llama"):
        raise NotImplementedError("model_type %r (only llama)" % model_type)
    _rope_settings(config)


# The parameters each implemented RoPE type reads (transformers'
# modeling_rope_utils); "default" reads none.
ROPE_TYPE_KEYS = {
    "default": (),
    "linear": ("factor",),
    "llama3": ("factor", "low_freq_factor", "high_freq_factor",
               "original_max_position_embeddings"),
}


def _rope_spelling(params, where):
    """(theta or None, scaling dict or None) from a rope_scaling (v4) or
    rope_parameters (v5) object."""
    if params in (None, {}):
        return None, None
    if not isinstance(params, dict):
        raise ValueError("%s must be an object" % where)
    rope_type = params.get("rope_type", params.get("type", "default"))
    if rope_type not in ROPE_TYPE_KEYS:
        raise NotImplementedError("rope_type %r" % rope_type)
    if params.get("partial_rotary_factor", 1.0) != 1.0:
        raise NotImplementedError("partial_rotary_factor %r" % params["partial_rotary_factor"])
    theta = params.get("rope_theta")
    if rope_type == "default":
        return theta, None
    scaling = {"rope_type": rope_type}
    for key in ROPE_TYPE_KEYS[rope_type]:
        if params.get(key) is None:
            raise ValueError("%s (%s) lacks %s" % (where, rope_type, key))
        scaling[key] = params[key]
    return theta, scaling


def _rope_settings(config):
    """(theta, scaling) of a v4 (rope_theta + rope_scaling) or v5
    (rope_parameters) config; spellings that disagree are an error."""
    theta_v4, scaling_v4 = _rope_spelling(config.get("rope_scaling"), "rope_scaling")
    theta_v5, scaling_v5 = _rope_spelling(config.get("rope_parameters"), "rope_parameters")
    has_v4 = config.get("rope_scaling") not in (None, {})
    has_v5 = config.get("rope_parameters") not in (None, {})
    if has_v4 and has_v5 and scaling_v4 != scaling_v5:
        raise ValueError("rope_scaling %r and rope_parameters %r disagree"
                         % (scaling_v4, scaling_v5))
    thetas = {float(t) for t in (config.get("rope_theta"), theta_v5, theta_v4)
              if t is not None}
    if len(thetas) > 1:
        raise ValueError("the config states different rope_theta values: %s"
                         % sorted(thetas))
    theta = thetas.pop() if thetas else 10000.0
    return theta, (scaling_v4 if has_v4 else scaling_v5)


def _rope_theta(config):
    return _rope_settings(config)[0]


def count_layers(weights):
    """Number of decoder layers in `weights`; the indices must be 0..n-1."""
    indices = set()
    for name in weights:
        match = _LAYER_KEY.match(name)
        if match:
            indices.add(int(match.group(1)))
    if indices != set(range(len(indices))):
        raise ValueError("layer indices in the weights are not dense: %s"
                         % sorted(indices))
    return len(indices)


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------

def _to_tensor(value, dtype, keep_graph=False):
    """numpy array or torch tensor -> CPU tensor of `dtype` (a copy when needed).
    With keep_graph a tensor of `dtype` that requires grad is used as is, so
    autograd can differentiate through the model."""
    if isinstance(value, torch.Tensor):
        if keep_graph and value.requires_grad and value.dtype == dtype:
            return value
        tensor = value.detach().cpu()
    else:
        array = np.asarray(value)
        # from_numpy wants native byte order and warns on read-only memory.
        array = np.require(array.astype(array.dtype.newbyteorder("="), copy=False),
                           requirements=["C", "W"])
        tensor = torch.from_numpy(array)
    if not tensor.is_floating_point():
        raise TypeError("weight of dtype %s is not floating point" % tensor.dtype)
    return tensor.to(dtype)


class Weights:
    """Converts checkpoint tensors to the compute dtype once, checking shapes."""

    def __init__(self, weights, cfg, dtype, keep_graph=False):
        self._raw = weights
        self._cfg = cfg
        self._dtype = dtype
        self._keep_graph = keep_graph
        self._cache = {}

    def get(self, name, shape):
        if name not in self._cache:
            if name not in self._raw:
                raise KeyError("weights lack %s" % name)
            tensor = _to_tensor(self._raw[name], self._dtype, self._keep_graph)
            if tuple(tensor.shape) != tuple(shape):
                raise ValueError("%s has shape %s, the config needs %s"
                                 % (name, tuple(tensor.shape), tuple(shape)))
            self._cache[name] = tensor
        return self._cache[name]

    def embed(self):
        c = self._cfg
        return self.get(EMBED, (c.vocab, c.hidden))

    def final_norm(self):
        return self.get(FINAL_NORM, (self._cfg.hidden,))

    def unembed(self):
        c = self._cfg
        # transformers ties the head to the embedding and ignores any
        # lm_head.weight in the checkpoint when tie_word_embeddings is set.
        return self.embed() if c.tied else self.get(LM_HEAD, (c.vocab, c.hidden))

    def layer(self, index):
        c = self._cfg
        q_out, kv_out = c.heads * c.head_dim, c.kv_heads * c.head_dim
        shapes = {
            "input_norm": (c.hidden,), "post_norm": (c.hidden,),
            "q": (q_out, c.hidden), "k": (kv_out, c.hidden), "v": (kv_out, c.hidden),
            "o": (c.hidden, q_out),
            "gate": (c.ffn, c.hidden), "up": (c.ffn, c.hidden), "down": (c.hidden, c.ffn),
        }
        prefix = "model.layers.%d." % index
        return {key: self.get(prefix + suffix, shapes[key])
                for key, suffix in LAYER_PARAMS.items()}


# ---------------------------------------------------------------------------
# Building blocks (transformers' modeling_llama semantics)
# ---------------------------------------------------------------------------

def rms_norm(x, weight, eps):
    """LlamaRMSNorm: x * rsqrt(mean(x^2) + eps) * w.

    transformers upcasts to float32 here; the compute dtype is float32 or
    float64 already, and float64 is kept so the precise reference stays precise.
    """
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rope_inv_freq(head_dim, theta, scaling=None):
    """inv_freq exactly as LlamaRotaryEmbedding builds it (a float32 buffer),
    rescaled by a linear or llama3 `scaling` (a rope_scaling dict) as
    transformers' _compute_linear_scaling_rope_parameters and
    _compute_llama3_parameters do it."""
    exponent = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
    inv_freq = 1.0 / (theta ** exponent)
    if scaling is None:
        return inv_freq
    factor = scaling["factor"]
    if scaling["rope_type"] == "linear":
        # Positions divided by the factor, folded into the frequencies.
        return inv_freq / factor
    # llama3: by wavelength, keep the high frequencies (short wavelengths),
    # divide the low ones by the factor, interpolate the band between.
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_context = scaling["original_max_position_embeddings"]
    low_freq_wavelen = old_context / low
    high_freq_wavelen = old_context / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_context / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
    return torch.where(medium, smoothed, scaled)


def rope_cos_sin(seq_len, head_dim, theta, dtype, scaling=None):
    """cos/sin tables [T, head_dim] for positions 0..T-1.

    The angles are float32 products, as in transformers (which disables
    autocast and computes inv_freq @ positions in float32 for every model
    dtype); cos/sin are then evaluated in `dtype`.
    """
    inv_freq = rope_inv_freq(head_dim, theta, scaling)
    positions = torch.arange(seq_len, dtype=torch.int64).float()
    freqs = positions[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1).to(dtype)
    return emb.cos(), emb.sin()


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x, cos, sin):
    """x: [B, heads, T, hd]; cos/sin: [T, hd] (broadcast over batch and heads)."""
    return x * cos + rotate_half(x) * sin


def repeat_kv(x, n_rep):
    """[B, kv, T, hd] -> [B, kv * n_rep, T, hd]; KV head g serves query heads
    g*n_rep .. g*n_rep + n_rep - 1 (transformers' expand + reshape)."""
    if n_rep == 1:
        return x
    b, kv, t, hd = x.shape
    return x[:, :, None, :, :].expand(b, kv, n_rep, t, hd).reshape(b, kv * n_rep, t, hd)


def attention(x, lw, cfg, cos, sin):
    """Causal self-attention of the normed input x [B, T, D] -> [B, T, D]."""
    b, t, _ = x.shape
    hd = cfg.head_dim
    q = F.linear(x, lw["q"]).view(b, t, cfg.heads, hd).transpose(1, 2)
    k = F.linear(x, lw["k"]).view(b, t, cfg.kv_heads, hd).transpose(1, 2)
    v = F.linear(x, lw["v"]).view(b, t, cfg.kv_heads, hd).transpose(1, 2)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    n_rep = cfg.heads // cfg.kv_heads
    k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)
    scores = torch.matmul(q, k.transpose(2, 3)) * (hd ** -0.5)
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    # -inf instead of transformers' finfo.min: both give exactly 0 after exp,
    # and the diagonal keeps every row finite.
    scores = scores.masked_fill(~causal, float("-inf"))
    softmax_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    probs = F.softmax(scores, dim=-1, dtype=softmax_dtype).to(x.dtype)
    out = torch.matmul(probs, v).transpose(1, 2).reshape(b, t, cfg.heads * hd)
    return F.linear(out, lw["o"])


def mlp(x, lw):
    return F.linear(F.silu(F.linear(x, lw["gate"])) * F.linear(x, lw["up"]), lw["down"])


def decoder_layer(h, lw, cfg, cos, sin, norm_scale):
    """One pre-norm layer; returns (a, m) so that h_next = (h + a) + m."""
    x = rms_norm(h, lw["input_norm"], cfg.eps)
    if norm_scale is not None:
        x = x * norm_scale
    a = attention(x, lw, cfg, cos, sin)
    h_hat = h + a
    y = rms_norm(h_hat, lw["post_norm"], cfg.eps)
    if norm_scale is not None:
        y = y * norm_scale
    return a, mlp(y, lw)


# ---------------------------------------------------------------------------
# The forward pass
# ---------------------------------------------------------------------------

def _as_tokens(tokens, vocab):
    if isinstance(tokens, torch.Tensor):
        t = tokens.detach().cpu()
    else:
        t = torch.from_numpy(np.array(tokens))
    if t.is_floating_point() or t.dtype == torch.bool:
        raise TypeError("tokens must be integers, got %s" % t.dtype)
    if t.dim() != 2:
        raise ValueError("tokens must be [batch, seq], got shape %s" % (tuple(t.shape),))
    t = t.long()
    if t.numel() and (t.min() < 0 or t.max() >= vocab):
        raise ValueError("token ids must be in [0, %d)" % vocab)
    return t


def _parse_outputs(outputs, num_positions):
    if isinstance(outputs, str):
        outputs = [o for o in outputs.split(",") if o]
    limits = {"logit_lens": num_positions, "logit_lens_in": num_positions,
              "hidden": num_positions + 1,
              "attn": num_positions, "mlp": num_positions}
    names = []
    for name in outputs:
        if name != "logits":
            kind, _, index = name.partition(".")
            if kind not in limits or not index.isdigit() or int(index) >= limits[kind]:
                raise ValueError("unknown output %r (model has %d layer positions)"
                                 % (name, num_positions))
            name = "%s.%d" % (kind, int(index))  # canonical: "hidden.01" -> "hidden.1"
        if name in names:
            raise ValueError("output %r requested twice" % name)
        names.append(name)
    return names


def forward(config, weights, tokens, *, layer_order=None, skip=None, skip_until=None,
            skip_from=0, ln_scaling=False, outputs=("logits",), dtype=torch.float32,
            differentiable=False):
    """Run the model and return {output name: tensor of `dtype`}.

    config      Hugging Face LlamaConfig dict.
    weights     {HF name: numpy array or torch tensor}; the layer count comes
                from the `model.layers.<i>.` names present.
    tokens      int array [B, T].
    layer_order execution order: position p runs layer layer_order[p].
    skip        layer positions (not parameter indices) to skip.
    skip_until  if given, skip only token positions < skip_until (an int, or
                one per batch row).
    skip_from   with skip_until: skip only token positions >= skip_from.
    ln_scaling  LayerNorm-Scaling: the norms of layer i scaled by 1/sqrt(i+1),
                wherever layer_order puts it.
    outputs     names among logits, logit_lens.<l>, logit_lens_in.<l>,
                hidden.<l>, attn.<l>, mlp.<l>.
    dtype       torch.float32 or torch.float64.
    differentiable  keep autograd on: weights given as tensors of `dtype`
                with requires_grad get gradients from .backward().
    """
    if dtype not in SUPPORTED_DTYPES:
        raise ValueError("dtype must be torch.float32 or torch.float64, got %s" % dtype)
    cfg = ModelConfig(config, count_layers(weights))
    tokens = _as_tokens(tokens, cfg.vocab)
    _, seq = tokens.shape

    order = list(range(cfg.num_layers)) if layer_order is None else [int(i) for i in layer_order]
    for index in order:
        if not 0 <= index < cfg.num_layers:
            raise ValueError("layer_order names layer %d; the weights have %d layers"
                             % (index, cfg.num_layers))
    positions = len(order)
    skip_set = set() if skip is None else {int(p) for p in skip}
    for p in skip_set:
        if not 0 <= p < positions:
            raise ValueError("skip position %d out of range [0, %d)" % (p, positions))
    if skip_until is not None and min(np.atleast_1d(skip_until)) < 0:
        raise ValueError("skip_until must be >= 0")
    names = _parse_outputs(outputs, positions)
    wanted = set(names)

    w = Weights(weights, cfg, dtype, keep_graph=differentiable)
    result = {}
    with (contextlib.nullcontext() if differentiable else torch.no_grad()):
        cos, sin = rope_cos_sin(seq, cfg.head_dim, cfg.rope_theta, dtype,
                                cfg.rope_scaling)

        def head(h):
            return F.linear(rms_norm(h, w.final_norm(), cfg.eps), w.unembed())

        h = F.embedding(tokens, w.embed())
        if "hidden.0" in wanted:
            result["hidden.0"] = h
        for p, index in enumerate(order):
            if "logit_lens_in.%d" % p in wanted:
                result["logit_lens_in.%d" % p] = head(h)
            scale = 1.0 / math.sqrt(index + 1) if ln_scaling else None
            if p in skip_set and skip_until is None:
                # Skipped everywhere: the identity, nothing to compute.
                a = m = torch.zeros_like(h)
                h_next = h
            else:
                a, m = decoder_layer(h, w.layer(index), cfg, cos, sin, scale)
                h_next = (h + a) + m  # transformers' residual order
                if p in skip_set:
                    pos = torch.arange(seq).view(1, seq)
                    until = torch.as_tensor(np.atleast_1d(skip_until)).view(-1, 1)
                    skipped = ((pos >= int(skip_from)) & (pos < until)).unsqueeze(-1)
                    h_next = torch.where(skipped, h, h_next)
                    a = torch.where(skipped, torch.zeros_like(a), a)
                    m = torch.where(skipped, torch.zeros_like(m), m)
            for name, value in (("attn.%d" % p, a), ("mlp.%d" % p, m),
                                ("hidden.%d" % (p + 1), h_next)):
                if name in wanted:
                    result[name] = value
            if "logit_lens.%d" % p in wanted:
                result["logit_lens.%d" % p] = head(h_next)
            h = h_next
        if "logits" in wanted:
            result["logits"] = head(h)
    return {name: result[name] for name in names}


# ---------------------------------------------------------------------------
# Minimal safetensors reader / writer
# ---------------------------------------------------------------------------

_ST_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?",
}
_ST_ITEMSIZE = dict({k: np.dtype(v).itemsize for k, v in _ST_DTYPES.items()}, BF16=2)


def read_safetensors(path, with_metadata=False):
    """{name: numpy array} from a safetensors file; BF16 is widened to float32
    exactly (F16 stays float16; the forward upcasts both). Rejects malformed
    headers, overlaps, holes and trailing bytes. with_metadata: returns
    (tensors, the __metadata__ dict or None)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError("%s: too short for a safetensors header" % path)
    (header_len,) = struct.unpack("<Q", blob[:8])
    if header_len > len(blob) - 8:
        raise ValueError("%s: header length %d exceeds the file" % (path, header_len))
    header = json.loads(blob[8:8 + header_len].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("%s: header is not a JSON object" % path)
    data = bytearray(blob[8 + header_len:])  # writable, so from_numpy is happy
    tensors, spans = {}, []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, shape = info["dtype"], [int(d) for d in info["shape"]]
        begin, end = (int(o) for o in info["data_offsets"])
        if dtype not in _ST_ITEMSIZE:
            raise ValueError("%s: tensor %s has unsupported dtype %s" % (path, name, dtype))
        count = int(np.prod(shape, dtype=np.int64))
        if not 0 <= begin <= end <= len(data) or end - begin != count * _ST_ITEMSIZE[dtype]:
            raise ValueError("%s: tensor %s has bad data_offsets" % (path, name))
        spans.append((begin, end, name))
        if dtype == "BF16":
            bits = np.frombuffer(data, dtype="<u2", count=count, offset=begin)
            array = (bits.astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(data, dtype=_ST_DTYPES[dtype], count=count, offset=begin)
        tensors[name] = array.reshape(shape)
    cursor = 0
    for begin, end, name in sorted(spans):
        if begin != cursor:
            raise ValueError("%s: data of %s does not follow the previous tensor "
                             "(hole or overlap)" % (path, name))
        cursor = end
    if cursor != len(data):
        raise ValueError("%s: %d trailing bytes after the tensor data" % (path, len(data) - cursor))
    if with_metadata:
        return tensors, header.get("__metadata__")
    return tensors


# ---------------------------------------------------------------------------
# A Hugging Face model folder, as from_pretrained reads it
# ---------------------------------------------------------------------------

INDEX_NAME = "model.safetensors.index.json"
_ROPE_BUFFER = re.compile(r"^model\.(layers\.\d+\.self_attn\.)?rotary_emb\.inv_freq$")


def expected_parameters(config):
    """The parameter names of the config's LlamaForCausalLM, in its
    state_dict order (num_hidden_layers decides the depth)."""
    layers = config.get("num_hidden_layers")
    if not isinstance(layers, int) or isinstance(layers, bool) or layers < 1:
        raise ValueError("config.json: num_hidden_layers must be a positive "
                         "integer, got %r" % (layers,))
    names = [EMBED]
    for index in range(layers):
        names += ["model.layers.%d.%s" % (index, suffix) for suffix in LAYER_PARAMS.values()]
    names.append(FINAL_NORM)
    if not config.get("tie_word_embeddings", False):
        names.append(LM_HEAD)
    return names


def _read_weights_file(path):
    """Tensors of one safetensors file of a model folder; transformers (up to
    at least 4.46) refuses a file whose metadata lacks format "pt"."""
    tensors, metadata = read_safetensors(path, with_metadata=True)
    if not metadata or metadata.get("format") != "pt":
        raise ValueError("%s: metadata %r lacks {\"format\": \"pt\"}, which "
                         "transformers' from_pretrained requires" % (path, metadata))
    return tensors


def _stored_bytes(path):
    """Bytes of tensor data in a safetensors file, as stored (BF16 as 2)."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len).decode("utf-8"))
    return sum(info["data_offsets"][1] - info["data_offsets"][0]
               for name, info in header.items() if name != "__metadata__")


def read_model_dir(path):
    """(config dict, {name: array}) of a Hugging Face model folder:
    config.json, and model.safetensors or model.safetensors.index.json with
    the shards it names (F32, F16 or BF16 tensors). Where from_pretrained
    would initialise a missing parameter at random, or drop an unexpected
    tensor, with only a warning, this is an error; so is an index whose
    weight_map or total_size disagrees with its shards."""
    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    single = os.path.join(path, "model.safetensors")
    index_path = os.path.join(path, INDEX_NAME)
    if os.path.exists(single) and os.path.exists(index_path):
        raise ValueError("%s: holds both model.safetensors and %s" % (path, INDEX_NAME))
    if os.path.exists(single):
        weights = _read_weights_file(single)
    elif os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise ValueError("%s: no weight_map" % index_path)
        weights, total = {}, 0
        for shard in sorted(set(weight_map.values())):
            if os.path.basename(shard) != shard:
                raise ValueError("%s: shard %r is not a file of the folder" % (index_path, shard))
            tensors = _read_weights_file(os.path.join(path, shard))
            named = {k for k, v in weight_map.items() if v == shard}
            if set(tensors) != named:
                raise ValueError("%s: %s holds %s, the weight_map says %s" % (
                    index_path, shard, sorted(set(tensors) - named) or "no others",
                    sorted(named - set(tensors)) or "no others"))
            total += _stored_bytes(os.path.join(path, shard))
            weights.update(tensors)
        size = (index.get("metadata") or {}).get("total_size")
        if size != total:
            raise ValueError("%s: total_size %r, the shards hold %d bytes of tensors"
                             % (index_path, size, total))
    else:
        raise ValueError("%s: holds neither model.safetensors nor %s" % (path, INDEX_NAME))
    wanted = expected_parameters(config)
    missing = [n for n in wanted if n not in weights]
    for name in [n for n in weights if _ROPE_BUFFER.match(n)]:
        # Older checkpoints saved the RoPE tables; LlamaForCausalLM lists
        # them in _keys_to_ignore_on_load_unexpected and recomputes them.
        del weights[name]
    unexpected = sorted(set(weights) - set(wanted))
    if config.get("tie_word_embeddings", False) and LM_HEAD in unexpected:
        # A tied head saved anyway is the embedding; anything else would be lost.
        if np.array_equal(weights[LM_HEAD], weights[EMBED]):
            unexpected.remove(LM_HEAD)
            del weights[LM_HEAD]
    if missing:
        raise ValueError("%s: lacks %d parameters of the config's model, first %s "
                         "(from_pretrained would initialise them at random)"
                         % (path, len(missing), missing[0]))
    if unexpected:
        raise ValueError("%s: holds %d tensors the config's model does not have, "
                         "first %s" % (path, len(unexpected), unexpected[0]))
    return config, weights


def _st_encode(value):
    """(dtype code, little-endian bytes, shape) of a numpy array or torch tensor."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().contiguous()
        if value.dtype == torch.bfloat16:
            return "BF16", value.view(torch.int16).numpy().astype("<i2").tobytes(), list(value.shape)
        value = value.numpy()
    array = np.asarray(value)
    for code, np_dtype in _ST_DTYPES.items():
        if array.dtype == np.dtype(np_dtype).newbyteorder("=") or array.dtype == np.dtype(np_dtype):
            return code, np.ascontiguousarray(array, dtype=np_dtype).tobytes(), list(array.shape)
    raise TypeError("cannot write dtype %s to safetensors" % array.dtype)


def write_safetensors(path, tensors, metadata=None):
    """Write {name: array or tensor} (F64/F32/F16/BF16/integer) to `path`."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, value in tensors.items():
        code, raw, shape = _st_encode(value)
        header[name] = {"dtype": code, "shape": shape,
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # align the data like the reference library
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for raw in chunks:
            f.write(raw)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def _int_list(text):
    return [int(x) for x in text.split(",") if x.strip()]


def _read_tokens(path):
    tensors = read_safetensors(path)
    if len(tensors) == 1:
        return next(iter(tensors.values()))
    for name in ("tokens", "input_ids"):
        if name in tensors:
            return tensors[name]
    raise ValueError("%s: expected one tensor, or one named tokens or input_ids; found %s"
                     % (path, sorted(tensors)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--self-test", action="store_true",
                        help="run the internal consistency checks and exit")
    parser.add_argument("--config", help="Hugging Face config.json")
    parser.add_argument("--weights", help="safetensors checkpoint with HF names")
    parser.add_argument("--model-dir", help="a Hugging Face model folder (config.json and "
                        "model.safetensors or its index and shards), instead of "
                        "--config and --weights")
    parser.add_argument("--tokens", help="safetensors file with one int tensor [B, T]")
    parser.add_argument("--out", help="safetensors file to write (float32 tensors)")
    parser.add_argument("--outputs", default="logits",
                        help="comma-separated output names (default: logits)")
    parser.add_argument("--float64", action="store_true", help="compute in float64")
    parser.add_argument("--layer-order", type=_int_list, help="e.g. 0,2,1,3")
    parser.add_argument("--skip", type=_int_list, help="layer positions to skip, e.g. 1,2")
    parser.add_argument("--skip-until", type=int, help="skip only token positions < N")
    parser.add_argument("--ln-scaling", action="store_true", help="LayerNorm-Scaling")
    args = parser.parse_args(argv)

    if args.self_test:
        return self_test()
    if args.model_dir and (args.config or args.weights):
        parser.error("--model-dir excludes --config and --weights")
    model = (() if args.model_dir else (("--config", args.config), ("--weights", args.weights)))
    missing = [flag for flag, value in model + (("--tokens", args.tokens), ("--out", args.out))
               if value is None]
    if missing:
        parser.error("missing %s" % ", ".join(missing))
    try:
        if args.model_dir:
            config, weights = read_model_dir(args.model_dir)
        else:
            with open(args.config) as f:
                config = json.load(f)
            weights = read_safetensors(args.weights)
        result = forward(config, weights, _read_tokens(args.tokens),
                         layer_order=args.layer_order, skip=args.skip,
                         skip_until=args.skip_until, ln_scaling=args.ln_scaling,
                         outputs=args.outputs,
                         dtype=torch.float64 if args.float64 else torch.float32)
    except (OSError, ValueError, KeyError, TypeError, NotImplementedError) as e:
        # A one-line diagnostic for tests that check rejections.
        print("llama_reference.py: error: %s" % (e.args[0] if e.args else e), file=sys.stderr)
        return 1
    write_safetensors(args.out, {k: v.to(torch.float32) for k, v in result.items()},
                      metadata={"format": "pt"})
    return 0


# ---------------------------------------------------------------------------
# Self-test: internal consistency on a tiny random model
# ---------------------------------------------------------------------------

TINY = {
    "model_type": "llama", "hidden_act": "silu",
    "vocab_size": 11, "hidden_size": 16, "intermediate_size": 24,
    "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
    "head_dim": 4, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
    "tie_word_embeddings": False,
}
BATCH, SEQ = 2, 5


def _random_weights(config, seed, layers=None):
    """float64 weights scaled so activations are O(1) (2% init would make the
    logits nearly constant and the checks toothless)."""
    gen = torch.Generator().manual_seed(seed)
    cfg = ModelConfig(config, layers or config["num_hidden_layers"])
    q_out, kv_out = cfg.heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim

    def normal(*shape, std=1.0, mean=0.0):
        return torch.randn(*shape, generator=gen, dtype=torch.float64) * std + mean

    w = {EMBED: normal(cfg.vocab, cfg.hidden), FINAL_NORM: normal(cfg.hidden, std=0.2, mean=1.0)}
    for i in range(cfg.num_layers):
        p = "model.layers.%d." % i
        w[p + LAYER_PARAMS["input_norm"]] = normal(cfg.hidden, std=0.2, mean=1.0)
        w[p + LAYER_PARAMS["post_norm"]] = normal(cfg.hidden, std=0.2, mean=1.0)
        for key, (rows, cols) in (("q", (q_out, cfg.hidden)), ("k", (kv_out, cfg.hidden)),
                                  ("v", (kv_out, cfg.hidden)), ("o", (cfg.hidden, q_out)),
                                  ("gate", (cfg.ffn, cfg.hidden)), ("up", (cfg.ffn, cfg.hidden)),
                                  ("down", (cfg.hidden, cfg.ffn))):
            w[p + LAYER_PARAMS[key]] = normal(rows, cols, std=cols ** -0.5)
    if not cfg.tied:
        w[LM_HEAD] = normal(cfg.vocab, cfg.hidden, std=cfg.hidden ** -0.5)
    return w


def _plain_head(h, weights, config, unembed_name):
    """Final norm + unembedding written out without the helpers above."""
    x = h.double()
    x = x / torch.sqrt((x * x).mean(-1, keepdim=True) + config["rms_norm_eps"])
    x = x * weights[FINAL_NORM].double()
    return x @ weights[unembed_name].double().T


def _naive_attention(x, lw, cfg, cos=None, sin=None):
    """Attention written as explicit loops: per batch row, query head, query
    and key position; RoPE as explicit pair rotations with float64 angles;
    explicit masked softmax. Same signature as `attention` so the self-test
    can substitute it into the forward pass."""
    del cos, sin  # computed independently below
    b_size, t_size, _ = x.shape
    hd, half = cfg.head_dim, cfg.head_dim // 2
    n_rep = cfg.heads // cfg.kv_heads
    xd = x.double()

    def frequency(i):
        # One frequency in float64, the scaling written as its three cases.
        f = cfg.rope_theta ** (-2.0 * i / hd)
        sc = cfg.rope_scaling
        if sc is None:
            return f
        if sc["rope_type"] == "linear":
            return f / sc["factor"]
        context = sc["original_max_position_embeddings"]
        wavelength = 2 * math.pi / f
        if wavelength < context / sc["high_freq_factor"]:
            return f
        if wavelength > context / sc["low_freq_factor"]:
            return f / sc["factor"]
        s = ((context / wavelength - sc["low_freq_factor"])
             / (sc["high_freq_factor"] - sc["low_freq_factor"]))
        return (1 - s) * f / sc["factor"] + s * f

    def rope(vec, pos):
        out = vec.clone()
        for i in range(half):
            angle = pos * frequency(i)
            c, s = math.cos(angle), math.sin(angle)
            out[i] = vec[i] * c - vec[i + half] * s
            out[i + half] = vec[i + half] * c + vec[i] * s
        return out

    concat = torch.zeros(b_size, t_size, cfg.heads * hd, dtype=torch.float64)
    for b in range(b_size):
        for head in range(cfg.heads):
            group = head // n_rep
            wq = lw["q"][head * hd:(head + 1) * hd].double()
            wk = lw["k"][group * hd:(group + 1) * hd].double()
            wv = lw["v"][group * hd:(group + 1) * hd].double()
            qs = [rope(wq @ xd[b, i], i) for i in range(t_size)]
            ks = [rope(wk @ xd[b, j], j) for j in range(t_size)]
            vs = [wv @ xd[b, j] for j in range(t_size)]
            for i in range(t_size):
                scores = [float(qs[i] @ ks[j]) / math.sqrt(hd) if j <= i else -math.inf
                          for j in range(t_size)]
                top = max(scores)
                exps = [math.exp(s - top) if s != -math.inf else 0.0 for s in scores]
                total = sum(exps)
                acc = torch.zeros(hd, dtype=torch.float64)
                for j in range(t_size):
                    acc += (exps[j] / total) * vs[j]
                concat[b, i, head * hd:(head + 1) * hd] = acc
    return (concat @ lw["o"].double().T).to(x.dtype)


def _naive_forward(config, weights, tokens):
    """The whole model as per-token loops in float64: RMSNorm and SwiGLU from
    their formulas (silu(z) = z / (1 + exp(-z))), `_naive_attention`, and an
    explicit table lookup and head. Returns the logits."""
    cfg = ModelConfig(config, count_layers(weights))
    w = {k: (v if isinstance(v, torch.Tensor) else torch.from_numpy(np.array(v))).double()
         for k, v in weights.items()}
    unembed = w[EMBED] if cfg.tied else w[LM_HEAD]

    def norm(vec, gain):
        return vec / math.sqrt(float((vec * vec).sum()) / vec.numel() + cfg.eps) * gain

    def swiglu(vec, lw):
        g, u = lw["gate"] @ vec, lw["up"] @ vec
        return lw["down"] @ (g / (1.0 + torch.exp(-g)) * u)

    b_size, t_size = tokens.shape
    h = torch.stack([torch.stack([w[EMBED][int(tokens[b, i])] for i in range(t_size)])
                     for b in range(b_size)])
    for index in range(cfg.num_layers):
        lw = {key: w["model.layers.%d.%s" % (index, suffix)] for key, suffix in LAYER_PARAMS.items()}
        x = torch.zeros_like(h)
        for b in range(b_size):
            for i in range(t_size):
                x[b, i] = norm(h[b, i], lw["input_norm"])
        h = h + _naive_attention(x, lw, cfg)
        for b in range(b_size):
            for i in range(t_size):
                h[b, i] = h[b, i] + swiglu(norm(h[b, i], lw["post_norm"]), lw)
    out = torch.zeros(b_size, t_size, cfg.vocab, dtype=torch.float64)
    for b in range(b_size):
        for i in range(t_size):
            out[b, i] = unembed @ norm(h[b, i], w[FINAL_NORM])
    return out


def _rel_err(actual, expected):
    """max |actual - expected| / max |expected| (scale-free, robust to zeros)."""
    expected = expected.double()
    scale = max(float(expected.abs().max()), 1e-30)
    return float((actual.double() - expected).abs().max()) / scale


def self_test():
    checks = []  # (name, passed, detail)

    def check(name, passed, detail=""):
        checks.append((name, bool(passed), detail))

    def close(name, actual, expected, tol):
        if actual.shape != expected.shape:
            check(name, False, "shape %s vs %s" % (tuple(actual.shape), tuple(expected.shape)))
            return
        err = _rel_err(actual, expected)
        check(name, err <= tol, "relative error %.3g > %.3g" % (err, tol))

    cfg_dict = dict(TINY)
    weights = _random_weights(cfg_dict, seed=1234)
    gen = torch.Generator().manual_seed(99)
    tokens = torch.randint(0, cfg_dict["vocab_size"], (BATCH, SEQ), generator=gen)
    n_layers = cfg_dict["num_hidden_layers"]
    f64 = torch.float64

    def run(**kw):
        kw.setdefault("dtype", f64)
        return forward(kw.pop("config", cfg_dict), kw.pop("weights", weights),
                       kw.pop("tokens", tokens), **kw)

    base = run(outputs=["logits"] + ["hidden.%d" % l for l in range(n_layers + 1)]
               + ["attn.%d" % l for l in range(n_layers)] + ["mlp.%d" % l for l in range(n_layers)]
               + ["logit_lens.%d" % (n_layers - 1)])
    logits = base["logits"]
    check("logits shape", tuple(logits.shape) == (BATCH, SEQ, cfg_dict["vocab_size"]),
          str(tuple(logits.shape)))

    # (1) Causality: a change at position t must not reach positions < t,
    # and must reach t (otherwise the check proves nothing).
    t = 2
    changed = tokens.clone()
    changed[:, t] = (changed[:, t] + 1) % cfg_dict["vocab_size"]
    other = run(tokens=changed)["logits"]
    check("causality: earlier positions unchanged",
          torch.equal(other[:, :t], logits[:, :t]),
          "max diff %.3g" % float((other[:, :t] - logits[:, :t]).abs().max()))
    check("causality: changed position differs", not torch.allclose(other[:, t], logits[:, t]))

    # (2) Grouped KV == full multi-head attention with each KV head's weights
    # copied to the query heads it serves.
    n_rep = cfg_dict["num_attention_heads"] // cfg_dict["num_key_value_heads"]
    hd = cfg_dict["head_dim"]
    mha_cfg = dict(cfg_dict, num_key_value_heads=cfg_dict["num_attention_heads"])
    mha_weights = dict(weights)
    for i in range(n_layers):
        for proj in ("k", "v"):
            name = "model.layers.%d.%s" % (i, LAYER_PARAMS[proj])
            rows = [weights[name][(h // n_rep) * hd:(h // n_rep + 1) * hd]
                    for h in range(cfg_dict["num_attention_heads"])]
            mha_weights[name] = torch.cat(rows, dim=0)
    close("repeat_kv equals expanded multi-head KV",
          run(config=mha_cfg, weights=mha_weights)["logits"], logits, 1e-12)

    # (3) Skipping every layer leaves head(norm(embed)).
    embedded = weights[EMBED][tokens]
    skipped = run(skip=range(n_layers), outputs=("logits", "hidden.%d" % n_layers))
    close("skip all layers: logits = head(norm(embed))", skipped["logits"],
          _plain_head(embedded, weights, cfg_dict, LM_HEAD), 1e-12)
    check("skip all layers: hidden.L = hidden.0",
          torch.equal(skipped["hidden.%d" % n_layers], embedded))

    # (4) The last hidden state and the last logit-lens head give the logits.
    close("hidden.L -> final norm -> head = logits",
          _plain_head(base["hidden.%d" % n_layers], weights, cfg_dict, LM_HEAD), logits, 1e-12)
    check("logit_lens.{L-1} = logits",
          torch.equal(base["logit_lens.%d" % (n_layers - 1)], logits))

    # (5) The residual stream decomposes into attention and MLP contributions.
    worst = max(_rel_err(base["hidden.%d" % l] + base["attn.%d" % l] + base["mlp.%d" % l],
                         base["hidden.%d" % (l + 1)]) for l in range(n_layers))
    check("hidden.{l+1} = hidden.l + attn.l + mlp.l", worst <= 1e-12, "error %.3g" % worst)

    # (5b) skip_until: layer position 1 is the identity at token positions
    # < t only; later positions see the same layer input, hence the same
    # layer output, as in the clean run.
    t = 3
    names = ("hidden.1", "hidden.2", "attn.1", "mlp.1", "logits")
    part = run(skip={1}, skip_until=t, outputs=names)
    check("skip_until: identity at positions < t",
          torch.equal(part["hidden.2"][:, :t], part["hidden.1"][:, :t])
          and not part["attn.1"][:, :t].any() and not part["mlp.1"][:, :t].any())
    check("skip_until: positions >= t computed normally",
          torch.equal(part["hidden.2"][:, t:], base["hidden.2"][:, t:])
          and torch.equal(part["attn.1"][:, t:], base["attn.1"][:, t:]))
    check("skip_until: later logits at positions < t change",
          not torch.allclose(part["logits"][:, :t], logits[:, :t]))
    check("skip_until=T equals a full skip, skip_until=0 no skip",
          torch.equal(run(skip={1}, skip_until=SEQ)["logits"], run(skip={1})["logits"])
          and torch.equal(run(skip={1}, skip_until=0)["logits"], logits))

    # (6) float32 agrees with float64.
    f32 = run(dtype=torch.float32, outputs=("logits", "hidden.%d" % n_layers))
    check("float32 result dtype", f32["logits"].dtype == torch.float32)
    close("float32 vs float64 logits", f32["logits"], logits, 1e-5)
    close("float32 vs float64 hidden.L", f32["hidden.%d" % n_layers],
          base["hidden.%d" % n_layers], 1e-5)

    # (7) Layer order: identity is the default; a permutation equals a
    # checkpoint whose layers were renamed into that order; LN-Scaling equals
    # norm weights of layer i pre-multiplied by 1/sqrt(i+1), also when the
    # layers are permuted (the factor moves with the layer).
    check("layer_order identity = default",
          torch.equal(run(layer_order=list(range(n_layers)))["logits"], logits))
    perm = [2, 0, 1]
    renamed = {k: v for k, v in weights.items() if not _LAYER_KEY.match(k)}
    for p, i in enumerate(perm):
        for suffix in LAYER_PARAMS.values():
            renamed["model.layers.%d.%s" % (p, suffix)] = weights["model.layers.%d.%s" % (i, suffix)]
    close("layer_order permutation = renamed checkpoint",
          run(layer_order=perm)["logits"], run(weights=renamed)["logits"], 1e-12)
    scaled = dict(weights)
    for p in range(n_layers):
        for key in ("input_norm", "post_norm"):
            name = "model.layers.%d.%s" % (p, LAYER_PARAMS[key])
            scaled[name] = weights[name] / math.sqrt(p + 1)
    close("ln_scaling = norm weights scaled by 1/sqrt(i+1)",
          run(ln_scaling=True)["logits"], run(weights=scaled)["logits"], 1e-12)
    check("ln_scaling changes the logits",
          not torch.allclose(run(ln_scaling=True)["logits"], logits))
    close("ln_scaling under a permutation = permuted pre-scaled layers",
          run(ln_scaling=True, layer_order=perm)["logits"],
          run(weights=scaled, layer_order=perm)["logits"], 1e-12)

    # (8) RoPE: identity at position 0; relative (q.k depends only on the
    # offset) and norm-preserving elsewhere.
    cos, sin = rope_cos_sin(12, hd, cfg_dict["rope_theta"], f64)
    q = torch.randn(1, 1, 1, hd, generator=gen, dtype=f64)
    k = torch.randn(1, 1, 1, hd, generator=gen, dtype=f64)
    check("RoPE at position 0 is the identity", torch.equal(apply_rope(q, cos[:1], sin[:1]), q))

    def rot(x, pos):
        return apply_rope(x, cos[pos:pos + 1], sin[pos:pos + 1]).flatten()

    dots = [float(rot(q, 3 + c) @ rot(k, 1 + c)) for c in range(0, 9, 2)]
    check("RoPE scores depend only on the offset", max(dots) - min(dots) <= 1e-5 * abs(dots[0]),
          str(dots))
    check("RoPE preserves norms", abs(float(rot(q, 7).norm() - q.norm())) <= 1e-12)

    # (9) The vectorised attention matches the loop version, as a module and
    # inside the full forward pass (substituted for `attention`), also for a
    # head_dim that is not hidden / heads.
    model_cfg = ModelConfig(cfg_dict, n_layers)
    lw = Weights(weights, model_cfg, f64).layer(0)
    x = torch.randn(BATCH, SEQ, cfg_dict["hidden_size"], generator=gen, dtype=f64)
    cos, sin = rope_cos_sin(SEQ, hd, cfg_dict["rope_theta"], f64)
    close("naive attention module = vectorised", _naive_attention(x, lw, model_cfg),
          attention(x, lw, model_cfg, cos, sin), 1e-6)
    wide_cfg = dict(cfg_dict, head_dim=6)
    wide_weights = _random_weights(wide_cfg, seed=77)
    module = globals()
    vectorised = {}
    for label, c, w in (("", cfg_dict, weights), (" (head_dim 6)", wide_cfg, wide_weights)):
        vectorised[label] = run(config=c, weights=w)["logits"]
    saved = module["attention"]
    try:
        module["attention"] = _naive_attention
        for label, c, w in (("", cfg_dict, weights), (" (head_dim 6)", wide_cfg, wide_weights)):
            close("naive attention forward = vectorised" + label,
                  run(config=c, weights=w)["logits"], vectorised[label], 1e-6)
    finally:
        module["attention"] = saved

    # (10) A loop-level reimplementation of the whole model (norms, SwiGLU,
    # attention and head from their formulas) gives the same logits.
    for label, c, w in (("", cfg_dict, weights), (" (head_dim 6)", wide_cfg, wide_weights)):
        close("naive whole model = forward" + label, _naive_forward(c, w, tokens),
              vectorised[label], 1e-6)

    # (11) RoPE scaling. linear: position 2p with factor 2 is plain
    # position p. llama3: the three bands by wavelength (kept, divided,
    # blended), and the loop model (float64 frequencies, the cases as
    # branches) agrees with the vectorised one on a config with one
    # frequency in each band (head_dim 6: wavelengths 6.3, 135, 2916 against
    # 2048 / 16 and 2048 / 2).
    linear = {"rope_type": "linear", "factor": 2.0}
    plain_cos, plain_sin = rope_cos_sin(6, 16, 10000.0, f64)
    lin_cos, lin_sin = rope_cos_sin(12, 16, 10000.0, f64, linear)
    check("linear scaling: position 2p = plain position p",
          torch.equal(lin_cos[::2], plain_cos) and torch.equal(lin_sin[::2], plain_sin))
    llama3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
              "high_freq_factor": 4.0, "original_max_position_embeddings": 256}
    plain_f, scaled_f = rope_inv_freq(16, 10000.0), rope_inv_freq(16, 10000.0, llama3)
    wavelen = 2 * math.pi / plain_f
    high_band, low_band = wavelen < 256 / 4.0, wavelen > 256 / 1.0
    mid_band = ~high_band & ~low_band
    check("llama3 bands all occur (head_dim 16, original 256)",
          bool(high_band.any() and low_band.any() and mid_band.any()),
          str(wavelen.tolist()))
    check("llama3 keeps the high frequencies", torch.equal(scaled_f[high_band], plain_f[high_band]))
    close("llama3 divides the low frequencies by the factor", scaled_f[low_band].double(),
          plain_f[low_band].double() / 8.0, 1e-7)
    check("llama3 blends the band between",
          bool(((scaled_f[mid_band] > plain_f[mid_band] / 8.0)
                & (scaled_f[mid_band] < plain_f[mid_band])).all()))
    llama3_cfg = dict(wide_cfg, rope_scaling={
        "rope_type": "llama3", "factor": 4.0, "low_freq_factor": 2.0,
        "high_freq_factor": 16.0, "original_max_position_embeddings": 2048})
    linear_cfg = dict(wide_cfg, rope_theta=None, rope_parameters=dict(
        linear, rope_theta=wide_cfg["rope_theta"]))
    for label, c in (("llama3", llama3_cfg), ("linear (v5 rope_parameters)", linear_cfg)):
        scaled_logits = run(config=c, weights=wide_weights)["logits"]
        check("%s scaling changes the logits" % label,
              not torch.allclose(scaled_logits, vectorised[" (head_dim 6)"]))
        close("naive whole model = forward, %s scaling" % label,
              _naive_forward(c, wide_weights, tokens), scaled_logits, 1e-6)
    # The config's spellings: v5 rope_parameters, v4 rope_theta +
    # rope_scaling ("type" is the older key), disagreement refused.
    check("v5 rope_parameters theta is read",
          _rope_settings({"rope_parameters": {"rope_theta": 1e5, "rope_type": "default"}})
          == (1e5, None))
    check("v4 rope_scaling with the legacy 'type' key is read",
          _rope_settings({"rope_theta": 5e5, "rope_scaling": {"type": "linear", "factor": 2}})
          == (5e5, {"rope_type": "linear", "factor": 2}))
    for label, bad, error in (
            ("two thetas", {"rope_theta": 1e4, "rope_parameters": {"rope_theta": 1e5}},
             ValueError),
            ("two scalings", {"rope_scaling": linear, "rope_parameters": {"rope_type": "default"}},
             ValueError),
            ("yarn", {"rope_scaling": {"rope_type": "yarn", "factor": 4.0}},
             NotImplementedError)):
        try:
            _rope_settings(bad)
            check("refuses %s" % label, False)
        except error:
            check("refuses %s" % label, True)

    # Tied embeddings: no lm_head.weight, the embedding is the unembedding.
    tied_cfg = dict(cfg_dict, tie_word_embeddings=True)
    tied_weights = {k: v for k, v in weights.items() if k != LM_HEAD}
    untied_copy = dict(tied_weights, **{LM_HEAD: weights[EMBED]})
    close("tied head = untied head holding the embedding",
          run(config=tied_cfg, weights=tied_weights)["logits"],
          run(weights=untied_copy)["logits"], 0.0)

    # Command line with safetensors files: BF16 weights, I32 tokens, float32 out.
    with tempfile.TemporaryDirectory() as tmp:
        paths = {k: os.path.join(tmp, k) for k in ("config.json", "w.st", "t.st", "o.st")}
        with open(paths["config.json"], "w") as f:
            json.dump(cfg_dict, f)
        write_safetensors(paths["w.st"], {k: v.to(torch.bfloat16) for k, v in weights.items()})
        write_safetensors(paths["t.st"], {"tokens": tokens.numpy().astype(np.int32)})
        wanted = "logits,logit_lens.0,hidden.1,attn.2"
        rc = main(["--config", paths["config.json"], "--weights", paths["w.st"],
                   "--tokens", paths["t.st"], "--out", paths["o.st"],
                   "--outputs", wanted, "--skip", "1", "--skip-until", "2"])
        got = read_safetensors(paths["o.st"])
        bf16_weights = {k: v.to(torch.bfloat16).float() for k, v in weights.items()}
        expected = forward(cfg_dict, bf16_weights, tokens, skip={1}, skip_until=2,
                           outputs=wanted)
        check("CLI writes the requested outputs",
              rc == 0 and list(got) == wanted.split(",")
              and all(a.dtype == np.float32 for a in got.values()), str(list(got)))
        check("CLI (BF16 weights) = forward",
              all(np.array_equal(got[k], expected[k].numpy()) for k in expected))

    # A Hugging Face folder: BF16 shards behind an index, as save_pretrained
    # writes them, give the forward of the rounded weights; a missing or an
    # unexpected tensor, a shard without {"format": "pt"} are errors.
    with tempfile.TemporaryDirectory() as tmp:
        bf16 = {k: v.to(torch.bfloat16) for k, v in weights.items()}
        names = expected_parameters(cfg_dict)
        halves = {"model-00001-of-00002.safetensors": names[:len(names) // 2],
                  "model-00002-of-00002.safetensors": names[len(names) // 2:]}

        def save(folder, tensors, drop=(), metadata=None):
            os.makedirs(folder)
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump(cfg_dict, f)
            weight_map = {}
            for shard, part in halves.items():
                part = [n for n in part if n not in drop]
                write_safetensors(os.path.join(folder, shard), {n: tensors[n] for n in part},
                                  metadata=metadata or {"format": "pt"})
                weight_map.update({n: shard for n in part})
            with open(os.path.join(folder, INDEX_NAME), "w") as f:
                json.dump({"metadata": {"total_size": 2 * sum(
                    tensors[n].numel() for n in weight_map)}, "weight_map": weight_map}, f)
            return folder

        def refused(folder, words):
            try:
                read_model_dir(folder)
            except ValueError as e:
                return all(w in str(e) for w in words)
            return False

        config, loaded = read_model_dir(save(os.path.join(tmp, "ok"), bf16))
        close("model folder (BF16 shards + index) = forward of the rounded weights",
              forward(config, loaded, tokens)["logits"],
              forward(cfg_dict, {k: v.float() for k, v in bf16.items()}, tokens)["logits"], 0.0)
        check("model folder: a missing layer tensor is an error",
              refused(save(os.path.join(tmp, "missing"), bf16,
                           drop=("model.layers.2.mlp.up_proj.weight",)),
                      ["lacks", "model.layers.2.mlp.up_proj.weight"]))
        extra = "model.layers.3.mlp.up_proj.weight"
        halves["model-00002-of-00002.safetensors"].append(extra)
        check("model folder: an unexpected tensor is an error",
              refused(save(os.path.join(tmp, "extra"),
                           dict(bf16, **{extra: bf16["model.layers.0.mlp.up_proj.weight"]})),
                      ["does not have", extra]))
        halves["model-00002-of-00002.safetensors"].remove(extra)
        rope = "model.layers.0.self_attn.rotary_emb.inv_freq"
        halves["model-00002-of-00002.safetensors"].append(rope)
        config, loaded = read_model_dir(save(os.path.join(tmp, "rope"), dict(
            bf16, **{rope: torch.ones(2, dtype=torch.bfloat16)})))
        check("model folder: saved RoPE tables are ignored, as from_pretrained does",
              rope not in loaded and set(loaded) == set(names))
        halves["model-00002-of-00002.safetensors"].remove(rope)
        check("model folder: a shard without format pt is an error",
              refused(save(os.path.join(tmp, "noformat"), bf16, metadata={"x": "y"}),
                      ["format"]))

    failed = [(n, d) for n, ok, d in checks if not ok]
    for name, detail in failed:
        print("FAILED: %s%s" % (name, (": " + detail) if detail else ""), file=sys.stderr)
    if failed:
        print("llama-reference self-test: %d of %d checks failed" % (len(failed), len(checks)))
        return 1
    print("llama-reference self-test: %d checks passed" % len(checks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
