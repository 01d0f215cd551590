"""HYV4ForCausalLM (Tencent Hy4-preview), dense-attention checkpoints. The official modeling code
(transformers' modeling_hy_v4.py) was not in reach when this was written: it follows the
transformers documentation of Hy4 (MLA, gated MLA with learnable per-head sinks as in GPT-OSS,
iHC with hc_mult streams collapsed before and redistributed after every sublayer) and the math
of llama.cpp's src/models/hy-v4.cpp, written independently in plain PyTorch (decompressed MLA,
HF style, where dragon and llama.cpp use the absorbed form). The rest is DeepSeek-V3
(deepseek_v2.py: rope, routing).

  S = [e] * hc                                      e = embed_tokens[tokens], S [T, hc, hidden]
  hc_pre(S; fn, base, scale):  mix = rms_norm(S.flatten) fn^T         (no weight, rms_norm_eps)
       pre  = sigmoid(mix[:, :hc] * scale[0] + base[:hc]) + hc_eps
       post = hc_magnitude * sigmoid(mix[:, hc:] * scale[1] + base[hc:]) + hc_eps
       x = sum_i pre_i S_i
  per layer:  x, post = hc_pre(S; hc_attn_layer.hc_pre.*)
              a = input_layernorm(x)
              attn = softmax over [scores_h, sink_h] (the sink column dropped after) . v
                     scores as DeepSeek-V3's MLA, scale (qk_nope + qk_rope)^-0.5
              S_i += post_i * o_proj(attn * sigmoid(linear_gate(a)))
              x, post = hc_pre(S; hc_mlp_layer.hc_pre.*)
              m = post_attention_layernorm(x)
              S_i += post_i * (dense SwiGLU(m) | routed experts(m) + shared_experts(m))
                     routed experts: down(silu(min(gate, L)) * clamp(up, -L, L)), L = swiglu_limit
  logits = lm_head(norm(hc_head(S)))                hc_head: pre only, model.hc_head.hc_head_*
"""
import torch

from families import common, moe_common
from families import deepseek_v2 as v2


def hc_pre(config, S, fn, base, scale):
    hc = config["hc_mult"]
    eps = config.get("hc_eps", 1e-6)
    n = S.shape[0]
    flat = S.reshape(n, -1)
    flat = flat * torch.rsqrt(flat.pow(2).mean(-1, keepdim=True) + config.get("rms_norm_eps", 1e-6))
    mix = common.linear(flat, fn)
    pre = torch.sigmoid(mix[:, :hc] * scale[0] + base[:hc]) + eps
    x = (pre[:, :, None] * S).sum(dim=1)
    post = None
    if mix.shape[1] == 2 * hc:
        post = config.get("hc_magnitude", 1.0) * torch.sigmoid(mix[:, hc:] * scale[1] + base[hc:]) + eps
    return x, post


def attention(config, w, p, a, cos, sin):
    n = a.shape[0]
    H = config["num_attention_heads"]
    nope, rope, v_dim = config["qk_nope_head_dim"], config["qk_rope_head_dim"], config["v_head_dim"]
    kv_lora = config["kv_lora_rank"]
    eps = config.get("rms_norm_eps", 1e-6)
    s = p + "self_attn."
    q = common.linear(common.rms_norm(common.linear(a, w(s + "q_a_proj.weight")), w(s + "q_a_layernorm.weight"), eps),
                      w(s + "q_b_proj.weight"))
    q = q.view(n, H, nope + rope).transpose(0, 1)
    compressed = common.linear(a, w(s + "kv_a_proj_with_mqa.weight"))
    latent, k_pe = compressed[:, :kv_lora], compressed[:, kv_lora:]
    kv = common.linear(common.rms_norm(latent, w(s + "kv_a_layernorm.weight"), eps), w(s + "kv_b_proj.weight"))
    kv = kv.view(n, H, nope + v_dim).transpose(0, 1)
    k_nope, v = kv[..., :nope], kv[..., nope:]
    q_pe = v2.apply_rope(q[..., nope:], cos, sin)
    k_pe = v2.apply_rope(k_pe.view(1, n, rope), cos, sin).expand(H, n, rope)
    query = torch.cat((q[..., :nope], q_pe), dim=-1)
    key = torch.cat((k_nope, k_pe), dim=-1)
    scores = (query @ key.transpose(1, 2)) * (nope + rope) ** -0.5  # [H, T, T]
    future = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    scores = scores.masked_fill(future, float("-inf"))
    sink = w(s + "learnable_sink_param").view(H, 1, 1).expand(H, n, 1)
    probs = torch.softmax(torch.cat((scores, sink), dim=-1), dim=-1)[..., :n]
    out = (probs @ v).transpose(0, 1).reshape(n, H * v_dim)
    out = out * torch.sigmoid(common.linear(a, w(s + "linear_gate.weight")))
    return common.linear(out, w(s + "o_proj.weight"))


def moe(config, w, p, m):
    topk_idx, topk_weight = v2.route(config, w, p, m)
    moe_common.record(topk_idx, topk_weight)
    limit = config.get("swiglu_limit") or 0.0
    out = torch.zeros_like(m)
    for e in torch.unique(topk_idx).tolist():
        rows, slot = (topk_idx == e).nonzero(as_tuple=True)
        ep = p + f"mlp.experts.{e}."
        gate = common.linear(m[rows], w(ep + "gate_proj.weight"))
        up = common.linear(m[rows], w(ep + "up_proj.weight"))
        if limit > 0:
            gate, up = gate.clamp(max=limit), up.clamp(-limit, limit)
        y = common.linear(torch.nn.functional.silu(gate) * up, w(ep + "down_proj.weight"))
        out.index_add_(0, rows, y * topk_weight[rows, slot][:, None])
    sp = p + "mlp.shared_experts."
    return out + common.swiglu_mlp(m, w(sp + "gate_proj.weight"), w(sp + "up_proj.weight"), w(sp + "down_proj.weight"))


def forward(config, weights, tokens, dtype):
    if config.get("index_topk"):
        raise NotImplementedError("hy_v4: DSA (index_topk) is not implemented in the reference")
    eps = config.get("rms_norm_eps", 1e-6)
    hc = config["hc_mult"]

    def w(name):
        return weights.get(name, dtype)

    positions = torch.arange(len(tokens))
    cos, sin = v2.rope_cos_sin(config, config["qk_rope_head_dim"], positions, dtype)
    e = w("model.embed_tokens.weight")[torch.tensor(tokens, dtype=torch.long)]
    S = e[:, None, :].repeat(1, hc, 1)
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x, post = hc_pre(config, S, w(p + "hc_attn_layer.hc_pre.hc_fn"), w(p + "hc_attn_layer.hc_pre.hc_base"),
                         w(p + "hc_attn_layer.hc_pre.hc_scale"))
        a = common.rms_norm(x, w(p + "input_layernorm.weight"), eps)
        S = S + post[:, :, None] * attention(config, w, p, a, cos, sin)[:, None, :]
        x, post = hc_pre(config, S, w(p + "hc_mlp_layer.hc_pre.hc_fn"), w(p + "hc_mlp_layer.hc_pre.hc_base"),
                         w(p + "hc_mlp_layer.hc_pre.hc_scale"))
        m = common.rms_norm(x, w(p + "post_attention_layernorm.weight"), eps)
        if i >= config.get("first_k_dense_replace", 0):
            y = moe(config, w, p, m)
        else:
            y = common.swiglu_mlp(m, w(p + "mlp.gate_proj.weight"), w(p + "mlp.up_proj.weight"),
                                  w(p + "mlp.down_proj.weight"))
        S = S + post[:, :, None] * y[:, None, :]
    h, _ = hc_pre(config, S, w("model.hc_head.hc_head_fn"), w("model.hc_head.hc_head_base"),
                  w("model.hc_head.hc_head_scale"))
    return common.linear(common.rms_norm(h, w("model.norm.weight"), eps), w("lm_head.weight"))
