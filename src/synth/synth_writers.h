// Internal to src/synth: the two output formats of `dragon synth`, and the shared pieces.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "synth/synth.h"

namespace dragon::synth_detail {

// HF tensor specs by name, for building GGUF tensors from their HF sources.
std::map<std::string, HFTensorSpec> hf_specs_by_name(const SynthPlan& plan);

// The directory holding the tokenizer files (see tokenizer_embed.h).
std::string tokenizers_dir(const SynthOptions& options);

std::string write_synth_gguf(const SynthOptions& options, const SynthPlan& plan, DType dtype);
std::string write_synth_hf(const SynthOptions& options, const SynthPlan& plan, DType dtype);

}  // namespace dragon::synth_detail
