// blocks::route() on hand cases (softmax / sigmoid scoring, the selection bias, DeepSeek's two
// group rules, ties, norm_topk_prob, routed_scaling_factor), and moe_ffn's grouped expert compute
// against a plain per-token loop. The routing of whole models against the PyTorch reference is
// tests/models/moe_reference_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <set>

#include "kernels/thread_pool.h"
#include "kernels/vector_ops.h"
#include "models/moe.h"
#include "util/error.h"

namespace dragon {
namespace {

using blocks::Routing;

ModelConfig moe_config(int64_t n_experts, int64_t k) {
  ModelConfig c;
  c.arch = "test";
  c.hidden_size = 8;
  c.n_experts = n_experts;
  c.n_experts_used = k;
  c.moe_intermediate_size = 4;
  return c;
}

Activations rows(std::vector<std::vector<float>> values) {
  Activations a(static_cast<int64_t>(values.size()), static_cast<int64_t>(values[0].size()));
  for (size_t r = 0; r < values.size(); ++r) std::copy(values[r].begin(), values[r].end(), a.row(r));
  return a;
}

std::vector<double> softmax_of(const std::vector<float>& x) {
  double m = *std::max_element(x.begin(), x.end()), sum = 0;
  std::vector<double> p;
  for (float v : x) p.push_back(std::exp(v - m));
  for (double v : p) sum += v;
  for (double& v : p) v /= sum;
  return p;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

void print(const char* what, const Routing& r) {
  std::string s;
  for (int64_t i = 0; i < r.n_tokens * r.k; ++i) s += fmt::format(" {}:{:.6f}", r.experts[i], r.weights[i]);
  std::printf("%s:%s\n", what, s.c_str());
}

TEST(MoeRouting, SoftmaxTopKWithoutRenormalisation) {
  const ModelConfig c = moe_config(4, 2);
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 1.0f};
  const Routing r = blocks::route(rows({logits}), c, {});
  print("softmax top-2", r);
  const auto p = softmax_of(logits);
  ASSERT_EQ(r.experts, (std::vector<int32_t>{1, 3}));
  EXPECT_NEAR(r.weights[0], p[1], 1e-6);
  EXPECT_NEAR(r.weights[1], p[3], 1e-6);
}

TEST(MoeRouting, SoftmaxNormTopKAndScaling) {
  ModelConfig c = moe_config(4, 2);
  c.norm_topk_prob = true;
  c.routed_scaling_factor = 2.5;
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 1.0f};
  const Routing r = blocks::route(rows({logits}), c, {});
  print("softmax top-2 normalised x2.5", r);
  const auto p = softmax_of(logits);
  ASSERT_EQ(r.experts, (std::vector<int32_t>{1, 3}));
  EXPECT_NEAR(r.weights[0], 2.5 * p[1] / (p[1] + p[3]), 1e-6);
  EXPECT_NEAR(r.weights[1], 2.5 * p[3] / (p[1] + p[3]), 1e-6);
  EXPECT_NEAR(r.weights[0] + r.weights[1], 2.5, 1e-6);
}

TEST(MoeRouting, SigmoidBiasChoosesButDoesNotWeigh) {
  ModelConfig c = moe_config(4, 2);
  c.scoring_func = "sigmoid";
  c.norm_topk_prob = true;
  const std::vector<float> logits = {1.0f, 0.9f, 0.0f, -2.0f};
  // Without the bias experts 0 and 1 win; the bias lifts expert 2 (0.5 + 0.22) above expert 1
  // (sigmoid(0.9) = 0.711) but not above expert 0 (sigmoid(1) = 0.731).
  const Routing plain = blocks::route(rows({logits}), c, {});
  const Routing biased = blocks::route(rows({logits}), c, {0.0f, 0.0f, 0.22f, 0.0f});
  print("sigmoid", plain);
  print("sigmoid + bias", biased);
  ASSERT_EQ(plain.experts, (std::vector<int32_t>{0, 1}));
  ASSERT_EQ(biased.experts, (std::vector<int32_t>{0, 2}));
  const double s0 = sigmoid(1.0), s2 = sigmoid(0.0);  // weights from the unbiased scores
  EXPECT_NEAR(biased.weights[0], s0 / (s0 + s2), 1e-6);
  EXPECT_NEAR(biased.weights[1], s2 / (s0 + s2), 1e-6);
}

TEST(MoeRouting, SigmoidWithoutNormKeepsRawScores) {
  ModelConfig c = moe_config(3, 1);
  c.scoring_func = "sigmoid";
  c.routed_scaling_factor = 1.5;
  const Routing r = blocks::route(rows({{-1.0f, 0.25f, 0.0f}}), c, {});
  ASSERT_EQ(r.experts, (std::vector<int32_t>{1}));
  EXPECT_NEAR(r.weights[0], 1.5 * sigmoid(0.25), 1e-6);
}

// 8 experts in 4 groups of 2. Group 0 = {5, 0}: the single best expert; group 1 = {4, 4}: the
// best pair. Group max (V2, no bias) keeps group 0 first; top-2 sum (V3, with a bias) keeps
// group 1 first. With topk_group 2 the second group is group 2 = {3, 3.5} in both rules.
TEST(MoeRouting, GroupLimitedMaxVersusTopTwoSum) {
  ModelConfig c = moe_config(8, 2);
  c.n_group = 4;
  c.topk_group = 1;
  c.scoring_func = "sigmoid";
  const std::vector<float> logits = {5.0f, 0.0f, 4.0f, 4.0f, 3.0f, 3.5f, -5.0f, -5.0f};
  const Routing by_max = blocks::route(rows({logits}), c, {});
  const Routing by_sum = blocks::route(rows({logits}), c, std::vector<float>(8, 0.0f));
  print("groups by max", by_max);
  print("groups by top-2 sum", by_sum);
  EXPECT_EQ(by_max.experts, (std::vector<int32_t>{0, 1}));  // only group 0 survives
  EXPECT_EQ(by_sum.experts, (std::vector<int32_t>{2, 3}));  // only group 1 survives
  c.topk_group = 2;
  const Routing two = blocks::route(rows({logits}), c, {});
  print("two groups by max", two);
  EXPECT_EQ(two.experts, (std::vector<int32_t>{0, 2}));  // groups 0 and 1 survive (max 5, 4)
  // Without groups the same logits give the plain top-2.
  c.n_group = 0;
  EXPECT_EQ(blocks::route(rows({logits}), c, {}).experts, (std::vector<int32_t>{0, 2}));
}

TEST(MoeRouting, TiesGoToTheLowerExpert) {
  ModelConfig c = moe_config(6, 3);
  const Routing r = blocks::route(rows({{1.0f, 2.0f, 2.0f, 1.0f, 2.0f, 2.0f}}), c, {});
  print("ties", r);
  EXPECT_EQ(r.experts, (std::vector<int32_t>{1, 2, 4}));
  c.n_group = 3;
  c.topk_group = 2;  // groups {1,2} {2,1} {2,2}: max ties everywhere -> groups 0 and 1
  c.n_experts_used = 2;
  EXPECT_EQ(blocks::route(rows({{1.0f, 2.0f, 2.0f, 1.0f, 2.0f, 2.0f}}), c, {}).experts,
            (std::vector<int32_t>{1, 2}));
}

TEST(MoeRouting, EveryTokenIsRoutedOnItsOwn) {
  ModelConfig c = moe_config(4, 1);
  const Routing r = blocks::route(rows({{3, 0, 0, 0}, {0, 0, 0, 3}, {0, 3, 0, 0}}), c, {});
  EXPECT_EQ(r.n_tokens, 3);
  EXPECT_EQ(r.experts, (std::vector<int32_t>{0, 3, 1}));
}

TEST(MoeRouting, BadConfigsFailWithTheirNumbers) {
  ModelConfig c = moe_config(4, 5);
  EXPECT_THROW(blocks::route(rows({{0, 0, 0, 0}}), c, {}), Error);
  c = moe_config(4, 2);
  c.scoring_func = "softplus";
  EXPECT_THROW(blocks::route(rows({{0, 0, 0, 0}}), c, {}), Error);
  c = moe_config(4, 2);
  EXPECT_THROW(blocks::route(rows({{0, 0, 0}}), c, {}), Error);          // 3 logits for 4 experts
  EXPECT_THROW(blocks::route(rows({{0, 0, 0, 0}}), c, {1, 2}), Error);   // bias of the wrong size
  c.n_group = 3;
  c.topk_group = 1;
  EXPECT_THROW(blocks::route(rows({{0, 0, 0, 0}}), c, {}), Error);       // 4 experts, 3 groups
}

// Random f32 MoE weights (router, stacked experts, a shared expert with its sigmoid gate) that
// tests can poison.
struct RandomMoe {
  int64_t n, hidden, ff;
  std::vector<std::vector<float>> store;
  std::vector<TensorView> views;
  blocks::MoeWeights m;

  RandomMoe(int64_t n_, int64_t hidden_, int64_t ff_, uint32_t seed) : n(n_), hidden(hidden_), ff(ff_) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 0.5f);
    store.reserve(8);
    views.reserve(8);
    auto tensor = [&](const char* name, std::vector<int64_t> shape) -> const TensorView* {
      int64_t count = 1;
      for (int64_t d : shape) count *= d;
      store.emplace_back(static_cast<size_t>(count));
      for (float& x : store.back()) x = dist(rng);
      TensorView t;
      t.name = name;
      t.shape = shape;
      t.data = reinterpret_cast<const uint8_t*>(store.back().data());
      t.nbytes = static_cast<uint64_t>(count) * 4;
      views.push_back(t);
      return &views.back();
    };
    m.router = tensor("router", {n, hidden});
    m.gate_exps = tensor("gate_exps", {n, ff, hidden});
    m.up_exps = tensor("up_exps", {n, ff, hidden});
    m.down_exps = tensor("down_exps", {n, hidden, ff});
    m.shared.gate.weight = tensor("gate_shexp", {ff, hidden});
    m.shared.up.weight = tensor("up_shexp", {ff, hidden});
    m.shared.down.weight = tensor("down_shexp", {hidden, ff});
    m.shared_gate = tensor("gate_inp_shexp", {hidden});
  }
  // Fills expert e's gate, up and down matrices with NaN.
  void poison(int64_t e) {
    for (int i = 1; i <= 3; ++i) {
      const int64_t size = ff * hidden;
      std::fill_n(store[i].begin() + e * size, size, std::nanf(""));
    }
  }
};

// An expert no token chose is never read: its weights are NaN and the output stays the same.
TEST(MoeFfn, UnchosenExpertsAreNeverRead) {
  ModelConfig c = moe_config(16, 2);
  c.hidden_size = 8;
  RandomMoe moe(16, 8, 4, 5);
  Activations x(2, 8);
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& v : x.data) v = dist(rng);
  ThreadPool pool(2);
  Routing routing;
  const Activations before = blocks::moe_ffn(x, moe.m, c, pool, &routing);
  std::vector<bool> chosen(16, false);
  for (int32_t e : routing.experts) chosen[e] = true;
  int poisoned = 0;
  for (int64_t e = 0; e < 16; ++e)
    if (!chosen[e]) moe.poison(e), ++poisoned;
  const Activations after = blocks::moe_ffn(x, moe.m, c, pool);
  std::printf("%d of 16 experts unchosen and poisoned with NaN\n", poisoned);
  ASSERT_GE(poisoned, 12);
  for (size_t i = 0; i < before.data.size(); ++i) ASSERT_EQ(before.data[i], after.data[i]) << "element " << i;
}

// moe_ffn against a plain per-token loop over the chosen experts, with a shared expert and its
// sigmoid gate: grouping tokens by expert must not change the result.
TEST(MoeFfn, GroupedExpertsEqualAPerTokenLoop) {
  const int64_t n = 6, k = 2, hidden = 8, ff = 4, tokens = 5;
  ModelConfig c = moe_config(n, k);
  c.norm_topk_prob = true;
  RandomMoe moe(n, hidden, ff, 3);
  const blocks::MoeWeights& m = moe.m;
  std::mt19937 rng(4);
  std::normal_distribution<float> dist(0.0f, 0.5f);
  auto random = [&](size_t count) {
    std::vector<float> v(count);
    for (float& x : v) x = dist(rng);
    return v;
  };
  Activations x(tokens, hidden);
  x.data = random(static_cast<size_t>(tokens * hidden));
  ThreadPool pool(2);
  Routing routing;
  const Activations y = blocks::moe_ffn(x, m, c, pool, &routing);
  const std::set<int32_t> active(routing.experts.begin(), routing.experts.end());
  ASSERT_GE(active.size(), 4u) << "the batch should take the whole-experts-per-thread path";
  // One token at a time (2 active experts < 2 per thread: the row-split path) gives the same rows
  // as the batch (whole experts per thread).
  double max_path_diff = 0;
  for (int64_t t = 0; t < tokens; ++t) {
    Activations one(1, hidden);
    std::copy_n(x.row(t), hidden, one.row(0));
    const Activations y1 = blocks::moe_ffn(one, m, c, pool);
    for (int64_t o = 0; o < hidden; ++o) max_path_diff = std::max(max_path_diff, double(std::abs(y1.row(0)[o] - y.row(t)[o])));
  }
  std::printf("moe_ffn one token at a time vs batched: max abs difference %.3g\n", max_path_diff);
  EXPECT_LT(max_path_diff, 1e-6);

  auto mat = [](const TensorView* t, int64_t offset) { return reinterpret_cast<const float*>(t->data) + offset; };
  auto swiglu = [&](const float* gate, const float* up, const float* down, int64_t width, const float* in,
                    std::vector<double>& out, double scale) {
    std::vector<float> h(static_cast<size_t>(width));
    for (int64_t i = 0; i < width; ++i)
      h[i] = silu(dot(gate + i * hidden, in, hidden)) * dot(up + i * hidden, in, hidden);
    for (int64_t o = 0; o < hidden; ++o) out[o] += scale * dot(down + o * width, h.data(), width);
  };
  double max_err = 0;
  for (int64_t t = 0; t < tokens; ++t) {
    std::vector<float> logits(static_cast<size_t>(n));
    for (int64_t e = 0; e < n; ++e) logits[e] = dot(mat(m.router, e * hidden), x.row(t), hidden);
    const auto p = softmax_of(logits);
    std::vector<int32_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
    ASSERT_EQ(routing.experts[t * k], order[0]);
    ASSERT_EQ(routing.experts[t * k + 1], order[1]);
    const double sum = p[order[0]] + p[order[1]];
    std::vector<double> want(static_cast<size_t>(hidden), 0.0);
    for (int64_t s = 0; s < k; ++s) {
      const int32_t e = order[s];
      swiglu(mat(m.gate_exps, e * ff * hidden), mat(m.up_exps, e * ff * hidden), mat(m.down_exps, e * hidden * ff),
             ff, x.row(t), want, p[e] / sum);
    }
    const double gate = sigmoid(dot(mat(m.shared_gate, 0), x.row(t), hidden));
    swiglu(mat(m.shared.gate.weight, 0), mat(m.shared.up.weight, 0), mat(m.shared.down.weight, 0), ff, x.row(t), want,
           gate);
    for (int64_t o = 0; o < hidden; ++o) max_err = std::max(max_err, std::abs(want[o] - y.row(t)[o]));
  }
  std::printf("moe_ffn vs per-token loop: max abs error %.3g over %lld tokens\n", max_err,
              static_cast<long long>(tokens));
  EXPECT_LT(max_err, 1e-5);
}

}  // namespace
}  // namespace dragon
