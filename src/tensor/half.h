// 16-bit float formats: IEEE half (F16) and bfloat16 (BF16), stored as their raw bit patterns.
//
// Rounding matches the references dragon is tested against:
//   f32_to_f16  — round to nearest, ties to even, like numpy's astype(np.float16) (overflow to
//                 inf, correct subnormals). A NaN stays a NaN of the same sign; it is made quiet
//                 and keeps its top payload bits, as the x86 F16C instruction does.
//   f32_to_bf16 — gguf-py's BF16.quantize / ggml_compute_fp32_to_bf16: a NaN is forced quiet
//                 (bit 22) with its upper payload kept; everything else (inf included) rounds to
//                 nearest even on the upper 16 bits, so values past the largest bf16 become inf.
// The widening conversions are exact.
#pragma once

#include <bit>
#include <cstdint>

namespace dragon {

inline float bits_to_f32(uint32_t bits) { return std::bit_cast<float>(bits); }
inline uint32_t f32_to_bits(float value) { return std::bit_cast<uint32_t>(value); }

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return bits_to_f32(sign | 0x7f800000u | (mantissa << 13));  // inf / NaN
  if (exponent != 0) return bits_to_f32(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa * 2^-24 is exact in f32.
  const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
  return sign ? -magnitude : magnitude;
}

inline uint16_t f32_to_f16(float value) {
  const uint32_t bits = f32_to_bits(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;

  if (magnitude >= 0x7f800000u) {  // inf or NaN
    if (magnitude == 0x7f800000u) return sign | 0x7c00u;
    return static_cast<uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  }
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to inf
  if (magnitude >= 0x38800000u) {                       // normal half (>= 2^-14)
    // Re-bias the exponent (127 -> 15), then round the 13 dropped mantissa bits to nearest even;
    // a carry out of the mantissa correctly bumps the exponent.
    uint32_t rebased = magnitude - 0x38000000u;
    rebased += 0xfffu + ((rebased >> 13) & 1u);
    return static_cast<uint16_t>(sign | (rebased >> 13));
  }
  if (magnitude <= 0x33000000u) return sign;  // <= 2^-25: ties to even at zero
  // Subnormal half: value / 2^-24 = significand24 >> shift, rounded to nearest even.
  const uint32_t exponent = magnitude >> 23;
  const uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126 - exponent;  // 14..24
  uint32_t result = significand >> shift;
  const uint32_t remainder = significand & ((1u << shift) - 1);
  const uint32_t halfway = 1u << (shift - 1);
  if (remainder > halfway || (remainder == halfway && (result & 1u))) ++result;
  return static_cast<uint16_t>(sign | result);  // result 0x400 is the smallest normal: correct
}

inline float bf16_to_f32(uint16_t b) { return bits_to_f32(static_cast<uint32_t>(b) << 16); }

inline uint16_t f32_to_bf16(float value) {
  const uint32_t bits = f32_to_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u)  // NaN: keep sign and upper payload, force quiet
    return static_cast<uint16_t>(((bits & 0xffff0000u) | 0x00400000u) >> 16);
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

}  // namespace dragon
