#include "models/delta_rule.h"

#include <algorithm>
#include <cmath>

namespace dragon::blocks {

namespace {

// The log-decay of key channel i among a token's g_dim values.
inline float channel(const float* g, int64_t g_dim, int64_t i) { return g[g_dim == 1 ? 0 : i]; }

// out[j] = sum_i x_i exp(G_i) s[i][j]: the decayed state read by x.
void decayed_read(const float* s, const float* x, const float* G, const DeltaDims& d, float* out) {
  std::fill_n(out, d.dv, 0.0f);
  const float shared = d.g_dim == 1 ? std::exp(G[0]) : 0.0f;
  for (int64_t i = 0; i < d.dk; ++i) {
    const float xi = x[i] * (d.g_dim == 1 ? shared : std::exp(G[i]));
    const float* row = s + i * d.dv;
    for (int64_t j = 0; j < d.dv; ++j) out[j] += xi * row[j];
  }
}

}  // namespace

void delta_step(float* s, const float* q, const float* k, const float* v, const float* g, float beta, float* o,
                const DeltaDims& d, float* delta) {
  for (int64_t i = 0; i < d.dk; ++i) {
    const float decay = std::exp(channel(g, d.g_dim, i));
    float* row = s + i * d.dv;
    for (int64_t j = 0; j < d.dv; ++j) row[j] *= decay;
  }
  for (int64_t j = 0; j < d.dv; ++j) delta[j] = v[j];
  for (int64_t i = 0; i < d.dk; ++i) {
    const float ki = k[i];
    const float* row = s + i * d.dv;
    for (int64_t j = 0; j < d.dv; ++j) delta[j] -= ki * row[j];
  }
  for (int64_t j = 0; j < d.dv; ++j) delta[j] *= beta;
  std::fill_n(o, d.dv, 0.0f);
  for (int64_t i = 0; i < d.dk; ++i) {
    const float ki = k[i], qi = q[i];
    float* row = s + i * d.dv;
    for (int64_t j = 0; j < d.dv; ++j) {
      row[j] += ki * delta[j];
      o[j] += qi * row[j];
    }
  }
}

void delta_chunk(float* s, const std::vector<const float*>& q, const std::vector<const float*>& k,
                 const std::vector<const float*>& v, const std::vector<const float*>& g, const float* beta,
                 const std::vector<float*>& o, const DeltaDims& d, std::vector<float>& scratch) {
  const int64_t m = static_cast<int64_t>(q.size()), dk = d.dk, dv = d.dv, gd = d.g_dim;
  scratch.resize(static_cast<size_t>(m * gd + 2 * m * m + m * dv + dk));
  float* G = scratch.data();  // [m][gd] cumulative log-decay
  float* Akk = G + m * gd;    // [m][m], s < t
  float* Aqk = Akk + m * m;   // [m][m], s <= t
  float* U = Aqk + m * m;     // [m][dv]
  float* e = U + m * dv;      // [dk] exp(G_t - G_s) of one pair
  for (int64_t i = 0; i < gd; ++i) {
    float acc = 0;
    for (int64_t t = 0; t < m; ++t) G[t * gd + i] = acc += g[t][i];
  }
  // The decayed products of every pair s <= t (the decay vector computed once for both).
  for (int64_t t = 0; t < m; ++t)
    for (int64_t si = 0; si <= t; ++si) {
      float kk = 0, qk = 0;
      if (gd == 1) {
        for (int64_t i = 0; i < dk; ++i) kk += k[t][i] * k[si][i], qk += q[t][i] * k[si][i];
        const float w = std::exp(G[t] - G[si]);
        kk *= w, qk *= w;
      } else {
        for (int64_t i = 0; i < dk; ++i) e[i] = std::exp(G[t * gd + i] - G[si * gd + i]);
        for (int64_t i = 0; i < dk; ++i) {
          const float ks = k[si][i] * e[i];
          kk += k[t][i] * ks, qk += q[t][i] * ks;
        }
      }
      Akk[t * m + si] = kk;
      Aqk[t * m + si] = qk;
    }
  // u by forward substitution, from S_0 and the earlier u of the chunk.
  for (int64_t t = 0; t < m; ++t) {
    float* u = U + t * dv;
    decayed_read(s, k[t], G + t * gd, d, u);
    for (int64_t j = 0; j < dv; ++j) u[j] = v[t][j] - u[j];
    for (int64_t si = 0; si < t; ++si) {
      const float a = Akk[t * m + si];
      const float* us = U + si * dv;
      for (int64_t j = 0; j < dv; ++j) u[j] -= a * us[j];
    }
    for (int64_t j = 0; j < dv; ++j) u[j] *= beta[t];
  }
  // Outputs, from S_0 and the chunk's u.
  for (int64_t t = 0; t < m; ++t) {
    float* out = o[t];
    decayed_read(s, q[t], G + t * gd, d, out);
    for (int64_t si = 0; si <= t; ++si) {
      const float a = Aqk[t * m + si];
      const float* us = U + si * dv;
      for (int64_t j = 0; j < dv; ++j) out[j] += a * us[j];
    }
  }
  // State at the chunk's end: row i decays by exp(G_last,i) and gains k_s,i exp(G_last,i - G_s,i) u_s.
  const float* last = G + (m - 1) * gd;
  for (int64_t i = 0; i < dk; ++i) {
    const float gl = channel(last, gd, i);
    float* row = s + i * dv;
    const float decay = std::exp(gl);
    for (int64_t j = 0; j < dv; ++j) row[j] *= decay;
    for (int64_t si = 0; si < m; ++si) {
      const float w = k[si][i] * std::exp(gl - channel(G + si * gd, gd, i));
      const float* us = U + si * dv;
      for (int64_t j = 0; j < dv; ++j) row[j] += w * us[j];
    }
  }
}

void delta_rule(const DeltaRuleInputs& in, const Batch& batch, KVCache& cache, int64_t il, Activations& o,
                ThreadPool& pool) {
  const DeltaDims& d = in.dims;
  const int64_t nv = in.n_v_heads, r = in.n_v_heads / in.n_k_heads, key_dim = in.n_k_heads * d.dk;
  const int64_t n = in.qkv->rows;
  std::vector<std::vector<int64_t>> rows_of(static_cast<size_t>(cache.n_seq()));
  for (int64_t t = 0; t < n; ++t) rows_of[batch.seq_ids[t]].push_back(t);
  for (int seq = 0; seq < cache.n_seq(); ++seq) {
    const std::vector<int64_t>& rows = rows_of[seq];
    if (rows.empty()) continue;
    float* S = cache.recurrent_state(il, seq) + in.state_offset;  // [nv][dk][dv]
    pool.parallel_for(nv, [&](int64_t h0, int64_t h1) {
      std::vector<float> scratch(static_cast<size_t>(d.dv));
      std::vector<const float *> q, k, v, g;
      std::vector<float*> out;
      std::vector<float> bs;
      for (int64_t h = h0; h < h1; ++h) {
        float* s = S + h * d.dk * d.dv;
        const int64_t kh = in.tiled_k_heads ? h % in.n_k_heads : h / r;
        for (size_t c0 = 0; c0 < rows.size(); c0 += kDeltaChunk) {
          const size_t c1 = std::min(rows.size(), c0 + static_cast<size_t>(kDeltaChunk));
          q.clear(), k.clear(), v.clear(), g.clear(), out.clear(), bs.clear();
          for (size_t i = c0; i < c1; ++i) {
            const int64_t t = rows[i];
            const float* row = in.qkv->row(t);
            q.push_back(row + kh * d.dk);
            k.push_back(row + key_dim + kh * d.dk);
            v.push_back(row + 2 * key_dim + h * d.dv);
            g.push_back(in.g + (t * nv + h) * d.g_dim);
            out.push_back(o.row(t) + h * d.dv);
            bs.push_back(in.beta[t * nv + h]);
          }
          if (q.size() == 1) {
            scratch.resize(static_cast<size_t>(d.dv));
            delta_step(s, q[0], k[0], v[0], g[0], bs[0], out[0], d, scratch.data());
          } else {
            delta_chunk(s, q, k, v, g, bs.data(), out, d, scratch);
          }
        }
      }
    });
  }
}

}  // namespace dragon::blocks
