// Per-format row routines behind dequantize_row / quantize_row (internal to src/tensor).
// Each takes a whole number of blocks: `blocks` blocks of the format's byte size and block
// element count (32 for legacy types and IQ4_NL, 256 for K-quants and IQ4_XS).
#pragma once

#include <cstdint>

namespace dragon::rows {

// dequantize_legacy.cc
void dequantize_q4_0(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q4_1(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q5_0(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q5_1(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q8_0(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_iq4_nl(const uint8_t* src, float* dst, int64_t blocks);

// dequantize_k.cc
void dequantize_q2_k(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q3_k(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q4_k(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q5_k(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q6_k(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q8_k(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_iq4_xs(const uint8_t* src, float* dst, int64_t blocks);

// quantize_legacy.cc — bit-exact with gguf-py's quantize()
void quantize_q4_0(const float* src, uint8_t* dst, int64_t blocks);
void quantize_q4_1(const float* src, uint8_t* dst, int64_t blocks);
void quantize_q5_0(const float* src, uint8_t* dst, int64_t blocks);
void quantize_q5_1(const float* src, uint8_t* dst, int64_t blocks);
void quantize_q8_0(const float* src, uint8_t* dst, int64_t blocks);

// quantize_k.cc — searched scales (no reference to be bit-exact with)
void quantize_q4_k(const float* src, uint8_t* dst, int64_t blocks);
void quantize_q5_k(const float* src, uint8_t* dst, int64_t blocks);
void quantize_q6_k(const float* src, uint8_t* dst, int64_t blocks);
void quantize_q8_k(const float* src, uint8_t* dst, int64_t blocks);

// quantize_iq4.cc — searched scales on the non-uniform IQ4 grid
void quantize_iq4_nl(const float* src, uint8_t* dst, int64_t blocks);
void quantize_iq4_xs(const float* src, uint8_t* dst, int64_t blocks);

}  // namespace dragon::rows
