// The sampler on hand-made logits: greedy, the temperature distribution, each truncation, the
// penalties, logit bias, seeding, and stop strings across token boundaries.
#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "runtime/generation.h"
#include "util/error.h"

namespace dragon {
namespace {

// Logits whose softmax (T = 1) is exactly `probs`.
std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

std::set<int32_t> kept_ids(const std::vector<Candidate>& c) {
  std::set<int32_t> ids;
  for (const Candidate& k : c) ids.insert(k.id);
  return ids;
}

SamplingParams sampling(float temperature, uint64_t seed = 1) {
  SamplingParams p;
  p.temperature = temperature;
  p.seed = seed;
  return p;
}

TEST(SamplerTest, GreedyIsArgmaxFirstOnTies) {
  Rng rng(7);
  int checked = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> l(50);
    for (float& v : l) v = static_cast<float>(static_cast<int>(rng.uniform() * 8));  // many ties
    Sampler s(SamplingParams{}, 50);
    const int32_t got = s.sample(l.data());
    EXPECT_EQ(got, argmax(l.data(), 50));
    EXPECT_EQ(got, std::max_element(l.begin(), l.end()) - l.begin());  // max_element: first of the largest
    ++checked;
  }
  std::printf("greedy == argmax on %d rows with ties\n", checked);
}

TEST(SamplerTest, TemperatureFrequenciesMatchSoftmax) {
  const std::vector<float> l = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, -3.0f};
  const float t = 0.7f;
  std::vector<double> expected(l.size());
  double total = 0;
  for (size_t i = 0; i < l.size(); ++i) total += expected[i] = std::exp(l[i] / t);
  for (double& e : expected) e /= total;
  Sampler s(sampling(t, 1234), static_cast<int64_t>(l.size()));
  const int draws = 20000;
  std::vector<int> count(l.size());
  for (int i = 0; i < draws; ++i) ++count[s.sample(l.data())];
  double max_dev = 0, chi2 = 0;
  for (size_t i = 0; i < l.size(); ++i) {
    const double f = static_cast<double>(count[i]) / draws;
    max_dev = std::max(max_dev, std::abs(f - expected[i]));
    chi2 += (count[i] - draws * expected[i]) * (count[i] - draws * expected[i]) / (draws * expected[i]);
  }
  std::printf("T=%.1f, %d draws: max |freq - softmax| = %.4f, chi-square = %.2f (5 dof, 99.9%% bound 20.5)\n", t, draws,
              max_dev, chi2);
  EXPECT_LT(max_dev, 0.015);
  EXPECT_LT(chi2, 20.5);
  // The distribution itself is softmax(logits / T).
  double dist_err = 0;
  for (const Candidate& c : s.distribution(l.data())) dist_err = std::max(dist_err, std::abs(c.prob - expected[c.id]));
  std::printf("distribution vs softmax: max abs error %.2e\n", dist_err);
  EXPECT_LT(dist_err, 1e-6);
}

TEST(SamplerTest, TopKKeepsExactlyK) {
  const std::vector<float> l = {0.1f, 3.0f, -1.0f, 2.5f, 2.5f, 0.7f, 1.9f};
  for (int32_t k : {1, 2, 3, 5}) {
    SamplingParams p = sampling(1.0f);
    p.top_k = k;
    Sampler s(p, 7);
    const auto& c = s.distribution(l.data());
    std::printf("top_k=%d keeps %zu tokens\n", k, c.size());
    ASSERT_EQ(c.size(), static_cast<size_t>(k));
    const std::vector<int32_t> by_rank = {1, 3, 4, 6, 5};  // ties: lower id first
    EXPECT_EQ(kept_ids(c), std::set<int32_t>(by_rank.begin(), by_rank.begin() + k));
  }
}

TEST(SamplerTest, TopPKeepsSmallestSetReachingMass) {
  const std::vector<float> l = logits_of({0.05, 0.5, 0.15, 0.3});
  const std::vector<std::pair<float, std::set<int32_t>>> cases = {
      {0.4f, {1}}, {0.75f, {1, 3}}, {0.81f, {1, 3, 2}}, {0.96f, {1, 3, 2, 0}}};
  for (const auto& [top_p, want] : cases) {
    SamplingParams p = sampling(1.0f);
    p.top_p = top_p;
    Sampler s(p, 4);
    const auto& c = s.distribution(l.data());
    double mass = 0;
    for (const Candidate& k : c) mass += k.prob;
    std::printf("top_p=%.2f keeps %zu tokens (renormalized mass %.6f)\n", top_p, c.size(), mass);
    EXPECT_EQ(kept_ids(c), want);
    EXPECT_NEAR(mass, 1.0, 1e-9);
  }
}

TEST(SamplerTest, TopPWorksPastTheFirstSortedHead) {
  // A flat vocabulary of 1000: top_p 0.5 must keep 500 tokens, more than the first sorted head.
  std::vector<float> l(1000, 0.0f);
  SamplingParams p = sampling(1.0f);
  p.top_p = 0.5f;
  Sampler s(p, 1000);
  const size_t kept = s.distribution(l.data()).size();
  std::printf("flat 1000-token vocabulary, top_p 0.5: %zu kept\n", kept);
  EXPECT_GE(kept, 499u);
  EXPECT_LE(kept, 501u);
}

TEST(SamplerTest, MinPCutsBelowFractionOfMax) {
  const std::vector<float> l = logits_of({0.05, 0.5, 0.15, 0.3});
  const std::vector<std::pair<float, std::set<int32_t>>> cases = {
      {0.2f, {1, 3, 2}}, {0.61f, {1}}, {0.09f, {1, 3, 2, 0}}, {0.5f, {1, 3}}};
  for (const auto& [min_p, want] : cases) {
    SamplingParams p = sampling(1.0f);
    p.min_p = min_p;
    Sampler s(p, 4);
    const auto& c = s.distribution(l.data());
    std::printf("min_p=%.2f (cut at prob %.3f) keeps %zu tokens\n", min_p, min_p * 0.5, c.size());
    EXPECT_EQ(kept_ids(c), want);
  }
}

// Logit differences recovered from the T = 1 distribution: log(p_a / p_b) = l_a - l_b.
double logit_gap(const std::vector<Candidate>& c, int32_t a, int32_t b) {
  double pa = 0, pb = 0;
  for (const Candidate& k : c) {
    if (k.id == a) pa = k.prob;
    if (k.id == b) pb = k.prob;
  }
  return std::log(pa / pb);
}

TEST(SamplerTest, RepetitionPenaltyDividesPositiveMultipliesNegative) {
  const std::vector<float> l = {2.0f, -2.0f, 1.0f, 0.0f};
  SamplingParams p = sampling(1.0f);
  p.repetition_penalty = 2.0f;
  Sampler s(p, 4);
  s.add_prompt({0, 1});  // penalized: 2 -> 1, -2 -> -4; 2 and 3 untouched
  const auto& c = s.distribution(l.data());
  const double g0 = logit_gap(c, 0, 3), g1 = logit_gap(c, 1, 3), g2 = logit_gap(c, 2, 3);
  std::printf("repetition 2.0: logits 0,1,2 relative to 3 = %.4f %.4f %.4f (want 1 -4 1)\n", g0, g1, g2);
  EXPECT_NEAR(g0, 1.0, 1e-5);
  EXPECT_NEAR(g1, -4.0, 1e-5);
  EXPECT_NEAR(g2, 1.0, 1e-5);
}

TEST(SamplerTest, PresenceAndFrequencyPenaltiesCountGeneratedTokens) {
  const std::vector<float> l = {1.0f, 1.0f, 1.0f, 1.0f};
  SamplingParams p = sampling(1.0f);
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  Sampler s(p, 4);
  s.add_prompt({3});  // the prompt does not count for OpenAI penalties
  s.accept(1);
  s.accept(2);
  s.accept(2);
  const auto& c = s.distribution(l.data());
  const double g1 = logit_gap(c, 1, 0), g2 = logit_gap(c, 2, 0), g3 = logit_gap(c, 3, 0);
  std::printf("presence 0.5 + frequency 0.25: token seen once %.4f, twice %.4f, prompt only %.4f (want -0.75 -1 0)\n", g1,
              g2, g3);
  EXPECT_NEAR(g1, -0.75, 1e-5);
  EXPECT_NEAR(g2, -1.0, 1e-5);
  EXPECT_NEAR(g3, 0.0, 1e-5);
}

TEST(SamplerTest, LogitBiasBansAndShifts) {
  const std::vector<float> l = {0.0f, 5.0f, 4.0f};
  SamplingParams g;
  g.logit_bias = {{1, -100.0f}};
  Sampler greedy(g, 3);
  EXPECT_EQ(greedy.sample(l.data()), 2);
  SamplingParams p = sampling(1.0f, 99);
  p.logit_bias = {{1, -std::numeric_limits<float>::infinity()}, {0, 4.0f}};
  Sampler s(p, 3);
  int banned = 0, zero = 0;
  for (int i = 0; i < 5000; ++i) {
    const int32_t id = s.sample(l.data());
    banned += id == 1;
    zero += id == 0;
  }
  std::printf("banned token drawn %d / 5000 times; token 0 (bias +4, now tied with 2) %d / 5000\n", banned, zero);
  EXPECT_EQ(banned, 0);
  EXPECT_NEAR(zero / 5000.0, 0.5, 0.04);
  SamplingParams all;
  all.logit_bias = {{0, -100.0f}, {1, -100.0f}, {2, -100.0f}};
  Sampler none(all, 3);
  EXPECT_THROW(none.sample(l.data()), Error);
  SamplingParams bad;
  bad.logit_bias = {{3, 1.0f}};
  EXPECT_THROW(Sampler(bad, 3), Error);
}

TEST(SamplerTest, SameSeedSameSequenceOtherSeedDifferent) {
  std::vector<float> l(32);
  for (size_t i = 0; i < l.size(); ++i) l[i] = static_cast<float>(std::sin(i * 1.3));
  auto draw = [&](uint64_t seed) {
    SamplingParams p = sampling(1.0f, seed);
    p.top_k = 20;
    p.top_p = 0.95f;
    Sampler s(p, 32);
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(s.sample(l.data()));
    return out;
  };
  const auto a = draw(42), b = draw(42), c = draw(43);
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += a[i] != c[i];
  std::printf("seed 42 twice: %s; seed 42 vs 43: %d / 200 draws differ\n", a == b ? "identical" : "DIFFERENT", differ);
  EXPECT_EQ(a, b);
  EXPECT_GT(differ, 20);
  // The generator itself: fixed outputs, so a platform that drew other numbers would fail.
  Rng rng(0);
  const uint64_t first = rng.next();
  Rng again(0);
  EXPECT_EQ(first, again.next());
  EXPECT_NE(first, Rng(1).next());
}

TEST(SamplerTest, StopStringsAcrossTokenBoundaries) {
  StopMatcher m({"STOP", "</s>"});
  std::string out;
  for (const char* piece : {"Hel", "lo S", "T", "ay S", "TO", "P world"}) {
    out += m.push(piece);
    if (m.stopped()) break;
  }
  std::printf("emitted \"%s\", stopped=%d\n", out.c_str(), m.stopped());
  EXPECT_EQ(out, "Hello STay ");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.push("more"), "");

  StopMatcher held({"</s>"});
  EXPECT_EQ(held.push("a</"), "a");  // "</" might start the stop string
  EXPECT_EQ(held.push("b"), "</b");
  EXPECT_EQ(held.push("c<"), "c");
  EXPECT_EQ(held.finish(), "<");  // generation ended: the held-back tail is text after all
  EXPECT_FALSE(held.stopped());

  StopMatcher utf8({"。\n"});
  std::string text = utf8.push("你好");
  text += utf8.push("。");
  text += utf8.push("\n再见");
  std::printf("utf-8 stop: emitted \"%s\"\n", text.c_str());
  EXPECT_EQ(text, "你好");
  EXPECT_TRUE(utf8.stopped());
}

}  // namespace
}  // namespace dragon
