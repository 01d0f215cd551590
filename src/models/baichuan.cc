// Baichuan / Baichuan 2 (7B with rope, 13B with ALiBi). The llama block without biases:
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)
//               q, k, v = split(a W_pack)                  (split into attn_q/k/v at conversion)
//               7B:  q, k = RoPE(q, pos), RoPE(k, pos)     adjacent pairs on the permuted rows,
//                                                          as llama.cpp (see llama.cc)
//               13B: scores += slope_h * (key pos - query pos)           ALiBi, no rope
//               h += softmax(q k^T / sqrt(head_dim) [+ alibi]) v  Wo (causal, over the KV cache)
//               m = RMSNorm(h)
//               h += (silu(m Wgate) * (m Wup)) Wdown
//   logits = RMSNorm(h) Wout        Baichuan 2's NormHead: Wout rows L2-normalised, done once by
//                                   the converter / the HF load plan, so nothing here
#include <cmath>

#include "kernels/attention.h"
#include "models/blocks.h"
#include "models/families.h"

namespace dragon {

namespace {

using namespace blocks;

class Baichuan final : public DecoderModel {
 public:
  explicit Baichuan(OpenedModel opened) : DecoderModel(std::move(opened)) {
    ModelConfig rope_config = c_;
    rope_config.rope_interleaved = true;  // q/k rows permuted as for llama
    rope_ = Rope(rope_config, rope_freq_divisors());
    if (c_.alibi) alibi_ = alibi_slopes(c_.n_heads);
    layers_.resize(static_cast<size_t>(c_.n_layers));  // only this pipeline stage's are loaded
    for (int64_t il = stage_.begin; il < stage_.end; ++il) layers_[il] = load_layer(weights_, c_, il, layer_options(c_));
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
      if (!c_.alibi) {
        rope_.apply_rows(q, batch.positions);
        rope_.apply_rows(k, batch.positions);
      }
      const Activations attn = cached_attention(q, k, v, batch, cache, il, c_, scale, pool, alibi_);
      add_in_place(h, linear(attn, L.attn.o, pool));

      const Activations m = rms_norm(h, L.ffn.norm, eps);
      add_in_place(h, swiglu_ffn(m, L.ffn, pool));
    }
    return stage_output(h, batch, pool);
  }

 private:
  std::vector<LayerWeights> layers_;
  std::vector<float> alibi_;  // per-head slopes (13B), empty for rope models
};

}  // namespace

std::unique_ptr<Model> build_baichuan(OpenedModel opened) { return std::make_unique<Baichuan>(std::move(opened)); }

}  // namespace dragon
