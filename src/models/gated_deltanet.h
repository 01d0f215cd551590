// The Gated DeltaNet token mixer of Qwen3-Next's and Qwen3.5's linear-attention layers
// (transformers' Qwen3NextGatedDeltaNet / Qwen3_5GatedDeltaNet; llama.cpp's
// build_layer_attn_linear), under llama.cpp's GGUF names:
//
//   mixed = x Wqkv                       (conv channels: every head's q, then k, then v)
//   z     = x Wgate                      (output gate, per v head)
//   b, a  = x Wba                        (Qwen3-Next: per k head group, r betas then r alphas; r = n_v / n_k)
//         = x Wbeta, x Walpha            (Qwen3.5: one row per v head each)
//   c     = silu(causal depthwise conv1d(mixed))  (kernel K over this and the K-1 previous tokens)
//   q, k  = l2norm per head;  q /= sqrt(d_k);  q, k heads shared by r v heads: v head h uses k head
//           h / r (Qwen3-Next: grouped) or h % n_k (Qwen3.5 GGUF: the converter tiles the v heads)
//   beta  = sigmoid(b),  g = ssm_a * softplus(a + dt_bias)   (ssm_a = -exp(A_log) < 0)
//   per v head, with state S [d_k x d_v]:
//     S = exp(g) S;   delta = beta (v - S^T k);   S += k delta^T;   o = S^T q
//   y     = out_proj( RMSNorm(o) * w_norm * silu(z) )   (per v head)
//
// The state a sequence carries between forward passes (KVCache::recurrent_state): the last K-1
// rows of `mixed` (oldest first), then the S of every v head.
//
// Forms: the projections run as one GEMM over the batch and the conv walks the tokens in order
// (models/short_conv.h); the delta rule (models/delta_rule.h, shared with Kimi Linear's KDA, here
// with one decay per head) runs per sequence and v head in its CHUNKED form over a sequence's
// tokens in the batch and in its RECURRENT form for a lone token (decode).
// tests/models/delta_rule_test.cc checks the two forms against each other,
// tests/models/qwen3next_forward_test.cc the whole model (a prompt at once vs token by token), and
// the PyTorch reference evaluates its own chunked derivation (tests/parity/run_next_parity.sh).
#pragma once

#include <vector>

#include "kernels/thread_pool.h"
#include "models/blocks.h"
#include "runtime/batch.h"
#include "runtime/kv_cache.h"

namespace dragon::blocks {

// How a family's GGUF lays out the per-v-head tensors.
enum class DeltaNetLayout {
  Qwen3Next,  // ssm_ba fused per k head; v heads grouped by k head
  Qwen35,     // ssm_beta / ssm_alpha per v head; v heads tiled (llama.cpp's _reorder_v_heads)
};

struct DeltaNetWeights {
  DeltaNetLayout layout = DeltaNetLayout::Qwen3Next;
  Linear qkv, gate, out;
  Linear ba;           // Qwen3Next
  Linear beta, alpha;  // Qwen35
  std::vector<float> conv;     // [channels, K] taps, oldest input first
  std::vector<float> dt_bias;  // [n_v]
  std::vector<float> a;        // [n_v] ssm_a = -exp(A_log)
  std::vector<float> norm;     // [d_v] gated RMSNorm weight
};

DeltaNetWeights load_deltanet(const Weights& w, const ModelConfig& c, int64_t il,
                              DeltaNetLayout layout = DeltaNetLayout::Qwen3Next);

// x: the normalised hidden states [n_tokens, hidden] -> [n_tokens, hidden]. Updates the
// recurrent state of layer `il` of each batch sequence.
Activations deltanet_forward(const Activations& x, const DeltaNetWeights& w, const Batch& batch, KVCache& cache,
                             int64_t il, const ModelConfig& c, ThreadPool& pool);

}  // namespace dragon::blocks
