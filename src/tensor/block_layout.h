// Byte layouts of GGML's quantized blocks, as byte offsets inside one block (the structs of
// ggml-common.h, written out so blocks can be read from unaligned file bytes with memcpy).
// Shared by dequantize*.cc and quantize*.cc; internal to src/tensor.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tensor/half.h"

namespace dragon::layout {

static_assert(std::endian::native == std::endian::little, "GGML blocks are little-endian");

inline constexpr int kQK = 32;    // elements of a legacy block (Q4_0 ... Q8_0, IQ4_NL)
inline constexpr int kQK_K = 256;  // elements of a K-quant super-block

// Legacy 32-element blocks: f16 scale d (and f16 min m for the _1 types), then packed quants.
// 4-bit quants: byte j holds element j (low nibble) and element j+16 (high nibble).
// 5-bit quants: qh bit j is the 5th bit of element j.
namespace q4_0 { inline constexpr size_t d = 0, qs = 2, bytes = 18; }
namespace q4_1 { inline constexpr size_t d = 0, m = 2, qs = 4, bytes = 20; }
namespace q5_0 { inline constexpr size_t d = 0, qh = 2, qs = 6, bytes = 22; }
namespace q5_1 { inline constexpr size_t d = 0, m = 2, qh = 4, qs = 8, bytes = 24; }
namespace q8_0 { inline constexpr size_t d = 0, qs = 2, bytes = 34; }
namespace iq4_nl { inline constexpr size_t d = 0, qs = 2, bytes = 18; }

// K-quant super-blocks of 256 elements.
namespace q2_k { inline constexpr size_t scales = 0, qs = 16, d = 80, dmin = 82, bytes = 84; }
namespace q3_k { inline constexpr size_t hmask = 0, qs = 32, scales = 96, d = 108, bytes = 110; }
namespace q4_k { inline constexpr size_t d = 0, dmin = 2, scales = 4, qs = 16, bytes = 144; }
namespace q5_k { inline constexpr size_t d = 0, dmin = 2, scales = 4, qh = 16, qs = 48, bytes = 176; }
namespace q6_k { inline constexpr size_t ql = 0, qh = 128, scales = 192, d = 208, bytes = 210; }
namespace q8_k { inline constexpr size_t d = 0, qs = 4, bsums = 260, bytes = 292; }  // d is f32
namespace iq4_xs { inline constexpr size_t d = 0, scales_h = 2, scales_l = 4, qs = 8, bytes = 136; }

// The 16 levels of IQ4_NL / IQ4_XS (a non-uniform 4-bit grid, ascending).
inline constexpr int8_t kIQ4Levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                          1,    13,   25,  38,  53,  69,  89,  113};

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline float load_f16(const uint8_t* p) { return f16_to_f32(load_u16(p)); }
inline float load_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, sizeof v); }
inline void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, sizeof v); }
inline void store_f16(uint8_t* p, float v) { store_u16(p, f32_to_f16(v)); }
inline void store_f32(uint8_t* p, float v) { std::memcpy(p, &v, sizeof v); }

// Q4_K / Q5_K pack eight 6-bit scales and eight 6-bit mins into 12 bytes:
//   bytes 0-3:  scale j (j<4) in the low 6 bits; top 2 bits = bits 4-5 of scale j+4
//   bytes 4-7:  min j (j<4) in the low 6 bits;   top 2 bits = bits 4-5 of min j+4
//   bytes 8-11: low nibble = bits 0-3 of scale j+4, high nibble = bits 0-3 of min j+4
inline void unpack_scale_min_k4(const uint8_t* packed, int j, int& scale, int& min) {
  if (j < 4) {
    scale = packed[j] & 63;
    min = packed[j + 4] & 63;
  } else {
    scale = (packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4);
    min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
  }
}

inline void pack_scale_min_k4(const int scales[8], const int mins[8], uint8_t packed[12]) {
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<uint8_t>((scales[j] & 63) | ((scales[j + 4] >> 4) << 6));
    packed[j + 4] = static_cast<uint8_t>((mins[j] & 63) | ((mins[j + 4] >> 4) << 6));
    packed[j + 8] = static_cast<uint8_t>((scales[j + 4] & 0x0f) | ((mins[j + 4] & 0x0f) << 4));
  }
}

// Q3_K packs sixteen 6-bit scales (stored biased by +32) into 12 bytes: bytes 0-7 hold the low
// nibbles (scale j in byte j%8, low half for j<8, high half for j>=8); bytes 8-11 hold the top
// 2 bits (scale j in byte 8 + j%4 at bit 2*(j/4)).
inline int unpack_scale_q3_k(const uint8_t* packed, int j) {
  const int low = (packed[j % 8] >> (4 * (j / 8))) & 0x0f;
  const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace dragon::layout
