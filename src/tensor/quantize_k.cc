// dragon's quantizers for the K-quant super-blocks (Q4_K, Q5_K, Q6_K) and Q8_K.
//
// Two stages per 256-element super-block:
//  1. each sub-block gets its own best real scale (and min) from scale_search (weighted least
//     squares over a fan of candidates);
//  2. those are quantized against one f16 super-block scale (6-bit codes for Q4_K/Q5_K, int8 for
//     Q6_K). Rounding a code can hurt, so the neighbouring codes are tried too and the one whose
//     requantized sub-block has the smallest weighted error wins — evaluated with exactly the f32
//     arithmetic the dequantizer uses.
// Q8_K follows ggml's quantize_row_q8_K_ref (d = max / -127, round to nearest even).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/block_layout.h"
#include "tensor/half.h"
#include "tensor/quant_rows.h"
#include "tensor/scale_search.h"

namespace dragon::rows {

using namespace layout;
using search::as_stored_f16;
using search::clamp_int;

namespace {

// ---- Q4_K / Q5_K: x ~= d*sc * L - dmin*m per sub-block of 32 ----

struct AffineSuperBlock {
  float d = 0, dmin = 0;
  int scale_codes[8] = {}, min_codes[8] = {};
  uint8_t L[kQK_K] = {};
};

// Requantizes one sub-block for given 6-bit codes; returns its weighted error.
float requantize_affine(const float* x, const float* w, int nmax, float scale, float offset, uint8_t* L) {
  float y[32];
  const float inverse = scale > 0 ? 1.0f / scale : 0.0f;
  for (int i = 0; i < 32; ++i) {
    const int q = clamp_int(search::round_to_int((x[i] + offset) * inverse), 0, nmax);
    L[i] = static_cast<uint8_t>(q);
    const float scaled = scale * static_cast<float>(q);
    y[i] = scaled - offset;
  }
  return search::weighted_error(x, w, y, 32);
}

AffineSuperBlock quantize_affine_superblock(const float* x, int nmax) {
  AffineSuperBlock out;
  float weights[kQK_K];
  search::AffineFit fits[8];
  float max_scale = 0, max_offset = 0;
  for (int sub = 0; sub < 8; ++sub) {
    search::weights_rms_plus_abs(x + 32 * sub, 32, weights + 32 * sub);
    fits[sub] = search::fit_affine(x + 32 * sub, weights + 32 * sub, 32, nmax);
    max_scale = std::fmax(max_scale, fits[sub].scale);
    max_offset = std::fmax(max_offset, fits[sub].offset);
  }
  out.d = as_stored_f16(max_scale / 63.0f);
  out.dmin = as_stored_f16(max_offset / 63.0f);

  for (int sub = 0; sub < 8; ++sub) {
    const float* xs = x + 32 * sub;
    const float* ws = weights + 32 * sub;
    const int scale0 = out.d > 0 ? clamp_int(search::round_to_int(fits[sub].scale / out.d), 0, 63) : 0;
    const int min0 = out.dmin > 0 ? clamp_int(search::round_to_int(fits[sub].offset / out.dmin), 0, 63) : 0;
    float best_error = INFINITY;
    uint8_t trial[32];
    for (int sc = std::max(0, scale0 - 1); sc <= std::min(63, scale0 + 1); ++sc) {
      for (int m = std::max(0, min0 - 1); m <= std::min(63, min0 + 1); ++m) {
        const float scale = out.d * static_cast<float>(sc);
        const float offset = out.dmin * static_cast<float>(m);
        const float error = requantize_affine(xs, ws, nmax, scale, offset, trial);
        if (error < best_error) {
          best_error = error;
          out.scale_codes[sub] = sc;
          out.min_codes[sub] = m;
          std::memcpy(out.L + 32 * sub, trial, 32);
        }
      }
    }
  }
  return out;
}

// Low 4 bits of sub-block j's quants: byte 32*(j/2) + l, nibble j%2.
void pack_k_nibbles(const uint8_t* L, uint8_t* qs) {
  std::memset(qs, 0, kQK_K / 2);
  for (int sub = 0; sub < 8; ++sub)
    for (int l = 0; l < 32; ++l) qs[32 * (sub / 2) + l] |= static_cast<uint8_t>((L[32 * sub + l] & 0x0f) << (4 * (sub % 2)));
}

// ---- Q6_K: x ~= d*sc * (L - 32) per sub-block of 16 ----

float requantize_symmetric16(const float* x, const float* w, float scale, int* L) {
  float y[16];
  const float inverse = scale != 0 ? 1.0f / scale : 0.0f;
  for (int i = 0; i < 16; ++i) {
    const int q = clamp_int(search::round_to_int(x[i] * inverse), -32, 31);
    L[i] = q;
    y[i] = scale * static_cast<float>(q);
  }
  return search::weighted_error(x, w, y, 16);
}

}  // namespace

void quantize_q4_k(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQK_K, dst += q4_k::bytes) {
    const AffineSuperBlock sb = quantize_affine_superblock(src, 15);
    store_f16(dst + q4_k::d, sb.d);
    store_f16(dst + q4_k::dmin, sb.dmin);
    pack_scale_min_k4(sb.scale_codes, sb.min_codes, dst + q4_k::scales);
    pack_k_nibbles(sb.L, dst + q4_k::qs);
  }
}

void quantize_q5_k(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQK_K, dst += q5_k::bytes) {
    const AffineSuperBlock sb = quantize_affine_superblock(src, 31);
    store_f16(dst + q5_k::d, sb.d);
    store_f16(dst + q5_k::dmin, sb.dmin);
    pack_scale_min_k4(sb.scale_codes, sb.min_codes, dst + q5_k::scales);
    pack_k_nibbles(sb.L, dst + q5_k::qs);
    uint8_t* qh = dst + q5_k::qh;  // bit `sub` of qh[l]: the 5th bit of element l of sub-block sub
    std::memset(qh, 0, 32);
    for (int sub = 0; sub < 8; ++sub)
      for (int l = 0; l < 32; ++l) qh[l] |= static_cast<uint8_t>(((sb.L[32 * sub + l] >> 4) & 1) << sub);
  }
}

void quantize_q6_k(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQK_K, dst += q6_k::bytes) {
    float weights[kQK_K];
    float fits[16];
    float max_scale = 0;
    for (int sub = 0; sub < 16; ++sub) {
      search::weights_rms_plus_abs(src + 16 * sub, 16, weights + 16 * sub);
      fits[sub] = search::fit_symmetric(src + 16 * sub, weights + 16 * sub, 16, 31);
      if (std::fabs(fits[sub]) > std::fabs(max_scale)) max_scale = fits[sub];
    }
    // The largest sub-block scale takes code -128, the long end of int8.
    const float d = as_stored_f16(max_scale / -128.0f);
    int L[kQK_K] = {};
    auto* scales = reinterpret_cast<int8_t*>(dst + q6_k::scales);
    for (int sub = 0; sub < 16; ++sub) {
      const int code0 = d != 0 ? clamp_int(search::round_to_int(fits[sub] / d), -128, 127) : 0;
      float best_error = INFINITY;
      int trial[16];
      for (int code = std::max(-128, code0 - 1); code <= std::min(127, code0 + 1); ++code) {
        const float scale = d * static_cast<float>(code);
        const float error = requantize_symmetric16(src + 16 * sub, weights + 16 * sub, scale, trial);
        if (error < best_error) {
          best_error = error;
          scales[sub] = static_cast<int8_t>(code);
          std::memcpy(L + 16 * sub, trial, sizeof trial);
        }
      }
    }
    store_f16(dst + q6_k::d, d);
    // Element 128*h + 32*k + l (stored biased by 32): low 4 bits in ql[64h + l + 32*(k%2)] at
    // nibble k/2, high 2 bits in qh[32h + l] at bits 2k.
    uint8_t* ql = dst + q6_k::ql;
    uint8_t* qh = dst + q6_k::qh;
    std::memset(ql, 0, 128);
    std::memset(qh, 0, 64);
    for (int i = 0; i < kQK_K; ++i) {
      const int half = i / 128, k = (i % 128) / 32, l = i % 32;
      const int q = L[i] + 32;
      ql[64 * half + l + 32 * (k % 2)] |= static_cast<uint8_t>((q & 0x0f) << (4 * (k / 2)));
      qh[32 * half + l] |= static_cast<uint8_t>((q >> 4) << (2 * k));
    }
  }
}

void quantize_q8_k(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQK_K, dst += q8_k::bytes) {
    float max = 0, amax = 0;
    for (int i = 0; i < kQK_K; ++i) {
      if (std::fabs(src[i]) > amax) {
        amax = std::fabs(src[i]);
        max = src[i];
      }
    }
    auto* qs = reinterpret_cast<int8_t*>(dst + q8_k::qs);
    if (amax == 0) {
      std::memset(dst, 0, q8_k::bytes);
      continue;
    }
    const float inverse_scale = -127.0f / max;
    for (int i = 0; i < kQK_K; ++i)
      qs[i] = static_cast<int8_t>(std::min(127, search::round_to_int(inverse_scale * src[i])));
    for (int group = 0; group < 16; ++group) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += qs[16 * group + l];
      store_u16(dst + q8_k::bsums + 2 * group, static_cast<uint16_t>(static_cast<int16_t>(sum)));
    }
    store_f32(dst + q8_k::d, 1.0f / inverse_scale);
  }
}

}  // namespace dragon::rows
