"""Qwen3MoeForCausalLM (Qwen3-30B-A3B, Qwen3-235B-A22B), written from
transformers/models/qwen3_moe/modeling_qwen3_moe.py: the Qwen3 attention (families/qwen3.py:
QK-norm, NEOX rope, head_dim from the config) and, in every layer, Qwen3MoeSparseMoeBlock:

  p = softmax(gate(m))  (float)          E = topk(p, num_experts_per_tok)
  w = p[E] / sum(p[E])  if norm_topk_prob
  out = sum_{e in E} w_e * expert_e(m)   expert = down_proj(silu(gate_proj(m)) * up_proj(m))

Layers listed in mlp_only_layers or with (i + 1) % decoder_sparse_step != 0 would be dense
Qwen3MoeMLPs; no release has them, so they are refused.
"""
import torch

from families import common, moe_common


def forward(config, weights, tokens, dtype):
    moe_common.check_silu(config, "qwen3moe")
    if config.get("use_sliding_window", False):
        raise NotImplementedError("qwen3moe: use_sliding_window=true is not implemented in the reference")
    if config.get("decoder_sparse_step", 1) != 1 or config.get("mlp_only_layers"):
        raise NotImplementedError("qwen3moe: dense layers (decoder_sparse_step / mlp_only_layers) are not implemented")
    n_experts, top_k = config["num_experts"], config["num_experts_per_tok"]
    norm_topk_prob = config.get("norm_topk_prob", False)

    def sparse_moe(i, m, w):
        p = f"model.layers.{i}.mlp."
        probs = torch.softmax(common.linear(m, w(p + "gate.weight")), dim=-1)
        routing_weights, selected = torch.topk(probs, top_k, dim=-1)
        if norm_topk_prob:
            routing_weights = routing_weights / routing_weights.sum(dim=-1, keepdim=True)
        moe_common.record(selected, routing_weights)
        return moe_common.experts_forward(m, w, p + "experts.", n_experts, selected, routing_weights)

    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    return moe_common.decoder_forward(config, weights, tokens, dtype, head_dim=head_dim,
                                      eps=config.get("rms_norm_eps", 1e-6), apply_rope=common.apply_rope_neox,
                                      qk_norm=True, ffn=sparse_moe, tie_default=False)
