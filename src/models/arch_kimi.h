// Helpers shared by the Kimi hybrid family files (arch_kimi_linear.cc, arch_kimi_k3.cc): the
// linear_attn_config / MLA / MoE keys of config.json and their GGUF metadata, and the KDA, MLA and
// MoE tensors of one layer on both sides. What differs between Kimi Linear and Kimi-K3 is read
// from the ModelConfig fields the family sets (kda_full_rank_gate, mla_output_gate,
// q_lora_rank, expert_latent_size), so Kimi Linear's layout is the one with those unset.
#pragma once

#include <string>
#include <vector>

#include "models/arch_common.h"

namespace dragon::arch::kimi {

// linear_attn_config: the KDA heads, conv kernel, the 1-based full_attn_layers (the others are
// KDA layers). gate_lower_bound and use_full_rank_gate are accepted only when `k3` (Kimi-K3).
void read_linear_attn_config(const json& hf, ModelConfig& c, bool k3);
// The MLA keys (mla_use_nope must be true); q_lora_rank must be null unless `allow_q_lora`.
void read_mla(const json& hf, ModelConfig& c, bool allow_q_lora);
// The MoE keys (sigmoid router with e_score_correction_bias, renormalised, one group).
void read_moe(const json& hf, ModelConfig& c);

// The GGUF keys both converters write (head_count_kv per layer, ssm/kda, MLA lengths, MoE) and
// read back; attention.value_length is left to the family (the two converters differ).
void write_metadata(const ModelConfig& c, GGUFWriter& w);
void read_metadata(const GGUFFile& f, ModelConfig& c);

// One layer's token mixer under HF prefix p ("...self_attn.") and its GGUF plans.
void add_kda(std::vector<HFTensorSpec>& out, const ModelConfig& c, const std::string& p);
void plan_kda(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il, const std::string& p);
void add_mla(std::vector<HFTensorSpec>& out, const ModelConfig& c, const std::string& p);
void plan_mla(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il, const std::string& p);
// The FFN of layer il under HF prefix p ("model.layers.il."): mlp.* (dense) or
// block_sparse_moe.* (router, bias, experts w1/w3/w2, shared experts; Kimi-K3's latent
// routed_expert_down_proj / _up_proj / _norm when expert_latent_size > 0).
void add_ffn(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il, const std::string& p);
void plan_ffn(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il, const std::string& p);

}  // namespace dragon::arch::kimi
