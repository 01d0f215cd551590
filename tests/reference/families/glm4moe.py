"""Glm4MoeForCausalLM (GLM-4.5, GLM-4.5-Air, GLM-4.6), written from
transformers/models/glm4_moe/modeling_glm4_moe.py:

  per layer:  a = input_layernorm(h)
              q, k, v = q_proj(a), k_proj(a), v_proj(a)      bias when attention_bias; heads of head_dim
              q, k = q_norm(q), k_norm(k)                    per head, only when use_qk_norm
              q, k = RoPE(q), RoPE(k)    partial: the first head_dim * partial_rotary_factor (default
                                         0.5) dims, rotate_half (NeoX) pairs (i, i + rot/2); the rest pass
              h = h + o_proj(causal_softmax(q k^T / sqrt(head_dim)) v)          (o_proj: no bias)
              m = post_attention_layernorm(h)
              layers < first_k_dense_replace:  h = h + mlp(m)                  SwiGLU, intermediate_size
              other layers (Glm4MoeMoE):
                s = sigmoid(gate.weight m)                   router in float32 (here: in dtype)
                c = s + gate.e_score_correction_bias          the bias steers the choice only
                groups: n_group groups of experts scored by the sum of their top-2 c; the topk_group best
                        are kept, the others' c set to 0 (masked_fill 0.0, as HF)
                top-k of c -> experts; weights = s of those, / (sum + 1e-20) when norm_topk_prob,
                        * routed_scaling_factor
                h = h + sum_k weight_k * expert_k(m) + shared_experts(m)
  logits = lm_head(norm(h))
The MTP layers (model.layers.{num_hidden_layers + i}, num_nextn_predict_layers) are not part of
the causal LM forward; forward_mtp runs the first one (as llama.cpp's glm4-moe graph_mtp / vLLM):
  row i (i < n - 1) reads h_i, the final hidden state of position i BEFORE model.norm, and token i + 1:
  x = eh_proj(cat(enorm(embed_tokens'[t_{i+1}]), hnorm(h_i)))   the layer's own embed_tokens copy
  x = the decoder layer above on x (own causal attention over positions 0 .. n - 2, same rope)
  logits = shared_head.head(shared_head.norm(x))
"""
import torch

from families import common, moe_common


def _check_config(config):
    if config.get("hidden_act", "silu") != "silu":
        raise NotImplementedError(f"glm4moe: hidden_act {config['hidden_act']} is not implemented")
    scaling = config.get("rope_scaling") or {}
    if scaling.get("rope_type", scaling.get("type", "default")) != "default":
        raise NotImplementedError("glm4moe: rope scaling is not implemented in the reference")


def rope_partial_neox(x, cos, sin):
    """rotate_half rope on the first cos.shape[-1] dims of each head, the rest passed through."""
    rotary_dim = cos.shape[-1]
    return torch.cat((common.apply_rope_neox(x[..., :rotary_dim], cos, sin), x[..., rotary_dim:]), dim=-1)


def route(m, router, bias, config):
    """Glm4MoeMoE.route_tokens_to_experts -> (indices [T, k], weights [T, k])."""
    n_experts = router.shape[0]
    n_group = config.get("n_group", 1)
    topk_group = config.get("topk_group", 1)
    top_k = config["num_experts_per_tok"]
    scores = torch.sigmoid(common.linear(m, router))
    choice = scores + bias
    group_scores = choice.view(-1, n_group, n_experts // n_group).topk(2, dim=-1)[0].sum(dim=-1)
    group_idx = torch.topk(group_scores, k=topk_group, dim=-1, sorted=False)[1]
    group_mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1)
    score_mask = group_mask.unsqueeze(-1).expand(-1, n_group, n_experts // n_group).reshape(-1, n_experts)
    choice = choice.masked_fill(~score_mask.bool(), 0.0)
    indices = torch.topk(choice, k=top_k, dim=-1, sorted=False)[1]
    weights = scores.gather(1, indices)
    if config.get("norm_topk_prob", True):
        weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)
    return indices, weights * config.get("routed_scaling_factor", 1.0)


def routed_experts(m, indices, weights, expert):
    """sum_k weights[t, k] * expert(indices[t, k])(m[t]) for every token t."""
    out = torch.zeros_like(m)
    for e in indices.unique().tolist():
        token, slot = torch.where(indices == e)
        out.index_add_(0, token, expert(e, m[token]) * weights[token, slot, None])
    return out


def decoder_layer(config, w, i, h, cos, sin):
    n_heads = config["num_attention_heads"]
    n_kv_heads = config.get("num_key_value_heads") or n_heads
    head_dim = config.get("head_dim", 128)
    eps = config.get("rms_norm_eps", 1e-5)
    qkv_bias = config.get("attention_bias", False)
    qk_norm = config.get("use_qk_norm", False)
    first_dense = config.get("first_k_dense_replace", 1)
    n_tokens = h.shape[0]
    p = f"model.layers.{i}."
    a = common.rms_norm(h, w(p + "input_layernorm.weight"), eps)

    def project(name, heads):
        bias = w(p + f"self_attn.{name}.bias") if qkv_bias else None
        return common.linear(a, w(p + f"self_attn.{name}.weight"), bias).view(n_tokens, heads, head_dim)

    q, k, v = project("q_proj", n_heads), project("k_proj", n_kv_heads), project("v_proj", n_kv_heads)
    if qk_norm:
        q = common.rms_norm(q, w(p + "self_attn.q_norm.weight"), eps)
        k = common.rms_norm(k, w(p + "self_attn.k_norm.weight"), eps)
    q = rope_partial_neox(q.transpose(0, 1), cos, sin)
    k = rope_partial_neox(k.transpose(0, 1), cos, sin)
    attn = common.causal_attention(q, k, v.transpose(0, 1), scale=head_dim ** -0.5)
    h = h + common.linear(attn, w(p + "self_attn.o_proj.weight"))

    m = common.rms_norm(h, w(p + "post_attention_layernorm.weight"), eps)
    mlp = p + "mlp."
    if i < first_dense:
        return h + common.swiglu_mlp(m, w(mlp + "gate_proj.weight"), w(mlp + "up_proj.weight"),
                                     w(mlp + "down_proj.weight"))
    indices, topk_weights = route(m, w(mlp + "gate.weight"), w(mlp + "gate.e_score_correction_bias"), config)
    moe_common.record(indices, topk_weights)

    def expert(e, x):
        x_p = f"{mlp}experts.{e}."
        return common.swiglu_mlp(x, w(x_p + "gate_proj.weight"), w(x_p + "up_proj.weight"),
                                 w(x_p + "down_proj.weight"))

    out = routed_experts(m, indices, topk_weights, expert)
    if config.get("n_shared_experts", 1) > 0:
        s = mlp + "shared_experts."
        out = out + common.swiglu_mlp(m, w(s + "gate_proj.weight"), w(s + "up_proj.weight"),
                                      w(s + "down_proj.weight"))
    return h + out


def _rope(config, dtype, n_tokens):
    head_dim = config.get("head_dim", 128)
    rotary_dim = int(head_dim * config.get("partial_rotary_factor", 0.5))
    return common.rope_cos_sin(common.rope_inv_freq(config, rotary_dim, dtype), torch.arange(n_tokens))


def hidden_states(config, w, tokens, dtype):
    """The final hidden states before model.norm, [n, hidden]."""
    _check_config(config)
    cos, sin = _rope(config, dtype, len(tokens))
    h = w("model.embed_tokens.weight")[torch.tensor(tokens, dtype=torch.long)]
    for i in range(config["num_hidden_layers"]):
        h = decoder_layer(config, w, i, h, cos, sin)
    return h


def forward(config, weights, tokens, dtype):
    eps = config.get("rms_norm_eps", 1e-5)

    def w(name):
        return weights.get(name, dtype)

    h = common.rms_norm(hidden_states(config, w, tokens, dtype), w("model.norm.weight"), eps)
    if config.get("tie_word_embeddings", False):
        return common.linear(h, w("model.embed_tokens.weight"))
    return common.linear(h, w("lm_head.weight"))


def forward_mtp(config, weights, tokens, dtype):
    """Logits of the first MTP layer at positions 0 .. n - 2, [n - 1, vocab]."""
    if not config.get("num_nextn_predict_layers"):
        raise ValueError("the config has no MTP layer (num_nextn_predict_layers)")
    eps = config.get("rms_norm_eps", 1e-5)

    def w(name):
        return weights.get(name, dtype)

    h = hidden_states(config, w, tokens, dtype)[:-1]
    il = config["num_hidden_layers"]
    p = f"model.layers.{il}."
    e = w(p + "embed_tokens.weight")[torch.tensor(tokens[1:], dtype=torch.long)]
    x = common.linear(torch.cat((common.rms_norm(e, w(p + "enorm.weight"), eps),
                                 common.rms_norm(h, w(p + "hnorm.weight"), eps)), dim=-1), w(p + "eh_proj.weight"))
    cos, sin = _rope(config, dtype, len(tokens) - 1)
    x = decoder_layer(config, w, il, x, cos, sin)
    return common.linear(common.rms_norm(x, w(p + "shared_head.norm.weight"), eps), w(p + "shared_head.head.weight"))
