// ERNIE 4.5 MoE (Ernie4_5_MoeForCausalLM: ERNIE-4.5-21B-A3B, -300B-A47B; the "-PT" repos), from
// transformers' modeling_ernie4_5_moe.py:
//  - the ERNIE 4.5 dense attention (arch_ernie4_5.cc): no biases (use_bias false), adjacent-pair
//    rope that llama.cpp's LLAMA_ROPE_TYPE_NORM matches without permutation;
//  - layers before moe_layer_start_index are dense (intermediate_size); the others, every
//    moe_layer_interval-th up to moe_layer_end_index, are MoE: a softmax router mlp.gate (F32 in
//    the checkpoints), top moe_k of moe_num_experts experts chosen on probabilities PLUS
//    mlp.moe_statics.e_score_correction_bias [1, n_experts] (moe_use_aux_free), weights
//    renormalised; moe_num_shared_experts shared experts fused into mlp.shared_experts of width
//    moe_intermediate_size * moe_num_shared_experts.
// Only interval 1 and an end index at the last layer (every release) are accepted: llama.cpp
// creates MoE tensors for every layer from leading_dense_block_count on.
// The release's MTP weights (mtp_block, mtp_emb_norm, ...) are dropped by the converter and not
// produced here.
// GGUF (conversion/ernie.py Ernie4_5MoeModel): expert_count / expert_used_count from moe_*,
// interleave_moe_layer_step, leading_dense_block_count, expert_shared_count and
// expert_shared_feed_forward_length. The converter computes the latter as intermediate_size /
// num_key_value_heads, which equals the shared experts' true width on every release
// (12288 / 4 = 2 * 1536); dragon writes the true width so a file with overridden sizes still
// loads. The correction bias keeps its HF shape [1, n_experts] (ggml ne {n, 1}).
// llama.cpp: src/models/ernie4-5.cpp (tensors), ernie4-5-moe.cpp (graph).
#include "io/gguf.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

namespace {

// Softmax probabilities are ~1/n_experts, so the bias is scaled to them (see hf_expert_bias).
double ernie_bias_std(const ModelConfig& c) { return 0.05 / static_cast<double>(c.n_experts); }

}  // namespace

ArchSpec make_ernie4_5_moe_arch() {
  ArchSpec spec;
  spec.arch = "ernie4_5-moe";
  spec.hf_architectures = {"Ernie4_5_MoeForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json& hf, ModelConfig& c) {
    using namespace arch;
    for (const char* key : {"moe_num_experts", "moe_k", "moe_intermediate_size"})
      if (!hf_has(hf, key)) fail("missing key {}", key);
    const bool bias = hf_bool(hf, "use_bias", false);
    if (bias) fail("key use_bias: true is not supported (llama.cpp's ernie4_5-moe loads no FFN biases)");
    c.rope_interleaved = true;
    c.n_experts = hf_int(hf, "moe_num_experts", 0, 1, kMaxExperts);
    c.n_experts_used = hf_int(hf, "moe_k", 0, 1, kMaxExperts);
    c.n_shared_experts = hf_int(hf, "moe_num_shared_experts", 0, 0, kMaxExperts);
    c.moe_intermediate_size = hf_int(hf, "moe_intermediate_size", 0, 1, kMaxFFN);
    c.shared_expert_intermediate_size = c.moe_intermediate_size * c.n_shared_experts;
    c.first_k_dense_replace = hf_int(hf, "moe_layer_start_index", 0, 0, kMaxLayers);
    c.moe_layer_freq = hf_int(hf, "moe_layer_interval", 1, 1, kMaxLayers);
    if (c.moe_layer_freq != 1)
      fail("key moe_layer_interval: {} is not supported (llama.cpp's ernie4_5-moe loads experts on every layer)",
           c.moe_layer_freq);
    // -1 or absent: up to the last layer; --layers may leave an end index beyond the last layer.
    const int64_t end = hf_int(hf, "moe_layer_end_index", -1, -1, kMaxLayers);
    if (end >= 0 && end < c.n_layers - 1)
      fail("key moe_layer_end_index: {} leaves dense layers after the MoE ones, which llama.cpp does not support",
           end);
    c.norm_topk_prob = true;
    c.scoring_func = "softmax";
    c.expert_score_bias = hf_bool(hf, "moe_use_aux_free", false);
  };

  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) {
    using namespace arch;
    const std::string& a = c.arch;
    write_common_gguf_metadata(c, w);
    write_expert_counts(c, w);
    gguf_set_u32(w, a, "interleave_moe_layer_step", c.moe_layer_freq);
    gguf_set_u32(w, a, "leading_dense_block_count", c.first_k_dense_replace);
    gguf_set_u32(w, a, "expert_feed_forward_length", c.moe_intermediate_size);
    gguf_set_u32(w, a, "expert_shared_count", c.n_shared_experts);
    if (c.n_shared_experts > 0) gguf_set_u32(w, a, "expert_shared_feed_forward_length", c.shared_expert_intermediate_size);
  };

  spec.read_gguf_metadata = [](const GGUFFile& f, ModelConfig& c) {
    using namespace arch;
    const std::string& a = c.arch;
    c.rope_interleaved = true;
    c.moe_layer_freq = gguf_arch_int(f, a, "interleave_moe_layer_step");
    c.first_k_dense_replace = gguf_arch_int_opt(f, a, "leading_dense_block_count").value_or(0);
    c.moe_intermediate_size = gguf_arch_int(f, a, "expert_feed_forward_length");
    c.n_shared_experts = gguf_arch_int_opt(f, a, "expert_shared_count").value_or(0);
    c.shared_expert_intermediate_size = gguf_arch_int_opt(f, a, "expert_shared_feed_forward_length").value_or(0);
    c.norm_topk_prob = true;
    c.scoring_func = "softmax";
    c.expert_score_bias = f.find_tensor(gguf_layer(c.first_k_dense_replace) + "exp_probs_b.bias") != nullptr;
  };

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    arch::add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string mlp = arch::hf_layer(il) + "mlp.";
      arch::add_attention(out, c, il, arch::AttentionLayout{});
      if (!c.layer_is_moe(il)) {
        arch::add_dense_ffn(out, c, mlp, c.intermediate_size);
        continue;
      }
      out.push_back(arch::hf_router(mlp + "gate.weight", c.n_experts, c.hidden_size));
      arch::add_experts(out, c, mlp + "experts.", c.n_experts, c.moe_intermediate_size);
      if (c.n_shared_experts > 0) arch::add_dense_ffn(out, c, mlp + "shared_experts.", c.shared_expert_intermediate_size);
      if (c.expert_score_bias)
        out.push_back(arch::hf_expert_bias(mlp + "moe_statics.e_score_correction_bias", {1, c.n_experts},
                                           ernie_bias_std(c)));
    }
    arch::add_output(out, c);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    arch::plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string mlp = arch::hf_layer(il) + "mlp.";
      arch::plan_attention(out, c, il, arch::AttentionLayout{});
      if (!c.layer_is_moe(il)) {
        arch::plan_dense_ffn(out, c, il, mlp, c.intermediate_size);
        continue;
      }
      arch::plan_router(out, c, il, mlp + "gate.weight");
      if (c.expert_score_bias)
        arch::plan_expert_bias(out, il, mlp + "moe_statics.e_score_correction_bias", {1, c.n_experts});
      arch::plan_experts(out, c, il, mlp + "experts.", c.n_experts, c.moe_intermediate_size);
      if (c.n_shared_experts > 0)
        arch::plan_dense_ffn(out, c, il, mlp + "shared_experts.", c.shared_expert_intermediate_size, "_shexp");
    }
    arch::plan_output(out, c);
    return out;
  };
  return spec;
}

}  // namespace dragon
