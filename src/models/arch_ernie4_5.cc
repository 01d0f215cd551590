// ERNIE 4.5 dense (Ernie4_5ForCausalLM, ERNIE-4.5-0.3B): the llama block with
//  - an explicit head_dim (128 on 0.3B, twice hidden/heads, so q_proj is wider than hidden);
//  - one config key use_bias for every q/k/v/o and FFN bias (false in the releases);
//  - rope on ADJACENT pairs (transformers' modeling_ernie4_5.py rotate_half over x[0::2],
//    x[1::2], "glm rope style") — llama.cpp's "ernie4_5" uses LLAMA_ROPE_TYPE_NORM too, so the
//    converter copies q/k unchanged.
// Older PaddlePaddle-style checkpoints fuse qkv_proj / up_gate_proj and name the model "ernie.";
// the converter splits those. The transformers-native checkpoints (the "-PT" repos) have the
// separate llama names produced here.
// llama.cpp: src/models/ernie4-5.cpp; converter: conversion/ernie.py Ernie4_5Model.
#include "io/gguf.h"
#include "models/arch_common.h"
#include "util/error.h"

namespace dragon {

ArchSpec make_ernie4_5_arch() {
  ArchSpec spec;
  spec.arch = "ernie4_5";
  spec.hf_architectures = {"Ernie4_5ForCausalLM", "Ernie4_5_ForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json& hf, ModelConfig& c) {
    const bool bias = arch::hf_bool(hf, "use_bias", false);
    c.attention_bias = bias;
    c.attention_out_bias = bias;
    c.mlp_bias = bias;
    c.rope_interleaved = true;
  };

  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) { arch::write_common_gguf_metadata(c, w); };

  spec.read_gguf_metadata = [](const GGUFFile& f, ModelConfig& c) {
    c.rope_interleaved = true;
    c.attention_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
    c.attention_out_bias = f.find_tensor("blk.0.attn_output.bias") != nullptr;
  };

  spec.hf_tensors = [](const ModelConfig& c) { return arch::dense_decoder_hf_tensors(c, arch::attention_layout(c)); };

  spec.gguf_tensors = [](const ModelConfig& c) {
    // llama.cpp's ernie4_5 loads q/k/v/o biases but no FFN biases: a file with them would not load.
    if (c.mlp_bias) fail("arch ernie4_5: use_bias (FFN biases) is not supported by llama.cpp's ernie4_5");
    return arch::dense_decoder_gguf_plans(c, arch::attention_layout(c));
  };
  return spec;
}

}  // namespace dragon
