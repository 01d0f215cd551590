// Qwen2 / Qwen2.5 (Qwen2ForCausalLM), also QwQ and R1-Distill-Qwen: the llama block with a bias
// on q/k/v (always — Qwen2Attention has no config key for it; o_proj has none) and NeoX-halves
// rope, which llama.cpp's "qwen2" arch also uses, so the GGUF keeps the HF rows as they are.
// The sliding-window keys of the config are unused by every release (use_sliding_window false).
// llama.cpp: src/models/qwen2.cpp; converter: conversion/qwen.py Qwen2Model.
#include "models/arch_common.h"

namespace dragon {

ArchSpec make_qwen2_arch() {
  ArchSpec spec;
  spec.arch = "qwen2";
  spec.hf_architectures = {"Qwen2ForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json&, ModelConfig& c) {
    c.attention_bias = true;
    c.attention_out_bias = false;
    c.mlp_bias = false;
  };
  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) { arch::write_common_gguf_metadata(c, w); };
  spec.read_gguf_metadata = [](const GGUFFile&, ModelConfig& c) { c.attention_bias = true; };

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    arch::add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      arch::add_attention(out, c, il, arch::attention_layout(c));
      arch::add_dense_ffn(out, c, arch::hf_layer(il) + "mlp.", c.intermediate_size);
    }
    arch::add_output(out, c);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    arch::plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      arch::plan_attention(out, c, il, arch::attention_layout(c));
      arch::plan_dense_ffn(out, c, il, arch::hf_layer(il) + "mlp.", c.intermediate_size);
    }
    arch::plan_output(out, c);
    return out;
  };
  return spec;
}

}  // namespace dragon
