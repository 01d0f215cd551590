// The paged KV cache's parts on their own: the block pool's reference counts, block tables
// (allocation a block at a time, copy on write of shared blocks, truncation, attaching shared
// blocks), attention over a paged span equal to the contiguous one, and the radix-tree prefix
// cache (whole and partial block matches, replacing a partial block, LRU eviction that spares
// blocks a sequence holds).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "kernels/attention.h"
#include "runtime/block_pool.h"
#include "runtime/kv_cache.h"
#include "runtime/prefix_cache.h"
#include "runtime/scheduler.h"
#include "util/error.h"

namespace dragon {
namespace {

TEST(BlockPool, AllocatesSharesAndFrees) {
  BlockPool pool(3);
  const auto a = pool.allocate(), b = pool.allocate(), c = pool.allocate();
  ASSERT_TRUE(a && b && c);
  EXPECT_FALSE(pool.allocate().has_value()) << "three blocks, three taken";
  EXPECT_EQ(pool.n_free(), 0);
  pool.ref(*b);
  EXPECT_EQ(pool.refcount(*b), 2);
  pool.unref(*b);
  EXPECT_EQ(pool.n_free(), 0) << "one holder left";
  pool.unref(*b);
  EXPECT_EQ(pool.n_free(), 1);
  EXPECT_THROW(pool.unref(*b), Error) << "freeing a free block";
  EXPECT_THROW(pool.ref(*b), Error) << "sharing a free block";
  EXPECT_EQ(pool.allocate(), b) << "the block freed last comes back first";
  std::printf("  3 blocks: %lld used, %lld free\n", (long long)pool.n_used(), (long long)pool.n_free());
  EXPECT_THROW(BlockPool(0), Error);
}

ModelConfig small_config() {
  ModelConfig c;
  c.n_layers = 2;
  c.n_kv_heads = 2;
  c.head_dim = 4;
  return c;
}

Batch tokens_at(int seq, int64_t from, int64_t to) {
  Batch b;
  for (int64_t p = from; p < to; ++p) b.add(7, p, seq, false);
  return b;
}

// Writes row values identifying (layer, seq, pos) into positions [from, to) of `seq`.
void fill(KVCache& cache, int seq, int64_t from, int64_t to, float tag) {
  std::vector<float> k(8), v(8);
  for (int64_t layer = 0; layer < 2; ++layer)
    for (int64_t p = from; p < to; ++p) {
      for (int i = 0; i < 8; ++i) k[i] = tag + 100 * layer + p + 0.01f * i, v[i] = -k[i];
      cache.store(layer, seq, p, k.data(), v.data());
    }
}

float key_at(const KVCache& cache, int64_t layer, int seq, int64_t pos, int64_t head) {
  const KVSpan s = cache.span(layer, seq, head);
  return static_cast<const float*>(s.k)[s.row_offset(pos, s.k_stride)];
}

TEST(PagedKVCache, GrowsABlockAtATimeAndCopiesSharedBlocksBeforeWriting) {
  KVCache cache(small_config(), 16, 2, CacheType::F32, /*n_blocks=*/4, /*block_size=*/4);
  EXPECT_EQ(cache.pool().size(), 4);
  cache.begin_batch(tokens_at(0, 0, 5));
  fill(cache, 0, 0, 5, 0.0f);
  EXPECT_EQ(cache.block_table(0).size(), 2u) << "5 positions in blocks of 4";
  EXPECT_EQ(cache.pool().n_used(), 2);
  EXPECT_EQ(cache.blocks_needed(tokens_at(0, 5, 9)), 1) << "positions 5..8: one more block";

  // Sequence 1 shares sequence 0's 5 positions (both blocks), then writes position 5: into
  // its own copy of the second block, the first stays shared.
  cache.attach(1, cache.block_table(0), 5);
  EXPECT_EQ(cache.pool().refcount(cache.block_table(0)[1]), 2);
  EXPECT_EQ(cache.blocks_needed(tokens_at(1, 5, 6)), 1) << "a copy of the shared block";
  cache.begin_batch(tokens_at(1, 5, 6));
  fill(cache, 1, 5, 6, 1000.0f);
  EXPECT_EQ(cache.block_table(1)[0], cache.block_table(0)[0]);
  EXPECT_NE(cache.block_table(1)[1], cache.block_table(0)[1]);
  EXPECT_EQ(cache.pool().n_used(), 3);
  EXPECT_EQ(key_at(cache, 1, 1, 4, 0), 100.0f + 4) << "the copy keeps the shared positions";
  EXPECT_EQ(key_at(cache, 1, 1, 5, 1), 1000.0f + 100 + 5 + 0.04f);
  EXPECT_EQ(key_at(cache, 0, 0, 4, 0), 4.0f) << "the original is untouched";

  // Rolling back (speculative decoding's rejected tokens) frees the blocks past the new end.
  cache.begin_batch(tokens_at(0, 5, 9));
  EXPECT_EQ(cache.block_table(0).size(), 3u);
  EXPECT_EQ(cache.pool().n_free(), 0);
  cache.truncate(0, 5);
  EXPECT_EQ(cache.length(0), 5);
  EXPECT_EQ(cache.block_table(0).size(), 2u);
  cache.truncate(0, 9);
  EXPECT_EQ(cache.length(0), 5) << "truncate never lengthens";

  // The pool is the limit: a batch it cannot hold is refused and changes nothing.
  EXPECT_EQ(cache.blocks_needed(tokens_at(1, 6, 16)), 2);
  EXPECT_THROW(cache.begin_batch(tokens_at(1, 6, 16)), Error) << "2 blocks needed, 1 free";
  EXPECT_EQ(cache.length(1), 6);
  cache.clear(0);
  cache.clear(1);
  std::printf("  after clearing both sequences: %lld of %lld blocks used\n", (long long)cache.pool().n_used(),
              (long long)cache.pool().size());
  EXPECT_EQ(cache.pool().n_used(), 0);
  EXPECT_THROW(KVCache(small_config(), 16, 1, CacheType::F32, 3, 4), Error) << "3 blocks of 4 < one context of 16";
}

TEST(PagedKVCache, MlaLatentRowsArePagedToo) {
  ModelConfig c;
  c.n_layers = 2;
  c.n_heads = 2;
  c.n_kv_heads = 2;
  c.kv_lora_rank = 6;
  c.qk_rope_head_dim = 2;
  c.qk_nope_head_dim = 4;
  c.v_head_dim = 4;
  ASSERT_TRUE(c.is_mla());
  KVCache cache(c, 16, 1, CacheType::F32, 0, 4);
  cache.begin_batch(tokens_at(0, 0, 10));
  std::vector<float> row(8);
  for (int64_t p = 0; p < 10; ++p) {
    for (int i = 0; i < 8; ++i) row[i] = static_cast<float>(p * 10 + i);
    cache.store_latent(1, 0, p, row.data());
  }
  const KVSpan s = cache.latent_span(1, 0);
  EXPECT_EQ(s.k, s.v);
  for (int64_t p = 0; p < 10; ++p) EXPECT_EQ(static_cast<const float*>(s.k)[s.row_offset(p, s.k_stride) + 7], p * 10 + 7);
}

// One kv head over n_pos positions, contiguous and scattered over shuffled pool blocks: every
// attention kernel gives the same bits for both.
TEST(PagedKVCache, AttentionOverScatteredBlocksEqualsContiguous) {
  const int64_t n_pos = 150, head_dim = 32, group = 3, bs = 16, n_blocks = (n_pos + bs - 1) / bs + 3;
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> k(n_pos * head_dim), v(n_pos * head_dim), q(group * head_dim);
  for (float& x : k) x = dist(rng);
  for (float& x : v) x = dist(rng);
  for (float& x : q) x = dist(rng);
  std::vector<int32_t> ids(n_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  // Pool block layout as the cache's: bs K rows, then bs V rows.
  const int64_t block_stride = 2 * bs * head_dim;
  std::vector<float> pool(n_blocks * block_stride, NAN);
  for (int64_t p = 0; p < n_pos; ++p) {
    float* base = pool.data() + ids[p / bs] * block_stride;
    std::copy_n(k.data() + p * head_dim, head_dim, base + (p % bs) * head_dim);
    std::copy_n(v.data() + p * head_dim, head_dim, base + bs * head_dim + (p % bs) * head_dim);
  }
  const KVSpan flat{k.data(), v.data(), head_dim, head_dim, CacheType::F32};
  KVSpan paged{pool.data(), pool.data() + bs * head_dim, head_dim, head_dim, CacheType::F32};
  paged.blocks = ids.data();
  paged.block_size = bs;
  paged.block_stride = block_stride;
  for (AttentionKernel kernel : {AttentionKernel::Reference, AttentionKernel::Portable, AttentionKernel::Avx512}) {
    if (!attention_kernel_available(kernel)) continue;
    for (int64_t n : {int64_t{1}, int64_t{17}, n_pos}) {
      std::vector<float> a(group * head_dim), b(group * head_dim);
      attend_group_using(kernel, q.data(), group, flat, n, head_dim, head_dim, 0.2f, a.data());
      attend_group_using(kernel, q.data(), group, paged, n, head_dim, head_dim, 0.2f, b.data());
      float worst = 0;
      for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
      if (n == n_pos) std::printf("  %s over %lld positions: max |paged - contiguous| %g\n",
                                  attention_kernel_name(kernel).c_str(), (long long)n, worst);
      EXPECT_EQ(worst, 0.0f) << attention_kernel_name(kernel) << " n_pos " << n;
    }
  }
}

// The block walk must not slow attention down: 4096 f16 positions of head_dim 128, a GQA group
// of 4, contiguous vs blocks of 16 in shuffled order, the best of several runs each (interleaved,
// so load on the machine hits both alike).
TEST(PagedKVCache, AttentionOverBlocksCostsAboutTheSame) {
  const int64_t n_pos = 4096, head_dim = 128, group = 4, bs = 16, n_blocks = n_pos / bs;
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint16_t> half(0x2c00, 0x3c00);  // f16 values in [2^-4, 1]
  std::vector<uint16_t> flat_k(n_pos * head_dim), flat_v(n_pos * head_dim), pool(n_pos * head_dim * 2);
  for (auto& x : flat_k) x = half(rng);
  for (auto& x : flat_v) x = half(rng);
  std::vector<int32_t> ids(n_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  const int64_t block_stride = 2 * bs * head_dim;
  for (int64_t p = 0; p < n_pos; ++p) {
    uint16_t* base = pool.data() + ids[p / bs] * block_stride;
    std::copy_n(flat_k.data() + p * head_dim, head_dim, base + (p % bs) * head_dim);
    std::copy_n(flat_v.data() + p * head_dim, head_dim, base + bs * head_dim + (p % bs) * head_dim);
  }
  const KVSpan flat{flat_k.data(), flat_v.data(), head_dim, head_dim, CacheType::F16};
  KVSpan paged{pool.data(), pool.data() + bs * head_dim, head_dim, head_dim, CacheType::F16};
  paged.blocks = ids.data();
  paged.block_size = bs;
  paged.block_stride = block_stride;
  std::vector<float> q(group * head_dim, 0.05f), a(group * head_dim), b(group * head_dim);
  const auto time = [&](const KVSpan& kv, std::vector<float>& out) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) attend_group(q.data(), group, kv, n_pos, head_dim, head_dim, 0.1f, out.data());
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 5;
  };
  double best_flat = 1e9, best_paged = 1e9;
  for (int rep = 0; rep < 7; ++rep) {
    best_flat = std::min(best_flat, time(flat, a));
    best_paged = std::min(best_paged, time(paged, b));
  }
  EXPECT_EQ(a, b);
  std::printf("  %s, %lld positions: contiguous %.1f us, blocks of %lld %.1f us (x%.2f)\n",
              attention_kernel_name(best_attention_kernel()).c_str(), (long long)n_pos, best_flat * 1e6,
              (long long)bs, best_paged * 1e6, best_paged / best_flat);
  EXPECT_LT(best_paged, 2.0 * best_flat) << "walking the block table made attention much slower";
}

std::vector<int32_t> seq(int32_t from, int n) {
  std::vector<int32_t> t(n);
  std::iota(t.begin(), t.end(), from);
  return t;
}

// Blocks for `n` positions taken from the pool (as a sequence would hold them).
std::vector<int32_t> take(BlockPool& pool, int n) {
  std::vector<int32_t> b;
  for (int i = 0; i < n; ++i) b.push_back(*pool.allocate());
  return b;
}

void drop(BlockPool& pool, const std::vector<int32_t>& blocks) {
  for (int32_t b : blocks) pool.unref(b);
}

TEST(PrefixCache, MatchesWholeAndPartialBlocks) {
  BlockPool pool(16);
  PrefixCache tree(pool, 4);
  const std::vector<int32_t> a = seq(100, 10);  // blocks [100..103] [104..107] [108 109]
  const std::vector<int32_t> blocks = take(pool, 3);
  tree.insert(a, blocks, 10);
  drop(pool, blocks);  // the sequence left: only the tree holds them
  EXPECT_EQ(tree.n_nodes(), 3);
  EXPECT_EQ(pool.n_used(), 3);
  EXPECT_EQ(tree.n_idle_blocks(), 3);

  PrefixCache::Match m = tree.match(a);
  EXPECT_EQ(m.n_tokens, 10);
  EXPECT_EQ(m.blocks, blocks);
  std::vector<int32_t> b = seq(100, 6);
  b.push_back(7);  // diverges inside the second block
  m = tree.match(b);
  EXPECT_EQ(m.n_tokens, 6) << "two tokens into the second block";
  EXPECT_EQ(m.blocks, std::vector<int32_t>(blocks.begin(), blocks.begin() + 2));
  EXPECT_EQ(tree.match(seq(5, 8)).n_tokens, 0);
  std::vector<int32_t> longer = seq(100, 14);
  EXPECT_EQ(tree.match(longer).n_tokens, 10) << "the partial last block ends the match";

  // The same tokens again (another request computed them): the cached blocks stay.
  const std::vector<int32_t> dup = take(pool, 3);
  tree.insert(a, dup, 10);
  EXPECT_EQ(tree.n_nodes(), 3);
  EXPECT_EQ(tree.match(a).blocks, blocks);
  drop(pool, dup);
  // A longer sequence replaces the partial block [108 109] with its full one and goes on.
  const std::vector<int32_t> grown = take(pool, 4);
  tree.insert(longer, {blocks[0], blocks[1], grown[2], grown[3]}, 14);
  drop(pool, grown);
  std::printf("  %lld nodes, %lld blocks used after inserting 10, 10 again, then 14 tokens\n",
              (long long)tree.n_nodes(), (long long)pool.n_used());
  EXPECT_EQ(tree.n_nodes(), 4);
  EXPECT_EQ(pool.n_used(), 4) << "the replaced partial block went back to the pool";
  EXPECT_EQ(tree.match(longer).n_tokens, 14);
}

TEST(PrefixCache, EvictsLeastRecentlyUsedLeavesNoSequenceHolds) {
  BlockPool pool(8);
  PrefixCache tree(pool, 2);
  const std::vector<int32_t> shared = {1, 2}, x = {1, 2, 3, 4}, y = {1, 2, 5, 6};
  std::vector<int32_t> bx = take(pool, 2);
  tree.insert(x, bx, 4);
  std::vector<int32_t> by = {bx[0], *pool.allocate()};
  pool.ref(bx[0]);
  tree.insert(y, by, 4);
  drop(pool, bx);
  EXPECT_EQ(tree.n_nodes(), 3);  // [1 2] with children [3 4] and [5 6]
  tree.match(x);                 // x used more recently than y
  // y's sequence still runs: its blocks are held and cannot go.
  EXPECT_EQ(tree.n_idle_blocks(), 1) << "only [3 4] is held by the tree alone";
  EXPECT_EQ(tree.evict(5), 1);
  EXPECT_EQ(tree.match(x).n_tokens, 2);
  EXPECT_EQ(tree.evict(5), 0) << "nothing else is idle";
  drop(pool, by);  // y's sequence left
  EXPECT_EQ(tree.n_nodes(), 2);
  EXPECT_EQ(tree.evict(10), 2) << "[5 6], then its parent [1 2] once it is a leaf";
  std::printf("  evicted %llu blocks in all; %lld nodes, %lld blocks used\n", (unsigned long long)tree.evicted_total(),
              (long long)tree.n_nodes(), (long long)pool.n_used());
  EXPECT_EQ(tree.n_nodes(), 0);
  EXPECT_EQ(pool.n_used(), 0);
}

TEST(PrefixCache, EvictionOrderIsLeastRecentlyUsedFirst) {
  BlockPool pool(8);
  PrefixCache tree(pool, 2);
  const std::vector<std::vector<int32_t>> prompts = {{1, 1}, {2, 2}, {3, 3}};
  for (const auto& p : prompts) {
    const std::vector<int32_t> b = take(pool, 1);
    tree.insert(p, b, 2);
    drop(pool, b);
  }
  tree.match(prompts[0]);  // now the most recent
  EXPECT_EQ(tree.evict(1), 1);
  EXPECT_EQ(tree.match(prompts[1]).n_tokens, 0) << "{2 2} was the least recently used";
  EXPECT_EQ(tree.match(prompts[0]).n_tokens, 2);
  EXPECT_EQ(tree.match(prompts[2]).n_tokens, 2);
}

// The sequence table the engine admits requests through: a prompt starting like a finished
// one attaches its blocks, truncate() rolls a sequence back (speculative decoding), and a
// released sequence leaves only cached blocks behind.
TEST(SequenceTable, ReusesReleasedPrefixesAndRollsBack) {
  KVCache cache(small_config(), 32, 2, CacheType::F32, 0, 4);
  SequenceTable table(cache);
  const std::vector<int32_t> first = seq(10, 10);
  auto p = table.acquire(first, true, false);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->reused, 0);
  Batch b;
  for (int64_t i = 0; i < 10; ++i) b.add(first[i], i, p->slot, i == 9);
  cache.begin_batch(b);
  for (int64_t i = 0; i < 10; ++i) table.record(p->slot, i, first[i]);
  table.share_full_blocks(p->slot);
  EXPECT_EQ(table.prefix_cache().n_nodes(), 2) << "two full blocks of 4 shared while running";
  table.truncate(p->slot, 6);  // rejected speculative tokens
  EXPECT_EQ(cache.length(p->slot), 6);
  EXPECT_EQ(cache.block_table(p->slot).size(), 2u);
  table.release(p->slot);
  EXPECT_EQ(table.blocks_in_use(), 0);
  EXPECT_EQ(table.blocks_cached(), 2) << "the block past the rollback was never shared: it went back to the pool";
  // The second block was shared before the rollback and still holds the right keys / values for
  // its tokens, so a prompt sharing 7 tokens finds all 7.
  std::vector<int32_t> second = seq(10, 7);
  second.push_back(99);
  auto q = table.acquire(second, true, false);
  ASSERT_TRUE(q.has_value());
  std::printf("  second prompt: %lld of %zu tokens reused, %lld blocks in use, %lld cached\n", (long long)q->reused,
              second.size(), (long long)table.blocks_in_use(), (long long)table.blocks_cached());
  EXPECT_EQ(q->reused, 7);
  EXPECT_EQ(cache.length(q->slot), 7);
  EXPECT_EQ(table.blocks_in_use(), 2);
  table.forget(q->slot);
  EXPECT_EQ(table.blocks_in_use(), 0);
}

}  // namespace
}  // namespace dragon
