// Running one sequence through a model: all-position logits of a prompt, and greedy decoding
// token by token through the KV cache (the path `dragon logits` / `dragon generate` take; the
// sampler and the multi-sequence scheduler come later and use the same Model::forward).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/model.h"

namespace dragon {

// "1,2,3" (spaces allowed) -> ids; throws naming the bad entry.
std::vector<int32_t> parse_token_list(const std::string& text);
// Checks ids against the vocabulary: "token 151936 at index 3 is outside the vocabulary [0, N)".
void check_tokens(const std::vector<int32_t>& tokens, int64_t vocab_size);

// Logits of every prompt position ([n_tokens, vocab]) in one batch of sequence 0.
Activations prompt_logits(Model& model, const std::vector<int32_t>& tokens, KVCache& cache, ThreadPool& pool);

// Index of the largest value (the first one on ties, as llama.cpp's greedy sampler).
int32_t argmax(const float* row, int64_t n);

// Prefills the prompt in one batch, then `n` greedy steps of one token each.
std::vector<int32_t> generate_greedy(Model& model, const std::vector<int32_t>& prompt, int64_t n, KVCache& cache,
                                     ThreadPool& pool);

}  // namespace dragon
