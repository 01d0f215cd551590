#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "kernels/attention_internal.h"
#include "kernels/vector_ops.h"
#include "tensor/half.h"
#include "util/error.h"

namespace dragon {

namespace attention_internal {

namespace {

// The cache row `offset` elements after `base` as f32: an f32 row in place, an f16 row widened
// into `buffer`.
const float* cache_row(const void* base, int64_t offset, int64_t n, CacheType type, float* buffer) {
  if (type == CacheType::F32) return static_cast<const float*>(base) + offset;
  const uint16_t* src = static_cast<const uint16_t*>(base) + offset;
  for (int64_t i = 0; i < n; ++i) buffer[i] = f16_to_f32(src[i]);
  return buffer;
}

float alibi_bias(const float* slopes, int64_t g, int64_t p, int64_t n_pos) {
  return slopes ? slopes[g] * static_cast<float>(p - (n_pos - 1)) : 0.0f;
}

}  // namespace

void attend_reference(const float* q, int64_t n_group, const KVSpan& kv, int64_t n_pos, int64_t head_dim,
                      int64_t v_dim, float scale, float* out, const float* alibi_slopes) {
  std::vector<float> row(static_cast<size_t>(std::max(head_dim, v_dim)));
  std::vector<double> scores(static_cast<size_t>(n_pos));
  for (int64_t g = 0; g < n_group; ++g) {
    const float* qg = q + g * head_dim;
    double max = -std::numeric_limits<double>::infinity();
    for (int64_t p = 0; p < n_pos; ++p) {
      const float* k = cache_row(kv.k, kv.row_offset(p, kv.k_stride), head_dim, kv.type, row.data());
      double s = 0;
      for (int64_t i = 0; i < head_dim; ++i) s += static_cast<double>(qg[i]) * k[i];
      scores[p] = s * scale + alibi_bias(alibi_slopes, g, p, n_pos);
      max = std::max(max, scores[p]);
    }
    double sum = 0;
    for (int64_t p = 0; p < n_pos; ++p) sum += scores[p] = std::exp(scores[p] - max);
    std::vector<double> acc(static_cast<size_t>(v_dim), 0.0);
    for (int64_t p = 0; p < n_pos; ++p) {
      const float* v = cache_row(kv.v, kv.row_offset(p, kv.v_stride), v_dim, kv.type, row.data());
      for (int64_t i = 0; i < v_dim; ++i) acc[i] += scores[p] / sum * v[i];
    }
    for (int64_t i = 0; i < v_dim; ++i) out[g * v_dim + i] = static_cast<float>(acc[i]);
  }
}

// The online softmax (Milakov & Gimelshein 2018; FlashAttention's inner loop) per head:
// running max m, running sum l of exp(s - m), and the unnormalised output acc; a block whose
// maximum exceeds m rescales l and acc by exp(m_old - m_new) before adding its own terms.
void attend_portable(const float* q, int64_t n_group, const KVSpan& kv, int64_t n_pos, int64_t head_dim,
                     int64_t v_dim, float scale, float* out, const float* alibi_slopes) {
  thread_local std::vector<float> row;  // an f16 row widened; reused, not allocated per call
  row.resize(static_cast<size_t>(std::max(head_dim, v_dim)));
  float weights[kMaxGroup][kBlock];
  float max[kMaxGroup], sum[kMaxGroup];
  std::fill_n(max, n_group, -std::numeric_limits<float>::infinity());
  std::fill_n(sum, n_group, 0.0f);
  std::fill_n(out, n_group * v_dim, 0.0f);
  for (int64_t start = 0; start < n_pos; start += kBlock) {
    const int64_t n = std::min(kBlock, n_pos - start);
    // Scores: each K row once for all heads of the group.
    for (int64_t j = 0; j < n; ++j) {
      const float* k = cache_row(kv.k, kv.row_offset(start + j, kv.k_stride), head_dim, kv.type, row.data());
      for (int64_t g = 0; g < n_group; ++g)
        weights[g][j] = dot(q + g * head_dim, k, head_dim) * scale + alibi_bias(alibi_slopes, g, start + j, n_pos);
    }
    for (int64_t g = 0; g < n_group; ++g) {
      const float block_max = *std::max_element(weights[g], weights[g] + n);
      if (block_max > max[g]) {
        const float rescale = std::exp(max[g] - block_max);  // 0 on the first block
        sum[g] *= rescale;
        for (int64_t i = 0; i < v_dim; ++i) out[g * v_dim + i] *= rescale;
        max[g] = block_max;
      }
      for (int64_t j = 0; j < n; ++j) sum[g] += weights[g][j] = std::exp(weights[g][j] - max[g]);
    }
    // Values: each V row once for all heads of the group.
    for (int64_t j = 0; j < n; ++j) {
      const float* v = cache_row(kv.v, kv.row_offset(start + j, kv.v_stride), v_dim, kv.type, row.data());
      for (int64_t g = 0; g < n_group; ++g) axpy(weights[g][j], v, out + g * v_dim, v_dim);
    }
  }
  for (int64_t g = 0; g < n_group; ++g) {
    const float inv = 1.0f / sum[g];
    for (int64_t i = 0; i < v_dim; ++i) out[g * v_dim + i] *= inv;
  }
}

#if !(defined(__x86_64__) && defined(__GNUC__))
void attend_avx512(const float*, int64_t, const KVSpan&, int64_t, int64_t, int64_t, float, float*, const float*) {
  fail("attention: the AVX-512 kernel is not built for this CPU architecture");
}
#endif

}  // namespace attention_internal

namespace {

bool cpu_has_avx512() {
#if defined(__x86_64__) && defined(__GNUC__)
  // F for the arithmetic, BW+VL for masked 16-bit loads of f16 tails (vcvtph2ps needs F only).
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

AttentionKernel choose_kernel() {
  if (const char* forced = std::getenv("DRAGON_ATTENTION")) {
    for (AttentionKernel k : {AttentionKernel::Reference, AttentionKernel::Portable, AttentionKernel::Avx512})
      if (attention_kernel_name(k) == forced) {
        if (!attention_kernel_available(k)) fail("DRAGON_ATTENTION={}: this CPU cannot run it", forced);
        return k;
      }
    fail("DRAGON_ATTENTION={}: expected reference, portable or avx512", forced);
  }
  return cpu_has_avx512() ? AttentionKernel::Avx512 : AttentionKernel::Portable;
}

}  // namespace

bool attention_kernel_available(AttentionKernel kernel) {
  return kernel != AttentionKernel::Avx512 || cpu_has_avx512();
}

AttentionKernel best_attention_kernel() {
  static const AttentionKernel kernel = choose_kernel();
  return kernel;
}

std::string attention_kernel_name(AttentionKernel kernel) {
  switch (kernel) {
    case AttentionKernel::Reference: return "reference";
    case AttentionKernel::Portable: return "portable";
    case AttentionKernel::Avx512: return "avx512";
  }
  return "?";
}

void attend_group_using(AttentionKernel kernel, const float* q, int64_t n_group, const KVSpan& kv, int64_t n_pos,
                        int64_t head_dim, int64_t v_dim, float scale, float* out, const float* alibi_slopes) {
  if (n_pos <= 0) {
    std::fill_n(out, n_group * v_dim, 0.0f);
    return;
  }
  using namespace attention_internal;
  // Groups wider than the kernels' score tiles (e.g. MLA: every head shares the one latent)
  // go in slices; each slice still reads the cache once.
  for (int64_t g0 = 0; g0 < n_group; g0 += kMaxGroup) {
    const int64_t n = std::min(kMaxGroup, n_group - g0);
    const float* qs = q + g0 * head_dim;
    float* os = out + g0 * v_dim;
    const float* slopes = alibi_slopes ? alibi_slopes + g0 : nullptr;
    switch (kernel) {
      case AttentionKernel::Reference: attend_reference(qs, n, kv, n_pos, head_dim, v_dim, scale, os, slopes); break;
      case AttentionKernel::Portable: attend_portable(qs, n, kv, n_pos, head_dim, v_dim, scale, os, slopes); break;
      case AttentionKernel::Avx512: attend_avx512(qs, n, kv, n_pos, head_dim, v_dim, scale, os, slopes); break;
    }
  }
}

void attend_group(const float* q, int64_t n_group, const KVSpan& kv, int64_t n_pos, int64_t head_dim, int64_t v_dim,
                  float scale, float* out, const float* alibi_slopes) {
  attend_group_using(best_attention_kernel(), q, n_group, kv, n_pos, head_dim, v_dim, scale, out, alibi_slopes);
}

void attend_head(const float* q, const KVSpan& kv, int64_t n_pos, int64_t head_dim, int64_t v_dim, float scale,
                 float* out, std::vector<float>& scores, float alibi_slope) {
  attend_group(q, 1, kv, n_pos, head_dim, v_dim, scale, out, alibi_slope != 0.0f ? &alibi_slope : nullptr);
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
