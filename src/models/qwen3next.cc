// Qwen3-Next (Qwen3-Next-80B-A3B): hybrid linear attention with a sparse MoE in every layer.
// Written from transformers' modeling_qwen3_next.py:
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)                    (zero-centred norms: the GGUF weights hold 1 + w)
//               linear-attention layers ((il + 1) % full_attention_interval != 0):
//                 h += GatedDeltaNet(a)           (models/gated_deltanet.h; recurrent state per sequence)
//               full-attention layers:
//                 h += GatedAttention(a)          (models/gated_attention.h; rotary_dim = head_dim / 4)
//               m = RMSNorm(h)
//               h += sum_{top-k} softmax-renormalised w_e expert_e(m) + sigmoid(m . w_sg) shared(m)
//   logits = RMSNorm(h) Wout
#include <cmath>

#include "kernels/rmsnorm.h"
#include "kernels/vector_ops.h"
#include "models/blocks.h"
#include "models/families.h"
#include "models/gated_attention.h"
#include "models/gated_deltanet.h"
#include "models/moe.h"
#include "util/error.h"

namespace dragon {

namespace {

using namespace blocks;

class Qwen3Next final : public DecoderModel, public RoutingTraceable {
 public:
  explicit Qwen3Next(OpenedModel opened) : DecoderModel(std::move(opened)) {
    if (!c_.is_hybrid()) fail("{}: qwen3next without linear-attention parameters", opened_.path);
    attention_.resize(c_.n_layers);
    deltanet_.resize(c_.n_layers);
    for (int64_t il = 0; il < c_.n_layers; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".";
      attn_norm_.push_back(weights_.f32(p + "attn_norm.weight", c_.hidden_size));
      post_norm_.push_back(weights_.f32(p + "post_attention_norm.weight", c_.hidden_size));
      if (c_.layer_is_recurrent(il)) {
        deltanet_[il] = load_deltanet(weights_, c_, il);
      } else {
        attention_[il] = load_gated_attention(weights_, c_, il);
      }
      moe_.push_back(load_moe(weights_, c_, il));
    }
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    if (!cache.is_recurrent()) fail("qwen3next: the KV cache has no recurrent state (built for another model?)");
    cache.begin_batch(batch);
    begin_trace();
    const float eps = static_cast<float>(c_.norm_eps);

    Activations h = embed(batch);
    for (int64_t il = 0; il < c_.n_layers; ++il) {
      const Activations a = rms_norm(h, attn_norm_[il], eps);
      if (c_.layer_is_recurrent(il))
        add_in_place(h, deltanet_forward(a, deltanet_[il], batch, cache, il, c_, pool));
      else
        add_in_place(h, gated_attention_forward(a, attention_[il], batch, cache, il, c_, rope_, pool));
      const Activations m = rms_norm(h, post_norm_[il], eps);
      add_in_place(h, moe_ffn(m, moe_[il], c_, pool, next_trace_slot()));
    }
    return output_logits(h, batch, pool);
  }

 private:
  std::vector<std::vector<float>> attn_norm_, post_norm_;
  std::vector<GatedAttentionWeights> attention_;  // empty entries for linear-attention layers
  std::vector<DeltaNetWeights> deltanet_;         // empty entries for full-attention layers
  std::vector<MoeWeights> moe_;
};

}  // namespace

std::unique_ptr<Model> build_qwen3next(OpenedModel opened) { return std::make_unique<Qwen3Next>(std::move(opened)); }

}  // namespace dragon
