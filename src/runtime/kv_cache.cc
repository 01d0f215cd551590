#include "runtime/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "tensor/half.h"
#include "util/error.h"

namespace dragon {

namespace {
size_t element_bytes(CacheType type) { return type == CacheType::F32 ? 4 : 2; }

struct RowWidths {
  int64_t k, v;
};

// Whether this cache keeps layer il's keys / values: every layer of the pipeline stage `layers`
// (end < 0: the whole model), except a hybrid model's linear-attention layers (their recurrent
// state lives beside the blocks).
bool keeps_kv(const ModelConfig& c, Range layers, int64_t il) {
  const bool in_stage = layers.end < 0 || (il >= layers.begin && il < layers.end);
  return in_stage && !c.layer_is_recurrent(il);
}

int64_t kv_layers(const ModelConfig& c, Range layers = {0, -1}) {
  int64_t n = 0;
  for (int64_t il = 0; il < c.n_layers; ++il) n += keeps_kv(c, layers, il) ? 1 : 0;
  return n;
}

// Values per position per layer: MLA keeps one [latent | k_rope] row (DSA: followed by the
// lightning indexer's key), the others a K and a V row per kv head.
RowWidths row_widths(const ModelConfig& c) {
  if (c.is_mla()) return {c.kv_lora_rank + c.qk_rope_head_dim + (c.is_dsa() ? c.index_head_dim : 0), 0};
  const int64_t vd = c.v_head_dim ? c.v_head_dim : c.head_dim;
  // MSA (MiniMax-M3): the indexer key of the position after the kv heads' keys.
  return {c.n_kv_heads * c.head_dim + (c.is_msa() ? c.index_head_dim : 0), c.n_kv_heads * vd};
}

int64_t pool_blocks(int64_t n_ctx, int n_seq, int64_t n_blocks, int64_t block_size) {
  if (n_ctx <= 0) fail("kv cache: context of {} positions", n_ctx);
  if (n_seq <= 0) fail("kv cache: {} sequences", n_seq);
  if (block_size <= 0 || block_size > 4096) fail("kv cache: block size {} outside [1, 4096]", block_size);
  const int64_t per_seq = (n_ctx + block_size - 1) / block_size;
  if (n_blocks == 0) return per_seq * n_seq;
  // One sequence must always fit, or a request alone could never finish.
  if (n_blocks < per_seq)
    fail("kv cache: {} blocks of {} positions cannot hold one context of {} positions", n_blocks, block_size, n_ctx);
  return n_blocks;
}
}  // namespace

KVCache::KVCache(const ModelConfig& c, int64_t n_ctx, int n_seq, CacheType type, int64_t n_blocks, int64_t block_size,
                 Range layers)
    : n_layers_(kv_layers(c, layers)),
      n_ctx_(n_ctx),
      head_dim_(c.head_dim),
      v_head_dim_(c.v_head_dim ? c.v_head_dim : c.head_dim),
      block_size_(block_size),
      n_seq_(n_seq),
      type_(type),
      latent_(c.is_mla()),
      indexer_offset_(c.is_dsa()   ? c.kv_lora_rank + c.qk_rope_head_dim
                      : c.is_msa() ? c.n_kv_heads * c.head_dim
                                   : 0),
      pool_(pool_blocks(n_ctx, n_seq, n_blocks, block_size)) {
  if (layers.end >= 0 && (layers.begin < 0 || layers.end > c.n_layers || layers.size() < 1))
    fail("kv cache: layers [{}, {}) of a {}-layer model", layers.begin, layers.end, c.n_layers);
  const RowWidths widths = row_widths(c);
  k_width_ = widths.k;
  v_width_ = widths.v;
  block_elements_ = n_layers_ * block_size_ * (k_width_ + v_width_);
  data_.resize(static_cast<size_t>(pool_.size()) * block_elements_ * element_bytes(type));
  tables_.resize(n_seq);
  lengths_.assign(n_seq, 0);
  if (c.is_hybrid() || layers.end >= 0) {
    int64_t n_kept = 0;
    for (int64_t il = 0; il < c.n_layers; ++il) kv_slot_.push_back(keeps_kv(c, layers, il) ? n_kept++ : -1);
  }
  if (c.is_hybrid()) {
    recurrent_floats_ = c.recurrent_state_floats();
    int64_t n_recurrent = 0;
    for (int64_t il = 0; il < c.n_layers; ++il) recurrent_slot_.push_back(c.layer_is_recurrent(il) ? n_recurrent++ : -1);
    recurrent_.assign(static_cast<size_t>(n_seq) * n_recurrent * recurrent_floats_, 0.0f);
  }
}

float* KVCache::recurrent_state(int64_t layer, int seq) {
  check_seq(seq);
  if (layer < 0 || layer >= static_cast<int64_t>(recurrent_slot_.size()) || recurrent_slot_[layer] < 0)
    fail("kv cache: layer {} has no recurrent state", layer);
  const int64_t per_seq = static_cast<int64_t>(recurrent_.size()) / n_seq_;
  return recurrent_.data() + seq * per_seq + recurrent_slot_[layer] * recurrent_floats_;
}

void KVCache::reset_recurrent(int seq) {
  if (!is_recurrent()) return;
  const int64_t per_seq = static_cast<int64_t>(recurrent_.size()) / n_seq_;
  std::fill_n(recurrent_.begin() + seq * per_seq, per_seq, 0.0f);
}

int64_t KVCache::bytes_per_token(const ModelConfig& c, CacheType type) {
  const RowWidths widths = row_widths(c);
  return kv_layers(c) * (widths.k + widths.v) * static_cast<int64_t>(element_bytes(type));
}

int64_t KVCache::bytes_per_token() const {
  return n_layers_ * (k_width_ + v_width_) * static_cast<int64_t>(element_bytes(type_));
}

void KVCache::mirror(int seq, std::vector<int32_t> blocks, int64_t length) {
  check_seq(seq);
  if (length < 0 || length > n_ctx_ || static_cast<int64_t>(blocks.size()) != blocks_for(length))
    fail("kv cache: mirrored sequence {} of {} positions in {} blocks", seq, length, blocks.size());
  for (int32_t b : blocks)
    if (b < 0 || b >= pool_.size()) fail("kv cache: mirrored block {} outside the pool of {}", b, pool_.size());
  tables_[seq] = std::move(blocks);
  lengths_[seq] = length;
}

void KVCache::copy_block(int32_t from, int32_t to) {
  if (from < 0 || to < 0 || from >= pool_.size() || to >= pool_.size())
    fail("kv cache: block copy {} -> {} outside the pool of {}", from, to, pool_.size());
  const size_t block_bytes = static_cast<size_t>(block_elements_) * element_bytes(type_);
  std::memcpy(data_.data() + to * block_bytes, data_.data() + from * block_bytes, block_bytes);
}

void KVCache::check_seq(int seq) const {
  if (seq < 0 || seq >= n_seq_) fail("kv cache: sequence id {} outside [0, {})", seq, n_seq_);
}

void KVCache::truncate(int seq, int64_t n) {
  check_seq(seq);
  if (n < 0) fail("kv cache: truncating sequence {} to {} positions", seq, n);
  if (is_recurrent() && n > 0 && n < lengths_[seq])
    fail("kv cache: sequence {} cannot be rolled back to {} of its {} positions: a linear-attention model's "
         "recurrent state holds no earlier positions", seq, n, lengths_[seq]);
  if (n == 0) reset_recurrent(seq);
  std::vector<int32_t>& table = tables_[seq];
  const size_t keep = static_cast<size_t>(blocks_for(std::min(n, lengths_[seq])));
  while (table.size() > keep) {
    pool_.unref(table.back());
    table.pop_back();
  }
  lengths_[seq] = std::min(n, lengths_[seq]);
}

void KVCache::attach(int seq, const std::vector<int32_t>& blocks, int64_t n) {
  check_seq(seq);
  if (lengths_[seq] != 0 || !tables_[seq].empty()) fail("kv cache: attaching blocks to sequence {}, which is not empty", seq);
  if (is_recurrent() && n > 0)
    fail("kv cache: a linear-attention model cannot start sequence {} from {} shared positions (its recurrent "
         "state is not in the blocks)", seq, n);
  if (n < 0 || n > n_ctx_ || blocks_for(n) > static_cast<int64_t>(blocks.size()))
    fail("kv cache: {} positions do not fit {} blocks of {} positions", n, blocks.size(), block_size_);
  for (int64_t i = 0; i < blocks_for(n); ++i) {
    pool_.ref(blocks[i]);
    tables_[seq].push_back(blocks[i]);
  }
  lengths_[seq] = n;
}

std::vector<KVCache::Writes> KVCache::plan_writes(const Batch& batch) const {
  std::vector<Writes> writes(static_cast<size_t>(n_seq_));
  std::vector<int64_t> lengths = lengths_;
  for (int64_t i = 0; i < batch.size(); ++i) {
    const int seq = batch.seq_ids[i];
    const int64_t pos = batch.positions[i];
    if (seq < 0 || seq >= n_seq_) fail("batch token {}: sequence id {} outside [0, {})", i, seq, n_seq_);
    if (pos < 0 || pos >= n_ctx_)
      fail("batch token {}: position {} outside the context of {} positions", i, pos, n_ctx_);
    if (pos > lengths[seq])
      fail("batch token {}: position {} leaves a gap in sequence {} (cached up to {})", i, pos, seq, lengths[seq]);
    if (is_recurrent() && pos != lengths[seq] && pos != 0)
      fail("batch token {}: position {} rewrites sequence {} (cached up to {}), which a linear-attention model's "
           "recurrent state cannot undo (only continuing or restarting at 0)", i, pos, seq, lengths[seq]);
    lengths[seq] = pos + 1;
    writes[seq].first = std::min(writes[seq].first, pos);
    writes[seq].length = pos + 1;
  }
  return writes;
}

int64_t KVCache::blocks_needed(const std::vector<Writes>& writes) const {
  int64_t needed = 0;
  for (int seq = 0; seq < n_seq_; ++seq) {
    const Writes& w = writes[seq];
    if (w.length < 0) continue;
    const std::vector<int32_t>& table = tables_[seq];
    const int64_t kept = std::min<int64_t>(static_cast<int64_t>(table.size()), blocks_for(w.length));
    for (int64_t b = w.first / block_size_; b < blocks_for(w.length); ++b)
      if (b >= kept || pool_.refcount(table[b]) > 1) ++needed;  // a new block, or a private copy
  }
  return needed;
}

int64_t KVCache::blocks_needed(const Batch& batch) const { return blocks_needed(plan_writes(batch)); }

void KVCache::begin_batch(const Batch& batch) {
  if (mirrored_) return;
  last_copies_.clear();
  const std::vector<Writes> writes = plan_writes(batch);
  const int64_t needed = blocks_needed(writes);
  if (needed > pool_.n_free())
    fail("kv cache: the batch needs {} more blocks of {} positions, {} of {} are free", needed, block_size_,
         pool_.n_free(), pool_.size());
  const size_t block_bytes = static_cast<size_t>(block_elements_) * element_bytes(type_);
  for (int seq = 0; seq < n_seq_; ++seq) {
    const Writes& w = writes[seq];
    if (w.length < 0) continue;
    std::vector<int32_t>& table = tables_[seq];
    if (w.first == 0) reset_recurrent(seq);  // a (re)start: the recurrent state begins at zero
    // A write at an earlier position drops what followed it.
    while (static_cast<int64_t>(table.size()) > blocks_for(w.length)) {
      pool_.unref(table.back());
      table.pop_back();
    }
    for (int64_t b = w.first / block_size_; b < blocks_for(w.length); ++b) {
      if (b < static_cast<int64_t>(table.size())) {
        if (pool_.refcount(table[b]) == 1) continue;
        // Shared with another sequence or the prefix cache: write into a private copy.
        const int32_t copy = *pool_.allocate();
        std::memcpy(data_.data() + copy * block_bytes, data_.data() + table[b] * block_bytes, block_bytes);
        pool_.unref(table[b]);
        last_copies_.emplace_back(table[b], copy);
        table[b] = copy;
      } else {
        table.push_back(*pool_.allocate());
      }
    }
    lengths_[seq] = w.length;
  }
}

int64_t KVCache::kv_slot(int64_t layer) const {
  if (kv_slot_.empty()) return layer;
  if (layer < 0 || layer >= static_cast<int64_t>(kv_slot_.size()) || kv_slot_[layer] < 0)
    fail("kv cache: layer {} keeps no keys / values here (a linear-attention layer, or another pipeline stage's)",
         layer);
  return kv_slot_[layer];
}

size_t KVCache::row_offset(int64_t layer, int seq, int64_t pos, bool v) const {
  const std::vector<int32_t>& table = tables_[seq];
  const int64_t b = pos / block_size_;
  if (pos < 0 || b >= static_cast<int64_t>(table.size()))
    fail("kv cache: position {} of sequence {} has no block (begin_batch first)", pos, seq);
  const int64_t r = pos % block_size_;
  int64_t offset = table[b] * block_elements_ + kv_slot(layer) * block_size_ * (k_width_ + v_width_);
  offset += v ? block_size_ * k_width_ + r * v_width_ : r * k_width_;
  return static_cast<size_t>(offset);
}

void KVCache::store_row(size_t offset, const float* row, int64_t width) {
  if (type_ == CacheType::F32) {
    std::memcpy(reinterpret_cast<float*>(data_.data()) + offset, row, width * sizeof(float));
    return;
  }
  uint16_t* dst = reinterpret_cast<uint16_t*>(data_.data()) + offset;
  for (int64_t i = 0; i < width; ++i) dst[i] = f32_to_f16(row[i]);
}

void KVCache::store(int64_t layer, int seq, int64_t pos, const float* k, const float* v) {
  if (latent_) fail("kv cache: store() on a latent (MLA) cache; use store_latent()");
  check_seq(seq);
  // An MSA row's indexer key (after the heads' keys) is written by store_indexer_key.
  store_row(row_offset(layer, seq, pos, false), k, indexer_offset_ > 0 ? indexer_offset_ : k_width_);
  store_row(row_offset(layer, seq, pos, true), v, v_width_);
}

void KVCache::store_indexer_key(int64_t layer, int seq, int64_t pos, const float* key) {
  if (latent_ || indexer_offset_ == 0) fail("kv cache: store_indexer_key() on a cache without MSA indexer keys");
  check_seq(seq);
  store_row(row_offset(layer, seq, pos, false) + indexer_offset_, key, k_width_ - indexer_offset_);
}

KVSpan KVCache::span(int64_t layer, int seq, int64_t kv_head) const {
  if (latent_) fail("kv cache: span() on a latent (MLA) cache; use latent_span()");
  check_seq(seq);
  const size_t bytes = element_bytes(type_);
  const int64_t layer_offset = kv_slot(layer) * block_size_ * (k_width_ + v_width_);
  KVSpan s;
  s.k = data_.data() + (layer_offset + kv_head * head_dim_) * bytes;
  s.v = data_.data() + (layer_offset + block_size_ * k_width_ + kv_head * v_head_dim_) * bytes;
  s.k_stride = k_width_;
  s.v_stride = v_width_;
  s.type = type_;
  s.blocks = tables_[seq].data();
  s.block_size = block_size_;
  s.block_stride = block_elements_;
  return s;
}

void KVCache::store_latent(int64_t layer, int seq, int64_t pos, const float* latent_and_rope) {
  if (!latent_) fail("kv cache: store_latent() on a per-head K/V cache");
  check_seq(seq);
  store_row(row_offset(layer, seq, pos, false), latent_and_rope, k_width_);
}

KVSpan KVCache::latent_span(int64_t layer, int seq) const {
  if (!latent_) fail("kv cache: latent_span() on a per-head K/V cache");
  check_seq(seq);
  KVSpan s;
  s.k = s.v = data_.data() + kv_slot(layer) * block_size_ * k_width_ * element_bytes(type_);
  s.k_stride = s.v_stride = k_width_;
  s.type = type_;
  s.blocks = tables_[seq].data();
  s.block_size = block_size_;
  s.block_stride = block_elements_;
  return s;
}

KVSpan KVCache::indexer_span(int64_t layer, int seq) const {
  if (indexer_offset_ == 0) fail("kv cache: indexer_span() on a cache without indexer keys (not a DSA / MSA model)");
  KVSpan s = latent_ ? latent_span(layer, seq) : span(layer, seq, 0);
  s.k = static_cast<const uint8_t*>(s.k) + indexer_offset_ * element_bytes(type_);
  s.v = nullptr;
  return s;
}

void read_span_row(const KVSpan& span, int64_t p, int64_t width, bool value, float* out) {
  const int64_t offset = span.row_offset(p, value ? span.v_stride : span.k_stride);
  const void* base = value ? span.v : span.k;
  if (span.type == CacheType::F32) {
    std::memcpy(out, static_cast<const float*>(base) + offset, width * sizeof(float));
    return;
  }
  const uint16_t* src = static_cast<const uint16_t*>(base) + offset;
  for (int64_t i = 0; i < width; ++i) out[i] = f16_to_f32(src[i]);
}

}  // namespace dragon
