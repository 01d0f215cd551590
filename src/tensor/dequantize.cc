// dequantize_row dispatch and the plain (one element per block) types.
#include "tensor/dequantize.h"

#include <cstring>

#include "tensor/block_layout.h"
#include "tensor/half.h"
#include "tensor/quant_rows.h"
#include "util/error.h"

namespace dragon {

namespace {

using BlockDequantizer = void (*)(const uint8_t*, float*, int64_t);

BlockDequantizer block_dequantizer(DType type) {
  switch (type) {
    case DType::Q4_0: return rows::dequantize_q4_0;
    case DType::Q4_1: return rows::dequantize_q4_1;
    case DType::Q5_0: return rows::dequantize_q5_0;
    case DType::Q5_1: return rows::dequantize_q5_1;
    case DType::Q8_0: return rows::dequantize_q8_0;
    case DType::IQ4_NL: return rows::dequantize_iq4_nl;
    case DType::Q2_K: return rows::dequantize_q2_k;
    case DType::Q3_K: return rows::dequantize_q3_k;
    case DType::Q4_K: return rows::dequantize_q4_k;
    case DType::Q5_K: return rows::dequantize_q5_k;
    case DType::Q6_K: return rows::dequantize_q6_k;
    case DType::Q8_K: return rows::dequantize_q8_k;
    case DType::IQ4_XS: return rows::dequantize_iq4_xs;
    default: return nullptr;
  }
}

bool is_plain(DType type) {
  switch (type) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::F64:
    case DType::I8: case DType::I16: case DType::I32: case DType::I64:
      return true;
    default:
      return false;
  }
}

// Plain integer and float types convert element by element (memcpy: src may be unaligned).
template <typename T>
void convert_elements(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    T value;
    std::memcpy(&value, src + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    dst[i] = static_cast<float>(value);
  }
}

void dequantize_plain(DType type, const uint8_t* src, float* dst, int64_t n) {
  switch (type) {
    case DType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(layout::load_u16(src + 2 * i));
      return;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(layout::load_u16(src + 2 * i));
      return;
    case DType::F64: convert_elements<double>(src, dst, n); return;
    case DType::I8: convert_elements<int8_t>(src, dst, n); return;
    case DType::I16: convert_elements<int16_t>(src, dst, n); return;
    case DType::I32: convert_elements<int32_t>(src, dst, n); return;
    case DType::I64: convert_elements<int64_t>(src, dst, n); return;
    default: fail("dequantize: {} is not a plain type", dtype_name(type));
  }
}

}  // namespace

bool can_dequantize(DType type) { return is_plain(type) || block_dequantizer(type) != nullptr; }

void dequantize_row(DType type, const uint8_t* src, float* dst, int64_t n) {
  if (!can_dequantize(type)) fail("dequantize: tensor type {} is not supported", dtype_name(type));
  const DTypeInfo& info = dtype_info_checked(type);
  dtype_row_bytes(type, n);  // validates n (non-negative, whole blocks)
  if (is_plain(type)) return dequantize_plain(type, src, dst, n);
  block_dequantizer(type)(src, dst, n / info.block_elems);
}

std::vector<float> dequantize_tensor(const TensorView& view) {
  return with_context("tensor " + view.name, [&] {
    if (!can_dequantize(view.dtype)) fail("dequantize: tensor type {} is not supported", dtype_name(view.dtype));
    const int64_t numel = checked_numel(view.shape, "shape");
    const int64_t row = view.shape.empty() ? 1 : view.shape.back();
    const uint64_t row_bytes = dtype_row_bytes(view.dtype, row);
    const int64_t rows = row == 0 ? 0 : numel / row;
    uint64_t needed = 0;
    if (__builtin_mul_overflow(row_bytes, static_cast<uint64_t>(rows), &needed) || needed != view.nbytes)
      fail("{} {} does not fit its {} bytes", dtype_name(view.dtype), shape_string(view.shape), view.nbytes);
    std::vector<float> out(static_cast<size_t>(numel));
    for (int64_t r = 0; r < rows; ++r)
      dequantize_row(view.dtype, view.data + r * row_bytes, out.data() + r * row, row);
    return out;
  });
}

}  // namespace dragon
