"""MiniMaxM2ForCausalLM (MiniMax-M2), written from transformers/models/minimax_m2/modeling_minimax_m2.py
(and the release's modeling_minimax_m2.py, which it follows):

  per layer:  a = input_layernorm(h)
              q = q_norm(q_proj(a))      ONE RMSNorm over the whole projection (n_heads * head_dim)
              k = k_norm(k_proj(a))      and one over n_kv_heads * head_dim ("per_layer" qk_norm_type)
              v = v_proj(a)                                   no biases anywhere
              q, k = RoPE(q), RoPE(k)    per head, on the first rotary_dim dims (the release's key;
                                         transformers: head_dim * partial_rotary_factor), rotate_half
              h = h + o_proj(causal_softmax(q k^T / sqrt(head_dim)) v)
              m = post_attention_layernorm(h)
              block_sparse_moe (MiniMaxM2SparseMoeBlock, every layer):
                s = sigmoid(gate.weight m);  c = s + e_score_correction_bias   (choice only)
                top-k (num_experts_per_tok) of c; weights = s of those / their sum
                h = h + sum_k weight_k * expert_k(m)       experts.{e}.w1 (gate), w3 (up), w2 (down)
  logits = lm_head(norm(h))
"""
import torch

from families import common, moe_common
from families.glm4moe import rope_partial_neox, routed_experts


def _check_config(config):
    if config.get("hidden_act", "silu") != "silu":
        raise NotImplementedError(f"minimax_m2: hidden_act {config['hidden_act']} is not implemented")
    if not config.get("use_qk_norm", True) or config.get("qk_norm_type", "per_layer") != "per_layer":
        raise NotImplementedError("minimax_m2: only use_qk_norm with qk_norm_type \"per_layer\" is implemented")
    if config.get("scoring_func", "sigmoid") != "sigmoid" or not config.get("use_routing_bias", True):
        raise NotImplementedError("minimax_m2: only sigmoid routing with the correction bias is implemented")
    if config.get("shared_intermediate_size", 0):
        raise NotImplementedError("minimax_m2: shared experts are not implemented")
    if any(t != 1 for t in config.get("attn_type_list") or []):
        raise NotImplementedError("minimax_m2: attn_type_list entries other than 1 (full attention)")
    scaling = config.get("rope_scaling") or {}
    if scaling.get("rope_type", scaling.get("type", "default")) != "default":
        raise NotImplementedError("minimax_m2: rope scaling is not implemented in the reference")


def forward(config, weights, tokens, dtype):
    _check_config(config)
    n_heads = config["num_attention_heads"]
    n_kv_heads = config.get("num_key_value_heads") or n_heads
    head_dim = config.get("head_dim") or config["hidden_size"] // n_heads
    rotary_dim = config.get("rotary_dim") or int(head_dim * config.get("partial_rotary_factor", 1.0))
    eps = config.get("rms_norm_eps", 1e-6)
    top_k = config["num_experts_per_tok"]

    def w(name):
        return weights.get(name, dtype)

    n_tokens = len(tokens)
    cos, sin = common.rope_cos_sin(common.rope_inv_freq(config, rotary_dim, dtype), torch.arange(n_tokens))
    embed = w("model.embed_tokens.weight")
    h = embed[torch.tensor(tokens, dtype=torch.long)]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = common.rms_norm(h, w(p + "input_layernorm.weight"), eps)
        q = common.rms_norm(common.linear(a, w(p + "self_attn.q_proj.weight")), w(p + "self_attn.q_norm.weight"), eps)
        k = common.rms_norm(common.linear(a, w(p + "self_attn.k_proj.weight")), w(p + "self_attn.k_norm.weight"), eps)
        v = common.linear(a, w(p + "self_attn.v_proj.weight"))
        q = rope_partial_neox(q.view(n_tokens, n_heads, head_dim).transpose(0, 1), cos, sin)
        k = rope_partial_neox(k.view(n_tokens, n_kv_heads, head_dim).transpose(0, 1), cos, sin)
        v = v.view(n_tokens, n_kv_heads, head_dim).transpose(0, 1)
        attn = common.causal_attention(q, k, v, scale=head_dim ** -0.5)
        h = h + common.linear(attn, w(p + "self_attn.o_proj.weight"))

        m = common.rms_norm(h, w(p + "post_attention_layernorm.weight"), eps)
        moe = p + "block_sparse_moe."
        scores = torch.sigmoid(common.linear(m, w(moe + "gate.weight")))
        indices = torch.topk(scores + w(moe + "e_score_correction_bias"), top_k, dim=-1, sorted=False)[1]
        topk_weights = scores.gather(1, indices)
        topk_weights = topk_weights / topk_weights.sum(dim=-1, keepdim=True)
        moe_common.record(indices, topk_weights)

        def expert(e, x):
            x_p = f"{moe}experts.{e}."
            return common.swiglu_mlp(x, w(x_p + "w1.weight"), w(x_p + "w3.weight"), w(x_p + "w2.weight"))

        h = h + routed_experts(m, indices, topk_weights, expert)

    h = common.rms_norm(h, w("model.norm.weight"), eps)
    if config.get("tie_word_embeddings", False):
        return common.linear(h, embed)
    return common.linear(h, w("lm_head.weight"))
