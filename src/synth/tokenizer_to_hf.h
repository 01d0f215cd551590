// A llama.cpp vocabulary (tokenizer.ggml.* metadata) as HF tokenizer files, for synthetic HF
// models whose preset names a "gguf:<vocab>" tokenizer.
//  - "gpt2" vocabs: a byte-level BPE with the vocab and merges, the pre-tokenizer regexes of
//    tokenizer.ggml.pre, control / user-defined tokens as added tokens.
//  - "llama" (SentencePiece) vocabs: a BPE with byte_fallback whose merges are derived from the
//    scores the way HF's SentencePieceExtractor does (every split of a piece into two pieces of
//    the vocab, ordered by the merged piece's score, best first), with the "▁" normalizer.
#pragma once

#include <nlohmann/json.hpp>

#include "models/model_config.h"

namespace dragon {

class GGUFFile;

struct TokenizerFiles {
  nlohmann::json tokenizer_json;
  nlohmann::json tokenizer_config_json;
};

TokenizerFiles hf_tokenizer_from_gguf(const GGUFFile& vocab, const ModelConfig& config);

}  // namespace dragon
