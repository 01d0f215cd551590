// `dragon convert`: a Hugging Face model directory (config.json, safetensors — F32/F16/BF16 or
// DeepSeek-style block-scaled FP8 —, tokenizer.json + tokenizer_config.json) to a GGUF file
// that llama.cpp loads: the family's metadata, tensor names and transforms from its ArchSpec
// (the tables `dragon synth` converts with), the tokenizer as convert_hf_to_gguf.py writes it,
// and the weights in the requested type (tensor_type_mix.h). No Python.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "tensor/dtype.h"

namespace dragon {

struct ConvertOptions {
  std::string hf_dir;
  std::string out;
  std::string type = "f16";  // f32 | f16 | bf16 | q8_0 | q6_k | q4_k_m
  std::string name;          // general.name ("" = the directory's name)
};

struct ConvertReport {
  std::string arch;
  int64_t tensors = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  std::map<std::string, int64_t> tensors_by_type;  // "Q6_K" -> count
};

// Validates the whole directory (config, architecture, every tensor's presence and shape, the
// tokenizer) before writing; the output appears only when complete. Throws dragon::Error naming
// the file at fault.
ConvertReport convert_hf_to_gguf(const ConvertOptions& options);

}  // namespace dragon
