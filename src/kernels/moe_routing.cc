#include "kernels/moe_routing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/softmax.h"

namespace dragon {

namespace {

// Indices of the n best values of v (descending, ties to the lower index), into out.
void top_n(const float* v, int64_t size, int64_t n, int32_t* out) {
  std::vector<int32_t> order(static_cast<size_t>(size));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + n, order.end(), [&](int32_t a, int32_t b) {
    return v[a] > v[b] || (v[a] == v[b] && a < b);
  });
  std::copy_n(order.begin(), n, out);
}

}  // namespace

void route_token(const float* logits, int64_t n_experts, const float* bias, const RoutingRule& rule,
                 int32_t* experts, float* weights, float* scratch) {
  float* score = scratch;
  float* choice = scratch + n_experts;
  std::copy_n(logits, n_experts, score);
  if (rule.scoring == ExpertScoring::Softmax) {
    softmax(score, n_experts);
  } else {
    for (int64_t e = 0; e < n_experts; ++e) score[e] = 1.0f / (1.0f + std::exp(-score[e]));
  }
  for (int64_t e = 0; e < n_experts; ++e) choice[e] = bias ? score[e] + bias[e] : score[e];

  if (rule.n_group > 1 && rule.topk_group < rule.n_group) {
    const int64_t per_group = n_experts / rule.n_group;
    std::vector<float> group_score(static_cast<size_t>(rule.n_group));
    for (int64_t g = 0; g < rule.n_group; ++g) {
      const float* first = choice + g * per_group;
      if (bias && per_group >= 2) {
        int32_t best[2];
        top_n(first, per_group, 2, best);
        group_score[g] = first[best[0]] + first[best[1]];
      } else {
        group_score[g] = *std::max_element(first, first + per_group);
      }
    }
    std::vector<int32_t> kept(static_cast<size_t>(rule.topk_group));
    top_n(group_score.data(), rule.n_group, rule.topk_group, kept.data());
    std::vector<bool> keep(static_cast<size_t>(rule.n_group), false);
    for (int32_t g : kept) keep[g] = true;
    for (int64_t e = 0; e < n_experts; ++e)
      if (!keep[e / per_group]) choice[e] = -std::numeric_limits<float>::infinity();
  }

  top_n(choice, n_experts, rule.k, experts);
  float sum = 0.0f;
  for (int64_t i = 0; i < rule.k; ++i) sum += weights[i] = score[experts[i]];
  // The floor only guards a zero sum (HF adds 1e-20, ERNIE clamps at norm_min, llama.cpp at
  // 6.1e-5); real top-k sums are orders of magnitude larger.
  const float norm = rule.norm_topk_prob ? 1.0f / std::max(sum, 1e-20f) : 1.0f;
  for (int64_t i = 0; i < rule.k; ++i) weights[i] = static_cast<float>(weights[i] * norm * rule.scaling);
}

}  // namespace dragon
