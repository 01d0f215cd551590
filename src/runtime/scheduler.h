// Where requests live in the KV cache, and what one forward step computes.
//
// SequenceTable: the paged KV cache (kv_cache.h) has n_parallel sequences drawing blocks from
// one pool, and a radix-tree prefix cache (prefix_cache.h) keeps the blocks of earlier requests.
// A request is admitted into a free sequence that starts with the blocks of the longest cached
// prefix of its prompt (a multi-turn chat, a shared system prompt) and is prefilled only after
// it. While it runs, each block it fills joins the tree (so a request arriving meanwhile shares
// it); when it leaves, its last partial block joins too and the tree keeps all of them until the
// pool runs low, when the least recently used ones no sequence holds are evicted.
//
// plan_step: one Batch from the running requests — one decode token for each generating request,
// then context tokens of the prefilling ones in admission order, at most `prefill_chunk` in all,
// so a long prompt is spread over steps and never stalls the streams already running.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "runtime/batch.h"
#include "runtime/kv_cache.h"
#include "runtime/prefix_cache.h"
#include "runtime/request_state.h"

namespace dragon {

class SequenceTable {
 public:
  explicit SequenceTable(KVCache& cache);

  struct Placement {
    int slot;
    int64_t reused;  // context tokens already in the sequence's cache (prefill starts here)
  };
  // A free sequence for a request whose cache must hold `context` before it decodes. Its
  // longest cached prefix is attached; `needs_last_logits` (a fresh request: the last prompt
  // token's logits give the first answer token) keeps at least the last token to compute.
  // nullopt when every sequence is busy, or when `others_running` and the pool (free plus
  // evictable blocks) cannot hold the rest of the context — the request then waits rather than
  // forcing a preemption at once.
  std::optional<Placement> acquire(const std::vector<int32_t>& context, bool needs_last_logits, bool others_running);
  // The sequence's cache now holds `token` at `position` (anything after it is dropped).
  void record(int slot, int64_t position, int32_t token);
  // Caches the blocks the sequence filled since the last call in the prefix cache.
  void share_full_blocks(int slot);
  // The request left (finished or preempted): its blocks, the last partial one too, stay in the
  // prefix cache and the sequence is free.
  void release(int slot);
  // The sequence's contents are unknown (a failed forward pass): freed, nothing cached.
  void forget(int slot);
  // Rolls the sequence back to its first n positions (speculative decoding's rejected tokens).
  void truncate(int slot, int64_t n);
  // Makes at least `n` blocks free, evicting cached blocks no sequence holds. False when even
  // evicting all of them is not enough.
  bool make_free(int64_t n);

  bool has_free() const;
  int n_busy() const;
  int64_t busy_positions() const;  // positions held by busy sequences
  int64_t blocks_in_use() const;   // blocks held by sequences
  int64_t blocks_cached() const;   // blocks only the prefix cache holds (evictable)
  const PrefixCache& prefix_cache() const { return prefix_; }
  KVCache& cache() { return cache_; }

 private:
  struct Slot {
    bool busy = false;
    std::vector<int32_t> tokens;  // what the sequence's cache holds, position by position
    int64_t shared_blocks = 0;    // leading blocks already in the prefix cache
  };
  KVCache& cache_;
  PrefixCache prefix_;
  std::vector<Slot> slots_;
};

// What one forward step computes for one request.
struct StepPart {
  RequestState* request;
  int64_t n_tokens;    // decode: 1; prefill: the chunk's length
  bool decode;
  bool wants_logits;   // decode, or a chunk that reaches the end of a fresh request's prompt
};

struct StepPlan {
  Batch batch;
  std::vector<StepPart> parts;  // in batch order; logits rows come back in the same order
};

// `running` in admission order. Does not change the requests (see commit_step).
StepPlan plan_step(const std::vector<RequestState*>& running, int64_t prefill_chunk);
// After a successful forward pass: advances the prefill of each part, records the fed tokens
// in the sequence table and shares the blocks they filled.
void commit_step(const StepPlan& plan, SequenceTable& sequences);

}  // namespace dragon
