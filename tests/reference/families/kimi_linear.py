"""KimiLinearForCausalLM (Kimi-Linear-48B-A3B), written from moonshotai's modeling_kimi.py
(KimiDecoderLayer, KimiDeltaAttention, KimiMLAAttention, KimiMoEGate, KimiSparseMoeBlock) and the
fla-org KDA kernels' naive reference (fla/ops/kda/naive.py, naive_recurrent_kda), which
chunk_kda / fused_recurrent_kda compute:

  h = embed_tokens[tokens]
  per layer:  a = input_layernorm(h)
    KDA layers (i + 1 not in linear_attn_config.full_attn_layers), H heads of width d:
      q, k, v = silu(causal depthwise conv1d(q_proj(a))), ... (q_conv1d / k_conv1d / v_conv1d)
      q, k    = l2norm per head (eps 1e-6, use_qk_l2norm_in_kernel);  q *= d^-0.5
      g       = -exp(A_log) * softplus(f_b_proj(f_a_proj(a)) + dt_bias)     [T, H, d]: per channel
      beta    = sigmoid(b_proj(a))                                           [T, H]
      per head: S = S * exp(g_t)[:, None];  S += (beta_t k_t) (v_t - k_t^T S)^T;  o_t = q_t^T S
      o       = o_proj(RMSNorm(o) * o_norm.weight * sigmoid(g_b_proj(g_a_proj(a))))   per head
    MLA layers (mla_use_nope, q_lora_rank null): q = q_proj(a) per head [q_nope | q_rot];
      [latent | k_rot] = kv_a_proj_with_mqa(a); [k_nope | v] = kv_b_proj(kv_a_layernorm(latent));
      keys [k_nope | k_rot] (k_rot one head shared by all), queries [q_nope | q_rot], NO rotary
      embedding anywhere; softmax scale (qk_nope + qk_rope)^-0.5
    h = h + mixer;  m = post_attention_layernorm(h)
    h = h + (mlp(m) for i < first_k_dense_replace, else the MoE)
  MoE: scores = sigmoid(gate(m)); the top-k of scores + e_score_correction_bias; weights = the
       chosen scores / their sum (moe_renormalize) * routed_scaling_factor; experts SwiGLU
       w2(silu(w1 m) * w3 m); plus shared_experts(m).
  logits = lm_head(norm(h))

The routing weights: modeling_kimi.py's KimiMoEGate writes `scores_for_choice = scores.view(...)`
and then `scores_for_choice += e_score_correction_bias` — IN PLACE on a view of `scores`, so its
`scores.gather(...)` weights include the bias. llama.cpp's kimi-linear graph (build_moe_ffn with
exp_probs_b), vLLM's Kimi Linear (FusedMoE grouped_topk) and DeepSeek-V3's gate, whose routing
this gate copies, use the bias for the choice only. That is what this reference does, as
dragon does; KIMI_HF_INPLACE_BIAS=1 in the environment reproduces the remote code's eager path
instead (weights from score + bias).

The KDA recurrence is evaluated token by token here (FLA's naive form, in float64); dragon's
prompt pass uses its chunked form (chunks of 32) and its decode the recurrent step.
"""
import os

import torch
import torch.nn.functional as F

from families import common, moe_common

HF_INPLACE_BIAS = os.environ.get("KIMI_HF_INPLACE_BIAS") == "1"


def l2norm(x, eps=1e-6):
    return x * torch.rsqrt((x * x).sum(-1, keepdim=True) + eps)


def short_conv(x, weight):
    """ShortConvolution (silu): x [T, C], weight [C, 1, K] -> causal depthwise conv, silu."""
    n = x.shape[0]
    kernel = weight.shape[-1]
    return F.silu(F.conv1d(x.T[None], weight, padding=kernel - 1, groups=x.shape[1])[0, :, :n]).T


def recurrent_kda(q, k, v, g, beta):
    """q, k, g: [T, H, d] (q scaled), v: [T, H, dv], beta: [T, H] -> o [T, H, dv]."""
    n, n_heads, dk = k.shape
    state = torch.zeros(n_heads, dk, v.shape[-1], dtype=v.dtype)
    out = torch.zeros_like(v)
    for t in range(n):
        state = state * g[t].exp()[..., None]
        delta = v[t] - (k[t][..., None] * state).sum(-2)                     # [H, dv]
        state = state + (beta[t][:, None] * k[t])[..., None] * delta[:, None, :]
        out[t] = (q[t][..., None] * state).sum(-2)
    return out


def kda(config, w, p, a, eps):
    n = a.shape[0]
    la = config["linear_attn_config"]
    n_heads, d = la["num_heads"], la["head_dim"]
    q = short_conv(common.linear(a, w(p + "q_proj.weight")), w(p + "q_conv1d.weight")).view(n, n_heads, d)
    k = short_conv(common.linear(a, w(p + "k_proj.weight")), w(p + "k_conv1d.weight")).view(n, n_heads, d)
    v = short_conv(common.linear(a, w(p + "v_proj.weight")), w(p + "v_conv1d.weight")).view(n, n_heads, d)
    q, k = l2norm(q) * d ** -0.5, l2norm(k)
    f = common.linear(common.linear(a, w(p + "f_a_proj.weight")), w(p + "f_b_proj.weight"))
    g = (-w(p + "A_log").view(-1).exp()[:, None] * F.softplus((f + w(p + "dt_bias")).view(n, n_heads, d)))
    beta = torch.sigmoid(common.linear(a, w(p + "b_proj.weight")))
    o = recurrent_kda(q, k, v, g, beta)
    gate = common.linear(common.linear(a, w(p + "g_a_proj.weight")), w(p + "g_b_proj.weight")).view(n, n_heads, d)
    o = common.rms_norm(o, w(p + "o_norm.weight"), eps) * torch.sigmoid(gate)
    return common.linear(o.reshape(n, n_heads * d), w(p + "o_proj.weight"))


def mla_nope(config, w, p, a, eps):
    n = a.shape[0]
    n_heads = config["num_attention_heads"]
    nope, rope, v_dim = config["qk_nope_head_dim"], config["qk_rope_head_dim"], config["v_head_dim"]
    kv_lora = config["kv_lora_rank"]
    q = common.linear(a, w(p + "q_proj.weight")).view(n, n_heads, nope + rope).transpose(0, 1)
    compressed = common.linear(a, w(p + "kv_a_proj_with_mqa.weight"))
    latent, k_rot = compressed[:, :kv_lora], compressed[:, kv_lora:]
    kv = common.linear(common.rms_norm(latent, w(p + "kv_a_layernorm.weight"), eps), w(p + "kv_b_proj.weight"))
    kv = kv.view(n, n_heads, nope + v_dim).transpose(0, 1)
    k_nope, v = kv[..., :nope], kv[..., nope:]
    key = torch.cat((k_nope, k_rot.view(1, n, rope).expand(n_heads, n, rope)), dim=-1)
    attn = common.causal_attention(q, key, v, scale=(nope + rope) ** -0.5)
    return common.linear(attn, w(p + "o_proj.weight"))


def moe(config, w, p, m):
    n_experts, top_k = config["num_experts"], config["num_experts_per_token"]
    if config.get("num_expert_group", 1) != 1:
        raise NotImplementedError("kimi_linear: num_expert_group > 1 is not implemented")
    logits = common.linear(m, w(p + "gate.weight"))
    act = config.get("moe_router_activation_func", "sigmoid")
    scores = logits.sigmoid() if act == "sigmoid" else logits.softmax(dim=-1)
    choice = scores + w(p + "gate.e_score_correction_bias")[None, :]
    selected = torch.topk(choice, k=top_k, dim=-1)[1]
    weights = (choice if HF_INPLACE_BIAS else scores).gather(1, selected)
    if top_k > 1 and config.get("moe_renormalize", True):
        weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)
    weights = weights * config.get("routed_scaling_factor", 1.0)
    moe_common.record(selected, weights)
    out = torch.zeros_like(m)
    for e in torch.unique(selected).tolist():
        rows, slot = (selected == e).nonzero(as_tuple=True)
        ep = p + f"experts.{e}."
        y = common.swiglu_mlp(m[rows], w(ep + "w1.weight"), w(ep + "w3.weight"), w(ep + "w2.weight"))
        out.index_add_(0, rows, y * weights[rows, slot][:, None])
    if config.get("num_shared_experts"):
        out = out + moe_common.dense_mlp(m, w, p + "shared_experts.")
    return out


def forward(config, weights, tokens, dtype):
    moe_common.check_silu(config, "kimi_linear")
    if not config.get("mla_use_nope", False) or config.get("q_lora_rank") is not None:
        raise NotImplementedError("kimi_linear: only mla_use_nope without q_lora_rank (as modeling_kimi.py asserts)")

    def w(name):
        return weights.get(name, dtype)

    eps = config.get("rms_norm_eps", 1e-6)
    full = set(config["linear_attn_config"]["full_attn_layers"])
    first_dense = config.get("first_k_dense_replace", 0)
    h = w("model.embed_tokens.weight")[torch.tensor(tokens, dtype=torch.long)]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = common.rms_norm(h, w(p + "input_layernorm.weight"), eps)
        if i + 1 in full:
            h = h + mla_nope(config, w, p + "self_attn.", a, eps)
        else:
            h = h + kda(config, w, p + "self_attn.", a, eps)
        m = common.rms_norm(h, w(p + "post_attention_layernorm.weight"), eps)
        if config.get("num_experts") and i >= first_dense:
            h = h + moe(config, w, p + "block_sparse_moe.", m)
        else:
            h = h + moe_common.dense_mlp(m, w, p + "mlp.")
    h = common.rms_norm(h, w("model.norm.weight"), eps)
    if config.get("tie_word_embeddings", False):
        return common.linear(h, w("model.embed_tokens.weight"))
    return common.linear(h, w("lm_head.weight"))
