#include "runtime/speculative.h"

#include <algorithm>
#include <chrono>

#include "models/mtp.h"
#include "runtime/generation.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace dragon {

namespace {

// Length of the common prefix of two token sequences.
int64_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return static_cast<int64_t>(i);
}

// Argmax of every row.
std::vector<int32_t> argmax_rows(const Activations& logits) {
  std::vector<int32_t> ids;
  for (int64_t r = 0; r < logits.rows; ++r) ids.push_back(argmax(logits.row(r), logits.cols));
  return ids;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Draft model

DraftModelDrafter::DraftModelDrafter(Model& draft, KVCache& cache, ThreadPool& pool)
    : model_(draft), cache_(cache), pool_(pool) {}

std::vector<int32_t> DraftModelDrafter::propose(const std::vector<int32_t>& committed, int64_t k) {
  if (k <= 0 || committed.empty()) return {};
  // Keep the cached positions whose tokens are still committed; everything from the first
  // difference is re-fed (begin_batch drops the stale rest when the batch overwrites it).
  const int64_t keep = std::min<int64_t>(common_prefix(fed_, committed), static_cast<int64_t>(committed.size()) - 1);
  fed_.resize(static_cast<size_t>(keep));
  Batch batch;
  for (int64_t p = keep; p < static_cast<int64_t>(committed.size()); ++p) {
    batch.add(committed[p], p, 0, p + 1 == static_cast<int64_t>(committed.size()));
    fed_.push_back(committed[p]);
  }
  const int64_t vocab = model_.config().vocab_size;
  std::vector<int32_t> drafts;
  for (;;) {
    const Activations logits = model_.forward(batch, cache_, pool_);
    drafts.push_back(argmax(logits.row(0), vocab));
    if (static_cast<int64_t>(drafts.size()) == k) break;
    // The last draft is never fed: the target may reject it, and if not, the next proposal feeds it.
    const int64_t pos = static_cast<int64_t>(fed_.size());
    if (pos >= cache_.n_ctx()) break;
    batch = Batch();
    batch.add(drafts.back(), pos, 0, true);
    fed_.push_back(drafts.back());
  }
  return drafts;
}

// ---------------------------------------------------------------------------------------------
// MTP

MtpDrafter::MtpDrafter(MtpModel& model, KVCache& cache, ThreadPool& pool) : model_(model), cache_(cache), pool_(pool) {
  if (model.n_mtp_layers() <= 0) fail("the model has no MTP layer to draft with");
}

void MtpDrafter::observe(const TargetStep& step) {
  if (!step.hidden) fail("speculative: the target's hidden states are missing");
  hidden_first_ = step.first_position;
  hidden_ = *step.hidden;
}

std::vector<int32_t> MtpDrafter::propose(const std::vector<int32_t>& committed, int64_t k) {
  const int64_t pending = static_cast<int64_t>(committed.size()) - 1;  // position of the token not yet verified
  if (k <= 0 || pending < 1) return {};
  // Entries [valid_, pending) still need the target's real hidden states; they all come from the
  // target's last forward (which started at the first position not yet verified before it).
  const int64_t from = std::min(valid_, pending - 1);
  if (from < hidden_first_ || pending - 1 >= hidden_first_ + hidden_.rows)
    fail("speculative: MTP positions [{}, {}) are not covered by the target's hidden states [{}, {})", from, pending,
         hidden_first_, hidden_first_ + hidden_.rows);
  Batch batch;
  Activations h(pending - from, hidden_.cols);
  for (int64_t p = from; p < pending; ++p) {
    batch.add(committed[p + 1], p, 0, p + 1 == pending);
    std::copy_n(hidden_.row(p - hidden_first_), hidden_.cols, h.row(p - from));
  }
  valid_ = pending;
  const int64_t vocab = model_.mtp_cache_config().vocab_size;
  std::vector<int32_t> drafts;
  Activations out_hidden;
  for (;;) {
    const Activations logits = model_.mtp_forward(h, batch, cache_, pool_, &out_hidden);
    drafts.push_back(argmax(logits.row(0), vocab));
    const int64_t pos = batch.positions.back() + 1;
    if (static_cast<int64_t>(drafts.size()) == k || pos >= cache_.n_ctx()) break;
    // Chained: the MTP layer's own output stands in for the target's hidden state at `pos`.
    Activations next(1, out_hidden.cols);
    std::copy_n(out_hidden.row(out_hidden.rows - 1), out_hidden.cols, next.row(0));
    h = std::move(next);
    batch = Batch();
    batch.add(drafts.back(), pos, 0, true);
  }
  return drafts;
}

// ---------------------------------------------------------------------------------------------
// The verification loop

std::vector<int32_t> generate_speculative(Model& target, const std::vector<int32_t>& prompt, int64_t n, KVCache& cache,
                                          ThreadPool& pool, Drafter& drafter, int64_t k, SpeculativeStats* stats) {
  check_tokens(prompt, target.config().vocab_size);
  if (k < 1) fail("speculative: --draft-n {} (at least 1 draft token)", k);
  const int64_t vocab = target.config().vocab_size;
  MtpModel* mtp = drafter.wants_hidden() ? dynamic_cast<MtpModel*>(&target) : nullptr;
  if (drafter.wants_hidden() && !mtp) fail("speculative: the target model does not expose hidden states (no MTP)");
  if (mtp) mtp->keep_hidden(true);
  SpeculativeStats local;
  SpeculativeStats& st = stats ? *stats : local;

  std::vector<int32_t> committed = prompt;
  std::vector<int32_t> out;
  Batch batch;
  for (size_t i = 0; i < prompt.size(); ++i) batch.add(prompt[i], static_cast<int64_t>(i), 0, i + 1 == prompt.size());
  Activations logits = target.forward(batch, cache, pool);
  if (mtp) drafter.observe({0, &mtp->hidden()});
  if (n <= 0) return out;
  out.push_back(argmax(logits.row(0), vocab));
  committed.push_back(out.back());

  while (static_cast<int64_t>(out.size()) < n) {
    // Never draft past the last token asked for: the verification then also yields at most the
    // tokens still missing, and the cache needs no more positions than plain decoding.
    const int64_t room = n - static_cast<int64_t>(out.size()) - 1;
    std::vector<int32_t> drafts = room > 0 ? drafter.propose(committed, std::min(k, room)) : std::vector<int32_t>{};
    for (int32_t d : drafts)
      if (d < 0 || d >= vocab) fail("speculative: draft token {} is outside the target's vocabulary [0, {})", d, vocab);
    const int64_t p = static_cast<int64_t>(committed.size()) - 1;
    batch = Batch();
    batch.add(committed.back(), p, 0, true);
    for (size_t j = 0; j < drafts.size(); ++j) batch.add(drafts[j], p + 1 + static_cast<int64_t>(j), 0, true);
    // Verified as plain decoding would compute each token, so the ids are plain greedy's.
    for (int64_t t = 0; t < batch.size(); ++t) batch.mark_stepwise(t);
    logits = target.forward(batch, cache, pool);
    if (mtp) drafter.observe({p, &mtp->hidden()});
    const std::vector<int32_t> best = argmax_rows(logits);
    ++st.target_forwards;
    st.drafted += static_cast<int64_t>(drafts.size());
    // Accept drafts while they equal the target's own choice, then take the target's next token.
    size_t m = 0;
    while (m < drafts.size() && drafts[m] == best[m]) ++m;
    st.accepted += static_cast<int64_t>(m);
    for (size_t j = 0; j <= m && static_cast<int64_t>(out.size()) < n; ++j) {
      out.push_back(best[j]);
      committed.push_back(best[j]);
    }
    // Positions past p + m hold rejected drafts; the next batch starts at p + m + 1 and so
    // overwrites them (KVCache::begin_batch drops everything after a rewritten position).
  }
  if (mtp) mtp->keep_hidden(false);
  return out;
}

OwnedDrafter make_draft_model_drafter(Model& draft, int64_t n_ctx, CacheType type, ThreadPool& pool) {
  OwnedDrafter d;
  d.cache = std::make_unique<KVCache>(draft.config(), n_ctx, 1, type);
  d.drafter = std::make_unique<DraftModelDrafter>(draft, *d.cache, pool);
  return d;
}

OwnedDrafter make_mtp_drafter(Model& target, int64_t n_ctx, CacheType type, ThreadPool& pool) {
  auto* mtp = dynamic_cast<MtpModel*>(&target);
  if (!mtp || mtp->n_mtp_layers() == 0)
    fail("--speculative mtp: the model has no MTP layer (DeepSeek-V3/R1 HF directories and GLM-4.5 files carry "
         "one; llama.cpp's DeepSeek GGUF conversion drops it)");
  OwnedDrafter d;
  d.cache = std::make_unique<KVCache>(mtp->mtp_cache_config(), n_ctx, 1, type);
  d.drafter = std::make_unique<MtpDrafter>(*mtp, *d.cache, pool);
  return d;
}

SpeculativeBench bench_speculative(Model& target, const std::function<OwnedDrafter(int64_t n_ctx)>& make_drafter,
                                   int64_t n_prompt, int64_t n_gen, int64_t k, int reps, CacheType type,
                                   ThreadPool& pool) {
  if (n_gen < 1) fail("bench: speculative decoding needs -n of at least 1");
  const ModelConfig& c = target.config();
  std::vector<int32_t> prompt;
  for (int64_t i = 0; i < std::max<int64_t>(n_prompt, 1); ++i) prompt.push_back(static_cast<int32_t>((i * 7 + 1) % c.vocab_size));
  const int64_t n_ctx = static_cast<int64_t>(prompt.size()) + n_gen;
  if (n_ctx > c.context_length) fail("bench: {} positions, more than the model's context of {}", n_ctx, c.context_length);
  auto seconds = [](auto start) { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  SpeculativeBench out;
  for (int rep = -1; rep < std::max(reps, 1); ++rep) {  // rep -1: warm-up
    KVCache cache(c, n_ctx, 1, type);
    auto start = std::chrono::steady_clock::now();
    const std::vector<int32_t> plain = generate_greedy(target, prompt, n_gen, cache, pool);
    const double plain_s = seconds(start);
    OwnedDrafter d = make_drafter(n_ctx);
    KVCache spec_cache(c, n_ctx, 1, type);
    SpeculativeStats st;
    start = std::chrono::steady_clock::now();
    const std::vector<int32_t> spec = generate_speculative(target, prompt, n_gen, spec_cache, pool, *d.drafter, k, &st);
    const double spec_s = seconds(start);
    if (spec != plain) out.identical = false;
    if (rep < 0) continue;
    out.plain_tokens_per_s.push_back(static_cast<double>(n_gen) / plain_s);
    out.speculative_tokens_per_s.push_back(static_cast<double>(n_gen) / spec_s);
    out.stats = st;
  }
  return out;
}

void check_draft_compatible(const ModelConfig& target, const ModelConfig& draft, const Tokenizer* target_tokenizer,
                            const Tokenizer* draft_tokenizer) {
  if (target.vocab_size != draft.vocab_size)
    fail("--draft-model: its vocabulary has {} tokens, the model's {}: the draft must share the model's tokenizer",
         draft.vocab_size, target.vocab_size);
  if (!target_tokenizer || !draft_tokenizer) return;
  const int32_t n = std::min(target_tokenizer->n_vocab(), draft_tokenizer->n_vocab());
  if (target_tokenizer->n_vocab() != draft_tokenizer->n_vocab())
    fail("--draft-model: its tokenizer has {} tokens, the model's {}", draft_tokenizer->n_vocab(),
         target_tokenizer->n_vocab());
  for (int32_t id = 0; id < n; ++id)
    if (target_tokenizer->token_text(id) != draft_tokenizer->token_text(id))
      fail("--draft-model: token {} is \"{}\" in the draft's tokenizer but \"{}\" in the model's", id,
           draft_tokenizer->token_text(id), target_tokenizer->token_text(id));
}

}  // namespace dragon
