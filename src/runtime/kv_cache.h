// The key / value cache, paged: a pool of fixed blocks of `block_size` positions, each block
// holding every layer's K and V rows (n_kv_heads * head_dim values each) of its positions, as
// f32 or f16. Each sequence has a block table (its positions 0, bs, 2 bs, ... live in these
// blocks), so sequences grow a block at a time from one shared pool instead of reserving n_ctx
// positions each, and a block can be shared by several sequences and the prefix cache
// (reference-counted in BlockPool). A shared block is never written: begin_batch gives the
// writing sequence its own copy first (copy on write).
//
// Multi-head latent attention (DeepSeek-V2/V3, Kimi K2: config.is_mla()) caches no per-head keys
// or values at all: one row per position holds the normalised compressed latent (kv_lora_rank)
// followed by the rotated shared rope key (qk_rope_head_dim). That row is the key of the absorbed
// attention and its first kv_lora_rank values are the value (models/mla.h) — e.g. 576 values per
// layer for DeepSeek-V3 instead of 128 heads x (192 + 128).
// DeepSeek-V3.2's sparse attention (config.is_dsa()) appends the lightning indexer's key of the
// position (index_head_dim, models/dsa_indexer.h) to the same row: 576 + 128 values per layer.
// MiniMax-M3's (config.is_msa(), models/msa.h) appends its indexer key to the K row of every
// layer (the leading dense layers leave theirs unused): n_kv_heads * head_dim + index_head_dim.
//
// Hybrid linear-attention models (config.is_hybrid(), Qwen3-Next) also keep a fixed-size
// recurrent state per sequence and recurrent layer (conv inputs + delta-rule matrices). That
// state summarises all positions so far and cannot be rolled back or shared: a sequence may only
// continue at its length or restart at position 0 (which zeroes it), truncate() only to 0 or to
// the length, and attach() only empty prefixes. The prefix cache is off for such caches. Their
// blocks hold K/V rows of the full-attention layers only (Qwen3-Next: 12 of 48 layers).
//
// Block layout (elements): for each layer, block_size K rows of k_width, then block_size V rows
// of v_width (none for MLA); KVSpan (kernels/attention.h) walks a sequence's blocks.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/attention.h"
#include "models/model_config.h"
#include "runtime/batch.h"
#include "dist/shard.h"
#include "runtime/block_pool.h"

namespace dragon {

class KVCache {
 public:
  static constexpr int64_t kDefaultBlockSize = 16;

  // n_seq sequences of at most n_ctx positions each, sharing a pool of n_blocks blocks
  // (0: enough for every sequence to hold n_ctx positions, so begin_batch never runs out).
  // `layers`: the layers this process runs under --pp (only theirs are allocated; the layer
  // arguments below stay the model's layer numbers); end -1 = all.
  KVCache(const ModelConfig& config, int64_t n_ctx, int n_seq, CacheType type, int64_t n_blocks = 0,
          int64_t block_size = kDefaultBlockSize, Range layers = {0, -1});

  int64_t n_ctx() const { return n_ctx_; }
  int n_seq() const { return n_seq_; }
  CacheType type() const { return type_; }
  int64_t length(int seq) const { return lengths_.at(seq); }
  // Bytes one token occupies in the cache over all layers (what `dragon info` reports).
  int64_t bytes_per_token() const;
  static int64_t bytes_per_token(const ModelConfig& config, CacheType type);

  int64_t block_size() const { return block_size_; }
  BlockPool& pool() { return pool_; }
  const BlockPool& pool() const { return pool_; }
  // The pool blocks holding the sequence's positions, in order (ceil(length / block_size) of them).
  const std::vector<int32_t>& block_table(int seq) const { return tables_.at(seq); }
  // Blocks for `n` positions.
  int64_t blocks_for(int64_t n) const { return (n + block_size_ - 1) / block_size_; }

  // Checks a batch against the cache before a forward pass: sequence ids in range, positions
  // below n_ctx, and each sequence's positions continuing its cache without gaps (a token may
  // also overwrite an earlier position, which drops everything after it). Updates the lengths,
  // gives each sequence the blocks its new positions need (fresh ones, and private copies of
  // shared blocks it writes into); throws, leaving the cache as it was, when the batch is
  // invalid or the pool has too few free blocks.
  void begin_batch(const Batch& batch);
  // Free blocks begin_batch(batch) would take (new blocks and copies of shared ones), for a
  // valid batch: the engine makes that many free (evicting or preempting) before its step.
  int64_t blocks_needed(const Batch& batch) const;

  // Keeps positions [0, n) of the sequence and lets go of the blocks past them (rolling a
  // sequence back, e.g. rejected speculative tokens; the next write at n continues from there).
  void truncate(int seq, int64_t n);
  void clear(int seq) { truncate(seq, 0); }
  // An empty sequence starts with `blocks` (shared, e.g. from the prefix cache) holding its
  // positions [0, n): it takes a reference on the first blocks_for(n) of them.
  void attach(int seq, const std::vector<int32_t>& blocks, int64_t n);

  // Serving split over ranks (dist/split_serve.h): the copy-on-write copies (from, to) the last
  // begin_batch made, which rank 0 sends to the others; and on those ranks a mirrored cache,
  // whose block tables are set from rank 0's (mirror, copy_block) and whose begin_batch then
  // does nothing (rank 0 decided the blocks).
  const std::vector<std::pair<int32_t, int32_t>>& last_copies() const { return last_copies_; }
  void set_mirrored(bool on) { mirrored_ = on; }
  void mirror(int seq, std::vector<int32_t> blocks, int64_t length);
  void copy_block(int32_t from, int32_t to);

  void store(int64_t layer, int seq, int64_t pos, const float* k, const float* v);
  // Keys / values of kv head `kv_head` of a sequence, from position 0 (valid until the
  // sequence's block table changes: the next begin_batch / truncate / attach).
  KVSpan span(int64_t layer, int seq, int64_t kv_head) const;

  // MLA caches: is_latent() is true, store_latent() writes one [latent | k_rope] row and
  // latent_span() reads them back as a KVSpan whose keys are the whole rows and whose values are
  // the latent part of the same rows (v_dim = kv_lora_rank).
  bool is_latent() const { return latent_; }
  int64_t latent_width() const { return k_width_; }
  void store_latent(int64_t layer, int seq, int64_t pos, const float* latent_and_rope);
  KVSpan latent_span(int64_t layer, int seq) const;
  // DSA and MSA caches: the rows' indexer keys, as a KVSpan whose keys are index_head_dim wide
  // (no values). An MSA cache (per-head K/V) stores them with store_indexer_key.
  bool has_indexer_keys() const { return indexer_offset_ > 0; }
  KVSpan indexer_span(int64_t layer, int seq) const;
  void store_indexer_key(int64_t layer, int seq, int64_t pos, const float* key);

  // Recurrent state (hybrid models): config.recurrent_state_floats() floats of layer `layer`
  // (a recurrent layer) of sequence `seq`, zero when the sequence starts.
  bool is_recurrent() const { return recurrent_floats_ > 0; }
  float* recurrent_state(int64_t layer, int seq);

 private:
  struct Writes {
    int64_t first = INT64_MAX;  // lowest position written
    int64_t length = -1;        // the sequence's length after the batch (-1: untouched)
  };
  // Per sequence, what a (validated) batch writes; throws for an invalid batch.
  std::vector<Writes> plan_writes(const Batch& batch) const;
  int64_t blocks_needed(const std::vector<Writes>& writes) const;
  void check_seq(int seq) const;
  // Element offset of a row in the pool (K rows: v = false).
  size_t row_offset(int64_t layer, int seq, int64_t pos, bool v) const;
  void store_row(size_t offset, const float* row, int64_t width);

  std::vector<std::pair<int32_t, int32_t>> last_copies_;
  bool mirrored_ = false;
  int64_t n_layers_, n_ctx_,  // n_layers_: the layers that keep K/V here
          k_width_, v_width_, head_dim_, v_head_dim_, block_size_;
  int64_t block_elements_;  // elements of one pool block (all layers, K and V)
  int n_seq_;
  CacheType type_;
  bool latent_ = false;
  int64_t indexer_offset_ = 0;  // DSA / MSA: where the indexer key starts in a latent / K row (0: none)
  BlockPool pool_;
  std::vector<uint8_t> data_;
  std::vector<std::vector<int32_t>> tables_;
  std::vector<int64_t> lengths_;
  int64_t recurrent_floats_ = 0;         // per sequence and recurrent layer
  std::vector<int64_t> recurrent_slot_;  // layer -> index among the recurrent layers (-1: attention)
  // layer -> index among the layers whose K/V this cache holds; -1 for a hybrid model's linear-
  // attention layer or another pipeline stage's layer. Empty = identity (every layer, the usual case).
  std::vector<int64_t> kv_slot_;
  // kv_slot_[layer]; throws for a layer whose K/V is not here.
  int64_t kv_slot(int64_t layer) const;
  std::vector<float> recurrent_;         // [n_seq][n_recurrent_layers][recurrent_floats_]
  void reset_recurrent(int seq);
};

// Row p of a span's keys (value = false) or values (true) as f32, `width` values.
void read_span_row(const KVSpan& span, int64_t p, int64_t width, bool value, float* out);

}  // namespace dragon
