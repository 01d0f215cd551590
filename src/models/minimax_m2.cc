// MiniMax-M2 (MiniMaxM2ForCausalLM). Written from the release's modeling_minimax_m2.py (as
// transformers' modeling_minimax_m2.py):
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)
//               q, k, v = a Wq, a Wk, a Wv                    no biases
//               q = RMSNorm(q), k = RMSNorm(k)                ONE norm over the whole q row
//                                                             (n_heads * head_dim) and one over the whole
//                                                             k row ("per_layer"), not per head
//               q, k = RoPE(q, pos), RoPE(k, pos)             the first rotary_dim (64 of 128) of each head,
//                                                             NeoX halves
//               h += softmax(q k^T / sqrt(head_dim)) v  Wo
//               m = RMSNorm(h)
//               h += MoE(m)      every layer: sigmoid router + e_score_correction_bias (choice only),
//                                top-k renormalised, experts w1 (gate) / w3 (up) / w2 (down); no shared expert
//   logits = RMSNorm(h) Wout
#include <cmath>

#include "models/blocks.h"
#include "models/families.h"
#include "models/moe.h"

namespace dragon {

namespace {

using namespace blocks;

struct MiniMaxM2Layer {
  AttentionWeights attn;
  std::vector<float> q_norm, k_norm;  // over the whole projection
  std::vector<float> ffn_norm;
  MoeWeights moe;
};

class MiniMaxM2 final : public DecoderModel, public RoutingTraceable {
 public:
  explicit MiniMaxM2(OpenedModel opened) : DecoderModel(std::move(opened)) {
    layers_.resize(static_cast<size_t>(c_.n_layers));  // only this pipeline stage's are loaded
    for (int64_t il = stage_.begin; il < stage_.end; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".";
      MiniMaxM2Layer L;
      L.attn = load_attention(weights_, c_, il, LayerOptions{});
      L.q_norm = weights_.f32(p + "attn_q_norm.weight", c_.n_heads * c_.head_dim);
      L.k_norm = weights_.f32(p + "attn_k_norm.weight", c_.n_kv_heads * c_.head_dim);
      L.ffn_norm = weights_.f32(p + "ffn_norm.weight", c_.hidden_size);
      L.moe = load_moe(weights_, c_, il);
      layers_[il] = std::move(L);
    }
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    cache.begin_batch(batch);
    begin_trace();
    const float eps = static_cast<float>(c_.norm_eps);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim));

    Activations h = stage_input(batch);
    for (int64_t il = stage_.begin; il < stage_.end; ++il) {
      const MiniMaxM2Layer& L = layers_[il];

      const Activations a = rms_norm(h, L.attn.norm, eps);
      Activations q = rms_norm(linear(a, L.attn.q, pool), L.q_norm, eps);
      Activations k = rms_norm(linear(a, L.attn.k, pool), L.k_norm, eps);
      const Activations v = linear(a, L.attn.v, pool);
      rope_.apply_rows(q, batch.positions);  // partial, NeoX halves: from the config
      rope_.apply_rows(k, batch.positions);
      const Activations attn = cached_attention(q, k, v, batch, cache, il, c_, scale, pool);
      add_in_place(h, linear(attn, L.attn.o, pool));

      const Activations m = rms_norm(h, L.ffn_norm, eps);
      add_in_place(h, moe_ffn(m, L.moe, c_, pool, next_trace_slot()));
    }
    return stage_output(h, batch, pool);
  }

 private:
  std::vector<MiniMaxM2Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> build_minimax_m2(OpenedModel opened) { return std::make_unique<MiniMaxM2>(std::move(opened)); }

}  // namespace dragon
