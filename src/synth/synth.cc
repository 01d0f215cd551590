#include "synth/synth.h"

#include <fmt/format.h>

#include <algorithm>

#include "models/arch_common.h"
#include "synth/synth_writers.h"
#include "synth/tokenizer_embed.h"
#include "util/error.h"

namespace dragon {

using json = nlohmann::json;

void apply_config_override(json& config, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) fail("--set {}: expected KEY=VALUE", assignment);
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;  // not JSON: a plain string

  json* node = &config;
  std::string path;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    path += (path.empty() ? "" : ".") + part;
    if (!node->is_object() || !node->contains(part))
      fail("--set {}: the config has no key {} (check the spelling; dragon synth only overrides existing keys)",
           assignment, path);
    node = &(*node)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  *node = std::move(value);
}

void apply_layer_count(json& config_in, int64_t layers) {
  if (layers < 1 || layers > arch::kMaxLayers) fail("--layers {}: must be in [1, {}]", layers, arch::kMaxLayers);
  // Multimodal releases (Qwen3.5) keep the language model's keys in text_config.
  json& config = config_in.contains("text_config") && config_in["text_config"].is_object() &&
                         !config_in.contains("num_hidden_layers")
                     ? config_in["text_config"]
                     : config_in;
  const json old = config.value("num_hidden_layers", json());
  if (!old.is_number_integer()) fail("--layers: the config has no integer num_hidden_layers");
  const int64_t old_layers = old.get<int64_t>();
  config["num_hidden_layers"] = layers;
  for (auto& [key, value] : config.items()) {
    if (key == "mlp_only_layers" && value.is_array()) {
      // A list of layer indices: keep those that still exist.
      json kept = json::array();
      for (const json& index : value)
        if (!index.is_number_integer() || index.get<int64_t>() < layers) kept.push_back(index);
      value = kept;
    } else if ((key == "max_window_layers" || key == "first_k_dense_replace") && value.is_number_integer()) {
      value = std::min<int64_t>(value.get<int64_t>(), layers);  // counts of leading layers
    } else if (value.is_array() && static_cast<int64_t>(value.size()) == old_layers && layers < old_layers) {
      value.erase(value.begin() + layers, value.end());  // one entry per layer (layer_types, ...)
    }
  }
}

DType synth_dtype(const std::string& name, const std::string& format) {
  if (format != "gguf" && format != "hf") fail("--format {}: expected gguf or hf", format);
  if (name == "f32") return DType::F32;
  if (name == "f16") return DType::F16;
  if (name == "bf16") return DType::BF16;
  if (name == "q8_0" || name == "q4_k") {
    if (format != "gguf") fail("--dtype {}: only for --format gguf (HF checkpoints hold f32/f16/bf16/fp8)", name);
    return name == "q8_0" ? DType::Q8_0 : DType::Q4_K;
  }
  if (name == "fp8") {
    if (format != "hf") fail("--dtype fp8: only for --format hf (DeepSeek-V3-style block-scaled checkpoints)");
    return DType::F8_E4M3;
  }
  fail("--dtype {}: expected f32, f16, bf16, q8_0, q4_k or fp8", name);
}

DType gguf_tensor_type(DType requested, int64_t row_length) {
  switch (requested) {
    case DType::Q4_K:
      if (row_length % 256 == 0) return DType::Q4_K;
      return row_length % 32 == 0 ? DType::Q5_0 : DType::F16;
    // Rows that do not fill a super-block of 256 fall back as llama.cpp's quantizer does.
    case DType::Q5_K:
      if (row_length % 256 == 0) return DType::Q5_K;
      return row_length % 32 == 0 ? DType::Q5_1 : DType::F16;
    case DType::Q6_K:
      if (row_length % 256 == 0) return DType::Q6_K;
      return row_length % 32 == 0 ? DType::Q8_0 : DType::F16;
    case DType::Q8_0:
    case DType::Q4_0:
      return row_length % 32 == 0 ? requested : DType::F16;
    default:
      return requested;
  }
}

uint32_t gguf_file_type(DType requested) {
  switch (requested) {
    case DType::F32: return 0;   // LLAMA_FTYPE_ALL_F32
    case DType::F16: return 1;   // LLAMA_FTYPE_MOSTLY_F16
    case DType::Q8_0: return 7;  // LLAMA_FTYPE_MOSTLY_Q8_0
    case DType::Q4_0: return 2;  // LLAMA_FTYPE_MOSTLY_Q4_0
    case DType::Q4_K: return 14; // LLAMA_FTYPE_MOSTLY_Q4_K_S: every quantizable tensor Q4_K
    case DType::Q5_K: return 16; // LLAMA_FTYPE_MOSTLY_Q5_K_S
    case DType::Q6_K: return 18; // LLAMA_FTYPE_MOSTLY_Q6_K
    case DType::BF16: return 32; // LLAMA_FTYPE_MOSTLY_BF16
    default: fail("no GGUF file type for {}", dtype_name(requested));
  }
}

SynthPlan plan_synth(const SynthOptions& options) {
  SynthPlan plan;
  plan.preset = find_preset(options.preset);
  if (!plan.preset) {
    std::string names;
    for (const Preset& p : all_presets()) names += (names.empty() ? "" : ", ") + p.name;
    fail("unknown preset \"{}\" (known: {})", options.preset, names);
  }
  plan.config_json = json::parse(plan.preset->config_json);
  plan.generation_config_json = plan.preset->generation_config_json.empty()
                                    ? json::object()
                                    : json::parse(plan.preset->generation_config_json);
  for (const std::string& assignment : options.sets) apply_config_override(plan.config_json, assignment);
  if (options.layers > 0) apply_layer_count(plan.config_json, options.layers);
  plan.config = with_context("preset " + plan.preset->name, [&] { return config_from_hf(plan.config_json); });
  plan.config.name = plan.preset->name;
  plan.spec = find_arch_by_gguf(plan.config.arch);
  return plan;
}

std::string synthesize(const SynthOptions& options) {
  if (options.out.empty()) fail("--out is required");
  const DType dtype = synth_dtype(options.dtype, options.format);
  const SynthPlan plan = plan_synth(options);
  return options.format == "gguf" ? synth_detail::write_synth_gguf(options, plan, dtype)
                                  : synth_detail::write_synth_hf(options, plan, dtype);
}

namespace synth_detail {

std::map<std::string, HFTensorSpec> hf_specs_by_name(const SynthPlan& plan) {
  std::map<std::string, HFTensorSpec> specs;
  for (HFTensorSpec& s : plan.spec->hf_tensors(plan.config)) {
    const std::string name = s.name;
    if (!specs.emplace(name, std::move(s)).second) fail("arch {}: HF tensor {} listed twice", plan.config.arch, name);
  }
  return specs;
}

std::string tokenizers_dir(const SynthOptions& options) { return find_tokenizers_dir(options.tokenizer_dir); }

}  // namespace synth_detail

}  // namespace dragon
