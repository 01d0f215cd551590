// MiniMax-M3 (MiniMaxM3SparseForCausalLM, model_type minimax_m3): the text model of the release,
// as llama.cpp's converter (conversion/minimax.py MiniMaxM3Model, a MiniMaxM2Model) and graph
// (src/models/minimax-m3.cpp) read it. The official modeling code is not public in reach here, so
// the layout below is the converter's (HF names through gguf-py's tensor_mapping.py):
//  - GQA attention without biases, per-head q_norm / k_norm [head_dim] (unlike M2's whole-projection
//    norms), NeoX rope on the first rotary_dim dims of each head;
//  - Gemma-style norms y = x_hat * (1 + w): the converter adds 1 to EVERY "*norm.weight" (layer
//    norms, q/k norms, the indexer's norms, model.norm), and so do the plans here;
//  - moe_layer_freq lists 0 (dense mlp.{gate,up,down}_proj, dense_intermediate_size wide) or 1
//    (MoE) per layer; llama.cpp supports only a leading dense run (leading_dense_block_count);
//  - MoE layers (block_sparse_moe.*): sigmoid router `gate` + e_score_correction_bias (choice only),
//    top-k renormalised (expert_weights_norm is written true) times routed_scaling_factor, experts
//    w1 (gate) / w3 (up) / w2 (down) intermediate_size wide, plus n_shared_experts fused shared
//    experts (shared_experts.{gate,up,down}_proj, intermediate_size * n_shared_experts);
//  - every FFN uses gpt-oss's clamped swigluoai activation;
//  - MoE layers also carry the MSA indexer (self_attn.index_{q,k}_proj, index_{q,k}_norm; F32 in
//    the GGUF): sparse_attention_config gives its heads (one per kv head), dim, top-k blocks, block
//    size and forced local blocks (models/msa.h).
#include "io/gguf.h"
#include "models/arch_hybrid.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

namespace {

using namespace arch;

const ExpertProjNames kExpertNames{"w1", "w3", "w2"};

bool is_norm_weight(const std::string& name) {
  const std::string suffix = "norm.weight";
  return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The release's norms are zero-centred (1 + w): small values around 0 in HF, +1 in the GGUF.
void centre_hf_norms(std::vector<HFTensorSpec>& out) {
  for (HFTensorSpec& t : out)
    if (is_norm_weight(t.name)) t = hf_centred_norm(t.name, t.shape.at(0));
}
void centre_gguf_norms(std::vector<GGUFTensorPlan>& out) {
  for (GGUFTensorPlan& p : out)
    if (p.sources.size() == 1 && is_norm_weight(p.sources[0])) p = plan_centred_norm(p.name, p.sources[0], p.shape.at(0));
}

// The leading dense run of moe_layer_freq (0 = dense, 1 = MoE), at least num_hidden_layers long.
int64_t dense_prefix_from_moe_layer_freq(const json& freq, int64_t n_layers) {
  if (!freq.is_array() || static_cast<int64_t>(freq.size()) < n_layers)
    fail("key moe_layer_freq: expected a list of at least num_hidden_layers ({}) entries", n_layers);
  int64_t k = 0;
  while (k < n_layers && freq[k] == 0) ++k;
  for (int64_t il = k; il < n_layers; ++il)
    if (freq[il] != 1)
      fail("key moe_layer_freq[{}]: expected 1 after the leading dense layers, got {} (llama.cpp's minimax-m3 "
           "supports only leading dense layers)", il, freq[il].dump());
  return k;
}

void read_sparse_attention_config(const json& hf, ModelConfig& c) {
  if (!hf_has(hf, "sparse_attention_config") || !hf["sparse_attention_config"].is_object())
    fail("missing key sparse_attention_config");
  const json& s = hf["sparse_attention_config"];
  for (const char* key : {"sparse_num_index_heads", "sparse_index_dim", "sparse_topk_blocks", "sparse_block_size",
                          "sparse_local_block"})
    if (!hf_has(s, key)) fail("missing key sparse_attention_config.{}", key);
  c.index_n_heads = hf_int(s, "sparse_num_index_heads", 0, 1, kMaxHeads);
  c.index_head_dim = hf_int(s, "sparse_index_dim", 0, 1, kMaxHeadDim);
  c.msa_topk_blocks = hf_int(s, "sparse_topk_blocks", 0, 1, int64_t{1} << 24);
  c.msa_block_size = hf_int(s, "sparse_block_size", 0, 1, 1 << 16);
  c.msa_local_blocks = hf_int(s, "sparse_local_block", 0, 0, 1 << 16);
}

void add_indexer(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il) {
  const std::string p = hf_layer(il) + "self_attn.";
  out.push_back(hf_linear(p + "index_q_proj.weight", c.index_n_heads * c.index_head_dim, c.hidden_size, false));
  out.push_back(hf_linear(p + "index_k_proj.weight", c.index_head_dim, c.hidden_size, false));
  out.push_back(hf_norm(p + "index_q_norm.weight", c.index_head_dim));
  out.push_back(hf_norm(p + "index_k_norm.weight", c.index_head_dim));
}

void plan_indexer(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il) {
  const std::string p = hf_layer(il) + "self_attn.", g = gguf_layer(il) + "indexer.";
  // The converter forces every indexer tensor to F32.
  out.push_back(plan_copy(g + "q_proj.weight", p + "index_q_proj.weight",
                          {c.index_n_heads * c.index_head_dim, c.hidden_size}, false));
  out.push_back(plan_copy(g + "k_proj.weight", p + "index_k_proj.weight", {c.index_head_dim, c.hidden_size}, false));
  out.push_back(plan_copy(g + "q_norm.weight", p + "index_q_norm.weight", {c.index_head_dim}, false));
  out.push_back(plan_copy(g + "k_norm.weight", p + "index_k_norm.weight", {c.index_head_dim}, false));
}

}  // namespace

ArchSpec make_minimax_m3_arch() {
  ArchSpec spec;
  spec.arch = "minimax-m3";
  spec.hf_architectures = {"MiniMaxM3SparseForCausalLM"};

  spec.read_hf_config = [](const json& hf, ModelConfig& c) {
    for (const char* key : {"num_local_experts", "num_experts_per_tok", "intermediate_size", "moe_layer_freq"})
      if (!hf_has(hf, key)) fail("missing key {}", key);
    if (c.attention_bias) fail("key attention_bias: true is not supported (llama.cpp's minimax-m3 has no biases)");
    if (hf_has(hf, "rotary_dim")) c.rotary_dim = hf_int(hf, "rotary_dim", 0, 2, c.head_dim);
    c.rope_interleaved = false;
    c.qk_norm = true;  // per head
    c.n_experts = hf_int(hf, "num_local_experts", 0, 1, kMaxExperts);
    c.n_experts_used = hf_int(hf, "num_experts_per_tok", 0, 1, kMaxExperts);
    c.moe_intermediate_size = hf_int(hf, "intermediate_size", 0, 1, kMaxFFN);
    // The converter's feed_forward_length: the dense layers' width.
    c.intermediate_size = hf_int(hf, "dense_intermediate_size", c.moe_intermediate_size, 1, kMaxFFN);
    c.n_shared_experts = hf_int(hf, "n_shared_experts", 0, 0, kMaxExperts);
    c.shared_expert_intermediate_size = c.moe_intermediate_size * c.n_shared_experts;
    c.first_k_dense_replace = dense_prefix_from_moe_layer_freq(hf["moe_layer_freq"], c.n_layers);
    c.routed_scaling_factor = hf_float(hf, "routed_scaling_factor", 1.0);
    c.norm_topk_prob = true;
    c.scoring_func = hf_string(hf, "scoring_func", "sigmoid");
    gating_func_id(c.scoring_func);
    c.expert_score_bias = true;
    c.swiglu_oai = true;
    read_sparse_attention_config(hf, c);
  };

  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) {
    const std::string& a = c.arch;
    write_common_gguf_metadata(c, w);
    write_expert_counts(c, w);
    gguf_set_u32(w, a, "expert_feed_forward_length", c.moe_intermediate_size);
    gguf_set_u32(w, a, "expert_shared_count", c.n_shared_experts);
    gguf_set_f32(w, a, "expert_weights_scale", c.routed_scaling_factor);
    gguf_set_bool(w, a, "expert_weights_norm", true);
    gguf_set_u32(w, a, "expert_gating_func", gating_func_id(c.scoring_func));
    gguf_set_u32(w, a, "attention.indexer.head_count", c.index_n_heads);
    gguf_set_u32(w, a, "attention.indexer.key_length", c.index_head_dim);
    gguf_set_u32(w, a, "attention.indexer.top_k", c.msa_topk_blocks);
    gguf_set_u32(w, a, "attention.indexer.block_size", c.msa_block_size);
    gguf_set_u32(w, a, "attention.indexer.local_blocks", c.msa_local_blocks);
    gguf_set_u32(w, a, "leading_dense_block_count", c.first_k_dense_replace);
  };

  spec.read_gguf_metadata = [](const GGUFFile& f, ModelConfig& c) {
    const std::string& a = c.arch;
    c.qk_norm = true;
    c.rope_interleaved = false;
    c.moe_intermediate_size = gguf_arch_int(f, a, "expert_feed_forward_length");
    c.n_shared_experts = gguf_arch_int(f, a, "expert_shared_count");
    c.shared_expert_intermediate_size = c.moe_intermediate_size * c.n_shared_experts;
    c.routed_scaling_factor = gguf_arch_float_opt(f, a, "expert_weights_scale").value_or(1.0);
    c.norm_topk_prob = gguf_arch_bool_opt(f, a, "expert_weights_norm").value_or(false);
    c.scoring_func = scoring_func_name(gguf_arch_int(f, a, "expert_gating_func"));
    c.expert_score_bias = true;
    c.swiglu_oai = true;
    c.first_k_dense_replace = gguf_arch_int_opt(f, a, "leading_dense_block_count").value_or(0);
    c.index_n_heads = gguf_arch_int(f, a, "attention.indexer.head_count");
    c.index_head_dim = gguf_arch_int(f, a, "attention.indexer.key_length");
    c.msa_topk_blocks = gguf_arch_int(f, a, "attention.indexer.top_k");
    c.msa_block_size = gguf_arch_int(f, a, "attention.indexer.block_size");
    c.msa_local_blocks = gguf_arch_int(f, a, "attention.indexer.local_blocks");
  };

  spec.hf_tensors = [](const ModelConfig& c) {
    if (c.tie_word_embeddings) fail("arch minimax-m3: tie_word_embeddings is not supported (llama.cpp needs output.weight)");
    std::vector<HFTensorSpec> out;
    add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      add_attention(out, c, il, AttentionLayout{false, false, true});
      if (!c.layer_is_moe(il)) {
        add_dense_ffn(out, c, hf_layer(il) + "mlp.", c.intermediate_size);
        continue;
      }
      add_indexer(out, c, il);
      const std::string moe = hf_layer(il) + "block_sparse_moe.";
      out.push_back(hf_router(moe + "gate.weight", c.n_experts, c.hidden_size));
      out.push_back(hf_expert_bias(moe + "e_score_correction_bias", {c.n_experts}, kSigmoidScoreBiasStd));
      add_experts(out, c, moe + "experts.", c.n_experts, c.moe_intermediate_size, kExpertNames);
      if (c.n_shared_experts > 0) add_dense_ffn(out, c, moe + "shared_experts.", c.shared_expert_intermediate_size);
    }
    add_output(out, c);
    centre_hf_norms(out);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      plan_attention(out, c, il, AttentionLayout{false, false, true});
      if (!c.layer_is_moe(il)) {
        plan_dense_ffn(out, c, il, hf_layer(il) + "mlp.", c.intermediate_size);
        continue;
      }
      const std::string moe = hf_layer(il) + "block_sparse_moe.";
      plan_router(out, c, il, moe + "gate.weight");
      plan_expert_bias(out, il, moe + "e_score_correction_bias", {c.n_experts});
      plan_experts(out, c, il, moe + "experts.", c.n_experts, c.moe_intermediate_size, kExpertNames);
      if (c.n_shared_experts > 0)
        plan_dense_ffn(out, c, il, moe + "shared_experts.", c.shared_expert_intermediate_size, "_shexp");
      plan_indexer(out, c, il);
    }
    plan_output(out, c);
    centre_gguf_norms(out);
    return out;
  };
  return spec;
}

}  // namespace dragon
