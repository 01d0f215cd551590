"""Ernie4_5ForCausalLM (ERNIE 4.5 dense), written from
transformers/models/ernie4_5/modeling_ernie4_5.py (modular_ernie4_5.py): the Llama block
(families/llama.py) with
  - head_dim from the config (Ernie4_5Config default 128, not hidden / heads),
  - RoPE on adjacent pairs (its rotate_half takes x[0::2], x[1::2]; cos/sin repeat_interleave'd),
    over the full head_dim,
  - use_bias: a bias on q/k/v/o_proj and on gate/up/down_proj,
  - Ernie4_5Config defaults: rms_norm_eps 1e-5, rope_theta 500000, tie_word_embeddings true.
"""
from families import common, llama


def forward(config, weights, tokens, dtype):
    llama.check_common_config(config, "ernie4_5")
    config = dict(config)
    config.setdefault("head_dim", 128)
    config.setdefault("rope_theta", 500000.0)
    config.setdefault("tie_word_embeddings", True)
    bias = config.get("use_bias", False)
    return llama.decoder_forward(config, weights, tokens, dtype, qkv_bias=bias, o_bias=bias, mlp_bias=bias,
                                 apply_rope=common.apply_rope_adjacent, eps_default=1e-5)
