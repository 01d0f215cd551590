"""DeepseekV32ForCausalLM (DeepSeek-V3.2-Exp / V3.2): DeepSeek-V3 (deepseek_v2.py) with DeepSeek
Sparse Attention, written from the release's inference/model.py (class Indexer, MLA.forward's
"MHA prefill" branch, after DeepSeek's 2025-11-17 fix that made the indexer's rope non-interleaved):

  per layer, with a = input_layernorm(h) and qr = q_a_layernorm(q_a_proj(a)) (the MLA's own):
    q_h  = indexer.wq_b(qr)_h            index_n_heads heads of index_head_dim, split [rope | nope]
    k    = LayerNorm(indexer.wk(a))      indexer.k_norm: weight + bias, eps 1e-6; one key per token
    q_h, k: RoPE on the first qk_rope_head_dim dims, NOT interleaved (halves, rotate_half), with
            the MLA's (YaRN) frequencies
    w_h  = indexer.weights_proj(a)_h * index_n_heads^-0.5 * index_head_dim^-0.5
    score[s, t] = sum_h w_h[s] * ReLU(q_h[s] . k[t]) + causal mask
    keep[s] = topk(score[s], min(index_topk, T))       (later tokens are -inf anyway)
    MLA attention as in V3, its scores + (0 on keep[s], -inf elsewhere) + causal mask
Left out, as in dragon and llama.cpp: the Hadamard rotation of q and k before the dot product
(orthonormal: q . k unchanged) and the FP8 quantization of q, k and the latent cache that the
demo code applies to imitate its FP8 kernels.
The MTP layer is not part of the forward pass (deepseek_v2.forward_mtp runs it densely, as
llama.cpp's graph_mtp does: it builds no indexer).
"""
import torch

from families import common
from families import deepseek_v2 as v2


def layer_norm(x, weight, bias, eps=1e-6):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def rope_halves(x, cos, sin):
    """Non-interleaved rope on x [..., tokens, d]: x * cos + rotate_half(x) * sin."""
    return x * cos + common.rotate_half(x) * sin


def index_mask(config, w, s, a, qr, cos, sin, index_rope=rope_halves):
    """The additive mask [T, T]: 0 where query s may attend token t (top-k and causal), -inf elsewhere.
    index_rope(x [..., T, rope], cos, sin): the indexer's rope (GLM-5's glm_moe_dsa.py passes adjacent pairs)."""
    n = a.shape[0]
    heads, dim, rope = config["index_n_heads"], config["index_head_dim"], config["qk_rope_head_dim"]
    q = common.linear(qr, w(s + "indexer.wq_b.weight")).view(n, heads, dim).transpose(0, 1)  # [H, T, D]
    k = layer_norm(common.linear(a, w(s + "indexer.wk.weight")), w(s + "indexer.k_norm.weight"),
                   w(s + "indexer.k_norm.bias"))  # [T, D]
    q = torch.cat((index_rope(q[..., :rope], cos, sin), q[..., rope:]), dim=-1)
    k = torch.cat((index_rope(k[..., :rope], cos, sin), k[..., rope:]), dim=-1)
    weights = common.linear(a, w(s + "indexer.weights_proj.weight")) * heads ** -0.5 * dim ** -0.5  # [T, H]
    logits = torch.relu(q @ k.t())  # [H, T, T]
    score = (logits * weights.t()[:, :, None]).sum(dim=0)  # [T, T]
    future = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    causal = torch.zeros(n, n, dtype=score.dtype).masked_fill(future, float("-inf"))
    score = score + causal
    keep = score.topk(min(config["index_topk"], n), dim=-1).indices
    mask = torch.full((n, n), float("-inf"), dtype=score.dtype).scatter_(-1, keep, 0.0)
    return mask + causal


def mla_attention(config, w, p, a, cos, sin, dtype, index_rope=rope_halves):
    n = a.shape[0]
    n_heads = config["num_attention_heads"]
    nope, rope, v_dim = config["qk_nope_head_dim"], config["qk_rope_head_dim"], config["v_head_dim"]
    kv_lora = config["kv_lora_rank"]
    eps = config.get("rms_norm_eps", 1e-6)
    s = p + "self_attn."
    qr = common.rms_norm(common.linear(a, w(s + "q_a_proj.weight")), w(s + "q_a_layernorm.weight"), eps)
    q = common.linear(qr, w(s + "q_b_proj.weight")).view(n, n_heads, nope + rope).transpose(0, 1)
    q_nope, q_pe = q[..., :nope], q[..., nope:]
    compressed = common.linear(a, w(s + "kv_a_proj_with_mqa.weight"))
    latent, k_pe = compressed[:, :kv_lora], compressed[:, kv_lora:]
    kv = common.linear(common.rms_norm(latent, w(s + "kv_a_layernorm.weight"), eps), w(s + "kv_b_proj.weight"))
    kv = kv.view(n, n_heads, nope + v_dim).transpose(0, 1)
    k_nope, v = kv[..., :nope], kv[..., nope:]
    q_pe = v2.apply_rope(q_pe, cos, sin)  # the MLA's rope: adjacent pairs
    k_pe = v2.apply_rope(k_pe.view(1, n, rope), cos, sin).expand(n_heads, n, rope)
    query = torch.cat((q_nope, q_pe), dim=-1)
    key = torch.cat((k_nope, k_pe), dim=-1)
    mask = index_mask(config, w, s, a, qr, cos, sin, index_rope)[None]
    attn = common.causal_attention(query, key, v, scale=v2.softmax_scale(config), score_bias=mask)
    return common.linear(attn, w(s + "o_proj.weight"))


def decoder_layer(config, w, i, h, cos, sin, dtype, index_rope=rope_halves):
    eps = config.get("rms_norm_eps", 1e-6)
    p = f"model.layers.{i}."
    a = common.rms_norm(h, w(p + "input_layernorm.weight"), eps)
    h = h + mla_attention(config, w, p, a, cos, sin, dtype, index_rope)
    m = common.rms_norm(h, w(p + "post_attention_layernorm.weight"), eps)
    if i >= config.get("first_k_dense_replace", 0):
        return h + v2.moe(config, w, p, m)
    return h + common.swiglu_mlp(m, w(p + "mlp.gate_proj.weight"), w(p + "mlp.up_proj.weight"),
                                 w(p + "mlp.down_proj.weight"))


def forward(config, weights, tokens, dtype, index_rope=rope_halves):
    if config.get("q_lora_rank") is None:
        raise NotImplementedError("deepseek_v32: the indexer needs q_lora_rank")
    if config.get("moe_layer_freq", 1) != 1:
        raise NotImplementedError("deepseek_v32: moe_layer_freq != 1")
    eps = config.get("rms_norm_eps", 1e-6)

    def w(name):
        return weights.get(name, dtype)

    positions = torch.arange(len(tokens))
    cos, sin = v2.rope_cos_sin(config, config["qk_rope_head_dim"], positions, dtype)
    h = w("model.embed_tokens.weight")[torch.tensor(tokens, dtype=torch.long)]
    for i in range(config["num_hidden_layers"]):
        h = decoder_layer(config, w, i, h, cos, sin, dtype, index_rope)
    h = common.rms_norm(h, w("model.norm.weight"), eps)
    if config.get("tie_word_embeddings", False):
        return common.linear(h, w("model.embed_tokens.weight"))
    return common.linear(h, w("lm_head.weight"))
