"""BaichuanForCausalLM (Baichuan 2 7B / 13B, and Baichuan 1), written from the modeling_baichuan.py
shipped with baichuan-inc/Baichuan2-7B-Base and Baichuan2-13B-Base:

  per layer:  a = input_layernorm(h)
              q, k, v = W_pack(a) split in three hidden_size parts (no bias, heads = hidden / n_heads)
              7B:  q, k = RoPE(q), RoPE(k)   rotate_half (NEOX pairing), base 10000
                   scores = q k^T / sqrt(head_dim)
              13B: no RoPE; scores = q k^T / sqrt(head_dim) + slope_h * j   (ALiBi, j = key position;
                   _get_interleave slopes; the query-side term is constant per row and cancels)
              h = h + o_proj(causal_softmax(scores) v)
              h = h + down_proj(silu(gate_proj(m)) * up_proj(m)),  m = post_attention_layernorm(h)
  logits = NormHead(norm(h)): Baichuan 2's lm_head rows are L2-normalized (F.normalize) first.

config.json says neither which position scheme nor whether the head is a NormHead: the two
releases differ only by code. As in the releases: 40 layers = the 13B code (ALiBi), otherwise the
7B code (RoPE); vocab 125696 = Baichuan 2 (NormHead), Baichuan 1 (64000) has a plain lm_head.
"""
import math

import torch

from families import common

BAICHUAN2_VOCAB = 125696
THIRTEEN_B_LAYERS = 40


def alibi_slopes(n_heads):
    """_get_interleave of Baichuan2-13B: a geometric series for a power of two heads, otherwise
    that of the nearest lower power of two, then every other slope of twice as many heads."""
    def power_of_2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start ** i for i in range(n)]
    if math.log2(n_heads).is_integer():
        return power_of_2(n_heads)
    closest = 2 ** math.floor(math.log2(n_heads))
    return power_of_2(closest) + alibi_slopes(2 * closest)[0::2][: n_heads - closest]


def forward(config, weights, tokens, dtype):
    if config.get("hidden_act", "silu") != "silu":
        raise NotImplementedError(f"baichuan: hidden_act {config['hidden_act']} is not implemented")
    hidden = config["hidden_size"]
    n_heads = config["num_attention_heads"]
    head_dim = hidden // n_heads
    eps = config.get("rms_norm_eps", 1e-6)
    use_alibi = config["num_hidden_layers"] == THIRTEEN_B_LAYERS

    def w(name):
        return weights.get(name, dtype)

    n_tokens = len(tokens)
    if use_alibi:
        slopes = torch.tensor(alibi_slopes(n_heads), dtype=dtype)
        score_bias = slopes[:, None, None] * torch.arange(n_tokens, dtype=dtype)[None, None, :]
    else:
        score_bias = None
        cos, sin = common.rope_cos_sin(common.rope_inv_freq({"rope_theta": 10000.0}, head_dim, dtype),
                                       torch.arange(n_tokens))
    h = w("model.embed_tokens.weight")[torch.tensor(tokens, dtype=torch.long)]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = common.rms_norm(h, w(p + "input_layernorm.weight"), eps)
        q, k, v = (x.view(n_tokens, n_heads, head_dim).transpose(0, 1)
                   for x in common.linear(a, w(p + "self_attn.W_pack.weight")).split(hidden, dim=-1))
        if not use_alibi:
            q, k = common.apply_rope_neox(q, cos, sin), common.apply_rope_neox(k, cos, sin)
        attn = common.causal_attention(q, k, v, scale=head_dim ** -0.5, score_bias=score_bias)
        h = h + common.linear(attn, w(p + "self_attn.o_proj.weight"))
        m = common.rms_norm(h, w(p + "post_attention_layernorm.weight"), eps)
        h = h + common.swiglu_mlp(m, w(p + "mlp.gate_proj.weight"), w(p + "mlp.up_proj.weight"),
                                  w(p + "mlp.down_proj.weight"))

    h = common.rms_norm(h, w("model.norm.weight"), eps)
    head = w("lm_head.weight")
    if config["vocab_size"] == BAICHUAN2_VOCAB:
        head = torch.nn.functional.normalize(head, dim=-1)
    return common.linear(h, head)
