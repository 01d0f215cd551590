// Helpers shared by the mixture-of-experts family files (arch_qwen3moe.cc, arch_deepseek*.cc,
// arch_glm4moe.cc, arch_minimax_m2.cc, arch_ernie4_5_moe.cc, arch_hunyuan_moe.cc): the router,
// the per-expert HF weights and their stacking into llama.cpp's 3-D expert tensors, shared
// experts, the e_score_correction_bias, DeepSeek-style MTP ("nextn") blocks, and the
// "<arch>.expert_*" GGUF keys; and the MLA kv_b_proj split that DeepSeek-V2/V3 and their
// descendants share. What only one family does stays in that family's file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/arch_common.h"

namespace dragon::arch {

// ---------------------------------------------------------------------------------------------
// HF side

// The router (gate) [n_experts, hidden]. std 1/sqrt(hidden) gives router logits of unit spread
// over normalised hidden states, so different tokens pick different experts. Kept F32 (never
// quantised), like llama.cpp's ffn_gate_inp.
HFTensorSpec hf_router(std::string name, int64_t n_experts, int64_t hidden);

// e_score_correction_bias. `std` is chosen per family relative to the routing scores it is
// added to (sigmoid scores spread ~0.2, but the top-k are decided by gaps of a few hundredths;
// softmax probabilities ~1/n_experts): big enough that a kernel ignoring it picks other experts
// for some tokens, small enough not to decide the routing (tests/models/arch_moe_test.cc
// measures the fraction of tokens it moves).
HFTensorSpec hf_expert_bias(std::string name, std::vector<int64_t> shape, double std);
inline constexpr double kSigmoidScoreBiasStd = 0.01;

// Names of one expert's three projections (DeepSeek/Qwen: gate_proj/up_proj/down_proj;
// MiniMax/Mixtral: w1/w3/w2).
struct ExpertProjNames {
  std::string gate = "gate_proj";
  std::string up = "up_proj";
  std::string down = "down_proj";
};

// "<experts_prefix><e>.<proj>.weight" for e in [0, n_experts): gate/up [ff, hidden], down
// [hidden, ff], in the order HF writes them (expert by expert).
void add_experts(std::vector<HFTensorSpec>& out, const ModelConfig& c, const std::string& experts_prefix,
                 int64_t n_experts, int64_t ff, const ExpertProjNames& names = {});

// The HF names of projection `proj` of every expert, in expert order.
std::vector<std::string> expert_names(const std::string& experts_prefix, int64_t n_experts, const std::string& proj);

// DeepSeek-V3 / GLM-4.5 MTP block extras of layer il (the layer's own attention and MoE are
// listed by the family): embed_tokens, enorm, hnorm, eh_proj [hidden, 2*hidden],
// shared_head.norm, shared_head.head.
void add_nextn_extras(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il);

// ---------------------------------------------------------------------------------------------
// GGUF side

// blk.il.ffn_gate_exps / ffn_up_exps [n_experts, ff, hidden] and ffn_down_exps
// [n_experts, hidden, ff] (ggml ne = {hidden, ff, n} / {ff, hidden, n}), each the experts'
// HF weights stacked in expert order, as convert_hf_to_gguf.py's torch.stack(dim=0).
void plan_experts(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il,
                  const std::string& experts_prefix, int64_t n_experts, int64_t ff,
                  const ExpertProjNames& names = {});

// blk.il.ffn_gate_inp.weight from the HF router (F32).
void plan_router(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il, const std::string& hf_name);

// blk.il.exp_probs_b.bias from the HF e_score_correction_bias of shape `shape` (F32).
void plan_expert_bias(std::vector<GGUFTensorPlan>& out, int64_t il, const std::string& hf_name,
                      std::vector<int64_t> shape);

// blk.il.nextn.* from the MTP extras of add_nextn_extras.
void plan_nextn_extras(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il);

// Renames a plan already in `out` (e.g. GLM-4.5's post-attention norm, which llama.cpp calls
// post_attention_norm rather than ffn_norm). Throws if `from` is not there.
void rename_plan(std::vector<GGUFTensorPlan>& out, const std::string& from, const std::string& to);

// MLA (DeepSeek-V2/V3): kv_b_proj [n_head * (qk_nope + v), kv_lora] holds, per head, the
// qk_nope rows of the key up-projection followed by the v rows of the value up-projection.
// llama.cpp wants them apart, for the absorbed-MLA decode (conversion/deepseek.py):
//   attn_k_b [n_head, kv_lora, qk_nope]  — each head's key rows, TRANSPOSED;
//   attn_v_b [n_head, v, kv_lora]        — each head's value rows as they are.
std::vector<float> split_kv_b_k(const std::vector<float>& kv_b, int64_t n_head, int64_t qk_nope, int64_t v_dim,
                                int64_t kv_lora);
std::vector<float> split_kv_b_v(const std::vector<float>& kv_b, int64_t n_head, int64_t qk_nope, int64_t v_dim,
                                int64_t kv_lora);

// ---------------------------------------------------------------------------------------------
// GGUF keys

// llama.cpp's llama_expert_gating_func_type values ("<arch>.expert_gating_func").
inline constexpr int64_t kGatingSoftmax = 1;
inline constexpr int64_t kGatingSigmoid = 2;
int64_t gating_func_id(const std::string& scoring_func);        // throws for an unknown name
std::string scoring_func_name(int64_t gating_func_id);          // throws for an unknown id

// expert_count and expert_used_count, which every MoE family writes.
void write_expert_counts(const ModelConfig& c, GGUFWriter& w);

// ---------------------------------------------------------------------------------------------
// HF config helpers

// A key that some configs spell as one value per layer (HunYuan's moe_topk = [8, 8, ...]):
// returns the single value, or the first of a list whose entries must all be equal (llama.cpp
// takes one value for all layers). Throws naming the key for a missing key (unless `fallback`),
// an empty list or unequal entries.
int64_t hf_uniform_int(const json& hf, const std::string& key, std::optional<int64_t> fallback, int64_t min,
                       int64_t max);

// ---------------------------------------------------------------------------------------------
// The DeepSeekMoE FFN of layer il, which DeepSeek-MoE, DeepSeek-V2/V3 and GLM-4.5 share: the dense
// mlp in the first_k_dense_replace layers; otherwise routed experts, the router, the
// e_score_correction_bias when c.expert_score_bias, and the fused shared experts. HF side in HF's
// order, GGUF side in llama.cpp's (router, bias, experts, shared).
void add_deepseek_moe_ffn(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il);
void plan_deepseek_moe_ffn(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il);

}  // namespace dragon::arch
