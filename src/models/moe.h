// The mixture-of-experts FFN block that every MoE family composes: a router picks k of the
// routed experts per token (with the family's scoring and selection rules, all read from
// ModelConfig), the chosen SwiGLU experts run and their outputs are summed with the routing
// weights, plus the always-on shared experts.
//
// Compute: tokens are grouped by expert, so each chosen expert runs once over all of its tokens
// (prefill reuses each expert weight row for many tokens) and an expert no token chose is never
// read (decode touches only the active experts' bytes).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/activations.h"
#include "kernels/thread_pool.h"
#include "models/blocks.h"
#include "models/model_config.h"
#include "runtime/weights.h"

namespace dragon::blocks {

// Per token, the k chosen experts and the weights their outputs are summed with (after
// normalisation and routed_scaling_factor), in selection order (best score first).
struct Routing {
  int64_t n_tokens = 0;
  int64_t k = 0;
  std::vector<int32_t> experts;  // [n_tokens * k]
  std::vector<float> weights;    // [n_tokens * k]
};

// Routing from the router logits [n_tokens, n_experts], following ModelConfig:
//   scores  = softmax(logits) (scoring_func "softmax") or sigmoid(logits) ("sigmoid");
//   choice  = scores + score_bias when score_bias is non-empty (DeepSeek-V3 noaux_tc,
//             GLM-4.5, MiniMax-M2, ERNIE-4.5 moe_statics: the bias steers the choice only);
//   groups  = when n_group > 1: keep the topk_group groups with the best group score (the sum of
//             the top-2 choice values of the group with a score bias, else the group's max), mask
//             out the other groups' experts;
//   top-k   = the n_experts_used best choice values;
//   weights = the chosen experts' scores (without the bias), divided by their sum when
//             norm_topk_prob (sigmoid scoring always renormalises over the chosen when
//             norm_topk_prob; softmax scoring renormalises only then), times routed_scaling_factor.
// Ties go to the lower expert id.
Routing route(const Activations& router_logits, const ModelConfig& c, const std::vector<float>& score_bias);

// The weights of one MoE FFN layer under llama.cpp's GGUF names (blk.il.*):
//   ffn_gate_inp.weight [n_experts, hidden]          router
//   exp_probs_b.bias [n_experts]                      score bias (optional)
//   ffn_{gate,up}_exps.weight [n_experts, ff, hidden], ffn_down_exps.weight [n_experts, hidden, ff]
//   ffn_{gate,up,down}_shexp.weight                   shared experts, fused (optional)
//   ffn_gate_inp_shexp.weight [hidden]                 sigmoid gate of the shared expert (Qwen2-MoE style, optional)
struct MoeWeights {
  const TensorView* router = nullptr;
  std::vector<float> score_bias;  // empty = none
  const TensorView* gate_exps = nullptr;
  const TensorView* up_exps = nullptr;
  const TensorView* down_exps = nullptr;
  FfnWeights shared;              // gate.weight == nullptr = no shared expert (norm unused)
  const TensorView* shared_gate = nullptr;
  GluActivation act;              // of the shared expert (SwiGLU unless config.situ_beta)
  GluActivation routed_act;       // of the routed experts: act, clamped when config.swiglu_limit
  // Expert parallel (--ep, dist/shard.h): this rank runs only the routed experts in `experts`
  // (and the shared expert only on expert rank 0), then the ranks of `ep` sum their outputs.
  // Every rank computes the same router, so all agree on the routing without exchanging it.
  Range experts{0, -1};           // end -1 = all
  dist::Communicator* ep = nullptr;
};

// Loads layer il's MoE weights; optional tensors are picked up when present in the file.
MoeWeights load_moe(const Weights& w, const ModelConfig& c, int64_t il);

// sum_k weight_k * expert_k(x) + shared(x) for each token of x [n_tokens, hidden] (x is already
// normalised). Under --ep the result is the sum over the expert group (the same on every rank).
// `routing_out`, when given, receives the routing (tests compare it with the
// reference).
Activations moe_ffn(const Activations& x, const MoeWeights& m, const ModelConfig& c, ThreadPool& pool,
                    Routing* routing_out = nullptr);

// The two halves of moe_ffn, for Kimi-K3's latent MoE (models/kimi_k3.cc), whose router scores
// the full-width input while the experts run on a projection of it:
//   route_tokens:        the router on `x` [n, hidden] -> the routing;
//   routed_experts_ffn:  sum_k weight_k * expert_k(x) over that routing (no shared expert), x of
//                        the experts' own width. Under --ep the sum over the expert group.
Routing route_tokens(const Activations& x, const MoeWeights& m, const ModelConfig& c, ThreadPool& pool);
Activations routed_experts_ffn(const Activations& x, const Routing& r, const MoeWeights& m, const ModelConfig& c,
                               ThreadPool& pool);

// Implemented by the MoE families so a test can see the routing of every MoE layer of a
// forward pass (model.h stays family-agnostic; tests reach it with dynamic_cast). While a trace
// is set, each forward() clears it and appends one Routing per MoE layer, in layer order.
class RoutingTraceable {
 public:
  virtual ~RoutingTraceable() = default;
  void set_routing_trace(std::vector<Routing>* trace) { trace_ = trace; }

 protected:
  // The Routing* to pass to moe_ffn for the next MoE layer (nullptr when not tracing).
  Routing* next_trace_slot() { return trace_ ? &trace_->emplace_back() : nullptr; }
  void begin_trace() { if (trace_) trace_->clear(); }

 private:
  std::vector<Routing>* trace_ = nullptr;
};

}  // namespace dragon::blocks
