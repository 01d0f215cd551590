// Expert routing for one token: scores from the router logits, an optional selection bias,
// group-limited selection and top-k, then the weights the chosen experts' outputs are summed
// with. Kept free of ModelConfig so it can be tested on hand cases; blocks::route()
// (models/moe.h) fills the rule from the config.
#pragma once

#include <cstdint>

namespace dragon {

enum class ExpertScoring { Softmax, Sigmoid };

struct RoutingRule {
  ExpertScoring scoring = ExpertScoring::Softmax;
  int64_t k = 1;               // experts chosen per token
  int64_t n_group = 1;         // > 1: experts split into n_group equal groups ...
  int64_t topk_group = 1;      // ... of which only the topk_group best keep their experts
  bool norm_topk_prob = false; // divide the chosen weights by their sum
  double scaling = 1.0;        // routed_scaling_factor, applied last
};

// logits: n_experts router logits of one token. bias: n_experts selection biases or nullptr.
// Writes the k chosen experts (best choice value first, ties to the lower id) and their weights.
// `scratch` needs 2 * n_experts floats.
//   score  = softmax(logits) or sigmoid(logits)
//   choice = score + bias
//   group score = sum of the group's top-2 choices when biased (DeepSeek-V3 noaux_tc), else
//                 the group's max choice (DeepSeek-V2 group_limited_greedy)
//   weight = score (unbiased) of each chosen expert, / their sum if norm_topk_prob, * scaling
void route_token(const float* logits, int64_t n_experts, const float* bias, const RoutingRule& rule,
                 int32_t* experts, float* weights, float* scratch);

}  // namespace dragon
