#include "runtime/generation.h"

#include <sstream>

#include "util/error.h"

namespace dragon {

std::vector<int32_t> parse_token_list(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const size_t first = item.find_first_not_of(" \t\n"), last = item.find_last_not_of(" \t\n");
    if (first == std::string::npos) fail("--tokens: empty entry at index {} in \"{}\"", ids.size(), text);
    const std::string word = item.substr(first, last - first + 1);
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(word, &used);
    } catch (...) {
      used = 0;
    }
    if (used != word.size() || v < 0 || v > INT32_MAX) fail("--tokens: \"{}\" at index {} is not a token id", word, ids.size());
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) fail("--tokens: no tokens");
  return ids;
}

void check_tokens(const std::vector<int32_t>& tokens, int64_t vocab_size) {
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab_size)
      fail("token {} at index {} is outside the vocabulary [0, {})", tokens[i], i, vocab_size);
}

Activations prompt_logits(Model& model, const std::vector<int32_t>& tokens, KVCache& cache, ThreadPool& pool) {
  check_tokens(tokens, model.config().vocab_size);
  Batch batch;
  for (size_t i = 0; i < tokens.size(); ++i) batch.add(tokens[i], static_cast<int64_t>(i), 0, true);
  return model.forward(batch, cache, pool);
}

int32_t argmax(const float* row, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (row[i] > row[best]) best = i;
  return static_cast<int32_t>(best);
}

std::vector<int32_t> generate_greedy(Model& model, const std::vector<int32_t>& prompt, int64_t n, KVCache& cache,
                                     ThreadPool& pool) {
  check_tokens(prompt, model.config().vocab_size);
  const int64_t vocab = model.config().vocab_size;
  Batch batch;
  for (size_t i = 0; i < prompt.size(); ++i) batch.add(prompt[i], static_cast<int64_t>(i), 0, i + 1 == prompt.size());
  Activations logits = model.forward(batch, cache, pool);
  std::vector<int32_t> out;
  for (int64_t step = 0; step < n; ++step) {
    const int32_t next = argmax(logits.row(0), vocab);
    out.push_back(next);
    if (step + 1 == n) break;
    Batch one;
    one.add(next, static_cast<int64_t>(prompt.size()) + step, 0, true);
    logits = model.forward(one, cache, pool);
  }
  return out;
}

std::vector<int32_t> generate_sampled(Model& model, const std::vector<int32_t>& prompt, int64_t n, KVCache& cache,
                                      ThreadPool& pool, Sampler& sampler, const std::function<bool(int32_t)>& on_token) {
  check_tokens(prompt, model.config().vocab_size);
  sampler.add_prompt(prompt);
  Batch batch;
  for (size_t i = 0; i < prompt.size(); ++i) batch.add(prompt[i], static_cast<int64_t>(i), 0, i + 1 == prompt.size());
  Activations logits = model.forward(batch, cache, pool);
  std::vector<int32_t> out;
  for (int64_t step = 0; step < n; ++step) {
    const int32_t next = sampler.sample(logits.row(0));
    sampler.accept(next);
    out.push_back(next);
    if (on_token && !on_token(next)) break;
    if (step + 1 == n) break;
    Batch one;
    one.add(next, static_cast<int64_t>(prompt.size()) + step, 0, true);
    logits = model.forward(one, cache, pool);
  }
  return out;
}

}  // namespace dragon
