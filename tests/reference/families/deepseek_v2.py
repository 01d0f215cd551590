"""DeepseekV2ForCausalLM and DeepseekV3ForCausalLM (DeepSeek-V2 / V2-Lite / V2.5, V3 / R1, Kimi K2),
written from the releases' modeling_deepseek.py (deepseek-ai/DeepSeek-V2-Lite and DeepSeek-V3):

  h = embed_tokens[tokens]
  per layer:  a = input_layernorm(h)
              q = q_b_proj(q_a_layernorm(q_a_proj(a)))   or q_proj(a) when q_lora_rank is null
                  per head [q_nope | q_pe]
              compressed_kv, k_pe = kv_a_proj_with_mqa(a)          [kv_lora_rank | qk_rope_head_dim]
              k_nope, v = kv_b_proj(kv_a_layernorm(compressed_kv))  per head [qk_nope | v_head_dim]
              q_pe, k_pe = RoPE(q_pe), RoPE(k_pe)      the rope dims are de-interleaved first
                                                        (view(d/2, 2).transpose), then rotate_half;
                                                        YaRN with DeepSeek's mscale / mscale_all_dim
              h = h + o_proj(softmax([q_nope|q_pe] [k_nope|k_pe]^T * softmax_scale) v)
                  softmax_scale = q_head_dim^-0.5 * yarn_get_mscale(factor, mscale_all_dim)^2
              m = post_attention_layernorm(h)
              h = h + (dense mlp(m)                  for layer < first_k_dense_replace
                       else MoE(m))
  MoE: V2 (MoEGate, topk_method greedy / group_limited_greedy): scores = softmax(router(m));
       top-k of scores (group_limited_greedy: only within the topk_group groups of best max score);
       weights = scores of the chosen / their sum if norm_topk_prob, else * routed_scaling_factor.
       V3 (noaux_tc): scores = sigmoid(router(m)); choice = scores + e_score_correction_bias;
       groups ranked by the sum of their top-2 choice values, topk_group kept; top-k of choice;
       weights = chosen scores (/ sum if norm_topk_prob) * routed_scaling_factor.
       out = sum_k weight_k expert_k(m) + shared_experts(m)      (experts are SwiGLU MLPs)
  logits = lm_head(norm(h))
The MTP layers (num_nextn_predict_layers) are not part of the forward pass; forward_mtp runs the
first one (model.layers.{num_hidden_layers}), as vLLM's deepseek_mtp.py does:
  row i (i < n - 1) reads h_i, the final hidden state of position i BEFORE model.norm, and token i + 1:
  x = eh_proj(cat(enorm(embed_tokens'[t_{i+1}]), hnorm(h_i)))   the layer's own embed_tokens copy
  x = the decoder layer above on x (own causal attention over positions 0 .. n - 2, same rope)
  logits = shared_head.head(shared_head.norm(x))
Each MoE layer's routing goes to moe_common.record (moe_compare.py's routing trace).
"""
import math

import torch

from families import common, moe_common


def yarn_get_mscale(scale=1.0, mscale=1.0):
    if scale <= 1:
        return 1.0
    return 0.1 * mscale * math.log(scale) + 1.0


def rope_cos_sin(config, dim, positions, dtype):
    """DeepseekV2RotaryEmbedding / DeepseekV2YarnRotaryEmbedding: cos/sin [tokens, dim]."""
    base = common.rope_theta(config)
    scaling = config.get("rope_scaling") or {}
    kind = scaling.get("type", scaling.get("rope_type", "default"))
    freq_extra = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    mscale = 1.0
    if kind in ("default", None):
        inv_freq = freq_extra
    elif kind == "yarn":
        factor = scaling["factor"]
        original = scaling["original_max_position_embeddings"]
        beta_fast, beta_slow = scaling.get("beta_fast", 32), scaling.get("beta_slow", 1)

        def correction_dim(rotations):
            return (dim * math.log(original / (rotations * 2 * math.pi))) / (2 * math.log(base))

        low = max(math.floor(correction_dim(beta_fast)), 0)
        high = min(math.ceil(correction_dim(beta_slow)), dim - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float64) - low) / (high - low), 0, 1)
        inv_freq_mask = 1.0 - ramp
        freq_inter = freq_extra / factor
        inv_freq = freq_inter * (1 - inv_freq_mask) + freq_extra * inv_freq_mask
        mscale = yarn_get_mscale(factor, scaling.get("mscale", 1)) / yarn_get_mscale(factor, scaling.get("mscale_all_dim", 0))
    else:
        raise NotImplementedError(f"deepseek: rope scaling type '{kind}' is not implemented in the reference")
    freqs = positions.to(torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return (emb.cos() * mscale).to(dtype), (emb.sin() * mscale).to(dtype)


def apply_rope(x, cos, sin):
    """modeling_deepseek.apply_rotary_pos_emb: x [heads, tokens, d] de-interleaved, then rotate_half."""
    h, s, d = x.shape
    x = x.view(h, s, d // 2, 2).transpose(3, 2).reshape(h, s, d)
    return x * cos[None] + common.rotate_half(x) * sin[None]


def softmax_scale(config):
    scale = (config["qk_nope_head_dim"] + config["qk_rope_head_dim"]) ** -0.5
    scaling = config.get("rope_scaling") or {}
    if scaling and scaling.get("mscale_all_dim", 0):
        m = yarn_get_mscale(scaling["factor"], scaling["mscale_all_dim"])
        scale = scale * m * m
    return scale


def mla_attention(config, w, p, a, cos, sin, dtype):
    n = a.shape[0]
    n_heads = config["num_attention_heads"]
    nope, rope, v_dim = config["qk_nope_head_dim"], config["qk_rope_head_dim"], config["v_head_dim"]
    kv_lora = config["kv_lora_rank"]
    eps = config.get("rms_norm_eps", 1e-6)
    s = p + "self_attn."
    if config.get("q_lora_rank") is None:
        q = common.linear(a, w(s + "q_proj.weight"))
    else:
        q = common.linear(common.rms_norm(common.linear(a, w(s + "q_a_proj.weight")), w(s + "q_a_layernorm.weight"), eps),
                          w(s + "q_b_proj.weight"))
    q = q.view(n, n_heads, nope + rope).transpose(0, 1)
    q_nope, q_pe = q[..., :nope], q[..., nope:]
    compressed = common.linear(a, w(s + "kv_a_proj_with_mqa.weight"))
    latent, k_pe = compressed[:, :kv_lora], compressed[:, kv_lora:]
    kv = common.linear(common.rms_norm(latent, w(s + "kv_a_layernorm.weight"), eps), w(s + "kv_b_proj.weight"))
    kv = kv.view(n, n_heads, nope + v_dim).transpose(0, 1)
    k_nope, v = kv[..., :nope], kv[..., nope:]
    q_pe = apply_rope(q_pe, cos, sin)
    k_pe = apply_rope(k_pe.view(1, n, rope), cos, sin).expand(n_heads, n, rope)
    query = torch.cat((q_nope, q_pe), dim=-1)
    key = torch.cat((k_nope, k_pe), dim=-1)
    attn = common.causal_attention(query, key, v, scale=softmax_scale(config))
    return common.linear(attn, w(s + "o_proj.weight"))


def route(config, w, p, m):
    """MoEGate.forward -> (topk_idx [n, k], topk_weight [n, k]), in the model dtype (HF routes in
    float32; the parity runs use float64)."""
    n = m.shape[0]
    n_experts, k = config["n_routed_experts"], config["num_experts_per_tok"]
    n_group, topk_group = config.get("n_group") or 1, config.get("topk_group") or 1
    method = config.get("topk_method", "greedy")
    logits = common.linear(m, w(p + "mlp.gate.weight"))
    scoring = config.get("scoring_func", "softmax")
    if scoring == "softmax":
        scores = logits.softmax(dim=-1)
    elif scoring == "sigmoid":
        scores = logits.sigmoid()
    else:
        raise NotImplementedError(f"deepseek: scoring_func {scoring}")

    if method == "noaux_tc":
        choice = scores + w(p + "mlp.gate.e_score_correction_bias")[None, :]
        group_scores = choice.view(n, n_group, -1).topk(2, dim=-1)[0].sum(dim=-1)
    elif method == "group_limited_greedy":
        choice = scores
        group_scores = choice.view(n, n_group, -1).max(dim=-1).values
    elif method == "greedy":
        choice = scores
        group_scores = None
    else:
        raise NotImplementedError(f"deepseek: topk_method {method}")
    if group_scores is not None:
        group_idx = torch.topk(group_scores, k=topk_group, dim=-1)[1]
        group_mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1)
        score_mask = group_mask.unsqueeze(-1).expand(n, n_group, n_experts // n_group).reshape(n, -1)
        choice = choice.masked_fill(~score_mask.bool(), float("-inf"))
    topk_idx = torch.topk(choice, k=k, dim=-1)[1]
    topk_weight = scores.gather(1, topk_idx)

    scale = config.get("routed_scaling_factor", 1.0)
    if method == "noaux_tc":  # V3: normalise (when asked), then always scale
        if k > 1 and config.get("norm_topk_prob", False):
            topk_weight = topk_weight / (topk_weight.sum(dim=-1, keepdim=True) + 1e-20)
        topk_weight = topk_weight * scale
    else:  # V2: normalise, or scale
        if k > 1 and config.get("norm_topk_prob", False):
            topk_weight = topk_weight / (topk_weight.sum(dim=-1, keepdim=True) + 1e-20)
        else:
            topk_weight = topk_weight * scale
    return topk_idx, topk_weight


def moe(config, w, p, m):
    topk_idx, topk_weight = route(config, w, p, m)
    moe_common.record(topk_idx, topk_weight)
    out = torch.zeros_like(m)
    for e in torch.unique(topk_idx).tolist():
        rows, slot = (topk_idx == e).nonzero(as_tuple=True)
        ep = p + f"mlp.experts.{e}."
        y = common.swiglu_mlp(m[rows], w(ep + "gate_proj.weight"), w(ep + "up_proj.weight"), w(ep + "down_proj.weight"))
        out.index_add_(0, rows, y * topk_weight[rows, slot][:, None])
    if config.get("n_shared_experts"):
        sp = p + "mlp.shared_experts."
        out = out + common.swiglu_mlp(m, w(sp + "gate_proj.weight"), w(sp + "up_proj.weight"), w(sp + "down_proj.weight"))
    return out


def decoder_layer(config, w, i, h, cos, sin, dtype):
    eps = config.get("rms_norm_eps", 1e-6)
    first_dense = config.get("first_k_dense_replace", 0)
    freq = config.get("moe_layer_freq", 1)
    p = f"model.layers.{i}."
    a = common.rms_norm(h, w(p + "input_layernorm.weight"), eps)
    h = h + mla_attention(config, w, p, a, cos, sin, dtype)
    m = common.rms_norm(h, w(p + "post_attention_layernorm.weight"), eps)
    if config.get("n_routed_experts") and i >= first_dense and i % freq == 0:
        return h + moe(config, w, p, m)
    return h + common.swiglu_mlp(m, w(p + "mlp.gate_proj.weight"), w(p + "mlp.up_proj.weight"),
                                 w(p + "mlp.down_proj.weight"))


def hidden_states(config, w, tokens, dtype):
    """The final hidden states before model.norm, [n, hidden]."""
    if config.get("hidden_act", "silu") != "silu":
        raise NotImplementedError(f"deepseek: hidden_act {config['hidden_act']} is not implemented")
    positions = torch.arange(len(tokens))
    cos, sin = rope_cos_sin(config, config["qk_rope_head_dim"], positions, dtype)
    h = w("model.embed_tokens.weight")[torch.tensor(tokens, dtype=torch.long)]
    for i in range(config["num_hidden_layers"]):
        h = decoder_layer(config, w, i, h, cos, sin, dtype)
    return h


def forward(config, weights, tokens, dtype):
    eps = config.get("rms_norm_eps", 1e-6)

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
    eps = config.get("rms_norm_eps", 1e-6)

    def w(name):
        return weights.get(name, dtype)

    h = hidden_states(config, w, tokens, dtype)[:-1]
    il = config["num_hidden_layers"]
    p = f"model.layers.{il}."
    e = w(p + "embed_tokens.weight")[torch.tensor(tokens[1:], dtype=torch.long)]
    x = common.linear(torch.cat((common.rms_norm(e, w(p + "enorm.weight"), eps),
                                 common.rms_norm(h, w(p + "hnorm.weight"), eps)), dim=-1), w(p + "eh_proj.weight"))
    cos, sin = rope_cos_sin(config, config["qk_rope_head_dim"], torch.arange(len(tokens) - 1), dtype)
    x = decoder_layer(config, w, il, x, cos, sin, dtype)
    return common.linear(common.rms_norm(x, w(p + "shared_head.norm.weight"), eps), w(p + "shared_head.head.weight"))
