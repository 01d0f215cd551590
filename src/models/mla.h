// Multi-head latent attention (DeepSeek-V2 / V2-Lite / V3 / R1, Kimi K2), written from the
// releases' modeling_deepseek.py and computed in its "absorbed" form:
//
//   q      = q_b(RMSNorm(q_a(x)))  (q_lora_rank > 0)  or  q_proj(x)  (V2-Lite)
//            per head [q_nope (qk_nope_head_dim) | q_pe (qk_rope_head_dim)]
//   c, k_pe = kv_a_proj_with_mqa(x) = [latent (kv_lora_rank) | k_pe], c = RMSNorm(latent)
//   q_pe, k_pe = RoPE(q_pe), RoPE(k_pe)       adjacent pairs; k_pe is ONE head shared by all
//                                              (Kimi Linear, config.mla_nope: not rotated at all)
//   HF decompresses every cached token:  k_nope_h = W_UK_h c,  v_h = W_UV_h c,
//        score_h(p) = q_nope_h . k_nope_h(p) + q_pe_h . k_pe(p);  out_h = sum_p P_h(p) v_h(p)
//   dragon never does: q_nope_h . (W_UK_h c) = (W_UK_h^T q_nope_h) . c, so the query is moved
//   into latent space once (q_lat_h, kv_lora_rank wide) and the value up-projection is applied
//   once after the weighted sum:  out_h = W_UV_h (sum_p P_h(p) c(p)).
//   The cache holds only [c | k_pe] per token (runtime/kv_cache.h), and every head attends over
//   it like MQA with key width kv_lora_rank + qk_rope_head_dim and value width kv_lora_rank.
//   softmax scale = mscale^2 / sqrt(qk_nope + qk_rope), mscale = 0.1 mscale_all_dim ln(factor) + 1
//   under YaRN (1 otherwise); the rope's cos/sin carry YaRN's mscale / mscale_all_dim ratio.
//   Hy4 (attention sinks): head h's softmax also counts exp(sink_h), which only shrinks the
//   weights: out_h = sigmoid(lse_h - sink_h) * (the sink-free out_h), lse_h = log sum_p exp(score_h(p)),
//   applied to the latent sum before W_UV_h (linear, so the same); such models always run absorbed.
//   DeepSeek-V3.2 (DSA, models/dsa_indexer.h): the sum over p runs only over the positions the
//   lightning indexer selects for the query (its index_topk best; all of them while the sequence
//   is no longer than that), computed in the absorbed form for every token.
//
// Weights under llama.cpp's names (an HF kv_b_proj is split at load into the same two tensors):
//   attn_q_a [q_lora, hidden], attn_q_a_norm, attn_q_b [H*(nope+rope), q_lora]  or  attn_q
//   attn_kv_a_mqa [kv_lora + rope, hidden], attn_kv_a_norm [kv_lora]
//   attn_k_b [H, kv_lora, nope]  (W_UK_h^T per head),  attn_v_b [H, v, kv_lora]  (W_UV_h)
//   attn_output [hidden, H*v]
//
// Decode is always absorbed: it costs kv_lora + rope MACs per (query, cached token, head) for the
// score and kv_lora for the value, and never touches the per-head keys. A prefill that brings
// many tokens of one sequence is cheaper decompressed (models/mla_decompressed.h: expand the
// latent rows into per-head keys and values once, then nope + rope + v MACs per (query, token,
// head)); forward picks the form per sequence (mla_form_for), and measured on 2 threads the
// decompressed form is 1.3x faster at 64 prompt tokens and more above (bench/RESULTS.md).
#pragma once

#include <vector>

#include <memory>

#include "kernels/rope.h"
#include "models/blocks.h"
#include "models/dsa_indexer.h"

namespace dragon::blocks {

struct MlaWeights {
  std::vector<float> norm;             // attn_norm (input_layernorm)
  Linear q;                            // attn_q, when there is no q compression
  Linear q_a, q_b;                     // attn_q_a / attn_q_b, when q_lora_rank > 0
  std::vector<float> q_a_norm;
  Linear kv_a;                         // attn_kv_a_mqa
  std::vector<float> kv_a_norm;
  std::vector<TensorView> k_b, v_b;    // per-head [kv_lora, nope] and [v, kv_lora] views
  Linear o;
  Linear gate;                         // attn_gate [H*v, hidden]: Kimi-K3's and Hy4's output gate
                                       // (absent: none), attn *= sigmoid(x Wg) before o_proj
  DsaIndexerWeights indexer;           // DeepSeek-V3.2's lightning indexer (absent: dense attention)
  // Hy4: one sink logit per head joins each softmax (scaled-score units, no value). Empty: none.
  std::vector<float> sinks;            // attn_sinks [H]
};

MlaWeights load_mla(const Weights& w, const ModelConfig& c, int64_t il);

// The MLA attention of one layer; holds what every layer shares (rope of the decoupled dims,
// softmax scale).
class MlaAttention {
 public:
  explicit MlaAttention(const ModelConfig& c);

  float softmax_scale() const { return scale_; }

  // x: the attention input, already normalised (attn_norm) [n, hidden]. Appends the batch's
  // [latent | k_pe] rows to `cache` (a latent cache) at layer `layer` and returns o_proj of the
  // attention [n, hidden].
  Activations forward(const Activations& x, const MlaWeights& w, const Batch& batch, KVCache& cache, int64_t layer,
                      ThreadPool& pool) const;

 private:
  const ModelConfig& c_;
  Rope rope_;  // over qk_rope_head_dim-wide heads
  float scale_;
  std::unique_ptr<DsaIndexer> indexer_;  // DSA models only
};

// DeepSeek's softmax scale (HF DeepseekV2Attention.softmax_scale).
float mla_softmax_scale(const ModelConfig& c);

}  // namespace dragon::blocks
