#include "kernels/attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/softmax.h"
#include "kernels/vector_ops.h"
#include "tensor/half.h"

namespace dragon {

namespace {

// The f16 cache row widened into `buffer`; an f32 row is used in place.
const float* cache_row(const void* base, int64_t index, int64_t stride, int64_t n, CacheType type,
                       std::vector<float>& buffer) {
  if (type == CacheType::F32) return static_cast<const float*>(base) + index * stride;
  const uint16_t* src = static_cast<const uint16_t*>(base) + index * stride;
  buffer.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) buffer[i] = f16_to_f32(src[i]);
  return buffer.data();
}

}  // namespace

void attend_head(const float* q, const KVSpan& kv, int64_t n_pos, int64_t head_dim, int64_t v_dim, float scale,
                 float* out, std::vector<float>& scores, float alibi_slope) {
  scores.resize(static_cast<size_t>(n_pos));
  thread_local std::vector<float> row;
  for (int64_t p = 0; p < n_pos; ++p)
    scores[p] = dot(q, cache_row(kv.k, p, kv.k_stride, head_dim, kv.type, row), head_dim) * scale;
  if (alibi_slope != 0.0f)
    for (int64_t p = 0; p < n_pos; ++p) scores[p] += alibi_slope * static_cast<float>(p - (n_pos - 1));
  softmax(scores.data(), n_pos);
  std::fill(out, out + v_dim, 0.0f);
  for (int64_t p = 0; p < n_pos; ++p) axpy(scores[p], cache_row(kv.v, p, kv.v_stride, v_dim, kv.type, row), out, v_dim);
}

std::vector<float> alibi_slopes(int64_t n_heads, double max_bias) {
  int64_t pow2 = 1;
  while (pow2 * 2 <= n_heads) pow2 *= 2;
  const double m0 = std::pow(2.0, -max_bias / pow2), m1 = std::pow(2.0, -max_bias / 2 / pow2);
  std::vector<float> slopes(n_heads);
  for (int64_t h = 0; h < n_heads; ++h)
    slopes[h] = static_cast<float>(h < pow2 ? std::pow(m0, h + 1) : std::pow(m1, 2 * (h - pow2) + 1));
  return slopes;
}

}  // namespace dragon
