#include "runtime/block_pool.h"

#include "util/error.h"

namespace dragon {

BlockPool::BlockPool(int64_t n_blocks) {
  if (n_blocks <= 0 || n_blocks > INT32_MAX) fail("kv cache: {} blocks", n_blocks);
  refs_.assign(static_cast<size_t>(n_blocks), 0);
  free_.reserve(static_cast<size_t>(n_blocks));
  for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));  // block 0 first
}

std::optional<int32_t> BlockPool::allocate() {
  if (free_.empty()) return std::nullopt;
  const int32_t b = free_.back();
  free_.pop_back();
  refs_[static_cast<size_t>(b)] = 1;
  return b;
}

void BlockPool::ref(int32_t block) {
  int& n = refs_.at(static_cast<size_t>(block));
  if (n <= 0) fail("kv cache: block {} is free, it cannot be shared", block);
  ++n;
}

void BlockPool::unref(int32_t block) {
  int& n = refs_.at(static_cast<size_t>(block));
  if (n <= 0) fail("kv cache: block {} is already free", block);
  if (--n == 0) free_.push_back(block);
}

}  // namespace dragon
