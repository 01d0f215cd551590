#include "models/kda.h"

#include <algorithm>
#include <cmath>

#include "kernels/rmsnorm.h"
#include "models/delta_rule.h"
#include "models/short_conv.h"
#include "util/error.h"

namespace dragon::blocks {

KdaWeights load_kda(const Weights& w, const ModelConfig& c, int64_t il) {
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t H = c.linear_n_v_heads, d = c.linear_k_head_dim, inner = H * d, K = c.linear_conv_kernel;
  if (c.linear_n_k_heads != H || c.linear_v_head_dim != d)
    fail("{}: KDA needs as many k as v heads of one width (got {} x {} and {} x {})", p, c.linear_n_k_heads, d, H,
         c.linear_v_head_dim);
  KdaWeights k;
  k.q = load_linear(w, p + "attn_q", inner, c.hidden_size, false);
  k.k = load_linear(w, p + "attn_k", inner, c.hidden_size, false);
  k.v = load_linear(w, p + "attn_v", inner, c.hidden_size, false);
  for (const char* which : {"q", "k", "v"}) {
    const std::vector<float> taps = w.f32(p + "ssm_conv1d_" + which + ".weight", inner * K);
    k.conv.insert(k.conv.end(), taps.begin(), taps.end());
  }
  k.f_a = load_linear(w, p + "ssm_f_a", d, c.hidden_size, false);
  k.f_b = load_linear(w, p + "ssm_f_b", inner, d, false);
  k.beta = load_linear(w, p + "ssm_beta", H, c.hidden_size, false);
  k.a = w.f32(p + "ssm_a", H);
  k.dt_bias = w.f32(p + "ssm_dt.bias", inner);
  if (c.kda_full_rank_gate) {
    k.g = load_linear(w, p + "ssm_g", inner, c.hidden_size, false);
  } else {
    k.g_a = load_linear(w, p + "ssm_g_a", d, c.hidden_size, false);
    k.g_b = load_linear(w, p + "ssm_g_b", inner, d, false);
  }
  k.norm = w.f32(p + "ssm_norm.weight", d);
  k.out = load_linear(w, p + "attn_output", c.hidden_size, inner, false);
  return k;
}

Activations kda_forward(const Activations& x, const KdaWeights& w, const Batch& batch, KVCache& cache, int64_t il,
                        const ModelConfig& c, ThreadPool& pool) {
  const int64_t H = c.linear_n_v_heads, d = c.linear_k_head_dim, inner = H * d, n = x.rows;
  const int64_t K = c.linear_conv_kernel;
  const float eps = static_cast<float>(c.norm_eps);
  const float q_scale = 1.0f / std::sqrt(static_cast<float>(d));
  const float lower_bound = static_cast<float>(c.kda_gate_lower_bound);  // < 0: Kimi-K3's bounded decay

  // 1. [q | k | v] through their convs (one conv over the concatenated channels).
  const Activations q = linear(x, w.q, pool), k = linear(x, w.k, pool), v = linear(x, w.v, pool);
  Activations mixed(n, 3 * inner);
  for (int64_t t = 0; t < n; ++t) {
    std::copy_n(q.row(t), inner, mixed.row(t));
    std::copy_n(k.row(t), inner, mixed.row(t) + inner);
    std::copy_n(v.row(t), inner, mixed.row(t) + 2 * inner);
  }
  Activations conv = short_conv_silu(mixed, w.conv, K, batch, cache, il);

  // 2. l2-normed q / k, the per-channel log-decay g and the per-head beta.
  Activations g = linear(linear(x, w.f_a, pool), w.f_b, pool);  // [n, H d]
  const Activations b = linear(x, w.beta, pool);
  std::vector<float> beta(static_cast<size_t>(n * H));
  for (int64_t t = 0; t < n; ++t) {
    float* row = conv.row(t);
    float* gt = g.row(t);
    for (int64_t h = 0; h < H; ++h) {
      l2_normalize(row + h * d, d);
      l2_normalize(row + inner + h * d, d);
      for (int64_t i = 0; i < d; ++i) row[h * d + i] *= q_scale;
      for (int64_t i = 0; i < d; ++i) {
        const float f = gt[h * d + i] + w.dt_bias[h * d + i];
        gt[h * d + i] = lower_bound < 0 ? lower_bound * sigmoid(-w.a[h] * f) : w.a[h] * softplus(f);
      }
      beta[t * H + h] = sigmoid(b.row(t)[h]);
    }
  }

  // 3. The delta rule with one decay per key channel.
  Activations o(n, inner);
  DeltaRuleInputs in;
  in.qkv = &conv;
  in.g = g.data.data();
  in.beta = beta.data();
  in.n_k_heads = H;
  in.n_v_heads = H;
  in.dims = DeltaDims{d, d, d};
  in.state_offset = (K - 1) * 3 * inner;
  delta_rule(in, batch, cache, il, o, pool);

  // 4. Gated RMSNorm per head with a sigmoid gate, then the output projection.
  const Activations gate = w.g.weight ? linear(x, w.g, pool) : linear(linear(x, w.g_a, pool), w.g_b, pool);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t h = 0; h < H; ++h) {
      float* oh = o.row(t) + h * d;
      dragon::rms_norm(oh, w.norm.data(), oh, d, eps);
      const float* gh = gate.row(t) + h * d;
      for (int64_t j = 0; j < d; ++j) oh[j] *= sigmoid(gh[j]);
    }
  return linear(o, w.out, pool);
}

}  // namespace dragon::blocks
