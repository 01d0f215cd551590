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
// The MTP ("nextn") layer V3 appends (blk.{n_layers}) is not part of the forward pass; it drafts
// for speculative decoding through MtpModel (models/mtp.h): the same layer body over its own cache.
#include "models/families.h"

#include "models/blocks.h"
#include "models/mla.h"
#include "models/moe.h"
#include "models/mtp.h"
#include "util/error.h"

namespace dragon {

namespace {

using namespace blocks;

struct DeepSeek2Layer {
  MlaWeights attn;
  FfnWeights dense;  // first_k_dense_replace layers
  MoeWeights moe;    // the others
  bool is_moe = false;
};

class DeepSeek2 final : public DecoderModel, public RoutingTraceable, public MtpModel {
 public:
  explicit DeepSeek2(OpenedModel opened) : DecoderModel(std::move(opened)), mla_(c_) {
    layers_.resize(static_cast<size_t>(c_.n_layers));  // only this pipeline stage's are loaded
    for (int64_t il = stage_.begin; il < stage_.end; ++il) layers_[il] = load_layer(weights_, il);
    // V3's MTP layer, when the file has it (a GGUF from llama.cpp's converter does not). Loaded on
    // first use: an FP8 checkpoint's layer is converted at load, which only speculation should pay.
    const std::string n = std::to_string(c_.n_layers);
    has_mtp_ = c_.n_nextn_layers > 0 && (weights_.find("blk." + n + ".nextn.eh_proj.weight") ||
                                         opened_.find_tensor("model.layers." + n + ".eh_proj.weight"));
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    cache.begin_batch(batch);
    begin_trace();
    Activations h = stage_input(batch);
    for (int64_t il = stage_.begin; il < stage_.end; ++il)
      layer_forward(h, layers_[il], batch, cache, il, pool, next_slot(il));
    if (keep_hidden_) hidden_ = h;
    return stage_output(h, batch, pool);
  }

  // MtpModel
  int64_t n_mtp_layers() const override { return has_mtp_ ? 1 : 0; }
  void keep_hidden(bool on) override {
    keep_hidden_ = on;
    if (on && has_mtp_) load_mtp();
  }
  const Activations& hidden() const override { return hidden_; }
  ModelConfig mtp_cache_config() const override { return blocks::mtp_cache_config(c_); }
  Activations mtp_forward(const Activations& hidden, const Batch& batch, KVCache& cache, ThreadPool& pool,
                          Activations* out_hidden) override {
    if (!has_mtp_) fail("{}: the model has no MTP layer", opened_.path);
    load_mtp();
    cache.begin_batch(batch);
    Activations h = mtp_input(mtp_head_, hidden, batch, c_.norm_eps, pool);
    layer_forward(h, mtp_layer_, batch, cache, 0, pool, nullptr);
    if (out_hidden) *out_hidden = h;
    return mtp_logits(mtp_head_, h, batch, c_.norm_eps, pool);
  }

 private:
  DeepSeek2Layer load_layer(const Weights& w, int64_t il) const {
    const std::string p = "blk." + std::to_string(il) + ".";
    DeepSeek2Layer L;
    L.attn = load_mla(w, c_, il);
    L.is_moe = c_.layer_is_moe(il);
    if (L.is_moe) {
      L.moe = load_moe(w, c_, il);
    } else {
      L.dense = load_swiglu_ffn(w, il, c_.intermediate_size, c_.hidden_size);
    }
    L.dense.norm = w.f32(p + "ffn_norm.weight", c_.hidden_size);
    return L;
  }

  void load_mtp() {
    if (mtp_loaded_) return;
    mtp_weights_ = load_hf_mtp_weights(opened_, weights_);
    const Weights& w = mtp_weights_ ? *mtp_weights_ : weights_;
    mtp_layer_ = load_layer(w, c_.n_layers);
    mtp_head_ = load_mtp_head(w, weights_, c_, c_.n_layers);
    mtp_loaded_ = true;
  }

  Routing* next_slot(int64_t il) { return layers_[il].is_moe ? next_trace_slot() : nullptr; }

  // One decoder layer on h in place; `cache_layer` is the layer's index in `cache`.
  void layer_forward(Activations& h, const DeepSeek2Layer& L, const Batch& batch, KVCache& cache, int64_t cache_layer,
                     ThreadPool& pool, Routing* trace) const {
    const double eps = c_.norm_eps;
    add_in_place(h, mla_.forward(rms_norm(h, L.attn.norm, eps), L.attn, batch, cache, cache_layer, pool));
    const Activations m = rms_norm(h, L.dense.norm, eps);
    add_in_place(h, L.is_moe ? moe_ffn(m, L.moe, c_, pool, trace) : swiglu_ffn(m, L.dense, pool));
  }

  MlaAttention mla_;
  std::vector<DeepSeek2Layer> layers_;
  std::unique_ptr<Weights> mtp_weights_;  // an HF directory's MTP tensors (not in the main plan)
  DeepSeek2Layer mtp_layer_;
  MtpHeadWeights mtp_head_;
  bool has_mtp_ = false, mtp_loaded_ = false;
  bool keep_hidden_ = false;
  Activations hidden_;
};

}  // namespace

std::unique_ptr<Model> build_deepseek2(OpenedModel opened) {
  return std::make_unique<DeepSeek2>(std::move(opened));
}

}  // namespace dragon
