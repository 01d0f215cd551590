// Hunyuan-A13B (HunYuanMoEV1ForCausalLM). Written from the release's modeling_hunyuan.py:
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)
//               q, k, v = a Wq, a Wk, a Wv                    no biases, heads of attention_head_dim
//               q, k = RoPE(q, pos), RoPE(k, pos)             whole head, NeoX halves; base
//                                                             theta * alpha^(d / (d - 2)) (NTK alpha,
//                                                             folded into rope_theta at load)
//               q, k = RMSNorm(q), RMSNorm(k)                 per head, AFTER the rope
//               h += softmax(q k^T / sqrt(head_dim)) v  Wo
//               m = RMSNorm(h)
//               h += MoE(m)      every layer: softmax router, top moe_topk renormalised, plus the
//                                shared MLP (use_mixed_mlp_moe)
//   logits = RMSNorm(h) Wout                                   (Wout = embed_tokens when tied)
#include <cmath>

#include "kernels/rmsnorm.h"
#include "models/blocks.h"
#include "models/families.h"
#include "models/moe.h"

namespace dragon {

namespace {

using namespace blocks;

struct HunyuanMoeLayer {
  AttentionWeights attn;  // with per-head query_layernorm / key_layernorm as q_norm / k_norm
  std::vector<float> ffn_norm;
  MoeWeights moe;         // routed experts + shared_mlp
};

class HunyuanMoe final : public DecoderModel, public RoutingTraceable {
 public:
  explicit HunyuanMoe(OpenedModel opened) : DecoderModel(std::move(opened)) {
    layers_.resize(static_cast<size_t>(c_.n_layers));  // only this pipeline stage's are loaded
    for (int64_t il = stage_.begin; il < stage_.end; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".";
      HunyuanMoeLayer L;
      L.attn = load_attention(weights_, c_, il, LayerOptions{.qk_norm = true});
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
      const HunyuanMoeLayer& L = layers_[il];

      const Activations a = rms_norm(h, L.attn.norm, eps);
      Activations q, k, v;
      linears(a, {{L.attn.q, q}, {L.attn.k, k}, {L.attn.v, v}}, pool);
      rope_.apply_rows(q, batch.positions);
      rope_.apply_rows(k, batch.positions);
      rms_norm_heads(q, L.attn.q_norm.data(), c_.head_dim, eps);  // after the rope, unlike Qwen3
      rms_norm_heads(k, L.attn.k_norm.data(), c_.head_dim, eps);
      const Activations attn = cached_attention(q, k, v, batch, cache, il, c_, scale, pool);
      add_in_place(h, linear(attn, L.attn.o, pool));

      const Activations m = rms_norm(h, L.ffn_norm, eps);
      add_in_place(h, moe_ffn(m, L.moe, c_, pool, next_trace_slot()));
    }
    return stage_output(h, batch, pool);
  }

 private:
  std::vector<HunyuanMoeLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> build_hunyuan_moe(OpenedModel opened) { return std::make_unique<HunyuanMoe>(std::move(opened)); }

}  // namespace dragon
