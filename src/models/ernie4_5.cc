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
#include <cmath>

#include "models/blocks.h"
#include "models/families.h"

namespace dragon {

namespace {

using namespace blocks;

class Ernie45 final : public DecoderModel {
 public:
  explicit Ernie45(OpenedModel opened) : DecoderModel(std::move(opened)) {
    for (int64_t il = 0; il < c_.n_layers; ++il) layers_.push_back(load_layer(weights_, c_, il, layer_options(c_)));
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    cache.begin_batch(batch);
    const float eps = static_cast<float>(c_.norm_eps);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim));

    Activations h = embed(batch);
    for (int64_t il = 0; il < c_.n_layers; ++il) {
      const LayerWeights& L = layers_[il];

      const Activations a = rms_norm(h, L.attn.norm, eps);
      Activations q = linear(a, L.attn.q, pool);
      Activations k = linear(a, L.attn.k, pool);
      const Activations v = linear(a, L.attn.v, pool);
      rope_.apply_rows(q, batch.positions);  // adjacent pairs: config.rope_interleaved
      rope_.apply_rows(k, batch.positions);
      const Activations attn = cached_attention(q, k, v, batch, cache, il, c_, scale, pool);
      add_in_place(h, linear(attn, L.attn.o, pool));

      const Activations m = rms_norm(h, L.ffn.norm, eps);
      add_in_place(h, swiglu_ffn(m, L.ffn, pool));
    }
    return output_logits(h, batch, pool);
  }

 private:
  std::vector<LayerWeights> layers_;
};

}  // namespace

std::unique_ptr<Model> build_ernie4_5(OpenedModel opened) { return std::make_unique<Ernie45>(std::move(opened)); }

}  // namespace dragon
