#include "runtime/scheduler.h"

#include <algorithm>

#include "util/error.h"

namespace dragon {

SequenceTable::SequenceTable(KVCache& cache)
    : cache_(cache), prefix_(cache.pool(), cache.block_size()), slots_(static_cast<size_t>(cache.n_seq())) {}

std::optional<SequenceTable::Placement> SequenceTable::acquire(const std::vector<int32_t>& context,
                                                               bool needs_last_logits, bool others_running) {
  const auto free = std::find_if(slots_.begin(), slots_.end(), [](const Slot& s) { return !s.busy; });
  if (free == slots_.end()) return std::nullopt;
  const int slot = static_cast<int>(free - slots_.begin());
  // A linear-attention model's recurrent state is not in the KV blocks, so a cached prefix
  // cannot be resumed: such caches never match (and never insert, below).
  const PrefixCache::Match match = cache_.is_recurrent() ? PrefixCache::Match{} : prefix_.match(context);
  const int64_t n = static_cast<int64_t>(context.size());
  const int64_t reused = std::max<int64_t>(0, std::min(match.n_tokens, needs_last_logits ? n - 1 : n));
  cache_.attach(slot, match.blocks, reused);
  if (others_running) {
    // The rest of the context and the first answer token, plus a copy of a shared block the
    // first write may land in.
    const int64_t needed = cache_.blocks_for(n + 1) - reused / cache_.block_size() + 1;
    if (cache_.pool().n_free() + prefix_.n_idle_blocks() < needed) {
      cache_.clear(slot);
      return std::nullopt;
    }
  }
  free->busy = true;
  free->tokens.assign(context.begin(), context.begin() + reused);
  free->shared_blocks = reused / cache_.block_size();
  return Placement{slot, reused};
}

void SequenceTable::record(int slot, int64_t position, int32_t token) {
  Slot& s = slots_.at(slot);
  s.tokens.resize(static_cast<size_t>(position));  // a write at `position` drops what followed
  s.tokens.push_back(token);
  s.shared_blocks = std::min(s.shared_blocks, position / cache_.block_size());
}

void SequenceTable::share_full_blocks(int slot) {
  Slot& s = slots_.at(slot);
  const int64_t full = static_cast<int64_t>(s.tokens.size()) / cache_.block_size();
  if (full <= s.shared_blocks || cache_.is_recurrent()) return;
  prefix_.insert(s.tokens, cache_.block_table(slot), full * cache_.block_size());
  s.shared_blocks = full;
}

void SequenceTable::release(int slot) {
  Slot& s = slots_.at(slot);
  if (!s.tokens.empty() && !cache_.is_recurrent())
    prefix_.insert(s.tokens, cache_.block_table(slot), static_cast<int64_t>(s.tokens.size()));
  cache_.clear(slot);
  s = Slot{};
}

void SequenceTable::forget(int slot) {
  cache_.clear(slot);
  slots_.at(slot) = Slot{};
}

void SequenceTable::truncate(int slot, int64_t n) {
  Slot& s = slots_.at(slot);
  cache_.truncate(slot, n);
  if (static_cast<int64_t>(s.tokens.size()) > n) s.tokens.resize(static_cast<size_t>(n));
  s.shared_blocks = std::min(s.shared_blocks, n / cache_.block_size());
}

bool SequenceTable::make_free(int64_t n) {
  const int64_t missing = n - cache_.pool().n_free();
  if (missing <= 0) return true;
  prefix_.evict(missing);
  return cache_.pool().n_free() >= n;
}

bool SequenceTable::has_free() const {
  return std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return !s.busy; });
}

int SequenceTable::n_busy() const {
  return static_cast<int>(std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.busy; }));
}

int64_t SequenceTable::busy_positions() const {
  int64_t n = 0;
  for (int s = 0; s < static_cast<int>(slots_.size()); ++s)
    if (slots_[s].busy) n += cache_.length(s);
  return n;
}

int64_t SequenceTable::blocks_cached() const { return prefix_.n_idle_blocks(); }

int64_t SequenceTable::blocks_in_use() const { return cache_.pool().n_used() - blocks_cached(); }

StepPlan plan_step(const std::vector<RequestState*>& running, int64_t prefill_chunk) {
  StepPlan plan;
  for (RequestState* r : running) {
    if (r->prefilling()) continue;
    plan.batch.add(r->decode_token(), r->decode_position(), r->slot, true);
    plan.batch.mark_stepwise(plan.batch.size() - 1);
    plan.parts.push_back({r, 1, true, true});
  }
  int64_t budget = prefill_chunk;
  for (RequestState* r : running) {
    if (budget <= 0) break;
    if (!r->prefilling()) continue;
    const int64_t n = std::min(budget, r->context_size() - r->prefilled);
    // A resumed request (preempted after drawing tokens) already has its next token.
    const bool logits = r->prefilled + n == r->context_size() && r->completion_tokens() == 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t pos = r->prefilled + i;
      plan.batch.add(r->context()[pos], pos, r->slot, logits && i + 1 == n);
      // A resumed request's generated tokens were decoded one step at a time: recomputed the
      // same way, they give back the cache rows (and logits) they had.
      if (pos >= r->prompt_size()) plan.batch.mark_stepwise(plan.batch.size() - 1);
    }
    plan.parts.push_back({r, n, false, logits});
    budget -= n;
  }
  // Explicit even when nothing is stepwise: a prompt chunk of one token is still a prompt token
  // (Batch's default would take a sequence's lone token for a decode step).
  plan.batch.stepwise.resize(static_cast<size_t>(plan.batch.size()), 0);
  return plan;
}

void commit_step(const StepPlan& plan, SequenceTable& sequences) {
  int64_t row = 0;
  for (const StepPart& part : plan.parts) {
    for (int64_t i = 0; i < part.n_tokens; ++i, ++row)
      sequences.record(part.request->slot, plan.batch.positions[row], plan.batch.tokens[row]);
    if (!part.decode) part.request->prefilled += part.n_tokens;
    sequences.share_full_blocks(part.request->slot);
  }
}

}  // namespace dragon
