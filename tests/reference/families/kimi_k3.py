"""KimiK3ForConditionalGeneration (moonshotai/Kimi-K3), text model only. Written from the K3
modeling code as NVIDIA NeMo AutoModel reproduces it for the released checkpoint
(nemo_automodel/components/models/kimi_k3/model.py: KimiDecoderLayer._forward_attn_residual,
_apply_attn_res, KimiDeltaAttention with _torch_kda_gate, KimiMLAAttention, KimiK3Gate, KimiK3MoE,
SituAndMul; config.py KimiK3TextConfig); the parts shared with Kimi Linear (short convs, the
naive recurrent KDA) come from families/kimi_linear.py.

  h = embed_tokens[tokens];  bank = []
  per layer i:
    a_in = mix(h, bank, self_attention_res_*)   if bank else h
    if i % attn_res_block_size == 0:  bank += [h];  r = 0  else  r = h
    r = r + mixer(input_layernorm(a_in))
    r = r + ffn(post_attention_layernorm(mix(r, bank, mlp_res_*)))
    h = r
  logits = lm_head(norm(mix(h, bank, output_attn_res_*)))

  mix(x, bank, norm/proj): values [bank..., x]; score_j = sum(RMSNorm_eps(values_j) * norm.weight
    * proj.weight); the softmax over j weights the RAW values.
  KDA: Kimi Linear's with a full-rank gate (g_proj) and, with linear_attn_config.gate_lower_bound
    lb, the decay g = lb * sigmoid(exp(A_log) * (f_b(f_a(a)) + dt_bias)) (A_log a plain [H]).
  MLA (mla_use_nope): q = q_b_proj(q_a_layernorm(q_a_proj(a))) when q_lora_rank; attention as
    Kimi Linear's; with mla_use_output_gate the output is * sigmoid(g_proj(a)) before o_proj.
  FFN: SiTU everywhere: down(beta tanh(g/beta) sigmoid(g) * lb tanh(u/lb)). MoE layers: the router
    scores the full-width m (sigmoid; bias for the choice; renormalised (+1e-20); * scale); the
    experts run on routed_expert_down_proj(m) and their weighted sum goes through
    routed_expert_norm and routed_expert_up_proj; plus shared_experts(m).

The q_a_layernorm / kv_a_layernorm of KimiMLAAttention are KimiRMSNorm with its default eps 1e-6
(not rms_norm_eps): followed here; llama.cpp (and dragon) use rms_norm_eps for every norm.
"""
import torch

from families import common, moe_common
from families.kimi_linear import l2norm, recurrent_kda, short_conv

TEXT = "language_model."
MLA_NORM_EPS = 1e-6  # KimiRMSNorm's default, as KimiMLAAttention builds its q_a / kv_a norms


def text_config(config):
    text = dict(config.get("text_config") or config)
    for key in ("vocab_size", "tie_word_embeddings"):
        if key not in text and key in config:
            text[key] = config[key]
    return text


def situ(gate, up, config):
    beta = config.get("activation_situ_beta") or 1.0
    linear_beta = config.get("activation_situ_linear_beta")
    act = beta * torch.tanh(gate / beta) * torch.sigmoid(gate)
    if linear_beta is not None:
        up = linear_beta * torch.tanh(up / linear_beta)
    return act * up


def situ_mlp(config, x, gate_w, up_w, down_w):
    return common.linear(situ(common.linear(x, gate_w), common.linear(x, up_w), config), down_w)


def attn_res(x, bank, norm_w, proj_w, eps):
    values = torch.stack(bank + [x], dim=1)                                  # [T, k+1, hidden]
    keys = values * torch.rsqrt(values.pow(2).mean(-1, keepdim=True) + eps)
    probs = (keys * (norm_w * proj_w.reshape(-1))).sum(-1).softmax(-1)        # [T, k+1]
    return (probs[..., None] * values).sum(1)


def kda(config, w, p, a, eps):
    n = a.shape[0]
    la = config["linear_attn_config"]
    n_heads, d = la["num_heads"], la["head_dim"]
    if not la.get("use_full_rank_gate", False):
        raise NotImplementedError("kimi_k3: only the full-rank KDA gate is implemented")
    q = short_conv(common.linear(a, w(p + "q_proj.weight")), w(p + "q_conv1d.weight")).view(n, n_heads, d)
    k = short_conv(common.linear(a, w(p + "k_proj.weight")), w(p + "k_conv1d.weight")).view(n, n_heads, d)
    v = short_conv(common.linear(a, w(p + "v_proj.weight")), w(p + "v_conv1d.weight")).view(n, n_heads, d)
    q, k = l2norm(q) * d ** -0.5, l2norm(k)
    f = common.linear(common.linear(a, w(p + "f_a_proj.weight")), w(p + "f_b_proj.weight"))
    f = (f + w(p + "dt_bias")).view(n, n_heads, d)
    decay = w(p + "A_log").view(n_heads, 1).exp()
    lower_bound = la.get("gate_lower_bound")
    g = lower_bound * torch.sigmoid(decay * f) if lower_bound is not None else -decay * torch.nn.functional.softplus(f)
    beta = torch.sigmoid(common.linear(a, w(p + "b_proj.weight")))
    o = recurrent_kda(q, k, v, g, beta)
    gate = common.linear(a, w(p + "g_proj.weight")).view(n, n_heads, d)
    o = common.rms_norm(o, w(p + "o_norm.weight"), eps) * torch.sigmoid(gate)
    return common.linear(o.reshape(n, n_heads * d), w(p + "o_proj.weight"))


def mla(config, w, p, a):
    n = a.shape[0]
    n_heads = config["num_attention_heads"]
    nope, rope, v_dim = config["qk_nope_head_dim"], config["qk_rope_head_dim"], config["v_head_dim"]
    kv_lora = config["kv_lora_rank"]
    if config.get("q_lora_rank") is not None:
        q = common.linear(common.rms_norm(common.linear(a, w(p + "q_a_proj.weight")), w(p + "q_a_layernorm.weight"),
                                          MLA_NORM_EPS), w(p + "q_b_proj.weight"))
    else:
        q = common.linear(a, w(p + "q_proj.weight"))
    q = q.view(n, n_heads, nope + rope).transpose(0, 1)
    compressed = common.linear(a, w(p + "kv_a_proj_with_mqa.weight"))
    latent, k_rot = compressed[:, :kv_lora], compressed[:, kv_lora:]
    kv = common.linear(common.rms_norm(latent, w(p + "kv_a_layernorm.weight"), MLA_NORM_EPS), w(p + "kv_b_proj.weight"))
    kv = kv.view(n, n_heads, nope + v_dim).transpose(0, 1)
    k_nope, v = kv[..., :nope], kv[..., nope:]
    key = torch.cat((k_nope, k_rot.view(1, n, rope).expand(n_heads, n, rope)), dim=-1)
    attn = common.causal_attention(q, key, v, scale=(nope + rope) ** -0.5)
    if config.get("mla_use_output_gate", False):
        attn = attn * torch.sigmoid(common.linear(a, w(p + "g_proj.weight")))
    return common.linear(attn, w(p + "o_proj.weight"))


def moe(config, w, p, m, eps):
    top_k = config["num_experts_per_token"]
    if config.get("num_expert_group", 1) != 1:
        raise NotImplementedError("kimi_k3: num_expert_group > 1 is not implemented")
    logits = common.linear(m, w(p + "gate.weight"))
    act = config.get("moe_router_activation_func", "sigmoid")
    scores = logits.sigmoid() if act == "sigmoid" else logits.softmax(dim=-1)
    choice = scores + w(p + "gate.e_score_correction_bias")[None, :]
    selected = torch.topk(choice, k=top_k, dim=-1)[1]
    weights = scores.gather(1, selected)
    if top_k > 1 and config.get("moe_renormalize", True):
        weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)
    weights = weights * config.get("routed_scaling_factor", 1.0)
    moe_common.record(selected, weights)
    latent = config.get("routed_expert_hidden_size") is not None
    x = common.linear(m, w(p + "routed_expert_down_proj.weight")) if latent else m
    out = torch.zeros_like(x)
    for e in torch.unique(selected).tolist():
        rows, slot = (selected == e).nonzero(as_tuple=True)
        ep = p + f"experts.{e}."
        y = situ_mlp(config, x[rows], w(ep + "w1.weight"), w(ep + "w3.weight"), w(ep + "w2.weight"))
        out.index_add_(0, rows, y * weights[rows, slot][:, None])
    if latent:
        if config.get("latent_moe_use_norm", True):
            out = common.rms_norm(out, w(p + "routed_expert_norm.weight"), eps)
        out = common.linear(out, w(p + "routed_expert_up_proj.weight"))
    if config.get("num_shared_experts"):
        sp = p + "shared_experts."
        out = out + situ_mlp(config, m, w(sp + "gate_proj.weight"), w(sp + "up_proj.weight"), w(sp + "down_proj.weight"))
    return out


def forward(config_in, weights, tokens, dtype):
    config = text_config(config_in)
    if config.get("hidden_act", "situ") != "situ":
        raise NotImplementedError("kimi_k3: only hidden_act situ is implemented")
    if not config.get("mla_use_nope", False):
        raise NotImplementedError("kimi_k3: only mla_use_nope (as the K3 modeling code requires)")

    def w(name):
        return weights.get(TEXT + name, dtype)

    eps = config.get("rms_norm_eps", 1e-5)
    full = set(config["linear_attn_config"]["full_attn_layers"])
    first_dense = config.get("first_k_dense_replace", 0)
    block = config.get("attn_res_block_size")
    h = w("model.embed_tokens.weight")[torch.tensor(tokens, dtype=torch.long)]
    bank = []
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a_in = h
        if block is not None and bank:
            a_in = attn_res(h, bank, w(p + "self_attention_res_norm.weight"), w(p + "self_attention_res_proj.weight"),
                            eps)
        r = h
        if block is not None and i % block == 0:
            bank.append(h)
            r = None
        a = common.rms_norm(a_in, w(p + "input_layernorm.weight"), eps)
        mixed = mla(config, w, p + "self_attn.", a) if i + 1 in full else kda(config, w, p + "self_attn.", a, eps)
        r = mixed if r is None else r + mixed
        m_in = attn_res(r, bank, w(p + "mlp_res_norm.weight"), w(p + "mlp_res_proj.weight"), eps) if block else r
        m = common.rms_norm(m_in, w(p + "post_attention_layernorm.weight"), eps)
        if config.get("num_experts") and i >= first_dense:
            h = r + moe(config, w, p + "block_sparse_moe.", m, eps)
        else:
            h = r + situ_mlp(config, m, w(p + "mlp.gate_proj.weight"), w(p + "mlp.up_proj.weight"),
                             w(p + "mlp.down_proj.weight"))
    if block is not None:
        h = attn_res(h, bank, w("model.output_attn_res_norm.weight"), w("model.output_attn_res_proj.weight"), eps)
    h = common.rms_norm(h, w("model.norm.weight"), eps)
    if config.get("tie_word_embeddings", False):
        return common.linear(h, w("model.embed_tokens.weight"))
    return common.linear(h, w("lm_head.weight"))
