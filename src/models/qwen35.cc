// Qwen3.5 (arch qwen35: Qwen3.5-0.8B ... 27B) and Qwen3.5-MoE (arch qwen35moe: Qwen3.5-35B-A3B,
// -122B-A10B, -397B-A17B): the text model of the multimodal releases. Written from transformers'
// modeling_qwen3_5.py / modeling_qwen3_5_moe.py:
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)                    (zero-centred norms: the GGUF weights hold 1 + w)
//               linear-attention layers ((il + 1) % full_attention_interval != 0):
//                 h += GatedDeltaNet(a)           (models/gated_deltanet.h, Qwen3.5 layout: separate
//                                                  beta / alpha projections, v heads tiled in the GGUF)
//               full-attention layers:
//                 h += GatedAttention(a)          (models/gated_attention.h; interleaved M-RoPE, which
//                                                  for text — one position in every section — is NeoX
//                                                  rope on the first head_dim / 4 dims)
//               m = RMSNorm(h)
//               qwen35:    h += down(silu(gate(m)) * up(m))
//               qwen35moe: h += sum_{top-k} softmax-renormalised w_e expert_e(m) + sigmoid(m . w_sg) shared(m)
//   logits = RMSNorm(h) Wout
// The same as Qwen3-Next (qwen3next.cc) but for the DeltaNet projections' layout and the dense FFN.
#include "models/blocks.h"
#include "models/families.h"
#include "models/gated_attention.h"
#include "models/gated_deltanet.h"
#include "models/moe.h"
#include "util/error.h"

namespace dragon {

namespace {

using namespace blocks;

class Qwen35 final : public DecoderModel, public RoutingTraceable {
 public:
  explicit Qwen35(OpenedModel opened) : DecoderModel(std::move(opened)) {
    if (!c_.is_hybrid()) fail("{}: {} without linear-attention parameters", opened_.path, c_.arch);
    attention_.resize(c_.n_layers);
    deltanet_.resize(c_.n_layers);
    for (int64_t il = 0; il < c_.n_layers; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".";
      attn_norm_.push_back(weights_.f32(p + "attn_norm.weight", c_.hidden_size));
      post_norm_.push_back(weights_.f32(p + "post_attention_norm.weight", c_.hidden_size));
      if (c_.layer_is_recurrent(il))
        deltanet_[il] = load_deltanet(weights_, c_, il, DeltaNetLayout::Qwen35);
      else
        attention_[il] = load_gated_attention(weights_, c_, il);
      if (c_.is_moe()) {
        moe_.push_back(load_moe(weights_, c_, il));
      } else {
        FfnWeights f;
        f.gate = load_linear(weights_, p + "ffn_gate", c_.intermediate_size, c_.hidden_size, false);
        f.up = load_linear(weights_, p + "ffn_up", c_.intermediate_size, c_.hidden_size, false);
        f.down = load_linear(weights_, p + "ffn_down", c_.hidden_size, c_.intermediate_size, false);
        ffn_.push_back(std::move(f));
      }
    }
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    if (!cache.is_recurrent()) fail("{}: the KV cache has no recurrent state (built for another model?)", c_.arch);
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
      if (c_.is_moe())
        add_in_place(h, moe_ffn(m, moe_[il], c_, pool, next_trace_slot()));
      else
        add_in_place(h, swiglu_ffn(m, ffn_[il], pool));
    }
    return output_logits(h, batch, pool);
  }

 private:
  std::vector<std::vector<float>> attn_norm_, post_norm_;
  std::vector<GatedAttentionWeights> attention_;  // empty entries for linear-attention layers
  std::vector<DeltaNetWeights> deltanet_;         // empty entries for full-attention layers
  std::vector<MoeWeights> moe_;                   // qwen35moe
  std::vector<FfnWeights> ffn_;                   // qwen35
};

}  // namespace

std::unique_ptr<Model> build_qwen35(OpenedModel opened) { return std::make_unique<Qwen35>(std::move(opened)); }

}  // namespace dragon
