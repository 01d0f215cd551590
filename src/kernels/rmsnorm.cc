#include "kernels/rmsnorm.h"

#include <cmath>

#include "util/error.h"

namespace dragon {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  // Sum of squares in double: the mean must not depend on the summation order we chose.
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(n) + eps));
  if (w) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
  }
}

void rms_norm_rows(const Activations& x, const float* w, Activations& y, float eps) {
  if (y.rows != x.rows || y.cols != x.cols) y = Activations(x.rows, x.cols);
  for (int64_t r = 0; r < x.rows; ++r) rms_norm(x.row(r), w, y.row(r), x.cols, eps);
}

void rms_norm_heads(Activations& x, const float* w, int64_t head_dim, float eps) {
  if (head_dim <= 0 || x.cols % head_dim != 0) fail("rms_norm_heads: row of {} is not a whole number of heads of {}", x.cols, head_dim);
  for (int64_t r = 0; r < x.rows; ++r)
    for (int64_t h = 0; h < x.cols / head_dim; ++h) {
      float* head = x.row(r) + h * head_dim;
      rms_norm(head, w, head, head_dim, eps);
    }
}

}  // namespace dragon
