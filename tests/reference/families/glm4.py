"""Glm4ForCausalLM (GLM-4-0414), written from transformers/models/glm4/modeling_glm4.py:

  per layer:  a = input_layernorm(h)
              q, k, v = q_proj(a), k_proj(a), v_proj(a)      bias when attention_bias (default true);
                                                             heads of head_dim (default 128)
              q, k = RoPE(q), RoPE(k)    partial: the first head_dim * partial_rotary_factor (default
                                         0.5) dims, adjacent pairs (2i, 2i+1); the rest pass through
              a = post_self_attn_layernorm(o_proj(causal_softmax(q k^T / sqrt(head_dim)) v))
              h = h + a                                      (o_proj has no bias)
              m = post_attention_layernorm(h)
              gate, up = gate_up_proj(m).chunk(2)            fused, gate first
              h = h + post_mlp_layernorm(down_proj(up * silu(gate)))
  logits = lm_head(norm(h))       untied unless tie_word_embeddings
"""
import torch

from families import common


def forward(config, weights, tokens, dtype):
    if config.get("hidden_act", "silu") != "silu":
        raise NotImplementedError(f"glm4: hidden_act {config['hidden_act']} is not implemented")
    n_heads = config["num_attention_heads"]
    n_kv_heads = config.get("num_key_value_heads") or n_heads
    head_dim = config.get("head_dim", 128)
    rotary_dim = int(head_dim * config.get("partial_rotary_factor", 0.5))
    eps = config.get("rms_norm_eps", 1.5625e-07)
    qkv_bias = config.get("attention_bias", True)

    def w(name):
        return weights.get(name, dtype)

    n_tokens = len(tokens)
    cos, sin = common.rope_cos_sin(common.rope_inv_freq(config, rotary_dim, dtype), torch.arange(n_tokens))
    embed = w("model.embed_tokens.weight")
    h = embed[torch.tensor(tokens, dtype=torch.long)]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = common.rms_norm(h, w(p + "input_layernorm.weight"), eps)

        def project(name, heads):
            bias = w(p + f"self_attn.{name}.bias") if qkv_bias else None
            return common.linear(a, w(p + f"self_attn.{name}.weight"), bias).view(n_tokens, heads, head_dim).transpose(0, 1)

        q = common.apply_rope_adjacent(project("q_proj", n_heads), cos, sin)
        k = common.apply_rope_adjacent(project("k_proj", n_kv_heads), cos, sin)
        v = project("v_proj", n_kv_heads)
        attn = common.linear(common.causal_attention(q, k, v, scale=head_dim ** -0.5), w(p + "self_attn.o_proj.weight"))
        h = h + common.rms_norm(attn, w(p + "post_self_attn_layernorm.weight"), eps)

        m = common.rms_norm(h, w(p + "post_attention_layernorm.weight"), eps)
        gate, up = common.linear(m, w(p + "mlp.gate_up_proj.weight")).chunk(2, dim=-1)
        mlp = common.linear(up * torch.nn.functional.silu(gate), w(p + "mlp.down_proj.weight"))
        h = h + common.rms_norm(mlp, w(p + "post_mlp_layernorm.weight"), eps)

    h = common.rms_norm(h, w("model.norm.weight"), eps)
    if config.get("tie_word_embeddings", False):
        return common.linear(h, embed)
    return common.linear(h, w("lm_head.weight"))
