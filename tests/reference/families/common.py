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


def causal_attention(q, k, v, scale):
    """q: [heads, T, d], k/v: [kv_heads, T, d] (GQA: each kv head serves heads/kv_heads query
    heads, as HF repeat_kv). Returns [T, heads * d_v]."""
    n_heads, n_tokens, _ = q.shape
    groups = n_heads // k.shape[0]
    k = k.repeat_interleave(groups, dim=0)
    v = v.repeat_interleave(groups, dim=0)
    scores = (q @ k.transpose(1, 2)) * scale
    future = torch.triu(torch.ones(n_tokens, n_tokens, dtype=torch.bool), diagonal=1)
    scores = scores.masked_fill(future, -math.inf)
    probs = torch.softmax(scores, dim=-1)
    out = probs @ v  # [heads, T, d_v]
    return out.transpose(0, 1).reshape(n_tokens, -1)


def swiglu_mlp(x, gate_weight, up_weight, down_weight):
    """HF MLP with hidden_act "silu": down(silu(gate(x)) * up(x))."""
    return linear(torch.nn.functional.silu(linear(x, gate_weight)) * linear(x, up_weight), down_weight)
