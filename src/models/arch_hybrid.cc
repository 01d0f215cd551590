#include "models/arch_hybrid.h"

#include "io/gguf.h"
#include "util/error.h"

namespace dragon::arch {

HFTensorSpec hf_centred_norm(std::string name, int64_t dim) {
  return HFTensorSpec{std::move(name), {dim}, Init::Bias, kNormWeightStd, false};
}

GGUFTensorPlan plan_centred_norm(std::string gguf_name, std::string hf_name, int64_t dim) {
  GGUFTensorPlan plan = plan_copy(std::move(gguf_name), std::move(hf_name), {dim}, false);
  plan.transform = [](const std::vector<const std::vector<float>*>& src) {
    std::vector<float> out = *src.at(0);
    for (float& v : out) v += 1.0f;
    return out;
  };
  return plan;
}

void add_gated_attention(std::vector<HFTensorSpec>& out, const ModelConfig& c, const std::string& p) {
  const int64_t q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  out.push_back(hf_linear(p + "q_proj.weight", 2 * q_dim, c.hidden_size));
  out.push_back(hf_linear(p + "k_proj.weight", kv_dim, c.hidden_size));
  out.push_back(hf_linear(p + "v_proj.weight", kv_dim, c.hidden_size));
  out.push_back(hf_linear(p + "o_proj.weight", c.hidden_size, q_dim));
  out.push_back(hf_centred_norm(p + "q_norm.weight", c.head_dim));
  out.push_back(hf_centred_norm(p + "k_norm.weight", c.head_dim));
}

void plan_gated_attention(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il, const std::string& p) {
  const std::string g = gguf_layer(il);
  const int64_t q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  out.push_back(plan_copy(g + "attn_q.weight", p + "q_proj.weight", {2 * q_dim, c.hidden_size}));
  out.push_back(plan_copy(g + "attn_k.weight", p + "k_proj.weight", {kv_dim, c.hidden_size}));
  out.push_back(plan_copy(g + "attn_v.weight", p + "v_proj.weight", {kv_dim, c.hidden_size}));
  out.push_back(plan_copy(g + "attn_output.weight", p + "o_proj.weight", {c.hidden_size, q_dim}));
  out.push_back(plan_centred_norm(g + "attn_q_norm.weight", p + "q_norm.weight", c.head_dim));
  out.push_back(plan_centred_norm(g + "attn_k_norm.weight", p + "k_norm.weight", c.head_dim));
}

void read_linear_attention_hf(const json& hf, ModelConfig& c) {
  for (const char* key : {"linear_num_key_heads", "linear_num_value_heads", "linear_key_head_dim",
                          "linear_value_head_dim", "linear_conv_kernel_dim"})
    if (!hf_has(hf, key)) fail("missing key {}", key);
  c.full_attention_interval = hf_int(hf, "full_attention_interval", 4, 1, kMaxLayers);
  c.linear_n_k_heads = hf_int(hf, "linear_num_key_heads", 0, 1, kMaxHeads);
  c.linear_n_v_heads = hf_int(hf, "linear_num_value_heads", 0, 1, kMaxHeads);
  c.linear_k_head_dim = hf_int(hf, "linear_key_head_dim", 0, 1, kMaxHeadDim);
  c.linear_v_head_dim = hf_int(hf, "linear_value_head_dim", 0, 1, kMaxHeadDim);
  c.linear_conv_kernel = hf_int(hf, "linear_conv_kernel_dim", 0, 1, 64);
  // The GGUF has one state size for q/k and v heads (ssm.state_size; llama.cpp reads head_v_dim
  // as inner_size / n_v): keep to configs it can represent.
  if (c.linear_k_head_dim != c.linear_v_head_dim)
    fail("key linear_value_head_dim: {} != linear_key_head_dim {} is not supported (llama.cpp's {})",
         c.linear_v_head_dim, c.linear_k_head_dim, c.arch);
  if (hf_has(hf, "layer_types")) {
    const json& types = hf["layer_types"];
    if (!types.is_array() || static_cast<int64_t>(types.size()) != c.n_layers)
      fail("key layer_types: expected a list of {} entries", c.n_layers);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string want = c.layer_is_recurrent(il) ? "linear_attention" : "full_attention";
      if (!types[il].is_string() || types[il].get<std::string>() != want)
        fail("key layer_types: entry {} is {}, but full_attention_interval {} makes it {}", il, types[il].dump(),
             c.full_attention_interval, want);
    }
  }
  // Qwen3NextConfig's partial_rotary_factor defaults to 0.25 (read_rope's default is 1).
  const json params = hf_has(hf, "rope_parameters") ? hf["rope_parameters"] : json::object();
  if (!hf_has(hf, "partial_rotary_factor") && !(params.is_object() && hf_has(params, "partial_rotary_factor")))
    c.rotary_dim = c.head_dim / 4;
}

void write_linear_attention_gguf(const ModelConfig& c, GGUFWriter& w) {
  gguf_set_u32(w, c.arch, "ssm.conv_kernel", c.linear_conv_kernel);
  gguf_set_u32(w, c.arch, "ssm.state_size", c.linear_k_head_dim);
  gguf_set_u32(w, c.arch, "ssm.group_count", c.linear_n_k_heads);
  gguf_set_u32(w, c.arch, "ssm.time_step_rank", c.linear_n_v_heads);
  gguf_set_u32(w, c.arch, "ssm.inner_size", c.linear_v_head_dim * c.linear_n_v_heads);
  if (c.source.is_object()) {
    const json& text = c.source.contains("text_config") ? c.source["text_config"] : c.source;
    if (text.is_object() && hf_has(text, "layer_types")) {
      std::vector<GGUFValue> recurrent;
      for (int64_t il = 0; il < c.n_layers; ++il) recurrent.push_back(GGUFValue::boolean(c.layer_is_recurrent(il)));
      w.set(c.arch + ".attention.recurrent_layers", GGUFValue::array(GGUFType::BOOL, std::move(recurrent)));
    }
  }
  gguf_set_u32(w, c.arch, "full_attention_interval", c.full_attention_interval);
}

void read_linear_attention_gguf(const GGUFFile& f, ModelConfig& c) {
  c.full_attention_interval = gguf_arch_int_opt(f, c.arch, "full_attention_interval").value_or(4);
  if (c.full_attention_interval < 1 || c.full_attention_interval > kMaxLayers)
    fail("key {}.full_attention_interval: {} is not in [1, {}]", c.arch, c.full_attention_interval, kMaxLayers);
  // An explicit pattern must be the one the interval implies (ModelConfig knows no other).
  if (const GGUFValue* v = f.find(c.arch + ".attention.recurrent_layers")) {
    const std::string key = c.arch + ".attention.recurrent_layers";
    if (v->type() != GGUFType::ARRAY) fail("key {}: expected an array", key);
    const auto& arr = v->as_array();
    if (static_cast<int64_t>(arr.size()) < c.n_layers)
      fail("key {}: {} entries for {} layers", key, arr.size(), c.n_layers);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const bool got = with_context("key " + key, [&] { return arr[il].as_bool(); });
      if (got != c.layer_is_recurrent(il))
        fail("key {}: layer {} is {}, but full_attention_interval {} makes it {} (other patterns are not supported)",
             key, il, got ? "recurrent" : "full attention", c.full_attention_interval,
             c.layer_is_recurrent(il) ? "recurrent" : "full attention");
    }
  }
  c.linear_conv_kernel = gguf_arch_int(f, c.arch, "ssm.conv_kernel");
  c.linear_k_head_dim = gguf_arch_int(f, c.arch, "ssm.state_size");
  c.linear_n_k_heads = gguf_arch_int(f, c.arch, "ssm.group_count");
  c.linear_n_v_heads = gguf_arch_int(f, c.arch, "ssm.time_step_rank");
  const int64_t inner = gguf_arch_int(f, c.arch, "ssm.inner_size");
  if (c.linear_n_v_heads <= 0 || inner % c.linear_n_v_heads != 0)
    fail("key {}.ssm.inner_size: {} does not split into {} heads", c.arch, inner, c.linear_n_v_heads);
  c.linear_v_head_dim = inner / c.linear_n_v_heads;
}

}  // namespace dragon::arch
