// MiniMax-Text-01 / MiniMax-M1 (MiniMaxText01ForCausalLM, MiniMaxM1ForCausalLM; llama.cpp arch
// minimax-01). Written from the release's modeling_minimax_text_01.py / modeling_minimax_m1.py
// (transformers' models/minimax follows them):
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)
//               lightning layers (attn_type_list 0: (il + 1) % full_attention_interval != 0):
//                 y = LightningAttention(a)   (models/lightning_attention.h; state per sequence)
//               softmax layers (attn_type_list 1):
//                 q, k, v = a Wq, a Wk, a Wv (GQA);  NeoX rope on the first rotary_dim (64 of 128)
//                 dims of each head;  y = softmax(q k^T / sqrt(head_dim)) v Wo
//               h = alpha_attn * (postnorm ? a : h) + beta_attn * y     (DeepNorm-style; the
//                                                                       release: alpha 3.56, beta 1)
//               m = RMSNorm(h)
//               h = alpha_mlp * (postnorm ? m : h) + beta_mlp * MoE(m)
//                   MoE: softmax router over num_local_experts, top-k renormalised,
//                   experts w1 (gate) / w3 (up) / w2 (down)
//   logits = RMSNorm(h) Wout
//
// Where llama.cpp's minimax-01 graph differs from the release (both are followed here as the
// release has them; the synthetic models of the parity test use power-of-two head counts):
//  - the lightning output norm's epsilon: the release's MiniMaxText01RMSNorm default 1e-6,
//    llama.cpp rms_norm_eps (1e-5 in the release's config);
//  - slopes for a head count that is not a power of two (llama.cpp extends 2^(-8/n) geometrically).
#include <cmath>

#include "models/blocks.h"
#include "models/families.h"
#include "models/lightning_attention.h"
#include "models/moe.h"
#include "util/error.h"

namespace dragon {

namespace {

using namespace blocks;

struct MiniMax01Layer {
  std::vector<float> attn_norm, ffn_norm;
  AttentionWeights softmax;   // softmax-attention layers
  LightningWeights lightning; // lightning layers
  MoeWeights moe;
};

// h = alpha * residual + beta * y, in place on `residual`.
void deepnorm_combine(Activations& residual, double alpha, const Activations& y, double beta) {
  const float a = static_cast<float>(alpha), b = static_cast<float>(beta);
  for (size_t i = 0; i < residual.data.size(); ++i) residual.data[i] = a * residual.data[i] + b * y.data[i];
}

class MiniMax01 final : public DecoderModel, public RoutingTraceable {
 public:
  explicit MiniMax01(OpenedModel opened) : DecoderModel(std::move(opened)) {
    if (!c_.is_hybrid()) fail("{}: minimax-01 without a lightning-attention layer pattern", opened_.path);
    for (int64_t il = 0; il < c_.n_layers; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".";
      MiniMax01Layer L;
      if (c_.layer_is_recurrent(il)) {
        L.attn_norm = weights_.f32(p + "attn_norm.weight", c_.hidden_size);
        L.lightning = load_lightning(weights_, c_, il);
      } else {
        L.softmax = load_attention(weights_, c_, il, LayerOptions{});
        L.attn_norm = L.softmax.norm;
      }
      L.ffn_norm = weights_.f32(p + "ffn_norm.weight", c_.hidden_size);
      L.moe = load_moe(weights_, c_, il);
      layers_.push_back(std::move(L));
    }
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    if (!cache.is_recurrent()) fail("minimax-01: the KV cache has no recurrent state (built for another model?)");
    cache.begin_batch(batch);
    begin_trace();
    const float eps = static_cast<float>(c_.norm_eps);

    Activations h = embed(batch);
    for (int64_t il = 0; il < c_.n_layers; ++il) {
      const MiniMax01Layer& L = layers_[il];
      const bool lightning = c_.layer_is_recurrent(il);

      Activations a = rms_norm(h, L.attn_norm, eps);
      const Activations y = lightning ? lightning_forward(a, L.lightning, batch, cache, il, c_, pool)
                                      : softmax_attention(a, L.softmax, batch, cache, il, pool);
      Activations& residual = c_.residual_from_norm ? a : h;
      deepnorm_combine(residual, lightning ? c_.residual_alpha_linear : c_.residual_alpha_full, y,
                       lightning ? c_.residual_beta_linear : c_.residual_beta_full);
      if (c_.residual_from_norm) h = std::move(a);

      Activations m = rms_norm(h, L.ffn_norm, eps);
      const Activations f = moe_ffn(m, L.moe, c_, pool, next_trace_slot());
      Activations& residual2 = c_.residual_from_norm ? m : h;
      deepnorm_combine(residual2, c_.residual_alpha_mlp, f, c_.residual_beta_mlp);
      if (c_.residual_from_norm) h = std::move(m);
    }
    return output_logits(h, batch, pool);
  }

 private:
  Activations softmax_attention(const Activations& a, const AttentionWeights& A, const Batch& batch, KVCache& cache,
                                int64_t il, ThreadPool& pool) {
    Activations q = linear(a, A.q, pool);
    Activations k = linear(a, A.k, pool);
    const Activations v = linear(a, A.v, pool);
    rope_.apply_rows(q, batch.positions);  // partial (rotary_dim), NeoX halves: from the config
    rope_.apply_rows(k, batch.positions);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim));
    return linear(cached_attention(q, k, v, batch, cache, il, c_, scale, pool), A.o, pool);
  }

  std::vector<MiniMax01Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> build_minimax01(OpenedModel opened) { return std::make_unique<MiniMax01>(std::move(opened)); }

}  // namespace dragon
