// Qwen3-MoE (Qwen3MoeForCausalLM: Qwen3-30B-A3B, Qwen3-235B-A22B): the Qwen3 attention (QK-norm,
// explicit head_dim, NeoX rope) with every FFN a sparse MoE block — a softmax router
// mlp.gate [n_experts, hidden] picking num_experts_per_tok of num_experts SwiGLU experts
// (moe_intermediate_size wide), their weights renormalised when norm_topk_prob (true in the
// releases). No shared expert.
// HF layers with (il + 1) % decoder_sparse_step != 0 or listed in mlp_only_layers would be dense;
// every release has step 1 and no such layers, and llama.cpp's qwen3moe has no dense layers, so
// dragon refuses other values rather than write a file llama.cpp cannot load.
// llama.cpp: src/models/qwen3moe.cpp; converter: conversion/qwen.py Qwen3MoeModel (Qwen2MoeModel
// stacks the experts into ffn_{gate,up,down}_exps).
#include "io/gguf.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

ArchSpec make_qwen3moe_arch() {
  ArchSpec spec;
  spec.arch = "qwen3moe";
  spec.hf_architectures = {"Qwen3MoeForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json& hf, ModelConfig& c) {
    using namespace arch;
    c.qk_norm = true;
    for (const char* key : {"num_experts", "num_experts_per_tok", "moe_intermediate_size"})
      if (!hf_has(hf, key)) fail("missing key {}", key);
    c.n_experts = hf_int(hf, "num_experts", 0, 1, kMaxExperts);
    c.n_experts_used = hf_int(hf, "num_experts_per_tok", 0, 1, kMaxExperts);
    c.moe_intermediate_size = hf_int(hf, "moe_intermediate_size", 0, 1, kMaxFFN);
    c.norm_topk_prob = hf_bool(hf, "norm_topk_prob", false);
    c.scoring_func = "softmax";
    const int64_t step = hf_int(hf, "decoder_sparse_step", 1, 1, kMaxLayers);
    if (step != 1) fail("key decoder_sparse_step: {} is not supported (llama.cpp's qwen3moe has no dense layers)", step);
    if (hf_has(hf, "mlp_only_layers") && !hf["mlp_only_layers"].empty())
      fail("key mlp_only_layers: dense layers are not supported (llama.cpp's qwen3moe has none)");
  };

  // Qwen2MoeModel.set_gguf_parameters: the common keys (incl. expert_count / expert_used_count
  // from num_experts / num_experts_per_tok) and expert_feed_forward_length.
  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) {
    arch::write_common_gguf_metadata(c, w);
    arch::write_expert_counts(c, w);
    arch::gguf_set_u32(w, c.arch, "expert_feed_forward_length", c.moe_intermediate_size);
  };

  spec.read_gguf_metadata = [](const GGUFFile& f, ModelConfig& c) {
    c.qk_norm = true;
    c.moe_intermediate_size = arch::gguf_arch_int(f, c.arch, "expert_feed_forward_length");
    c.norm_topk_prob = true;  // llama.cpp's qwen3moe always renormalises the top-k weights
    c.scoring_func = "softmax";
  };

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    arch::add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string mlp = arch::hf_layer(il) + "mlp.";
      arch::add_attention(out, c, il, arch::attention_layout(c));
      out.push_back(arch::hf_router(mlp + "gate.weight", c.n_experts, c.hidden_size));
      arch::add_experts(out, c, mlp + "experts.", c.n_experts, c.moe_intermediate_size);
    }
    arch::add_output(out, c);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    arch::plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string mlp = arch::hf_layer(il) + "mlp.";
      arch::plan_attention(out, c, il, arch::attention_layout(c));
      arch::plan_router(out, c, il, mlp + "gate.weight");
      arch::plan_experts(out, c, il, mlp + "experts.", c.n_experts, c.moe_intermediate_size);
    }
    arch::plan_output(out, c);
    return out;
  };
  return spec;
}

}  // namespace dragon
