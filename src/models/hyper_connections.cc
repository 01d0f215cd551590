#include "models/hyper_connections.h"

#include <cmath>

#include "kernels/matmul.h"
#include "util/error.h"

namespace dragon::blocks {

namespace {

float sigmoid(double v) { return static_cast<float>(1.0 / (1.0 + std::exp(-v))); }

}  // namespace

HcWeights load_hc(const Weights& w, const std::string& prefix, const ModelConfig& c, int64_t n_gates) {
  const int64_t hc = c.hc_mult;
  HcWeights h;
  h.fn = &w.get(prefix + "fn.weight");
  const std::vector<int64_t> shape = {n_gates * hc, hc * c.hidden_size};
  if (h.fn->shape != shape)
    fail("tensor {} has shape {}, expected {}", h.fn->name, shape_string(h.fn->shape), shape_string(shape));
  h.base = w.f32(prefix + "base.weight", n_gates * hc);
  h.scale = w.f32(prefix + "scale.weight", n_gates);
  return h;
}

Activations hc_expand(const Activations& x, int64_t hc) {
  Activations s(x.rows, hc * x.cols);
  for (int64_t t = 0; t < x.rows; ++t)
    for (int64_t i = 0; i < hc; ++i) std::copy_n(x.row(t), x.cols, s.row(t) + i * x.cols);
  return s;
}

Activations hc_pre(const Activations& streams, const HcWeights& w, const ModelConfig& c, ThreadPool& pool,
                   Activations* post) {
  const int64_t hc = c.hc_mult, hidden = streams.cols / hc, n = streams.rows;
  const int64_t n_gates = static_cast<int64_t>(w.scale.size());
  if (post && n_gates != 2) fail("hyper-connections: a post gate needs a two-gate hc_fn");

  Activations normed(n, streams.cols);  // RMSNorm over all hc * hidden values, no weight
  for (int64_t t = 0; t < n; ++t) {
    const float* s = streams.row(t);
    double ss = 0.0;
    for (int64_t j = 0; j < streams.cols; ++j) ss += static_cast<double>(s[j]) * s[j];
    const float r = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(streams.cols) + c.norm_eps));
    for (int64_t j = 0; j < streams.cols; ++j) normed.row(t)[j] = s[j] * r;
  }
  Activations mix;
  matmul(normed, *w.fn, mix, pool);  // [n, n_gates * hc]

  Activations x(n, hidden);
  if (post) *post = Activations(n, hc);
  for (int64_t t = 0; t < n; ++t) {
    const float* m = mix.row(t);
    float* out = x.row(t);
    for (int64_t i = 0; i < hc; ++i) {
      const float pre = sigmoid(static_cast<double>(m[i]) * w.scale[0] + w.base[i]) + static_cast<float>(c.hc_eps);
      const float* s = streams.row(t) + i * hidden;
      for (int64_t j = 0; j < hidden; ++j) out[j] += pre * s[j];
      if (post)
        post->row(t)[i] = static_cast<float>(c.hc_magnitude) *
                              sigmoid(static_cast<double>(m[hc + i]) * w.scale[1] + w.base[hc + i]) +
                          static_cast<float>(c.hc_eps);
    }
  }
  return x;
}

void hc_post(Activations& streams, const Activations& out, const Activations& post) {
  const int64_t hc = post.cols, hidden = out.cols;
  for (int64_t t = 0; t < streams.rows; ++t)
    for (int64_t i = 0; i < hc; ++i) {
      const float p = post.row(t)[i];
      float* s = streams.row(t) + i * hidden;
      const float* o = out.row(t);
      for (int64_t j = 0; j < hidden; ++j) s[j] += p * o[j];
    }
}

}  // namespace dragon::blocks
