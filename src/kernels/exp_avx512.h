// A vector exp for the AVX-512 attention kernels (attention_avx512.cc, attention_prompt_avx512.cc).
// Include only from files that compile their AVX-512 functions with a target attribute or pragma.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

namespace dragon::simd_exp {

// exp(x) for x <= 0 (scores minus their running max): Cephes' expf — x = n ln2 + r with
// |r| <= ln2/2, a degree-6 polynomial for e^r, then 2^n by vscalefps (which flushes n below
// -149 to 0, so very negative scores simply vanish). Relative error ~2e-7. exp(0) is exactly 1.
__attribute__((target("avx512f,fma"))) inline __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

}  // namespace dragon::simd_exp

#endif
