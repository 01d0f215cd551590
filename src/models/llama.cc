// Llama architecture (DeepSeek LLM 7B/67B, DeepSeek Coder, Yi, R1-Distill-Llama): the plain
// pre-norm block — optional biases (attention_bias puts one on q/k/v and o, mlp_bias on the MLP),
// SwiGLU MLP. Written from transformers' modeling_llama.py:
//
//   h = embed_tokens[token]
//   per layer:  a = RMSNorm(h)
//               q, k, v = a Wq, a Wk, a Wv
//               q, k = RoPE(q, pos), RoPE(k, pos)
//               h += softmax(q k^T / sqrt(head_dim)) v  Wo (causal, over the KV cache)
//               m = RMSNorm(h)
//               h += (silu(m Wgate) * (m Wup)) Wdown
//   logits = RMSNorm(h) Wout
//
// The weights are always in llama.cpp's layout here: a GGUF file's q/k rows were permuted by the
// converter, and an HF directory goes through the same permutation at load (ArchSpec plans). So
// the rope pairs adjacent values (2i, 2i+1) — which on permuted rows is HF's rotate_half rope.
//
// Qwen2 and ERNIE 4.5 dense are this same block (qwen2.cc, ernie4_5.cc show their math); they
// differ only in config: biases, and a rope style that their files state without a permutation.
#include <cmath>

#include "models/blocks.h"
#include "models/families.h"

namespace dragon {

namespace {

using namespace blocks;

class LlamaBlock final : public DecoderModel {
 public:
  LlamaBlock(OpenedModel opened, bool converter_permuted_qk) : DecoderModel(std::move(opened)) {
    if (converter_permuted_qk) {
      ModelConfig rope_config = c_;
      rope_config.rope_interleaved = true;  // permuted q/k rows, see above
      rope_ = Rope(rope_config, rope_freq_divisors());
    }
    layers_.resize(static_cast<size_t>(c_.n_layers));  // only this pipeline stage's are loaded
    for (int64_t il = stage_.begin; il < stage_.end; ++il) layers_[il] = load_layer(weights_, c_, il, layer_options(c_));
  }

  Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) override {
    cache.begin_batch(batch);
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
      add_in_place(h, swiglu_ffn(m, L.ffn, pool));
    }
    return stage_output(h, batch, pool);
  }

 private:
  std::vector<LayerWeights> layers_;
};

}  // namespace

std::unique_ptr<Model> build_llama_block(OpenedModel opened, bool converter_permuted_qk) {
  return std::make_unique<LlamaBlock>(std::move(opened), converter_permuted_qk);
}

std::unique_ptr<Model> build_llama(OpenedModel opened) { return build_llama_block(std::move(opened), true); }

}  // namespace dragon
