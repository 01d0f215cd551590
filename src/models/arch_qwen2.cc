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

  spec.hf_tensors = [](const ModelConfig& c) { return arch::dense_decoder_hf_tensors(c, arch::attention_layout(c)); };

  spec.gguf_tensors = [](const ModelConfig& c) { return arch::dense_decoder_gguf_plans(c, arch::attention_layout(c)); };
  return spec;
}

}  // namespace dragon
