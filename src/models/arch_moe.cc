#include "models/arch_moe.h"

#include <fmt/format.h>

#include "io/gguf.h"
#include "util/error.h"

namespace dragon::arch {

// ---------------------------------------------------------------------------------------------
// HF side

HFTensorSpec hf_router(std::string name, int64_t n_experts, int64_t hidden) {
  return HFTensorSpec{std::move(name), {n_experts, hidden}, Init::Normal, std_for_fan_in(hidden), false};
}

HFTensorSpec hf_expert_bias(std::string name, std::vector<int64_t> shape, double std) {
  return HFTensorSpec{std::move(name), std::move(shape), Init::Bias, std, false};
}

void add_experts(std::vector<HFTensorSpec>& out, const ModelConfig& c, const std::string& experts_prefix,
                 int64_t n_experts, int64_t ff, const ExpertProjNames& names) {
  for (int64_t e = 0; e < n_experts; ++e) {
    const std::string p = fmt::format("{}{}.", experts_prefix, e);
    out.push_back(hf_linear(p + names.gate + ".weight", ff, c.hidden_size));
    out.push_back(hf_linear(p + names.up + ".weight", ff, c.hidden_size));
    out.push_back(hf_linear(p + names.down + ".weight", c.hidden_size, ff));
  }
}

std::vector<std::string> expert_names(const std::string& experts_prefix, int64_t n_experts, const std::string& proj) {
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(n_experts));
  for (int64_t e = 0; e < n_experts; ++e) names.push_back(fmt::format("{}{}.{}.weight", experts_prefix, e, proj));
  return names;
}

void add_nextn_extras(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il) {
  const std::string p = hf_layer(il);
  // The MTP block's own copies of the embedding and head (DeepSeek-V3 ships them; they equal the
  // main model's, but a synthetic model draws them independently like any other tensor).
  out.push_back(HFTensorSpec{p + "embed_tokens.weight", {c.vocab_size, c.hidden_size}, Init::Normal,
                             embedding_std(c), true});
  out.push_back(hf_norm(p + "enorm.weight", c.hidden_size));
  out.push_back(hf_norm(p + "hnorm.weight", c.hidden_size));
  out.push_back(hf_linear(p + "eh_proj.weight", c.hidden_size, 2 * c.hidden_size));
  out.push_back(hf_norm(p + "shared_head.norm.weight", c.hidden_size));
  out.push_back(HFTensorSpec{p + "shared_head.head.weight", {c.vocab_size, c.hidden_size}, Init::Normal,
                             lm_head_std(c), true});
}

// ---------------------------------------------------------------------------------------------
// GGUF side

void plan_experts(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il,
                  const std::string& experts_prefix, int64_t n_experts, int64_t ff, const ExpertProjNames& names) {
  const std::string g = gguf_layer(il);
  out.push_back(plan_stacked(g + "ffn_gate_exps.weight", expert_names(experts_prefix, n_experts, names.gate), ff,
                             c.hidden_size));
  out.push_back(plan_stacked(g + "ffn_up_exps.weight", expert_names(experts_prefix, n_experts, names.up), ff,
                             c.hidden_size));
  out.push_back(plan_stacked(g + "ffn_down_exps.weight", expert_names(experts_prefix, n_experts, names.down),
                             c.hidden_size, ff));
}

void plan_router(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il, const std::string& hf_name) {
  out.push_back(plan_copy(gguf_layer(il) + "ffn_gate_inp.weight", hf_name, {c.n_experts, c.hidden_size}, false));
}

void plan_expert_bias(std::vector<GGUFTensorPlan>& out, int64_t il, const std::string& hf_name,
                      std::vector<int64_t> shape) {
  out.push_back(plan_copy(gguf_layer(il) + "exp_probs_b.bias", hf_name, std::move(shape), false));
}

void plan_nextn_extras(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il) {
  const std::string h = hf_layer(il), g = gguf_layer(il) + "nextn.";
  out.push_back(plan_copy(g + "eh_proj.weight", h + "eh_proj.weight", {c.hidden_size, 2 * c.hidden_size}));
  out.push_back(plan_copy(g + "embed_tokens.weight", h + "embed_tokens.weight", {c.vocab_size, c.hidden_size}));
  out.push_back(plan_copy(g + "enorm.weight", h + "enorm.weight", {c.hidden_size}, false));
  out.push_back(plan_copy(g + "hnorm.weight", h + "hnorm.weight", {c.hidden_size}, false));
  out.push_back(plan_copy(g + "shared_head_head.weight", h + "shared_head.head.weight", {c.vocab_size, c.hidden_size}));
  out.push_back(plan_copy(g + "shared_head_norm.weight", h + "shared_head.norm.weight", {c.hidden_size}, false));
}

void rename_plan(std::vector<GGUFTensorPlan>& out, const std::string& from, const std::string& to) {
  for (GGUFTensorPlan& p : out)
    if (p.name == from) {
      p.name = to;
      return;
    }
  fail("GGUF plan: no tensor {} to rename to {}", from, to);
}

namespace {

void check_kv_b(const std::vector<float>& kv_b, int64_t n_head, int64_t qk_nope, int64_t v_dim, int64_t kv_lora) {
  if (n_head <= 0 || qk_nope <= 0 || v_dim <= 0 || kv_lora <= 0)
    fail("kv_b_proj split: sizes must be positive (heads {}, qk_nope {}, v {}, kv_lora {})", n_head, qk_nope, v_dim,
         kv_lora);
  const int64_t expected = n_head * (qk_nope + v_dim) * kv_lora;
  if (static_cast<int64_t>(kv_b.size()) != expected)
    fail("kv_b_proj split: {} values, expected {} heads x ({} + {}) rows x {} columns = {}", kv_b.size(), n_head,
         qk_nope, v_dim, kv_lora, expected);
}

}  // namespace

std::vector<float> split_kv_b_k(const std::vector<float>& kv_b, int64_t n_head, int64_t qk_nope, int64_t v_dim,
                                int64_t kv_lora) {
  check_kv_b(kv_b, n_head, qk_nope, v_dim, kv_lora);
  std::vector<float> k_b(static_cast<size_t>(n_head * kv_lora * qk_nope));
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t r = 0; r < qk_nope; ++r) {
      const float* row = kv_b.data() + (h * (qk_nope + v_dim) + r) * kv_lora;
      for (int64_t j = 0; j < kv_lora; ++j) k_b[static_cast<size_t>((h * kv_lora + j) * qk_nope + r)] = row[j];
    }
  return k_b;
}

std::vector<float> split_kv_b_v(const std::vector<float>& kv_b, int64_t n_head, int64_t qk_nope, int64_t v_dim,
                                int64_t kv_lora) {
  check_kv_b(kv_b, n_head, qk_nope, v_dim, kv_lora);
  std::vector<float> v_b;
  v_b.reserve(static_cast<size_t>(n_head * v_dim * kv_lora));
  for (int64_t h = 0; h < n_head; ++h) {
    const auto first = kv_b.begin() + (h * (qk_nope + v_dim) + qk_nope) * kv_lora;
    v_b.insert(v_b.end(), first, first + v_dim * kv_lora);
  }
  return v_b;
}

// ---------------------------------------------------------------------------------------------
// GGUF keys

int64_t gating_func_id(const std::string& scoring_func) {
  if (scoring_func == "softmax") return kGatingSoftmax;
  if (scoring_func == "sigmoid") return kGatingSigmoid;
  fail("scoring_func \"{}\": expected softmax or sigmoid", scoring_func);
}

std::string scoring_func_name(int64_t gating_func_id) {
  if (gating_func_id == kGatingSoftmax) return "softmax";
  if (gating_func_id == kGatingSigmoid) return "sigmoid";
  fail("expert_gating_func {}: expected 1 (softmax) or 2 (sigmoid)", gating_func_id);
}

void write_expert_counts(const ModelConfig& c, GGUFWriter& w) {
  gguf_set_u32(w, c.arch, "expert_count", c.n_experts);
  gguf_set_u32(w, c.arch, "expert_used_count", c.n_experts_used);
}

// ---------------------------------------------------------------------------------------------
// HF config helpers

int64_t hf_uniform_int(const json& hf, const std::string& key, std::optional<int64_t> fallback, int64_t min,
                       int64_t max) {
  if (!hf_has(hf, key)) {
    if (!fallback) fail("missing key {}", key);
    return *fallback;
  }
  const json& v = hf.at(key);
  if (!v.is_array()) return hf_int(hf, key, 0, min, max);
  if (v.empty()) fail("key {}: empty list", key);
  int64_t first = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const json one = {{key, v[i]}};
    const int64_t value = with_context(fmt::format("entry {}", i), [&] { return hf_int(one, key, 0, min, max); });
    if (i == 0) first = value;
    if (value != first)
      fail("key {}: entry {} is {} but entry 0 is {} (per-layer values must all be equal)", key, i, value, first);
  }
  return first;
}

void add_deepseek_moe_ffn(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il) {
  const std::string mlp = hf_layer(il) + "mlp.";
  if (!c.layer_is_moe(il)) {
    add_dense_ffn(out, c, mlp, c.intermediate_size);
    return;
  }
  add_experts(out, c, mlp + "experts.", c.n_experts, c.moe_intermediate_size);
  out.push_back(hf_router(mlp + "gate.weight", c.n_experts, c.hidden_size));
  if (c.expert_score_bias)
    out.push_back(hf_expert_bias(mlp + "gate.e_score_correction_bias", {c.n_experts}, kSigmoidScoreBiasStd));
  if (c.n_shared_experts > 0) add_dense_ffn(out, c, mlp + "shared_experts.", c.shared_expert_intermediate_size);
}

void plan_deepseek_moe_ffn(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il) {
  const std::string mlp = hf_layer(il) + "mlp.";
  if (!c.layer_is_moe(il)) {
    plan_dense_ffn(out, c, il, mlp, c.intermediate_size);
    return;
  }
  plan_router(out, c, il, mlp + "gate.weight");
  if (c.expert_score_bias) plan_expert_bias(out, il, mlp + "gate.e_score_correction_bias", {c.n_experts});
  plan_experts(out, c, il, mlp + "experts.", c.n_experts, c.moe_intermediate_size);
  if (c.n_shared_experts > 0)
    plan_dense_ffn(out, c, il, mlp + "shared_experts.", c.shared_expert_intermediate_size, "_shexp");
}

}  // namespace dragon::arch
