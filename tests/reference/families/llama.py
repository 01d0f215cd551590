"""LlamaForCausalLM (Llama 2/3, DeepSeek LLM, Yi), written from
transformers/models/llama/modeling_llama.py:

  h = embed_tokens[tokens]
  per layer:  a = input_layernorm(h)
              q, k, v = q_proj(a), k_proj(a), v_proj(a)      heads of head_dim (hidden / heads)
              q, k = RoPE(q), RoPE(k)                        rotate_half on HF's rows (NEOX pairing)
              h = h + o_proj(causal_softmax(q k^T / sqrt(head_dim)) v)   (GQA via repeat_kv)
              h = h + down_proj(silu(gate_proj(m)) * up_proj(m)),  m = post_attention_layernorm(h)
  logits = lm_head(norm(h))       lm_head = embed_tokens when tie_word_embeddings
  attention_bias: bias on q/k/v/o_proj; mlp_bias: bias on gate/up/down_proj.

`decoder_forward` is this block with the bias placement and the rope pairing as parameters, so
that Qwen2 and ERNIE 4.5 (which HF writes as Llama with those differences) reuse it.
"""
import torch

from families import common


def check_common_config(config, family):
    if config.get("hidden_act", "silu") != "silu":
        raise NotImplementedError(f"{family}: hidden_act {config['hidden_act']} is not implemented")
    # pretraining_tp > 1 only makes HF slice the matmuls and sum the pieces: the same math.


def decoder_forward(config, weights, tokens, dtype, *, qkv_bias, o_bias, mlp_bias, apply_rope, eps_default):
    hidden = config["hidden_size"]
    n_heads = config["num_attention_heads"]
    n_kv_heads = config.get("num_key_value_heads") or n_heads
    head_dim = config.get("head_dim") or hidden // n_heads
    eps = config.get("rms_norm_eps", eps_default)

    def w(name):
        return weights.get(name, dtype)

    def maybe_bias(name, present):
        return w(name) if present else None

    n_tokens = len(tokens)
    cos, sin = common.rope_cos_sin(common.rope_inv_freq(config, head_dim, dtype), torch.arange(n_tokens))
    embed = w("model.embed_tokens.weight")
    h = embed[torch.tensor(tokens, dtype=torch.long)]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = common.rms_norm(h, w(p + "input_layernorm.weight"), eps)

        def project(name, heads):
            y = common.linear(a, w(p + f"self_attn.{name}.weight"), maybe_bias(p + f"self_attn.{name}.bias", qkv_bias))
            return y.view(n_tokens, heads, head_dim).transpose(0, 1)

        q = apply_rope(project("q_proj", n_heads), cos, sin)
        k = apply_rope(project("k_proj", n_kv_heads), cos, sin)
        v = project("v_proj", n_kv_heads)
        attn = common.causal_attention(q, k, v, scale=head_dim ** -0.5)
        h = h + common.linear(attn, w(p + "self_attn.o_proj.weight"), maybe_bias(p + "self_attn.o_proj.bias", o_bias))

        m = common.rms_norm(h, w(p + "post_attention_layernorm.weight"), eps)
        mlp = {n: (w(p + f"mlp.{n}.weight"), maybe_bias(p + f"mlp.{n}.bias", mlp_bias))
               for n in ("gate_proj", "up_proj", "down_proj")}
        gated = torch.nn.functional.silu(common.linear(m, *mlp["gate_proj"])) * common.linear(m, *mlp["up_proj"])
        h = h + common.linear(gated, *mlp["down_proj"])

    h = common.rms_norm(h, w("model.norm.weight"), eps)
    if config.get("tie_word_embeddings", False):
        return common.linear(h, embed)
    return common.linear(h, w("lm_head.weight"))


def forward(config, weights, tokens, dtype):
    check_common_config(config, "llama")
    bias = config.get("attention_bias", False)  # LlamaConfig defaults: no biases, untied, eps 1e-6
    return decoder_forward(config, weights, tokens, dtype, qkv_bias=bias, o_bias=bias,
                           mlp_bias=config.get("mlp_bias", False), apply_rope=common.apply_rope_neox,
                           eps_default=1e-6)
