#include "models/gated_deltanet.h"

#include <cmath>

#include "kernels/rmsnorm.h"
#include "kernels/vector_ops.h"
#include "models/delta_rule.h"
#include "models/short_conv.h"
#include "util/error.h"

namespace dragon::blocks {

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

Activations deltanet_forward(const Activations& x, const DeltaNetWeights& w, const Batch& batch, KVCache& cache,
                             int64_t il, const ModelConfig& c, ThreadPool& pool) {
  const int64_t nk = c.linear_n_k_heads, nv = c.linear_n_v_heads, r = nv / nk;
  const int64_t dk = c.linear_k_head_dim, dv = c.linear_v_head_dim;
  const int64_t K = c.linear_conv_kernel, C = c.linear_conv_channels();
  const int64_t key_dim = nk * dk, n = x.rows;
  const float eps = static_cast<float>(c.norm_eps);
  const float q_scale = 1.0f / std::sqrt(static_cast<float>(dk));

  const Activations z = linear(x, w.gate, pool);
  // Qwen3-Next fuses beta and alpha per k head group (r betas, then r alphas); Qwen3.5 has one
  // projection each, one row per v head.
  const bool fused_ba = w.layout == DeltaNetLayout::Qwen3Next;
  const Activations ba = fused_ba ? linear(x, w.ba, pool) : Activations();
  const Activations b_proj = fused_ba ? Activations() : linear(x, w.beta, pool);
  const Activations a_proj = fused_ba ? Activations() : linear(x, w.alpha, pool);
  // 1. The causal conv over the remembered inputs (models/short_conv.h), then per token
  // l2-normed q / k, beta and the per-head log-decay g.
  Activations conv = short_conv_silu(linear(x, w.qkv, pool), w.conv, K, batch, cache, il);
  std::vector<float> beta(static_cast<size_t>(n * nv)), g(static_cast<size_t>(n * nv));
  for (int64_t t = 0; t < n; ++t) {
    float* out = conv.row(t);
    for (int64_t h = 0; h < nk; ++h) {
      l2_normalize(out + h * dk, dk);
      l2_normalize(out + key_dim + h * dk, dk);
      for (int64_t i = 0; i < dk; ++i) out[h * dk + i] *= q_scale;
    }
    for (int64_t h = 0; h < nv; ++h) {
      const int64_t grp = h / r, j = h % r;
      const float b = fused_ba ? ba.row(t)[grp * 2 * r + j] : b_proj.row(t)[h];
      const float a = fused_ba ? ba.row(t)[grp * 2 * r + r + j] : a_proj.row(t)[h];
      beta[t * nv + h] = sigmoid(b);
      g[t * nv + h] = w.a[h] * softplus(a + w.dt_bias[h]);
    }
  }

  // 2. The delta rule with one decay per head (models/delta_rule.h).
  Activations o(n, nv * dv);
  DeltaRuleInputs in;
  in.qkv = &conv;
  in.g = g.data();
  in.beta = beta.data();
  in.n_k_heads = nk;
  in.n_v_heads = nv;
  in.tiled_k_heads = w.layout == DeltaNetLayout::Qwen35;
  in.dims = DeltaDims{dk, dv, 1};
  in.state_offset = (K - 1) * C;
  delta_rule(in, batch, cache, il, o, pool);

  // 3. Gated RMSNorm per v head: norm(o) * w * silu(z), then the output projection.
  for (int64_t t = 0; t < n; ++t)
    for (int64_t h = 0; h < nv; ++h) {
      float* oh = o.row(t) + h * dv;
      dragon::rms_norm(oh, w.norm.data(), oh, dv, eps);
      const float* zh = z.row(t) + h * dv;
      for (int64_t j = 0; j < dv; ++j) oh[j] *= silu(zh[j]);
    }
  return linear(o, w.out, pool);
}

}  // namespace dragon::blocks
