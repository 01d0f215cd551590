// GLM-4.5 / GLM-4.5-Air / GLM-4.6 (Glm4MoeForCausalLM). Written from transformers'
// modeling_glm4_moe.py:
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)
//               q, k, v = a Wq + bq, a Wk + bk, a Wv + bv     biases when attention_bias (the releases)
//               q, k = RMSNorm(q), RMSNorm(k)                 per head, only with use_qk_norm (GLM-4.5/4.6)
//               q, k = RoPE(q, pos), RoPE(k, pos)             the first rotary_dim (partial_rotary_factor
//                                                             0.5) of each head, NeoX halves (i, i + rot/2)
//               h += softmax(q k^T / sqrt(head_dim)) v  Wo     (no o_proj bias)
//               m = RMSNorm(h)                                 post_attention_layernorm
//               layers < first_k_dense_replace:  h += (silu(m Wgate) * (m Wup)) Wdown
//               other layers:  h += MoE(m)     sigmoid router + e_score_correction_bias (choice only),
//                                              n_group / topk_group, top-k renormalised (norm_topk_prob)
//                                              times routed_scaling_factor, plus the shared expert
//   logits = RMSNorm(h) Wout
// The MTP block(s) after the main stack (blk.{n_layers}.*, num_nextn_predict_layers) stay in the
// file; the forward pass does not run them, the first one drafts for speculative decoding through
// MtpModel (models/mtp.h): the same layer body over its own cache.
#include <cmath>

#include "kernels/rmsnorm.h"
#include "models/blocks.h"
#include "models/families.h"
#include "models/moe.h"
#include "models/mtp.h"
#include "util/error.h"

namespace dragon {

namespace {

using namespace blocks;

struct Glm4MoeLayer {
  AttentionWeights attn;
  std::vector<float> ffn_norm;  // post_attention_layernorm (GGUF: post_attention_norm)
  bool is_moe = false;
  FfnWeights dense;             // first_k_dense_replace layers
  MoeWeights moe;
};

class Glm4Moe final : public DecoderModel, public RoutingTraceable, public MtpModel {
 public:
  explicit Glm4Moe(OpenedModel opened) : DecoderModel(std::move(opened)) {
    layers_.resize(static_cast<size_t>(c_.n_layers));  // only this pipeline stage's are loaded
    for (int64_t il = stage_.begin; il < stage_.end; ++il) layers_[il] = load_layer(il);
    if (c_.n_nextn_layers > 0 && weights_.find("blk." + std::to_string(c_.n_layers) + ".nextn.eh_proj.weight")) {
      mtp_layer_ = load_layer(c_.n_layers);
      mtp_head_ = load_mtp_head(weights_, weights_, c_, c_.n_layers);
      has_mtp_ = true;
    }
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

  // MtpModel: the first MTP layer, blk.{n_layers} (the file may carry more; one is enough to draft).
  int64_t n_mtp_layers() const override { return has_mtp_ ? 1 : 0; }
  void keep_hidden(bool on) override { keep_hidden_ = on; }
  const Activations& hidden() const override { return hidden_; }
  ModelConfig mtp_cache_config() const override { return blocks::mtp_cache_config(c_); }
  Activations mtp_forward(const Activations& hidden, const Batch& batch, KVCache& cache, ThreadPool& pool,
                          Activations* out_hidden) override {
    if (!has_mtp_) fail("{}: the model has no MTP layer", opened_.path);
    cache.begin_batch(batch);
    Activations h = mtp_input(mtp_head_, hidden, batch, c_.norm_eps, pool);
    layer_forward(h, mtp_layer_, batch, cache, 0, pool, nullptr);
    if (out_hidden) *out_hidden = h;
    return mtp_logits(mtp_head_, h, batch, c_.norm_eps, pool);
  }

 private:
  Glm4MoeLayer load_layer(int64_t il) const {
    const std::string p = "blk." + std::to_string(il) + ".";
    Glm4MoeLayer L;
    L.attn = load_attention(weights_, c_, il, layer_options(c_));
    L.ffn_norm = weights_.f32(p + "post_attention_norm.weight", c_.hidden_size);
    L.is_moe = c_.layer_is_moe(il);
    if (L.is_moe) {
      L.moe = load_moe(weights_, c_, il);
    } else {
      L.dense = load_swiglu_ffn(weights_, il, c_.intermediate_size, c_.hidden_size);
    }
    return L;
  }

  Routing* next_slot(int64_t il) { return layers_[il].is_moe ? next_trace_slot() : nullptr; }

  // One decoder layer on h in place; `cache_layer` is the layer's index in `cache`.
  void layer_forward(Activations& h, const Glm4MoeLayer& L, const Batch& batch, KVCache& cache, int64_t cache_layer,
                     ThreadPool& pool, Routing* trace) const {
    const float eps = static_cast<float>(c_.norm_eps);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim));
    const Activations a = rms_norm(h, L.attn.norm, eps);
    Activations q, k, v;
    linears(a, {{L.attn.q, q}, {L.attn.k, k}, {L.attn.v, v}}, pool);
    if (!L.attn.q_norm.empty()) {
      rms_norm_heads(q, L.attn.q_norm.data(), c_.head_dim, eps);
      rms_norm_heads(k, L.attn.k_norm.data(), c_.head_dim, eps);
    }
    rope_.apply_rows(q, batch.positions);  // partial, NeoX halves: from the config
    rope_.apply_rows(k, batch.positions);
    const Activations attn = cached_attention(q, k, v, batch, cache, cache_layer, c_, scale, pool);
    add_in_place(h, linear(attn, L.attn.o, pool));

    const Activations m = rms_norm(h, L.ffn_norm, eps);
    add_in_place(h, L.is_moe ? moe_ffn(m, L.moe, c_, pool, trace) : swiglu_ffn(m, L.dense, pool));
  }

  std::vector<Glm4MoeLayer> layers_;
  Glm4MoeLayer mtp_layer_;
  MtpHeadWeights mtp_head_;
  bool has_mtp_ = false;
  bool keep_hidden_ = false;
  Activations hidden_;
};

}  // namespace

std::unique_ptr<Model> build_glm4moe(OpenedModel opened) { return std::make_unique<Glm4Moe>(std::move(opened)); }

}  // namespace dragon
