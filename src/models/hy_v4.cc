// Tencent Hy4 (HYV4ForCausalLM, llama.cpp arch hy_v4): DeepSeek-V3's decoder (MLA + DeepSeekMoE,
// as deepseek2.cc) whose residual is hc_mult parallel streams (models/hyper_connections.h):
//
//   S = [e, e, ..., e]                                 e = embed_tokens[token], hc copies
//   per layer:  x = hc_pre_attn(S) -> post             one weighted sum of the streams
//               S_i += post_i * GatedMLA(RMSNorm(x))   mla.h with a sink logit per head and
//                                                      sigmoid(x W_gate) on the output before o_proj
//               x = hc_pre_ffn(S) -> post
//               S_i += post_i * FFN(RMSNorm(x))        layer < first_k_dense_replace: SwiGLU;
//                                                      else sigmoid-routed experts (SwiGLU clamped
//                                                      at swiglu_limit) + the unclamped shared expert
//   logits = RMSNorm(hc_head(S)) Wout
// Not supported yet: DSA (indexer layers; refused at config), the MTP layers (not run), pipeline
// / expert parallelism (refused by model_registry: the streams are hc * hidden wide between
// stages). The Hunyuan layers use no YaRN, so the softmax scale is 1/sqrt(qk_nope + qk_rope).
#include "models/families.h"

#include "models/blocks.h"
#include "models/hyper_connections.h"
#include "models/mla.h"
#include "models/moe.h"
#include "util/error.h"

namespace dragon {

namespace {

using namespace blocks;

struct Hy4Layer {
  MlaWeights attn;
  HcWeights hc_attn, hc_ffn;
  std::vector<float> ffn_norm;
  bool is_moe = false;
  FfnWeights dense;  // first_k_dense_replace layers
  MoeWeights moe;    // the others
};

class Hy4 final : public DecoderModel, public RoutingTraceable {
 public:
  explicit Hy4(OpenedModel opened) : DecoderModel(std::move(opened)), mla_(c_) {
    if (c_.hc_mult < 1) fail("{}: hy_v4 needs hyper_connection.count >= 1", opened_.path);
    layers_.resize(static_cast<size_t>(c_.n_layers));
    for (int64_t il = 0; il < c_.n_layers; ++il) layers_[il] = load_layer(il);
    hc_head_ = load_hc(weights_, "output_hc_", c_, 1);
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    cache.begin_batch(batch);
    begin_trace();
    Activations streams = hc_expand(embed(batch), c_.hc_mult);
    for (int64_t il = 0; il < c_.n_layers; ++il) {
      Routing* trace = layers_[il].is_moe ? next_trace_slot() : nullptr;
      layer_forward(streams, layers_[il], batch, cache, il, pool, trace);
    }
    return output_logits(hc_pre(streams, hc_head_, c_, pool, nullptr), batch, pool);
  }

 private:
  Hy4Layer load_layer(int64_t il) const {
    const std::string p = "blk." + std::to_string(il) + ".";
    Hy4Layer L;
    L.attn = load_mla(weights_, c_, il);
    L.hc_attn = load_hc(weights_, p + "hc_attn_", c_, 2);
    L.hc_ffn = load_hc(weights_, p + "hc_ffn_", c_, 2);
    L.ffn_norm = weights_.f32(p + "ffn_norm.weight", c_.hidden_size);
    L.is_moe = c_.layer_is_moe(il);
    if (L.is_moe) {
      L.moe = load_moe(weights_, c_, il);
    } else {
      L.dense = load_swiglu_ffn(weights_, il, c_.intermediate_size, c_.hidden_size);
    }
    return L;
  }

  void layer_forward(Activations& streams, const Hy4Layer& L, const Batch& batch, KVCache& cache, int64_t il,
                     ThreadPool& pool, Routing* trace) const {
    const double eps = c_.norm_eps;
    Activations post;
    Activations x = hc_pre(streams, L.hc_attn, c_, pool, &post);
    hc_post(streams, mla_.forward(rms_norm(x, L.attn.norm, eps), L.attn, batch, cache, il, pool), post);

    x = hc_pre(streams, L.hc_ffn, c_, pool, &post);
    const Activations m = rms_norm(x, L.ffn_norm, eps);
    hc_post(streams, L.is_moe ? moe_ffn(m, L.moe, c_, pool, trace) : swiglu_ffn(m, L.dense, pool), post);
  }

  MlaAttention mla_;
  std::vector<Hy4Layer> layers_;
  HcWeights hc_head_;
};

}  // namespace

std::unique_ptr<Model> build_hy_v4(OpenedModel opened) { return std::make_unique<Hy4>(std::move(opened)); }

}  // namespace dragon
