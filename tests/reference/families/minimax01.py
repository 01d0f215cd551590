"""MiniMaxText01ForCausalLM / MiniMaxM1ForCausalLM (MiniMax-Text-01, MiniMax-M1), written from the
release's modeling_minimax_text_01.py / modeling_minimax_m1.py (transformers' models/minimax):

  per layer:  a = input_layernorm(h)
              attn_type_list[i] == 0, lightning attention (MiniMaxText01LightningAttention):
                q | k | v = silu(qkv_proj(a)), per head [q | k | v]; no 1/sqrt(d) scale
                per head, slope s (ALiBi slopes times 1 - i / (layers - 1) + 1e-5):
                  KV_t = exp(-s) KV_{t-1} + k_t v_t^T,  o_t = q_t KV_t
                evaluated here in the release's BLOCK form (blocks of BLOCK tokens: the carried KV
                decayed by exp(-s (j+1)) for the j-th token of a block, plus the causal q k^T of the
                block weighted exp(-s (j - t)); KV <- exp(-s m) KV + sum_t exp(-s (m-1-t)) k_t v_t^T)
                y = out_proj(sigmoid(output_gate(a)) * norm(o))   norm: one RMSNorm over all heads,
                                                                  eps 1e-6 (MiniMaxText01RMSNorm default)
              attn_type_list[i] == 1, softmax attention: q/k/v/o_proj (GQA), rotate_half rope on the
                first rotary_dim dims of each head, softmax(q k^T / sqrt(head_dim)) v
              r = a if postnorm else h
              h = r * layernorm_{linear,full}_attention_alpha + y * ..._beta
              m = post_attention_layernorm(h);  r = m if postnorm else h
              h = r * layernorm_mlp_alpha + moe(m) * layernorm_mlp_beta
                moe: softmax(gate(m)), top-k, renormalised; experts.{e}.w1 (gate) / w3 (up) / w2 (down)
  logits = lm_head(norm(h))
"""
import math

import torch
import torch.nn.functional as F

from families import common, moe_common
from families.glm4moe import rope_partial_neox, routed_experts

BLOCK = 16  # the release uses 256; small, so that the short test prompts span several blocks
LIGHTNING_NORM_EPS = 1e-6


def build_slopes(n_heads):
    """The release's _build_slope_tensor (ALiBi slopes)."""
    def power_of_2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start ** i for i in range(n)]

    if math.log2(n_heads).is_integer():
        return power_of_2(n_heads)
    closest = 2 ** math.floor(math.log2(n_heads))
    return power_of_2(closest) + power_of_2(2 * closest)[0::2][:n_heads - closest]


def lightning_block_form(q, k, v, s):
    """q, k, v: [H, T, d]; s: [H] -> [H, T, d], the release's block-wise prefill."""
    n_heads, n_tokens, d = q.shape
    s = s[:, None, None]
    arange = torch.arange(BLOCK, dtype=q.dtype) + 1
    q_decay = torch.exp(-s * arange[:, None])                      # [H, B, 1]
    k_decay = torch.exp(-s * (BLOCK - arange[:, None]))
    index = arange[:, None] - arange[None, :]
    diag_decay = torch.exp(torch.where(index >= 0, -s * index, torch.full_like(s * index, -float("inf"))))
    kv = torch.zeros(n_heads, d, d, dtype=q.dtype)
    out = torch.empty_like(v)
    for start in range(0, n_tokens, BLOCK):
        end = min(start + BLOCK, n_tokens)
        m = end - start
        qi, ki, vi = q[:, start:end], k[:, start:end], v[:, start:end]
        inter = (qi * q_decay[:, :m]) @ kv
        intra = ((qi @ ki.transpose(-1, -2)) * diag_decay[:, :m, :m]) @ vi
        out[:, start:end] = inter + intra
        kv = torch.exp(-s * m) * kv + (ki * k_decay[:, -m:]).transpose(-1, -2) @ vi
    return out


def lightning_attention(config, w, p, a, layer, head_dim):
    n_tokens = a.shape[0]
    n_heads = config["num_attention_heads"]
    n_layers = config["num_hidden_layers"]
    qkv = F.silu(common.linear(a, w(p + "qkv_proj.weight"))).view(n_tokens, n_heads, 3 * head_dim)
    q, k, v = (t.transpose(0, 1) for t in torch.split(qkv, [head_dim] * 3, dim=-1))
    factor = 1 - layer / (n_layers - 1) + 1e-5 if n_layers > 1 else 1 + 1e-5
    s = torch.tensor(build_slopes(n_heads), dtype=torch.float32).to(a.dtype) * factor
    o = lightning_block_form(q, k, v, s).transpose(0, 1).reshape(n_tokens, n_heads * head_dim)
    o = common.rms_norm(o, w(p + "norm.weight"), LIGHTNING_NORM_EPS)
    o = torch.sigmoid(common.linear(a, w(p + "output_gate.weight"))) * o
    return common.linear(o, w(p + "out_proj.weight"))


def softmax_attention(config, w, p, a, cos, sin, head_dim):
    n_tokens = a.shape[0]
    n_heads = config["num_attention_heads"]
    n_kv = config.get("num_key_value_heads") or n_heads
    q = common.linear(a, w(p + "q_proj.weight")).view(n_tokens, n_heads, head_dim).transpose(0, 1)
    k = common.linear(a, w(p + "k_proj.weight")).view(n_tokens, n_kv, head_dim).transpose(0, 1)
    v = common.linear(a, w(p + "v_proj.weight")).view(n_tokens, n_kv, head_dim).transpose(0, 1)
    attn = common.causal_attention(rope_partial_neox(q, cos, sin), rope_partial_neox(k, cos, sin), v,
                                   scale=head_dim ** -0.5)
    return common.linear(attn, w(p + "o_proj.weight"))


def sparse_moe(config, w, p, m):
    probs = torch.softmax(common.linear(m, w(p + "gate.weight")), dim=-1)
    weights, selected = torch.topk(probs, config["num_experts_per_tok"], dim=-1)
    weights = weights / weights.sum(dim=-1, keepdim=True)
    moe_common.record(selected, weights)

    def expert(e, x):
        x_p = f"{p}experts.{e}."
        return common.swiglu_mlp(x, w(x_p + "w1.weight"), w(x_p + "w3.weight"), w(x_p + "w2.weight"))

    return routed_experts(m, selected, weights, expert)


def forward(config, weights, tokens, dtype):
    moe_common.check_silu(config, "minimax01")
    shared = config.get("shared_intermediate_size", 0)
    if any(shared) if isinstance(shared, list) else shared:
        raise NotImplementedError("minimax01: shared experts are not implemented")

    def w(name):
        return weights.get(name, dtype)

    eps = config.get("rms_norm_eps", 1e-6)
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    rotary_dim = config.get("rotary_dim") or head_dim
    postnorm = config.get("postnorm", False)
    n_tokens = len(tokens)
    cos, sin = common.rope_cos_sin(common.rope_inv_freq(config, rotary_dim, dtype), torch.arange(n_tokens))

    embed = w("model.embed_tokens.weight")
    h = embed[torch.tensor(tokens, dtype=torch.long)]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = common.rms_norm(h, w(p + "input_layernorm.weight"), eps)
        if config["attn_type_list"][i] == 0:
            y = lightning_attention(config, w, p + "self_attn.", a, i, head_dim)
            alpha = config.get("layernorm_linear_attention_alpha", 1)
            beta = config.get("layernorm_linear_attention_beta", 1)
        else:
            y = softmax_attention(config, w, p + "self_attn.", a, cos, sin, head_dim)
            alpha = config.get("layernorm_full_attention_alpha", 1)
            beta = config.get("layernorm_full_attention_beta", 1)
        h = (a if postnorm else h) * alpha + y * beta
        m = common.rms_norm(h, w(p + "post_attention_layernorm.weight"), eps)
        h = (m if postnorm else h) * config.get("layernorm_mlp_alpha", 1) + \
            sparse_moe(config, w, p + "block_sparse_moe.", m) * config.get("layernorm_mlp_beta", 1)

    h = common.rms_norm(h, w("model.norm.weight"), eps)
    if config.get("tie_word_embeddings", False):
        return common.linear(h, embed)
    return common.linear(h, w("lm_head.weight"))
