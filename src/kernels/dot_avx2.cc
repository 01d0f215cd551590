// AVX2 row-dot kernels (AVX2 + FMA + F16C), compiled for that target inside this file only, and
// called only when the CPU has it (cpu_features.h). Integer formats use the classic AVX2 int8
// dot: maddubs (u8 x s8 -> pairs of i16) then madd (i16 x i16 -> i32); the signed x signed
// blocks (Q8_0, Q4_0, Q5_0, IQ4_XS) move the sign of the weight onto the activation first.
// None of these sums can saturate: |u8 x s8 pair| <= 2 * 128 * 127 < 32768.
#include "kernels/dot_kernels.h"

#if defined(__x86_64__)

#include <immintrin.h>

#include "kernels/dot_simd_common.h"
#include "tensor/block_layout.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif

namespace dragon {

namespace {

using namespace layout;
using simd::dispatch_tokens;

inline float half(const uint8_t* p) { return _cvtsh_ss(load_u16(p)); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// sum of (signed w) x (signed a) over each group of 4 bytes, as 8 int32, given |w| precomputed.
inline __m256i signed_dot(__m256i w_abs, __m256i w, __m256i a) {
  const __m256i pairs = _mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(a, w));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

// 16 packed nibbles -> 32 bytes: low nibbles (elements 0-15), then high nibbles (16-31).
inline __m256i unpack_nibbles16(const uint8_t* p) {
  const __m128i raw = load128(p);
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0f));
}

// Q5_0's fifth bits (bit j of qh = element j) as 32 bytes: 0x00 where the bit is set, 0xF0
// where it is clear, so OR-ing them onto the nibbles gives q - 16 as a signed byte directly
// (nibble - 16 = nibble | 0xF0 in two's complement; nibble + 16 - 16 = nibble).
inline __m256i q5_0_high_bits(const uint8_t* qh) {
  // Byte j of the vector takes byte j / 8 of qh, then keeps only bit j % 8.
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(load_u32(qh))),
                                             _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                                               0x0101010101010101, 0));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_andnot_si256(set, _mm256_set1_epi8(static_cast<char>(0xF0)));
}

enum class Legacy { Q8_0, Q4_0, Q5_0 };

// Q8_0, Q4_0 and Q5_0: 32-element blocks, all dotted as signed int8 blocks against Q8_0.
template <Legacy kFormat>
struct LegacyBlocks {
  static constexpr size_t kBytes = kFormat == Legacy::Q8_0 ? q8_0::bytes : kFormat == Legacy::Q4_0 ? q4_0::bytes : q5_0::bytes;

  static __m256i quants(const uint8_t* block) {
    if constexpr (kFormat == Legacy::Q8_0) return load256(block + q8_0::qs);
    if constexpr (kFormat == Legacy::Q4_0) return _mm256_sub_epi8(unpack_nibbles16(block + q4_0::qs), _mm256_set1_epi8(8));
    return _mm256_or_si256(unpack_nibbles16(block + q5_0::qs), q5_0_high_bits(block + q5_0::qh));
  }

  template <int NT>
  struct Kernel {
    static void run(const uint8_t* w, const DotActivation* acts, int64_t cols, float* out) {
      __m256 acc[NT];
      for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
      for (int64_t b = 0; b < cols / kQK; ++b) {
        const uint8_t* block = w + b * kBytes;
        const __m256i q = quants(block);
        const __m256i q_abs = _mm256_sign_epi8(q, q);
        const float dw = half(block);  // d is the first field of all three formats
        for (int t = 0; t < NT; ++t) {
          const __m256i sums = signed_dot(q_abs, q, load256(acts[t].q.q + kQK * b));
          acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(dw * acts[t].q.d[b]), acc[t]);
        }
      }
      for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]);
    }
  };
};

// Q4_K / Q5_K against Q8_K: unsigned quants (0..15 / 0..31) straight into maddubs, the sub-block
// scale applied by madd, the mins through the activation's 16-sums.
template <bool kFiveBit>
struct K45 {
  template <int NT>
  struct Kernel {
    static void run(const uint8_t* w, const DotActivation* acts, int64_t cols, float* out) {
      const size_t bytes = kFiveBit ? q5_k::bytes : q4_k::bytes;
      const size_t qs_at = kFiveBit ? q5_k::qs : q4_k::qs;
      const __m256i low4 = _mm256_set1_epi8(0x0f);
      __m256 acc[NT];
      for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
      for (int64_t b = 0; b < cols / kQK_K; ++b) {
        const uint8_t* block = w + b * bytes;
        uint8_t scales[8], mins[8];
        simd::unpack_k4_scales(block + q4_k::scales, scales, mins);
        const __m128i m8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(mins));
        const __m256i mins_per_16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));  // m0 m0 m1 m1 ...
        const __m256i qh = kFiveBit ? load256(block + q5_k::qh) : _mm256_setzero_si256();
        __m256i sumi[NT];
        for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
        for (int g = 0; g < 4; ++g) {
          const __m256i raw = load256(block + qs_at + 32 * g);
          __m256i lo = _mm256_and_si256(raw, low4);
          __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
          if constexpr (kFiveBit) {
            const __m256i one = _mm256_set1_epi8(1);
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), one), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * g + 1), one), 4));
          }
          const __m256i scale_lo = _mm256_set1_epi16(scales[2 * g]);
          const __m256i scale_hi = _mm256_set1_epi16(scales[2 * g + 1]);
          for (int t = 0; t < NT; ++t) {
            const int8_t* a = acts[t].q.q + kQK_K * b + 64 * g;
            const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load256(a)), scale_lo);
            const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load256(a + 32)), scale_hi);
            sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(p_lo, p_hi));
          }
        }
        const float d = half(block + q4_k::d), dmin = half(block + q4_k::dmin);
        for (int t = 0; t < NT; ++t) {
          const float da = acts[t].q.d[b];
          const __m256i min_sums = _mm256_madd_epi16(load256(acts[t].q.bsums + 16 * b), mins_per_16);
          acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[t]), _mm256_set1_ps(d * da), acc[t]);
          acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(min_sums), _mm256_set1_ps(dmin * da), acc[t]);
        }
      }
      for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]);
    }
  };
};

// Q6_K against Q8_K: the 6-bit quants as unsigned 0..63 into maddubs, the bias of 32 taken off
// afterwards as 32 * sum_s scale_s * bsum_s.
template <int NT>
struct Q6K {
  static void run(const uint8_t* w, const DotActivation* acts, int64_t cols, float* out) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), bits45 = _mm256_set1_epi8(0x30);
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < cols / kQK_K; ++b) {
      const uint8_t* block = w + b * q6_k::bytes;
      const auto* scales = reinterpret_cast<const int8_t*>(block + q6_k::scales);
      __m256i sumi[NT];
      for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {
        const __m256i ql0 = load256(block + q6_k::ql + 64 * h), ql1 = load256(block + q6_k::ql + 64 * h + 32);
        const __m256i qh = load256(block + q6_k::qh + 32 * h);
        const __m256i q[4] = {
            _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45)),
            _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, bits45)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                            _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45))};
        for (int k = 0; k < 4; ++k) {
          const int s = 8 * h + 2 * k;  // the two 16-element sub-blocks of these 32 quants
          const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(scales[s + 1]), _mm_set1_epi16(scales[s]));
          for (int t = 0; t < NT; ++t) {
            const __m256i a = load256(acts[t].q.q + kQK_K * b + 128 * h + 32 * k);
            sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], a), scale));
          }
        }
      }
      const __m256i scales16 = _mm256_cvtepi8_epi16(load128(scales));
      const float d = half(block + q6_k::d);
      for (int t = 0; t < NT; ++t) {
        const __m256i bias = _mm256_madd_epi16(load256(acts[t].q.bsums + 16 * b), scales16);
        const __m256i total = _mm256_sub_epi32(sumi[t], _mm256_slli_epi32(bias, 5));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), _mm256_set1_ps(d * acts[t].q.d[b]), acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]);
  }
};

// IQ4_XS against Q8_K: nibbles looked up in the 16-level grid with pshufb, then a signed dot.
template <int NT>
struct IQ4XS {
  static void run(const uint8_t* w, const DotActivation* acts, int64_t cols, float* out) {
    const __m256i grid = _mm256_broadcastsi128_si256(load128(kIQ4Levels));
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < cols / kQK_K; ++b) {
      const uint8_t* block = w + b * iq4_xs::bytes;
      const uint16_t scales_h = load_u16(block + iq4_xs::scales_h);
      __m256i sumi[NT];
      for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
      for (int s = 0; s < 8; ++s) {
        const int low = (block[iq4_xs::scales_l + s / 2] >> (4 * (s % 2))) & 0x0f;
        const __m256i scale = _mm256_set1_epi16(static_cast<int16_t>((low | (((scales_h >> (2 * s)) & 3) << 4)) - 32));
        const __m256i q = _mm256_shuffle_epi8(grid, unpack_nibbles16(block + iq4_xs::qs + 16 * s));
        const __m256i q_abs = _mm256_sign_epi8(q, q);
        for (int t = 0; t < NT; ++t) {
          const __m256i a = _mm256_sign_epi8(load256(acts[t].q.q + kQK_K * b + 32 * s), q);
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q_abs, a), scale));
        }
      }
      const float d = half(block + iq4_xs::d);
      for (int t = 0; t < NT; ++t)
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[t]), _mm256_set1_ps(d * acts[t].q.d[b]), acc[t]);
    }
    for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]);
  }
};

// Float weights: 8 lanes widened exactly to f32 and FMA'd into two accumulators per token.
struct LoadF32 {
  static __m256 load8(const uint8_t* w, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(w) + i); }
  static float one(const uint8_t* w, int64_t i) { return reinterpret_cast<const float*>(w)[i]; }
};
struct LoadF16 {
  static __m256 load8(const uint8_t* w, int64_t i) { return _mm256_cvtph_ps(load128(w + 2 * i)); }
  static float one(const uint8_t* w, int64_t i) { return _cvtsh_ss(load_u16(w + 2 * i)); }
};
struct LoadBF16 {
  static __m256 load8(const uint8_t* w, int64_t i) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(w + 2 * i)), 16));
  }
  static float one(const uint8_t* w, int64_t i) { return bf16_to_f32(load_u16(w + 2 * i)); }
};

template <class Load>
struct FloatRows {
  template <int NT>
  struct Kernel {
    static void run(const uint8_t* w, const DotActivation* acts, int64_t cols, float* out) {
      __m256 acc0[NT], acc1[NT];
      for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
      int64_t i = 0;
      for (; i + 16 <= cols; i += 16) {
        const __m256 w0 = Load::load8(w, i), w1 = Load::load8(w, i + 8);
        for (int t = 0; t < NT; ++t) {
          acc0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(acts[t].f + i), acc0[t]);
          acc1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(acts[t].f + i + 8), acc1[t]);
        }
      }
      for (; i + 8 <= cols; i += 8) {
        const __m256 w0 = Load::load8(w, i);
        for (int t = 0; t < NT; ++t) acc0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(acts[t].f + i), acc0[t]);
      }
      for (int t = 0; t < NT; ++t) {
        float sum = hsum(_mm256_add_ps(acc0[t], acc1[t]));
        for (int64_t j = i; j < cols; ++j) sum += Load::one(w, j) * acts[t].f[j];
        out[t] = sum;
      }
    }
  };
};

}  // namespace

RowDotFn row_dot_avx2(DType weight_type) {
  switch (weight_type) {
    case DType::Q8_0: return dispatch_tokens<LegacyBlocks<Legacy::Q8_0>::Kernel>;
    case DType::Q4_0: return dispatch_tokens<LegacyBlocks<Legacy::Q4_0>::Kernel>;
    case DType::Q5_0: return dispatch_tokens<LegacyBlocks<Legacy::Q5_0>::Kernel>;
    case DType::Q4_K: return dispatch_tokens<K45<false>::Kernel>;
    case DType::Q5_K: return dispatch_tokens<K45<true>::Kernel>;
    case DType::Q6_K: return dispatch_tokens<Q6K>;
    case DType::IQ4_XS: return dispatch_tokens<IQ4XS>;
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

#else  // not x86-64: no AVX2 kernels

namespace dragon {
RowDotFn row_dot_avx2(DType) { return nullptr; }
}  // namespace dragon

#endif
