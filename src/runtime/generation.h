// Running one sequence through a model: all-position logits of a prompt, and greedy decoding
// token by token through the KV cache (the path `dragon logits` / `dragon generate` take; the
// sampler and the multi-sequence scheduler come later and use the same Model::forward).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/model.h"
#include "runtime/sampler.h"

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

// Prefills the prompt in one batch, then draws up to `n` tokens with `sampler` (which is told
// the prompt for its repetition penalty and accepts each drawn token). `on_token` sees each
// token as it is drawn and returns false to stop there (EOS, a stop string); the token it
// stopped on is part of the result. With greedy default parameters the tokens equal
// generate_greedy's.
std::vector<int32_t> generate_sampled(Model& model, const std::vector<int32_t>& prompt, int64_t n, KVCache& cache,
                                      ThreadPool& pool, Sampler& sampler,
                                      const std::function<bool(int32_t)>& on_token = nullptr);

}  // namespace dragon
