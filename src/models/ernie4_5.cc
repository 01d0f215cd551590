// ERNIE 4.5 dense (ERNIE-4.5-0.3B): the llama block — optional biases (use_bias), SwiGLU MLP,
// an explicit head_dim — with rope on ADJACENT pairs (2i, 2i+1), which is how the HF checkpoint
// itself is laid out (no converter permutation). Written from transformers' modeling_ernie4_5.py:
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)
//               q, k, v = a Wq, a Wk, a Wv
//               q, k = RoPE_adjacent_pairs(q, pos), RoPE_adjacent_pairs(k, pos)
//               h += softmax(q k^T / sqrt(head_dim)) v  Wo (causal, over the KV cache)
//               m = RMSNorm(h)
//               h += (silu(m Wgate) * (m Wup)) Wdown
//   logits = RMSNorm(h) Wout                               (Wout = embed_tokens when tied)
#include "models/families.h"

namespace dragon {

// The llama block (llama.cc) with ERNIE's adjacent-pair rope, which its files store as is
// (config.rope_interleaved), and its optional biases.
std::unique_ptr<Model> build_ernie4_5(OpenedModel opened) {
  return build_llama_block(std::move(opened), /*converter_permuted_qk=*/false);
}

}  // namespace dragon
