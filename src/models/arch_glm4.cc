// GLM-4-0414 dense (Glm4ForCausalLM: GLM-4-9B/32B-0414, GLM-Z1). Differences from the llama
// block, from transformers' modeling_glm4.py:
//  - q/k/v carry a bias (config attention_bias, true in every release); o_proj has none;
//  - rope on the first partial_rotary_factor (default 0.5) of each head, on ADJACENT pairs
//    (GPT-J style, rotate_half over x[0::2], x[1::2]) — llama.cpp's "glm4" uses the same
//    LLAMA_ROPE_TYPE_NORM, so the converter does not permute anything;
//  - "sandwich" norms: post_self_attn_layernorm after attention and post_mlp_layernorm after the
//    MLP, each applied before the residual add;
//  - one fused mlp.gate_up_proj [2*ff, hidden] whose first half is the gate (silu) and second
//    half the up projection — exactly the layout llama.cpp's fused-SwiGLU ffn_up [2*ff] expects,
//    so it is copied as is.
// GGUF names: post_self_attn_layernorm -> blk.N.post_attention_norm, post_attention_layernorm ->
// blk.N.ffn_norm, post_mlp_layernorm -> blk.N.post_ffw_norm (gguf-py tensor_mapping.py).
// llama.cpp: src/models/glm4.cpp; converter: conversion/glm.py Glm4Model.
#include "io/gguf.h"
#include "models/arch_common.h"

namespace dragon {

ArchSpec make_glm4_arch() {
  ArchSpec spec;
  spec.arch = "glm4";
  spec.hf_architectures = {"Glm4ForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json& hf, ModelConfig& c) {
    c.attention_out_bias = false;
    c.rope_interleaved = true;
    // Glm4Config's default partial_rotary_factor is 0.5, not the 1.0 config_from_hf assumes.
    const bool explicit_factor =
        arch::hf_has(hf, "partial_rotary_factor") ||
        (arch::hf_has(hf, "rope_parameters") && arch::hf_has(hf["rope_parameters"], "partial_rotary_factor"));
    if (!explicit_factor) c.rotary_dim = c.head_dim / 2;
  };

  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) { arch::write_common_gguf_metadata(c, w); };

  spec.read_gguf_metadata = [](const GGUFFile& f, ModelConfig& c) {
    c.rope_interleaved = true;
    c.attention_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  };

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    arch::add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string p = arch::hf_layer(il);
      arch::add_attention(out, c, il, arch::attention_layout(c));
      out.push_back(arch::hf_norm(p + "post_self_attn_layernorm.weight", c.hidden_size));
      out.push_back(arch::hf_linear(p + "mlp.gate_up_proj.weight", 2 * c.intermediate_size, c.hidden_size));
      out.push_back(arch::hf_linear(p + "mlp.down_proj.weight", c.hidden_size, c.intermediate_size));
      out.push_back(arch::hf_norm(p + "post_mlp_layernorm.weight", c.hidden_size));
    }
    arch::add_output(out, c);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    arch::plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string h = arch::hf_layer(il), g = arch::gguf_layer(il);
      arch::plan_attention(out, c, il, arch::attention_layout(c));
      out.push_back(arch::plan_copy(g + "post_attention_norm.weight", h + "post_self_attn_layernorm.weight",
                                    {c.hidden_size}, false));
      out.push_back(arch::plan_copy(g + "ffn_up.weight", h + "mlp.gate_up_proj.weight",
                                    {2 * c.intermediate_size, c.hidden_size}));
      out.push_back(arch::plan_copy(g + "ffn_down.weight", h + "mlp.down_proj.weight",
                                    {c.hidden_size, c.intermediate_size}));
      out.push_back(arch::plan_copy(g + "post_ffw_norm.weight", h + "post_mlp_layernorm.weight", {c.hidden_size},
                                    false));
    }
    arch::plan_output(out, c);
    return out;
  };
  return spec;
}

}  // namespace dragon
