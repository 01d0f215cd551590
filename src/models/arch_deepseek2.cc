// DeepSeek-V2 / V2-Lite / V3 / R1 and Kimi K2 (DeepseekV2ForCausalLM, DeepseekV3ForCausalLM),
// from the releases' modeling_deepseek.py:
//  - multi-head latent attention (MLA): q = q_b(norm(q_a(x))) (or a plain q_proj when
//    q_lora_rank is null, as on V2-Lite), each head [qk_nope | qk_rope]; one shared compressed
//    kv = kv_a_proj_with_mqa(x) = [latent (kv_lora_rank) | k_rope (qk_rope_head_dim)], the
//    latent normed and expanded per head by kv_b_proj into [k_nope | v]. The rope part uses
//    adjacent pairs (the HF code de-interleaves before rotate_half), which llama.cpp's
//    LLAMA_ROPE_TYPE_NORM matches without permuting anything: rope_interleaved = true.
//  - YaRN rope scaling with DeepSeek's mscale / mscale_all_dim;
//  - DeepSeekMoE after first_k_dense_replace dense layers: a router (softmax on V2, sigmoid on V3
//    with an e_score_correction_bias used for selection only — topk_method "noaux_tc"),
//    group-limited top-k (n_group / topk_group), routed_scaling_factor, norm_topk_prob, and
//    n_shared_experts fused into one shared SwiGLU.
//  - V3: num_nextn_predict_layers MTP blocks appended as model.layers.{n_layers + i}.
// GGUF (conversion/deepseek.py DeepseekV2Model): kv_b_proj is split into attn_k_b (transposed)
// and attn_v_b (arch_moe.h), the file describes MLA as MQA with one kv head of width
// kv_lora_rank + qk_rope (key_length) / kv_lora_rank (value_length) plus the real per-head sizes
// in key_length_mla / value_length_mla, and the MTP layers are DROPPED (skip_mtp): block_count
// counts the main layers only and nextn_predict_layers is not written.
// llama.cpp: src/models/deepseek2.cpp.
#include <fmt/format.h>

#include "models/arch_deepseek2.h"

#include "io/gguf.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

namespace deepseek2_arch {

void read_mla_keys(const nlohmann::json& hf, ModelConfig& c) {
  using namespace arch;
  for (const char* key : {"kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"})
    if (!hf_has(hf, key)) fail("missing key {}", key);
  c.q_lora_rank = hf_int(hf, "q_lora_rank", 0, 0, kMaxHidden);  // null on V2-Lite: no q compression
  c.kv_lora_rank = hf_int(hf, "kv_lora_rank", 0, 1, kMaxHidden);
  c.qk_nope_head_dim = hf_int(hf, "qk_nope_head_dim", 0, 1, kMaxHeadDim);
  c.qk_rope_head_dim = hf_int(hf, "qk_rope_head_dim", 0, 2, kMaxHeadDim);
  c.v_head_dim = hf_int(hf, "v_head_dim", 0, 1, kMaxHeadDim);
  c.head_dim = c.qk_nope_head_dim + c.qk_rope_head_dim;
  c.rotary_dim = c.qk_rope_head_dim;
  c.rope_interleaved = true;
}

void read_moe_keys(const nlohmann::json& hf, ModelConfig& c) {
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
  if (c.moe_layer_freq != 1)
    fail("key moe_layer_freq: {} is not supported (llama.cpp's deepseek2 makes every layer after the dense ones MoE)",
         c.moe_layer_freq);
  c.n_group = hf_int(hf, "n_group", 0, 0, kMaxExperts);
  c.topk_group = hf_int(hf, "topk_group", 0, 0, kMaxExperts);
  c.norm_topk_prob = hf_bool(hf, "norm_topk_prob", false);
  c.routed_scaling_factor = hf_float(hf, "routed_scaling_factor", 1.0);
  c.scoring_func = hf_string(hf, "scoring_func", "softmax");
  gating_func_id(c.scoring_func);  // validates the name
  c.expert_score_bias = hf_string(hf, "topk_method", "greedy") == "noaux_tc";
  c.n_nextn_layers = hf_int(hf, "num_nextn_predict_layers", 0, 0, kMaxLayers);
}

// The MLA attention of layer il, HF side.
void add_mla_attention(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il) {
  using namespace arch;
  const std::string p = hf_layer(il), a = p + "self_attn.";
  out.push_back(hf_norm(p + "input_layernorm.weight", c.hidden_size));
  if (c.q_lora_rank > 0) {
    out.push_back(hf_linear(a + "q_a_proj.weight", c.q_lora_rank, c.hidden_size));
    out.push_back(hf_norm(a + "q_a_layernorm.weight", c.q_lora_rank));
    out.push_back(hf_linear(a + "q_b_proj.weight", c.n_heads * c.head_dim, c.q_lora_rank));
  } else {
    out.push_back(hf_linear(a + "q_proj.weight", c.n_heads * c.head_dim, c.hidden_size));
  }
  out.push_back(hf_linear(a + "kv_a_proj_with_mqa.weight", c.kv_lora_rank + c.qk_rope_head_dim, c.hidden_size));
  out.push_back(hf_norm(a + "kv_a_layernorm.weight", c.kv_lora_rank));
  out.push_back(hf_linear(a + "kv_b_proj.weight", c.n_heads * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank));
  out.push_back(hf_linear(a + "o_proj.weight", c.hidden_size, c.n_heads * c.v_head_dim));
  out.push_back(hf_norm(p + "post_attention_layernorm.weight", c.hidden_size));
}

GGUFTensorPlan plan_kv_b_half(const ModelConfig& c, int64_t il, bool key) {
  const std::string hf = arch::hf_layer(il) + "self_attn.kv_b_proj.weight";
  GGUFTensorPlan plan;
  plan.sources = {hf};
  const int64_t nh = c.n_heads, nope = c.qk_nope_head_dim, v = c.v_head_dim, lora = c.kv_lora_rank;
  if (key) {
    plan.name = arch::gguf_layer(il) + "attn_k_b.weight";
    plan.shape = {nh, lora, nope};
    plan.transform = [=](const std::vector<const std::vector<float>*>& src) {
      return arch::split_kv_b_k(*src.at(0), nh, nope, v, lora);
    };
  } else {
    plan.name = arch::gguf_layer(il) + "attn_v_b.weight";
    plan.shape = {nh, v, lora};
    plan.transform = [=](const std::vector<const std::vector<float>*>& src) {
      return arch::split_kv_b_v(*src.at(0), nh, nope, v, lora);
    };
  }
  return plan;
}

void plan_mla_attention(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il) {
  using namespace arch;
  const std::string h = hf_layer(il), a = h + "self_attn.", g = gguf_layer(il);
  out.push_back(plan_copy(g + "attn_norm.weight", h + "input_layernorm.weight", {c.hidden_size}, false));
  if (c.q_lora_rank > 0) {
    out.push_back(plan_copy(g + "attn_q_a_norm.weight", a + "q_a_layernorm.weight", {c.q_lora_rank}, false));
    out.push_back(plan_copy(g + "attn_q_a.weight", a + "q_a_proj.weight", {c.q_lora_rank, c.hidden_size}));
    out.push_back(plan_copy(g + "attn_q_b.weight", a + "q_b_proj.weight", {c.n_heads * c.head_dim, c.q_lora_rank}));
  } else {
    out.push_back(plan_copy(g + "attn_q.weight", a + "q_proj.weight", {c.n_heads * c.head_dim, c.hidden_size}));
  }
  out.push_back(plan_copy(g + "attn_kv_a_norm.weight", a + "kv_a_layernorm.weight", {c.kv_lora_rank}, false));
  out.push_back(plan_copy(g + "attn_kv_a_mqa.weight", a + "kv_a_proj_with_mqa.weight",
                          {c.kv_lora_rank + c.qk_rope_head_dim, c.hidden_size}));
  out.push_back(plan_kv_b_half(c, il, /*key=*/true));
  out.push_back(plan_kv_b_half(c, il, /*key=*/false));
  out.push_back(plan_copy(g + "attn_output.weight", a + "o_proj.weight", {c.hidden_size, c.n_heads * c.v_head_dim}));
  out.push_back(plan_copy(g + "ffn_norm.weight", h + "post_attention_layernorm.weight", {c.hidden_size}, false));
}

// DeepseekV2Model.set_gguf_parameters, in its order, after the common keys.
void write_metadata(const ModelConfig& c, GGUFWriter& w) {
  using namespace arch;
  const std::string& a = c.arch;
  write_common_gguf_metadata(c, w);
  gguf_set_u32(w, a, "attention.head_count_kv", 1);  // MLA is stored as MQA over the latent
  write_expert_counts(c, w);
  if (c.n_group > 0) {
    gguf_set_u32(w, a, "expert_group_count", c.n_group);
    gguf_set_u32(w, a, "expert_group_used_count", c.topk_group);
  }
  gguf_set_u32(w, a, "expert_gating_func", gating_func_id(c.scoring_func));
  gguf_set_u32(w, a, "leading_dense_block_count", c.first_k_dense_replace);
  gguf_set_u32(w, a, "vocab_size", c.vocab_size);
  // The converter writes q_lora_rank only when the config has one; llama.cpp then requires it
  // unless the model has V2-Lite's exact depth (27 layers), so a depth-reduced V2-Lite would not
  // load. Writing 0 ("no q compression") means the same to llama.cpp and loads at any depth.
  gguf_set_u32(w, a, "attention.q_lora_rank", c.q_lora_rank);
  gguf_set_u32(w, a, "attention.kv_lora_rank", c.kv_lora_rank);
  gguf_set_u32(w, a, "attention.key_length", c.kv_lora_rank + c.qk_rope_head_dim);
  gguf_set_u32(w, a, "attention.value_length", c.kv_lora_rank);
  gguf_set_u32(w, a, "attention.key_length_mla", c.qk_nope_head_dim + c.qk_rope_head_dim);
  gguf_set_u32(w, a, "attention.value_length_mla", c.v_head_dim);
  gguf_set_u32(w, a, "expert_feed_forward_length", c.moe_intermediate_size);
  gguf_set_u32(w, a, "expert_shared_count", c.n_shared_experts);
  gguf_set_f32(w, a, "expert_weights_scale", c.routed_scaling_factor);
  if (c.norm_topk_prob) gguf_set_bool(w, a, "expert_weights_norm", true);
  gguf_set_u32(w, a, "rope.dimension_count", c.qk_rope_head_dim);
  // [TAG_DEEPSEEK2_YARN_LOG_MUL_FIX]: the converter stores 0.1 * mscale_all_dim and llama.cpp
  // divides it back out.
  if (c.rope_scaling.type == "yarn" && c.rope_scaling.mscale_all_dim != 0.0)
    gguf_set_f32(w, a, "rope.scaling.yarn_log_multiplier", 0.1 * c.rope_scaling.mscale_all_dim);
}

void read_metadata(const GGUFFile& f, ModelConfig& c) {
  using namespace arch;
  const std::string& a = c.arch;
  c.kv_lora_rank = gguf_arch_int(f, a, "attention.kv_lora_rank");
  c.q_lora_rank = gguf_arch_int_opt(f, a, "attention.q_lora_rank").value_or(0);
  c.head_dim = gguf_arch_int(f, a, "attention.key_length_mla");
  c.v_head_dim = gguf_arch_int(f, a, "attention.value_length_mla");
  c.qk_rope_head_dim = gguf_arch_int(f, a, "rope.dimension_count");
  c.qk_nope_head_dim = c.head_dim - c.qk_rope_head_dim;
  if (c.qk_nope_head_dim < 1)
    fail("key {}.attention.key_length_mla: {} leaves no room beside {} rope dims", a, c.head_dim, c.qk_rope_head_dim);
  c.rotary_dim = c.qk_rope_head_dim;
  c.n_kv_heads = c.n_heads;  // the MQA view of the file; the model decompresses to full MHA
  c.rope_interleaved = true;

  c.first_k_dense_replace = gguf_arch_int_opt(f, a, "leading_dense_block_count").value_or(0);
  c.moe_intermediate_size = gguf_arch_int(f, a, "expert_feed_forward_length");
  c.n_shared_experts = gguf_arch_int_opt(f, a, "expert_shared_count").value_or(0);
  c.shared_expert_intermediate_size = c.moe_intermediate_size * c.n_shared_experts;
  c.n_group = gguf_arch_int_opt(f, a, "expert_group_count").value_or(0);
  c.topk_group = gguf_arch_int_opt(f, a, "expert_group_used_count").value_or(0);
  c.routed_scaling_factor = gguf_arch_float_opt(f, a, "expert_weights_scale").value_or(1.0);
  c.norm_topk_prob = gguf_arch_bool_opt(f, a, "expert_weights_norm").value_or(false);
  c.scoring_func = scoring_func_name(gguf_arch_int_opt(f, a, "expert_gating_func").value_or(kGatingSoftmax));
  c.expert_score_bias = f.find_tensor(fmt::format("blk.{}.exp_probs_b.bias", c.first_k_dense_replace)) != nullptr;
  if (auto log_mul = gguf_arch_float_opt(f, a, "rope.scaling.yarn_log_multiplier")) {
    // The file keeps only mscale_all_dim; every DeepSeek release has mscale == mscale_all_dim.
    c.rope_scaling.mscale_all_dim = *log_mul / 0.1;
    c.rope_scaling.mscale = c.rope_scaling.mscale_all_dim;
  }
}

}  // namespace deepseek2_arch

ArchSpec make_deepseek2_arch() {
  using namespace deepseek2_arch;
  ArchSpec spec;
  spec.arch = "deepseek2";
  spec.hf_architectures = {"DeepseekV2ForCausalLM", "DeepseekV3ForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json& hf, ModelConfig& c) {
    read_mla_keys(hf, c);
    read_moe_keys(hf, c);
  };
  spec.write_gguf_metadata = write_metadata;
  spec.read_gguf_metadata = read_metadata;

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    arch::add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers + c.n_nextn_layers; ++il) {
      add_mla_attention(out, c, il);
      arch::add_deepseek_moe_ffn(out, c, il);
      if (il >= c.n_layers) arch::add_nextn_extras(out, c, il);  // V3's MTP block
    }
    arch::add_output(out, c);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    arch::plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {  // the MTP layers are dropped, like the converter
      plan_mla_attention(out, c, il);
      arch::plan_deepseek_moe_ffn(out, c, il);
    }
    arch::plan_output(out, c);
    return out;
  };
  return spec;
}

}  // namespace dragon
