// Dequantization of GGML's 32-element blocks: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and IQ4_NL.
// y = d * q (symmetric types) or y = d * q + m (the _1 types), one f32 rounding per operation —
// the same sequence of operations as gguf-py, hence bit-exact with it.
#include "tensor/block_layout.h"
#include "tensor/quant_rows.h"

namespace dragon::rows {

using namespace layout;

namespace {

// 4-bit quants: byte j holds element j in its low nibble and element j+16 in its high nibble.
inline int nibble(const uint8_t* qs, int i) { return i < 16 ? qs[i] & 0x0f : qs[i - 16] >> 4; }
// 5-bit quants add bit i of the 32-bit little-endian qh word as bit 4.
inline int fifth_bit(uint32_t qh, int i) { return static_cast<int>((qh >> i) & 1u) << 4; }

}  // namespace

void dequantize_q4_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += q4_0::bytes, dst += kQK) {
    const float d = load_f16(src + q4_0::d);
    const uint8_t* qs = src + q4_0::qs;
    for (int i = 0; i < kQK; ++i) dst[i] = d * static_cast<float>(nibble(qs, i) - 8);
  }
}

void dequantize_q4_1(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += q4_1::bytes, dst += kQK) {
    const float d = load_f16(src + q4_1::d);
    const float m = load_f16(src + q4_1::m);
    const uint8_t* qs = src + q4_1::qs;
    for (int i = 0; i < kQK; ++i) {
      const float scaled = d * static_cast<float>(nibble(qs, i));
      dst[i] = scaled + m;
    }
  }
}

void dequantize_q5_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += q5_0::bytes, dst += kQK) {
    const float d = load_f16(src + q5_0::d);
    const uint32_t qh = load_u32(src + q5_0::qh);
    const uint8_t* qs = src + q5_0::qs;
    for (int i = 0; i < kQK; ++i) dst[i] = d * static_cast<float>((nibble(qs, i) | fifth_bit(qh, i)) - 16);
  }
}

void dequantize_q5_1(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += q5_1::bytes, dst += kQK) {
    const float d = load_f16(src + q5_1::d);
    const float m = load_f16(src + q5_1::m);
    const uint32_t qh = load_u32(src + q5_1::qh);
    const uint8_t* qs = src + q5_1::qs;
    for (int i = 0; i < kQK; ++i) {
      const float scaled = d * static_cast<float>(nibble(qs, i) | fifth_bit(qh, i));
      dst[i] = scaled + m;
    }
  }
}

void dequantize_q8_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += q8_0::bytes, dst += kQK) {
    const float d = load_f16(src + q8_0::d);
    const auto* qs = reinterpret_cast<const int8_t*>(src + q8_0::qs);
    for (int i = 0; i < kQK; ++i) dst[i] = d * static_cast<float>(qs[i]);
  }
}

void dequantize_iq4_nl(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += iq4_nl::bytes, dst += kQK) {
    const float d = load_f16(src + iq4_nl::d);
    const uint8_t* qs = src + iq4_nl::qs;
    for (int i = 0; i < kQK; ++i) dst[i] = d * static_cast<float>(kIQ4Levels[nibble(qs, i)]);
  }
}

}  // namespace dragon::rows
