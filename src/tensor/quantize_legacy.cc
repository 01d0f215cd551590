// Quantization to GGML's 32-element blocks (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0), bit-exact with
// gguf-py's quantize() and ggml's quantize_row_*_ref: the same f32 operations in the same order,
// the unrounded f32 scale for the quants, and the scale stored as f16 (round to nearest even).
// Every step is a separate statement so no expression can be contracted into an FMA.
#include <cmath>

#include "tensor/block_layout.h"
#include "tensor/quant_rows.h"

namespace dragon::rows {

using namespace layout;

namespace {

// The element of largest magnitude, sign kept; the first one wins a tie (numpy's argmax).
float signed_absmax(const float* x) {
  float max = x[0];
  float amax = std::fabs(x[0]);
  for (int i = 1; i < kQK; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  return max;
}

float inverse_or_zero(float d) { return d == 0.0f ? 0.0f : 1.0f / d; }

// trunc(value) clamped to [0, top], as numpy's trunc().astype(uint8).clip(0, top) for the value
// ranges these quantizers produce (never below -1).
int trunc_clamped(float value, int top) {
  const int q = static_cast<int>(value);
  return q < 0 ? 0 : (q > top ? top : q);
}

// Packs 32 4-bit values: element j in the low nibble of byte j, element j+16 in the high one.
void pack_nibbles(const int* q, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4));
}

// Bit 4 of each of the 32 values, as one little-endian 32-bit word.
void pack_fifth_bits(const int* q, uint8_t* qh) {
  uint32_t bits = 0;
  for (int j = 0; j < kQK; ++j) bits |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  store_u32(qh, bits);
}

// Symmetric quantization around a signed extreme: d = max / -half, q = trunc(x/d + half + 0.5).
float quantize_symmetric(const float* x, int half, int* q) {
  const float d = signed_absmax(x) / static_cast<float>(-half);
  const float id = inverse_or_zero(d);
  const float bias = static_cast<float>(half) + 0.5f;
  for (int i = 0; i < kQK; ++i) {
    const float scaled = x[i] * id;
    q[i] = trunc_clamped(scaled + bias, 2 * half - 1);
  }
  return d;
}

// Quantization with a minimum: d = (max - min) / top, q = trunc((x - min)/d + 0.5).
void quantize_with_min(const float* x, int top, int* q, float& d, float& min) {
  float max = x[0];
  min = x[0];
  for (int i = 1; i < kQK; ++i) {
    if (x[i] > max) max = x[i];
    if (x[i] < min) min = x[i];
  }
  d = (max - min) / static_cast<float>(top);
  const float id = inverse_or_zero(d);
  for (int i = 0; i < kQK; ++i) {
    const float shifted = x[i] - min;
    const float scaled = shifted * id;
    q[i] = trunc_clamped(scaled + 0.5f, top);
  }
}

}  // namespace

void quantize_q4_0(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQK, dst += q4_0::bytes) {
    int q[kQK];
    const float d = quantize_symmetric(src, 8, q);
    store_f16(dst + q4_0::d, d);
    pack_nibbles(q, dst + q4_0::qs);
  }
}

void quantize_q4_1(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQK, dst += q4_1::bytes) {
    int q[kQK];
    float d, min;
    quantize_with_min(src, 15, q, d, min);
    store_f16(dst + q4_1::d, d);
    store_f16(dst + q4_1::m, min);
    pack_nibbles(q, dst + q4_1::qs);
  }
}

void quantize_q5_0(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQK, dst += q5_0::bytes) {
    int q[kQK];
    const float d = quantize_symmetric(src, 16, q);
    store_f16(dst + q5_0::d, d);
    pack_fifth_bits(q, dst + q5_0::qh);
    pack_nibbles(q, dst + q5_0::qs);
  }
}

void quantize_q5_1(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQK, dst += q5_1::bytes) {
    int q[kQK];
    float d, min;
    quantize_with_min(src, 31, q, d, min);
    store_f16(dst + q5_1::d, d);
    store_f16(dst + q5_1::m, min);
    pack_fifth_bits(q, dst + q5_1::qh);
    pack_nibbles(q, dst + q5_1::qs);
  }
}

// Q8_0: d = max|x| / 127, q = round-half-away-from-zero(x / d).
void quantize_q8_0(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQK, dst += q8_0::bytes) {
    float amax = 0.0f;
    for (int i = 0; i < kQK; ++i) amax = std::fmax(amax, std::fabs(src[i]));
    const float d = amax / 127.0f;
    const float id = inverse_or_zero(d);
    store_f16(dst + q8_0::d, d);
    auto* qs = reinterpret_cast<int8_t*>(dst + q8_0::qs);
    for (int i = 0; i < kQK; ++i) {
      const float scaled = src[i] * id;
      qs[i] = static_cast<int8_t>(std::round(scaled));
    }
  }
}

}  // namespace dragon::rows
