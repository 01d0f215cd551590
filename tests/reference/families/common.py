"""Math shared by the family files, written from the Hugging Face modeling code (Llama/Qwen
lineage). Tensors are [tokens, features]; a single sequence, no batch dimension."""
import math

import torch


def rms_norm(x, weight, eps):
    """HF *RMSNorm: x / sqrt(mean(x^2) + eps) * weight, over the last dimension."""
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def linear(x, weight, bias=None):
    """nn.Linear with an HF weight of shape [out_features, in_features]."""
    y = x @ weight.T
    return y + bias if bias is not None else y


def rope_theta(config):
    """Base frequency: newer transformers put it in rope_parameters, releases in rope_theta."""
    params = config.get("rope_parameters") or {}
    return float(params.get("rope_theta", config.get("rope_theta", 10000.0)))


def rope_inv_freq(config, rotary_dim, dtype):
    """Inverse frequencies 1 / theta^(2i/d) of the default RoPE; other scalings are refused
    until a family that needs them implements them here."""
    scaling = config.get("rope_scaling") or config.get("rope_parameters") or {}
    rope_type = scaling.get("rope_type", scaling.get("type", "default"))
    if rope_type != "default":
        raise NotImplementedError(f"rope scaling type '{rope_type}' is not implemented in the reference")
    exponents = torch.arange(0, rotary_dim, 2, dtype=torch.int64).to(dtype) / rotary_dim
    return 1.0 / (rope_theta(config) ** exponents)


def rope_cos_sin(inv_freq, positions):
    """cos/sin of shape [tokens, rotary_dim], the half-frequencies repeated (HF layout)."""
    freqs = positions.to(inv_freq.dtype)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope_neox(x, cos, sin):
    """x: [heads, tokens, dim]. HF apply_rotary_pos_emb: pairs (i, i + dim/2) rotate together
    (what llama.cpp calls NEOX mode)."""
    return x * cos[None] + rotate_half(x) * sin[None]


def rotate_half_adjacent(x):
    """GLM-style rotate_half: pairs (2i, 2i+1) rotate together (llama.cpp's NORM mode)."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


def apply_rope_adjacent(x, cos, sin):
    """x: [heads, tokens, dim]; cos/sin from rope_cos_sin over rotary_dim <= dim. As the GLM-4 /
    ERNIE 4.5 apply_rotary_pos_emb: the half-frequencies are repeated pairwise (frequency i
    drives dims 2i and 2i+1); dims past rotary_dim pass through unrotated."""
    rotary_dim = cos.shape[-1]
    cos = cos[:, : rotary_dim // 2].repeat_interleave(2, dim=-1)[None]
    sin = sin[:, : rotary_dim // 2].repeat_interleave(2, dim=-1)[None]
    rotated, passed = x[..., :rotary_dim], x[..., rotary_dim:]
    return torch.cat((rotated * cos + rotate_half_adjacent(rotated) * sin, passed), dim=-1)


def causal_attention(q, k, v, scale, score_bias=None):
    """q: [heads, T, d], k/v: [kv_heads, T, d] (GQA: each kv head serves heads/kv_heads query
    heads, as HF repeat_kv). score_bias: optional [heads, T, T] added to the scaled scores
    (ALiBi). Returns [T, heads * d_v]."""
    n_heads, n_tokens, _ = q.shape
    groups = n_heads // k.shape[0]
    k = k.repeat_interleave(groups, dim=0)
    v = v.repeat_interleave(groups, dim=0)
    scores = (q @ k.transpose(1, 2)) * scale
    if score_bias is not None:
        scores = scores + score_bias
    future = torch.triu(torch.ones(n_tokens, n_tokens, dtype=torch.bool), diagonal=1)
    scores = scores.masked_fill(future, -math.inf)
    probs = torch.softmax(scores, dim=-1)
    out = probs @ v  # [heads, T, d_v]
    return out.transpose(0, 1).reshape(n_tokens, -1)


def swiglu_mlp(x, gate_weight, up_weight, down_weight):
    """HF MLP with hidden_act "silu": down(silu(gate(x)) * up(x))."""
    return linear(torch.nn.functional.silu(linear(x, gate_weight)) * linear(x, up_weight), down_weight)
