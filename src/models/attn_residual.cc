#include "models/attn_residual.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace dragon::blocks {

namespace {

// sum_i x[i] / rms(x) * w[i]
float score(const float* x, const float* w, int64_t n, double eps) {
  double ss = 0, dot = 0;
  for (int64_t i = 0; i < n; ++i) {
    ss += static_cast<double>(x[i]) * x[i];
    dot += static_cast<double>(x[i]) * w[i];
  }
  return static_cast<float>(dot / std::sqrt(ss / static_cast<double>(n) + eps));
}

}  // namespace

Activations attn_residual_mix(const Activations& current, const std::vector<Activations>& bank,
                              const std::vector<float>& w, double eps) {
  if (bank.empty()) return current;
  const int64_t n = current.rows, hidden = current.cols;
  if (static_cast<int64_t>(w.size()) != hidden) fail("attention residual score of {} values for hidden {}", w.size(), hidden);
  for (const Activations& b : bank)
    if (b.rows != n || b.cols != hidden) fail("attention residual checkpoint of {} x {} for {} x {}", b.rows, b.cols, n, hidden);
  const size_t k = bank.size() + 1;
  Activations out(n, hidden);
  std::vector<float> p(k);
  for (int64_t t = 0; t < n; ++t) {
    auto value = [&](size_t j) { return j + 1 < k ? bank[j].row(t) : current.row(t); };
    for (size_t j = 0; j < k; ++j) p[j] = score(value(j), w.data(), hidden, eps);
    const float top = *std::max_element(p.begin(), p.end());
    float sum = 0;
    for (float& v : p) sum += (v = std::exp(v - top));
    float* o = out.row(t);
    for (size_t j = 0; j < k; ++j) {
      const float pj = p[j] / sum;
      const float* v = value(j);
      for (int64_t i = 0; i < hidden; ++i) o[i] += pj * v[i];
    }
  }
  return out;
}

}  // namespace dragon::blocks
