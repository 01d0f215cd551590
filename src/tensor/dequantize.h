// Dequantization: any stored element type -> f32. The scalar routines here are the reference
// that faster kernels are tested against; each is bit-exact with gguf-py's numpy dequantize
// (tests/tensor/quants_parity_test.cc), i.e. every product is one f32 rounding, in the same order.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/tensor_view.h"

namespace dragon {

// True for the types dequantize_row handles: F32, F16, BF16, F64, I8, I16, I32, I64, Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL, IQ4_XS.
bool can_dequantize(DType type);

// Decodes `n` elements (a multiple of the type's block size) from `src` into `dst`. Throws
// dragon::Error for an unsupported type or a bad `n`.
void dequantize_row(DType type, const uint8_t* src, float* dst, int64_t n);

// The whole tensor as f32, in storage order. Checks that view.nbytes matches the shape and type
// and names the tensor in every error.
std::vector<float> dequantize_tensor(const TensorView& view);

}  // namespace dragon
