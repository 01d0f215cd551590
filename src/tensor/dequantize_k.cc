// Dequantization of GGML's 256-element super-blocks: Q2_K ... Q8_K and IQ4_XS.
// Each super-block has an f16 scale d (and an f16 dmin for the types with offsets) and one small
// integer scale per sub-block; the sub-block factor d * scale is rounded to f32 first and then
// multiplies the quant — the order gguf-py uses, so the results are bit-exact with it.
#include "tensor/block_layout.h"
#include "tensor/quant_rows.h"

namespace dragon::rows {

using namespace layout;

// Q2_K: 16 sub-blocks of 16. scales[s] = (min << 4) | scale. The 2-bit quants are stored in two
// 128-element halves of 32 bytes; within a half, element 32*k + l sits in byte l at bits 2k.
void dequantize_q2_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += q2_k::bytes, dst += kQK_K) {
    const float d = load_f16(src + q2_k::d);
    const float dmin = load_f16(src + q2_k::dmin);
    const uint8_t* scales = src + q2_k::scales;
    for (int i = 0; i < kQK_K; ++i) {
      const int half = i / 128, k = (i % 128) / 32, l = i % 32;
      const int q = (src[q2_k::qs + 32 * half + l] >> (2 * k)) & 3;
      const int sub = i / 16;
      const float scale = d * static_cast<float>(scales[sub] & 0x0f);
      const float offset = dmin * static_cast<float>(scales[sub] >> 4);
      dst[i] = scale * static_cast<float>(q) - offset;
    }
  }
}

// Q3_K: 16 sub-blocks of 16 with signed 6-bit scales. Low 2 bits of each quant are laid out as
// in Q2_K; the 3rd bit of element 32*g + l is bit g of hmask[l], and a CLEAR bit means -4.
void dequantize_q3_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += q3_k::bytes, dst += kQK_K) {
    const float d = load_f16(src + q3_k::d);
    float sub_scale[16];
    for (int s = 0; s < 16; ++s) sub_scale[s] = d * static_cast<float>(unpack_scale_q3_k(src + q3_k::scales, s));
    for (int i = 0; i < kQK_K; ++i) {
      const int half = i / 128, k = (i % 128) / 32, l = i % 32, group = i / 32;
      const int low = (src[q3_k::qs + 32 * half + l] >> (2 * k)) & 3;
      const bool high_set = (src[q3_k::hmask + l] >> group) & 1;
      const int q = low - (high_set ? 0 : 4);
      dst[i] = sub_scale[i / 16] * static_cast<float>(q);
    }
  }
}

// Q4_K: 8 sub-blocks of 32 with 6-bit scales and mins (packed, see block_layout.h). The 4-bit
// quants come in four 64-element groups of 32 bytes: low nibbles first, then high nibbles.
void dequantize_q4_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += q4_k::bytes, dst += kQK_K) {
    const float d = load_f16(src + q4_k::d);
    const float dmin = load_f16(src + q4_k::dmin);
    for (int sub = 0; sub < 8; ++sub) {
      int scale_q, min_q;
      unpack_scale_min_k4(src + q4_k::scales, sub, scale_q, min_q);
      const float scale = d * static_cast<float>(scale_q);
      const float offset = dmin * static_cast<float>(min_q);
      const uint8_t* qs = src + q4_k::qs + 32 * (sub / 2);
      const int shift = 4 * (sub % 2);
      for (int l = 0; l < 32; ++l) dst[32 * sub + l] = scale * static_cast<float>((qs[l] >> shift) & 0x0f) - offset;
    }
  }
}

// Q5_K: Q4_K plus a 5th bit: bit `sub` of qh[l] for element l of sub-block `sub`.
void dequantize_q5_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += q5_k::bytes, dst += kQK_K) {
    const float d = load_f16(src + q5_k::d);
    const float dmin = load_f16(src + q5_k::dmin);
    const uint8_t* qh = src + q5_k::qh;
    for (int sub = 0; sub < 8; ++sub) {
      int scale_q, min_q;
      unpack_scale_min_k4(src + q5_k::scales, sub, scale_q, min_q);
      const float scale = d * static_cast<float>(scale_q);
      const float offset = dmin * static_cast<float>(min_q);
      const uint8_t* qs = src + q5_k::qs + 32 * (sub / 2);
      const int shift = 4 * (sub % 2);
      for (int l = 0; l < 32; ++l) {
        const int q = ((qs[l] >> shift) & 0x0f) | (((qh[l] >> sub) & 1) << 4);
        dst[32 * sub + l] = scale * static_cast<float>(q) - offset;
      }
    }
  }
}

// Q6_K: 16 sub-blocks of 16 with int8 scales; 6-bit quants biased by 32. Per 128-element half,
// element 32*k + l takes its low 4 bits from ql[64*half + l + 32*(k%2)] (nibble k/2) and its
// high 2 bits from qh[32*half + l] at bits 2k.
void dequantize_q6_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += q6_k::bytes, dst += kQK_K) {
    const float d = load_f16(src + q6_k::d);
    const auto* scales = reinterpret_cast<const int8_t*>(src + q6_k::scales);
    for (int i = 0; i < kQK_K; ++i) {
      const int half = i / 128, k = (i % 128) / 32, l = i % 32;
      const int low = (src[q6_k::ql + 64 * half + l + 32 * (k % 2)] >> (4 * (k / 2))) & 0x0f;
      const int high = (src[q6_k::qh + 32 * half + l] >> (2 * k)) & 3;
      const float scale = d * static_cast<float>(scales[i / 16]);
      dst[i] = scale * static_cast<float>((low | (high << 4)) - 32);
    }
  }
}

// Q8_K: f32 d, 256 int8 quants (the bsums are only for dot products).
void dequantize_q8_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += q8_k::bytes, dst += kQK_K) {
    const float d = load_f32(src + q8_k::d);
    const auto* qs = reinterpret_cast<const int8_t*>(src + q8_k::qs);
    for (int i = 0; i < kQK_K; ++i) dst[i] = d * static_cast<float>(qs[i]);
  }
}

// IQ4_XS: 8 sub-blocks of 32 with 6-bit scales biased by 32 (low 4 bits in scales_l nibbles,
// high 2 bits in the 16-bit scales_h), and IQ4_NL's 4-bit grid indices per sub-block of 16
// bytes (element l in the low nibble of byte l, element l+16 in the high nibble).
void dequantize_iq4_xs(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += iq4_xs::bytes, dst += kQK_K) {
    const float d = load_f16(src + iq4_xs::d);
    const uint16_t scales_h = load_u16(src + iq4_xs::scales_h);
    for (int sub = 0; sub < 8; ++sub) {
      const int low = (src[iq4_xs::scales_l + sub / 2] >> (4 * (sub % 2))) & 0x0f;
      const int high = (scales_h >> (2 * sub)) & 3;
      const float scale = d * static_cast<float>((low | (high << 4)) - 32);
      const uint8_t* qs = src + iq4_xs::qs + 16 * sub;
      for (int l = 0; l < 16; ++l) {
        dst[32 * sub + l] = scale * static_cast<float>(kIQ4Levels[qs[l] & 0x0f]);
        dst[32 * sub + l + 16] = scale * static_cast<float>(kIQ4Levels[qs[l] >> 4]);
      }
    }
  }
}

}  // namespace dragon::rows
