#include "kernels/attention.h"

#include <algorithm>

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
                 float* out, std::vector<float>& scores) {
  scores.resize(static_cast<size_t>(n_pos));
  thread_local std::vector<float> row;
  for (int64_t p = 0; p < n_pos; ++p)
    scores[p] = dot(q, cache_row(kv.k, p, kv.k_stride, head_dim, kv.type, row), head_dim) * scale;
  softmax(scores.data(), n_pos);
  std::fill(out, out + v_dim, 0.0f);
  for (int64_t p = 0; p < n_pos; ++p) axpy(scores[p], cache_row(kv.v, p, kv.v_stride, v_dim, kv.type, row), out, v_dim);
}

}  // namespace dragon
