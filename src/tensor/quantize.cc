// quantize_row dispatch and the plain float types.
#include "tensor/quantize.h"

#include <cstring>

#include "tensor/block_layout.h"
#include "tensor/half.h"
#include "tensor/quant_rows.h"
#include "util/error.h"

namespace dragon {

namespace {

using BlockQuantizer = void (*)(const float*, uint8_t*, int64_t);

BlockQuantizer block_quantizer(DType type) {
  switch (type) {
    case DType::Q4_0: return rows::quantize_q4_0;
    case DType::Q4_1: return rows::quantize_q4_1;
    case DType::Q5_0: return rows::quantize_q5_0;
    case DType::Q5_1: return rows::quantize_q5_1;
    case DType::Q8_0: return rows::quantize_q8_0;
    case DType::Q4_K: return rows::quantize_q4_k;
    case DType::Q5_K: return rows::quantize_q5_k;
    case DType::Q6_K: return rows::quantize_q6_k;
    case DType::Q8_K: return rows::quantize_q8_k;
    case DType::IQ4_NL: return rows::quantize_iq4_nl;
    case DType::IQ4_XS: return rows::quantize_iq4_xs;
    default: return nullptr;
  }
}

bool is_plain_float(DType type) { return type == DType::F32 || type == DType::F16 || type == DType::BF16; }

}  // namespace

bool can_quantize(DType type) { return is_plain_float(type) || block_quantizer(type) != nullptr; }

void quantize_row(DType type, const float* src, uint8_t* dst, int64_t n) {
  if (!can_quantize(type)) fail("quantize: tensor type {} is not supported", dtype_name(type));
  dtype_row_bytes(type, n);  // validates n (non-negative, whole blocks)
  switch (type) {
    case DType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) layout::store_u16(dst + 2 * i, f32_to_f16(src[i]));
      return;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) layout::store_u16(dst + 2 * i, f32_to_bf16(src[i]));
      return;
    default: block_quantizer(type)(src, dst, n / dtype_info_checked(type).block_elems);
  }
}

std::vector<uint8_t> quantize_tensor(DType type, const float* src, int64_t rows, int64_t cols) {
  if (rows < 0) fail("quantize: negative row count {}", rows);
  const uint64_t row_bytes = dtype_row_bytes(type, cols);
  uint64_t total = 0;
  if (__builtin_mul_overflow(row_bytes, static_cast<uint64_t>(rows), &total))
    fail("quantize: {} rows of {} {} elements overflow", rows, cols, dtype_name(type));
  if (!can_quantize(type)) fail("quantize: tensor type {} is not supported", dtype_name(type));
  std::vector<uint8_t> out(total);
  for (int64_t r = 0; r < rows; ++r) quantize_row(type, src + r * cols, out.data() + r * row_bytes, cols);
  return out;
}

}  // namespace dragon
