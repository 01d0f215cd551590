"""GlmMoeDsaForCausalLM (GLM-5 / GLM-5.1): DeepSeek-V3.2 (deepseek_v32.py) with one change, written
from transformers' modular_glm_moe_dsa.py (GlmMoeDsaIndexer.forward):

  the indexer's rope is INTERLEAVED (apply_rotary_pos_emb_interleave: adjacent pairs, as the MLA's
  own rope), where V3.2's indexer rotates non-interleaved halves.

The interleaved form de-interleaves the rope dims before rotate_half, so its output is a fixed
permutation of the adjacent-pair rotation (llama.cpp's LLAMA_ROPE_TYPE_NORM); the same
permutation on q and k leaves every q . k, and so the scores, unchanged.
Not covered: GLM-5.2's "shared" indexer layers (indexer_types), which reuse the previous full
layer's top-k; GLM-5 and 5.1 run the indexer in every layer, and so does this reference.
"""
from families import common
from families import deepseek_v32 as v32


def rope_pairs(x, cos, sin):
    """apply_rotary_pos_emb_interleave on x [..., tokens, d]: de-interleave, then rotate_half."""
    shape = x.shape
    x = x.reshape(*shape[:-1], shape[-1] // 2, 2).transpose(-1, -2).reshape(shape)
    return x * cos + common.rotate_half(x) * sin


def forward(config, weights, tokens, dtype):
    if "shared" in (config.get("indexer_types") or []):
        raise NotImplementedError("glm_moe_dsa: shared indexer layers (GLM-5.2)")
    return v32.forward(config, weights, tokens, dtype, index_rope=rope_pairs)
