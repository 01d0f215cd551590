// HF config.json -> ModelConfig: the keys every family shares, then the family's own reader,
// then one validation pass so that no family can let an absurd size through.
#include <fmt/format.h>

#include "models/arch.h"
#include "models/arch_common.h"
#include "util/error.h"

namespace dragon {

namespace {

using arch::hf_bool;
using arch::hf_float;
using arch::hf_has;
using arch::hf_int;
using arch::hf_string;
using json = nlohmann::json;

// Multimodal wrappers keep the language model's keys in "text_config"; like llama.cpp's
// converter, lift them to the top level.
json flatten_text_config(const json& hf) {
  if (!hf.contains("text_config") || !hf["text_config"].is_object()) return hf;
  json flat = hf;
  for (const auto& [k, v] : hf["text_config"].items()) flat[k] = v;
  return flat;
}

const ArchSpec& spec_for(const json& hf) {
  if (!hf.contains("architectures")) fail("missing key architectures");
  const json& archs = hf["architectures"];
  if (!archs.is_array() || archs.empty() || !archs[0].is_string())
    fail("key architectures: expected a non-empty list of strings, got {}", archs.dump());
  const std::string name = archs[0].get<std::string>();
  const ArchSpec* spec = find_arch_by_hf(name);
  if (!spec) {
    std::string known;
    for (const ArchSpec& a : all_archs())
      for (const std::string& h : a.hf_architectures) known += (known.empty() ? "" : ", ") + h;
    fail("unsupported architecture {} (supported: {})", name, known);
  }
  return *spec;
}

// A token id that may be a list (generation configs list several eos ids): the first one.
int64_t token_id(const json& hf, const std::string& key) {
  if (!hf_has(hf, key)) return -1;
  const json& v = hf.at(key);
  if (v.is_array()) {
    if (v.empty()) return -1;
    json first = json::object();
    first[key] = v[0];
    return hf_int(first, key, -1, 0, arch::kMaxVocab);
  }
  return hf_int(hf, key, -1, 0, arch::kMaxVocab);
}

void read_rope(const json& hf, ModelConfig& c) {
  // Newer transformers spell it rope_parameters; older ones rope_scaling (null when unused).
  json params = json::object();
  std::string where = "rope_scaling";
  if (hf_has(hf, "rope_parameters")) {
    params = hf["rope_parameters"];
    where = "rope_parameters";
  } else if (hf_has(hf, "rope_scaling")) {
    params = hf["rope_scaling"];
  }
  if (!params.is_object()) fail("key {}: expected an object, got {}", where, params.dump());

  c.rope_theta = hf_float(hf, "rope_theta", hf_float(params, "rope_theta", 10000.0));
  if (c.rope_theta <= 0) fail("key rope_theta: must be positive, got {}", c.rope_theta);

  const double partial = hf_float(hf, "partial_rotary_factor", hf_float(params, "partial_rotary_factor", 1.0));
  if (partial <= 0 || partial > 1) fail("key partial_rotary_factor: {} is not in (0, 1]", partial);
  c.rotary_dim = static_cast<int64_t>(static_cast<double>(c.head_dim) * partial);

  // "rope_type" (current) or "type" (older configs, DeepSeek).
  std::string type = hf_string(params, "rope_type", hf_string(params, "type", "none"));
  if (type == "default") type = "none";
  if (type == "su") type = "longrope";
  if (type != "none" && type != "linear" && type != "dynamic" && type != "yarn" && type != "llama3" &&
      type != "longrope")
    fail("key {}.rope_type: unsupported value \"{}\"", where, type);

  RopeScaling& rs = c.rope_scaling;
  rs.type = type;
  if (type == "none") return;
  with_context("key " + where, [&] {
    rs.factor = hf_float(params, "factor", 1.0);
    if (rs.factor <= 0) fail("factor: must be positive, got {}", rs.factor);
    rs.original_context_length = hf_int(params, "original_max_position_embeddings",
                                        hf_int(hf, "original_max_position_embeddings", 0, 0, arch::kMaxContext), 0,
                                        arch::kMaxContext);
    rs.beta_fast = hf_float(params, "beta_fast", rs.beta_fast);
    rs.beta_slow = hf_float(params, "beta_slow", rs.beta_slow);
    rs.mscale = hf_float(params, "mscale", rs.mscale);
    rs.mscale_all_dim = hf_float(params, "mscale_all_dim", rs.mscale_all_dim);
    rs.attn_factor = hf_float(params, "attention_factor", hf_float(params, "attn_factor", rs.attn_factor));
    rs.low_freq_factor = hf_float(params, "low_freq_factor", rs.low_freq_factor);
    rs.high_freq_factor = hf_float(params, "high_freq_factor", rs.high_freq_factor);
  });
  if (type == "yarn" && rs.original_context_length == 0)
    fail("key {}.original_max_position_embeddings: required for yarn", where);
}

}  // namespace

ModelConfig config_from_hf(const nlohmann::json& hf_in) {
  if (!hf_in.is_object()) fail("config.json: expected a JSON object");
  const json hf = flatten_text_config(hf_in);
  const ArchSpec& spec = spec_for(hf);

  ModelConfig c;
  c.arch = spec.arch;
  c.hf_architecture = hf["architectures"][0].get<std::string>();
  c.name = hf_string(hf, "_name_or_path", "");
  c.source = hf_in;

  auto require = [&](const char* key) {
    if (!hf_has(hf, key)) fail("missing key {}", key);
  };
  require("vocab_size");
  require("hidden_size");
  require("num_hidden_layers");
  require("num_attention_heads");
  c.vocab_size = hf_int(hf, "vocab_size", 0, 1, arch::kMaxVocab);
  c.hidden_size = hf_int(hf, "hidden_size", 0, 1, arch::kMaxHidden);
  c.n_layers = hf_int(hf, "num_hidden_layers", 0, 1, arch::kMaxLayers);
  c.n_heads = hf_int(hf, "num_attention_heads", 0, 1, arch::kMaxHeads);
  c.n_kv_heads = hf_int(hf, "num_key_value_heads", c.n_heads, 1, arch::kMaxHeads);
  if (!hf_has(hf, "head_dim") && c.hidden_size % c.n_heads != 0)
    fail("key num_attention_heads: {} does not divide hidden_size {}", c.n_heads, c.hidden_size);
  c.head_dim = hf_int(hf, "head_dim", c.hidden_size / c.n_heads, 1, arch::kMaxHeadDim);
  c.v_head_dim = c.head_dim;
  c.intermediate_size = hf_int(hf, "intermediate_size", 0, 0, arch::kMaxFFN);

  const auto ctx_key = arch::hf_first_key(hf, {"max_position_embeddings", "seq_length", "n_positions",
                                               "max_sequence_length", "model_max_length"});
  if (!ctx_key) fail("missing key max_position_embeddings");
  c.context_length = hf_int(hf, *ctx_key, 0, 1, arch::kMaxContext);

  const auto eps_key = arch::hf_first_key(hf, {"rms_norm_eps", "layer_norm_eps", "layernorm_epsilon", "norm_epsilon"});
  c.norm_eps = eps_key ? hf_float(hf, *eps_key, 1e-6) : 1e-6;
  if (c.norm_eps <= 0 || c.norm_eps > 1) fail("key {}: {} is not in (0, 1]", eps_key.value_or("rms_norm_eps"), c.norm_eps);

  c.tie_word_embeddings = hf_bool(hf, "tie_word_embeddings", false);
  c.attention_bias = hf_bool(hf, "attention_bias", false);
  c.mlp_bias = hf_bool(hf, "mlp_bias", false);
  c.bos_token_id = token_id(hf, "bos_token_id");
  c.eos_token_id = token_id(hf, "eos_token_id");

  read_rope(hf, c);

  if (spec.read_hf_config) spec.read_hf_config(hf, c);
  validate_config(c);
  return c;
}

}  // namespace dragon
