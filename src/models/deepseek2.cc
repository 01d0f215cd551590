// DeepSeek-V2 / V2-Lite / V3 / R1 and Kimi K2 (llama.cpp arch "deepseek2"): a pre-norm decoder
// whose attention is multi-head latent attention (models/mla.h) and whose FFN is DeepSeekMoE
// (models/moe.h) after first_k_dense_replace dense SwiGLU layers. Written from the releases'
// modeling_deepseek.py (DeepseekV2DecoderLayer / DeepseekV3DecoderLayer):
//
//   h = embed_tokens[token]
//   per layer:  h += MLA(RMSNorm(h))                          see mla.h (latent-only KV cache)
//               m = RMSNorm(h)
//               h += layer < first_k_dense_replace ? (silu(m Wgate) * (m Wup)) Wdown
//                                                  : sum_k w_k expert_k(m) + shared(m)
//   logits = RMSNorm(h) Wout
//
// Routing (softmax + group-limited greedy on V2; sigmoid + e_score_correction_bias, noaux_tc
// groups, norm_topk_prob and routed_scaling_factor on V3 / K2) is all ModelConfig, read by moe.h.
// The MTP ("nextn") layers V3 appends are not run: the forward pass stops at n_layers.
#include "models/families.h"

#include "models/blocks.h"
#include "models/mla.h"
#include "models/moe.h"

namespace dragon {

namespace {

using namespace blocks;

struct DeepSeek2Layer {
  MlaWeights attn;
  FfnWeights dense;  // first_k_dense_replace layers
  MoeWeights moe;    // the others
  bool is_moe = false;
};

class DeepSeek2 final : public DecoderModel, public RoutingTraceable {
 public:
  explicit DeepSeek2(OpenedModel opened) : DecoderModel(std::move(opened)), mla_(c_) {
    for (int64_t il = 0; il < c_.n_layers; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".";
      DeepSeek2Layer L;
      L.attn = load_mla(weights_, c_, il);
      L.is_moe = c_.layer_is_moe(il);
      if (L.is_moe) {
        L.moe = load_moe(weights_, c_, il);
      } else {
        const int64_t ff = c_.intermediate_size;
        L.dense.gate = load_linear(weights_, p + "ffn_gate", ff, c_.hidden_size, false);
        L.dense.up = load_linear(weights_, p + "ffn_up", ff, c_.hidden_size, false);
        L.dense.down = load_linear(weights_, p + "ffn_down", c_.hidden_size, ff, false);
      }
      L.dense.norm = weights_.f32(p + "ffn_norm.weight", c_.hidden_size);
      layers_.push_back(std::move(L));
    }
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    cache.begin_batch(batch);
    begin_trace();
    const double eps = c_.norm_eps;
    Activations h = embed(batch);
    for (int64_t il = 0; il < c_.n_layers; ++il) {
      const DeepSeek2Layer& L = layers_[il];
      add_in_place(h, mla_.forward(rms_norm(h, L.attn.norm, eps), L.attn, batch, cache, il, pool));

      const Activations m = rms_norm(h, L.dense.norm, eps);
      add_in_place(h, L.is_moe ? moe_ffn(m, L.moe, c_, pool, next_trace_slot()) : swiglu_ffn(m, L.dense, pool));
    }
    return output_logits(h, batch, pool);
  }

 private:
  MlaAttention mla_;
  std::vector<DeepSeek2Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> build_deepseek2(OpenedModel opened) {
  return std::make_unique<DeepSeek2>(std::move(opened));
}

}  // namespace dragon
