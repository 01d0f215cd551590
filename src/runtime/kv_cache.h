// The key / value cache: for each layer and sequence slot, one K row and one V row per position
// (n_kv_heads * head_dim values), stored as f32 or f16. Contiguous per (layer, sequence) — a paged
// cache shared by many requests is a later step; this is the interface the model code uses.
//
// Multi-head latent attention (DeepSeek-V2/V3, Kimi K2: config.is_mla()) caches no per-head keys
// or values at all: one row per position holds the normalised compressed latent (kv_lora_rank)
// followed by the rotated shared rope key (qk_rope_head_dim). That row is the key of the absorbed
// attention and its first kv_lora_rank values are the value (models/mla.h) — e.g. 576 values per
// layer for DeepSeek-V3 instead of 128 heads x (192 + 128).
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
  // Bytes one token occupies in the cache over all layers (what `dragon info` reports).
  int64_t bytes_per_token() const;
  static int64_t bytes_per_token(const ModelConfig& config, CacheType type);

  // Checks a batch against the cache before a forward pass: sequence ids in range, positions
  // below n_ctx, and each sequence's positions continuing its cache without gaps (a token may
  // also overwrite an earlier position, which drops everything after it). Updates the lengths.
  void begin_batch(const Batch& batch);
  void clear(int seq);

  void store(int64_t layer, int seq, int64_t pos, const float* k, const float* v);
  // Keys / values of kv head `kv_head` of a sequence, from position 0.
  KVSpan span(int64_t layer, int seq, int64_t kv_head) const;

  // MLA caches: is_latent() is true, store_latent() writes one [latent | k_rope] row and
  // latent_span() reads them back as a KVSpan whose keys are the whole rows and whose values are
  // the latent part of the same rows (v_dim = kv_lora_rank).
  bool is_latent() const { return latent_; }
  int64_t latent_width() const { return k_width_; }
  void store_latent(int64_t layer, int seq, int64_t pos, const float* latent_and_rope);
  KVSpan latent_span(int64_t layer, int seq) const;

 private:
  size_t offset(int64_t layer, int seq, int64_t pos, int64_t width) const;
  void store_row(std::vector<uint8_t>& buffer, size_t offset, const float* row, int64_t width);

  int64_t n_layers_, n_ctx_, k_width_, v_width_, head_dim_, v_head_dim_;
  int n_seq_;
  CacheType type_;
  bool latent_ = false;
  std::vector<uint8_t> k_, v_;
  std::vector<int64_t> lengths_;
};

}  // namespace dragon
