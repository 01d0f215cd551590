// DeepSeek-MoE (DeepseekForCausalLM: deepseek-moe-16b-base / -chat), from the release's
// modeling_deepseek.py:
//  - the llama attention (no biases, NeoX-halves rope in HF);
//  - the first first_k_dense_replace layers have a dense SwiGLU FFN (intermediate_size); the
//    others (il % moe_layer_freq == 0) a DeepSeekMoE block: softmax router mlp.gate, top-k of
//    n_routed_experts experts (moe_intermediate_size), NOT renormalised (norm_topk_prob false),
//    plus n_shared_experts always-on experts fused into one SwiGLU mlp.shared_experts of width
//    moe_intermediate_size * n_shared_experts.
// GGUF: llama.cpp's "deepseek" arch uses adjacent-pair rope (LLAMA_ROPE_TYPE_NORM), so the
// converter permutes q/k rows like LlamaModel; ModelConfig::rope_interleaved describes the rows
// as stored (false for HF, true for GGUF), as in arch_llama.cc.
// llama.cpp: src/models/deepseek.cpp; converter: conversion/deepseek.py DeepseekModel.
#include "io/gguf.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

namespace {

const arch::AttentionLayout kAttention{false, false, false};

void read_deepseek_moe_keys(const nlohmann::json& hf, ModelConfig& c) {
  using namespace arch;
  for (const char* key : {"n_routed_experts", "num_experts_per_tok", "moe_intermediate_size"})
    if (!hf_has(hf, key)) fail("missing key {}", key);
  c.n_experts = hf_int(hf, "n_routed_experts", 0, 1, kMaxExperts);
  c.n_experts_used = hf_int(hf, "num_experts_per_tok", 0, 1, kMaxExperts);
  c.n_shared_experts = hf_int(hf, "n_shared_experts", 0, 0, kMaxExperts);
  c.moe_intermediate_size = hf_int(hf, "moe_intermediate_size", 0, 1, kMaxFFN);
  c.shared_expert_intermediate_size = c.moe_intermediate_size * c.n_shared_experts;
  c.first_k_dense_replace = hf_int(hf, "first_k_dense_replace", 0, 0, kMaxLayers);
  c.moe_layer_freq = hf_int(hf, "moe_layer_freq", 1, 1, kMaxLayers);
  c.norm_topk_prob = hf_bool(hf, "norm_topk_prob", false);
  c.scoring_func = hf_string(hf, "scoring_func", "softmax");
  gating_func_id(c.scoring_func);  // validates the name
}

}  // namespace

ArchSpec make_deepseek_arch() {
  ArchSpec spec;
  spec.arch = "deepseek";
  spec.hf_architectures = {"DeepseekForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json& hf, ModelConfig& c) {
    read_deepseek_moe_keys(hf, c);
    if (c.moe_layer_freq != 1) fail("key moe_layer_freq: {} is not supported (llama.cpp's deepseek has no such key)",
                                    c.moe_layer_freq);
    c.rope_interleaved = false;
  };

  // DeepseekModel.set_gguf_parameters after the common keys (which include expert_used_count
  // and, from scoring_func, expert_gating_func).
  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) {
    using namespace arch;
    write_common_gguf_metadata(c, w);
    write_expert_counts(c, w);
    gguf_set_u32(w, c.arch, "expert_gating_func", gating_func_id(c.scoring_func));
    if (c.rope_scaling.type == "none") w.set(c.arch + ".rope.scaling.type", GGUFValue::str("none"));
    gguf_set_u32(w, c.arch, "leading_dense_block_count", c.first_k_dense_replace);
    gguf_set_u32(w, c.arch, "vocab_size", c.vocab_size);
    gguf_set_u32(w, c.arch, "expert_feed_forward_length", c.moe_intermediate_size);
    gguf_set_f32(w, c.arch, "expert_weights_scale", 1.0);
    gguf_set_u32(w, c.arch, "expert_shared_count", c.n_shared_experts);
  };

  spec.read_gguf_metadata = [](const GGUFFile& f, ModelConfig& c) {
    using namespace arch;
    c.rope_interleaved = true;  // q/k rows were permuted by the converter
    c.first_k_dense_replace = gguf_arch_int_opt(f, c.arch, "leading_dense_block_count").value_or(0);
    c.moe_intermediate_size = gguf_arch_int(f, c.arch, "expert_feed_forward_length");
    c.n_shared_experts = gguf_arch_int(f, c.arch, "expert_shared_count");
    c.shared_expert_intermediate_size = c.moe_intermediate_size * c.n_shared_experts;
    c.scoring_func = scoring_func_name(gguf_arch_int_opt(f, c.arch, "expert_gating_func").value_or(kGatingSoftmax));
    c.norm_topk_prob = false;  // llama.cpp's deepseek never renormalises
  };

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    arch::add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      arch::add_attention(out, c, il, kAttention);
      arch::add_deepseek_moe_ffn(out, c, il);  // no e_score_correction_bias in DeepSeek-MoE
    }
    arch::add_output(out, c);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    arch::plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      arch::plan_attention(out, c, il, kAttention, /*permute_qk=*/true);
      arch::plan_deepseek_moe_ffn(out, c, il);
    }
    arch::plan_output(out, c);
    return out;
  };
  return spec;
}

}  // namespace dragon
