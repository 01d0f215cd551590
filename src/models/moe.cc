#include "models/moe.h"

#include <fmt/format.h>

#include <cmath>

#include "kernels/matmul.h"
#include "kernels/moe_routing.h"
#include "dist/communicator.h"
#include "kernels/vector_ops.h"
#include "util/error.h"

namespace dragon::blocks {

namespace {

RoutingRule rule_from(const ModelConfig& c) {
  RoutingRule r;
  if (c.scoring_func == "softmax") r.scoring = ExpertScoring::Softmax;
  else if (c.scoring_func == "sigmoid") r.scoring = ExpertScoring::Sigmoid;
  else fail("scoring_func \"{}\": expected softmax or sigmoid", c.scoring_func);
  r.k = c.n_experts_used;
  r.n_group = c.n_group > 1 ? c.n_group : 1;
  r.topk_group = c.n_group > 1 ? c.topk_group : 1;
  r.norm_topk_prob = c.norm_topk_prob;
  r.scaling = c.routed_scaling_factor;
  if (r.k < 1 || r.k > c.n_experts) fail("{} experts used per token of {}", r.k, c.n_experts);
  if (r.n_group > 1) {
    if (c.n_experts % r.n_group != 0) fail("{} experts do not split into {} groups", c.n_experts, r.n_group);
    if (r.topk_group < 1 || r.topk_group > r.n_group) fail("topk_group {} of {} groups", r.topk_group, r.n_group);
    if (r.k > r.topk_group * (c.n_experts / r.n_group))
      fail("{} experts per token do not fit in {} groups of {}", r.k, r.topk_group, c.n_experts / r.n_group);
  }
  return r;
}

// Expert e's [rows, cols] matrix inside a stacked [n_experts, rows, cols] tensor: the experts
// are stored one after the other, so it is a byte range of the 3-D tensor (no copy).
TensorView expert_slice(const TensorView& stacked, int64_t e) {
  TensorView v;
  v.dtype = stacked.dtype;
  v.shape = {stacked.shape[1], stacked.shape[2]};
  v.nbytes = stacked.nbytes / static_cast<uint64_t>(stacked.shape[0]);
  v.data = stacked.data + static_cast<uint64_t>(e) * v.nbytes;
  v.name = fmt::format("{}[expert {}]", stacked.name, e);
  return v;
}

const TensorView& stacked_experts(const Weights& w, const std::string& name, int64_t n, int64_t rows, int64_t cols) {
  const TensorView& t = w.get(name);
  if (t.shape != std::vector<int64_t>{n, rows, cols})
    fail("tensor {} has shape {}, expected [{}, {}, {}]", name, shape_string(t.shape), n, rows, cols);
  if (t.nbytes % static_cast<uint64_t>(n) != 0) fail("tensor {}: {} bytes do not split into {} experts", name, t.nbytes, n);
  return t;
}

}  // namespace

Routing route(const Activations& router_logits, const ModelConfig& c, const std::vector<float>& score_bias) {
  if (router_logits.cols != c.n_experts)
    fail("router logits have {} columns for {} experts", router_logits.cols, c.n_experts);
  if (!score_bias.empty() && static_cast<int64_t>(score_bias.size()) != c.n_experts)
    fail("expert score bias has {} values for {} experts", score_bias.size(), c.n_experts);
  const RoutingRule rule = rule_from(c);
  Routing r;
  r.n_tokens = router_logits.rows;
  r.k = rule.k;
  r.experts.resize(static_cast<size_t>(r.n_tokens * r.k));
  r.weights.resize(r.experts.size());
  std::vector<float> scratch(static_cast<size_t>(2 * c.n_experts));
  for (int64_t t = 0; t < r.n_tokens; ++t)
    route_token(router_logits.row(t), c.n_experts, score_bias.empty() ? nullptr : score_bias.data(), rule,
                r.experts.data() + t * r.k, r.weights.data() + t * r.k, scratch.data());
  return r;
}

MoeWeights load_moe(const Weights& w, const ModelConfig& c, int64_t il) {
  if (!c.is_moe() || c.n_experts_used < 1)
    fail("architecture {} has MoE layers but the config names {} experts, {} used per token", c.arch, c.n_experts,
         c.n_experts_used);
  const std::string p = fmt::format("blk.{}.", il);
  const int64_t n = c.n_experts, ff = c.moe_intermediate_size, hidden = c.hidden_size;
  MoeWeights m;
  m.router = &w.get(p + "ffn_gate_inp.weight");
  if (m.router->shape != std::vector<int64_t>{n, hidden})
    fail("tensor {} has shape {}, expected [{}, {}]", m.router->name, shape_string(m.router->shape), n, hidden);
  // Most converters write the selection bias as exp_probs_b.bias; hy_v3's maps without the suffix.
  for (const char* name : {"exp_probs_b.bias", "exp_probs_b"})
    if (w.find(p + name)) {
      m.score_bias = w.f32(p + name, n);
      break;
    }
  m.gate_exps = &stacked_experts(w, p + "ffn_gate_exps.weight", n, ff, hidden);
  m.up_exps = &stacked_experts(w, p + "ffn_up_exps.weight", n, ff, hidden);
  m.down_exps = &stacked_experts(w, p + "ffn_down_exps.weight", n, hidden, ff);
  if (const TensorView* g = w.find(p + "ffn_gate_shexp.weight")) {
    const int64_t sff = c.shared_expert_intermediate_size > 0 ? c.shared_expert_intermediate_size : g->shape[0];
    m.shared.gate = load_linear(w, p + "ffn_gate_shexp", sff, hidden, false);
    m.shared.up = load_linear(w, p + "ffn_up_shexp", sff, hidden, false);
    m.shared.down = load_linear(w, p + "ffn_down_shexp", hidden, sff, false);
  }
  if (const TensorView* g = w.find(p + "ffn_gate_inp_shexp.weight")) {
    if (g->numel() != hidden) fail("tensor {} has shape {}, expected [{}]", g->name, shape_string(g->shape), hidden);
    m.shared_gate = g;
  }
  const ModelShard& shard = w.shard();
  if (shard.ep_size > 1) {
    if (shard.ep_size > n) fail("--ep {}: the model has only {} experts per layer", shard.ep_size, n);
    m.experts = shard.expert_range(n);
    m.ep = shard.ep;
  }
  return m;
}

Activations moe_ffn(const Activations& x, const MoeWeights& m, const ModelConfig& c, ThreadPool& pool,
                    Routing* routing_out) {
  Activations logits;
  matmul(x, *m.router, logits, pool);  // the router stays F32 in every file, like llama.cpp's
  Routing r = route(logits, c, m.score_bias);

  // Which (token, slot) pairs each expert serves, so it runs once over all of its tokens; an
  // expert nobody chose is never read.
  std::vector<std::vector<int64_t>> served(static_cast<size_t>(c.n_experts));
  for (int64_t i = 0; i < r.n_tokens * r.k; ++i) served[r.experts[i]].push_back(i);
  std::vector<int32_t> active;
  for (int32_t e = 0; e < c.n_experts; ++e)
    if (!served[e].empty() && (m.experts.end < 0 || m.experts.contains(e))) active.push_back(e);

  // Expert e on its gathered tokens -> their down projections [n_served, hidden] (unweighted).
  std::vector<Activations> outputs(active.size());
  auto run_expert = [&](size_t a, ThreadPool& matmul_pool) {
    const int32_t e = active[a];
    const std::vector<int64_t>& slots = served[e];
    Activations xe(static_cast<int64_t>(slots.size()), x.cols);
    for (size_t j = 0; j < slots.size(); ++j) std::copy_n(x.row(slots[j] / r.k), x.cols, xe.row(j));
    Activations gate, up;
    matmul(xe, expert_slice(*m.gate_exps, e), gate, matmul_pool);
    matmul(xe, expert_slice(*m.up_exps, e), up, matmul_pool);
    if (c.swiglu_oai) {
      for (size_t i = 0; i < gate.data.size(); ++i) gate.data[i] = swiglu_oai(gate.data[i], up.data[i]);
    } else {
      for (size_t i = 0; i < gate.data.size(); ++i) gate.data[i] = silu(gate.data[i]) * up.data[i];
    }
    matmul(gate, expert_slice(*m.down_exps, e), outputs[a], matmul_pool);
  };
  if (static_cast<int64_t>(active.size()) >= 2 * pool.size()) {
    // Enough experts to share out whole (decode: top-k experts of one token): one job per thread
    // instead of three small row-split matmuls per expert, each a wake-up of every thread.
    pool.parallel_for(static_cast<int64_t>(active.size()), [&](int64_t begin, int64_t end) {
      ThreadPool inline_pool(1);
      for (int64_t a = begin; a < end; ++a) run_expert(static_cast<size_t>(a), inline_pool);
    });
  } else {
    for (size_t a = 0; a < active.size(); ++a) run_expert(a, pool);
  }

  Activations y(x.rows, x.cols);
  for (size_t a = 0; a < active.size(); ++a) {
    const std::vector<int64_t>& slots = served[active[a]];
    for (size_t j = 0; j < slots.size(); ++j)
      axpy(r.weights[slots[j]], outputs[a].row(static_cast<int64_t>(j)), y.row(slots[j] / r.k), x.cols);
  }

  if (m.shared.gate.weight && (!m.ep || m.ep->rank() == 0)) {
    Activations shared = swiglu_ffn(x, m.shared, pool, c.swiglu_oai);
    if (m.shared_gate) {  // Qwen2-MoE style: the shared expert scaled by sigmoid(x . g)
      TensorView g = *m.shared_gate;
      g.shape = {1, x.cols};
      Activations gate;
      matmul(x, g, gate, pool);
      for (int64_t t = 0; t < x.rows; ++t) {
        const float s = 1.0f / (1.0f + std::exp(-gate.row(t)[0]));
        for (int64_t i = 0; i < x.cols; ++i) shared.row(t)[i] *= s;
      }
    }
    add_in_place(y, shared);
  }
  if (m.ep) m.ep->allreduce_sum(y.data.data(), y.data.size());
  if (routing_out) *routing_out = std::move(r);
  return y;
}

}  // namespace dragon::blocks
