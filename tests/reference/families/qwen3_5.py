"""Qwen3_5ForConditionalGeneration / Qwen3_5MoeForConditionalGeneration (Qwen3.5-27B,
Qwen3.5-35B-A3B, ...): the text model, written from transformers/models/qwen3_5/modular_qwen3_5.py
(Qwen3_5GatedDeltaNet, Qwen3_5DecoderLayer, Qwen3_5TextRotaryEmbedding) and
qwen3_5_moe/modular_qwen3_5_moe.py (the decoder layer with Qwen3NextSparseMoeBlock-style experts).

The text keys live in config["text_config"] and the tensors under "model.language_model." (a
text-only *ForCausalLM has them under "model."). Against Qwen3-Next (qwen3_next.py, whose delta
rule, gated attention and norms are reused):
  - Qwen3_5GatedDeltaNet projects with in_proj_qkv (all q, all k, all v), in_proj_z, in_proj_b and
    in_proj_a (one row per v head) instead of the fused per-k-head in_proj_qkvz / in_proj_ba; the
    q / k heads are still repeat_interleave'd (v head h uses k head h // r);
  - the dense variant's MLP is a SwiGLU of intermediate_size in every layer; the MoE variant's
    experts are fused: experts.gate_up_proj [n, 2 ff, hidden] (gate rows first), experts.down_proj
    [n, hidden, ff];
  - the rotary embedding is interleaved M-RoPE over (temporal, height, width) position ids; for
    text the three ids are the token position, so every frequency sees the same position and it
    equals the plain rotate_half rope on the first head_dim * partial_rotary_factor dims.
"""
import torch

from families import common, moe_common, qwen3_next


def text_config(config):
    text = dict(config.get("text_config") or config)
    for key in ("tie_word_embeddings",):
        if key not in text and key in config:
            text[key] = config[key]
    return text


def gated_deltanet(config, w, p, a, eps):
    n_tokens = a.shape[0]
    nk, nv = config["linear_num_key_heads"], config["linear_num_value_heads"]
    dk, dv = config["linear_key_head_dim"], config["linear_value_head_dim"]
    r = nv // nk
    mixed = common.linear(a, w(p + "in_proj_qkv.weight"))
    z = common.linear(a, w(p + "in_proj_z.weight")).reshape(n_tokens, nv, dv)
    b = common.linear(a, w(p + "in_proj_b.weight"))
    alpha = common.linear(a, w(p + "in_proj_a.weight"))

    conv_w = w(p + "conv1d.weight")  # [channels, 1, K]
    kernel = conv_w.shape[-1]
    mixed = torch.nn.functional.silu(
        torch.nn.functional.conv1d(mixed.T[None], conv_w, padding=kernel - 1, groups=mixed.shape[1])[0, :, :n_tokens]).T
    q, k, v = torch.split(mixed, [nk * dk, nk * dk, nv * dv], dim=-1)
    q = qwen3_next.l2norm(q.reshape(n_tokens, nk, dk)).repeat_interleave(r, dim=1) * dk ** -0.5
    k = qwen3_next.l2norm(k.reshape(n_tokens, nk, dk)).repeat_interleave(r, dim=1)
    v = v.reshape(n_tokens, nv, dv)

    beta = torch.sigmoid(b)
    g = -w(p + "A_log").exp() * torch.nn.functional.softplus(alpha + w(p + "dt_bias"))
    o = qwen3_next.chunked_delta_rule(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), g.T, beta.T)
    o = common.rms_norm(o.transpose(0, 1), w(p + "norm.weight"), eps) * torch.nn.functional.silu(z)
    return common.linear(o.reshape(n_tokens, nv * dv), w(p + "out_proj.weight"))


def sparse_moe(config, w, p, m):
    n_experts, top_k = config["num_experts"], config["num_experts_per_tok"]
    probs = torch.softmax(common.linear(m, w(p + "gate.weight")), dim=-1)
    routing_weights, selected = torch.topk(probs, top_k, dim=-1)
    routing_weights = routing_weights / routing_weights.sum(dim=-1, keepdim=True)
    moe_common.record(selected, routing_weights)
    gate_up, down = w(p + "experts.gate_up_proj"), w(p + "experts.down_proj")
    ff = gate_up.shape[1] // 2
    out = torch.zeros_like(m)
    for e in range(n_experts):
        token_idx, slot = torch.where(selected == e)
        if token_idx.numel() == 0:
            continue
        y = common.swiglu_mlp(m[token_idx], gate_up[e, :ff], gate_up[e, ff:], down[e])
        out.index_add_(0, token_idx, y * routing_weights[token_idx, slot, None])
    if config.get("shared_expert_intermediate_size", 0) > 0:
        shared = moe_common.dense_mlp(m, w, p + "shared_expert.")
        out = out + torch.sigmoid(common.linear(m, w(p + "shared_expert_gate.weight"))) * shared
    return out


def forward(config_in, weights, tokens, dtype):
    config = text_config(config_in)
    moe_common.check_silu(config, "qwen3_5")
    if not config.get("attn_output_gate", True):
        raise NotImplementedError("qwen3_5: attn_output_gate false is not implemented")
    is_moe = "num_experts" in config
    arch = (config_in.get("architectures") or [""])[0]
    prefix = "model." if arch.endswith("ForCausalLM") else "model.language_model."

    def w(name):
        return weights.get(name, dtype)

    eps = config.get("rms_norm_eps", 1e-6)
    interval = config.get("full_attention_interval", 4)
    n_layers = config["num_hidden_layers"]
    layer_types = config.get("layer_types") or [
        "linear_attention" if (i + 1) % interval else "full_attention" for i in range(n_layers)]
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    params = config.get("rope_parameters") or {}
    partial = params.get("partial_rotary_factor", config.get("partial_rotary_factor", 0.25))
    rotary_dim = int(head_dim * partial)
    n_tokens = len(tokens)
    cos, sin = common.rope_cos_sin(common.rope_inv_freq(config, rotary_dim, dtype), torch.arange(n_tokens))

    embed = w(prefix + "embed_tokens.weight")
    h = embed[torch.tensor(tokens, dtype=torch.long)]
    for i in range(n_layers):
        p = f"{prefix}layers.{i}."
        a = qwen3_next.centred_norm(h, w(p + "input_layernorm.weight"), eps)
        if layer_types[i] == "linear_attention":
            h = h + gated_deltanet(config, w, p + "linear_attn.", a, eps)
        elif layer_types[i] == "full_attention":
            h = h + qwen3_next.gated_attention(config, w, p + "self_attn.", a, eps, cos, sin, head_dim, rotary_dim)
        else:
            raise NotImplementedError(f"qwen3_5: layer type {layer_types[i]}")
        m = qwen3_next.centred_norm(h, w(p + "post_attention_layernorm.weight"), eps)
        h = h + (sparse_moe(config, w, p + "mlp.", m) if is_moe else moe_common.dense_mlp(m, w, p + "mlp."))

    h = qwen3_next.centred_norm(h, w(prefix + "norm.weight"), eps)
    if config.get("tie_word_embeddings", False):
        return common.linear(h, embed)
    return common.linear(h, w("lm_head.weight"))
