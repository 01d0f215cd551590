// Kimi-K3 (llama.cpp arch "kimi-k3"): Kimi Linear's hybrid (models/kimi_linear.cc: KDA in most
// layers, MLA without rope in the config's full_attn_layers) with K3's additions, written from
// the released modeling code's KimiDecoderLayer (as NVIDIA NeMo AutoModel's kimi_k3 reproduces it)
// and checked against llama.cpp's kimi-k3.cpp:
//
//   h = embed_tokens[token];  bank = []                               models/attn_residual.h
//   per layer il:
//     a_in = mix(h, bank, attn_res_score)                              (h itself while bank is empty)
//     if il % attn_res_block_size == 0:  bank += [h];  r = 0  else  r = h
//     r += KDA(RMSNorm(a_in)) or MLA(RMSNorm(a_in))                   the block restarts its stream
//          KDA: full-rank sigmoid output gate, bounded decay lb * sigmoid(exp(A_log)(f + dt_bias))
//          MLA: q_a / q_b, output *= sigmoid(x Wg) before o_proj      models/kda.h, models/mla.h
//     m = RMSNorm(mix(r, bank, ffn_res_score))
//     h = r + (layer < first_k_dense_replace ? down(situ(m Wgate, m Wup))
//                                            : latent_moe(m))
//   logits = RMSNorm(mix(h, bank, output_res_score)) Wout
//
//   latent_moe(m) = up(RMSNorm(sum_k w_k expert_k(down(m)))) + shared(m)
//     the router scores the full-width m (sigmoid, e_score_correction_bias for the choice,
//     renormalised, times routed_scaling_factor: models/moe.h); the experts and the shared
//     expert use SiTU (blocks::GluActivation).
#include <memory>

#include "models/attn_residual.h"
#include "models/blocks.h"
#include "models/families.h"
#include "models/kda.h"
#include "models/mla.h"
#include "models/moe.h"
#include "util/error.h"

namespace dragon {

namespace {

using namespace blocks;

struct KimiK3Layer {
  std::vector<float> attn_norm, attn_res_score, ffn_res_score;
  KdaWeights kda;   // KDA layers
  MlaWeights mla;   // MLA layers (its norm is attn_norm)
  FfnWeights dense; // first_k_dense_replace layers; dense.norm is ffn_norm in every layer
  MoeWeights moe;   // the others
  Linear routed_down, routed_up;   // latent MoE projections (absent: experts at hidden width)
  std::vector<float> routed_norm;
  bool is_moe = false;
};

class KimiK3 final : public DecoderModel, public RoutingTraceable {
 public:
  explicit KimiK3(OpenedModel opened) : DecoderModel(std::move(opened)), mla_(c_), act_(GluActivation::of(c_)) {
    if (!c_.is_hybrid() || !c_.linear_kda || !c_.is_mla() || !c_.kda_full_rank_gate)
      fail("{}: kimi-k3 without its KDA / MLA parameters", opened_.path);
    if (c_.situ_beta <= 0) fail("{}: kimi-k3 without its SiTU activation parameters", opened_.path);
    if (c_.attn_res_block_size > 0)
      output_res_score_ = weights_.f32("output_res_score.weight", c_.hidden_size);
    for (int64_t il = 0; il < c_.n_layers; ++il) layers_.push_back(load_layer(il));
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    if (!cache.is_recurrent() || !cache.is_latent())
      fail("kimi-k3: the KV cache has no recurrent state / latent rows (built for another model?)");
    cache.begin_batch(batch);
    begin_trace();
    const double eps = c_.norm_eps;
    const int64_t block = c_.attn_res_block_size;
    std::vector<Activations> bank;  // the banked block inputs (empty without attention residuals)
    Activations h = embed(batch);
    for (int64_t il = 0; il < c_.n_layers; ++il) {
      const KimiK3Layer& L = layers_[il];
      const Activations a_in = block > 0 ? attn_residual_mix(h, bank, L.attn_res_score, eps) : h;
      const bool banked = block > 0 && il % block == 0;
      if (banked) bank.push_back(h);
      const Activations a = rms_norm(a_in, L.attn_norm, eps);
      Activations mixed = c_.layer_is_recurrent(il) ? kda_forward(a, L.kda, batch, cache, il, c_, pool)
                                                    : mla_.forward(a, L.mla, batch, cache, il, pool);
      Activations r = banked ? std::move(mixed) : std::move(h);
      if (!banked) add_in_place(r, mixed);
      const Activations m =
          rms_norm(block > 0 ? attn_residual_mix(r, bank, L.ffn_res_score, eps) : r, L.dense.norm, eps);
      add_in_place(r, L.is_moe ? latent_moe(m, L, pool) : glu_ffn(m, L.dense, act_, pool));
      h = std::move(r);
    }
    if (block > 0) h = attn_residual_mix(h, bank, output_res_score_, eps);
    return output_logits(h, batch, pool);
  }

 private:
  Activations latent_moe(const Activations& m, const KimiK3Layer& L, ThreadPool& pool) {
    Routing r = route_tokens(m, L.moe, c_, pool);
    Activations y;
    if (L.routed_down.weight) {
      y = routed_experts_ffn(linear(m, L.routed_down, pool), r, L.moe, c_, pool);
      y = linear(rms_norm(y, L.routed_norm, c_.norm_eps), L.routed_up, pool);
    } else {
      y = routed_experts_ffn(m, r, L.moe, c_, pool);
    }
    if (L.moe.shared.gate.weight) add_in_place(y, glu_ffn(m, L.moe.shared, act_, pool));
    if (Routing* slot = next_trace_slot()) *slot = std::move(r);
    return y;
  }

  KimiK3Layer load_layer(int64_t il) const {
    const std::string p = "blk." + std::to_string(il) + ".";
    const int64_t hidden = c_.hidden_size;
    KimiK3Layer L;
    L.attn_norm = weights_.f32(p + "attn_norm.weight", hidden);
    if (c_.attn_res_block_size > 0) {
      L.attn_res_score = weights_.f32(p + "attn_res_score.weight", hidden);
      L.ffn_res_score = weights_.f32(p + "ffn_res_score.weight", hidden);
    }
    if (c_.layer_is_recurrent(il))
      L.kda = load_kda(weights_, c_, il);
    else
      L.mla = load_mla(weights_, c_, il);
    L.is_moe = c_.layer_is_moe(il);
    if (L.is_moe) {
      L.moe = load_moe(weights_, c_, il);
      if (L.moe.ep) fail("kimi-k3: expert parallelism (--ep) is not supported yet");
      if (const int64_t lat = c_.expert_latent_size; lat > 0) {
        L.routed_down = load_linear(weights_, p + "ffn_routed_down", lat, hidden, false);
        L.routed_up = load_linear(weights_, p + "ffn_routed_up", hidden, lat, false);
        L.routed_norm = weights_.f32(p + "ffn_routed_norm.weight", lat);
      }
    } else {
      L.dense = load_swiglu_ffn(weights_, il, c_.intermediate_size, hidden);
    }
    L.dense.norm = weights_.f32(p + "ffn_norm.weight", hidden);
    return L;
  }

  MlaAttention mla_;
  GluActivation act_;
  std::vector<float> output_res_score_;
  std::vector<KimiK3Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> build_kimi_k3(OpenedModel opened) { return std::make_unique<KimiK3>(std::move(opened)); }

}  // namespace dragon
