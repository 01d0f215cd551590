// Kimi Delta Attention, the token mixer of Kimi Linear's linear-attention layers (modeling_kimi.py
// KimiDeltaAttention with FLA's chunk_kda / fused_recurrent_kda; llama.cpp's kimi-linear.cpp),
// under llama.cpp's GGUF names. H heads of width d (linear_attn_config.num_heads / head_dim):
//
//   q, k, v = x Wq, x Wk, x Wv                 (attn_q / attn_k / attn_v, each [H d, hidden])
//   q, k, v = silu(causal depthwise conv1d)    a conv each (ssm_conv1d_q/k/v, kernel K)
//   q, k    = l2norm per head;  q /= sqrt(d)
//   g       = ssm_a[h] * softplus(f_b(f_a(x)) + dt_bias)   PER CHANNEL [H, d]  (ssm_a = -exp(A_log))
//             Kimi-K3 (config.kda_gate_lower_bound = lb < 0):  g = lb * sigmoid(-ssm_a[h] (f + dt_bias))
//   beta    = sigmoid(x Wbeta)                 per head (ssm_beta [H, hidden])
//   per head, with state S [d x d]: S = diag(exp(g)) S;  delta = beta (v - S^T k);  S += k delta^T;
//                                    o = S^T q          (models/delta_rule.h, g_dim = d)
//   y       = attn_output( RMSNorm(o) * w_norm * sigmoid(g_b(g_a(x))) )   per head (ssm_norm [d];
//             the gate goes through a rank-d bottleneck: ssm_g_a [d, hidden], ssm_g_b [H d, d];
//             Kimi-K3, config.kda_full_rank_gate: one ssm_g [H d, hidden])
//
// The state a sequence carries (KVCache::recurrent_state): the last K-1 rows of [q | k | v]
// before the convs (oldest first), then the H matrices S. The config describes it with the
// linear_* fields of the Gated DeltaNet (n_k = n_v = H, k = v dim = d), so the cache needs nothing
// of its own.
#pragma once

#include <vector>

#include "kernels/thread_pool.h"
#include "models/blocks.h"
#include "runtime/batch.h"
#include "runtime/kv_cache.h"

namespace dragon::blocks {

struct KdaWeights {
  Linear q, k, v, f_a, f_b, beta, g_a, g_b, out;
  Linear g;                    // full-rank output gate (Kimi-K3) instead of g_b(g_a(x))
  std::vector<float> conv;     // [3 H d, K] taps of the q, k and v convs, oldest input first
  std::vector<float> dt_bias;  // [H d]
  std::vector<float> a;        // [H] ssm_a = -exp(A_log)
  std::vector<float> norm;     // [d] gated RMSNorm weight
};

KdaWeights load_kda(const Weights& w, const ModelConfig& c, int64_t il);

// x: the normalised hidden states [n_tokens, hidden] -> [n_tokens, hidden]. Updates the
// recurrent state of layer `il` of each batch sequence.
Activations kda_forward(const Activations& x, const KdaWeights& w, const Batch& batch, KVCache& cache, int64_t il,
                        const ModelConfig& c, ThreadPool& pool);

}  // namespace dragon::blocks
