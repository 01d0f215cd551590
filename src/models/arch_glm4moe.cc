// GLM-4.5 / 4.5-Air / 4.6 (Glm4MoeForCausalLM), from transformers' modeling_glm4_moe.py:
//  - GQA attention with q/k/v biases (attention_bias, true in the releases), no o_proj bias,
//    optional per-head q_norm / k_norm (use_qk_norm: false on Air, true on GLM-4.5/4.6), rope on
//    the first partial_rotary_factor (0.5) of each head in NeoX halves (llama.cpp's glm4moe uses
//    LLAMA_ROPE_TYPE_NEOX: no permutation);
//  - first_k_dense_replace dense layers, then DeepSeek-V3-style MoE: sigmoid router with an
//    always-present e_score_correction_bias (selection only), n_group / topk_group,
//    norm_topk_prob, routed_scaling_factor, one shared expert (moe_intermediate_size *
//    n_shared_experts wide);
//  - num_nextn_predict_layers MTP blocks as model.layers.{n_layers + i} (a full decoder layer
//    plus embed_tokens / enorm / hnorm / eh_proj / shared_head).
// GGUF (conversion/glm.py Glm4MoeModel): unlike DeepSeek, the MTP layers are KEPT —
// block_count = n_layers + nextn_predict_layers, the extras become blk.N.nextn.*; the
// post-attention norm is blk.N.post_attention_norm (llama.cpp's attn_post_norm), not ffn_norm.
// llama.cpp: src/models/glm4-moe.cpp.
#include <fmt/format.h>

#include "io/gguf.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

namespace {

// GLM-4.5 has q/k/v biases and no o_proj bias, whatever attention_bias says about o_proj.
arch::AttentionLayout glm_attention(const ModelConfig& c) { return arch::AttentionLayout{c.attention_bias, false, c.qk_norm}; }

}  // namespace

ArchSpec make_glm4moe_arch() {
  ArchSpec spec;
  spec.arch = "glm4moe";
  spec.hf_architectures = {"Glm4MoeForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json& hf, ModelConfig& c) {
    using namespace arch;
    for (const char* key : {"n_routed_experts", "num_experts_per_tok", "moe_intermediate_size"})
      if (!hf_has(hf, key)) fail("missing key {}", key);
    c.attention_out_bias = false;
    c.qk_norm = hf_bool(hf, "use_qk_norm", false);
    c.rope_interleaved = false;
    // Glm4MoeConfig's default partial_rotary_factor is 0.5, not the 1.0 config_from_hf assumes.
    const bool explicit_factor = hf_has(hf, "partial_rotary_factor") ||
                                 (hf_has(hf, "rope_parameters") && hf_has(hf["rope_parameters"], "partial_rotary_factor"));
    if (!explicit_factor) c.rotary_dim = c.head_dim / 2;

    c.n_experts = hf_int(hf, "n_routed_experts", 0, 1, kMaxExperts);
    c.n_experts_used = hf_int(hf, "num_experts_per_tok", 0, 1, kMaxExperts);
    c.n_shared_experts = hf_int(hf, "n_shared_experts", 0, 0, kMaxExperts);
    c.moe_intermediate_size = hf_int(hf, "moe_intermediate_size", 0, 1, kMaxFFN);
    c.shared_expert_intermediate_size = c.moe_intermediate_size * c.n_shared_experts;
    c.first_k_dense_replace = hf_int(hf, "first_k_dense_replace", 0, 0, kMaxLayers);
    c.n_group = hf_int(hf, "n_group", 0, 0, kMaxExperts);
    c.topk_group = hf_int(hf, "topk_group", 0, 0, kMaxExperts);
    c.norm_topk_prob = hf_bool(hf, "norm_topk_prob", true);
    c.routed_scaling_factor = hf_float(hf, "routed_scaling_factor", 1.0);
    c.scoring_func = "sigmoid";  // Glm4MoeTopkRouter: sigmoid scores + correction bias, always
    c.expert_score_bias = true;
    c.n_nextn_layers = hf_int(hf, "num_nextn_predict_layers", 0, 0, kMaxLayers);
  };

  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) {
    using namespace arch;
    const std::string& a = c.arch;
    write_common_gguf_metadata(c, w);
    gguf_set_u32(w, a, "block_count", c.n_layers + c.n_nextn_layers);  // the MTP layers are kept
    write_expert_counts(c, w);
    if (c.n_group > 0) {
      gguf_set_u32(w, a, "expert_group_count", c.n_group);
      gguf_set_u32(w, a, "expert_group_used_count", c.topk_group);
    }
    gguf_set_u32(w, a, "expert_feed_forward_length", c.moe_intermediate_size);
    gguf_set_u32(w, a, "expert_shared_count", c.n_shared_experts);
    gguf_set_u32(w, a, "leading_dense_block_count", c.first_k_dense_replace);
    gguf_set_u32(w, a, "expert_gating_func", kGatingSigmoid);
    gguf_set_f32(w, a, "expert_weights_scale", c.routed_scaling_factor);
    gguf_set_bool(w, a, "expert_weights_norm", c.norm_topk_prob);
    if (c.n_nextn_layers > 0) gguf_set_u32(w, a, "nextn_predict_layers", c.n_nextn_layers);
  };

  spec.read_gguf_metadata = [](const GGUFFile& f, ModelConfig& c) {
    using namespace arch;
    const std::string& a = c.arch;
    c.n_nextn_layers = gguf_arch_int_opt(f, a, "nextn_predict_layers").value_or(0);
    if (c.n_nextn_layers >= c.n_layers)
      fail("key {}.nextn_predict_layers: {} is not less than block_count {}", a, c.n_nextn_layers, c.n_layers);
    c.n_layers -= c.n_nextn_layers;
    c.attention_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
    c.attention_out_bias = false;
    c.qk_norm = f.find_tensor("blk.0.attn_q_norm.weight") != nullptr;
    c.rope_interleaved = false;
    c.moe_intermediate_size = gguf_arch_int(f, a, "expert_feed_forward_length");
    c.n_shared_experts = gguf_arch_int_opt(f, a, "expert_shared_count").value_or(0);
    c.shared_expert_intermediate_size = c.moe_intermediate_size * c.n_shared_experts;
    c.first_k_dense_replace = gguf_arch_int_opt(f, a, "leading_dense_block_count").value_or(0);
    c.n_group = gguf_arch_int_opt(f, a, "expert_group_count").value_or(0);
    c.topk_group = gguf_arch_int_opt(f, a, "expert_group_used_count").value_or(0);
    c.routed_scaling_factor = gguf_arch_float_opt(f, a, "expert_weights_scale").value_or(1.0);
    c.norm_topk_prob = gguf_arch_bool_opt(f, a, "expert_weights_norm").value_or(false);
    c.scoring_func = scoring_func_name(gguf_arch_int_opt(f, a, "expert_gating_func").value_or(kGatingSigmoid));
    c.expert_score_bias = true;
  };

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    arch::add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers + c.n_nextn_layers; ++il) {
      arch::add_attention(out, c, il, glm_attention(c));
      arch::add_deepseek_moe_ffn(out, c, il);
      if (il >= c.n_layers) arch::add_nextn_extras(out, c, il);
    }
    arch::add_output(out, c);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    arch::plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers + c.n_nextn_layers; ++il) {
      arch::plan_attention(out, c, il, glm_attention(c));
      arch::rename_plan(out, arch::gguf_layer(il) + "ffn_norm.weight", arch::gguf_layer(il) + "post_attention_norm.weight");
      arch::plan_deepseek_moe_ffn(out, c, il);
      if (il >= c.n_layers) arch::plan_nextn_extras(out, c, il);
    }
    arch::plan_output(out, c);
    return out;
  };
  return spec;
}

}  // namespace dragon
