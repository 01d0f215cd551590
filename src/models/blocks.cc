#include "models/blocks.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "kernels/attention.h"
#include "kernels/attention_prompt.h"
#include "kernels/matmul.h"
#include "kernels/rmsnorm.h"
#include "kernels/vector_ops.h"
#include "dist/communicator.h"
#include "util/error.h"

namespace dragon::blocks {

Linear load_linear(const Weights& w, const std::string& name, int64_t out, int64_t in, bool bias) {
  Linear l;
  l.weight = &w.get(name + ".weight");
  if (l.weight->shape != std::vector<int64_t>{out, in})
    fail("tensor {}.weight has shape {}, expected [{}, {}]", name, shape_string(l.weight->shape), out, in);
  if (bias) l.bias = w.f32(name + ".bias", out);
  return l;
}

LayerOptions layer_options(const ModelConfig& c) {
  return LayerOptions{c.attention_bias, c.attention_out_bias, c.qk_norm, c.mlp_bias};
}

AttentionWeights load_attention(const Weights& w, const ModelConfig& c, int64_t il, const LayerOptions& options) {
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t vd = c.v_head_dim ? c.v_head_dim : c.head_dim;
  AttentionWeights A;
  A.norm = w.f32(p + "attn_norm.weight", c.hidden_size);
  A.q = load_linear(w, p + "attn_q", c.n_heads * c.head_dim, c.hidden_size, options.qkv_bias);
  A.k = load_linear(w, p + "attn_k", c.n_kv_heads * c.head_dim, c.hidden_size, options.qkv_bias);
  A.v = load_linear(w, p + "attn_v", c.n_kv_heads * vd, c.hidden_size, options.qkv_bias);
  A.o = load_linear(w, p + "attn_output", c.hidden_size, c.n_heads * vd, options.o_bias);
  if (options.qk_norm) {
    A.q_norm = w.f32(p + "attn_q_norm.weight", c.head_dim);
    A.k_norm = w.f32(p + "attn_k_norm.weight", c.head_dim);
  }
  return A;
}

LayerWeights load_layer(const Weights& w, const ModelConfig& c, int64_t il, const LayerOptions& options) {
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t ff = c.intermediate_size;
  LayerWeights L;
  L.attn = load_attention(w, c, il, options);
  L.ffn.norm = w.f32(p + "ffn_norm.weight", c.hidden_size);
  L.ffn.gate = load_linear(w, p + "ffn_gate", ff, c.hidden_size, options.mlp_bias);
  L.ffn.up = load_linear(w, p + "ffn_up", ff, c.hidden_size, options.mlp_bias);
  L.ffn.down = load_linear(w, p + "ffn_down", c.hidden_size, ff, options.mlp_bias);
  return L;
}

Activations linear(const Activations& x, const Linear& l, ThreadPool& pool) {
  Activations y;
  matmul(x, *l.weight, y, pool, l.bias.empty() ? nullptr : l.bias.data());
  return y;
}

void linears(const Activations& x, std::initializer_list<LinearOutput> outputs, ThreadPool& pool) {
  std::vector<MatmulOutput> m;
  m.reserve(outputs.size());
  for (const LinearOutput& o : outputs) m.push_back({o.l.weight, &o.y, o.l.bias.empty() ? nullptr : o.l.bias.data()});
  matmul_many(x, m.data(), m.size(), pool);
}

Activations rms_norm(const Activations& x, const std::vector<float>& weight, double eps) {
  Activations y;
  rms_norm_rows(x, weight.data(), y, static_cast<float>(eps));
  return y;
}

void add_in_place(Activations& x, const Activations& y) {
  if (x.rows != y.rows || x.cols != y.cols) fail("residual add: {}x{} + {}x{}", x.rows, x.cols, y.rows, y.cols);
  for (size_t i = 0; i < x.data.size(); ++i) x.data[i] += y.data[i];
}

namespace {

// One piece of a batch's attention for one kv head: a block of consecutive prompt tokens of one
// sequence for the blocked kernel, or (stepwise) one token for attend_group.
struct AttentionItem {
  int64_t t0, n, kv_head;
  int64_t cost;  // query rows x positions read: the work, for scheduling the biggest first
  bool stepwise;
};

// Whether token t attends as a decode step (Batch::stepwise; by default a sequence's lone token).
std::vector<uint8_t> stepwise_tokens(const Batch& batch) {
  if (!batch.stepwise.empty()) return batch.stepwise;
  // Sequence ids are cache slots: small and non-negative.
  const int32_t n_seq = batch.seq_ids.empty() ? 0 : *std::max_element(batch.seq_ids.begin(), batch.seq_ids.end()) + 1;
  std::vector<int64_t> per_sequence(static_cast<size_t>(n_seq), 0);
  for (int32_t s : batch.seq_ids) ++per_sequence[static_cast<size_t>(s)];
  std::vector<uint8_t> out(batch.tokens.size());
  for (size_t t = 0; t < out.size(); ++t) out[t] = per_sequence[static_cast<size_t>(batch.seq_ids[t])] == 1;
  return out;
}

// Stepwise tokens one by one; the other tokens in blocks of at most `block_tokens` consecutive
// ones of one sequence with increasing positions.
std::vector<AttentionItem> attention_items(const Batch& batch, int64_t n_kv_heads, int64_t group,
                                           int64_t block_tokens) {
  const std::vector<uint8_t> stepwise = stepwise_tokens(batch);
  std::vector<AttentionItem> items;
  const int64_t n = batch.size();
  for (int64_t t = 0; t < n;) {
    int64_t e = t + 1;
    while (!stepwise[t] && e < n && !stepwise[e] && e - t < block_tokens && batch.seq_ids[e] == batch.seq_ids[t] &&
           batch.positions[e] > batch.positions[e - 1])
      ++e;
    for (int64_t h = 0; h < n_kv_heads; ++h)
      items.push_back({t, e - t, h, (e - t) * group * (batch.positions[e - 1] + 1), stepwise[t] != 0});
    t = e;
  }
  return items;
}

}  // namespace

Activations cached_attention(const Activations& q, const Activations& k, const Activations& v, const Batch& batch,
                             KVCache& cache, int64_t layer, const ModelConfig& c, float scale, ThreadPool& pool,
                             const std::vector<float>& alibi) {
  const int64_t vd = c.v_head_dim ? c.v_head_dim : c.head_dim;
  for (int64_t t = 0; t < batch.size(); ++t) cache.store(layer, batch.seq_ids[t], batch.positions[t], k.row(t), v.row(t));
  Activations out(q.rows, c.n_heads * vd);
  const int64_t group = c.n_heads / c.n_kv_heads;
  const auto attend_token = [&](int64_t t, int64_t kvh) {
    attend_group(q.row(t) + kvh * group * c.head_dim, group, cache.span(layer, batch.seq_ids[t], kvh),
                 batch.positions[t] + 1, c.head_dim, vd, scale, out.row(t) + kvh * group * vd,
                 alibi.empty() ? nullptr : alibi.data() + kvh * group);
  };
  // Prompt tokens in blocks through the blocked kernel (kernels/attention_prompt.h), which reads
  // each K / V row once per block instead of once per token; decode steps (Batch::stepwise)
  // through attend_group. A prompt token's result does not depend on its block, and a decode
  // step's is always attend_group's, so chunked prefill, recompute after a preemption and
  // speculative verification reproduce what they stand for bit for bit.
  const bool blocked = alibi.empty() && group <= kPromptMaxRows && prompt_attention_enabled();
  if (!blocked) {
    // One work item per (token, kv head): the query heads of a GQA group read each cached K / V
    // row once, together (attend_group), instead of once per head.
    pool.parallel_for(batch.size() * c.n_kv_heads, [&](int64_t begin, int64_t end) {
      for (int64_t item = begin; item < end; ++item) attend_token(item / c.n_kv_heads, item % c.n_kv_heads);
    });
    return out;
  }
  std::vector<AttentionItem> items = attention_items(batch, c.n_kv_heads, group, kPromptMaxRows / group);
  // Causal blocks cost in proportion to their last position: the biggest go first and threads
  // take the next item as they finish, so the triangle of work splits evenly.
  std::stable_sort(items.begin(), items.end(),
                   [](const AttentionItem& a, const AttentionItem& b) { return a.cost > b.cost; });
  std::atomic<size_t> next{0};
  pool.run_on_all([&](int, int) {
    for (size_t i = next.fetch_add(1, std::memory_order_relaxed); i < items.size();
         i = next.fetch_add(1, std::memory_order_relaxed)) {
      const AttentionItem& it = items[i];
      if (it.stepwise) {
        attend_token(it.t0, it.kv_head);
        continue;
      }
      PromptQueryBlock block;
      block.q = q.row(it.t0) + it.kv_head * group * c.head_dim;
      block.q_stride = q.cols;
      block.positions = batch.positions.data() + it.t0;
      block.n = it.n;
      block.out = out.row(it.t0) + it.kv_head * group * vd;
      block.out_stride = out.cols;
      attend_prompt_block(block, group, cache.span(layer, batch.seq_ids[it.t0], it.kv_head), c.head_dim, vd, scale);
    }
  });
  return out;
}

FfnWeights load_swiglu_ffn(const Weights& w, int64_t il, int64_t ff, int64_t hidden) {
  const std::string p = "blk." + std::to_string(il) + ".";
  FfnWeights f;
  f.gate = load_linear(w, p + "ffn_gate", ff, hidden, false);
  f.up = load_linear(w, p + "ffn_up", ff, hidden, false);
  f.down = load_linear(w, p + "ffn_down", hidden, ff, false);
  return f;
}

Activations swiglu_ffn(const Activations& x, const FfnWeights& f, ThreadPool& pool) {
  Activations gate, up;
  linears(x, {{f.gate, gate}, {f.up, up}}, pool);
  for (size_t i = 0; i < gate.data.size(); ++i) gate.data[i] = silu(gate.data[i]) * up.data[i];
  return linear(gate, f.down, pool);
}

GluActivation GluActivation::of(const ModelConfig& c) {
  GluActivation a;
  a.situ_beta = static_cast<float>(c.situ_beta);
  a.situ_linear_beta = static_cast<float>(c.situ_linear_beta);
  a.oai = c.swiglu_oai;
  return a;
}

void GluActivation::apply(float* gate, const float* up, size_t n) const {
  if (oai) {
    for (size_t i = 0; i < n; ++i) gate[i] = swiglu_oai(gate[i], up[i]);
    return;
  }
  if (swiglu_limit > 0) {
    const float l = swiglu_limit;
    for (size_t i = 0; i < n; ++i) gate[i] = silu(std::min(gate[i], l)) * std::clamp(up[i], -l, l);
    return;
  }
  if (situ_beta <= 0) {
    for (size_t i = 0; i < n; ++i) gate[i] = silu(gate[i]) * up[i];
    return;
  }
  const float b = situ_beta, lb = situ_linear_beta;
  for (size_t i = 0; i < n; ++i) {
    const float g = gate[i];
    const float u = lb > 0 ? lb * std::tanh(up[i] / lb) : up[i];
    gate[i] = b * std::tanh(g / b) / (1.0f + std::exp(-g)) * u;  // beta tanh(g / beta) sigmoid(g) * u
  }
}

Activations glu_ffn(const Activations& x, const FfnWeights& f, const GluActivation& act, ThreadPool& pool) {
  Activations gate, up;
  linears(x, {{f.gate, gate}, {f.up, up}}, pool);
  act.apply(gate.data.data(), up.data.data(), gate.data.size());
  return linear(gate, f.down, pool);
}

Activations swiglu_fused(const Activations& gate_up) {
  if (gate_up.cols % 2 != 0) fail("fused gate/up projection of odd width {}", gate_up.cols);
  const int64_t ff = gate_up.cols / 2;
  Activations out(gate_up.rows, ff);
  for (int64_t t = 0; t < gate_up.rows; ++t)
    for (int64_t i = 0; i < ff; ++i) out.row(t)[i] = silu(gate_up.row(t)[i]) * gate_up.row(t)[ff + i];
  return out;
}

DecoderModel::DecoderModel(OpenedModel opened)
    : opened_(std::move(opened)),
      weights_(opened_),
      c_(opened_.config),
      rope_(c_, rope_freq_divisors()) {
  if (c_.n_kv_heads <= 0 || c_.n_heads % c_.n_kv_heads != 0)
    fail("{}: {} heads do not split into {} kv heads", opened_.path, c_.n_heads, c_.n_kv_heads);
  stage_ = opened_.shard.layer_range(c_.n_layers);
  if (!opened_.shard.first_stage()) return;  // the embedding and the head live on stage 0
  output_norm_ = weights_.f32("output_norm.weight", c_.hidden_size);
  output_ = weights_.find("output.weight");
  if (!output_) output_ = &weights_.get("token_embd.weight");  // tied embeddings
  if (output_->shape != std::vector<int64_t>{c_.vocab_size, c_.hidden_size})
    fail("{}: tensor {} has shape {}, expected [{}, {}]", opened_.path, output_->name, shape_string(output_->shape),
         c_.vocab_size, c_.hidden_size);
}

std::vector<float> DecoderModel::rope_freq_divisors() const {
  const TensorView* t = weights_.find("rope_freqs.weight");
  if (!t) return {};
  const int64_t rotary = c_.rotary_dim ? c_.rotary_dim : c_.head_dim;
  return tensor_to_f32(*t, rotary / 2);
}

Activations DecoderModel::embed(const Batch& batch) const {
  Activations x;
  embedding_rows(weights_.get("token_embd.weight"), batch.tokens, x);
  return x;
}

Activations DecoderModel::output_logits(const Activations& x, const Batch& batch, ThreadPool& pool) const {
  Activations picked(batch.n_outputs(), x.cols);
  for (int64_t t = 0, r = 0; t < batch.size(); ++t)
    if (batch.want_logits[t]) std::copy_n(x.row(t), x.cols, picked.row(r++));
  return head(picked, pool);
}

// Tags keep the two directions apart: stage to stage (forward) and last stage to stage 0.
constexpr int kTagHidden = 1, kTagOutputRows = 2;

Activations DecoderModel::stage_input(const Batch& batch) const {
  const ModelShard& s = opened_.shard;
  if (s.first_stage()) return embed(batch);
  Activations h(batch.size(), c_.hidden_size);
  s.pp->recv(h.data.data(), h.data.size(), s.pp_rank - 1, kTagHidden);
  return h;
}

Activations DecoderModel::stage_output(const Activations& h, const Batch& batch, ThreadPool& pool) const {
  const ModelShard& s = opened_.shard;
  if (s.pp_size == 1) return output_logits(h, batch, pool);
  if (!s.last_stage()) s.pp->send(h.data.data(), h.data.size(), s.pp_rank + 1, kTagHidden);
  if (s.last_stage()) {  // only the rows that want logits go back
    Activations picked(batch.n_outputs(), h.cols);
    for (int64_t t = 0, r = 0; t < batch.size(); ++t)
      if (batch.want_logits[t]) std::copy_n(h.row(t), h.cols, picked.row(r++));
    s.pp->send(picked.data.data(), picked.data.size(), 0, kTagOutputRows);
  }
  if (!s.first_stage()) return Activations(0, c_.vocab_size);
  Activations picked(batch.n_outputs(), c_.hidden_size);
  s.pp->recv(picked.data.data(), picked.data.size(), s.pp_size - 1, kTagOutputRows);
  return head(picked, pool);
}

Activations DecoderModel::head(const Activations& picked, ThreadPool& pool) const {
  Activations normed = rms_norm(picked, output_norm_, c_.norm_eps);
  Activations logits;
  matmul(normed, *output_, logits, pool);
  return logits;
}

}  // namespace dragon::blocks
