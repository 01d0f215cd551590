#include "runtime/prefix_cache.h"

#include <algorithm>
#include <queue>

#include "util/error.h"

namespace dragon {

PrefixCache::PrefixCache(BlockPool& pool, int64_t block_size) : pool_(pool), block_size_(block_size) {
  if (block_size <= 0) fail("prefix cache: block size {}", block_size);
}

PrefixCache::~PrefixCache() { release_subtree(root_); }

void PrefixCache::release_subtree(Node& node) {
  for (auto& child : node.children) {
    release_subtree(*child);
    pool_.unref(child->block);
  }
  node.children.clear();
}

PrefixCache::Match PrefixCache::match(const std::vector<int32_t>& tokens) {
  Match m;
  Node* node = &root_;
  const int64_t n = static_cast<int64_t>(tokens.size());
  const uint64_t now = ++clock_;
  while (m.n_tokens < n) {
    const auto chunk = tokens.begin() + m.n_tokens;
    const int64_t chunk_size = std::min(block_size_, n - m.n_tokens);
    Node* best = nullptr;
    int64_t best_common = 0;
    for (auto& child : node->children) {
      const int64_t len = std::min<int64_t>(chunk_size, static_cast<int64_t>(child->tokens.size()));
      const int64_t common = std::mismatch(chunk, chunk + len, child->tokens.begin()).first - chunk;
      if (common > best_common) best = child.get(), best_common = common;
    }
    if (!best) break;
    best->last_used = now;
    m.blocks.push_back(best->block);
    m.n_tokens += best_common;
    // Only a whole block continues into its children.
    if (best_common < block_size_) break;
    node = best;
  }
  return m;
}

void PrefixCache::insert(const std::vector<int32_t>& tokens, const std::vector<int32_t>& blocks, int64_t n_tokens) {
  n_tokens = std::min<int64_t>(n_tokens, static_cast<int64_t>(tokens.size()));
  n_tokens = std::min<int64_t>(n_tokens, static_cast<int64_t>(blocks.size()) * block_size_);
  Node* node = &root_;
  const uint64_t now = ++clock_;
  for (int64_t start = 0, i = 0; start < n_tokens; start += block_size_, ++i) {
    const int64_t size = std::min(block_size_, n_tokens - start);
    const std::vector<int32_t> chunk(tokens.begin() + start, tokens.begin() + start + size);
    Node* next = nullptr;
    for (auto& child : node->children) {
      const std::vector<int32_t>& t = child->tokens;
      if (t.size() >= chunk.size() && std::equal(chunk.begin(), chunk.end(), t.begin())) {
        next = child.get();  // already cached (or cached longer)
        break;
      }
      if (t.size() < chunk.size() && std::equal(t.begin(), t.end(), chunk.begin())) {
        // A partial block this one extends: the longer block takes its place.
        pool_.ref(blocks[i]);
        pool_.unref(child->block);
        child->block = blocks[i];
        child->tokens = chunk;
        next = child.get();
        break;
      }
    }
    if (!next) {
      auto fresh = std::make_unique<Node>();
      fresh->tokens = chunk;
      fresh->block = blocks[i];
      fresh->parent = node;
      pool_.ref(blocks[i]);
      next = fresh.get();
      node->children.push_back(std::move(fresh));
      ++n_nodes_;
    }
    next->last_used = now;
    if (static_cast<int64_t>(next->tokens.size()) < block_size_) break;  // a partial block ends the path
    node = next;
  }
}

int64_t PrefixCache::n_idle_blocks() const {
  int64_t n = 0;
  std::vector<const Node*> stack = {&root_};
  while (!stack.empty()) {
    const Node* node = stack.back();
    stack.pop_back();
    for (const auto& child : node->children) {
      if (pool_.refcount(child->block) == 1) ++n;
      stack.push_back(child.get());
    }
  }
  return n;
}

int64_t PrefixCache::evict(int64_t n_blocks) {
  // Candidates: leaves only the tree holds, oldest first. Dropping a leaf may make its parent
  // a candidate, which joins the queue.
  const auto newer = [](const Node* a, const Node* b) { return a->last_used > b->last_used; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(newer)> leaves(newer);
  const auto evictable = [&](const Node* n) {
    return n != &root_ && n->children.empty() && pool_.refcount(n->block) == 1;
  };
  std::vector<Node*> stack = {&root_};
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    if (evictable(node)) leaves.push(node);
    for (auto& child : node->children) stack.push_back(child.get());
  }
  int64_t freed = 0;
  while (freed < n_blocks && !leaves.empty()) {
    Node* leaf = leaves.top();
    leaves.pop();
    Node* parent = leaf->parent;
    pool_.unref(leaf->block);
    auto& siblings = parent->children;
    siblings.erase(std::find_if(siblings.begin(), siblings.end(), [&](const auto& c) { return c.get() == leaf; }));
    --n_nodes_;
    ++freed;
    ++evicted_total_;
    if (evictable(parent)) leaves.push(parent);
  }
  return freed;
}

}  // namespace dragon
