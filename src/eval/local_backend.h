// A model on this machine, run through Model::forward with several questions per batch (one
// sequence each), the way the C-Eval authors score a base model or a chat model:
//   - letters: one forward over each prompt; the answer is the option letter whose token has
//     the largest logit at the last position (the position that follows "答案：").
//   - generate: the chat template over the messages, greedy decoding until an end-of-turn token
//     or max_tokens, then extract_answer() on the text.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chat/model_template.h"
#include "eval/backend.h"
#include "kernels/attention.h"
#include "kernels/thread_pool.h"
#include "runtime/kv_cache.h"
#include "runtime/model.h"
#include "tokenizer/tokenizer.h"

namespace dragon::eval {

struct LocalOptions {
  std::string model_path;
  int threads = 1;
  int batch = 4;                  // questions per forward batch (sequences)
  int64_t max_batch_tokens = 2048;// prompt tokens per forward call (longer batches are split)
  CacheType kv_type = CacheType::F16;
  int64_t max_tokens = 512;       // generate mode: most tokens per answer
};

class LocalBackend : public Backend {
 public:
  enum class Mode { Letters, Generate };
  LocalBackend(const LocalOptions& options, Mode mode);
  ~LocalBackend() override;

  std::vector<Response> run(const std::vector<Query>& queries) override;
  size_t batch_size() const override { return static_cast<size_t>(options_.batch); }
  std::string describe() const override;

  // The token ids the letters A, B, ... encode to (the first token of each, as the C-Eval
  // scripts take them); exposed for tests.
  const std::vector<int32_t>& letter_tokens(size_t n);
  // The prompt tokens a query is run on.
  std::vector<int32_t> prompt_tokens(const Query& query) const;
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  Model& model() { return *model_; }

 private:
  // Feeds every prompt (sequence i = prompts[i]) through the model in chunks of at most
  // max_batch_tokens tokens; returns the logits of each prompt's last token.
  std::vector<std::vector<float>> prefill(const std::vector<std::vector<int32_t>>& prompts);
  std::vector<Response> run_letters(const std::vector<Query>& queries);
  std::vector<Response> run_generate(const std::vector<Query>& queries);
  void ensure_cache(int64_t n_ctx, int n_seq);

  LocalOptions options_;
  Mode mode_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  chat::ModelTemplate template_;
  std::vector<int32_t> eos_;
  std::vector<int32_t> letters_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<KVCache> cache_;
};

}  // namespace dragon::eval
