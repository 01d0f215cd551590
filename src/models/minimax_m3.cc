// MiniMax-M3 (MiniMaxM3SparseForCausalLM, the text model). Written from llama.cpp's
// src/models/minimax-m3.cpp and its converter (the official modeling code is not in reach here);
// every norm weight is the release's w + 1 (the Gemma-style 1 + w, added by the converter):
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)
//               q, k, v = a Wq, a Wk, a Wv                    no biases, GQA
//               q, k = RMSNorm(q), RMSNorm(k)                 per head (unlike M2's whole-row norms)
//               q, k = RoPE(q, pos), RoPE(k, pos)             first rotary_dim dims, NeoX halves
//               layers < first_k_dense_replace:  h += softmax(q k^T / sqrt(head_dim)) v  Wo
//               other layers:                    h += MSA(a, q, k, v) Wo   (models/msa.h: each kv
//                                                head's group attends to the blocks its indexer picks)
//               m = RMSNorm(h)
//               layers < first_k_dense_replace:  h += swiglu_oai(m Wgate, m Wup) Wdown
//               other layers:  h += MoE(m) + shared(m)   sigmoid router + e_score_correction_bias
//                                                        (choice only), top-k renormalised times
//                                                        routed_scaling_factor; experts and shared
//                                                        expert with swiglu_oai
//   logits = RMSNorm(h) Wout
#include <cmath>

#include "kernels/rmsnorm.h"
#include "models/blocks.h"
#include "models/families.h"
#include "models/moe.h"
#include "models/msa.h"

namespace dragon {

namespace {

using namespace blocks;

struct MiniMaxM3Layer {
  AttentionWeights attn;        // with per-head q_norm / k_norm
  std::vector<float> ffn_norm;
  bool sparse = false;          // MoE FFN and MSA attention (the layers after the dense prefix)
  FfnWeights dense;
  MoeWeights moe;
  MsaIndexerWeights indexer;
};

class MiniMaxM3 final : public DecoderModel, public RoutingTraceable {
 public:
  explicit MiniMaxM3(OpenedModel opened) : DecoderModel(std::move(opened)), msa_(c_) {
    layers_.resize(static_cast<size_t>(c_.n_layers));  // only this pipeline stage's are loaded
    for (int64_t il = stage_.begin; il < stage_.end; ++il) layers_[il] = load_layer(il);
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    cache.begin_batch(batch);
    begin_trace();
    Activations h = stage_input(batch);
    for (int64_t il = stage_.begin; il < stage_.end; ++il) {
      Routing* trace = layers_[il].sparse ? next_trace_slot() : nullptr;
      layer_forward(h, layers_[il], batch, cache, il, pool, trace);
    }
    return stage_output(h, batch, pool);
  }

 private:
  MiniMaxM3Layer load_layer(int64_t il) const {
    MiniMaxM3Layer L;
    L.attn = load_attention(weights_, c_, il, layer_options(c_));
    L.ffn_norm = weights_.f32("blk." + std::to_string(il) + ".ffn_norm.weight", c_.hidden_size);
    L.sparse = c_.layer_is_moe(il);
    if (L.sparse) {
      L.moe = load_moe(weights_, c_, il);
      L.indexer = load_msa_indexer(weights_, c_, il);
    } else {
      L.dense = load_swiglu_ffn(weights_, il, c_.intermediate_size, c_.hidden_size);
    }
    return L;
  }

  void layer_forward(Activations& h, const MiniMaxM3Layer& L, const Batch& batch, KVCache& cache, int64_t il,
                     ThreadPool& pool, Routing* trace) const {
    const float eps = static_cast<float>(c_.norm_eps);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim));
    const Activations a = rms_norm(h, L.attn.norm, eps);
    Activations q = linear(a, L.attn.q, pool);
    Activations k = linear(a, L.attn.k, pool);
    const Activations v = linear(a, L.attn.v, pool);
    rms_norm_heads(q, L.attn.q_norm.data(), c_.head_dim, eps);
    rms_norm_heads(k, L.attn.k_norm.data(), c_.head_dim, eps);
    rope_.apply_rows(q, batch.positions);  // partial, NeoX halves: from the config
    rope_.apply_rows(k, batch.positions);
    const Activations attn = L.sparse ? msa_.forward(a, q, k, v, L.indexer, batch, cache, il, scale, pool)
                                      : cached_attention(q, k, v, batch, cache, il, c_, scale, pool);
    add_in_place(h, linear(attn, L.attn.o, pool));

    const Activations m = rms_norm(h, L.ffn_norm, eps);
    add_in_place(h, L.sparse ? moe_ffn(m, L.moe, c_, pool, trace) : glu_ffn(m, L.dense, act_, pool));
  }

  MsaAttention msa_;
  const GluActivation act_ = GluActivation::of(c_);  // swigluoai
  std::vector<MiniMaxM3Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> build_minimax_m3(OpenedModel opened) { return std::make_unique<MiniMaxM3>(std::move(opened)); }

}  // namespace dragon
