"""Mixture-of-experts math shared by the MoE family files (qwen3moe, deepseek_moe, ernie4_5_moe),
written from the HF sparse-MoE blocks (Qwen3MoeSparseMoeBlock, DeepseekMoE + MoEGate,
Ernie4_5_MoeSparseMoeBlock): route each token to its top-k experts, run every chosen expert on
its tokens, sum the outputs with the routing weights, add the shared experts.

ROUTING_TRACE: set it to a list and every sparse block appends (experts [T, k] int64,
weights [T, k]) in layer order — tests/parity/moe_compare.py compares them with dragon's.
"""
import torch

from families import common

ROUTING_TRACE = None


def experts_forward(x, weights, prefix, n_experts, selected, routing_weights):
    """sum_k routing_weights[t, k] * expert_{selected[t, k]}(x[t]), looping over the experts that
    some token chose (as the HF blocks do); experts live at prefix + "{e}.{gate,up,down}_proj"."""
    out = torch.zeros_like(x)
    for e in range(n_experts):
        token_idx, slot = torch.where(selected == e)
        if token_idx.numel() == 0:
            continue
        p = f"{prefix}{e}."
        y = common.swiglu_mlp(x[token_idx], weights(p + "gate_proj.weight"), weights(p + "up_proj.weight"),
                              weights(p + "down_proj.weight"))
        out.index_add_(0, token_idx, y * routing_weights[token_idx, slot, None])
    return out


def record(selected, routing_weights):
    if ROUTING_TRACE is not None:
        ROUTING_TRACE.append((selected.clone(), routing_weights.clone()))


def decoder_forward(config, weights, tokens, dtype, *, head_dim, eps, apply_rope, qk_norm, ffn, tie_default):
    """The Llama/Qwen3 pre-norm decoder (no attention biases) whose FFN of layer i is
    ffn(i, m, w) with m = post_attention_layernorm(h)."""
    n_heads = config["num_attention_heads"]
    n_kv_heads = config.get("num_key_value_heads") or n_heads

    def w(name):
        return weights.get(name, dtype)

    n_tokens = len(tokens)
    cos, sin = common.rope_cos_sin(common.rope_inv_freq(config, head_dim, dtype), torch.arange(n_tokens))
    embed = w("model.embed_tokens.weight")
    h = embed[torch.tensor(tokens, dtype=torch.long)]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = common.rms_norm(h, w(p + "input_layernorm.weight"), eps)

        def project(name, heads):
            return common.linear(a, w(p + f"self_attn.{name}.weight")).view(n_tokens, heads, head_dim).transpose(0, 1)

        q, k, v = project("q_proj", n_heads), project("k_proj", n_kv_heads), project("v_proj", n_kv_heads)
        if qk_norm:
            q = common.rms_norm(q, w(p + "self_attn.q_norm.weight"), eps)
            k = common.rms_norm(k, w(p + "self_attn.k_norm.weight"), eps)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        attn = common.causal_attention(q, k, v, scale=head_dim ** -0.5)
        h = h + common.linear(attn, w(p + "self_attn.o_proj.weight"))

        m = common.rms_norm(h, w(p + "post_attention_layernorm.weight"), eps)
        h = h + ffn(i, m, w)

    h = common.rms_norm(h, w("model.norm.weight"), eps)
    if config.get("tie_word_embeddings", tie_default):
        return common.linear(h, embed)
    return common.linear(h, w("lm_head.weight"))


def dense_mlp(m, w, prefix):
    return common.swiglu_mlp(m, w(prefix + "gate_proj.weight"), w(prefix + "up_proj.weight"),
                             w(prefix + "down_proj.weight"))


def check_silu(config, family):
    if config.get("hidden_act", "silu") != "silu":
        raise NotImplementedError(f"{family}: hidden_act {config['hidden_act']} is not implemented")
