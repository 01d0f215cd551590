"""DeepseekForCausalLM (DeepSeek-MoE 16B), written from the release's modeling_deepseek.py
(deepseek-ai/deepseek-moe-16b-base): the Llama attention (no biases, NEOX rope on HF rows) and

  layer i is MoE  iff  i >= first_k_dense_replace and i % moe_layer_freq == 0, else DeepseekMLP
  MoEGate:      scores = softmax(gate(m))  (scoring_func "softmax")
                w, E = topk(scores, num_experts_per_tok)
                w = w / (sum(w) + 1e-20)   only if top_k > 1 and norm_topk_prob (false in 16B)
  DeepseekMoE:  out = sum_{e in E} w_e * expert_e(m) + shared_experts(m)
                shared_experts = DeepseekMLP of width moe_intermediate_size * n_shared_experts
"""
import torch

from families import common, moe_common


def forward(config, weights, tokens, dtype):
    moe_common.check_silu(config, "deepseek_moe")
    if config.get("scoring_func", "softmax") != "softmax":
        raise NotImplementedError(f"deepseek_moe: scoring_func {config['scoring_func']} is not implemented")
    if config.get("attention_bias", False):
        raise NotImplementedError("deepseek_moe: attention_bias is not implemented")
    n_experts, top_k = config["n_routed_experts"], config["num_experts_per_tok"]
    first_dense, freq = config.get("first_k_dense_replace", 0), config.get("moe_layer_freq", 1)
    norm_topk_prob = config.get("norm_topk_prob", False)

    def ffn(i, m, w):
        p = f"model.layers.{i}.mlp."
        if not (i >= first_dense and i % freq == 0):
            return moe_common.dense_mlp(m, w, p)
        scores = torch.softmax(common.linear(m, w(p + "gate.weight")), dim=-1)
        routing_weights, selected = torch.topk(scores, top_k, dim=-1)
        if top_k > 1 and norm_topk_prob:
            routing_weights = routing_weights / (routing_weights.sum(dim=-1, keepdim=True) + 1e-20)
        moe_common.record(selected, routing_weights)
        out = moe_common.experts_forward(m, w, p + "experts.", n_experts, selected, routing_weights)
        if config.get("n_shared_experts"):
            out = out + moe_common.dense_mlp(m, w, p + "shared_experts.")
        return out

    head_dim = config["hidden_size"] // config["num_attention_heads"]
    return moe_common.decoder_forward(config, weights, tokens, dtype, head_dim=head_dim,
                                      eps=config.get("rms_norm_eps", 1e-6), apply_rope=common.apply_rope_neox,
                                      qk_norm=False, ffn=ffn, tie_default=False)
