// Which blocks of the paged KV cache are free, and how many holders each used block has.
// A holder is a sequence's block table or a node of the prefix cache (prefix_cache.h); a block
// shared by several holders is read-only to them (KVCache copies it before a write), and it
// returns to the free list when its last holder lets go. Only ids live here; the K/V bytes
// are in KVCache.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace dragon {

class BlockPool {
 public:
  explicit BlockPool(int64_t n_blocks);

  int64_t size() const { return static_cast<int64_t>(refs_.size()); }
  int64_t n_free() const { return static_cast<int64_t>(free_.size()); }
  int64_t n_used() const { return size() - n_free(); }

  // A free block with one holder, or nullopt when none is left.
  std::optional<int32_t> allocate();
  void ref(int32_t block);
  // Drops one holder; the block is free again when none is left.
  void unref(int32_t block);
  int refcount(int32_t block) const { return refs_.at(static_cast<size_t>(block)); }

 private:
  std::vector<int> refs_;
  std::vector<int32_t> free_;  // a stack: the block freed last is reused first (warm in cache)
};

}  // namespace dragon
