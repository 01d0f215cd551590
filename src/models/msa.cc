#include "models/msa.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "kernels/attention.h"
#include "kernels/rmsnorm.h"
#include "kernels/vector_ops.h"
#include "runtime/kv_cache.h"
#include "util/error.h"

namespace dragon::blocks {

namespace {

// The indexer's rope: index_head_dim-wide heads whose first rotary_dim dims rotate as the
// attention's do (llama.cpp passes the attention's n_rot and rope settings to both).
ModelConfig indexer_rope_config(const ModelConfig& c) {
  ModelConfig r = c;
  r.rotary_dim = c.rotary_dim ? c.rotary_dim : c.head_dim;
  r.head_dim = c.index_head_dim;
  return r;
}

}  // namespace

MsaIndexerWeights load_msa_indexer(const Weights& w, const ModelConfig& c, int64_t il) {
  const std::string p = "blk." + std::to_string(il) + ".indexer.";
  MsaIndexerWeights m;
  m.q = load_linear(w, p + "q_proj", c.index_n_heads * c.index_head_dim, c.hidden_size, false);
  m.k = load_linear(w, p + "k_proj", c.index_head_dim, c.hidden_size, false);
  m.q_norm = w.f32(p + "q_norm.weight", c.index_head_dim);
  m.k_norm = w.f32(p + "k_norm.weight", c.index_head_dim);
  return m;
}

std::vector<int64_t> msa_select_blocks(const std::vector<float>& block_scores, int64_t own_block, int64_t topk,
                                       int64_t local) {
  const int64_t n_blocks = own_block + 1;
  if (static_cast<int64_t>(block_scores.size()) < n_blocks)
    fail("msa: {} block scores for a query in block {}", block_scores.size(), own_block);
  std::vector<int64_t> chosen;
  if (n_blocks <= topk) {  // every visible block: dense
    chosen.resize(static_cast<size_t>(n_blocks));
    std::iota(chosen.begin(), chosen.end(), int64_t{0});
    return chosen;
  }
  const int64_t n_local = std::min(local, n_blocks);
  std::vector<int64_t> rest(static_cast<size_t>(n_blocks - n_local));
  std::iota(rest.begin(), rest.end(), int64_t{0});  // blocks before the forced local ones
  const int64_t n_best = topk - n_local;
  std::partial_sort(rest.begin(), rest.begin() + n_best, rest.end(), [&](int64_t a, int64_t b) {
    return block_scores[a] != block_scores[b] ? block_scores[a] > block_scores[b] : a < b;
  });
  chosen.assign(rest.begin(), rest.begin() + n_best);
  for (int64_t b = n_blocks - n_local; b < n_blocks; ++b) chosen.push_back(b);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

MsaAttention::MsaAttention(const ModelConfig& c) : c_(c), rope_(indexer_rope_config(c)) {}

Activations MsaAttention::forward(const Activations& x, const Activations& q, const Activations& k,
                                  const Activations& v, const MsaIndexerWeights& w, const Batch& batch,
                                  KVCache& cache, int64_t layer, float scale, ThreadPool& pool) const {
  const int64_t n = batch.size(), D = c_.index_head_dim, H = c_.n_kv_heads, hd = c_.head_dim;
  const int64_t vd = c_.v_head_dim ? c_.v_head_dim : c_.head_dim, group = c_.n_heads / H;
  const int64_t blk = c_.msa_block_size;
  const float eps = static_cast<float>(c_.norm_eps);

  // Indexer queries (one head per kv head) and keys, normed then rotated like q and k.
  Activations iq = linear(x, w.q, pool), ik = linear(x, w.k, pool);
  rms_norm_heads(iq, w.q_norm.data(), D, eps);
  rms_norm_heads(ik, w.k_norm.data(), D, eps);
  rope_.apply_rows(iq, batch.positions);
  rope_.apply_rows(ik, batch.positions);
  for (int64_t t = 0; t < n; ++t) {
    cache.store(layer, batch.seq_ids[t], batch.positions[t], k.row(t), v.row(t));
    cache.store_indexer_key(layer, batch.seq_ids[t], batch.positions[t], ik.row(t));
  }

  // Each sequence's indexer keys once, up to the furthest position a batch token of it sees.
  std::map<int, Activations> keys;
  for (int64_t t = 0; t < n; ++t) {
    Activations& kk = keys[batch.seq_ids[t]];
    kk.cols = D;
    kk.rows = std::max(kk.rows, batch.positions[t] + 1);
  }
  for (auto& [seq, kk] : keys) {
    kk.data.resize(static_cast<size_t>(kk.rows * D));
    const KVSpan span = cache.indexer_span(layer, seq);
    for (int64_t p = 0; p < kk.rows; ++p) read_span_row(span, p, D, false, kk.row(p));
  }

  Activations out(n, c_.n_heads * vd);
  pool.parallel_for(n * H, [&](int64_t begin, int64_t end) {
    std::vector<float> score, block_score, kbuf, vbuf;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / H, h = item % H, pos = batch.positions[t];
      const int seq = batch.seq_ids[t];
      const KVSpan span = cache.span(layer, seq, h);
      const float* qh = q.row(t) + h * group * hd;
      float* oh = out.row(t) + h * group * vd;
      const int64_t own_block = pos / blk;
      if (own_block + 1 <= c_.msa_topk_blocks) {  // sees no more blocks than it may choose: dense
        attend_group(qh, group, span, pos + 1, hd, vd, scale, oh);
        continue;
      }
      // Block scores: the max of iq_h . ik(p) over each block's visible positions.
      const Activations& kk = keys.at(seq);
      const float* qi = iq.row(t) + h * D;
      block_score.assign(static_cast<size_t>(own_block + 1), -INFINITY);
      for (int64_t p = 0; p <= pos; ++p) {
        const float s = dot(qi, kk.row(p), D);
        float& b = block_score[static_cast<size_t>(p / blk)];
        b = std::max(b, s);
      }
      const std::vector<int64_t> chosen = msa_select_blocks(block_score, own_block, c_.msa_topk_blocks,
                                                            c_.msa_local_blocks);
      // The chosen positions' K / V rows, gathered into a contiguous span.
      kbuf.clear();
      vbuf.clear();
      int64_t m = 0;
      for (int64_t b : chosen)
        for (int64_t p = b * blk; p < std::min((b + 1) * blk, pos + 1); ++p, ++m) {
          kbuf.resize(static_cast<size_t>((m + 1) * hd));
          vbuf.resize(static_cast<size_t>((m + 1) * vd));
          read_span_row(span, p, hd, false, kbuf.data() + m * hd);
          read_span_row(span, p, vd, true, vbuf.data() + m * vd);
        }
      KVSpan gathered;
      gathered.k = kbuf.data();
      gathered.v = vbuf.data();
      gathered.k_stride = hd;
      gathered.v_stride = vd;
      gathered.type = CacheType::F32;
      attend_group(qh, group, gathered, m, hd, vd, scale, oh);
    }
  });
  return out;
}

}  // namespace dragon::blocks
