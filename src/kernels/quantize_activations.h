// Activations quantized once per matmul to the 8-bit "dot type" of a quantized weight (Q8_0 for
// Q4_0 / Q8_0, Q8_K for the K-quants and IQ4_XS — see activation_rounding.h), kept as plain
// arrays rather than GGML's interleaved blocks: int8 quants contiguous per token (so a SIMD load
// spans several blocks), one f32 scale per block, and for Q8_K the sums of each 16 quants that
// the K-quant kernels need for their mins / offsets.
//
// The values are exactly round_activations()'s: q[i] * d[block] == the rounded activation.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/activations.h"
#include "kernels/thread_pool.h"
#include "tensor/dtype.h"

namespace dragon {

// One token's quantized row, as the dot kernels read it (kernels/dot_kernels.h).
struct QuantizedRowView {
  const int8_t* q = nullptr;
  const float* d = nullptr;        // one scale per 32 (Q8_0) or 256 (Q8_K) values
  const int16_t* bsums = nullptr;  // Q8_K only: sum of each 16 consecutive quants
};

struct QuantizedActivations {
  DType type = DType::Q8_0;  // Q8_0 or Q8_K
  int64_t rows = 0, cols = 0;
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int16_t> bsums;

  int64_t block() const { return type == DType::Q8_0 ? 32 : 256; }
  QuantizedRowView row(int64_t r) const {
    return {q.data() + r * cols, d.data() + r * (cols / block()),
            type == DType::Q8_K ? bsums.data() + r * (cols / 16) : nullptr};
  }
};

// Quantizes one row of `n` values (a multiple of the block). Same rounding as round_activations.
void quantize_row_q8_0_act(const float* x, int64_t n, int8_t* q, float* d);
void quantize_row_q8_k_act(const float* x, int64_t n, int8_t* q, float* d, int16_t* bsums);

// All rows of `x` (reusing `out`'s buffers); splits tokens over `pool` for a long batch.
void quantize_activations(DType dot_type, const Activations& x, QuantizedActivations& out, ThreadPool& pool);

}  // namespace dragon
