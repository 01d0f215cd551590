// ERNIE-4.5-MoE (ERNIE-4.5-21B-A3B, -300B-A47B): the ERNIE 4.5 attention (adjacent-pair rope as
// stored, no biases), dense SwiGLU MLPs in the first moe_layer_start_index layers, a MoE block in
// the others. Written from transformers' modeling_ernie4_5_moe.py (Ernie4_5_MoeSparseMoeBlock):
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)
//               q, k, v = a Wq, a Wk, a Wv;  RoPE_adjacent_pairs(q), RoPE_adjacent_pairs(k)
//               h += softmax(q k^T / sqrt(head_dim)) v  Wo           (causal, over the KV cache)
//               m = RMSNorm(h)
//     dense:    h += (silu(m Wgate) * (m Wup)) Wdown
//     MoE:      p = softmax(m Wrouter)                  (in f32; the router is f32 in the release)
//               E = top moe_k of  p + moe_statics.e_score_correction_bias   (the bias only chooses)
//               w_e = p_e / max(sum_{E} p, norm_min)
//               h += sum_{e in E} w_e expert_e(m) + shared(m)   shared = SwiGLU of width
//                                                              moe_intermediate_size * n_shared
//   logits = RMSNorm(h) Wout
//
// It is DeepSeek-MoE's block (deepseek.cc) with ERNIE's rope layout, which its files store as is.
#include "models/families.h"

namespace dragon {

std::unique_ptr<Model> build_ernie4_5_moe(OpenedModel opened) {
  return build_llama_moe_block(std::move(opened), /*converter_permuted_qk=*/false);
}

}  // namespace dragon
