// Tencent Hy3 (HYV3ForCausalLM). Written from transformers' modeling_hy_v3.py:
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)                                   input_layernorm
//               q, k, v = a Wq, a Wk, a Wv                       no biases, GQA
//               q, k = RMSNorm(q), RMSNorm(k)                    per head, BEFORE the rope
//               q, k = RoPE(q, pos), RoPE(k, pos)                whole head, NeoX halves
//               h += softmax(q k^T / sqrt(head_dim)) v  Wo
//               m = RMSNorm(h)                                   post_attention_layernorm (GGUF ffn_norm)
//               layers < first_k_dense_replace:  h += (silu(m Wgate) * (m Wup)) Wdown
//               other layers:  h += MoE(m) + shared(m)   sigmoid router in F32, expert_bias steers
//                                                        the choice only, top-k renormalised
//                                                        (route_norm) times router_scaling_factor;
//                                                        the shared SwiGLU expert has no gate
//   logits = RMSNorm(h) Wout
// The MTP block after the trunk (blk.{n_layers}.*, num_nextn_predict_layers) stays in the file and
// is not run, as in llama.cpp's main graph. (It is not wired to --speculative mtp: its hnorm reads
// the trunk's hidden state AFTER the final norm and it ends in its own final_layernorm, unlike the
// DeepSeek-V3 / GLM-4.5 head that models/mtp.h implements.)
#include <cmath>

#include "kernels/rmsnorm.h"
#include "models/blocks.h"
#include "models/families.h"
#include "models/moe.h"

namespace dragon {

namespace {

using namespace blocks;

struct Hy3Layer {
  AttentionWeights attn;
  std::vector<float> ffn_norm;  // post_attention_layernorm
  bool is_moe = false;
  FfnWeights dense;             // first_k_dense_replace layers
  MoeWeights moe;
};

class Hy3 final : public DecoderModel, public RoutingTraceable {
 public:
  explicit Hy3(OpenedModel opened) : DecoderModel(std::move(opened)) {
    layers_.resize(static_cast<size_t>(c_.n_layers));  // only this pipeline stage's are loaded
    for (int64_t il = stage_.begin; il < stage_.end; ++il) layers_[il] = load_layer(il);
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    cache.begin_batch(batch);
    begin_trace();
    Activations h = stage_input(batch);
    for (int64_t il = stage_.begin; il < stage_.end; ++il) {
      Routing* trace = layers_[il].is_moe ? next_trace_slot() : nullptr;
      layer_forward(h, layers_[il], batch, cache, il, pool, trace);
    }
    return stage_output(h, batch, pool);
  }

 private:
  Hy3Layer load_layer(int64_t il) const {
    const std::string p = "blk." + std::to_string(il) + ".";
    Hy3Layer L;
    L.attn = load_attention(weights_, c_, il, layer_options(c_));
    L.ffn_norm = weights_.f32(p + "ffn_norm.weight", c_.hidden_size);
    L.is_moe = c_.layer_is_moe(il);
    if (L.is_moe) {
      L.moe = load_moe(weights_, c_, il);
    } else {
      L.dense = load_swiglu_ffn(weights_, il, c_.intermediate_size, c_.hidden_size);
    }
    return L;
  }

  void layer_forward(Activations& h, const Hy3Layer& L, const Batch& batch, KVCache& cache, int64_t il,
                     ThreadPool& pool, Routing* trace) const {
    const float eps = static_cast<float>(c_.norm_eps);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim));
    const Activations a = rms_norm(h, L.attn.norm, eps);
    Activations q = linear(a, L.attn.q, pool);
    Activations k = linear(a, L.attn.k, pool);
    const Activations v = linear(a, L.attn.v, pool);
    rms_norm_heads(q, L.attn.q_norm.data(), c_.head_dim, eps);
    rms_norm_heads(k, L.attn.k_norm.data(), c_.head_dim, eps);
    rope_.apply_rows(q, batch.positions);  // NeoX halves over the whole head: from the config
    rope_.apply_rows(k, batch.positions);
    const Activations attn = cached_attention(q, k, v, batch, cache, il, c_, scale, pool);
    add_in_place(h, linear(attn, L.attn.o, pool));

    const Activations m = rms_norm(h, L.ffn_norm, eps);
    add_in_place(h, L.is_moe ? moe_ffn(m, L.moe, c_, pool, trace) : swiglu_ffn(m, L.dense, pool));
  }

  std::vector<Hy3Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> build_hy_v3(OpenedModel opened) { return std::make_unique<Hy3>(std::move(opened)); }

}  // namespace dragon
