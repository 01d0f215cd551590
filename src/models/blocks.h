// Building blocks shared by the model families: weights of a llama-style layer loaded under
// their canonical names, and the steps of a forward pass (linear, attention over the KV cache,
// SwiGLU). A family file (qwen3.cc, qwen2.cc, llama.cc) composes them so that its forward pass
// reads like the model's math; the loops live in src/kernels.
#pragma once

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/activations.h"
#include "kernels/rope.h"
#include "kernels/thread_pool.h"
#include "runtime/model.h"
#include "runtime/weights.h"

namespace dragon::blocks {

// A projection: weight [out, in] (any stored type) and an optional f32 bias.
struct Linear {
  const TensorView* weight = nullptr;
  std::vector<float> bias;  // empty = none
};

struct AttentionWeights {
  std::vector<float> norm;          // attn_norm (input_layernorm)
  Linear q, k, v, o;
  std::vector<float> q_norm, k_norm;  // per-head QK-norm, empty if the family has none
};

struct FfnWeights {
  std::vector<float> norm;          // ffn_norm (post_attention_layernorm)
  Linear gate, up, down;
};

struct LayerWeights {
  AttentionWeights attn;
  FfnWeights ffn;
};

// Which optional tensors a family's layers have.
struct LayerOptions {
  bool qkv_bias = false;
  bool o_bias = false;
  bool qk_norm = false;
  bool mlp_bias = false;
};
// The options a config's flags imply (attention_bias, attention_out_bias, qk_norm, mlp_bias).
LayerOptions layer_options(const ModelConfig& c);

Linear load_linear(const Weights& w, const std::string& name, int64_t out, int64_t in, bool bias);
// A SwiGLU FFN's blk.N.ffn_gate / ffn_up ([ff, hidden]) and ffn_down ([hidden, ff]), no biases;
// the norm is left to the caller (families name it differently).
FfnWeights load_swiglu_ffn(const Weights& w, int64_t il, int64_t ff, int64_t hidden);
LayerWeights load_layer(const Weights& w, const ModelConfig& c, int64_t il, const LayerOptions& options);
// The attention half of a layer (attn_norm, q/k/v/o, optional biases and QK-norm).
AttentionWeights load_attention(const Weights& w, const ModelConfig& c, int64_t il, const LayerOptions& options);

// y = x W^T + b
Activations linear(const Activations& x, const Linear& l, ThreadPool& pool);
// One output of linears(): y = x W^T + b.
struct LinearOutput {
  const Linear& l;
  Activations& y;
};
// Linears that share their input (q / k / v, gate / up) in one pass where the kernels allow it
// (kernels/matmul.h matmul_many): the same values as one linear() each.
void linears(const Activations& x, std::initializer_list<LinearOutput> outputs, ThreadPool& pool);
Activations rms_norm(const Activations& x, const std::vector<float>& weight, double eps);
void add_in_place(Activations& x, const Activations& y);

// Causal GQA attention of the batch's queries: stores k / v (already rotated) of every batch
// token in the cache at its (sequence, position), then each token attends to positions
// [0, position] of its own sequence. q: [n, n_heads * head_dim] -> [n, n_heads * v_head_dim].
// `alibi`: per-head ALiBi slopes instead of positions in the keys (empty = none).
Activations cached_attention(const Activations& q, const Activations& k, const Activations& v, const Batch& batch,
                             KVCache& cache, int64_t layer, const ModelConfig& c, float scale, ThreadPool& pool,
                             const std::vector<float>& alibi = {});

// down(silu(gate(x)) * up(x))
Activations swiglu_ffn(const Activations& x, const FfnWeights& f, ThreadPool& pool);

// The gated activation act(gate) * up of an FFN: SwiGLU's silu(gate) * up unless situ_beta > 0,
// then Kimi-K3's SiTU (config.situ_beta / situ_linear_beta):
//   situ(g, u) = beta tanh(g / beta) sigmoid(g) * lb tanh(u / lb)   (lb <= 0: u unchanged)
// or, with swiglu_limit l > 0 (Hy4's routed experts), silu(min(g, l)) * clamp(u, -l, l);
// or, with `oai` (config.swiglu_oai: MiniMax-M3), gpt-oss's clamped swiglu_oai (kernels/vector_ops.h).
struct GluActivation {
  float situ_beta = 0.0f, situ_linear_beta = 0.0f;
  float swiglu_limit = 0.0f;
  bool oai = false;
  static GluActivation of(const ModelConfig& c);
  // gate[i] = act(gate[i]) * up[i] for i < n.
  void apply(float* gate, const float* up, size_t n) const;
};

// down(act(gate(x), up(x))): swiglu_ffn with the family's gated activation.
Activations glu_ffn(const Activations& x, const FfnWeights& f, const GluActivation& act, ThreadPool& pool);
// silu(gate) * up for a fused [n, 2 * ff] projection whose first half is the gate (GLM's
// gate_up_proj, llama.cpp's fused ffn_up) -> [n, ff].
Activations swiglu_fused(const Activations& gate_up);

// The parts every decoder-only family has: token embedding, the final norm and the output head
// (tied to the embedding when the file has no output.weight). Families derive from it and
// write forward() themselves.
//
// Pipeline parallel (--pp, dist/shard.h): a family that supports it runs
//   h = stage_input(batch);  for il in [stage_.begin, stage_.end): layer il;  return stage_output(h, ...)
// and loads only the layers of stage_; with one process that is embed, every layer, output_logits.
class DecoderModel : public Model {
 public:
  explicit DecoderModel(OpenedModel opened);
  const ModelConfig& config() const override { return opened_.config; }

 protected:
  Activations embed(const Batch& batch) const;
  // Final norm and output head, for the rows of `x` whose token wants logits.
  Activations output_logits(const Activations& x, const Batch& batch, ThreadPool& pool) const;
  // Stage 0 embeds the batch; a later pipeline stage receives the previous stage's hidden states.
  Activations stage_input(const Batch& batch) const;
  // The last layer's hidden states -> the logits of the tokens that want them, on stage 0 (its
  // hidden rows come back from the last stage); the other stages pass h on and return no rows.
  Activations stage_output(const Activations& h, const Batch& batch, ThreadPool& pool) const;
  // The file's llama3 rope_freqs divisors, if it has them.
  std::vector<float> rope_freq_divisors() const;

  OpenedModel opened_;
  Weights weights_;
  const ModelConfig& c_;
  Range stage_;  // the layers this process runs: all of them without --pp
  Rope rope_;
  std::vector<float> output_norm_;
  const TensorView* output_ = nullptr;

 private:
  // Final norm and output head of rows already picked (one per output token).
  Activations head(const Activations& picked, ThreadPool& pool) const;
};

}  // namespace dragon::blocks
