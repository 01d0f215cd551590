#include "models/gated_attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/rmsnorm.h"

namespace dragon::blocks {

GatedAttentionWeights load_gated_attention(const Weights& w, const ModelConfig& c, int64_t il) {
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  GatedAttentionWeights A;
  A.q = load_linear(w, p + "attn_q", 2 * q_dim, c.hidden_size, false);
  A.k = load_linear(w, p + "attn_k", kv_dim, c.hidden_size, false);
  A.v = load_linear(w, p + "attn_v", kv_dim, c.hidden_size, false);
  A.o = load_linear(w, p + "attn_output", c.hidden_size, q_dim, false);
  A.q_norm = w.f32(p + "attn_q_norm.weight", c.head_dim);
  A.k_norm = w.f32(p + "attn_k_norm.weight", c.head_dim);
  return A;
}

Activations gated_attention_forward(const Activations& x, const GatedAttentionWeights& A, const Batch& batch,
                                    KVCache& cache, int64_t il, const ModelConfig& c, const Rope& rope,
                                    ThreadPool& pool) {
  const int64_t n = x.rows, hd = c.head_dim, nh = c.n_heads;
  const float eps = static_cast<float>(c.norm_eps);
  const Activations qg = linear(x, A.q, pool);
  Activations q(n, nh * hd), gate(n, nh * hd);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t head = 0; head < nh; ++head) {
      const float* src = qg.row(t) + head * 2 * hd;
      std::copy_n(src, hd, q.row(t) + head * hd);
      std::copy_n(src + hd, hd, gate.row(t) + head * hd);
    }
  Activations k = linear(x, A.k, pool);
  const Activations v = linear(x, A.v, pool);
  rms_norm_heads(q, A.q_norm.data(), hd, eps);
  rms_norm_heads(k, A.k_norm.data(), hd, eps);
  rope.apply_rows(q, batch.positions);
  rope.apply_rows(k, batch.positions);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  Activations attn = cached_attention(q, k, v, batch, cache, il, c, scale, pool);
  for (size_t i = 0; i < attn.data.size(); ++i) attn.data[i] *= 1.0f / (1.0f + std::exp(-gate.data[i]));
  return linear(attn, A.o, pool);
}

}  // namespace dragon::blocks
