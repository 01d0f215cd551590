// Where requests live in the KV cache, and what one forward step computes.
//
// SlotTable: the cache has n_parallel sequence slots of n_ctx positions. Each slot remembers the
// tokens whose keys / values it holds, also after its request finished, so a new request whose
// prompt starts with them (a multi-turn chat, a shared system prompt) is admitted into that slot
// and prefilled only after the common prefix.
//
// plan_step: one Batch from the running requests — one decode token for each generating request,
// then prompt tokens of the prefilling ones in admission order, at most `prefill_chunk` in all,
// so a long prompt is spread over steps and never stalls the streams already running.
//
// Swapping in a paged cache with a radix tree (the next step) stays inside this file: acquire()
// becomes "match the prompt in the radix tree, pin its blocks, allocate blocks for the rest"
// (returning the matched length as `reused`), record() appends to the request's block table,
// release() unpins blocks into the tree's LRU (evicted when memory runs out) instead of keeping a
// whole slot. The engine only sees a placement, a reused length and a per-request sequence
// handle in the Batch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "runtime/batch.h"
#include "runtime/request_state.h"

namespace dragon {

class SlotTable {
 public:
  explicit SlotTable(int n_slots);

  struct Placement {
    int slot;
    int64_t reused;  // prompt tokens already in the slot's cache (prefill starts here)
  };
  // A free slot for `prompt`: the one holding the longest common prefix with it, else the
  // least recently used one (keeping recent prefixes for later requests). At least the last
  // prompt token is always recomputed, since its logits give the first answer token.
  // nullopt when every slot is busy.
  std::optional<Placement> acquire(const std::vector<int32_t>& prompt);
  // The slot's cache now holds `token` at `position` (anything after it is dropped).
  void record(int slot, int64_t position, int32_t token);
  // The request left; its tokens stay for prefix reuse.
  void release(int slot);
  // The slot's contents are unknown (a failed forward pass): nothing to reuse.
  void forget(int slot);

  bool has_free() const;
  int n_busy() const;
  // Positions held by busy slots.
  int64_t busy_positions() const;

 private:
  struct Slot {
    bool busy = false;
    std::vector<int32_t> tokens;  // what the cache holds, position by position
    uint64_t last_used = 0;
  };
  std::vector<Slot> slots_;
  uint64_t clock_ = 0;
};

// What one forward step computes for one request.
struct StepPart {
  RequestState* request;
  int64_t n_tokens;    // decode: 1; prefill: the chunk's length
  bool decode;
  bool wants_logits;   // decode, or a chunk that reaches the end of the prompt
};

struct StepPlan {
  Batch batch;
  std::vector<StepPart> parts;  // in batch order; logits rows come back in the same order
};

// `running` in admission order. Does not change the requests (see commit_step).
StepPlan plan_step(const std::vector<RequestState*>& running, int64_t prefill_chunk);
// After a successful forward pass: advances the prefill of each part and records the fed
// tokens in the slot table.
void commit_step(const StepPlan& plan, SlotTable& slots);

}  // namespace dragon
