// AVX-512 VNNI tile of the prompt GEMM (kernels/gemm.h), compiled for that target in this file
// only. Per 32-column block: eight 512-bit loads of the group's quants (4 columns x 16 rows
// each) and, for each token, eight vpdpbusd with the token's 4 activation bytes broadcast from
// memory — 16 rows x 32 columns of int8 products per token with no shuffles or horizontal sums.
// The int32 block sums start at the token's -128 * sum(a) correction; then one convert and one
// fused multiply-add by d_w x d_a per (16 rows, token).
#include "kernels/gemm.h"

#if defined(__x86_64__)

#include <immintrin.h>

#include "kernels/dot_simd_common.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace dragon {

namespace {

using simd::load_i32;

template <int NT>
void tile(const uint8_t* group, int64_t blocks, const GemmTokens& tokens, float* out) {
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  const int8_t* aq[NT];
  for (int t = 0; t < NT; ++t) aq[t] = tokens.q + t * tokens.q_stride;
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* quants = RepackedQ8_0::quants(group, b);
    __m512i sum[NT];
    for (int t = 0; t < NT; ++t) sum[t] = _mm512_set1_epi32(tokens.corr[t * tokens.block_stride + b]);
    for (int k = 0; k < 8; ++k) {
      const __m512i w = _mm512_load_si512(quants + 64 * k);
      for (int t = 0; t < NT; ++t)
        sum[t] = _mm512_dpbusd_epi32(sum[t], w, _mm512_set1_epi32(load_i32(aq[t] + 32 * b + 4 * k)));
    }
    const __m512 wd = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(RepackedQ8_0::scales(group, b))));
    for (int t = 0; t < NT; ++t) {
      const __m512 scale = _mm512_mul_ps(wd, _mm512_set1_ps(tokens.d[t * tokens.block_stride + b]));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[t]), scale, acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

void tile_any(const uint8_t* group, int64_t blocks, const GemmTokens& tokens, float* out) {
  static_assert(kGemmMaxTokens == 8);
  switch (tokens.n) {
    case 1: return tile<1>(group, blocks, tokens, out);
    case 2: return tile<2>(group, blocks, tokens, out);
    case 3: return tile<3>(group, blocks, tokens, out);
    case 4: return tile<4>(group, blocks, tokens, out);
    case 5: return tile<5>(group, blocks, tokens, out);
    case 6: return tile<6>(group, blocks, tokens, out);
    case 7: return tile<7>(group, blocks, tokens, out);
    default: return tile<8>(group, blocks, tokens, out);
  }
}

}  // namespace

GemmTileFn gemm_q8_0_tile_avx512() { return tile_any; }

}  // namespace dragon

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else  // not x86-64

namespace dragon {
GemmTileFn gemm_q8_0_tile_avx512() { return nullptr; }
}  // namespace dragon

#endif
