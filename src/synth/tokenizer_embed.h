// The real tokenizer a synthetic model carries (Preset::tokenizer):
//   "qwen3", "deepseek-v3"  — <dir>/<name>/tokenizer.json + tokenizer_config.json
//   "gguf:<vocab>"          — <dir>/ggml-vocab-<vocab>.gguf (llama.cpp's vocab-only files)
// where <dir> is --tokenizer-dir, else $DRAGON_TOKENIZERS, else <dragon binary dir>/share/tokenizers.
// If the tokenizer has fewer tokens than the config's vocab_size, the rest are padding tokens
// "[PAD<id>]" of type UNUSED, as llama.cpp's converter does.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "models/model_config.h"

namespace dragon {

class GGUFWriter;

// The tokenizer directory; throws dragon::Error naming the places tried if none exists.
std::string find_tokenizers_dir(const std::string& explicit_dir);

// Adds the tokenizer.ggml.* keys (and tokenizer.chat_template) for `tokenizer` to `w`.
void embed_gguf_tokenizer(const std::string& tokenizer, const std::string& dir, const ModelConfig& config,
                          GGUFWriter& w);

// Writes tokenizer.json and tokenizer_config.json for `tokenizer` into `out_dir`.
void write_hf_tokenizer(const std::string& tokenizer, const std::string& dir, const ModelConfig& config,
                        const std::string& out_dir);

}  // namespace dragon
