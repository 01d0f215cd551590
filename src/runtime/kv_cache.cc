#include "runtime/kv_cache.h"

#include <cstring>

#include "tensor/half.h"
#include "util/error.h"

namespace dragon {

namespace {
size_t element_bytes(CacheType type) { return type == CacheType::F32 ? 4 : 2; }

struct RowWidths {
  int64_t k, v;
};
// Values per position per layer: MLA keeps one [latent | k_rope] row, the others a K and a V row
// per kv head.
RowWidths row_widths(const ModelConfig& c) {
  if (c.is_mla()) return {c.kv_lora_rank + c.qk_rope_head_dim, 0};
  const int64_t vd = c.v_head_dim ? c.v_head_dim : c.head_dim;
  return {c.n_kv_heads * c.head_dim, c.n_kv_heads * vd};
}
}  // namespace

KVCache::KVCache(const ModelConfig& c, int64_t n_ctx, int n_seq, CacheType type)
    : n_layers_(c.n_layers),
      n_ctx_(n_ctx),
      head_dim_(c.head_dim),
      v_head_dim_(c.v_head_dim ? c.v_head_dim : c.head_dim),
      n_seq_(n_seq),
      type_(type),
      latent_(c.is_mla()) {
  if (n_ctx <= 0) fail("kv cache: context of {} positions", n_ctx);
  if (n_seq <= 0) fail("kv cache: {} sequences", n_seq);
  const RowWidths widths = row_widths(c);
  k_width_ = widths.k;
  v_width_ = widths.v;
  const size_t cells = static_cast<size_t>(n_layers_) * n_seq * n_ctx;
  k_.resize(cells * k_width_ * element_bytes(type));
  v_.resize(cells * v_width_ * element_bytes(type));
  lengths_.assign(n_seq, 0);
}

int64_t KVCache::bytes_per_token(const ModelConfig& c, CacheType type) {
  const RowWidths widths = row_widths(c);
  return c.n_layers * (widths.k + widths.v) * static_cast<int64_t>(element_bytes(type));
}

int64_t KVCache::bytes_per_token() const {
  return n_layers_ * (k_width_ + v_width_) * static_cast<int64_t>(element_bytes(type_));
}

void KVCache::clear(int seq) { lengths_.at(seq) = 0; }

void KVCache::begin_batch(const Batch& batch) {
  std::vector<int64_t> lengths = lengths_;
  for (int64_t i = 0; i < batch.size(); ++i) {
    const int seq = batch.seq_ids[i];
    const int64_t pos = batch.positions[i];
    if (seq < 0 || seq >= n_seq_) fail("batch token {}: sequence id {} outside [0, {})", i, seq, n_seq_);
    if (pos < 0 || pos >= n_ctx_)
      fail("batch token {}: position {} outside the context of {} positions", i, pos, n_ctx_);
    if (pos > lengths[seq])
      fail("batch token {}: position {} leaves a gap in sequence {} (cached up to {})", i, pos, seq, lengths[seq]);
    lengths[seq] = pos + 1;
  }
  lengths_ = std::move(lengths);
}

size_t KVCache::offset(int64_t layer, int seq, int64_t pos, int64_t width) const {
  return ((static_cast<size_t>(layer) * n_seq_ + seq) * n_ctx_ + pos) * width;
}

void KVCache::store_row(std::vector<uint8_t>& buffer, size_t offset, const float* row, int64_t width) {
  if (type_ == CacheType::F32) {
    std::memcpy(reinterpret_cast<float*>(buffer.data()) + offset, row, width * sizeof(float));
    return;
  }
  uint16_t* dst = reinterpret_cast<uint16_t*>(buffer.data()) + offset;
  for (int64_t i = 0; i < width; ++i) dst[i] = f32_to_f16(row[i]);
}

void KVCache::store(int64_t layer, int seq, int64_t pos, const float* k, const float* v) {
  if (latent_) fail("kv cache: store() on a latent (MLA) cache; use store_latent()");
  store_row(k_, offset(layer, seq, pos, k_width_), k, k_width_);
  store_row(v_, offset(layer, seq, pos, v_width_), v, v_width_);
}

KVSpan KVCache::span(int64_t layer, int seq, int64_t kv_head) const {
  if (latent_) fail("kv cache: span() on a latent (MLA) cache; use latent_span()");
  const size_t bytes = element_bytes(type_);
  KVSpan s;
  s.k = k_.data() + (offset(layer, seq, 0, k_width_) + kv_head * head_dim_) * bytes;
  s.v = v_.data() + (offset(layer, seq, 0, v_width_) + kv_head * v_head_dim_) * bytes;
  s.k_stride = k_width_;
  s.v_stride = v_width_;
  s.type = type_;
  return s;
}

void KVCache::store_latent(int64_t layer, int seq, int64_t pos, const float* latent_and_rope) {
  if (!latent_) fail("kv cache: store_latent() on a per-head K/V cache");
  store_row(k_, offset(layer, seq, pos, k_width_), latent_and_rope, k_width_);
}

KVSpan KVCache::latent_span(int64_t layer, int seq) const {
  if (!latent_) fail("kv cache: latent_span() on a per-head K/V cache");
  KVSpan s;
  s.k = s.v = k_.data() + offset(layer, seq, 0, k_width_) * element_bytes(type_);
  s.k_stride = s.v_stride = k_width_;
  s.type = type_;
  return s;
}

}  // namespace dragon
