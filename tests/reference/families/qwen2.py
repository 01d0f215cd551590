"""Qwen2ForCausalLM (Qwen2, Qwen2.5), written from transformers/models/qwen2/modeling_qwen2.py:
the Llama block (families/llama.py) with a bias on q_proj / k_proj / v_proj only (o_proj and the
MLP have none), rotate_half RoPE, RMSNorm eps default 1e-6, untied unless tie_word_embeddings.
Sliding-window attention (use_sliding_window) is refused."""
from families import common, llama


def forward(config, weights, tokens, dtype):
    if config.get("use_sliding_window", False):
        raise NotImplementedError("qwen2: use_sliding_window=true is not implemented in the reference")
    llama.check_common_config(config, "qwen2")
    return llama.decoder_forward(config, weights, tokens, dtype, qkv_bias=True, o_bias=False, mlp_bias=False,
                                 apply_rope=common.apply_rope_neox, eps_default=1e-6)
