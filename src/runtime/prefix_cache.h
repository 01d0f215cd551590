// The prefix cache: a radix tree over token ids, one KV-cache block per node, that keeps the
// blocks of earlier requests so a new request starting with the same tokens (a shared system
// prompt, the previous turns of a chat) attaches them instead of recomputing them.
//
// A node's edge is the tokens of one block: block_size tokens, or fewer for a leaf holding the
// last, partly filled block of a sequence. Matching walks whole blocks and may end part-way into
// a node (its first tokens match): that block is shared too, and the sequence writes into a
// private copy of it (KVCache copies shared blocks before writing). The tree holds one reference
// on each node's block (BlockPool); evict() drops the least recently used leaves whose block no
// sequence holds, so cached blocks cost nothing until the pool runs low.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/block_pool.h"

namespace dragon {

class PrefixCache {
 public:
  PrefixCache(BlockPool& pool, int64_t block_size);
  ~PrefixCache();  // lets go of every cached block
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  struct Match {
    std::vector<int32_t> blocks;  // the blocks holding tokens [0, n_tokens), in order
    int64_t n_tokens = 0;
  };
  // The longest cached prefix of `tokens` (marks its nodes as just used; takes no reference:
  // the caller attaches the blocks to a sequence before anything can be evicted).
  Match match(const std::vector<int32_t>& tokens);
  // Caches the first n_tokens of `tokens`, held by `blocks` (block i holds tokens
  // [i * block_size, (i + 1) * block_size)). Blocks already cached under the same tokens stay as
  // they are (this call's block is then not taken); a cached partial block that this one
  // extends is replaced by it. Takes a reference on every block it keeps.
  void insert(const std::vector<int32_t>& tokens, const std::vector<int32_t>& blocks, int64_t n_tokens);
  // Drops least recently used leaves whose block only the tree holds until `n_blocks` blocks
  // went back to the pool or none is left to drop. Returns the blocks freed.
  int64_t evict(int64_t n_blocks);

  int64_t n_nodes() const { return n_nodes_; }
  // Cached blocks no sequence holds (what evict() could free, at most).
  int64_t n_idle_blocks() const;
  uint64_t evicted_total() const { return evicted_total_; }

 private:
  struct Node {
    std::vector<int32_t> tokens;  // this block's tokens (block_size, or fewer in a partial leaf)
    int32_t block = -1;
    uint64_t last_used = 0;
    Node* parent = nullptr;
    std::vector<std::unique_ptr<Node>> children;
  };
  void release_subtree(Node& node);

  BlockPool& pool_;
  int64_t block_size_;
  Node root_;
  uint64_t clock_ = 0;
  int64_t n_nodes_ = 0;
  uint64_t evicted_total_ = 0;
};

}  // namespace dragon
