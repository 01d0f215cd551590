#include "models/dsa_indexer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>

#include "kernels/matmul.h"
#include "tensor/half.h"
#include "util/error.h"

namespace dragon::blocks {

namespace {

// The indexer's rope: index_head_dim-wide heads whose first qk_rope_head_dim dims are rotated
// as NeoX halves (DeepSeek-V3.2) or adjacent pairs (GLM-5), at the MLA's (YaRN) frequencies.
ModelConfig indexer_rope_config(const ModelConfig& c) {
  ModelConfig r = c;
  r.head_dim = c.index_head_dim;
  r.rotary_dim = c.qk_rope_head_dim;
  r.rope_interleaved = c.index_rope_interleaved;
  return r;
}

// LayerNorm over each row: (x - mean) / sqrt(var + eps) * weight + bias (k_norm, eps 1e-6 in
// both the official code and llama.cpp).
void layer_norm_rows(Activations& x, const std::vector<float>& weight, const std::vector<float>& bias) {
  constexpr double kEps = 1e-6;
  for (int64_t r = 0; r < x.rows; ++r) {
    float* v = x.row(r);
    double mean = 0, var = 0;
    for (int64_t i = 0; i < x.cols; ++i) mean += v[i];
    mean /= static_cast<double>(x.cols);
    for (int64_t i = 0; i < x.cols; ++i) var += (v[i] - mean) * (v[i] - mean);
    const double inv = 1.0 / std::sqrt(var / static_cast<double>(x.cols) + kEps);
    for (int64_t i = 0; i < x.cols; ++i) v[i] = static_cast<float>((v[i] - mean) * inv * weight[i] + bias[i]);
  }
}

TensorView f32_view(const Activations& a, const char* name) {
  TensorView v;
  v.name = name;
  v.dtype = DType::F32;
  v.shape = {a.rows, a.cols};
  v.data = reinterpret_cast<const uint8_t*>(a.data.data());
  v.nbytes = a.data.size() * sizeof(float);
  return v;
}

}  // namespace

DsaIndexerWeights load_dsa_indexer(const Weights& w, const ModelConfig& c, int64_t il) {
  const std::string p = "blk." + std::to_string(il) + ".indexer.";
  DsaIndexerWeights d;
  d.q_b = load_linear(w, p + "attn_q_b", c.index_n_heads * c.index_head_dim, c.q_lora_rank, false);
  d.k = load_linear(w, p + "attn_k", c.index_head_dim, c.hidden_size, false);
  d.k_norm = w.f32(p + "k_norm.weight", c.index_head_dim);
  d.k_norm_bias = w.f32(p + "k_norm.bias", c.index_head_dim);
  d.weights = load_linear(w, p + "proj", c.index_n_heads, c.hidden_size, false);
  return d;
}

DsaIndexer::DsaIndexer(const ModelConfig& c) : c_(c), rope_(indexer_rope_config(c)) {}

Activations DsaIndexer::keys(const Activations& x, const DsaIndexerWeights& w, const Batch& batch,
                             ThreadPool& pool) const {
  Activations k = linear(x, w.k, pool);
  layer_norm_rows(k, w.k_norm, w.k_norm_bias);
  rope_.apply_rows(k, batch.positions);
  return k;
}

std::vector<std::vector<int64_t>> DsaIndexer::select(const Activations& x, const Activations& qr,
                                                     const DsaIndexerWeights& w, const Batch& batch,
                                                     const KVCache& cache, int64_t layer, ThreadPool& pool) const {
  const int64_t n = x.rows, H = c_.index_n_heads, D = c_.index_head_dim, topk = c_.index_topk;
  std::vector<std::vector<int64_t>> selected(static_cast<size_t>(n));
  // Tokens that see no more than topk positions attend densely: nothing to score.
  std::map<int, std::vector<int64_t>> sparse_by_seq;
  for (int64_t t = 0; t < n; ++t)
    if (batch.positions[t] + 1 > topk) sparse_by_seq[batch.seq_ids[t]].push_back(t);
  if (sparse_by_seq.empty()) return selected;

  Activations q = linear(qr, w.q_b, pool);
  rope_.apply_rows(q, batch.positions);
  const Activations head_w = linear(x, w.weights, pool);
  const float w_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(H * D)));

  for (const auto& [seq, tokens] : sparse_by_seq) {
    int64_t n_ctx = 0;
    for (int64_t t : tokens) n_ctx = std::max(n_ctx, batch.positions[t] + 1);
    // The sequence's keys once, then q . k of every (token, head, position) as GEMMs of
    // kChunk tokens (bounded scratch: kChunk * H * n_ctx floats).
    const KVSpan span = cache.indexer_span(layer, seq);
    Activations keys(n_ctx, D);
    for (int64_t p = 0; p < n_ctx; ++p) read_span_row(span, p, D, false, keys.row(p));
    constexpr int64_t kChunk = 16;
    for (size_t first = 0; first < tokens.size(); first += kChunk) {
      const int64_t m = std::min<int64_t>(kChunk, static_cast<int64_t>(tokens.size() - first));
      Activations qh(m * H, D), dots;
      int64_t chunk_ctx = 0;  // causal: no token of the chunk sees past its last position
      for (int64_t i = 0; i < m; ++i) {
        std::copy_n(q.row(tokens[first + i]), H * D, qh.row(i * H));
        chunk_ctx = std::max(chunk_ctx, batch.positions[tokens[first + i]] + 1);
      }
      TensorView key_view = f32_view(keys, "indexer keys");
      key_view.shape[0] = chunk_ctx;
      key_view.nbytes = static_cast<uint64_t>(chunk_ctx * D) * sizeof(float);
      matmul(qh, key_view, dots, pool);  // [m * H, chunk_ctx]
      pool.parallel_for(m, [&](int64_t begin, int64_t end) {
        std::vector<float> score;
        std::vector<int64_t> order;
        for (int64_t i = begin; i < end; ++i) {
          const int64_t t = tokens[first + i], n_pos = batch.positions[t] + 1;
          score.assign(static_cast<size_t>(n_pos), 0.0f);
          for (int64_t h = 0; h < H; ++h) {  // ReLU, then the head's weight, summed over heads
            const float wh = head_w.row(t)[h] * w_scale, *d = dots.row(i * H + h);
            for (int64_t p = 0; p < n_pos; ++p) score[p] += wh * std::max(d[p], 0.0f);
          }
          // The topk highest scores; equal scores keep the earlier position.
          order.resize(static_cast<size_t>(n_pos));
          std::iota(order.begin(), order.end(), int64_t{0});
          std::partial_sort(order.begin(), order.begin() + topk, order.end(), [&](int64_t a, int64_t b) {
            return score[a] != score[b] ? score[a] > score[b] : a < b;
          });
          order.resize(static_cast<size_t>(topk));
          std::sort(order.begin(), order.end());
          selected[t] = order;
        }
      });
    }
  }
  return selected;
}

}  // namespace dragon::blocks
