// Kimi Linear (Kimi-Linear-48B-A3B, llama.cpp arch "kimi-linear"): a pre-norm decoder whose token
// mixer is Kimi Delta Attention in most layers and MLA without rope in the layers the config
// names, with DeepSeek-V3's MoE. Written from moonshotai's modeling_kimi.py (KimiDecoderLayer):
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)
//               KDA layers (config.layer_is_recurrent):  h += KDA(a)        models/kda.h; a
//                   recurrent state per sequence (conv inputs + per-head d x d matrices)
//               MLA layers:  h += MLA(a)   models/mla.h with config.mla_nope: the qk_rope part of
//                   q and the shared k_pe are used as they are (no position encoding at all: the
//                   KDA layers carry the order); latent-only KV cache
//               m = RMSNorm(h)
//               h += layer < first_k_dense_replace ? (silu(m Wgate) * (m Wup)) Wdown
//                                                  : sum_k w_k expert_k(m) + shared(m)
//   logits = RMSNorm(h) Wout
//
// Routing (models/moe.h, all ModelConfig): sigmoid scores; the top-k chosen by score +
// e_score_correction_bias, weighted by the scores alone, renormalised, times routed_scaling_factor
// — as llama.cpp and DeepSeek-V3. (modeling_kimi.py adds the bias to `scores` IN PLACE through a
// view, so its weights include the bias; tests/reference/families/kimi_linear.py explains.)
#include <memory>

#include "models/blocks.h"
#include "models/families.h"
#include "models/kda.h"
#include "models/mla.h"
#include "models/moe.h"
#include "util/error.h"

namespace dragon {

namespace {

using namespace blocks;

struct KimiLinearLayer {
  std::vector<float> attn_norm;
  KdaWeights kda;   // KDA layers
  MlaWeights mla;   // MLA layers (its norm is attn_norm)
  FfnWeights dense; // first_k_dense_replace layers; dense.norm is ffn_norm in every layer
  MoeWeights moe;   // the others
  bool is_moe = false;
};

class KimiLinear final : public DecoderModel, public RoutingTraceable {
 public:
  explicit KimiLinear(OpenedModel opened) : DecoderModel(std::move(opened)), mla_(c_) {
    if (!c_.is_hybrid() || !c_.linear_kda || !c_.is_mla())
      fail("{}: kimi-linear without its KDA / MLA parameters", opened_.path);
    for (int64_t il = 0; il < c_.n_layers; ++il) layers_.push_back(load_layer(il));
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    if (!cache.is_recurrent() || !cache.is_latent())
      fail("kimi-linear: the KV cache has no recurrent state / latent rows (built for another model?)");
    cache.begin_batch(batch);
    begin_trace();
    const double eps = c_.norm_eps;
    Activations h = embed(batch);
    for (int64_t il = 0; il < c_.n_layers; ++il) {
      const KimiLinearLayer& L = layers_[il];
      if (c_.layer_is_recurrent(il))
        add_in_place(h, kda_forward(rms_norm(h, L.attn_norm, eps), L.kda, batch, cache, il, c_, pool));
      else
        add_in_place(h, mla_.forward(rms_norm(h, L.attn_norm, eps), L.mla, batch, cache, il, pool));
      const Activations m = rms_norm(h, L.dense.norm, eps);
      add_in_place(h, L.is_moe ? moe_ffn(m, L.moe, c_, pool, next_trace_slot()) : swiglu_ffn(m, L.dense, pool));
    }
    return output_logits(h, batch, pool);
  }

 private:
  KimiLinearLayer load_layer(int64_t il) const {
    const std::string p = "blk." + std::to_string(il) + ".";
    KimiLinearLayer L;
    L.attn_norm = weights_.f32(p + "attn_norm.weight", c_.hidden_size);
    if (c_.layer_is_recurrent(il))
      L.kda = load_kda(weights_, c_, il);
    else
      L.mla = load_mla(weights_, c_, il);
    L.is_moe = c_.layer_is_moe(il);
    if (L.is_moe) {
      L.moe = load_moe(weights_, c_, il);
    } else {
      L.dense = load_swiglu_ffn(weights_, il, c_.intermediate_size, c_.hidden_size);
    }
    L.dense.norm = weights_.f32(p + "ffn_norm.weight", c_.hidden_size);
    return L;
  }

  MlaAttention mla_;
  std::vector<KimiLinearLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> build_kimi_linear(OpenedModel opened) { return std::make_unique<KimiLinear>(std::move(opened)); }

}  // namespace dragon
