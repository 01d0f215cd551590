"""MiniMaxM3SparseForCausalLM (MiniMax-M3, the text model). The official modeling code is not in
reach here, so this is written from llama.cpp's graph (src/models/minimax-m3.cpp) and converter
(conversion/minimax.py MiniMaxM3Model), in plain PyTorch with the HF checkpoint's names and the
(1 + w) Gemma-style norms the converter folds into the GGUF:

  per layer:  a = input_layernorm(h)                       every norm: x_hat * (1 + w)
              q, k, v = q_proj(a), k_proj(a), v_proj(a)    no biases; heads of head_dim
              q, k = q_norm(q), k_norm(k)                  per head, BEFORE the rope
              q, k = RoPE(q), RoPE(k)                      first rotary_dim dims, rotate_half (NeoX)
              dense layers (moe_layer_freq 0): causal softmax attention
              MoE layers: MiniMax Sparse Attention —
                iq_h = index_q_norm(index_q_proj(a))_h   one head per kv head; ik = index_k_norm(index_k_proj(a))
                iq, ik rotated like q, k (first rotary_dim dims)
                S_h(t, b) = max_{p in block b, p <= t} iq_h(t) . ik(p)     blocks of sparse_block_size
                chosen(t, h) = the sparse_local_block latest blocks + the best S_h up to
                               sparse_topk_blocks blocks (all visible blocks when there are no more)
                the query heads of group h attend causally to the chosen blocks' positions only
              h = h + o_proj(attention)
              m = post_attention_layernorm(h)
              dense: h = h + mlp(m) with swigluoai;  MoE: sigmoid router + e_score_correction_bias
              (choice only), top-k renormalised * routed_scaling_factor, experts w1/w3/w2 and
              shared_experts, all swigluoai
  logits = lm_head(norm(h))
swigluoai (gpt-oss): g = min(gate, 7), u = clamp(up, -7, 7), g * sigmoid(1.702 g) * (u + 1).
"""
import math

import torch

from families import common, moe_common
from families.glm4moe import rope_partial_neox, routed_experts


def _check_config(config):
    if config.get("attention_bias", False):
        raise NotImplementedError("minimax_m3: attention_bias is not implemented")
    if config.get("scoring_func", "sigmoid") != "sigmoid":
        raise NotImplementedError("minimax_m3: only sigmoid routing is implemented")


def norm(x, w, eps):
    return common.rms_norm(x, 1.0 + w, eps)


def swiglu_oai_mlp(x, gate_weight, up_weight, down_weight):
    g = common.linear(x, gate_weight).clamp(max=7.0)
    u = common.linear(x, up_weight).clamp(min=-7.0, max=7.0)
    return common.linear(g * torch.sigmoid(1.702 * g) * (u + 1.0), down_weight)


def msa_bias(iq, ik, n_heads, config):
    """iq [kv_heads, T, D], ik [T, D] -> [n_heads, T, T] additive mask (0 chosen, -inf not)."""
    sac = config["sparse_attention_config"]
    blk, topk, local = sac["sparse_block_size"], sac["sparse_topk_blocks"], sac["sparse_local_block"]
    n_kv, n_tokens, _ = iq.shape
    scores = iq @ ik.T  # [kv_heads, T, T]
    allowed = torch.zeros(n_kv, n_tokens, n_tokens, dtype=torch.bool)
    for t in range(n_tokens):
        own = t // blk
        for h in range(n_kv):
            if own + 1 <= topk:
                chosen = list(range(own + 1))
            else:
                block = [scores[h, t, b * blk: min((b + 1) * blk, t + 1)].max().item() for b in range(own + 1)]
                forced = list(range(own + 1 - min(local, own + 1), own + 1))
                rest = sorted(range(own + 1 - len(forced)), key=lambda b: (-block[b], b))
                chosen = forced + rest[: topk - len(forced)]
            for b in chosen:
                allowed[h, t, b * blk: min((b + 1) * blk, t + 1)] = True
    groups = n_heads // n_kv
    bias = torch.zeros(n_kv, n_tokens, n_tokens, dtype=iq.dtype).masked_fill(~allowed, -math.inf)
    return bias.repeat_interleave(groups, dim=0)


def forward(config, weights, tokens, dtype):
    _check_config(config)
    n_heads = config["num_attention_heads"]
    n_kv_heads = config.get("num_key_value_heads") or n_heads
    head_dim = config.get("head_dim") or config["hidden_size"] // n_heads
    rotary_dim = config.get("rotary_dim") or head_dim
    eps = config.get("rms_norm_eps", 1e-6)
    top_k = config["num_experts_per_tok"]
    freq = config["moe_layer_freq"]
    index_dim = config["sparse_attention_config"]["sparse_index_dim"]

    def w(name):
        return weights.get(name, dtype)

    n_tokens = len(tokens)
    cos, sin = common.rope_cos_sin(common.rope_inv_freq(config, rotary_dim, dtype), torch.arange(n_tokens))
    h = w("model.embed_tokens.weight")[torch.tensor(tokens, dtype=torch.long)]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        sa = p + "self_attn."
        a = norm(h, w(p + "input_layernorm.weight"), eps)

        def heads(x, n, d):
            return x.view(n_tokens, n, d).transpose(0, 1)

        q = norm(heads(common.linear(a, w(sa + "q_proj.weight")), n_heads, head_dim), w(sa + "q_norm.weight"), eps)
        k = norm(heads(common.linear(a, w(sa + "k_proj.weight")), n_kv_heads, head_dim), w(sa + "k_norm.weight"), eps)
        v = heads(common.linear(a, w(sa + "v_proj.weight")), n_kv_heads, head_dim)
        q, k = rope_partial_neox(q, cos, sin), rope_partial_neox(k, cos, sin)
        bias = None
        if freq[i] != 0:
            iq = norm(heads(common.linear(a, w(sa + "index_q_proj.weight")), n_kv_heads, index_dim),
                      w(sa + "index_q_norm.weight"), eps)
            ik = norm(heads(common.linear(a, w(sa + "index_k_proj.weight")), 1, index_dim),
                      w(sa + "index_k_norm.weight"), eps)
            iq, ik = rope_partial_neox(iq, cos, sin), rope_partial_neox(ik, cos, sin)[0]
            bias = msa_bias(iq, ik, n_heads, config)
        attn = common.causal_attention(q, k, v, scale=head_dim ** -0.5, score_bias=bias)
        h = h + common.linear(attn, w(sa + "o_proj.weight"))

        m = norm(h, w(p + "post_attention_layernorm.weight"), eps)
        if freq[i] == 0:
            mlp = p + "mlp."
            h = h + swiglu_oai_mlp(m, w(mlp + "gate_proj.weight"), w(mlp + "up_proj.weight"), w(mlp + "down_proj.weight"))
            continue
        moe = p + "block_sparse_moe."
        scores = torch.sigmoid(common.linear(m, w(moe + "gate.weight")))
        indices = torch.topk(scores + w(moe + "e_score_correction_bias"), top_k, dim=-1, sorted=False)[1]
        topk_weights = scores.gather(1, indices)
        topk_weights = topk_weights / topk_weights.sum(dim=-1, keepdim=True) * config.get("routed_scaling_factor", 1.0)
        moe_common.record(indices, topk_weights)

        def expert(e, x):
            x_p = f"{moe}experts.{e}."
            return swiglu_oai_mlp(x, w(x_p + "w1.weight"), w(x_p + "w3.weight"), w(x_p + "w2.weight"))

        out = routed_experts(m, indices, topk_weights, expert)
        if config.get("n_shared_experts", 0):
            s = moe + "shared_experts."
            out = out + swiglu_oai_mlp(m, w(s + "gate_proj.weight"), w(s + "up_proj.weight"), w(s + "down_proj.weight"))
        h = h + out

    h = norm(h, w("model.norm.weight"), eps)
    return common.linear(h, w("lm_head.weight"))
