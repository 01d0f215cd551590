"""Qwen3ForCausalLM, written from transformers/models/qwen3/modeling_qwen3.py:

  h = embed_tokens[tokens]
  per layer:  a = input_layernorm(h)
              q, k, v = q_proj(a), k_proj(a), v_proj(a)      split into heads of head_dim
              q, k = q_norm(q), k_norm(k)                    RMSNorm over each head (Qwen3's addition)
              q, k = RoPE(q), RoPE(k)                        rotate_half / NEOX pairing
              h = h + o_proj(causal_softmax(q k^T / sqrt(head_dim)) v)   (GQA via repeat_kv)
              h = h + down_proj(silu(gate_proj(m)) * up_proj(m)),  m = post_attention_layernorm(h)
  logits = lm_head(norm(h))       lm_head = embed_tokens when tie_word_embeddings
"""
import torch

from families import common


def forward(config, weights, tokens, dtype):
    if config.get("use_sliding_window", False):
        raise NotImplementedError("qwen3: use_sliding_window=true is not implemented in the reference")
    if config.get("hidden_act", "silu") != "silu":
        raise NotImplementedError(f"qwen3: hidden_act {config['hidden_act']} is not implemented")

    hidden = config["hidden_size"]
    n_heads = config["num_attention_heads"]
    n_kv_heads = config.get("num_key_value_heads", n_heads)
    head_dim = config.get("head_dim") or hidden // n_heads
    eps = config.get("rms_norm_eps", 1e-6)
    has_bias = config.get("attention_bias", False)

    def w(name):
        return weights.get(name, dtype)

    positions = torch.arange(len(tokens))
    cos, sin = common.rope_cos_sin(common.rope_inv_freq(config, head_dim, dtype), positions)

    embed = w("model.embed_tokens.weight")
    h = embed[torch.tensor(tokens, dtype=torch.long)]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = common.rms_norm(h, w(p + "input_layernorm.weight"), eps)

        def project(name, heads):
            bias = w(p + f"self_attn.{name}.bias") if has_bias else None
            return common.linear(a, w(p + f"self_attn.{name}.weight"), bias).view(len(tokens), heads, head_dim).transpose(0, 1)

        q = common.rms_norm(project("q_proj", n_heads), w(p + "self_attn.q_norm.weight"), eps)
        k = common.rms_norm(project("k_proj", n_kv_heads), w(p + "self_attn.k_norm.weight"), eps)
        v = project("v_proj", n_kv_heads)
        q = common.apply_rope_neox(q, cos, sin)
        k = common.apply_rope_neox(k, cos, sin)
        attn = common.causal_attention(q, k, v, scale=head_dim ** -0.5)
        o_bias = w(p + "self_attn.o_proj.bias") if has_bias else None
        h = h + common.linear(attn, w(p + "self_attn.o_proj.weight"), o_bias)

        m = common.rms_norm(h, w(p + "post_attention_layernorm.weight"), eps)
        h = h + common.swiglu_mlp(m, w(p + "mlp.gate_proj.weight"), w(p + "mlp.up_proj.weight"),
                                  w(p + "mlp.down_proj.weight"))

    h = common.rms_norm(h, w("model.norm.weight"), eps)
    if config.get("tie_word_embeddings", False):  # Qwen3Config's default is untied
        return common.linear(h, embed)
    return common.linear(h, w("lm_head.weight"))
