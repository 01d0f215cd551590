// The delta rule of models/delta_rule.h: its chunked form against its recurrent form, for the
// per-head decay of Gated DeltaNet (g_dim 1) and the per-channel decay of Kimi Delta Attention
// (g_dim = d_k), over several chunks with the state carried between them; and per-head decay as
// per-channel decay with equal channels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "models/delta_rule.h"

namespace dragon::blocks {
namespace {

struct Stream {
  int64_t n, dk, dv, g_dim;
  std::vector<float> q, k, v, g, beta;
};

// n tokens of l2-normed q / k, values O(1), log-decays in [-1.2, -0.05] that differ per channel,
// betas in (0, 1).
Stream make_stream(int64_t n, int64_t dk, int64_t dv, int64_t g_dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> decay(-1.2f, -0.05f), unit(0.05f, 0.95f);
  Stream s{n, dk, dv, g_dim, {}, {}, {}, {}, {}};
  for (int64_t t = 0; t < n; ++t) {
    for (auto* x : {&s.q, &s.k}) {
      const size_t at = x->size();
      for (int64_t i = 0; i < dk; ++i) x->push_back(normal(rng));
      l2_normalize(x->data() + at, dk);
    }
    for (int64_t j = 0; j < dv; ++j) s.v.push_back(normal(rng));
    for (int64_t i = 0; i < g_dim; ++i) s.g.push_back(decay(rng));
    s.beta.push_back(unit(rng));
  }
  return s;
}

// Outputs [n][dv] and the final state, token by token.
std::vector<float> run_steps(const Stream& s, std::vector<float>& state) {
  const DeltaDims d{s.dk, s.dv, s.g_dim};
  std::vector<float> out(static_cast<size_t>(s.n * s.dv)), scratch(static_cast<size_t>(s.dv));
  for (int64_t t = 0; t < s.n; ++t)
    delta_step(state.data(), &s.q[t * s.dk], &s.k[t * s.dk], &s.v[t * s.dv], &s.g[t * s.g_dim], s.beta[t],
               &out[t * s.dv], d, scratch.data());
  return out;
}

// The same in chunks of `chunk` tokens.
std::vector<float> run_chunks(const Stream& s, std::vector<float>& state, int64_t chunk) {
  const DeltaDims d{s.dk, s.dv, s.g_dim};
  std::vector<float> out(static_cast<size_t>(s.n * s.dv)), scratch;
  for (int64_t c0 = 0; c0 < s.n; c0 += chunk) {
    std::vector<const float *> q, k, v, g;
    std::vector<float*> o;
    for (int64_t t = c0; t < std::min(s.n, c0 + chunk); ++t) {
      q.push_back(&s.q[t * s.dk]), k.push_back(&s.k[t * s.dk]), v.push_back(&s.v[t * s.dv]);
      g.push_back(&s.g[t * s.g_dim]), o.push_back(&out[t * s.dv]);
    }
    delta_chunk(state.data(), q, k, v, g, &s.beta[c0], o, d, scratch);
  }
  return out;
}

double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
  return std::sqrt(num / den);
}

void check_forms(int64_t g_dim_is_dk) {
  const int64_t n = 75, dk = 16, dv = 12;  // 75 = 32 + 32 + 11: three chunks
  const Stream s = make_stream(n, dk, dv, g_dim_is_dk ? dk : 1, 11);
  std::vector<float> state_a(static_cast<size_t>(dk * dv), 0.0f), state_b = state_a;
  const std::vector<float> steps = run_steps(s, state_a);
  const std::vector<float> chunks = run_chunks(s, state_b, kDeltaChunk);
  const double e_out = rel_err(chunks, steps), e_state = rel_err(state_b, state_a);
  std::printf("  g_dim %lld: chunked vs recurrent over %lld tokens: outputs rel RMSE %.3e, final state %.3e\n",
              static_cast<long long>(s.g_dim), static_cast<long long>(n), e_out, e_state);
  EXPECT_LT(e_out, 1e-5);
  EXPECT_LT(e_state, 1e-5);
}

TEST(DeltaRule, ChunkedMatchesRecurrentWithPerHeadDecay) { check_forms(false); }

TEST(DeltaRule, ChunkedMatchesRecurrentWithPerChannelDecay) { check_forms(true); }

// Per-head decay is per-channel decay with equal channels; and per-channel decay is not the
// per-head decay of the channels' mean (the channels really decay apart).
TEST(DeltaRule, PerHeadDecayIsPerChannelDecayWithEqualChannels) {
  const int64_t n = 40, dk = 8, dv = 8;
  Stream per_channel = make_stream(n, dk, dv, dk, 5);
  Stream per_head = per_channel, equal = per_channel;
  per_head.g_dim = 1;
  per_head.g.clear();
  equal.g.clear();
  for (int64_t t = 0; t < n; ++t) {
    float mean = 0;
    for (int64_t i = 0; i < dk; ++i) mean += per_channel.g[t * dk + i] / dk;
    per_head.g.push_back(mean);
    for (int64_t i = 0; i < dk; ++i) equal.g.push_back(mean);
  }
  std::vector<float> s1(static_cast<size_t>(dk * dv), 0.0f), s2 = s1, s3 = s1;
  const std::vector<float> head = run_chunks(per_head, s1, kDeltaChunk);
  const std::vector<float> eq = run_chunks(equal, s2, kDeltaChunk);
  const std::vector<float> chan = run_chunks(per_channel, s3, kDeltaChunk);
  const double e_equal = rel_err(eq, head), e_apart = rel_err(chan, head);
  std::printf("  equal channels vs per head: rel RMSE %.3e; per channel vs the per-head mean: %.3e\n", e_equal,
              e_apart);
  EXPECT_LT(e_equal, 1e-6);
  EXPECT_GT(e_apart, 1e-2);
}

}  // namespace
}  // namespace dragon::blocks
