// MiniMax Sparse Attention (MSA, MiniMax-M3): GQA attention in which every kv head's group of
// query heads looks only at a few blocks of positions, chosen per query and kv head by a small
// indexer. Written from llama.cpp's src/models/minimax-m3.cpp (the official kernels are not in
// reach here; the mlx-lm port runs MSA densely):
//
//   iq_h = RMSNorm_h(x Wiq)_h          one indexer query head per kv head (index_head_dim, the
//   ik   = RMSNorm(x Wik)              norm weight shared by the heads), ONE key per position;
//   iq_h, ik: the first rotary_dim dims rotated as the attention's q/k (NeoX halves, same theta)
//   s_h(p)   = iq_h . ik(p)                          for p in [0, position], unscaled
//   S_h(b)   = max over the visible p of block b     blocks of msa_block_size positions
//   the msa_local_blocks latest blocks (the query's own and those before it) are always chosen;
//   the rest of the msa_topk_blocks go to the best S_h; the query heads of group h then attend
//   (causally) to the positions of the chosen blocks only.
// While a query sees no more than msa_topk_blocks blocks it attends densely. The indexer keys are
// cached beside the K rows (runtime/kv_cache.h).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/rope.h"
#include "models/blocks.h"

namespace dragon::blocks {

struct MsaIndexerWeights {
  Linear q;                          // indexer.q_proj [index_n_heads * index_head_dim, hidden]
  Linear k;                          // indexer.k_proj [index_head_dim, hidden]
  std::vector<float> q_norm, k_norm; // [index_head_dim] RMSNorm weights (the converter's +1 included)
};

MsaIndexerWeights load_msa_indexer(const Weights& w, const ModelConfig& c, int64_t il);

// The blocks a query in block `own_block` attends to, ascending, given the indexer's block
// scores [0, own_block] (the query's visible blocks): the `local` latest blocks, then the best
// scores (ties to the earlier block) up to `topk` blocks in all.
std::vector<int64_t> msa_select_blocks(const std::vector<float>& block_scores, int64_t own_block, int64_t topk,
                                       int64_t local);

class MsaAttention {
 public:
  explicit MsaAttention(const ModelConfig& c);

  // Attention of a sparse layer: stores the batch's k / v (rotated) and indexer keys in the
  // cache, then each token's kv-head groups attend to their chosen blocks. x: the layer's normed
  // input; q [n, n_heads * head_dim] -> [n, n_heads * head_dim].
  Activations forward(const Activations& x, const Activations& q, const Activations& k, const Activations& v,
                      const MsaIndexerWeights& w, const Batch& batch, KVCache& cache, int64_t layer, float scale,
                      ThreadPool& pool) const;

 private:
  const ModelConfig& c_;
  Rope rope_;  // index_head_dim-wide heads, the first rotary_dim dims rotated
};

}  // namespace dragon::blocks
