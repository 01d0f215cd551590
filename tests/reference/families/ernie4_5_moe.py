"""Ernie4_5_MoeForCausalLM (ERNIE-4.5-21B-A3B, -300B-A47B), written from
transformers/models/ernie4_5_moe/modeling_ernie4_5_moe.py: the ERNIE 4.5 attention
(families/ernie4_5.py: head_dim from the config, adjacent-pair rope, no biases) and

  layer i is MoE iff (i + 1) % moe_layer_interval == 0 and moe_layer_start_index <= i <=
  moe_layer_end_index (-1 = the last layer), else a dense Ernie4_5_MoeMLP (intermediate_size)
  Ernie4_5_MoeSparseMoeBlock, all in float (the gate and moe_statics are kept in f32):
    p = softmax(gate(m))
    E = topk(p + moe_statics.e_score_correction_bias, moe_k)      the bias only chooses
    w = p[E] / clamp(sum(p[E]), min=moe_norm_min)
    out = sum_{e in E} w_e * expert_e(m) + shared_experts(m)
    shared_experts = MLP of width moe_intermediate_size * moe_num_shared_experts (if > 0)
"""
import torch

from families import common, moe_common


def forward(config, weights, tokens, dtype):
    moe_common.check_silu(config, "ernie4_5_moe")
    if config.get("use_bias", False):
        raise NotImplementedError("ernie4_5_moe: use_bias is not implemented")
    config = dict(config)
    config.setdefault("rope_theta", 500000.0)
    n_layers = config["num_hidden_layers"]
    n_experts, top_k = config["moe_num_experts"], config["moe_k"]
    start, interval = config.get("moe_layer_start_index", 0), config.get("moe_layer_interval", 1)
    end = config.get("moe_layer_end_index", n_layers - 1)
    end = n_layers - 1 if end == -1 else end
    norm_min = config.get("moe_norm_min", 1e-12)

    def ffn(i, m, w):
        p = f"model.layers.{i}.mlp."
        if not ((i + 1) % interval == 0 and start <= i <= end):
            return moe_common.dense_mlp(m, w, p)
        probs = torch.softmax(common.linear(m, w(p + "gate.weight")), dim=-1)
        choice = probs
        if p + "moe_statics.e_score_correction_bias" in weights:
            choice = probs + w(p + "moe_statics.e_score_correction_bias").reshape(-1)
        _, selected = torch.topk(choice, top_k, dim=-1)
        routing_weights = torch.gather(probs, -1, selected)
        routing_weights = routing_weights / torch.clamp(routing_weights.sum(dim=-1, keepdim=True), min=norm_min)
        moe_common.record(selected, routing_weights)
        out = moe_common.experts_forward(m, w, p + "experts.", n_experts, selected, routing_weights)
        if config.get("moe_num_shared_experts", 0) > 0:
            out = out + moe_common.dense_mlp(m, w, p + "shared_experts.")
        return out

    head_dim = config.get("head_dim") or 128  # Ernie4_5_MoeConfig default
    return moe_common.decoder_forward(config, weights, tokens, dtype, head_dim=head_dim,
                                      eps=config.get("rms_norm_eps", 1e-5), apply_rope=common.apply_rope_adjacent,
                                      qk_norm=False, ffn=ffn, tie_default=True)
