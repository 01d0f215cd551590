// Qwen3 (dense): the llama layout without biases, plus a per-head RMSNorm on q and k (QK-norm),
// an explicit head_dim (128 for every size, so q_proj is wider than hidden_size on 0.6B), and
// NeoX-style rope, which llama.cpp's "qwen3" arch also uses — so no q/k permutation.
// llama.cpp: src/models/qwen3.cpp; converter: conversion/qwen.py Qwen3Model (Qwen2Model base).
#include "models/arch_common.h"

namespace dragon {

ArchSpec make_qwen3_arch() {
  ArchSpec spec;
  spec.arch = "qwen3";
  spec.hf_architectures = {"Qwen3ForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json&, ModelConfig& c) {
    c.qk_norm = true;  // Qwen3 always has q_norm / k_norm; there is no config key for it
  };
  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) { arch::write_common_gguf_metadata(c, w); };
  spec.read_gguf_metadata = [](const GGUFFile&, ModelConfig& c) { c.qk_norm = true; };

  spec.hf_tensors = [](const ModelConfig& c) { return arch::dense_decoder_hf_tensors(c, arch::attention_layout(c)); };

  spec.gguf_tensors = [](const ModelConfig& c) { return arch::dense_decoder_gguf_plans(c, arch::attention_layout(c)); };
  return spec;
}

}  // namespace dragon
