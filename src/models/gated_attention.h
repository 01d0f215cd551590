// The gated full-attention layer of the hybrid families (Qwen3-Next, Qwen3.5: transformers'
// Qwen3NextAttention; llama.cpp's build_layer_attn), under llama.cpp's GGUF names:
//
//   q | gate = x Wq (per head: head_dim query values, then head_dim gate values);  k, v = x Wk, x Wv
//   q, k = RMSNorm per head (attn_q_norm / attn_k_norm);  NeoX rope on the first rotary_dim dims
//   y = (softmax(q k^T / sqrt(head_dim)) v * sigmoid(gate)) Wo
#pragma once

#include <vector>

#include "kernels/rope.h"
#include "kernels/thread_pool.h"
#include "models/blocks.h"
#include "runtime/batch.h"
#include "runtime/kv_cache.h"

namespace dragon::blocks {

struct GatedAttentionWeights {
  Linear q, k, v, o;  // q is [2 * n_heads * head_dim, hidden]: per head [query | gate]
  std::vector<float> q_norm, k_norm;
};

GatedAttentionWeights load_gated_attention(const Weights& w, const ModelConfig& c, int64_t il);

// x: the normalised hidden states [n_tokens, hidden] -> [n_tokens, hidden]; stores k / v of
// layer `il` in the cache.
Activations gated_attention_forward(const Activations& x, const GatedAttentionWeights& A, const Batch& batch,
                                    KVCache& cache, int64_t il, const ModelConfig& c, const Rope& rope,
                                    ThreadPool& pool);

}  // namespace dragon::blocks
