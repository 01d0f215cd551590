// The parts of the deepseek2 ArchSpec (arch_deepseek2.cc) that DeepSeek-V3.2 (arch_deepseek32.cc)
// shares: V3.2 is V3 plus a lightning indexer per layer, so its config keys, MLA tensors, MoE
// tensors and GGUF metadata are V3's, and only the indexer's are added on top.
#pragma once

#include <nlohmann/json.hpp>

#include <vector>

#include "models/arch.h"

namespace dragon::deepseek2_arch {

// config.json: kv_lora_rank, q_lora_rank, qk_*_head_dim, v_head_dim (adjacent-pair rope).
void read_mla_keys(const nlohmann::json& hf, ModelConfig& c);
// config.json: routed / shared experts, groups, scoring, first_k_dense_replace, MTP layers.
void read_moe_keys(const nlohmann::json& hf, ModelConfig& c);
// HF tensors of layer il's MLA attention and its two norms.
void add_mla_attention(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il);
// GGUF plans of the same (kv_b_proj split into attn_k_b / attn_v_b).
void plan_mla_attention(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il);
// DeepseekV2Model.set_gguf_parameters and its inverse.
void write_metadata(const ModelConfig& c, GGUFWriter& w);
void read_metadata(const GGUFFile& f, ModelConfig& c);

}  // namespace dragon::deepseek2_arch
