#include "models/gated_deltanet.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/rmsnorm.h"
#include "kernels/vector_ops.h"
#include "util/error.h"

namespace dragon::blocks {

namespace {

float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }
float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// x / sqrt(sum x^2 + 1e-6), as transformers' l2norm (the FLA kernels' epsilon).
void l2_normalize(float* x, int64_t n) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss + 1e-6));
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace

DeltaNetWeights load_deltanet(const Weights& w, const ModelConfig& c, int64_t il, DeltaNetLayout layout) {
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t key_dim = c.linear_n_k_heads * c.linear_k_head_dim;
  const int64_t value_dim = c.linear_n_v_heads * c.linear_v_head_dim;
  const int64_t nv = c.linear_n_v_heads;
  if (c.linear_k_head_dim != c.linear_v_head_dim)
    fail("{}: linear key head dim {} != value head dim {} is not supported", p, c.linear_k_head_dim,
         c.linear_v_head_dim);
  DeltaNetWeights d;
  d.layout = layout;
  d.qkv = load_linear(w, p + "attn_qkv", 2 * key_dim + value_dim, c.hidden_size, false);
  d.gate = load_linear(w, p + "attn_gate", value_dim, c.hidden_size, false);
  if (layout == DeltaNetLayout::Qwen3Next) {
    d.ba = load_linear(w, p + "ssm_ba", 2 * nv, c.hidden_size, false);
  } else {
    d.beta = load_linear(w, p + "ssm_beta", nv, c.hidden_size, false);
    d.alpha = load_linear(w, p + "ssm_alpha", nv, c.hidden_size, false);
  }
  d.out = load_linear(w, p + "ssm_out", c.hidden_size, value_dim, false);
  d.conv = w.f32(p + "ssm_conv1d.weight", c.linear_conv_channels() * c.linear_conv_kernel);
  d.dt_bias = w.f32(p + "ssm_dt.bias", nv);
  d.a = w.f32(p + "ssm_a", nv);
  d.norm = w.f32(p + "ssm_norm.weight", c.linear_v_head_dim);
  return d;
}

namespace {

struct Dims {
  int64_t nk, nv, r, dk, dv;
};

// The recurrent form, one token: S = exp(g) S; delta = beta (v - S^T k); S += k delta^T; o = S^T q.
void delta_step(float* s, const float* q, const float* k, const float* v, float g, float beta, float* o,
                const Dims& d, float* delta) {
  const float decay = std::exp(g);
  for (int64_t e = 0; e < d.dk * d.dv; ++e) s[e] *= decay;
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

// The chunked form over m consecutive tokens of one sequence (rows `tok` of the per-token arrays),
// for one v head with state s [dk x dv] at the chunk's start. With G_t the cumulative log-decay
// in the chunk and u_t = beta_t (v_t - exp(g_t) S_{t-1}^T k_t) (the value the step adds):
//   S_t = exp(G_t) S_0 + sum_{s<=t} exp(G_t - G_s) k_s u_s^T, so u solves the unit lower-
//   triangular system u_t + beta_t sum_{s<t} exp(G_t - G_s) (k_t.k_s) u_s = beta_t (v_t - exp(G_t) S_0^T k_t);
//   o_t = exp(G_t) S_0^T q_t + sum_{s<=t} exp(G_t - G_s) (q_t.k_s) u_s;  S_m = S_{m-1} as above.
// The same arithmetic as m steps up to rounding, but the state is read and written once per
// chunk instead of once per token.
void delta_chunk(float* s, const std::vector<const float*>& q, const std::vector<const float*>& k,
                 const std::vector<const float*>& v, const float* g, const float* beta, std::vector<float*>& o,
                 const Dims& d, std::vector<float>& scratch) {
  const int64_t m = static_cast<int64_t>(q.size()), dk = d.dk, dv = d.dv;
  scratch.resize(static_cast<size_t>(m + m * m + m * dv));
  float* G = scratch.data();
  float* kk = G + m;        // [m][m]: k_t . k_s (s < t), then q_t . k_s (s <= t) reuses it below
  float* U = kk + m * m;    // [m][dv]
  float acc = 0;
  for (int64_t t = 0; t < m; ++t) G[t] = acc += g[t];
  // rhs: beta_t (v_t - exp(G_t) S_0^T k_t), then forward substitution.
  for (int64_t t = 0; t < m; ++t) {
    float* u = U + t * dv;
    std::fill_n(u, dv, 0.0f);
    for (int64_t i = 0; i < dk; ++i) {
      const float ki = k[t][i];
      const float* row = s + i * dv;
      for (int64_t j = 0; j < dv; ++j) u[j] += ki * row[j];
    }
    const float eg = std::exp(G[t]);
    for (int64_t j = 0; j < dv; ++j) u[j] = beta[t] * (v[t][j] - eg * u[j]);
    for (int64_t si = 0; si < t; ++si) {
      float dot = 0;
      for (int64_t i = 0; i < dk; ++i) dot += k[t][i] * k[si][i];
      const float a = beta[t] * std::exp(G[t] - G[si]) * dot;
      const float* us = U + si * dv;
      for (int64_t j = 0; j < dv; ++j) u[j] -= a * us[j];
    }
  }
  // Outputs, from S_0 and the chunk's u.
  for (int64_t t = 0; t < m; ++t) {
    float* out = o[t];
    std::fill_n(out, dv, 0.0f);
    for (int64_t i = 0; i < dk; ++i) {
      const float qi = q[t][i];
      const float* row = s + i * dv;
      for (int64_t j = 0; j < dv; ++j) out[j] += qi * row[j];
    }
    const float eg = std::exp(G[t]);
    for (int64_t j = 0; j < dv; ++j) out[j] *= eg;
    for (int64_t si = 0; si <= t; ++si) {
      float dot = 0;
      for (int64_t i = 0; i < dk; ++i) dot += q[t][i] * k[si][i];
      const float a = std::exp(G[t] - G[si]) * dot;
      const float* us = U + si * dv;
      for (int64_t j = 0; j < dv; ++j) out[j] += a * us[j];
    }
  }
  // State at the chunk's end.
  const float last = G[m - 1];
  const float e_last = std::exp(last);
  for (int64_t e = 0; e < dk * dv; ++e) s[e] *= e_last;
  for (int64_t si = 0; si < m; ++si) {
    const float w = std::exp(last - G[si]);
    const float* us = U + si * dv;
    for (int64_t i = 0; i < dk; ++i) {
      const float ki = w * k[si][i];
      float* row = s + i * dv;
      for (int64_t j = 0; j < dv; ++j) row[j] += ki * us[j];
    }
  }
}

}  // namespace

Activations deltanet_forward(const Activations& x, const DeltaNetWeights& w, const Batch& batch, KVCache& cache,
                             int64_t il, const ModelConfig& c, ThreadPool& pool) {
  const Dims d{c.linear_n_k_heads, c.linear_n_v_heads, c.linear_n_v_heads / c.linear_n_k_heads,
               c.linear_k_head_dim, c.linear_v_head_dim};
  const int64_t K = c.linear_conv_kernel, C = c.linear_conv_channels();
  const int64_t key_dim = d.nk * d.dk, n = x.rows;
  const float eps = static_cast<float>(c.norm_eps);
  const float q_scale = 1.0f / std::sqrt(static_cast<float>(d.dk));

  const Activations mixed = linear(x, w.qkv, pool);
  const Activations z = linear(x, w.gate, pool);
  const bool fused_ba = w.layout == DeltaNetLayout::Qwen3Next;
  const Activations ba = fused_ba ? linear(x, w.ba, pool) : Activations();
  const Activations b_proj = fused_ba ? Activations() : linear(x, w.beta, pool);
  const Activations a_proj = fused_ba ? Activations() : linear(x, w.alpha, pool);
  Activations conv(n, C), o(n, d.nv * d.dv);
  std::vector<float> beta(static_cast<size_t>(n * d.nv)), g(static_cast<size_t>(n * d.nv));

  // 1. In batch order (each token continues its sequence): the causal depthwise conv over the
  // K-1 remembered inputs and this one, silu, l2-normed q / k; beta and the log-decay g.
  for (int64_t t = 0; t < n; ++t) {
    float* conv_state = cache.recurrent_state(il, batch.seq_ids[t]);  // [K-1][C], oldest first
    const float* in = mixed.row(t);
    float* out = conv.row(t);
    for (int64_t ch = 0; ch < C; ++ch) {
      const float* taps = w.conv.data() + ch * K;
      float acc = taps[K - 1] * in[ch];
      for (int64_t j = 0; j < K - 1; ++j) acc += taps[j] * conv_state[j * C + ch];
      out[ch] = silu(acc);
    }
    if (K > 1) {
      std::memmove(conv_state, conv_state + C, static_cast<size_t>((K - 2) * C) * sizeof(float));
      std::memcpy(conv_state + (K - 2) * C, in, static_cast<size_t>(C) * sizeof(float));
    }
    for (int64_t h = 0; h < d.nk; ++h) {
      l2_normalize(out + h * d.dk, d.dk);
      l2_normalize(out + key_dim + h * d.dk, d.dk);
      for (int64_t i = 0; i < d.dk; ++i) out[h * d.dk + i] *= q_scale;
    }
    for (int64_t h = 0; h < d.nv; ++h) {
      const int64_t grp = h / d.r, j = h % d.r;  // ba holds per k head: r betas, then r alphas
      const float b = fused_ba ? ba.row(t)[grp * 2 * d.r + j] : b_proj.row(t)[h];
      const float a = fused_ba ? ba.row(t)[grp * 2 * d.r + d.r + j] : a_proj.row(t)[h];
      beta[t * d.nv + h] = sigmoid(b);
      g[t * d.nv + h] = w.a[h] * softplus(a + w.dt_bias[h]);
    }
  }

  // 2. The delta rule per sequence and v head: chunks of kChunk tokens (a prompt), or the
  // recurrent step (decode, a lone token).
  std::vector<std::vector<int64_t>> rows_of(static_cast<size_t>(cache.n_seq()));
  for (int64_t t = 0; t < n; ++t) rows_of[batch.seq_ids[t]].push_back(t);
  constexpr int64_t kChunk = 32;
  for (int seq = 0; seq < cache.n_seq(); ++seq) {
    const std::vector<int64_t>& rows = rows_of[seq];
    if (rows.empty()) continue;
    float* S = cache.recurrent_state(il, seq) + (K - 1) * C;  // [nv][dk][dv]
    pool.parallel_for(d.nv, [&](int64_t h0, int64_t h1) {
      std::vector<float> scratch(static_cast<size_t>(d.dv));
      std::vector<const float*> q, k, v;
      std::vector<float*> out;
      std::vector<float> gs, bs;
      for (int64_t h = h0; h < h1; ++h) {
        float* s = S + h * d.dk * d.dv;
        const int64_t kh = w.layout == DeltaNetLayout::Qwen35 ? h % d.nk : h / d.r;
        for (size_t c0 = 0; c0 < rows.size(); c0 += kChunk) {
          const size_t c1 = std::min(rows.size(), c0 + kChunk);
          q.clear(), k.clear(), v.clear(), out.clear(), gs.clear(), bs.clear();
          for (size_t i = c0; i < c1; ++i) {
            const int64_t t = rows[i];
            q.push_back(conv.row(t) + kh * d.dk);
            k.push_back(conv.row(t) + key_dim + kh * d.dk);
            v.push_back(conv.row(t) + 2 * key_dim + h * d.dv);
            out.push_back(o.row(t) + h * d.dv);
            gs.push_back(g[t * d.nv + h]);
            bs.push_back(beta[t * d.nv + h]);
          }
          if (q.size() == 1) {
            scratch.resize(static_cast<size_t>(d.dv));
            delta_step(s, q[0], k[0], v[0], gs[0], bs[0], out[0], d, scratch.data());
          } else {
            delta_chunk(s, q, k, v, gs.data(), bs.data(), out, d, scratch);
          }
        }
      }
    });
  }

  // 3. Gated RMSNorm per v head: norm(o) * w * silu(z), then the output projection.
  for (int64_t t = 0; t < n; ++t)
    for (int64_t h = 0; h < d.nv; ++h) {
      float* oh = o.row(t) + h * d.dv;
      dragon::rms_norm(oh, w.norm.data(), oh, d.dv, eps);
      const float* zh = z.row(t) + h * d.dv;
      for (int64_t j = 0; j < d.dv; ++j) oh[j] *= silu(zh[j]);
    }
  return linear(o, w.out, pool);
}

}  // namespace dragon::blocks
