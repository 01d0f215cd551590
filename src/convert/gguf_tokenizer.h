// An HF tokenizer (tokenizer.json + tokenizer_config.json, optionally chat_template.jinja) as
// GGUF tokenizer.ggml.* metadata, the way llama.cpp's convert_hf_to_gguf.py writes it for
// byte-level BPE vocabularies: tokens padded to the model's vocab_size with "[PAD<id>]" (type
// UNUSED), token types (added special tokens CONTROL, other added tokens USER_DEFINED), merges,
// the pre-tokenizer name, BOS / EOS / UNK / PAD ids, add_bos / add_eos and the chat template.
// Shared by `dragon convert` and `dragon synth --format gguf`.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "models/model_config.h"

namespace dragon {

class GGUFWriter;

// Writes the tokenizer of `dir` (a directory holding tokenizer.json) into `w`. `pre` is the
// tokenizer.ggml.pre name; empty = detected from tokenizer.json (detect_pre_tokenizer).
// Throws dragon::Error naming the file for a missing / malformed tokenizer, an id outside
// vocab_size, or a tokenizer kind llama.cpp's "gpt2" model cannot express.
void embed_hf_tokenizer(const std::string& dir, const std::string& pre, const ModelConfig& config, GGUFWriter& w);

// The tokenizer.ggml.pre name whose split regexes split text exactly as tokenizer.json's
// pre_tokenizer does (llama.cpp's converter decides by hashing the ids of a check text; this
// compares the pieces of a check text). Among equal candidates, the one llama.cpp gives the
// architecture `arch` wins. Throws dragon::Error if none matches.
std::string detect_pre_tokenizer(const nlohmann::json& tokenizer_json, const std::string& arch);

}  // namespace dragon
