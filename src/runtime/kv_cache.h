// The key / value cache: for each layer and sequence slot, one K row and one V row per position
// (n_kv_heads * head_dim values), stored as f32 or f16. Contiguous per (layer, sequence) — a paged
// cache shared by many requests is a later step; this is the interface the model code uses.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/attention.h"
#include "models/model_config.h"
#include "runtime/batch.h"

namespace dragon {

class KVCache {
 public:
  KVCache(const ModelConfig& config, int64_t n_ctx, int n_seq, CacheType type);

  int64_t n_ctx() const { return n_ctx_; }
  int n_seq() const { return n_seq_; }
  CacheType type() const { return type_; }
  int64_t length(int seq) const { return lengths_.at(seq); }

  // Checks a batch against the cache before a forward pass: sequence ids in range, positions
  // below n_ctx, and each sequence's positions continuing its cache without gaps (a token may
  // also overwrite an earlier position, which drops everything after it). Updates the lengths.
  void begin_batch(const Batch& batch);
  void clear(int seq);

  void store(int64_t layer, int seq, int64_t pos, const float* k, const float* v);
  // Keys / values of kv head `kv_head` of a sequence, from position 0.
  KVSpan span(int64_t layer, int seq, int64_t kv_head) const;

 private:
  size_t offset(int64_t layer, int seq, int64_t pos, int64_t width) const;

  int64_t n_layers_, n_ctx_, k_width_, v_width_, head_dim_, v_head_dim_;
  int n_seq_;
  CacheType type_;
  std::vector<uint8_t> k_, v_;
  std::vector<int64_t> lengths_;
};

}  // namespace dragon
