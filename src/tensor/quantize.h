// Quantization: f32 -> a stored element type, producing blocks llama.cpp reads.
//   F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0: bit-exact with gguf-py's quantize() (which for
//     the legacy types is bit-exact with ggml's reference quantize_row_*_ref).
//   Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL, IQ4_XS: dragon's own quantizers that search the best scale
//     (and min) per sub-block by weighted least squares; there is no reference to match bit by
//     bit, so tests bound their round-trip error and decode them with gguf-py.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/dtype.h"

namespace dragon {

bool can_quantize(DType type);

// Encodes `n` elements (a multiple of the type's block size) of `src` into
// dtype_row_bytes(type, n) bytes at `dst`. Throws dragon::Error for an unsupported type or n.
// Block types expect finite input (as ggml does): callers reject inf/NaN weights first.
void quantize_row(DType type, const float* src, uint8_t* dst, int64_t n);

// A row-major [rows, cols] matrix, each row quantized on its own (cols must be a multiple of the
// block size): rows * dtype_row_bytes(type, cols) bytes.
std::vector<uint8_t> quantize_tensor(DType type, const float* src, int64_t rows, int64_t cols);

}  // namespace dragon
