#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/generation.h"
#include "util/error.h"

namespace dragon {

namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

}  // namespace

Rng::Rng(uint64_t seed) {
  for (uint64_t& s : s_) s = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

Sampler::Sampler(SamplingParams params, int64_t n_vocab) : params_(std::move(params)), n_vocab_(n_vocab), rng_(params_.seed) {
  const SamplingParams& p = params_;
  if (n_vocab <= 0) fail("sampler: vocabulary size {} must be positive", n_vocab);
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature)) fail("sampler: temperature {} must be >= 0", p.temperature);
  if (p.top_k < 0) fail("sampler: top_k {} must be >= 0", p.top_k);
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) fail("sampler: top_p {} must be in (0, 1]", p.top_p);
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) fail("sampler: min_p {} must be in [0, 1]", p.min_p);
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty))
    fail("sampler: repetition_penalty {} must be > 0", p.repetition_penalty);
  if (!std::isfinite(p.presence_penalty)) fail("sampler: presence_penalty {} must be finite", p.presence_penalty);
  if (!std::isfinite(p.frequency_penalty)) fail("sampler: frequency_penalty {} must be finite", p.frequency_penalty);
  for (const auto& [id, bias] : p.logit_bias) {
    if (id < 0 || id >= n_vocab) fail("sampler: logit_bias token {} is outside the vocabulary [0, {})", id, n_vocab);
    if (std::isnan(bias)) fail("sampler: logit_bias of token {} is NaN", id);
  }
  seen_.assign(static_cast<size_t>(n_vocab), 0);
  generated_count_.assign(static_cast<size_t>(n_vocab), 0);
  order_.reserve(static_cast<size_t>(n_vocab));
  candidates_.reserve(static_cast<size_t>(n_vocab));
}

void Sampler::add_prompt(const std::vector<int32_t>& tokens) {
  for (int32_t id : tokens) {
    if (id < 0 || id >= n_vocab_) fail("sampler: prompt token {} is outside the vocabulary [0, {})", id, n_vocab_);
    if (!seen_[id]) seen_[id] = 1, seen_ids_.push_back(id);
  }
}

void Sampler::accept(int32_t id) {
  if (id < 0 || id >= n_vocab_) fail("sampler: token {} is outside the vocabulary [0, {})", id, n_vocab_);
  if (!seen_[id]) seen_[id] = 1, seen_ids_.push_back(id);
  if (generated_count_[id]++ == 0) generated_ids_.push_back(id);
}

const float* Sampler::adjusted_logits(const float* logits) {
  const SamplingParams& p = params_;
  if (!p.has_logit_changes()) return logits;
  work_.assign(logits, logits + n_vocab_);
  for (const auto& [id, bias] : p.logit_bias) work_[id] = bias <= -100.0f ? kNegInf : work_[id] + bias;
  if (p.repetition_penalty != 1.0f)
    for (int32_t id : seen_ids_) {
      float& l = work_[id];
      l = l > 0.0f ? l / p.repetition_penalty : l * p.repetition_penalty;
    }
  if (p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f)
    for (int32_t id : generated_ids_)
      work_[id] -= p.presence_penalty + p.frequency_penalty * static_cast<float>(generated_count_[id]);
  return work_.data();
}

// A strict total order (logit, then id) so that sorting gives the same result with any
// standard library.
bool Sampler::less_likely(int32_t a, int32_t b) const {
  return current_[a] < current_[b] || (current_[a] == current_[b] && a > b);
}

const std::vector<Candidate>& Sampler::distribution(const float* logits) {
  const SamplingParams& p = params_;
  const float* l = adjusted_logits(logits);
  current_ = l;
  candidates_.clear();
  if (p.greedy()) {
    const int32_t best = argmax(l, n_vocab_);
    if (l[best] == kNegInf) fail("sampler: every token is banned");
    candidates_.push_back({best, 1.0});
    return candidates_;
  }
  order_.clear();
  for (int32_t id = 0; id < n_vocab_; ++id)
    if (l[id] > kNegInf && !std::isnan(l[id])) order_.push_back(id);
  if (order_.empty()) fail("sampler: every token is banned");
  const auto more_likely = [this](int32_t a, int32_t b) { return less_likely(b, a); };
  const bool truncating = p.top_k > 0 || p.top_p < 1.0f || p.min_p > 0.0f;

  // Top-k: the k most likely (temperature does not change the order).
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < order_.size()) {
    std::nth_element(order_.begin(), order_.begin() + p.top_k, order_.end(), more_likely);
    order_.resize(static_cast<size_t>(p.top_k));
  }
  // Softmax of logits / T over the top-k set; top-p measures its mass against this total.
  const double inv_t = 1.0 / p.temperature;
  float max_logit = kNegInf;
  for (int32_t id : order_) max_logit = std::max(max_logit, l[id]);
  const auto weight = [&](int32_t id) { return std::exp((static_cast<double>(l[id]) - max_logit) * inv_t); };
  double total = 0.0;
  for (int32_t id : order_) total += weight(id);
  // Min-p: prob >= min_p * max prob, i.e. weight >= min_p (the max weight is 1). It keeps a
  // prefix of the sorted order, like top-k and top-p, so filtering first (to sort less) keeps
  // the same set as HF's top-p-then-min-p.
  if (p.min_p > 0.0f)
    order_.erase(std::remove_if(order_.begin(), order_.end(), [&](int32_t id) { return weight(id) < p.min_p; }),
                 order_.end());
  // Sort, then top-p: the smallest most-likely-first prefix whose mass reaches top_p. Only as
  // much of the order as top-p needs is sorted (a head of 64, 512, ... tokens).
  size_t kept = order_.size();
  if (truncating) {
    size_t head = std::min<size_t>(order_.size(), p.top_p < 1.0f ? 64 : order_.size());
    for (;;) {
      std::partial_sort(order_.begin(), order_.begin() + head, order_.end(), more_likely);
      if (p.top_p >= 1.0f) break;
      double mass = 0.0;
      size_t i = 0;
      for (; i < head; ++i) {
        mass += weight(order_[i]) / total;
        if (mass >= p.top_p) break;
      }
      if (i < head) {
        kept = i + 1;
        break;
      }
      if (head == order_.size()) break;  // rounding: the whole set sums to just under top_p
      head = std::min(order_.size(), head * 8);
    }
  }
  double kept_total = 0.0;
  for (size_t i = 0; i < kept; ++i) kept_total += weight(order_[i]);
  for (size_t i = 0; i < kept; ++i) candidates_.push_back({order_[i], weight(order_[i]) / kept_total});
  return candidates_;
}

int32_t Sampler::sample(const float* logits) {
  const std::vector<Candidate>& c = distribution(logits);
  if (c.size() == 1) return c[0].id;
  const double target = rng_.uniform();
  double cumulative = 0.0;
  for (const Candidate& k : c) {
    cumulative += k.prob;
    if (target < cumulative) return k.id;
  }
  return c.back().id;  // rounding left the sum just under 1
}

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
}

std::string StopMatcher::push(const std::string& piece) {
  if (stopped_) return {};
  pending_ += piece;
  // The earliest complete stop string ends the text.
  size_t stop_at = std::string::npos;
  for (const std::string& s : stops_) stop_at = std::min(stop_at, pending_.find(s));
  if (stop_at != std::string::npos) {
    stopped_ = true;
    std::string out = pending_.substr(0, stop_at);
    pending_.clear();
    return out;
  }
  // Hold back the longest tail that is a prefix of some stop string.
  size_t hold = 0;
  for (const std::string& s : stops_)
    for (size_t n = std::min(s.size() - 1, pending_.size()); n > hold; --n)
      if (pending_.compare(pending_.size() - n, n, s, 0, n) == 0) {
        hold = n;
        break;
      }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopMatcher::finish() {
  std::string out;
  out.swap(pending_);
  return stopped_ ? std::string() : out;
}

}  // namespace dragon
