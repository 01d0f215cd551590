// Rounding of activations to the 8-bit block formats that quantized weights are dotted against.
//
// llama.cpp never multiplies a quantized weight by f32 activations: it first quantizes the
// activation row to the weight type's "dot type" (Q8_0 for Q4_0 / Q5_0 / Q8_0 / IQ4_NL, Q8_1 for
// Q4_1 / Q5_1 — the same values as Q8_0 — and Q8_K for the K-quants and IQ4_XS) and then takes
// an integer dot product. dragon's fast int8 kernels will do the same, so the scalar matmul
// rounds activations the same way: results then track llama.cpp's on quantized files (argmax
// agreement) instead of differing by the activation rounding, and the int8 kernels have a
// reference to match. Rounding follows ggml's reference quantizers (quantize_row_q8_0_ref,
// quantize_row_q8_K_ref): Q8_0 = per 32 values, d = amax / 127 stored as f16, q = round(x / d);
// Q8_K = per 256 values, scale from the signed extreme value, q = nearest-even(-127 x / max).
#pragma once

#include <cstdint>
#include <optional>

#include "tensor/dtype.h"

namespace dragon {

// The activation format a weight type is dotted against, or nullopt for F32 / F16 / BF16
// (float weights take the f32 activations as they are).
std::optional<DType> activation_dot_type(DType weight_type);

// Replaces `n` values of `x` (a multiple of the block size) by their Q8_0 / Q8_K rounding.
void round_activations(DType dot_type, float* x, int64_t n);

}  // namespace dragon
