// DeepSeek Sparse Attention (DeepSeek-V3.2): the lightning indexer that decides which cached
// positions each query's MLA attention (models/mla.h) may look at. Written from DeepSeek-V3.2-Exp's
// inference/model.py (class Indexer) and checked against llama.cpp's src/models/deepseek32.cpp:
//
//   qr  = RMSNorm(q_a(x))                   the MLA's own compressed query (shared with it)
//   q_h = wq_b(qr)_h                        index_n_heads heads of index_head_dim, [rope | nope]
//   k   = LayerNorm(wk(x))                  ONE key per position (weight and bias, eps 1e-6)
//   q_h, k: the first qk_rope_head_dim dims rotated as NeoX halves (the MLA uses adjacent pairs;
//           DeepSeek's 2025-11-17 fix of the demo code made the indexer non-interleaved), with the
//           MLA's YaRN frequencies; GLM-5 (glm-dsa) rotates adjacent pairs here too
//           (config.index_rope_interleaved)
//   w_h = weights_proj(x)_h / sqrt(index_n_heads * index_head_dim)
//   score(p) = sum_h w_h * ReLU(q_h . k(p))            for p in [0, position]
//   the query attends to the min(index_topk, position + 1) positions of highest score.
//
// What dragon leaves out, and why that is still the same function: the official code rotates q
// and k by a Walsh-Hadamard matrix and quantizes both to FP8 (128-wide blocks) before the dot
// product, to make the FP8 kernel accurate; llama.cpp keeps the (orthonormal, so dot-product
// preserving) rotation but no FP8. The rotation changes q . k only by rounding, so dragon skips
// it and computes the scores in f32 / double; the FP8 quantization is a deployment detail of the
// release's kernels that neither llama.cpp nor dragon reproduces (nor does the MLA's simulated FP8
// latent cache). The keys are cached per position beside the MLA latent (runtime/kv_cache.h).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/rope.h"
#include "models/blocks.h"

namespace dragon::blocks {

struct DsaIndexerWeights {
  Linear q_b;                             // indexer.attn_q_b [index_n_heads * index_head_dim, q_lora]
  Linear k;                               // indexer.attn_k [index_head_dim, hidden]
  std::vector<float> k_norm, k_norm_bias; // indexer.k_norm (LayerNorm)
  Linear weights;                         // indexer.proj [index_n_heads, hidden]
  bool present() const { return k.weight != nullptr; }
};

DsaIndexerWeights load_dsa_indexer(const Weights& w, const ModelConfig& c, int64_t il);

class DsaIndexer {
 public:
  explicit DsaIndexer(const ModelConfig& c);

  // The indexer keys of the batch's tokens [n, index_head_dim] (normed and rotated), to be cached.
  Activations keys(const Activations& x, const DsaIndexerWeights& w, const Batch& batch, ThreadPool& pool) const;

  // For every batch token: the positions of its sequence it attends to, ascending; empty when
  // that is all of [0, position] (index_topk >= position + 1: dense). x is the attention input,
  // qr the MLA's normed q_a output; the batch's own keys must already be in `cache`.
  std::vector<std::vector<int64_t>> select(const Activations& x, const Activations& qr, const DsaIndexerWeights& w,
                                           const Batch& batch, const KVCache& cache, int64_t layer,
                                           ThreadPool& pool) const;

 private:
  const ModelConfig& c_;
  Rope rope_;  // index_head_dim-wide heads, the first qk_rope_head_dim dims rotated
};

}  // namespace dragon::blocks
