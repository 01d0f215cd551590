// Helpers shared by the hybrid linear-attention family files (arch_qwen3next.cc, arch_qwen35.cc):
// the zero-centred norms, the gated full-attention layer, and the Gated DeltaNet config keys in
// HF config.json and GGUF metadata. What only one family does (Qwen3-Next's fused in_proj_qkvz,
// Qwen3.5's v-head reordering) stays in that family's file.
#pragma once

#include <string>
#include <vector>

#include "models/arch_common.h"

namespace dragon::arch {

// A zero-centred norm weight y = x_hat * (1 + w): small values around 0, so a kernel that forgets
// the 1 or the weight changes the logits.
HFTensorSpec hf_centred_norm(std::string name, int64_t dim);
// Its GGUF twin: w + 1 (llama.cpp's converter adds the 1).
GGUFTensorPlan plan_centred_norm(std::string gguf_name, std::string hf_name, int64_t dim);

// The gated attention layer under HF prefix p ("...self_attn."): q_proj twice as wide (per head
// [query | output gate]), k/v/o, centred q/k norms; and its GGUF plans.
void add_gated_attention(std::vector<HFTensorSpec>& out, const ModelConfig& c, const std::string& p);
void plan_gated_attention(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il, const std::string& p);

// HF keys linear_num_key_heads ... linear_conv_kernel_dim, full_attention_interval, layer_types
// (checked against the interval) and the 0.25 partial rotary default of Qwen3NextConfig.
void read_linear_attention_hf(const json& hf, ModelConfig& c);
// "<arch>.ssm.*" and "<arch>.full_attention_interval" (Qwen3NextModel.set_gguf_parameters), and
// "<arch>.attention.recurrent_layers" when the HF config lists layer_types (as the converter does).
void write_linear_attention_gguf(const ModelConfig& c, GGUFWriter& w);
void read_linear_attention_gguf(const GGUFFile& f, ModelConfig& c);

}  // namespace dragon::arch
