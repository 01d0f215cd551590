"""HYV3ForCausalLM (Tencent Hy3), written from transformers/models/hy_v3/modeling_hy_v3.py
(HYV3Attention, HYV3TopKRouter, HYV3MoE, HYV3DecoderLayer):

  per layer:  a = input_layernorm(h)
              q, k, v = q_proj(a), k_proj(a), v_proj(a)      no biases; heads of head_dim
              q, k = q_norm(q), k_norm(k)                    per head, BEFORE the rope
              q, k = RoPE(q), RoPE(k)                        whole head, rotate_half (NeoX) pairs
              h = h + o_proj(causal_softmax(q k^T / sqrt(head_dim)) v)
              m = post_attention_layernorm(h)
              dense layers (mlp_layer_types "dense", else i < first_k_dense_replace):
                   h = h + mlp(m)                            SwiGLU, intermediate_size
              sparse layers (HYV3MoE):
                s = sigmoid(gate.weight m)                   HYV3TopKRouter (float32 in HF; here in dtype)
                c = s + e_score_correction_bias              steers the choice only (checkpoint: mlp.expert_bias)
                top-k of c -> experts; weights = s of those / (sum + 1e-20)   (see route_norm below)
                        * router_scaling_factor
                h = h + sum_k weight_k * expert_k(m) + shared_experts(m)     shared: moe_intermediate_size *
                                                                             num_shared_experts, no gate
  logits = lm_head(norm(h))
HF's router renormalises unconditionally; the checkpoint key route_norm (true in the release) is
what vLLM / SGLang / llama.cpp follow, so route_norm false is refused here rather than guessed.
The checkpoint stores each expert apart (mlp.experts.E.{gate,up,down}_proj) and the shared expert
as mlp.shared_mlp (HF renames them to gate_up_proj / shared_experts at load). The MTP layer
(model.layers.{num_hidden_layers}) is not part of the causal LM forward (HF ignores it on load).
"""
import torch

from families import common, moe_common


def _check_config(config):
    moe_common.check_silu(config, "hy_v3")
    if config.get("attention_bias", False):
        raise NotImplementedError("hy_v3: attention_bias is not implemented")
    if not config.get("route_norm", True):
        raise NotImplementedError("hy_v3: route_norm false (HF renormalises anyway) is not implemented")


def _is_dense(config, i):
    types = config.get("mlp_layer_types")
    if types is not None:
        return types[i] == "dense"
    return i < config.get("first_k_dense_replace", 1)


def route(m, router, bias, config):
    """HYV3TopKRouter -> (indices [T, k], weights [T, k])."""
    scores = torch.sigmoid(common.linear(m, router))
    indices = torch.topk(scores + bias, k=config["num_experts_per_tok"], dim=-1, sorted=False)[1]
    weights = scores.gather(1, indices)
    weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)
    return indices, weights * config.get("router_scaling_factor", 1.0)


def decoder_layer(config, w, i, h, cos, sin):
    n_heads = config["num_attention_heads"]
    n_kv_heads = config.get("num_key_value_heads") or n_heads
    head_dim = config.get("head_dim") or config["hidden_size"] // n_heads
    eps = config.get("rms_norm_eps", 1e-6)
    n_tokens = h.shape[0]
    p = f"model.layers.{i}."
    a = common.rms_norm(h, w(p + "input_layernorm.weight"), eps)

    def project(name, heads):
        return common.linear(a, w(p + f"self_attn.{name}.weight")).view(n_tokens, heads, head_dim)

    q, k, v = project("q_proj", n_heads), project("k_proj", n_kv_heads), project("v_proj", n_kv_heads)
    q = common.rms_norm(q, w(p + "self_attn.q_norm.weight"), eps)
    k = common.rms_norm(k, w(p + "self_attn.k_norm.weight"), eps)
    q = common.apply_rope_neox(q.transpose(0, 1), cos, sin)
    k = common.apply_rope_neox(k.transpose(0, 1), cos, sin)
    attn = common.causal_attention(q, k, v.transpose(0, 1), scale=head_dim ** -0.5)
    h = h + common.linear(attn, w(p + "self_attn.o_proj.weight"))

    m = common.rms_norm(h, w(p + "post_attention_layernorm.weight"), eps)
    mlp = p + "mlp."
    if _is_dense(config, i):
        return h + common.swiglu_mlp(m, w(mlp + "gate_proj.weight"), w(mlp + "up_proj.weight"),
                                     w(mlp + "down_proj.weight"))
    indices, topk_weights = route(m, w(mlp + "gate.weight"), w(mlp + "expert_bias"), config)
    moe_common.record(indices, topk_weights)
    out = moe_common.experts_forward(m, w, mlp + "experts.", config["num_experts"], indices, topk_weights)
    s = mlp + "shared_mlp."
    out = out + common.swiglu_mlp(m, w(s + "gate_proj.weight"), w(s + "up_proj.weight"), w(s + "down_proj.weight"))
    return h + out


def forward(config, weights, tokens, dtype):
    _check_config(config)
    eps = config.get("rms_norm_eps", 1e-6)
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]

    def w(name):
        return weights.get(name, dtype)

    cos, sin = common.rope_cos_sin(common.rope_inv_freq(config, head_dim, dtype), torch.arange(len(tokens)))
    h = w("model.embed_tokens.weight")[torch.tensor(tokens, dtype=torch.long)]
    for i in range(config["num_hidden_layers"]):
        h = decoder_layer(config, w, i, h, cos, sin)
    h = common.rms_norm(h, w("model.norm.weight"), eps)
    if config.get("tie_word_embeddings", False):
        return common.linear(h, w("model.embed_tokens.weight"))
    return common.linear(h, w("lm_head.weight"))
