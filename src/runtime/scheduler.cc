#include "runtime/scheduler.h"

#include <algorithm>

#include "util/error.h"

namespace dragon {

SlotTable::SlotTable(int n_slots) : slots_(static_cast<size_t>(n_slots)) {
  if (n_slots <= 0) fail("engine: {} sequence slots", n_slots);
}

std::optional<SlotTable::Placement> SlotTable::acquire(const std::vector<int32_t>& prompt) {
  int best = -1;
  int64_t best_common = -1;
  for (int s = 0; s < static_cast<int>(slots_.size()); ++s) {
    const Slot& slot = slots_[s];
    if (slot.busy) continue;
    const size_t n = std::min(slot.tokens.size(), prompt.size());
    const int64_t common = std::mismatch(prompt.begin(), prompt.begin() + n, slot.tokens.begin()).first - prompt.begin();
    if (common > best_common || (common == best_common && slot.last_used < slots_[best].last_used)) {
      best = s;
      best_common = common;
    }
  }
  if (best < 0) return std::nullopt;
  Slot& slot = slots_[best];
  slot.busy = true;
  slot.last_used = ++clock_;
  const int64_t reused = std::min<int64_t>(best_common, static_cast<int64_t>(prompt.size()) - 1);
  slot.tokens.resize(static_cast<size_t>(std::max<int64_t>(reused, 0)));
  return Placement{best, std::max<int64_t>(reused, 0)};
}

void SlotTable::record(int slot, int64_t position, int32_t token) {
  std::vector<int32_t>& tokens = slots_.at(slot).tokens;
  tokens.resize(static_cast<size_t>(position));  // a write at `position` drops what followed
  tokens.push_back(token);
}

void SlotTable::release(int slot) {
  slots_.at(slot).busy = false;
  slots_.at(slot).last_used = ++clock_;
}

void SlotTable::forget(int slot) { slots_.at(slot).tokens.clear(); }

bool SlotTable::has_free() const {
  return std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return !s.busy; });
}

int SlotTable::n_busy() const {
  return static_cast<int>(std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.busy; }));
}

int64_t SlotTable::busy_positions() const {
  int64_t n = 0;
  for (const Slot& s : slots_)
    if (s.busy) n += static_cast<int64_t>(s.tokens.size());
  return n;
}

StepPlan plan_step(const std::vector<RequestState*>& running, int64_t prefill_chunk) {
  StepPlan plan;
  for (RequestState* r : running) {
    if (r->prefilling()) continue;
    plan.batch.add(r->decode_token(), r->decode_position(), r->slot, true);
    plan.parts.push_back({r, 1, true, true});
  }
  int64_t budget = prefill_chunk;
  for (RequestState* r : running) {
    if (budget <= 0) break;
    if (!r->prefilling()) continue;
    const int64_t n = std::min(budget, r->prompt_size() - r->prefilled);
    const bool reaches_end = r->prefilled + n == r->prompt_size();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t pos = r->prefilled + i;
      plan.batch.add(r->prompt()[pos], pos, r->slot, reaches_end && i + 1 == n);
    }
    plan.parts.push_back({r, n, false, reaches_end});
    budget -= n;
  }
  return plan;
}

void commit_step(const StepPlan& plan, SlotTable& slots) {
  int64_t row = 0;
  for (const StepPart& part : plan.parts) {
    for (int64_t i = 0; i < part.n_tokens; ++i, ++row)
      slots.record(part.request->slot, plan.batch.positions[row], plan.batch.tokens[row]);
    if (!part.decode) part.request->prefilled += part.n_tokens;
  }
}

}  // namespace dragon
