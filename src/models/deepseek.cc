// DeepSeek-MoE (deepseek-moe-16b-base / -chat; llama.cpp arch "deepseek"): the llama attention,
// the first first_k_dense_replace layers with a dense SwiGLU MLP, every later layer a
// DeepSeekMoE block of fine-grained routed experts plus always-on shared experts. Written from
// the release's modeling_deepseek.py (DeepseekMoE, MoEGate):
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)
//               q, k, v = a Wq, a Wk, a Wv;  RoPE(q), RoPE(k)
//               h += softmax(q k^T / sqrt(head_dim)) v  Wo           (causal, over the KV cache)
//               m = RMSNorm(h)
//     dense:    h += (silu(m Wgate) * (m Wup)) Wdown
//     MoE:      p = softmax(m Wrouter);  E = the num_experts_per_tok experts of highest p
//               w_e = p_e (not renormalised: norm_topk_prob false), times routed_scaling_factor
//               h += sum_{e in E} w_e expert_e(m) + shared(m)   shared = SwiGLU of width
//                                                              moe_intermediate_size * n_shared
//   logits = RMSNorm(h) Wout
//
// As in llama.cc, q/k rows are in llama.cpp's permuted layout (the GGUF converter permuted them;
// an HF directory is permuted at load), so the rope pairs adjacent values.
//
// The class is the llama block with MoE FFN layers; ERNIE-4.5-MoE (ernie4_5_moe.cc) is the same
// block with its files' own rope layout.
#include <cmath>

#include "models/blocks.h"
#include "models/families.h"
#include "models/moe.h"

namespace dragon {

namespace {

using namespace blocks;

class LlamaMoeBlock final : public DecoderModel, public RoutingTraceable {
 public:
  LlamaMoeBlock(OpenedModel opened, bool converter_permuted_qk) : DecoderModel(std::move(opened)) {
    if (converter_permuted_qk) {
      ModelConfig rope_config = c_;
      rope_config.rope_interleaved = true;  // permuted q/k rows, see above
      rope_ = Rope(rope_config, rope_freq_divisors());
    }
    layers_.resize(static_cast<size_t>(c_.n_layers));  // only this pipeline stage's are loaded
    moe_.resize(static_cast<size_t>(c_.n_layers));
    for (int64_t il = stage_.begin; il < stage_.end; ++il) {
      if (c_.layer_is_moe(il)) {
        layers_[il] = {load_attention(weights_, c_, il, LayerOptions{}), {}};
        layers_[il].ffn.norm = weights_.f32("blk." + std::to_string(il) + ".ffn_norm.weight", c_.hidden_size);
        moe_[il] = load_moe(weights_, c_, il);
      } else {
        layers_[il] = load_layer(weights_, c_, il, LayerOptions{});
      }
    }
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    cache.begin_batch(batch);
    begin_trace();
    const float eps = static_cast<float>(c_.norm_eps);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim));

    Activations h = stage_input(batch);
    for (int64_t il = stage_.begin; il < stage_.end; ++il) {
      const LayerWeights& L = layers_[il];
      const Activations a = rms_norm(h, L.attn.norm, eps);
      Activations q, k, v;
      linears(a, {{L.attn.q, q}, {L.attn.k, k}, {L.attn.v, v}}, pool);
      rope_.apply_rows(q, batch.positions);
      rope_.apply_rows(k, batch.positions);
      const Activations attn = cached_attention(q, k, v, batch, cache, il, c_, scale, pool);
      add_in_place(h, linear(attn, L.attn.o, pool));

      const Activations m = rms_norm(h, L.ffn.norm, eps);
      if (c_.layer_is_moe(il)) add_in_place(h, moe_ffn(m, moe_[il], c_, pool, next_trace_slot()));
      else add_in_place(h, swiglu_ffn(m, L.ffn, pool));
    }
    return stage_output(h, batch, pool);
  }

 private:
  std::vector<LayerWeights> layers_;  // the ffn part holds only the norm in MoE layers
  std::vector<MoeWeights> moe_;       // empty in dense layers
};

}  // namespace

std::unique_ptr<Model> build_llama_moe_block(OpenedModel opened, bool converter_permuted_qk) {
  return std::make_unique<LlamaMoeBlock>(std::move(opened), converter_permuted_qk);
}

std::unique_ptr<Model> build_deepseek(OpenedModel opened) { return build_llama_moe_block(std::move(opened), true); }

}  // namespace dragon
