// `dragon synth`: makes a synthetic model — random weights with the exact config and shapes of a
// real release (a Preset) — as an HF directory (safetensors) or a llama.cpp GGUF file.
//
// The model is defined in HF space: every HF tensor's values come from synth_tensor_values
// (seed, tensor name). GGUF tensors are built from those through the ArchSpec's plans, so the
// HF and GGUF outputs of one seed are the same model. Writing streams one tensor at a time.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "models/arch.h"
#include "models/model_config.h"
#include "synth/preset.h"
#include "tensor/dtype.h"

namespace dragon {

struct SynthOptions {
  std::string preset;                // a preset name (dragon synth --list)
  std::string format = "gguf";       // gguf | hf
  std::string dtype = "f32";         // f32 | f16 | bf16 | q8_0 | q4_k (gguf) | fp8 (hf)
  int64_t layers = 0;                // > 0: override num_hidden_layers
  uint64_t seed = 0;
  std::vector<std::string> sets;     // "key=value" config overrides, applied before `layers`
  std::string out;                   // GGUF file path, or HF directory
  std::string tokenizer_dir;         // "" = DRAGON_TOKENIZERS or <binary dir>/share/tokenizers
  std::string name;                  // GGUF general.name ("" = the preset name)
  std::string description;           // GGUF general.description ("" = none)
  uint64_t max_shard_bytes = 2ull << 30;  // HF: shard the safetensors above this
};

// The model a SynthOptions describes, before any weight is made.
struct SynthPlan {
  const Preset* preset = nullptr;
  nlohmann::json config_json;             // the preset's config.json with the overrides applied
  nlohmann::json generation_config_json;  // {} if the preset has none
  ModelConfig config;
  const ArchSpec* spec = nullptr;
};

// Resolves the preset, applies --set and --layers, parses and validates the config. Throws
// dragon::Error for an unknown preset, a bad override or an invalid resulting config.
SynthPlan plan_synth(const SynthOptions& options);

// Writes the model to options.out. Returns a one-line summary ("wrote ... (N tensors, B bytes)").
std::string synthesize(const SynthOptions& options);

// --set KEY=VALUE on a config: VALUE is parsed as JSON if it can be, else taken as a string;
// a dotted KEY reaches into objects ("rope_scaling.factor"). Every component of KEY must exist
// (typo protection). Throws dragon::Error naming the key.
void apply_config_override(nlohmann::json& config, const std::string& assignment);

// --layers N: sets num_hidden_layers and shortens per-layer data (lists with one entry per
// layer, lists of layer indices such as mlp_only_layers, counts such as max_window_layers).
void apply_layer_count(nlohmann::json& config, int64_t layers);

// The GGUF type a quantizable tensor gets for a requested type, given its row length: like
// llama.cpp's quantizer, rows that are not a multiple of the block size fall back —
// Q4_K -> Q5_0 (rows % 32 == 0) -> F16; Q8_0 -> F16. F32 / F16 / BF16 never fall back.
DType gguf_tensor_type(DType requested, int64_t row_length);

// The GGUF general.file_type (llama_ftype) for a requested type.
uint32_t gguf_file_type(DType requested);

// The requested dtype from its flag spelling; throws for an unknown one or one the format does
// not support (q8_0 / q4_k are GGUF-only, fp8 is HF-only).
DType synth_dtype(const std::string& name, const std::string& format);

}  // namespace dragon
