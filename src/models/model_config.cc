#include "models/model_config.h"

#include "models/arch_common.h"
#include "util/error.h"

namespace dragon {

nlohmann::json config_to_json(const ModelConfig& c) {
  nlohmann::json rope = {
      {"type", c.rope_scaling.type},
  };
  if (c.rope_scaling.type != "none") {
    rope["factor"] = c.rope_scaling.factor;
    rope["original_context_length"] = c.rope_scaling.original_context_length;
    if (c.rope_scaling.type == "yarn") {
      rope["beta_fast"] = c.rope_scaling.beta_fast;
      rope["beta_slow"] = c.rope_scaling.beta_slow;
      rope["mscale"] = c.rope_scaling.mscale;
      rope["mscale_all_dim"] = c.rope_scaling.mscale_all_dim;
      rope["attn_factor"] = c.rope_scaling.attn_factor;
    }
    if (c.rope_scaling.type == "llama3") {
      rope["low_freq_factor"] = c.rope_scaling.low_freq_factor;
      rope["high_freq_factor"] = c.rope_scaling.high_freq_factor;
    }
  }
  nlohmann::json j = {
      {"arch", c.arch},
      {"hf_architecture", c.hf_architecture},
      {"name", c.name},
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"n_layers", c.n_layers},
      {"n_heads", c.n_heads},
      {"n_kv_heads", c.n_kv_heads},
      {"head_dim", c.head_dim},
      {"v_head_dim", c.v_head_dim},
      {"intermediate_size", c.intermediate_size},
      {"context_length", c.context_length},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"norm_eps", c.norm_eps},
      {"attention_bias", c.attention_bias},
      {"attention_out_bias", c.attention_out_bias},
      {"mlp_bias", c.mlp_bias},
      {"qk_norm", c.qk_norm},
      {"rope_theta", c.rope_theta},
      {"rotary_dim", c.rotary_dim},
      {"rope_interleaved", c.rope_interleaved},
      {"rope_scaling", rope},
      {"alibi", c.alibi},
      {"bos_token_id", c.bos_token_id},
      {"eos_token_id", c.eos_token_id},
  };
  if (c.is_moe()) {
    j["moe"] = {
        {"n_experts", c.n_experts},
        {"n_experts_used", c.n_experts_used},
        {"n_shared_experts", c.n_shared_experts},
        {"moe_intermediate_size", c.moe_intermediate_size},
        {"shared_expert_intermediate_size", c.shared_expert_intermediate_size},
        {"first_k_dense_replace", c.first_k_dense_replace},
        {"moe_layer_freq", c.moe_layer_freq},
        {"n_group", c.n_group},
        {"topk_group", c.topk_group},
        {"norm_topk_prob", c.norm_topk_prob},
        {"routed_scaling_factor", c.routed_scaling_factor},
        {"scoring_func", c.scoring_func},
        {"expert_score_bias", c.expert_score_bias},
    };
  }
  if (c.is_mla()) {
    j["mla"] = {
        {"q_lora_rank", c.q_lora_rank},
        {"kv_lora_rank", c.kv_lora_rank},
        {"qk_nope_head_dim", c.qk_nope_head_dim},
        {"qk_rope_head_dim", c.qk_rope_head_dim},
        {"nope", c.mla_nope},
    };
  }
  if (c.n_nextn_layers > 0) j["n_nextn_layers"] = c.n_nextn_layers;
  if (c.hc_mult > 0) {
    j["hyper_connections"] = {{"hc_mult", c.hc_mult}, {"hc_eps", c.hc_eps}, {"hc_magnitude", c.hc_magnitude}};
  }
  if (c.attention_sinks) j["attention_sinks"] = true;
  if (c.attention_output_gate) j["attention_output_gate"] = true;
  if (c.swiglu_limit > 0.0) j["swiglu_limit"] = c.swiglu_limit;
  if (c.is_dsa()) {
    j["sparse_attention"] = {
        {"index_n_heads", c.index_n_heads},
        {"index_head_dim", c.index_head_dim},
        {"index_topk", c.index_topk},
        {"index_rope_interleaved", c.index_rope_interleaved},
    };
  }
  if (c.is_msa()) {
    j["minimax_sparse_attention"] = {
        {"index_n_heads", c.index_n_heads},
        {"index_head_dim", c.index_head_dim},
        {"block_size", c.msa_block_size},
        {"topk_blocks", c.msa_topk_blocks},
        {"local_blocks", c.msa_local_blocks},
    };
  }
  if (c.swiglu_oai) j["ffn_activation"] = "swigluoai";
  if (c.is_hybrid()) {
    j["linear_attention"] = {
        {"full_attention_interval", c.full_attention_interval},
        {"recurrent_layers", c.recurrent_layers},
        {"kda", c.linear_kda},
        {"n_k_heads", c.linear_n_k_heads},
        {"n_v_heads", c.linear_n_v_heads},
        {"k_head_dim", c.linear_k_head_dim},
        {"v_head_dim", c.linear_v_head_dim},
        {"conv_kernel", c.linear_conv_kernel},
        {"state_floats_per_layer", c.recurrent_state_floats()},
    };
  }
  if (c.attn_res_block_size > 0 || c.situ_beta > 0 || c.expert_latent_size > 0 || c.kda_full_rank_gate ||
      c.mla_output_gate || c.kda_gate_lower_bound != 0) {
    j["kimi_k3"] = {
        {"attn_res_block_size", c.attn_res_block_size}, {"situ_beta", c.situ_beta},
        {"situ_linear_beta", c.situ_linear_beta},       {"expert_latent_size", c.expert_latent_size},
        {"kda_full_rank_gate", c.kda_full_rank_gate},   {"kda_gate_lower_bound", c.kda_gate_lower_bound},
        {"mla_output_gate", c.mla_output_gate},
    };
  }
  if (c.residual_from_norm || c.residual_alpha_linear != 1.0 || c.residual_alpha_full != 1.0 ||
      c.residual_alpha_mlp != 1.0 || c.residual_beta_linear != 1.0 || c.residual_beta_full != 1.0 ||
      c.residual_beta_mlp != 1.0) {
    j["residual_scaling"] = {
        {"from_norm", c.residual_from_norm},
        {"alpha_linear", c.residual_alpha_linear}, {"beta_linear", c.residual_beta_linear},
        {"alpha_full", c.residual_alpha_full},     {"beta_full", c.residual_beta_full},
        {"alpha_mlp", c.residual_alpha_mlp},       {"beta_mlp", c.residual_beta_mlp},
    };
  }
  return j;
}

namespace {

void check_range(const char* field, int64_t value, int64_t min, int64_t max) {
  if (value < min || value > max) fail("config {}: value {} out of range [{}, {}]", field, value, min, max);
}

}  // namespace

void validate_config(const ModelConfig& c) {
  check_range("vocab_size", c.vocab_size, 1, arch::kMaxVocab);
  check_range("hidden_size", c.hidden_size, 1, arch::kMaxHidden);
  check_range("n_layers (num_hidden_layers)", c.n_layers, 1, arch::kMaxLayers);
  check_range("n_heads (num_attention_heads)", c.n_heads, 1, arch::kMaxHeads);
  check_range("n_kv_heads (num_key_value_heads)", c.n_kv_heads, 1, c.n_heads);
  if (c.n_heads % c.n_kv_heads != 0)
    fail("config num_key_value_heads: {} does not divide num_attention_heads {}", c.n_kv_heads, c.n_heads);
  check_range("head_dim", c.head_dim, 1, arch::kMaxHeadDim);
  check_range("v_head_dim", c.v_head_dim, 0, arch::kMaxHeadDim);
  check_range("intermediate_size", c.intermediate_size, 0, arch::kMaxFFN);
  check_range("context_length (max_position_embeddings)", c.context_length, 1, arch::kMaxContext);
  check_range("rotary_dim", c.rotary_dim, 0, std::max(c.head_dim, c.qk_rope_head_dim));
  if (c.rotary_dim % 2 != 0) fail("config rotary_dim: {} is odd", c.rotary_dim);
  if (!(c.norm_eps > 0 && c.norm_eps <= 1)) fail("config norm_eps: {} is not in (0, 1]", c.norm_eps);
  if (!(c.rope_theta > 0)) fail("config rope_theta: {} is not positive", c.rope_theta);
  if (c.bos_token_id >= c.vocab_size) fail("config bos_token_id: {} >= vocab_size {}", c.bos_token_id, c.vocab_size);
  if (c.eos_token_id >= c.vocab_size) fail("config eos_token_id: {} >= vocab_size {}", c.eos_token_id, c.vocab_size);

  if (c.is_moe()) {
    check_range("n_experts", c.n_experts, 1, arch::kMaxExperts);
    check_range("n_experts_used (num_experts_per_tok)", c.n_experts_used, 1, c.n_experts);
    check_range("n_shared_experts", c.n_shared_experts, 0, arch::kMaxExperts);
    check_range("moe_intermediate_size", c.moe_intermediate_size, 1, arch::kMaxFFN);
    check_range("shared_expert_intermediate_size", c.shared_expert_intermediate_size, 0, arch::kMaxFFN);
    check_range("first_k_dense_replace", c.first_k_dense_replace, 0, c.n_layers);
    check_range("moe_layer_freq", c.moe_layer_freq, 0, c.n_layers);
    if (c.n_group > 0) {
      if (c.n_experts % c.n_group != 0) fail("config n_group: {} does not divide n_experts {}", c.n_group, c.n_experts);
      check_range("topk_group", c.topk_group, 1, c.n_group);
    }
  }
  if (c.is_mla()) {
    check_range("kv_lora_rank", c.kv_lora_rank, 1, arch::kMaxHidden);
    check_range("q_lora_rank", c.q_lora_rank, 0, arch::kMaxHidden);
    check_range("qk_nope_head_dim", c.qk_nope_head_dim, 1, arch::kMaxHeadDim);
    check_range("qk_rope_head_dim", c.qk_rope_head_dim, 2, arch::kMaxHeadDim);
  }
  check_range("n_nextn_layers", c.n_nextn_layers, 0, arch::kMaxLayers);
  check_range("hc_mult", c.hc_mult, 0, 64);
  if (c.hc_mult > 0 && !(c.hc_eps >= 0.0 && c.hc_eps < 1.0)) fail("config hc_eps: {} is not in [0, 1)", c.hc_eps);
  if (c.hc_mult > 0 && !(c.hc_magnitude > 0.0 && c.hc_magnitude < 1e3))
    fail("config hc_magnitude: {} is not in (0, 1000)", c.hc_magnitude);
  if (!(c.swiglu_limit >= 0.0 && c.swiglu_limit < 1e9)) fail("config swiglu_limit: {} is not in [0, 1e9)", c.swiglu_limit);
  if (c.is_dsa()) {
    if (!c.is_mla()) fail("config index_topk: sparse attention (DSA) needs MLA (kv_lora_rank)");
    check_range("index_n_heads", c.index_n_heads, 1, arch::kMaxHeads);
    check_range("index_head_dim", c.index_head_dim, c.qk_rope_head_dim, arch::kMaxHeadDim);
    check_range("index_topk", c.index_topk, 1, int64_t{1} << 24);
  }
  if (c.is_msa()) {
    if (c.is_mla() || c.is_dsa()) fail("config sparse_attention_config: MSA is for GQA attention, not MLA / DSA");
    check_range("sparse_block_size", c.msa_block_size, 1, 1 << 16);
    check_range("sparse_topk_blocks", c.msa_topk_blocks, 1, 1 << 24);
    check_range("sparse_local_block", c.msa_local_blocks, 0, c.msa_topk_blocks);
    check_range("sparse_index_dim", c.index_head_dim, c.rotary_dim ? c.rotary_dim : c.head_dim, arch::kMaxHeadDim);
    // llama.cpp's graph gives every GQA group its own indexer head.
    if (c.index_n_heads != c.n_kv_heads)
      fail("config sparse_num_index_heads: {} indexer heads for {} kv heads (MSA needs one per kv head)",
           c.index_n_heads, c.n_kv_heads);
  }
  if (c.is_hybrid()) {
    if (c.recurrent_layers.empty())
      check_range("full_attention_interval", c.full_attention_interval, 1, arch::kMaxLayers);
    else if (static_cast<int64_t>(c.recurrent_layers.size()) != c.n_layers)
      fail("config recurrent layer pattern: {} entries for {} layers", c.recurrent_layers.size(), c.n_layers);
    check_range("linear_num_key_heads", c.linear_n_k_heads, 1, arch::kMaxHeads);
    check_range("linear_num_value_heads", c.linear_n_v_heads, 1, arch::kMaxHeads);
    if (c.linear_n_v_heads % c.linear_n_k_heads != 0)
      fail("config linear_num_key_heads: {} does not divide linear_num_value_heads {}", c.linear_n_k_heads,
           c.linear_n_v_heads);
    check_range("linear_key_head_dim", c.linear_k_head_dim, 1, arch::kMaxHeadDim);
    check_range("linear_value_head_dim", c.linear_v_head_dim, 1, arch::kMaxHeadDim);
    check_range("linear_conv_kernel_dim", c.linear_conv_kernel, 1, 64);
  }
  check_range("expert_latent_size (routed_expert_hidden_size)", c.expert_latent_size, 0, arch::kMaxHidden);
  check_range("attn_res_block_size", c.attn_res_block_size, 0, arch::kMaxLayers);
  if (!(c.situ_beta >= 0 && c.situ_beta < 1e6) || !(c.situ_linear_beta >= 0 && c.situ_linear_beta < 1e6))
    fail("config activation_situ_beta / activation_situ_linear_beta: {} / {} (expected >= 0)", c.situ_beta,
         c.situ_linear_beta);
  if (!(c.kda_gate_lower_bound <= 0 && c.kda_gate_lower_bound > -1e6))
    fail("config linear_attn_config.gate_lower_bound: {} (expected a negative number)", c.kda_gate_lower_bound);
}

}  // namespace dragon
