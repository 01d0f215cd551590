// Pieces shared by the x86 row-dot kernels (dot_avx2.cc, dot_avx512.cc). Internal to kernels/.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/dot_kernels.h"

namespace dragon::simd {

// Four int8 values as one int32 (unaligned), for broadcasting to every lane.
inline int32_t load_i32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Q4_K / Q5_K pack eight 6-bit scales and eight 6-bit mins into 12 bytes (block_layout.h). This
// unpacks all sixteen at once with 32-bit masks instead of one field at a time:
//   scales 0-3 = low 6 bits of bytes 0-3; mins 0-3 = low 6 bits of bytes 4-7;
//   scales 4-7 = low nibbles of bytes 8-11 | (top 2 bits of bytes 0-3) << 4;
//   mins 4-7   = high nibbles of bytes 8-11 | (top 2 bits of bytes 4-7) << 4.
inline void unpack_k4_scales(const uint8_t* packed, uint8_t scales[8], uint8_t mins[8]) {
  uint32_t word[3];
  std::memcpy(word, packed, 12);
  constexpr uint32_t kLow6 = 0x3f3f3f3fu, kLow4 = 0x0f0f0f0fu, kLow2 = 0x03030303u;
  const uint32_t s_lo = word[0] & kLow6;
  const uint32_t s_hi = (word[2] & kLow4) | (((word[0] >> 6) & kLow2) << 4);
  const uint32_t m_lo = word[1] & kLow6;
  const uint32_t m_hi = ((word[2] >> 4) & kLow4) | (((word[1] >> 6) & kLow2) << 4);
  std::memcpy(scales, &s_lo, 4);
  std::memcpy(scales + 4, &s_hi, 4);
  std::memcpy(mins, &m_lo, 4);
  std::memcpy(mins + 4, &m_hi, 4);
}

// Turns a kernel templated on its token count into a RowDotFn. In an unnamed namespace so each
// ISA's file gets its own copy: GCC gives an instantiation over a template template argument from
// an unnamed namespace a weak symbol whose name is the same in every file, and the linker would
// then keep one ISA's kernels for all.
namespace {
template <template <int> class Kernel>
void dispatch_tokens(const uint8_t* w, const DotActivation* acts, int n_tok, int64_t cols, float* out) {
  switch (n_tok) {
    case 1: Kernel<1>::run(w, acts, cols, out); break;
    case 2: Kernel<2>::run(w, acts, cols, out); break;
    case 3: Kernel<3>::run(w, acts, cols, out); break;
    default: Kernel<4>::run(w, acts, cols, out); break;
  }
  static_assert(kMaxDotTokens == 4);
}
}  // namespace

}  // namespace dragon::simd
