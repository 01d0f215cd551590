// Row-dot kernels: one weight row (in its file format) against up to kMaxDotTokens activation
// rows, writing one f32 per token. Holding the weight block in registers while it meets several
// tokens is how prefill reuses each weight load; decode calls them with one token.
//
// Quantized weights meet int8-quantized activations (quantize_activations.h) and every block dot
// is an exact int32 sum; only the order of the f32 accumulation differs between ISA paths.
// Float weights (F32, F16, BF16) meet the f32 activations as they are: F16 / BF16 are widened
// exactly, so products are exact and, again, only the summation order differs.
//
// One table per ISA (dot_scalar.cc, dot_avx2.cc, dot_avx512.cc); row_dot_for() picks the
// fastest kernel at or below the asked ISA — a format with no AVX-512 kernel runs AVX2's.
#pragma once

#include <cstdint>
#include <optional>

#include "kernels/cpu_features.h"
#include "kernels/quantize_activations.h"
#include "tensor/dtype.h"

namespace dragon {

inline constexpr int kMaxDotTokens = 4;

// One token's activations as a kernel reads them: `f` for float weights, `q` for quantized.
struct DotActivation {
  const float* f = nullptr;
  QuantizedRowView q;
};

// out[t] = dot(weight row, acts[t]) for t < n_tok (1..kMaxDotTokens); `cols` = row length.
using RowDotFn = void (*)(const uint8_t* w_row, const DotActivation* acts, int n_tok, int64_t cols, float* out);

// The activation format a weight type's kernels read: nullopt = f32, else Q8_0 / Q8_K.
std::optional<DType> dot_activation_type(DType weight_type);

// The kernel for `weight_type` at the best level <= `isa`; nullptr if no kernel handles the type
// (matmul then falls back to dequantizing rows).
RowDotFn row_dot_for(DType weight_type, Isa isa);

// Per-ISA tables (nullptr = no kernel of that type at that level).
RowDotFn row_dot_scalar(DType weight_type);
RowDotFn row_dot_avx2(DType weight_type);    // nullptr everywhere off x86-64
RowDotFn row_dot_avx512(DType weight_type);  // nullptr everywhere off x86-64

}  // namespace dragon
