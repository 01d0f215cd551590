"""HunYuanMoEV1ForCausalLM (Hunyuan-A13B), written from the release's modeling_hunyuan.py
(tencent/Hunyuan-A13B-Instruct) and transformers/models/hunyuan_v1_moe/modeling_hunyuan_v1_moe.py:

  per layer:  a = input_layernorm(h)
              q, k, v = q_proj(a), k_proj(a), v_proj(a)      heads of attention_head_dim, no biases
              q, k = RoPE(q), RoPE(k)                        rotate_half over the whole head, with the
                                                             NTK-alpha base theta * alpha^(d / (d - 2))
                                                             (HunYuanDynamicNTKAlphaRotaryEmbedding)
              q, k = query_layernorm(q), key_layernorm(k)    per head, AFTER the rope, as the release's
                                                             attention (and llama.cpp) do; one transformers
                                                             revision of hunyuan_v1_moe norms before it
              h = h + o_proj(causal_softmax(q k^T / sqrt(head_dim)) v)
              m = post_attention_layernorm(h)
              HunYuanMoE (every layer, use_mixed_mlp_moe):
                g = softmax(gate.wg m)                       router in float32 (here: in dtype)
                top moe_topk of g; weights = g of those / max(their sum, eps)   (topkgating; the release's
                        moe_drop_tokens false: no expert capacity, no token dropped)
                h = h + sum_k weight_k * expert_k(m) + shared_mlp(m)
  logits = lm_head(norm(h))       lm_head = embed_tokens when tie_word_embeddings (the release)
moe_topk / num_experts may be per-layer lists (entry [layer]).
"""
import torch

from families import common, moe_common
from families.glm4moe import routed_experts


def _check_config(config):
    if config.get("hidden_act", "silu") != "silu":
        raise NotImplementedError(f"hunyuan_moe: hidden_act {config['hidden_act']} is not implemented")
    for key in ("use_cla", "use_mla", "moe_drop_tokens", "attention_bias", "mlp_bias"):
        if config.get(key, False):
            raise NotImplementedError(f"hunyuan_moe: {key}=true is not implemented")
    if not config.get("use_qk_norm", True) or not config.get("use_mixed_mlp_moe", True):
        raise NotImplementedError("hunyuan_moe: use_qk_norm / use_mixed_mlp_moe false is not implemented")
    if not config.get("norm_topk_prob", True):
        raise NotImplementedError("hunyuan_moe: norm_topk_prob false is not implemented")


def rope_base(config, head_dim):
    """theta, stretched by the NTK alpha when rope_scaling is {"type": "dynamic", "alpha": a}."""
    theta = common.rope_theta(config)
    scaling = config.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "default":
        return theta
    if kind == "dynamic" and scaling.get("alpha"):
        return theta * float(scaling["alpha"]) ** (head_dim / (head_dim - 2))
    raise NotImplementedError(f"hunyuan_moe: rope scaling {scaling} is not implemented in the reference")


def per_layer(value, layer):
    return value[layer] if isinstance(value, list) else value


def forward(config, weights, tokens, dtype):
    _check_config(config)
    n_heads = config["num_attention_heads"]
    n_kv_heads = config.get("num_key_value_heads") or n_heads
    head_dim = config.get("attention_head_dim") or config.get("head_dim") or config["hidden_size"] // n_heads
    eps = config.get("rms_norm_eps", 1e-5)

    def w(name):
        return weights.get(name, dtype)

    n_tokens = len(tokens)
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).to(dtype) / head_dim
    inv_freq = 1.0 / (rope_base(config, head_dim) ** exponents)
    cos, sin = common.rope_cos_sin(inv_freq, torch.arange(n_tokens))
    embed = w("model.embed_tokens.weight")
    h = embed[torch.tensor(tokens, dtype=torch.long)]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = common.rms_norm(h, w(p + "input_layernorm.weight"), eps)

        def project(name, heads):
            return common.linear(a, w(p + f"self_attn.{name}.weight")).view(n_tokens, heads, head_dim).transpose(0, 1)

        q = common.apply_rope_neox(project("q_proj", n_heads), cos, sin)
        k = common.apply_rope_neox(project("k_proj", n_kv_heads), cos, sin)
        q = common.rms_norm(q, w(p + "self_attn.query_layernorm.weight"), eps)
        k = common.rms_norm(k, w(p + "self_attn.key_layernorm.weight"), eps)
        attn = common.causal_attention(q, k, project("v_proj", n_kv_heads), scale=head_dim ** -0.5)
        h = h + common.linear(attn, w(p + "self_attn.o_proj.weight"))

        m = common.rms_norm(h, w(p + "post_attention_layernorm.weight"), eps)
        mlp = p + "mlp."
        gates = torch.softmax(common.linear(m, w(mlp + "gate.wg.weight")), dim=-1)
        topk_gates, indices = torch.topk(gates, per_layer(config["moe_topk"], i), dim=-1)
        topk_weights = topk_gates / topk_gates.sum(dim=-1, keepdim=True).clamp(min=torch.finfo(dtype).eps)
        moe_common.record(indices, topk_weights)

        def expert(e, x):
            x_p = f"{mlp}experts.{e}."
            return common.swiglu_mlp(x, w(x_p + "gate_proj.weight"), w(x_p + "up_proj.weight"),
                                     w(x_p + "down_proj.weight"))

        s = mlp + "shared_mlp."
        shared = common.swiglu_mlp(m, w(s + "gate_proj.weight"), w(s + "up_proj.weight"), w(s + "down_proj.weight"))
        h = h + routed_experts(m, indices, topk_weights, expert) + shared

    h = common.rms_norm(h, w("model.norm.weight"), eps)
    if config.get("tie_word_embeddings", False):  # HunYuanMoEV1Config default; the release ties
        return common.linear(h, embed)
    return common.linear(h, w("lm_head.weight"))
