// AVX-512 row-dot kernels (F/BW/VL/DQ + VNNI), compiled for that target inside this file only.
// Twice AVX2's width, and VNNI fuses the int8 / int16 multiply-adds: vpdpbusd (u8 x s8 -> i32)
// for the signed Q8_0 / Q5_0 blocks, vpdpwssd (i16 x i16 -> i32) to apply K-quant sub-block scales.
// Formats without a kernel here (Q4_0, IQ4_XS) run their AVX2 kernel.
#include "kernels/dot_kernels.h"

#if defined(__x86_64__)

#include <immintrin.h>

#include "kernels/dot_simd_common.h"
#include "tensor/block_layout.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
// GCC 12's own intrinsics headers trip these on _mm512_undefined_*() (a false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace dragon {

namespace {

using namespace layout;
using simd::dispatch_tokens;

inline float half(const uint8_t* p) { return _cvtsh_ss(load_u16(p)); }
inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }
inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

inline __m512 two_scales(float low, float high) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(low)), _mm256_set1_ps(high), 1);
}

// A 16-bit lane index vector: lane i -> base + i / group.
inline __m512i lane_groups(int base, int group) {
  alignas(64) int16_t idx[32];
  for (int i = 0; i < 32; ++i) idx[i] = static_cast<int16_t>(base + i / group);
  return _mm512_load_si512(idx);
}

// Q8_0 blocks: 32 int8 quants as they are.
struct Q80Quants {
  static constexpr size_t kBytes = q8_0::bytes;
  static __m512i two(const uint8_t* b0, const uint8_t* b1) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(load256(b0 + q8_0::qs)), load256(b1 + q8_0::qs), 1);
  }
  static __m256i one(const uint8_t* b0) { return load256(b0 + q8_0::qs); }
};

// Q5_0 blocks: nibbles (element j low in byte j, j+16 high) plus a fifth bit per element (bit j
// of qh). Two blocks' qh side by side are exactly the 64-bit byte mask of the 512-bit vector;
// OR-ing 0xF0 onto the bytes whose fifth bit is clear gives q - 16 as a signed byte
// (nibble - 16 = nibble | 0xF0; nibble + 16 - 16 = nibble).
struct Q50Quants {
  static constexpr size_t kBytes = q5_0::bytes;
  static __m256i nibbles(const uint8_t* block) {
    const __m128i raw = load128(block + q5_0::qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0f));
  }
  static __m512i two(const uint8_t* b0, const uint8_t* b1) {
    const __m512i n = _mm512_inserti64x4(_mm512_castsi256_si512(nibbles(b0)), nibbles(b1), 1);
    const __mmask64 set = static_cast<uint64_t>(load_u32(b0 + q5_0::qh)) |
                          (static_cast<uint64_t>(load_u32(b1 + q5_0::qh)) << 32);
    return _mm512_mask_blend_epi8(~set, n, _mm512_or_si512(n, _mm512_set1_epi8(static_cast<char>(0xF0))));
  }
  static __m256i one(const uint8_t* b0) {
    const __m256i n = nibbles(b0);
    const __mmask32 set = load_u32(b0 + q5_0::qh);
    return _mm256_mask_blend_epi8(~set, n, _mm256_or_si256(n, _mm256_set1_epi8(static_cast<char>(0xF0))));
  }
};

// Signed 32-element blocks (Q8_0, Q5_0) against Q8_0, two blocks per 512-bit step:
// |w| x (a with w's sign) through vpdpbusd.
template <class Quants>
struct LegacyPairs {
  template <int NT>
  struct Kernel {
    static void run(const uint8_t* w, const DotActivation* acts, int64_t cols, float* out) {
      constexpr size_t kBytes = Quants::kBytes;
      __m512 acc[NT];
      __m256 tail[NT];
      for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps(), tail[t] = _mm256_setzero_ps();
      const int64_t blocks = cols / kQK;
      const __m512i pair_lanes = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
      int64_t b = 0;
      for (; b + 2 <= blocks; b += 2) {
        const uint8_t* b0 = w + b * kBytes;
        const uint8_t* b1 = b0 + kBytes;
        const __m512i q = Quants::two(b0, b1);
        const __m512i q_abs = _mm512_abs_epi8(q);
        const __mmask64 negative = _mm512_movepi8_mask(q);
        const __m512 w_scales = two_scales(half(b0), half(b1));  // d is the first field of both
        for (int t = 0; t < NT; ++t) {
          const __m512i a = load512(acts[t].q.q + kQK * b);
          const __m512i a_signed = _mm512_mask_sub_epi8(a, negative, _mm512_setzero_si512(), a);
          const __m512i sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q_abs, a_signed);
          // the activation's two block scales, each spread over its block's 8 lanes
          const __m128 a_pair = _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(acts[t].q.d + b)));
          const __m512 a_scales = _mm512_permutexvar_ps(pair_lanes, _mm512_castps128_ps512(a_pair));
          acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), _mm512_mul_ps(w_scales, a_scales), acc[t]);
        }
      }
      if (b < blocks) {  // an odd last block, 256 bits wide
        const uint8_t* b0 = w + b * kBytes;
        const __m256i q = Quants::one(b0);
        const __m256i q_abs = _mm256_abs_epi8(q);
        const float d0 = half(b0);
        for (int t = 0; t < NT; ++t) {
          const __m256i a_signed = _mm256_sign_epi8(load256(acts[t].q.q + kQK * b), q);
          const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q_abs, a_signed);
          tail[t] = _mm256_mul_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(d0 * acts[t].q.d[b]));
        }
      }
      for (int t = 0; t < NT; ++t)
        out[t] = _mm512_reduce_add_ps(acc[t]) + _mm512_reduce_add_ps(_mm512_zextps256_ps512(tail[t]));
    }
  };
};

// Q4_K / Q5_K against Q8_K. 64 bytes of quants hold four 32-element sub-blocks (low nibbles: s, s+2;
// high nibbles: s+1, s+3); a 128-bit lane shuffle puts them in element order so the activations
// load contiguously, and vpdpwssd applies each sub-block's scale to its maddubs pairs.
template <bool kFiveBit>
struct K45 {
  template <int NT>
  struct Kernel {
    static void run(const uint8_t* w, const DotActivation* acts, int64_t cols, float* out) {
      const size_t bytes = kFiveBit ? q5_k::bytes : q4_k::bytes;
      const size_t qs_at = kFiveBit ? q5_k::qs : q4_k::qs;
      const __m512i low4 = _mm512_set1_epi8(0x0f), one = _mm512_set1_epi8(1);
      // Q5_K's 5th bit of sub-block s is bit s of qh[l]: per-half shift counts for the four
      // sub-blocks a 64-byte step holds (low nibbles: s, s+2; high nibbles: s+1, s+3)
      alignas(64) int16_t shifts[4][32];
      for (int i = 0; i < 32; ++i)
        for (int k = 0; k < 4; ++k) shifts[k][i] = static_cast<int16_t>((k / 2) * 4 + (k % 2) + (i < 16 ? 0 : 2));
      const __m512i qh_shift[4] = {_mm512_load_si512(shifts[0]), _mm512_load_si512(shifts[1]),
                                   _mm512_load_si512(shifts[2]), _mm512_load_si512(shifts[3])};
      const __m512i pick[4] = {lane_groups(0, 16), lane_groups(2, 16), lane_groups(4, 16), lane_groups(6, 16)};
      __m512 acc[NT];
      for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
      for (int64_t b = 0; b < cols / kQK_K; ++b) {
        const uint8_t* block = w + b * bytes;
        uint8_t scales[8], mins[8];
        simd::unpack_k4_scales(block + q4_k::scales, scales, mins);
        const __m512i scales16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(scales))));
        const __m128i m8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(mins));
        const __m256i mins_per_16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
        __m512i sumi[NT];
        for (int t = 0; t < NT; ++t) sumi[t] = _mm512_setzero_si512();
        for (int p = 0; p < 2; ++p) {
          const __m512i raw = load512(block + qs_at + 64 * p);
          __m512i lo = _mm512_and_si512(raw, low4);
          __m512i hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
          if constexpr (kFiveBit) {
            const __m512i qh = _mm512_broadcast_i64x4(load256(block + q5_k::qh));
            lo = _mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, qh_shift[2 * p]), one), 4));
            hi = _mm512_or_si512(hi, _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, qh_shift[2 * p + 1]), one), 4));
          }
          const __m512i w0 = _mm512_shuffle_i64x2(lo, hi, 0x44);  // sub-blocks 4p, 4p+1
          const __m512i w1 = _mm512_shuffle_i64x2(lo, hi, 0xEE);  // sub-blocks 4p+2, 4p+3
          const __m512i s0 = _mm512_permutexvar_epi16(pick[2 * p], scales16);
          const __m512i s1 = _mm512_permutexvar_epi16(pick[2 * p + 1], scales16);
          for (int t = 0; t < NT; ++t) {
            const int8_t* a = acts[t].q.q + kQK_K * b + 128 * p;
            sumi[t] = _mm512_dpwssd_epi32(sumi[t], _mm512_maddubs_epi16(w0, load512(a)), s0);
            sumi[t] = _mm512_dpwssd_epi32(sumi[t], _mm512_maddubs_epi16(w1, load512(a + 64)), s1);
          }
        }
        const float d = half(block + q4_k::d), dmin = half(block + q4_k::dmin);
        for (int t = 0; t < NT; ++t) {
          const float da = acts[t].q.d[b];
          const __m256i min_sums = _mm256_madd_epi16(load256(acts[t].q.bsums + 16 * b), mins_per_16);
          acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[t]), _mm512_set1_ps(d * da), acc[t]);
          acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(_mm512_zextsi256_si512(min_sums)), _mm512_set1_ps(dmin * da), acc[t]);
        }
      }
      for (int t = 0; t < NT; ++t) out[t] = _mm512_reduce_add_ps(acc[t]);
    }
  };
};

// Q6_K against Q8_K: per 128-element half, 64 bytes of low nibbles and 32 bytes of high bits
// (broadcast to both 256-bit halves, shifted per half) build 2 x 64 unsigned 6-bit quants in
// element order; the bias of 32 comes off through the activation's 16-sums.
template <int NT>
struct Q6K {
  static void run(const uint8_t* w, const DotActivation* acts, int64_t cols, float* out) {
    const __m512i low4 = _mm512_set1_epi8(0x0f), bits45 = _mm512_set1_epi8(0x30);
    alignas(64) int16_t shl[32], shr[32];
    for (int i = 0; i < 32; ++i) shl[i] = i < 16 ? 4 : 2, shr[i] = i < 16 ? 0 : 2;
    const __m512i shift_left = _mm512_load_si512(shl), shift_right = _mm512_load_si512(shr);
    const __m512i pick[4] = {lane_groups(0, 8), lane_groups(4, 8), lane_groups(8, 8), lane_groups(12, 8)};
    __m512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < cols / kQK_K; ++b) {
      const uint8_t* block = w + b * q6_k::bytes;
      const __m256i scales16 = _mm256_cvtepi8_epi16(load128(block + q6_k::scales));
      const __m512i scales512 = _mm512_castsi256_si512(scales16);
      __m512i sumi[NT];
      for (int t = 0; t < NT; ++t) sumi[t] = _mm512_setzero_si512();
      for (int h = 0; h < 2; ++h) {
        const __m512i ql = load512(block + q6_k::ql + 64 * h);
        const __m512i qh = _mm512_broadcast_i64x4(load256(block + q6_k::qh + 32 * h));
        // elements 0-63 of the half: low nibbles, high bits 0-1 (first 32) and 2-3 (next 32)
        const __m512i q01 = _mm512_or_si512(_mm512_and_si512(ql, low4), _mm512_and_si512(_mm512_sllv_epi16(qh, shift_left), bits45));
        // elements 64-127: high nibbles, high bits 4-5 and 6-7
        const __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                            _mm512_and_si512(_mm512_srlv_epi16(qh, shift_right), bits45));
        const __m512i s01 = _mm512_permutexvar_epi16(pick[2 * h], scales512);
        const __m512i s23 = _mm512_permutexvar_epi16(pick[2 * h + 1], scales512);
        for (int t = 0; t < NT; ++t) {
          const int8_t* a = acts[t].q.q + kQK_K * b + 128 * h;
          sumi[t] = _mm512_dpwssd_epi32(sumi[t], _mm512_maddubs_epi16(q01, load512(a)), s01);
          sumi[t] = _mm512_dpwssd_epi32(sumi[t], _mm512_maddubs_epi16(q23, load512(a + 64)), s23);
        }
      }
      const float d = half(block + q6_k::d);
      for (int t = 0; t < NT; ++t) {
        const __m256i bias = _mm256_madd_epi16(load256(acts[t].q.bsums + 16 * b), scales16);
        const __m512i total = _mm512_sub_epi32(sumi[t], _mm512_zextsi256_si512(_mm256_slli_epi32(bias, 5)));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), _mm512_set1_ps(d * acts[t].q.d[b]), acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t] = _mm512_reduce_add_ps(acc[t]);
  }
};

// Float weights, 16 lanes widened exactly to f32, two accumulators per token.
struct LoadF32 {
  static __m512 load16(const uint8_t* w, int64_t i) { return _mm512_loadu_ps(reinterpret_cast<const float*>(w) + i); }
  static float one(const uint8_t* w, int64_t i) { return reinterpret_cast<const float*>(w)[i]; }
};
struct LoadF16 {
  static __m512 load16(const uint8_t* w, int64_t i) { return _mm512_cvtph_ps(load256(w + 2 * i)); }
  static float one(const uint8_t* w, int64_t i) { return _cvtsh_ss(load_u16(w + 2 * i)); }
};
struct LoadBF16 {
  static __m512 load16(const uint8_t* w, int64_t i) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(load256(w + 2 * i)), 16));
  }
  static float one(const uint8_t* w, int64_t i) { return bf16_to_f32(load_u16(w + 2 * i)); }
};

template <class Load>
struct FloatRows {
  template <int NT>
  struct Kernel {
    static void run(const uint8_t* w, const DotActivation* acts, int64_t cols, float* out) {
      __m512 acc0[NT], acc1[NT];
      for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
      int64_t i = 0;
      for (; i + 32 <= cols; i += 32) {
        const __m512 w0 = Load::load16(w, i), w1 = Load::load16(w, i + 16);
        for (int t = 0; t < NT; ++t) {
          acc0[t] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(acts[t].f + i), acc0[t]);
          acc1[t] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(acts[t].f + i + 16), acc1[t]);
        }
      }
      for (; i + 16 <= cols; i += 16) {
        const __m512 w0 = Load::load16(w, i);
        for (int t = 0; t < NT; ++t) acc0[t] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(acts[t].f + i), acc0[t]);
      }
      for (int t = 0; t < NT; ++t) {
        float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0[t], acc1[t]));
        for (int64_t j = i; j < cols; ++j) sum += Load::one(w, j) * acts[t].f[j];
        out[t] = sum;
      }
    }
  };
};

}  // namespace

RowDotFn row_dot_avx512(DType weight_type) {
  switch (weight_type) {
    case DType::Q8_0: return dispatch_tokens<LegacyPairs<Q80Quants>::Kernel>;
    case DType::Q5_0: return dispatch_tokens<LegacyPairs<Q50Quants>::Kernel>;
    case DType::Q4_K: return dispatch_tokens<K45<false>::Kernel>;
    case DType::Q5_K: return dispatch_tokens<K45<true>::Kernel>;
    case DType::Q6_K: return dispatch_tokens<Q6K>;
    case DType::F32: return dispatch_tokens<FloatRows<LoadF32>::Kernel>;
    case DType::F16: return dispatch_tokens<FloatRows<LoadF16>::Kernel>;
    case DType::BF16: return dispatch_tokens<FloatRows<LoadBF16>::Kernel>;
    default: return nullptr;
  }
}

}  // namespace dragon

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else  // not x86-64: no AVX-512 kernels

namespace dragon {
RowDotFn row_dot_avx512(DType) { return nullptr; }
}  // namespace dragon

#endif
