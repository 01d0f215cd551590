// Lightning attention: the linear-attention token mixer of MiniMax-Text-01 / MiniMax-M1
// (MiniMaxText01LightningAttention in the release's modeling_minimax_text_01.py; llama.cpp's
// minimax-01 graph), under llama.cpp's GGUF names:
//
//   q | k | v = silu(x Wqkv)              (per head [q | k | v], head_dim each; no GQA)
//   per head h, with the fixed decay rate s_h (lightning_slope) and state KV [head_dim x head_dim]:
//     KV_t = exp(-s_h) KV_{t-1} + k_t v_t^T;   o_t = q_t^T KV_t        (no 1/sqrt(d) scale)
//   y     = out_proj( RMSNorm(o over all heads) * sigmoid(x Wgate) )
//
// The state a sequence carries between forward passes (KVCache::recurrent_state) is the KV of
// every head: n_heads * head_dim^2 floats (ModelConfig: linear heads = n_heads, conv kernel 1).
//
// Forms. BLOCK-WISE for a sequence's tokens in a batch (prefill): blocks of m tokens, each
//   o_i = exp(-s (i+1)) q_i^T KV + sum_{j<=i} exp(-s (i-j)) (q_i . k_j) v_j      (inter + intra)
//   KV' = exp(-s m) KV + sum_j exp(-s (m-1-j)) k_j v_j^T                       (carried state)
// and the RECURRENCE above for a lone token (decode). Both are exact rewrites of each other;
// tests/models/lightning_attention_test.cc checks them against each other.
#pragma once

#include <vector>

#include "kernels/thread_pool.h"
#include "models/blocks.h"
#include "runtime/batch.h"
#include "runtime/kv_cache.h"

namespace dragon::blocks {

struct LightningWeights {
  Linear qkv, gate, out;
  std::vector<float> norm;  // [n_heads * head_dim] output RMSNorm weight
};

LightningWeights load_lightning(const Weights& w, const ModelConfig& c, int64_t il);

// The decay rate s_h of head h in layer il: ALiBi's slopes (2^(-8/n) ... for a power-of-two n;
// else the closest power of two's slopes plus every other one of twice as many, as the release's
// _build_slope_tensor) times 1 - il / (n_layers - 1) + 1e-5.
std::vector<float> lightning_slopes(const ModelConfig& c, int64_t il);

// The RMSNorm epsilon of the output norm: the release builds it with MiniMaxText01RMSNorm's
// default 1e-6, not rms_norm_eps (llama.cpp and vLLM use rms_norm_eps; see minimax01.cc).
inline constexpr float kLightningNormEps = 1e-6f;

// The two forms for one head (d = head_dim, kv row-major [d (k) x d (v)]):
// the recurrence for one token, and one block of q.size() consecutive tokens.
void lightning_step(float* kv, const float* q, const float* k, const float* v, float slope, int64_t d, float* o);
void lightning_block(float* kv, const std::vector<const float*>& q, const std::vector<const float*>& k,
                     const std::vector<const float*>& v, float slope, int64_t d, const std::vector<float*>& o);

// x: the normalised hidden states [n_tokens, hidden] -> [n_tokens, hidden]. Updates the state of
// layer `il` of each batch sequence.
Activations lightning_forward(const Activations& x, const LightningWeights& w, const Batch& batch, KVCache& cache,
                              int64_t il, const ModelConfig& c, ThreadPool& pool);

}  // namespace dragon::blocks
