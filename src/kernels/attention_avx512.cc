// attend_group with AVX-512: the blocked online softmax of attend_portable (attention.cc), with
// 16-lane dot products over head_dim, f16 cache rows widened in registers (vcvtph2ps), and a
// vector exp. Compiled for AVX-512 per function (target attribute, not a file-wide flag), so
// the rest of the binary stays portable; attention.cc calls it only when the CPU has AVX-512.
#if defined(__x86_64__) && defined(__GNUC__)

// GCC 12's intrinsic headers initialise their "undefined" vectors as `__m512 __Y = __Y;`, which
// -Wmaybe-uninitialized reports at every inlined use: a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <cstdint>
#include <limits>

#include "kernels/attention_internal.h"
#include "kernels/exp_avx512.h"

#define DRAGON_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

namespace dragon::attention_internal {

namespace {

// 16 cache values from `row` + i as f32; `mask` selects the lanes of a short tail.
DRAGON_AVX512 inline __m512 load16(const void* row, int64_t i, CacheType type, __mmask16 mask) {
  if (type == CacheType::F32) return _mm512_maskz_loadu_ps(mask, static_cast<const float*>(row) + i);
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(row) + i));
}

DRAGON_AVX512 inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
}

using simd_exp::exp_nonpositive;

// Scores of four positions for one head: four independent accumulators hide the FMA latency
// that one dot product's serial chain would expose.
DRAGON_AVX512 inline void dot4(const float* q, const char* const* k_rows, CacheType type, int64_t head_dim,
                               float* s) {
  const char* k0 = k_rows[0];
  const char* k1 = k_rows[1];
  const char* k2 = k_rows[2];
  const char* k3 = k_rows[3];
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < head_dim; i += 16) {
    const __mmask16 m = tail_mask(head_dim - i);
    const __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
    a0 = _mm512_fmadd_ps(qv, load16(k0, i, type, m), a0);
    a1 = _mm512_fmadd_ps(qv, load16(k1, i, type, m), a1);
    a2 = _mm512_fmadd_ps(qv, load16(k2, i, type, m), a2);
    a3 = _mm512_fmadd_ps(qv, load16(k3, i, type, m), a3);
  }
  s[0] = _mm512_reduce_add_ps(a0);
  s[1] = _mm512_reduce_add_ps(a1);
  s[2] = _mm512_reduce_add_ps(a2);
  s[3] = _mm512_reduce_add_ps(a3);
}

DRAGON_AVX512 inline float dot1(const float* q, const void* k, CacheType type, int64_t head_dim) {
  __m512 a = _mm512_setzero_ps();
  for (int64_t i = 0; i < head_dim; i += 16) {
    const __mmask16 m = tail_mask(head_dim - i);
    a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), load16(k, i, type, m), a);
  }
  return _mm512_reduce_add_ps(a);
}

DRAGON_AVX512 void attend_avx512_impl(const float* q, int64_t n_group, const KVSpan& kv, int64_t n_pos, int64_t head_dim,
                                 int64_t v_dim, float scale, float* out, const float* alibi_slopes) {
  alignas(64) float weights[kMaxGroup][kBlock];
  const char* k_rows[kBlock];
  const char* v_rows[kBlock];
  float max[kMaxGroup], sum[kMaxGroup];
  for (int64_t g = 0; g < n_group; ++g) {
    max[g] = -std::numeric_limits<float>::infinity();
    sum[g] = 0.0f;
    for (int64_t i = 0; i < v_dim; i += 16) _mm512_mask_storeu_ps(out + g * v_dim + i, tail_mask(v_dim - i), _mm512_setzero_ps());
  }
  for (int64_t start = 0; start < n_pos; start += kBlock) {
    const int64_t n = n_pos - start < kBlock ? n_pos - start : kBlock;
    row_addresses(kv, start, n, k_rows, v_rows);
    // Scores. The block's K rows (<= 64 x head_dim) stay in L1 across the heads of the group,
    // so memory sees each row once.
    for (int64_t g = 0; g < n_group; ++g) {
      const float* qg = q + g * head_dim;
      int64_t j = 0;
      for (; j + 4 <= n; j += 4) dot4(qg, k_rows + j, kv.type, head_dim, weights[g] + j);
      for (; j < n; ++j) weights[g][j] = dot1(qg, k_rows[j], kv.type, head_dim);
    }
    // Online softmax update per head.
    for (int64_t g = 0; g < n_group; ++g) {
      float* w = weights[g];
      const __m512 scale_v = _mm512_set1_ps(scale);
      __m512 block_max = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
      for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = tail_mask(n - j);
        __m512 s = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, w + j), scale_v);
        if (alibi_slopes) {
          // bias = slope * (p - (n_pos - 1)) for p = start + j + lane
          const __m512 lane = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
          const __m512 dist = _mm512_add_ps(lane, _mm512_set1_ps(static_cast<float>(start + j - (n_pos - 1))));
          s = _mm512_fmadd_ps(_mm512_set1_ps(alibi_slopes[g]), dist, s);
        }
        _mm512_mask_storeu_ps(w + j, m, s);
        block_max = _mm512_mask_max_ps(block_max, m, block_max, s);
      }
      const float bm = _mm512_reduce_max_ps(block_max);
      if (bm > max[g]) {
        const float rescale = max[g] == -std::numeric_limits<float>::infinity()
                                  ? 0.0f
                                  : _mm512_cvtss_f32(exp_nonpositive(_mm512_set1_ps(max[g] - bm)));
        sum[g] *= rescale;
        const __m512 r = _mm512_set1_ps(rescale);
        float* o = out + g * v_dim;
        for (int64_t i = 0; i < v_dim; i += 16) {
          const __mmask16 m = tail_mask(v_dim - i);
          _mm512_mask_storeu_ps(o + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, o + i), r));
        }
        max[g] = bm;
      }
      const __m512 mv = _mm512_set1_ps(max[g]);
      __m512 total = _mm512_setzero_ps();
      for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = tail_mask(n - j);
        const __m512 e = _mm512_maskz_mov_ps(m, exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, w + j), mv)));
        _mm512_mask_storeu_ps(w + j, m, e);
        total = _mm512_add_ps(total, e);
      }
      sum[g] += _mm512_reduce_add_ps(total);
    }
    // Values: out_g += sum_j w[g][j] V[j], 16 output columns at a time held in a register over
    // the block; the block's V rows stay in L1 across the heads.
    for (int64_t g = 0; g < n_group; ++g) {
      float* o = out + g * v_dim;
      const float* w = weights[g];
      for (int64_t i = 0; i < v_dim; i += 16) {
        const __mmask16 m = tail_mask(v_dim - i);
        __m512 acc0 = _mm512_maskz_loadu_ps(m, o + i), acc1 = _mm512_setzero_ps();
        int64_t j = 0;
        for (; j + 2 <= n; j += 2) {
          acc0 = _mm512_fmadd_ps(_mm512_set1_ps(w[j]), load16(v_rows[j], i, kv.type, m), acc0);
          acc1 = _mm512_fmadd_ps(_mm512_set1_ps(w[j + 1]), load16(v_rows[j + 1], i, kv.type, m), acc1);
        }
        if (j < n) acc0 = _mm512_fmadd_ps(_mm512_set1_ps(w[j]), load16(v_rows[j], i, kv.type, m), acc0);
        _mm512_mask_storeu_ps(o + i, m, _mm512_add_ps(acc0, acc1));
      }
    }
  }
  for (int64_t g = 0; g < n_group; ++g) {
    const __m512 inv = _mm512_set1_ps(1.0f / sum[g]);
    float* o = out + g * v_dim;
    for (int64_t i = 0; i < v_dim; i += 16) {
      const __mmask16 m = tail_mask(v_dim - i);
      _mm512_mask_storeu_ps(o + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, o + i), inv));
    }
  }
}

}  // namespace

// Plain entry point (no target attribute: a declaration that differed from attention_internal.h
// in its target would make GCC treat it as a multiversioned function).
void attend_avx512(const float* q, int64_t n_group, const KVSpan& kv, int64_t n_pos, int64_t head_dim,
                   int64_t v_dim, float scale, float* out, const float* alibi_slopes) {
  attend_avx512_impl(q, n_group, kv, n_pos, head_dim, v_dim, scale, out, alibi_slopes);
}

}  // namespace dragon::attention_internal

#endif
