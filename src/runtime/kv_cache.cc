#include "runtime/kv_cache.h"

#include <cstring>

#include "tensor/half.h"
#include "util/error.h"

namespace dragon {

namespace {
size_t element_bytes(CacheType type) { return type == CacheType::F32 ? 4 : 2; }
}  // namespace

KVCache::KVCache(const ModelConfig& c, int64_t n_ctx, int n_seq, CacheType type)
    : n_layers_(c.n_layers),
      n_ctx_(n_ctx),
      head_dim_(c.head_dim),
      v_head_dim_(c.v_head_dim ? c.v_head_dim : c.head_dim),
      n_seq_(n_seq),
      type_(type) {
  if (n_ctx <= 0) fail("kv cache: context of {} positions", n_ctx);
  if (n_seq <= 0) fail("kv cache: {} sequences", n_seq);
  k_width_ = c.n_kv_heads * head_dim_;
  v_width_ = c.n_kv_heads * v_head_dim_;
  const size_t cells = static_cast<size_t>(n_layers_) * n_seq * n_ctx;
  k_.resize(cells * k_width_ * element_bytes(type));
  v_.resize(cells * v_width_ * element_bytes(type));
  lengths_.assign(n_seq, 0);
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

void KVCache::store(int64_t layer, int seq, int64_t pos, const float* k, const float* v) {
  const size_t ko = offset(layer, seq, pos, k_width_), vo = offset(layer, seq, pos, v_width_);
  if (type_ == CacheType::F32) {
    std::memcpy(reinterpret_cast<float*>(k_.data()) + ko, k, k_width_ * sizeof(float));
    std::memcpy(reinterpret_cast<float*>(v_.data()) + vo, v, v_width_ * sizeof(float));
    return;
  }
  uint16_t* kd = reinterpret_cast<uint16_t*>(k_.data()) + ko;
  uint16_t* vd = reinterpret_cast<uint16_t*>(v_.data()) + vo;
  for (int64_t i = 0; i < k_width_; ++i) kd[i] = f32_to_f16(k[i]);
  for (int64_t i = 0; i < v_width_; ++i) vd[i] = f32_to_f16(v[i]);
}

KVSpan KVCache::span(int64_t layer, int seq, int64_t kv_head) const {
  const size_t bytes = element_bytes(type_);
  KVSpan s;
  s.k = k_.data() + (offset(layer, seq, 0, k_width_) + kv_head * head_dim_) * bytes;
  s.v = v_.data() + (offset(layer, seq, 0, v_width_) + kv_head * v_head_dim_) * bytes;
  s.k_stride = k_width_;
  s.v_stride = v_width_;
  s.type = type_;
  return s;
}

}  // namespace dragon
