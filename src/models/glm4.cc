// GLM-4-0414 dense (GLM-4-9B/32B-0414, GLM-Z1). Written from transformers' modeling_glm4.py:
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)
//               q, k, v = a Wq + bq, a Wk + bk, a Wv + bv
//               q, k = RoPE(q, pos), RoPE(k, pos)    only the first rotary_dim (partial_rotary_factor
//                                                     0.5) of each head, on ADJACENT pairs (2i, 2i+1)
//               h += RMSNorm_post_attn( softmax(q k^T / sqrt(head_dim)) v  Wo )    "sandwich" norm
//               m = RMSNorm(h)
//               g, u = split(m Wgate_up)                                           one fused matrix
//               h += RMSNorm_post_mlp( (silu(g) * u) Wdown )
//   logits = RMSNorm(h) Wout
#include <cmath>

#include "models/blocks.h"
#include "models/families.h"

namespace dragon {

namespace {

using namespace blocks;

struct Glm4Layer {
  AttentionWeights attn;
  std::vector<float> post_attn_norm;  // post_self_attn_layernorm
  std::vector<float> ffn_norm;        // post_attention_layernorm (before the MLP)
  Linear gate_up, down;
  std::vector<float> post_ffn_norm;   // post_mlp_layernorm
};

class Glm4 final : public DecoderModel {
 public:
  explicit Glm4(OpenedModel opened) : DecoderModel(std::move(opened)) {
    const int64_t ff = c_.intermediate_size;
    layers_.resize(static_cast<size_t>(c_.n_layers));  // only this pipeline stage's are loaded
    for (int64_t il = stage_.begin; il < stage_.end; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".";
      Glm4Layer L;
      L.attn = load_attention(weights_, c_, il, layer_options(c_));
      L.post_attn_norm = weights_.f32(p + "post_attention_norm.weight", c_.hidden_size);
      L.ffn_norm = weights_.f32(p + "ffn_norm.weight", c_.hidden_size);
      L.gate_up = load_linear(weights_, p + "ffn_up", 2 * ff, c_.hidden_size, false);
      L.down = load_linear(weights_, p + "ffn_down", c_.hidden_size, ff, false);
      L.post_ffn_norm = weights_.f32(p + "post_ffw_norm.weight", c_.hidden_size);
      layers_[il] = std::move(L);
    }
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    cache.begin_batch(batch);
    const float eps = static_cast<float>(c_.norm_eps);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim));

    Activations h = stage_input(batch);
    for (int64_t il = stage_.begin; il < stage_.end; ++il) {
      const Glm4Layer& L = layers_[il];

      const Activations a = rms_norm(h, L.attn.norm, eps);
      Activations q, k, v;
      linears(a, {{L.attn.q, q}, {L.attn.k, k}, {L.attn.v, v}}, pool);
      rope_.apply_rows(q, batch.positions);  // partial, adjacent pairs: from the config
      rope_.apply_rows(k, batch.positions);
      const Activations attn = cached_attention(q, k, v, batch, cache, il, c_, scale, pool);
      add_in_place(h, rms_norm(linear(attn, L.attn.o, pool), L.post_attn_norm, eps));

      const Activations m = rms_norm(h, L.ffn_norm, eps);
      const Activations ffn = linear(swiglu_fused(linear(m, L.gate_up, pool)), L.down, pool);
      add_in_place(h, rms_norm(ffn, L.post_ffn_norm, eps));
    }
    return stage_output(h, batch, pool);
  }

 private:
  std::vector<Glm4Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> build_glm4(OpenedModel opened) { return std::make_unique<Glm4>(std::move(opened)); }

}  // namespace dragon
