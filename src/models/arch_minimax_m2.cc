// MiniMax-M2 (MiniMaxM2ForCausalLM), from the release's modeling_minimax_m2.py:
//  - GQA attention, head_dim 128, NeoX rope on the first rotary_dim (64) dims of each head;
//    QK-norm "per_layer": ONE RMSNorm over the whole q projection (n_heads * head_dim) and one
//    over the whole k projection (n_kv_heads * head_dim), not per head as in Qwen3;
//  - every layer a sparse MoE block (block_sparse_moe): sigmoid router `gate` with an
//    e_score_correction_bias used for selection (use_routing_bias), top-k of num_local_experts
//    experts named w1 (gate) / w3 (up) / w2 (down), intermediate_size wide, weights
//    renormalised; no shared expert (shared_intermediate_size 0) and no dense FFN.
// The release also announces MTP modules (use_mtp, num_mtp_modules) but ships no MTP weights, and
// the converter maps none.
// GGUF (conversion/minimax.py MiniMaxM2Model): expert_feed_forward_length = intermediate_size,
// rope.dimension_count = rotary_dim; llama.cpp requires output.weight (no tied embeddings).
// llama.cpp: src/models/minimax-m2.cpp.
#include "io/gguf.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

namespace {

const arch::ExpertProjNames kExpertNames{"w1", "w3", "w2"};

// Attention without QK-norm from the shared helper, plus MiniMax's whole-projection norms.
void add_minimax_attention(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il) {
  arch::add_attention(out, c, il, arch::AttentionLayout{});
  const std::string a = arch::hf_layer(il) + "self_attn.";
  out.push_back(arch::hf_norm(a + "q_norm.weight", c.n_heads * c.head_dim));
  out.push_back(arch::hf_norm(a + "k_norm.weight", c.n_kv_heads * c.head_dim));
}

void plan_minimax_attention(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il) {
  arch::plan_attention(out, c, il, arch::AttentionLayout{});
  const std::string a = arch::hf_layer(il) + "self_attn.", g = arch::gguf_layer(il);
  out.push_back(arch::plan_copy(g + "attn_q_norm.weight", a + "q_norm.weight", {c.n_heads * c.head_dim}, false));
  out.push_back(arch::plan_copy(g + "attn_k_norm.weight", a + "k_norm.weight", {c.n_kv_heads * c.head_dim}, false));
}

}  // namespace

ArchSpec make_minimax_m2_arch() {
  ArchSpec spec;
  spec.arch = "minimax-m2";
  spec.hf_architectures = {"MiniMaxM2ForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json& hf, ModelConfig& c) {
    using namespace arch;
    for (const char* key : {"num_local_experts", "num_experts_per_tok", "intermediate_size"})
      if (!hf_has(hf, key)) fail("missing key {}", key);
    if (hf_has(hf, "rotary_dim")) c.rotary_dim = hf_int(hf, "rotary_dim", 0, 2, c.head_dim);
    c.rope_interleaved = false;
    if (hf_bool(hf, "use_qk_norm", true) && hf_string(hf, "qk_norm_type", "per_layer") != "per_layer")
      fail("key qk_norm_type: only \"per_layer\" is supported (llama.cpp's minimax-m2 norms the whole projection)");
    c.qk_norm = false;  // ModelConfig::qk_norm means per-head norms; MiniMax's are per projection
    c.n_experts = hf_int(hf, "num_local_experts", 0, 1, kMaxExperts);
    c.n_experts_used = hf_int(hf, "num_experts_per_tok", 0, 1, kMaxExperts);
    c.moe_intermediate_size = c.intermediate_size;
    if (hf_int(hf, "shared_intermediate_size", 0, 0, kMaxFFN) != 0)
      fail("key shared_intermediate_size: shared experts are not supported (llama.cpp's minimax-m2 has none)");
    c.norm_topk_prob = true;
    c.scoring_func = hf_string(hf, "scoring_func", "sigmoid");
    gating_func_id(c.scoring_func);
    c.expert_score_bias = hf_bool(hf, "use_routing_bias", true);
    if (!c.expert_score_bias)
      fail("key use_routing_bias: false is not supported (llama.cpp's minimax-m2 requires exp_probs_b)");
  };

  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) {
    using namespace arch;
    write_common_gguf_metadata(c, w);
    write_expert_counts(c, w);
    gguf_set_u32(w, c.arch, "expert_gating_func", gating_func_id(c.scoring_func));
    gguf_set_u32(w, c.arch, "expert_feed_forward_length", c.moe_intermediate_size);
  };

  spec.read_gguf_metadata = [](const GGUFFile& f, ModelConfig& c) {
    using namespace arch;
    c.moe_intermediate_size = gguf_arch_int_opt(f, c.arch, "expert_feed_forward_length").value_or(c.intermediate_size);
    c.scoring_func = scoring_func_name(gguf_arch_int_opt(f, c.arch, "expert_gating_func").value_or(kGatingSigmoid));
    c.norm_topk_prob = true;
    c.expert_score_bias = true;
    c.rope_interleaved = false;
  };

  spec.hf_tensors = [](const ModelConfig& c) {
    if (c.tie_word_embeddings) fail("arch minimax-m2: tie_word_embeddings is not supported (llama.cpp needs output.weight)");
    std::vector<HFTensorSpec> out;
    arch::add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string moe = arch::hf_layer(il) + "block_sparse_moe.";
      add_minimax_attention(out, c, il);
      out.push_back(arch::hf_router(moe + "gate.weight", c.n_experts, c.hidden_size));
      out.push_back(arch::hf_expert_bias(moe + "e_score_correction_bias", {c.n_experts}, arch::kSigmoidScoreBiasStd));
      arch::add_experts(out, c, moe + "experts.", c.n_experts, c.moe_intermediate_size, kExpertNames);
    }
    arch::add_output(out, c);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    arch::plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string moe = arch::hf_layer(il) + "block_sparse_moe.";
      plan_minimax_attention(out, c, il);
      arch::plan_router(out, c, il, moe + "gate.weight");
      arch::plan_expert_bias(out, il, moe + "e_score_correction_bias", {c.n_experts});
      arch::plan_experts(out, c, il, moe + "experts.", c.n_experts, c.moe_intermediate_size, kExpertNames);
    }
    arch::plan_output(out, c);
    return out;
  };
  return spec;
}

}  // namespace dragon
