// Qwen3 (dense): a pre-norm decoder with GQA attention, per-head RMSNorm on q and k (QK-norm),
// NeoX rope and a SwiGLU MLP. Written from transformers' modeling_qwen3.py:
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)
//               q, k, v = a Wq, a Wk, a Wv                 (no biases)
//               q, k = RMSNorm(q), RMSNorm(k)              over each head of head_dim
//               q, k = RoPE(q, pos), RoPE(k, pos)
//               h += softmax(q k^T / sqrt(head_dim)) v  Wo (causal, over the KV cache)
//               m = RMSNorm(h)
//               h += (silu(m Wgate) * (m Wup)) Wdown
//   logits = RMSNorm(h) Wout                               (Wout = embed_tokens when tied)
#include "models/families.h"

#include <cmath>

#include "kernels/rmsnorm.h"
#include "models/blocks.h"

namespace dragon {

namespace {

using namespace blocks;

class Qwen3 final : public DecoderModel {
 public:
  explicit Qwen3(OpenedModel opened) : DecoderModel(std::move(opened)) {
    layers_.resize(static_cast<size_t>(c_.n_layers));  // only this pipeline stage's are loaded
    for (int64_t il = stage_.begin; il < stage_.end; ++il)
      layers_[il] = load_layer(weights_, c_, il, LayerOptions{.qk_norm = true});
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    cache.begin_batch(batch);
    const float eps = static_cast<float>(c_.norm_eps);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim));

    Activations h = stage_input(batch);
    for (int64_t il = stage_.begin; il < stage_.end; ++il) {
      const LayerWeights& L = layers_[il];

      const Activations a = rms_norm(h, L.attn.norm, eps);
      Activations q, k, v;
      linears(a, {{L.attn.q, q}, {L.attn.k, k}, {L.attn.v, v}}, pool);
      rms_norm_heads(q, L.attn.q_norm.data(), c_.head_dim, eps);
      rms_norm_heads(k, L.attn.k_norm.data(), c_.head_dim, eps);
      rope_.apply_rows(q, batch.positions);
      rope_.apply_rows(k, batch.positions);
      const Activations attn = cached_attention(q, k, v, batch, cache, il, c_, scale, pool);
      add_in_place(h, linear(attn, L.attn.o, pool));

      const Activations m = rms_norm(h, L.ffn.norm, eps);
      add_in_place(h, swiglu_ffn(m, L.ffn, pool));
    }
    return stage_output(h, batch, pool);
  }

 private:
  std::vector<LayerWeights> layers_;
};

}  // namespace

std::unique_ptr<Model> build_qwen3(OpenedModel opened) { return std::make_unique<Qwen3>(std::move(opened)); }

}  // namespace dragon
