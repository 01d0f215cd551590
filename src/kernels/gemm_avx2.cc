// AVX2 tile of the prompt GEMM (kernels/gemm.h), compiled for that target in this file only.
// AVX2 has no vpdpbusd, and maddubs on the stored w + 128 bytes could saturate its int16 pairs
// (255 x 127 x 2 > 32767), so the bytes go back to signed w (xor 0x80) and take the classic
// sign trick: maddubs(|w|, a with w's sign) then madd by ones, exact (2 x 128 x 127 < 32768).
// A 256-bit register holds 4 columns of 8 rows, so the 16-row group runs as two halves, each
// over the whole row; block sums start at 0 (no offset to remove), equal to the other paths'.
#include "kernels/gemm.h"

#if defined(__x86_64__)

#include <immintrin.h>

#include "kernels/dot_simd_common.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif

namespace dragon {

namespace {

using simd::load_i32;

// Rows 8h .. 8h+7 of the group against NT tokens starting at token t0.
template <int NT>
void half_tile(const uint8_t* group, int64_t blocks, const GemmTokens& tokens, int t0, int h, float* out) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80)), ones = _mm256_set1_epi16(1);
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const int8_t* aq[NT];
  for (int t = 0; t < NT; ++t) aq[t] = tokens.q + (t0 + t) * tokens.q_stride;
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* quants = RepackedQ8_0::quants(group, b) + 32 * h;
    __m256i sum[NT];
    for (int t = 0; t < NT; ++t) sum[t] = _mm256_setzero_si256();
    for (int k = 0; k < 8; ++k) {
      const __m256i w = _mm256_xor_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(quants + 64 * k)), flip);
      const __m256i w_abs = _mm256_abs_epi8(w);
      for (int t = 0; t < NT; ++t) {
        const __m256i a = _mm256_sign_epi8(_mm256_set1_epi32(load_i32(aq[t] + 32 * b + 4 * k)), w);
        sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(w_abs, a), ones));
      }
    }
    const __m256 wd = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(RepackedQ8_0::scales(group, b) + 16 * h)));
    for (int t = 0; t < NT; ++t) {
      const __m256 scale = _mm256_mul_ps(wd, _mm256_set1_ps(tokens.d[(t0 + t) * tokens.block_stride + b]));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t]), scale, acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(out + 16 * (t0 + t) + 8 * h, acc[t]);
}

void tile_any(const uint8_t* group, int64_t blocks, const GemmTokens& tokens, float* out) {
  for (int h = 0; h < 2; ++h)
    for (int t0 = 0; t0 < tokens.n; t0 += 4) {
      switch (tokens.n - t0) {
        case 1: half_tile<1>(group, blocks, tokens, t0, h, out); break;
        case 2: half_tile<2>(group, blocks, tokens, t0, h, out); break;
        case 3: half_tile<3>(group, blocks, tokens, t0, h, out); break;
        default: half_tile<4>(group, blocks, tokens, t0, h, out); break;
      }
    }
}

}  // namespace

GemmTileFn gemm_q8_0_tile_avx2() { return tile_any; }

}  // namespace dragon

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else  // not x86-64

namespace dragon {
GemmTileFn gemm_q8_0_tile_avx2() { return nullptr; }
}  // namespace dragon

#endif
