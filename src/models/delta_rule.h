// The gated delta rule that Qwen3-Next's Gated DeltaNet (models/gated_deltanet.h) and Kimi
// Linear's Kimi Delta Attention (models/kda.h) share. Per v head, with a state S [d_k x d_v]:
//
//   S = diag(exp(g)) S;   delta = beta (v - S^T k);   S += k delta^T;   o = S^T q
//
// g is the log-decay (<= 0) of the token: ONE value per head in Gated DeltaNet (every row of S
// decays alike), one value per key channel in KDA (row i of S decays by exp(g_i)). The code takes
// g_dim = 1 or d_k values per token and head; per-head decay is per-channel decay with equal
// channels, so both families run the same arithmetic.
//
// Two forms, equal up to rounding (tests/models/delta_rule_test.cc checks them against each
// other for both decays):
//  - RECURRENT (delta_step): one token; the state is read and written once per token (decode).
//  - CHUNKED (delta_chunk): m consecutive tokens of a sequence. With G_t the cumulative log-decay
//    inside the chunk (per channel) and u_t = beta_t (v_t - S'_{t-1}^T k_t) the value the step
//    adds (S' the decayed state),
//      S_t = diag(exp(G_t)) S_0 + sum_{s<=t} diag(exp(G_t - G_s)) k_s u_s^T,
//    so with the decayed products  A_kk[t,s] = sum_i k_t,i k_s,i exp(G_t,i - G_s,i)  (s < t) and
//    A_qk[t,s] = sum_i q_t,i k_s,i exp(G_t,i - G_s,i)  (s <= t):
//      u_t = beta_t (v_t - S_0^T (exp(G_t) * k_t) - sum_{s<t} A_kk[t,s] u_s)   (forward substitution)
//      o_t = S_0^T (exp(G_t) * q_t) + sum_{s<=t} A_qk[t,s] u_s
//    and the state at the chunk's end as S_t above: read and written once per chunk.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/thread_pool.h"
#include "models/blocks.h"
#include "runtime/batch.h"
#include "runtime/kv_cache.h"

namespace dragon::blocks {

// The inputs' preparation, shared too.
inline float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }
inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
// x / sqrt(sum x^2 + 1e-6), as transformers' / FLA's l2norm (use_qk_l2norm_in_kernel).
inline void l2_normalize(float* x, int64_t n) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss + 1e-6));
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

struct DeltaDims {
  int64_t dk = 0, dv = 0;
  int64_t g_dim = 1;  // log-decays per token and head: 1 (per head) or dk (per key channel)
};

// The recurrent form, one token. s: [dk][dv] state, updated; g: g_dim log-decays; o: [dv];
// scratch: at least dv floats.
void delta_step(float* s, const float* q, const float* k, const float* v, const float* g, float beta, float* o,
                const DeltaDims& d, float* scratch);

// The chunked form over the m = q.size() tokens of one chunk (pointers per token).
void delta_chunk(float* s, const std::vector<const float*>& q, const std::vector<const float*>& k,
                 const std::vector<const float*>& v, const std::vector<const float*>& g, const float* beta,
                 const std::vector<float*>& o, const DeltaDims& d, std::vector<float>& scratch);

// One layer's delta rule over a batch: every sequence's tokens in chunks of kDeltaChunk (a lone
// token takes the recurrent step), every v head in parallel.
struct DeltaRuleInputs {
  // Per token: q of every k head, then k of every k head, then v of every v head (q already
  // scaled, q and k l2-normed); v head h reads k head h / (n_v / n_k), or h % n_k when
  // tiled_k_heads (Qwen3.5's GGUF: llama.cpp's converter reorders the v heads so).
  const Activations* qkv = nullptr;
  bool tiled_k_heads = false;
  const float* g = nullptr;     // per token and v head, g_dim log-decays: g[(t n_v + h) g_dim + i]
  const float* beta = nullptr;  // per token and v head: beta[t n_v + h]
  int64_t n_k_heads = 0, n_v_heads = 0;
  DeltaDims dims;
  // Floats of the layer's recurrent state (KVCache::recurrent_state) before the n_v state
  // matrices: the conv inputs.
  int64_t state_offset = 0;
};
inline constexpr int64_t kDeltaChunk = 32;

// Writes o [n_tokens, n_v * dv] and updates the states of layer `il` of the batch's sequences.
void delta_rule(const DeltaRuleInputs& in, const Batch& batch, KVCache& cache, int64_t il, Activations& o,
                ThreadPool& pool);

}  // namespace dragon::blocks
