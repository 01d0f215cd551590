#include "eval/local_backend.h"

#include <fmt/format.h>

#include <algorithm>

#include "chat/chat_template.h"
#include "eval/answer_extract.h"
#include "runtime/generation.h"
#include "util/error.h"

namespace dragon::eval {

namespace {

// The ids that end an answer: the tokenizer's EOS and the template's eos_token.
std::vector<int32_t> end_ids(const Tokenizer& tok, const chat::ModelTemplate& tmpl) {
  std::vector<int32_t> ids;
  const auto add = [&](int64_t id) {
    if (id >= 0 && id < tok.n_vocab() && std::find(ids.begin(), ids.end(), id) == ids.end())
      ids.push_back(static_cast<int32_t>(id));
  };
  add(tok.eos_id());
  if (!tmpl.eos_token.empty())
    if (auto id = tok.token_id(tmpl.eos_token)) add(*id);
  // Chat models end a turn with their own marker, which is not always the EOS.
  for (const char* marker : {"<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_sentence|>", "<｜end▁of▁sentence｜>",
                             "<|user|>", "<|observation|>", "</s>"})
    if (auto id = tok.token_id(marker)) add(*id);
  return ids;
}

}  // namespace

LocalBackend::LocalBackend(const LocalOptions& options, Mode mode) : options_(options), mode_(mode) {
  model_ = build_model(open_model(options.model_path));
  tokenizer_ = load_tokenizer(options.model_path);
  if (mode == Mode::Generate) {
    template_ = chat::load_model_template(options.model_path);
    eos_ = end_ids(*tokenizer_, template_);
  }
  pool_ = std::make_unique<ThreadPool>(options.threads);
}

LocalBackend::~LocalBackend() = default;

std::string LocalBackend::describe() const {
  return mode_ == Mode::Letters ? "local model, letter logits at the answer position" : "local model, greedy chat generation";
}

const std::vector<int32_t>& LocalBackend::letter_tokens(size_t n) {
  while (letters_.size() < n) {
    const std::string letter = option_letter(letters_.size());
    const std::vector<int32_t> ids = tokenizer_->encode(letter, false, false);
    if (ids.empty()) fail("the tokenizer encodes the letter {} to no tokens", letter);
    letters_.push_back(ids[0]);
  }
  return letters_;
}

std::vector<int32_t> LocalBackend::prompt_tokens(const Query& query) const {
  if (mode_ == Mode::Letters) return tokenizer_->encode(query.text, /*add_special_tokens=*/true, /*parse_special=*/false);
  const chat::ChatTemplate t = chat::ChatTemplate::parse(template_.source);
  const std::string text =
      t.render(chat::make_chat_context(query.messages, nullptr, true, template_.bos_token, template_.eos_token));
  // The template carries BOS / special tokens itself, as HF's apply_chat_template(tokenize=True).
  return tokenizer_->encode(text, false, true);
}

void LocalBackend::ensure_cache(int64_t n_ctx, int n_seq) {
  if (cache_ && cache_->n_ctx() >= n_ctx && cache_->n_seq() >= n_seq) {
    for (int s = 0; s < cache_->n_seq(); ++s) cache_->clear(s);
    return;
  }
  cache_.reset();  // free the old one first: the two may not fit side by side
  cache_ = std::make_unique<KVCache>(model_->config(), n_ctx, n_seq, options_.kv_type);
}

std::vector<std::vector<float>> LocalBackend::prefill(const std::vector<std::vector<int32_t>>& prompts) {
  const ModelConfig& c = model_->config();
  struct Token {
    int32_t id;
    int64_t pos;
    int32_t seq;
    bool last;
  };
  std::vector<Token> all;
  for (size_t s = 0; s < prompts.size(); ++s) {
    check_tokens(prompts[s], c.vocab_size);
    for (size_t i = 0; i < prompts[s].size(); ++i)
      all.push_back({prompts[s][i], static_cast<int64_t>(i), static_cast<int32_t>(s), i + 1 == prompts[s].size()});
  }
  std::vector<std::vector<float>> last(prompts.size());
  for (size_t start = 0; start < all.size(); start += static_cast<size_t>(options_.max_batch_tokens)) {
    const size_t end = std::min(all.size(), start + static_cast<size_t>(options_.max_batch_tokens));
    Batch batch;
    for (size_t i = start; i < end; ++i) batch.add(all[i].id, all[i].pos, all[i].seq, all[i].last);
    if (batch.n_outputs() == 0) {
      // Keep the cache filling; the model returns no rows.
      model_->forward(batch, *cache_, *pool_);
      continue;
    }
    const Activations logits = model_->forward(batch, *cache_, *pool_);
    int64_t row = 0;
    for (size_t i = start; i < end; ++i)
      if (all[i].last) {
        last[all[i].seq].assign(logits.row(row), logits.row(row) + logits.cols);
        ++row;
      }
  }
  return last;
}

std::vector<Response> LocalBackend::run(const std::vector<Query>& queries) {
  return mode_ == Mode::Letters ? run_letters(queries) : run_generate(queries);
}

std::vector<Response> LocalBackend::run_letters(const std::vector<Query>& queries) {
  std::vector<std::vector<int32_t>> prompts;
  int64_t longest = 0;
  for (const Query& q : queries) {
    prompts.push_back(prompt_tokens(q));
    longest = std::max<int64_t>(longest, static_cast<int64_t>(prompts.back().size()));
  }
  const int64_t context = model_->config().context_length;
  if (context > 0 && longest > context)
    fail("a prompt has {} tokens, more than the model's context of {} (use fewer --shots)", longest, context);
  ensure_cache(longest, static_cast<int>(queries.size()));
  const std::vector<std::vector<float>> last = prefill(prompts);
  std::vector<Response> out;
  for (size_t i = 0; i < queries.size(); ++i) {
    const std::vector<int32_t>& ids = letter_tokens(queries[i].item->options.size());
    Response r;
    r.prompt_tokens = static_cast<int64_t>(prompts[i].size());
    for (size_t k = 0; k < queries[i].item->options.size(); ++k) r.letter_scores.push_back(last[i][ids[k]]);
    r.pred = option_letter(static_cast<size_t>(argmax_index(r.letter_scores)));
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Response> LocalBackend::run_generate(const std::vector<Query>& queries) {
  const ModelConfig& c = model_->config();
  std::vector<std::vector<int32_t>> prompts;
  int64_t longest = 0;
  for (const Query& q : queries) {
    prompts.push_back(prompt_tokens(q));
    longest = std::max<int64_t>(longest, static_cast<int64_t>(prompts.back().size()));
  }
  int64_t n_ctx = longest + options_.max_tokens;
  if (c.context_length > 0) n_ctx = std::min<int64_t>(n_ctx, c.context_length);
  if (longest >= n_ctx) fail("a prompt has {} tokens and leaves no room to answer in the context of {}", longest, n_ctx);
  ensure_cache(n_ctx, static_cast<int>(queries.size()));
  std::vector<std::vector<float>> next_logits = prefill(prompts);

  // Greedy decoding, one token of every unfinished answer per forward.
  std::vector<std::vector<int32_t>> answers(queries.size());
  std::vector<bool> done(queries.size(), false);
  std::vector<int32_t> next(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) next[i] = argmax(next_logits[i].data(), c.vocab_size);
  for (int64_t step = 0;; ++step) {
    Batch batch;
    std::vector<size_t> rows;
    for (size_t i = 0; i < queries.size(); ++i) {
      if (done[i]) continue;
      const int32_t token = next[i];
      const int64_t pos = static_cast<int64_t>(prompts[i].size() + answers[i].size());
      if (std::find(eos_.begin(), eos_.end(), token) != eos_.end()) {
        done[i] = true;
        continue;
      }
      answers[i].push_back(token);
      if (static_cast<int64_t>(answers[i].size()) >= options_.max_tokens || pos + 1 >= n_ctx) {
        done[i] = true;
        continue;
      }
      batch.add(token, pos, static_cast<int32_t>(i), true);
      rows.push_back(i);
    }
    if (rows.empty()) break;
    const Activations logits = model_->forward(batch, *cache_, *pool_);
    for (size_t r = 0; r < rows.size(); ++r) next[rows[r]] = argmax(logits.row(static_cast<int64_t>(r)), c.vocab_size);
  }
  std::vector<Response> out;
  for (size_t i = 0; i < queries.size(); ++i) {
    Response r;
    r.prompt_tokens = static_cast<int64_t>(prompts[i].size());
    r.completion_tokens = static_cast<int64_t>(answers[i].size());
    r.output = tokenizer_->decode(answers[i], /*skip_special_tokens=*/false);
    r.pred = extract_answer(r.output, queries[i].item->options.size());
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace dragon::eval
