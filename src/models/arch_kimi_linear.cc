// Kimi Linear (KimiLinearForCausalLM: Kimi-Linear-48B-A3B), from moonshotai's modeling_kimi.py:
//  - the layers named in linear_attn_config.full_attn_layers (1-based) are MLA without rope
//    (mla_use_nope: the qk_rope dims are a second, unrotated part of the key; q_lora_rank null);
//    the others are Kimi Delta Attention (self_attn.*: q/k/v_proj, q/k/v_conv1d, f_a/f_b_proj,
//    A_log, dt_bias, b_proj, g_a/g_b_proj, o_norm, o_proj; models/kda.h);
//  - the FFN: a dense SwiGLU (mlp.*) in the first first_k_dense_replace layers, then DeepSeek-V3's
//    MoE (block_sparse_moe.*: a sigmoid router with e_score_correction_bias for the choice only,
//    renormalised top-k times routed_scaling_factor, experts w1/w2/w3 = gate/down/up, one fused
//    shared expert).
// GGUF (llama.cpp conversion/kimi_linear.py): head_count_kv is a per-layer array (1 on MLA layers,
// 0 on KDA layers — how llama.cpp tells them apart); the MLA is MQA over the latent as for
// deepseek2 (kv_b_proj split into attn_k_b / attn_v_b); the conv1d weights keep four axes
// [1, C, 1, K]; A_log becomes ssm_a = -exp(A_log) [1, 1, H, 1]; dt_bias is ssm_dt.bias; the
// routed experts are stacked; kda.head_dim and ssm.conv_kernel describe the KDA layers.
// llama.cpp: src/models/kimi-linear.cpp. The key and tensor helpers (namespace arch::kimi, declared in
// arch_kimi.h) are shared with Kimi-K3 (arch_kimi_k3.cc).
#include <fmt/format.h>

#include <cmath>
#include <set>

#include "io/gguf.h"
#include "models/arch_kimi.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

namespace arch::kimi {

namespace {

// The 1-based layer numbers of a linear_attn_config list; entries past the last layer are
// ignored (the converter's `il + 1 in full_attn_layers` does the same, and `--layers` keeps them).
std::set<int64_t> layer_list(const json& cfg, const char* key, int64_t n_layers) {
  std::set<int64_t> out;
  if (!cfg.contains(key)) return out;
  const json& list = cfg[key];
  if (!list.is_array()) fail("key linear_attn_config.{}: expected a list of layer numbers", key);
  for (const json& e : list) {
    if (!e.is_number_integer() || e.get<int64_t>() < 1)
      fail("key linear_attn_config.{}: entry {} is not a layer number (1-based)", key, e.dump());
    if (e.get<int64_t>() <= n_layers) out.insert(e.get<int64_t>());
  }
  return out;
}

}  // namespace

void read_linear_attn_config(const json& hf, ModelConfig& c, bool k3) {
  if (!hf_has(hf, "linear_attn_config") || !hf["linear_attn_config"].is_object())
    fail("missing key linear_attn_config");
  const json& la = hf["linear_attn_config"];
  for (const char* key : {"num_heads", "head_dim", "short_conv_kernel_size", "full_attn_layers"})
    if (!hf_has(la, key)) fail("missing key linear_attn_config.{}", key);
  if (la.contains("gate_lower_bound") && !la["gate_lower_bound"].is_null()) {
    if (!k3) fail("key linear_attn_config.gate_lower_bound: a bounded KDA gate is not supported (Kimi Linear has none)");
    c.kda_gate_lower_bound = hf_float(la, "gate_lower_bound", 0.0);
    if (!(c.kda_gate_lower_bound < 0))
      fail("key linear_attn_config.gate_lower_bound: {} (expected a negative number)", c.kda_gate_lower_bound);
  }
  c.kda_full_rank_gate = hf_bool(la, "use_full_rank_gate", false);
  if (c.kda_full_rank_gate && !k3)
    fail("key linear_attn_config.use_full_rank_gate: only Kimi-K3 has a full-rank KDA gate");
  const std::set<int64_t> full = layer_list(la, "full_attn_layers", c.n_layers);
  const std::set<int64_t> kda = layer_list(la, "kda_layers", c.n_layers);
  c.recurrent_layers.assign(static_cast<size_t>(c.n_layers), 0);
  for (int64_t il = 0; il < c.n_layers; ++il) {
    const bool is_full = full.count(il + 1) > 0;
    if (is_full && kda.count(il + 1)) fail("key linear_attn_config: layer {} is in both kda_layers and full_attn_layers", il + 1);
    if (!kda.empty() && !is_full && !kda.count(il + 1))
      fail("key linear_attn_config: layer {} is in neither kda_layers nor full_attn_layers", il + 1);
    c.recurrent_layers[il] = is_full ? 0 : 1;
  }
  c.linear_kda = true;
  c.linear_n_k_heads = c.linear_n_v_heads = hf_int(la, "num_heads", 0, 1, kMaxHeads);
  if (c.linear_n_v_heads != c.n_heads)
    fail("key linear_attn_config.num_heads: {} != num_attention_heads {} is not supported (llama.cpp sizes the "
         "KDA layers by the attention head count)", c.linear_n_v_heads, c.n_heads);
  c.linear_k_head_dim = c.linear_v_head_dim = hf_int(la, "head_dim", 0, 1, kMaxHeadDim);
  c.linear_conv_kernel = hf_int(la, "short_conv_kernel_size", 0, 1, 64);
}

void read_mla(const json& hf, ModelConfig& c, bool allow_q_lora) {
  for (const char* key : {"kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"})
    if (!hf_has(hf, key)) fail("missing key {}", key);
  // modeling_kimi.py asserts mla_use_nope (and, for Kimi Linear, that q_lora_rank is None).
  c.q_lora_rank = hf_int(hf, "q_lora_rank", 0, 0, kMaxHidden);
  if (c.q_lora_rank != 0 && !allow_q_lora)
    fail("key q_lora_rank: Kimi Linear's MLA has no q compression (modeling_kimi.py asserts it is null)");
  if (!hf_bool(hf, "mla_use_nope", false))
    fail("key mla_use_nope: only true is supported (modeling_kimi.py asserts it; llama.cpp never rotates)");
  c.mla_nope = true;
  c.kv_lora_rank = hf_int(hf, "kv_lora_rank", 0, 1, kMaxHidden);
  c.qk_nope_head_dim = hf_int(hf, "qk_nope_head_dim", 0, 1, kMaxHeadDim);
  c.qk_rope_head_dim = hf_int(hf, "qk_rope_head_dim", 0, 2, kMaxHeadDim);
  c.v_head_dim = hf_int(hf, "v_head_dim", 0, 1, kMaxHeadDim);
  c.head_dim = c.qk_nope_head_dim + c.qk_rope_head_dim;
  c.rotary_dim = c.qk_rope_head_dim;  // written as rope.dimension_count; never rotated
}

void read_moe(const json& hf, ModelConfig& c) {
  for (const char* key : {"num_experts", "num_experts_per_token", "moe_intermediate_size"})
    if (!hf_has(hf, key)) fail("missing key {}", key);
  // KimiSparseMoeBlock / KimiMoEGate.
  c.n_experts = hf_int(hf, "num_experts", 0, 1, kMaxExperts);
  c.n_experts_used = hf_int(hf, "num_experts_per_token", 0, 1, kMaxExperts);
  c.moe_intermediate_size = hf_int(hf, "moe_intermediate_size", 0, 1, kMaxFFN);
  c.n_shared_experts = hf_int(hf, "num_shared_experts", 0, 0, kMaxExperts);
  c.shared_expert_intermediate_size = c.moe_intermediate_size * c.n_shared_experts;
  c.first_k_dense_replace = hf_int(hf, "first_k_dense_replace", 0, 0, kMaxLayers);
  if (hf_int(hf, "moe_layer_freq", 1, 1, kMaxLayers) != 1)
    fail("key moe_layer_freq: only 1 is supported (llama.cpp's kimi graphs make every later layer MoE)");
  if (hf_int(hf, "num_expert_group", 1, 1, kMaxExperts) != 1)
    fail("key num_expert_group: only 1 is supported (llama.cpp's converter does not write expert groups)");
  c.scoring_func = hf_string(hf, "moe_router_activation_func", "sigmoid");
  gating_func_id(c.scoring_func);  // validates the name
  c.norm_topk_prob = hf_bool(hf, "moe_renormalize", true);
  if (!c.norm_topk_prob) fail("key moe_renormalize: false is not supported (llama.cpp's kimi graphs renormalise)");
  c.routed_scaling_factor = hf_float(hf, "routed_scaling_factor", 1.0);
  c.expert_score_bias = true;  // KimiMoEGate always has e_score_correction_bias
}

void write_metadata(const ModelConfig& c, GGUFWriter& w) {
  const std::string& a = c.arch;
  write_common_gguf_metadata(c, w);
  write_expert_counts(c, w);
  gguf_set_u32(w, a, "expert_gating_func", gating_func_id(c.scoring_func));
  gguf_set_u32(w, a, "vocab_size", c.vocab_size);
  std::vector<GGUFValue> kv_heads;  // 1 (MQA over the latent) on MLA layers, 0 on KDA layers
  for (int64_t il = 0; il < c.n_layers; ++il) kv_heads.push_back(GGUFValue::i32(c.layer_is_recurrent(il) ? 0 : 1));
  w.set(a + ".attention.head_count_kv", GGUFValue::array(GGUFType::INT32, std::move(kv_heads)));
  gguf_set_u32(w, a, "ssm.conv_kernel", c.linear_conv_kernel);
  gguf_set_u32(w, a, "kda.head_dim", c.linear_k_head_dim);
  if (c.q_lora_rank > 0) gguf_set_u32(w, a, "attention.q_lora_rank", c.q_lora_rank);
  gguf_set_u32(w, a, "attention.kv_lora_rank", c.kv_lora_rank);
  gguf_set_u32(w, a, "rope.dimension_count", c.qk_rope_head_dim);
  gguf_set_u32(w, a, "attention.key_length", c.kv_lora_rank + c.qk_rope_head_dim);
  gguf_set_u32(w, a, "attention.key_length_mla", c.qk_nope_head_dim + c.qk_rope_head_dim);
  gguf_set_u32(w, a, "attention.value_length_mla", c.v_head_dim);
  gguf_set_u32(w, a, "expert_feed_forward_length", c.moe_intermediate_size);
  gguf_set_u32(w, a, "expert_shared_count", c.n_shared_experts);
  gguf_set_u32(w, a, "leading_dense_block_count", c.first_k_dense_replace);
  gguf_set_f32(w, a, "expert_weights_scale", c.routed_scaling_factor);
}

void read_metadata(const GGUFFile& f, ModelConfig& c) {
  const std::string& a = c.arch;
  // head_count_kv per layer: 0 marks a KDA layer.
  const GGUFValue* kv = f.find(a + ".attention.head_count_kv");
  if (!kv || kv->type() != GGUFType::ARRAY) fail("key {}.attention.head_count_kv: expected one entry per layer", a);
  const auto& per_layer = kv->as_array();
  if (static_cast<int64_t>(per_layer.size()) != c.n_layers)
    fail("key {}.attention.head_count_kv: {} entries for {} layers", a, per_layer.size(), c.n_layers);
  c.recurrent_layers.clear();
  for (const GGUFValue& v : per_layer)
    c.recurrent_layers.push_back(with_context("key " + a + ".attention.head_count_kv", [&] { return v.as_int(); }) == 0);
  c.n_kv_heads = c.n_heads;  // the MQA view of the file; the model decompresses to full MHA
  c.linear_kda = true;
  c.linear_conv_kernel = gguf_arch_int(f, a, "ssm.conv_kernel");
  c.linear_k_head_dim = c.linear_v_head_dim = gguf_arch_int(f, a, "kda.head_dim");
  c.linear_n_k_heads = c.linear_n_v_heads = c.n_heads;  // llama.cpp: the KDA layers have n_head heads

  c.mla_nope = true;
  c.q_lora_rank = gguf_arch_int_opt(f, a, "attention.q_lora_rank").value_or(0);
  c.kv_lora_rank = gguf_arch_int(f, a, "attention.kv_lora_rank");
  c.head_dim = gguf_arch_int(f, a, "attention.key_length_mla");
  c.v_head_dim = gguf_arch_int(f, a, "attention.value_length_mla");
  c.qk_rope_head_dim = gguf_arch_int(f, a, "rope.dimension_count");
  c.qk_nope_head_dim = c.head_dim - c.qk_rope_head_dim;
  if (c.qk_nope_head_dim < 1)
    fail("key {}.attention.key_length_mla: {} leaves no room beside {} rope dims", a, c.head_dim, c.qk_rope_head_dim);
  c.rotary_dim = c.qk_rope_head_dim;

  c.first_k_dense_replace = gguf_arch_int_opt(f, a, "leading_dense_block_count").value_or(0);
  c.moe_intermediate_size = gguf_arch_int(f, a, "expert_feed_forward_length");
  c.n_shared_experts = gguf_arch_int_opt(f, a, "expert_shared_count").value_or(0);
  c.shared_expert_intermediate_size = c.moe_intermediate_size * c.n_shared_experts;
  c.routed_scaling_factor = gguf_arch_float_opt(f, a, "expert_weights_scale").value_or(1.0);
  c.norm_topk_prob = true;  // llama.cpp's kimi-linear graph always renormalises
  c.scoring_func = scoring_func_name(gguf_arch_int(f, a, "expert_gating_func"));
  c.expert_score_bias = true;
}

// ---------------------------------------------------------------------------------------------
// Tensors

void add_kda(std::vector<HFTensorSpec>& out, const ModelConfig& c, const std::string& p) {
  const int64_t H = c.linear_n_v_heads, d = c.linear_k_head_dim, inner = H * d, K = c.linear_conv_kernel;
  out.push_back(hf_linear(p + "q_proj.weight", inner, c.hidden_size));
  out.push_back(hf_linear(p + "k_proj.weight", inner, c.hidden_size));
  out.push_back(hf_linear(p + "v_proj.weight", inner, c.hidden_size));
  // Depthwise conv taps [C, 1, K]: std 1/sqrt(K) keeps the channels O(1).
  for (const char* which : {"q", "k", "v"})
    out.push_back(HFTensorSpec{p + which + "_conv1d.weight", {inner, 1, K}, Init::Normal, std_for_fan_in(K), false});
  // A_log and dt_bias near 0: the decay exp(-exp(A_log) softplus(f + dt_bias)) stays around 0.5
  // per token and differs between channels, so the state remembers a few tokens back (the
  // release's A in [1, 16] forgets within a token or two, which would hide a state not carried).
  // Kimi Linear pads A_log to [1, 1, H, 1]; Kimi-K3's is a plain [H].
  const std::vector<int64_t> a_shape = c.kda_full_rank_gate ? std::vector<int64_t>{H} : std::vector<int64_t>{1, 1, H, 1};
  out.push_back(HFTensorSpec{p + "A_log", a_shape, Init::Bias, 0.5, false});
  out.push_back(hf_linear(p + "f_a_proj.weight", d, c.hidden_size));
  out.push_back(hf_linear(p + "f_b_proj.weight", inner, d));
  out.push_back(HFTensorSpec{p + "dt_bias", {inner}, Init::Bias, 0.5, false});
  out.push_back(hf_linear(p + "b_proj.weight", H, c.hidden_size, false));
  if (c.kda_full_rank_gate) {
    out.push_back(hf_linear(p + "g_proj.weight", inner, c.hidden_size));
  } else {
    out.push_back(hf_linear(p + "g_a_proj.weight", d, c.hidden_size));
    out.push_back(hf_linear(p + "g_b_proj.weight", inner, d));
  }
  out.push_back(hf_norm(p + "o_norm.weight", d));
  out.push_back(hf_linear(p + "o_proj.weight", c.hidden_size, inner));
}

void plan_kda(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il, const std::string& p) {
  const std::string g = gguf_layer(il);
  const int64_t H = c.linear_n_v_heads, d = c.linear_k_head_dim, inner = H * d, K = c.linear_conv_kernel;
  for (const char* which : {"q", "k", "v"})
    out.push_back(plan_copy(g + "ssm_conv1d_" + which + ".weight", p + which + "_conv1d.weight", {1, inner, 1, K},
                            false));
  out.push_back(plan_copy(g + "attn_q.weight", p + "q_proj.weight", {inner, c.hidden_size}));
  out.push_back(plan_copy(g + "attn_k.weight", p + "k_proj.weight", {inner, c.hidden_size}));
  out.push_back(plan_copy(g + "attn_v.weight", p + "v_proj.weight", {inner, c.hidden_size}));
  const std::vector<int64_t> a_shape = c.kda_full_rank_gate ? std::vector<int64_t>{H} : std::vector<int64_t>{1, 1, H, 1};
  GGUFTensorPlan a = plan_copy(g + "ssm_a", p + "A_log", a_shape, false);
  a.transform = [](const std::vector<const std::vector<float>*>& src) {
    std::vector<float> out = *src.at(0);
    for (float& v : out) v = -std::exp(v);
    return out;
  };
  out.push_back(std::move(a));
  out.push_back(plan_copy(g + "ssm_f_a.weight", p + "f_a_proj.weight", {d, c.hidden_size}));
  out.push_back(plan_copy(g + "ssm_f_b.weight", p + "f_b_proj.weight", {inner, d}));
  out.push_back(plan_copy(g + "ssm_dt.bias", p + "dt_bias", {inner}, false));
  out.push_back(plan_copy(g + "ssm_beta.weight", p + "b_proj.weight", {H, c.hidden_size}, false));
  if (c.kda_full_rank_gate) {
    out.push_back(plan_copy(g + "ssm_g.weight", p + "g_proj.weight", {inner, c.hidden_size}));
  } else {
    out.push_back(plan_copy(g + "ssm_g_a.weight", p + "g_a_proj.weight", {d, c.hidden_size}));
    out.push_back(plan_copy(g + "ssm_g_b.weight", p + "g_b_proj.weight", {inner, d}));
  }
  out.push_back(plan_copy(g + "ssm_norm.weight", p + "o_norm.weight", {d}, false));
  out.push_back(plan_copy(g + "attn_output.weight", p + "o_proj.weight", {c.hidden_size, inner}));
}

void add_mla(std::vector<HFTensorSpec>& out, const ModelConfig& c, const std::string& p) {
  if (c.q_lora_rank > 0) {
    out.push_back(hf_linear(p + "q_a_proj.weight", c.q_lora_rank, c.hidden_size));
    out.push_back(hf_norm(p + "q_a_layernorm.weight", c.q_lora_rank));
    out.push_back(hf_linear(p + "q_b_proj.weight", c.n_heads * c.head_dim, c.q_lora_rank));
  } else {
    out.push_back(hf_linear(p + "q_proj.weight", c.n_heads * c.head_dim, c.hidden_size));
  }
  out.push_back(hf_linear(p + "kv_a_proj_with_mqa.weight", c.kv_lora_rank + c.qk_rope_head_dim, c.hidden_size));
  out.push_back(hf_norm(p + "kv_a_layernorm.weight", c.kv_lora_rank));
  out.push_back(hf_linear(p + "kv_b_proj.weight", c.n_heads * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank));
  if (c.mla_output_gate) out.push_back(hf_linear(p + "g_proj.weight", c.n_heads * c.v_head_dim, c.hidden_size));
  out.push_back(hf_linear(p + "o_proj.weight", c.hidden_size, c.n_heads * c.v_head_dim));
}

void plan_mla(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il, const std::string& p) {
  const std::string g = gguf_layer(il);
  const int64_t nh = c.n_heads, nope = c.qk_nope_head_dim, v = c.v_head_dim, lora = c.kv_lora_rank;
  if (c.q_lora_rank > 0) {
    out.push_back(plan_copy(g + "attn_q_a.weight", p + "q_a_proj.weight", {c.q_lora_rank, c.hidden_size}));
    out.push_back(plan_copy(g + "attn_q_a_norm.weight", p + "q_a_layernorm.weight", {c.q_lora_rank}, false));
    out.push_back(plan_copy(g + "attn_q_b.weight", p + "q_b_proj.weight", {nh * c.head_dim, c.q_lora_rank}));
  } else {
    out.push_back(plan_copy(g + "attn_q.weight", p + "q_proj.weight", {nh * c.head_dim, c.hidden_size}));
  }
  out.push_back(plan_copy(g + "attn_kv_a_mqa.weight", p + "kv_a_proj_with_mqa.weight",
                          {lora + c.qk_rope_head_dim, c.hidden_size}));
  out.push_back(plan_copy(g + "attn_kv_a_norm.weight", p + "kv_a_layernorm.weight", {lora}, false));
  GGUFTensorPlan k_b = plan_copy(g + "attn_k_b.weight", p + "kv_b_proj.weight", {nh, lora, nope});
  k_b.transform = [=](const std::vector<const std::vector<float>*>& src) {
    return split_kv_b_k(*src.at(0), nh, nope, v, lora);
  };
  out.push_back(std::move(k_b));
  GGUFTensorPlan v_b = plan_copy(g + "attn_v_b.weight", p + "kv_b_proj.weight", {nh, v, lora});
  v_b.transform = [=](const std::vector<const std::vector<float>*>& src) {
    return split_kv_b_v(*src.at(0), nh, nope, v, lora);
  };
  out.push_back(std::move(v_b));
  // Kimi-K3's output gate: the converter tells it from the KDA layers' g_proj by the layer type.
  if (c.mla_output_gate) out.push_back(plan_copy(g + "attn_gate.weight", p + "g_proj.weight", {nh * v, c.hidden_size}));
  out.push_back(plan_copy(g + "attn_output.weight", p + "o_proj.weight", {c.hidden_size, nh * v}));
}

namespace {

const ExpertProjNames kKimiExperts{"w1", "w3", "w2"};  // gate, up, down

// The config the routed experts see: Kimi-K3's latent MoE runs them at expert_latent_size.
ModelConfig expert_view(const ModelConfig& c) {
  ModelConfig e = c;
  if (c.expert_latent_size > 0) e.hidden_size = c.expert_latent_size;
  return e;
}

}  // namespace

void add_ffn(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il, const std::string& p) {
  if (!c.layer_is_moe(il)) {
    add_dense_ffn(out, c, p + "mlp.", c.intermediate_size);
    return;
  }
  const std::string m = p + "block_sparse_moe.";
  add_experts(out, expert_view(c), m + "experts.", c.n_experts, c.moe_intermediate_size, kKimiExperts);
  out.push_back(hf_router(m + "gate.weight", c.n_experts, c.hidden_size));
  out.push_back(hf_expert_bias(m + "gate.e_score_correction_bias", {c.n_experts}, kSigmoidScoreBiasStd));
  if (c.n_shared_experts > 0) add_dense_ffn(out, c, m + "shared_experts.", c.shared_expert_intermediate_size);
  if (c.expert_latent_size > 0) {
    out.push_back(hf_linear(m + "routed_expert_down_proj.weight", c.expert_latent_size, c.hidden_size));
    out.push_back(hf_linear(m + "routed_expert_up_proj.weight", c.hidden_size, c.expert_latent_size));
    out.push_back(hf_norm(m + "routed_expert_norm.weight", c.expert_latent_size));
  }
}

void plan_ffn(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il, const std::string& p) {
  if (!c.layer_is_moe(il)) {
    plan_dense_ffn(out, c, il, p + "mlp.", c.intermediate_size);
    return;
  }
  const std::string m = p + "block_sparse_moe.", g = gguf_layer(il);
  plan_router(out, c, il, m + "gate.weight");
  plan_expert_bias(out, il, m + "gate.e_score_correction_bias", {c.n_experts});
  plan_experts(out, expert_view(c), il, m + "experts.", c.n_experts, c.moe_intermediate_size, kKimiExperts);
  if (c.n_shared_experts > 0)
    plan_dense_ffn(out, c, il, m + "shared_experts.", c.shared_expert_intermediate_size, "_shexp");
  if (c.expert_latent_size > 0) {
    const int64_t lat = c.expert_latent_size;
    out.push_back(plan_copy(g + "ffn_routed_down.weight", m + "routed_expert_down_proj.weight", {lat, c.hidden_size}));
    out.push_back(plan_copy(g + "ffn_routed_up.weight", m + "routed_expert_up_proj.weight", {c.hidden_size, lat}));
    out.push_back(plan_copy(g + "ffn_routed_norm.weight", m + "routed_expert_norm.weight", {lat}, false));
  }
}

}  // namespace arch::kimi

namespace {

using namespace arch;

void read_hf(const json& hf, ModelConfig& c) {
  kimi::read_mla(hf, c, /*allow_q_lora=*/false);
  kimi::read_moe(hf, c);
  kimi::read_linear_attn_config(hf, c, /*k3=*/false);
}

// The config's own head_dim (hidden / heads on the release: 72), which the converter's base
// class writes as key_length / value_length before Kimi's MLA keys replace key_length.
int64_t config_head_dim(const ModelConfig& c) {
  if (c.source.is_object() && c.source.contains("head_dim") && c.source["head_dim"].is_number_integer())
    return c.source["head_dim"].get<int64_t>();
  return c.hidden_size / c.n_heads;
}

void write_metadata(const ModelConfig& c, GGUFWriter& w) {
  kimi::write_metadata(c, w);
  gguf_set_u32(w, c.arch, "attention.value_length", config_head_dim(c));
}

}  // namespace

ArchSpec make_kimi_linear_arch() {
  ArchSpec spec;
  spec.arch = "kimi-linear";
  spec.hf_architectures = {"KimiLinearForCausalLM"};
  spec.read_hf_config = read_hf;
  spec.write_gguf_metadata = write_metadata;
  spec.read_gguf_metadata = kimi::read_metadata;

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string p = hf_layer(il);
      out.push_back(hf_norm(p + "input_layernorm.weight", c.hidden_size));
      if (c.layer_is_recurrent(il))
        kimi::add_kda(out, c, p + "self_attn.");
      else
        kimi::add_mla(out, c, p + "self_attn.");
      out.push_back(hf_norm(p + "post_attention_layernorm.weight", c.hidden_size));
      kimi::add_ffn(out, c, il, p);
    }
    add_output(out, c);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string p = hf_layer(il), g = gguf_layer(il);
      out.push_back(plan_copy(g + "attn_norm.weight", p + "input_layernorm.weight", {c.hidden_size}, false));
      if (c.layer_is_recurrent(il))
        kimi::plan_kda(out, c, il, p + "self_attn.");
      else
        kimi::plan_mla(out, c, il, p + "self_attn.");
      out.push_back(plan_copy(g + "ffn_norm.weight", p + "post_attention_layernorm.weight", {c.hidden_size}, false));
      kimi::plan_ffn(out, c, il, p);
    }
    plan_output(out, c);
    return out;
  };
  return spec;
}

}  // namespace dragon
