// Qwen2 / Qwen2.5 (also QwQ and R1-Distill-Qwen): the llama block with a bias on the q, k and v
// projections, NeoX rope and a SwiGLU MLP. Written from transformers' modeling_qwen2.py:
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)
//               q, k, v = a Wq + bq, a Wk + bk, a Wv + bv
//               q, k = RoPE(q, pos), RoPE(k, pos)
//               h += softmax(q k^T / sqrt(head_dim)) v  Wo (causal, over the KV cache)
//               m = RMSNorm(h)
//               h += (silu(m Wgate) * (m Wup)) Wdown
//   logits = RMSNorm(h) Wout                               (Wout = embed_tokens when tied)
#include "models/families.h"

namespace dragon {

// The llama block (llama.cc) with q/k/v biases from the config and NeoX rope as stored in the file.
std::unique_ptr<Model> build_qwen2(OpenedModel opened) {
  return build_llama_block(std::move(opened), /*converter_permuted_qk=*/false);
}

}  // namespace dragon
