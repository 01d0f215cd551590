// attend_prompt_block with AVX-512 (kernels/attention_prompt.h). Per key block of 32 positions:
//   widen:   the block's K and V rows to f32 once (row-major, zero-padded to the step of keys);
//   scores:  S^T[j][r] = sum_d K[j][d] Q^T[d][r] — a key element broadcast against 16 query rows;
//   softmax: per 16 rows, the block max over j, the rescale exp(m_old - m_new), P = exp(S - m);
//   values:  O^T[c][r] = O^T[c][r] * rescale[r] + sum_j V[j][c] P^T[j][r].
// Every row's arithmetic runs in its own lane in position order, so a row's result is the same
// whichever rows share its block. Compiled for AVX-512 per function (target attribute), like
// attention_avx512.cc; attention_prompt.cc calls it only when the CPU has AVX-512.
#include "kernels/attention_prompt.h"

#if defined(__x86_64__) && defined(__GNUC__)

// GCC 12's intrinsic headers initialise their "undefined" vectors as `__m512 __Y = __Y;`, which
// -Wmaybe-uninitialized reports at every inlined use: a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/attention_internal.h"
#include "kernels/exp_avx512.h"

#define DRAGON_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

namespace dragon::prompt_attention_internal {

namespace {

using attention_internal::row_addresses;
using simd_exp::exp_nonpositive;

constexpr int64_t kKeys = kPromptKeyBlock;
constexpr int64_t kDimChunk = 16;

DRAGON_AVX512 inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
}

// A 64-byte aligned view into a thread's reusable buffer (grown, never shrunk: no allocation per
// call once a thread has seen the shape).
float* aligned_scratch(std::vector<float>& buffer, size_t n) {
  if (buffer.size() < n + 16) buffer.resize(n + 16);
  const uintptr_t p = reinterpret_cast<uintptr_t>(buffer.data());
  return reinterpret_cast<float*>((p + 63) & ~static_cast<uintptr_t>(63));
}

// One cache row (f32 or f16) as f32 into dst.
DRAGON_AVX512 inline void widen_row(const char* row, CacheType type, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 x = type == CacheType::F32
                         ? _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + i)
                         : _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + i));
    _mm512_mask_storeu_ps(dst + i, m, x);
  }
}

// S^T[j][r] for keys [0, nk) (nk a multiple of KS) and R = 16 * NRV rows: KS keys x NRV row
// vectors of accumulators, one chain per (key, row) in head-dimension order.
template <int NRV, int KS>
DRAGON_AVX512 void scores(const float* qt, const float* keys, int64_t head_dim, int64_t nk, float* st) {
  constexpr int64_t R = 16 * NRV;
  for (int64_t j0 = 0; j0 < nk; j0 += KS) {
    const float* k = keys + j0 * head_dim;
    // The dot products go in chunks of kDimChunk dimensions whose sums are then added up: a
    // single chain over 128 dimensions lost 3x the accuracy of the per-token kernel on peaked
    // softmaxes (scores errors are amplified by exp).
    for (int64_t d0 = 0; d0 < head_dim; d0 += kDimChunk) {
      __m512 acc[KS][NRV];
      for (int s = 0; s < KS; ++s)
        for (int v = 0; v < NRV; ++v) acc[s][v] = _mm512_setzero_ps();
      const int64_t d1 = std::min(head_dim, d0 + kDimChunk);
      for (int64_t d = d0; d < d1; ++d) {
        __m512 q[NRV];
        for (int v = 0; v < NRV; ++v) q[v] = _mm512_load_ps(qt + d * R + 16 * v);
        for (int s = 0; s < KS; ++s) {
          const __m512 kk = _mm512_set1_ps(k[s * head_dim + d]);
          for (int v = 0; v < NRV; ++v) acc[s][v] = _mm512_fmadd_ps(q[v], kk, acc[s][v]);
        }
      }
      for (int s = 0; s < KS; ++s)
        for (int v = 0; v < NRV; ++v) {
          float* out = st + (j0 + s) * R + 16 * v;
          _mm512_store_ps(out, d0 == 0 ? acc[s][v] : _mm512_add_ps(_mm512_load_ps(out), acc[s][v]));
        }
    }
  }
}

// O^T[c][r] = O^T[c][r] * rescale[r] + sum_{j < n} V[j][c] P^T[j][r] for columns [c0, c0 + CS).
template <int NRV, int CS>
DRAGON_AVX512 void accumulate(float* ot, const float* pt, const float* values, int64_t v_dim, int64_t n, int64_t c0,
                              const __m512* rescale) {
  constexpr int64_t R = 16 * NRV;
  // The block's sum starts from zero and joins the running output at the end: a long prompt
  // adds up n / 32 block sums instead of n single terms into one accumulator (measured at 2048
  // positions with a peaked softmax: 3x less error).
  __m512 acc[CS][NRV];
  for (int c = 0; c < CS; ++c)
    for (int v = 0; v < NRV; ++v) acc[c][v] = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; ++j) {
    __m512 p[NRV];
    for (int v = 0; v < NRV; ++v) p[v] = _mm512_load_ps(pt + j * R + 16 * v);
    const float* vr = values + j * v_dim + c0;
    for (int c = 0; c < CS; ++c) {
      const __m512 vv = _mm512_set1_ps(vr[c]);
      for (int v = 0; v < NRV; ++v) acc[c][v] = _mm512_fmadd_ps(p[v], vv, acc[c][v]);
    }
  }
  for (int c = 0; c < CS; ++c)
    for (int v = 0; v < NRV; ++v) {
      float* o = ot + (c0 + c) * R + 16 * v;
      _mm512_store_ps(o, _mm512_fmadd_ps(_mm512_load_ps(o), rescale[v], acc[c][v]));
    }
}

struct Scratch {
  std::vector<float> qt, keys, values, st, ot;
};

template <int NRV>
DRAGON_AVX512 void attend_block(const PromptQueryBlock& b, int64_t n_group, const KVSpan& kv, int64_t head_dim,
                                int64_t v_dim, float scale) {
  constexpr int64_t R = 16 * NRV;
  // Keys per step of the score tile and output columns per step of the value tile: at most 16
  // accumulators either way.
  constexpr int KS = NRV >= 3 ? 4 : 8;
  constexpr int CS = NRV >= 3 ? 4 : 8;
  const int64_t rows = b.n * n_group;

  thread_local Scratch scratch;
  float* qt = aligned_scratch(scratch.qt, static_cast<size_t>(head_dim * R));
  float* keys = aligned_scratch(scratch.keys, static_cast<size_t>(kKeys * head_dim));
  float* values = aligned_scratch(scratch.values, static_cast<size_t>(kKeys * v_dim));
  float* st = aligned_scratch(scratch.st, static_cast<size_t>(kKeys * R));
  float* ot = aligned_scratch(scratch.ot, static_cast<size_t>(v_dim * R));

  // Q^T: row r = token r / n_group, head r % n_group; padding rows are zero.
  std::fill_n(qt, head_dim * R, 0.0f);
  alignas(64) int32_t limit[R];
  int64_t n_pos = 0;
  for (int64_t r = 0; r < R; ++r) {
    if (r >= rows) {
      limit[r] = std::numeric_limits<int32_t>::max();  // padding rows see everything: no empty softmax
      continue;
    }
    const int64_t i = r / n_group, g = r % n_group;
    const float* q = b.q + i * b.q_stride + g * head_dim;
    for (int64_t d = 0; d < head_dim; ++d) qt[d * R + r] = q[d];
    limit[r] = static_cast<int32_t>(b.positions[i] + 1);
    n_pos = std::max(n_pos, b.positions[i] + 1);
  }
  std::fill_n(ot, v_dim * R, 0.0f);
  __m512i lim[NRV];
  __m512 m[NRV], l[NRV], rescale[NRV];
  for (int v = 0; v < NRV; ++v) {
    lim[v] = _mm512_load_si512(limit + 16 * v);
    m[v] = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    l[v] = _mm512_setzero_ps();
  }
  const __m512 minus_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __m512 scale_v = _mm512_set1_ps(scale);

  const char* k_rows[kKeys];
  const char* v_rows[kKeys];
  for (int64_t start = 0; start < n_pos; start += kKeys) {
    const int64_t n = std::min(kKeys, n_pos - start);
    const int64_t nk = (n + KS - 1) / KS * KS;
    row_addresses(kv, start, n, k_rows, v_rows);
    for (int64_t j = 0; j < n; ++j) {
      widen_row(k_rows[j], kv.type, head_dim, keys + j * head_dim);
      widen_row(v_rows[j], kv.type, v_dim, values + j * v_dim);
    }
    std::fill(keys + n * head_dim, keys + nk * head_dim, 0.0f);
    scores<NRV, KS>(qt, keys, head_dim, nk, st);

    // Online softmax, 16 rows at a time: position start + j is visible to row r iff it is below
    // limit[r].
    for (int v = 0; v < NRV; ++v) {
      __m512 block_max = minus_inf;
      for (int64_t j = 0; j < n; ++j) {
        const __mmask16 visible = _mm512_cmpgt_epi32_mask(lim[v], _mm512_set1_epi32(static_cast<int32_t>(start + j)));
        const __m512 s = _mm512_mask_mul_ps(minus_inf, visible, _mm512_load_ps(st + j * R + 16 * v), scale_v);
        _mm512_store_ps(st + j * R + 16 * v, s);
        block_max = _mm512_max_ps(block_max, s);
      }
      const __m512 new_max = _mm512_max_ps(m[v], block_max);
      // exp(m_old - m_new): ~0 on a row's first visible block (m_old = -inf; its sum and output
      // are still 0), exactly 1 where the block changed nothing (including rows that see none of
      // it). A row whose max is still -inf (not possible: every row sees position 0) keeps 1.
      const __mmask16 finite = _mm512_cmp_ps_mask(new_max, minus_inf, _CMP_NEQ_OQ);
      rescale[v] = _mm512_mask_blend_ps(finite, _mm512_set1_ps(1.0f),
                                        exp_nonpositive(_mm512_maskz_sub_ps(finite, m[v], new_max)));
      __m512 total = _mm512_setzero_ps();
      for (int64_t j = 0; j < n; ++j) {
        const __m512 s = _mm512_load_ps(st + j * R + 16 * v);
        const __mmask16 visible = _mm512_cmp_ps_mask(s, minus_inf, _CMP_NEQ_OQ);
        const __m512 p = _mm512_maskz_mov_ps(visible, exp_nonpositive(_mm512_sub_ps(s, new_max)));
        _mm512_store_ps(st + j * R + 16 * v, p);
        total = _mm512_add_ps(total, p);
      }
      l[v] = _mm512_fmadd_ps(l[v], rescale[v], total);
      m[v] = new_max;
    }

    int64_t c = 0;
    for (; c + CS <= v_dim; c += CS) accumulate<NRV, CS>(ot, st, values, v_dim, n, c, rescale);
    for (; c < v_dim; ++c) accumulate<NRV, 1>(ot, st, values, v_dim, n, c, rescale);
  }

  // out[r][c] = O^T[c][r] / l[r]
  __m512 inv[NRV];
  for (int v = 0; v < NRV; ++v) inv[v] = _mm512_div_ps(_mm512_set1_ps(1.0f), l[v]);
  for (int64_t c = 0; c < v_dim; ++c)
    for (int v = 0; v < NRV; ++v) _mm512_store_ps(ot + c * R + 16 * v, _mm512_mul_ps(_mm512_load_ps(ot + c * R + 16 * v), inv[v]));
  for (int64_t r = 0; r < rows; ++r) {
    float* out = b.out + (r / n_group) * b.out_stride + (r % n_group) * v_dim;
    for (int64_t cc = 0; cc < v_dim; ++cc) out[cc] = ot[cc * R + r];
  }
}

}  // namespace

// Plain entry point (no target attribute), see attention_avx512.cc.
void attend_prompt_block_avx512(const PromptQueryBlock& b, int64_t n_group, const KVSpan& kv, int64_t head_dim,
                                int64_t v_dim, float scale) {
  switch ((b.n * n_group + 15) / 16) {
    case 1: return attend_block<1>(b, n_group, kv, head_dim, v_dim, scale);
    case 2: return attend_block<2>(b, n_group, kv, head_dim, v_dim, scale);
    case 3: return attend_block<3>(b, n_group, kv, head_dim, v_dim, scale);
    default: return attend_block<4>(b, n_group, kv, head_dim, v_dim, scale);
  }
}

}  // namespace dragon::prompt_attention_internal

#endif
