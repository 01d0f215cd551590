#include "models/lightning_attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/rmsnorm.h"
#include "util/error.h"

namespace dragon::blocks {

namespace {

float silu(float x) { return x / (1.0f + std::exp(-x)); }
float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// ALiBi's slopes for a power-of-two head count n: start^1 .. start^n, start = 2^(-8/n).
std::vector<double> power_of_two_slopes(int64_t n) {
  const double start = std::pow(2.0, -8.0 / static_cast<double>(n));
  std::vector<double> s(static_cast<size_t>(n));
  for (int64_t h = 0; h < n; ++h) s[h] = std::pow(start, static_cast<double>(h + 1));
  return s;
}

// Blocks of the prompt form: the intra-block part costs m^2 d per head, the inter-block part
// m d^2, so a block near head_dim balances the two.
constexpr size_t kBlock = 64;

}  // namespace

LightningWeights load_lightning(const Weights& w, const ModelConfig& c, int64_t il) {
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t inner = c.n_heads * c.head_dim;
  LightningWeights l;
  l.qkv = load_linear(w, p + "attn_qkv", 3 * inner, c.hidden_size, false);
  l.gate = load_linear(w, p + "attn_gate", inner, c.hidden_size, false);
  l.out = load_linear(w, p + "attn_output", c.hidden_size, inner, false);
  l.norm = w.f32(p + "attn_norm_2.weight", inner);
  return l;
}

std::vector<float> lightning_slopes(const ModelConfig& c, int64_t il) {
  const int64_t n = c.n_heads;
  int64_t pow2 = 1;
  while (pow2 * 2 <= n) pow2 *= 2;
  std::vector<double> s = power_of_two_slopes(pow2);
  if (pow2 != n) {  // the release's _build_slope_tensor for other head counts
    const std::vector<double> twice = power_of_two_slopes(2 * pow2);
    for (int64_t i = 0; static_cast<int64_t>(s.size()) < n; i += 2) s.push_back(twice[i]);
  }
  // The release's model loop: slope * (1 - idx / (n_layers - 1) + 1e-5); one layer (a division
  // by zero there) keeps the factor 1 + 1e-5, as vLLM does.
  const double factor =
      c.n_layers > 1 ? 1.0 - static_cast<double>(il) / static_cast<double>(c.n_layers - 1) + 1e-5 : 1.0 + 1e-5;
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t h = 0; h < n; ++h) out[h] = static_cast<float>(s[h] * factor);
  return out;
}

void lightning_step(float* kv, const float* q, const float* k, const float* v, float slope, int64_t d, float* o) {
  const float decay = std::exp(-slope);
  std::fill_n(o, d, 0.0f);
  for (int64_t a = 0; a < d; ++a) {
    float* row = kv + a * d;
    const float ka = k[a], qa = q[a];
    for (int64_t j = 0; j < d; ++j) {
      row[j] = decay * row[j] + ka * v[j];
      o[j] += qa * row[j];
    }
  }
}

void lightning_block(float* kv, const std::vector<const float*>& q, const std::vector<const float*>& k,
                     const std::vector<const float*>& v, float slope, int64_t d, const std::vector<float*>& o) {
  const int64_t m = static_cast<int64_t>(q.size());
  const double s = slope;
  // Inter-block: the carried state, decayed to each token (q_decay = exp(-s (i+1))).
  for (int64_t i = 0; i < m; ++i) {
    float* oi = o[i];
    std::fill_n(oi, d, 0.0f);
    for (int64_t a = 0; a < d; ++a) {
      const float qa = q[i][a];
      const float* row = kv + a * d;
      for (int64_t j = 0; j < d; ++j) oi[j] += qa * row[j];
    }
    const float q_decay = static_cast<float>(std::exp(-s * static_cast<double>(i + 1)));
    for (int64_t j = 0; j < d; ++j) oi[j] *= q_decay;
  }
  // Intra-block: causal (q_i . k_j) with the decay mask exp(-s (i - j)), j <= i.
  for (int64_t i = 0; i < m; ++i)
    for (int64_t t = 0; t <= i; ++t) {
      float dot = 0.0f;
      for (int64_t a = 0; a < d; ++a) dot += q[i][a] * k[t][a];
      const float wgt = dot * static_cast<float>(std::exp(-s * static_cast<double>(i - t)));
      for (int64_t j = 0; j < d; ++j) o[i][j] += wgt * v[t][j];
    }
  // The state after the block: KV' = exp(-s m) KV + sum_t exp(-s (m-1-t)) k_t v_t^T.
  const float block_decay = static_cast<float>(std::exp(-s * static_cast<double>(m)));
  for (int64_t e = 0; e < d * d; ++e) kv[e] *= block_decay;
  for (int64_t t = 0; t < m; ++t) {
    const float k_decay = static_cast<float>(std::exp(-s * static_cast<double>(m - 1 - t)));
    for (int64_t a = 0; a < d; ++a) {
      const float ka = k_decay * k[t][a];
      float* row = kv + a * d;
      for (int64_t j = 0; j < d; ++j) row[j] += ka * v[t][j];
    }
  }
}

Activations lightning_forward(const Activations& x, const LightningWeights& w, const Batch& batch, KVCache& cache,
                              int64_t il, const ModelConfig& c, ThreadPool& pool) {
  const int64_t n = x.rows, nh = c.n_heads, d = c.head_dim, inner = nh * d;
  if (c.recurrent_state_floats() != nh * d * d)
    fail("lightning attention: the cache keeps {} state floats per layer, expected {} heads of {}^2",
         c.recurrent_state_floats(), nh, d);
  Activations qkv = linear(x, w.qkv, pool);
  for (float& e : qkv.data) e = silu(e);
  const Activations gate = linear(x, w.gate, pool);
  const std::vector<float> slopes = lightning_slopes(c, il);

  // Per sequence and head: blocks of the sequence's tokens in batch order (a prompt), or the
  // recurrent step (a lone token, decode).
  Activations o(n, inner);
  std::vector<std::vector<int64_t>> rows_of(static_cast<size_t>(cache.n_seq()));
  for (int64_t t = 0; t < n; ++t) rows_of[batch.seq_ids[t]].push_back(t);
  for (int seq = 0; seq < cache.n_seq(); ++seq) {
    const std::vector<int64_t>& rows = rows_of[seq];
    if (rows.empty()) continue;
    float* state = cache.recurrent_state(il, seq);  // [nh][d][d]
    pool.parallel_for(nh, [&](int64_t h0, int64_t h1) {
      std::vector<const float*> q, k, v;
      std::vector<float*> out;
      for (int64_t h = h0; h < h1; ++h) {
        float* kv = state + h * d * d;
        if (rows.size() == 1) {
          const float* r = qkv.row(rows[0]) + h * 3 * d;
          lightning_step(kv, r, r + d, r + 2 * d, slopes[h], d, o.row(rows[0]) + h * d);
          continue;
        }
        for (size_t b0 = 0; b0 < rows.size(); b0 += kBlock) {
          const size_t b1 = std::min(rows.size(), b0 + kBlock);
          q.clear(), k.clear(), v.clear(), out.clear();
          for (size_t i = b0; i < b1; ++i) {
            const float* r = qkv.row(rows[i]) + h * 3 * d;
            q.push_back(r), k.push_back(r + d), v.push_back(r + 2 * d);
            out.push_back(o.row(rows[i]) + h * d);
          }
          lightning_block(kv, q, k, v, slopes[h], d, out);
        }
      }
    });
  }

  // One RMSNorm over all heads, the sigmoid output gate, the output projection.
  for (int64_t t = 0; t < n; ++t) {
    float* ot = o.row(t);
    dragon::rms_norm(ot, w.norm.data(), ot, inner, kLightningNormEps);
    const float* g = gate.row(t);
    for (int64_t j = 0; j < inner; ++j) ot[j] *= sigmoid(g[j]);
  }
  return linear(o, w.out, pool);
}

}  // namespace dragon::blocks
