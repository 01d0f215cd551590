#include "kernels/quantize_activations.h"

#include <algorithm>
#include <cmath>

#include "tensor/half.h"
#include "util/error.h"

namespace dragon {

namespace {

// Round to nearest, ties to even, as std::nearbyint in the default rounding mode, for
// |x| <= 2^22: adding 1.5 * 2^23 pushes the fraction bits out of the f32 mantissa. Written as
// plain arithmetic so the loop vectorises (nearbyint is a libm call on baseline x86-64).
inline float round_even(float x) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (x + kMagic) - kMagic;
}

}  // namespace

void quantize_row_q8_0_act(const float* x, int64_t n, int8_t* q, float* d) {
  for (int64_t b = 0; b < n / 32; ++b, x += 32, q += 32) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    // Same steps as round_activations: scale by 127 / amax, round to even; d is stored as f16.
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    d[b] = f16_to_f32(f32_to_f16(amax / 127.0f));
    for (int i = 0; i < 32; ++i) q[i] = static_cast<int8_t>(round_even(x[i] * id));
  }
}

void quantize_row_q8_k_act(const float* x, int64_t n, int8_t* q, float* d, int16_t* bsums) {
  for (int64_t b = 0; b < n / 256; ++b, x += 256, q += 256, bsums += 16) {
    float amax = 0, max = 0;
    for (int i = 0; i < 256; ++i)
      if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), max = x[i];
    if (amax == 0.0f) {
      d[b] = 0.0f;
      std::fill_n(q, 256, int8_t{0});
      std::fill_n(bsums, 16, int16_t{0});
      continue;
    }
    const float iscale = -127.0f / max;
    d[b] = 1.0f / iscale;
    for (int i = 0; i < 256; ++i) q[i] = static_cast<int8_t>(std::min(127.0f, round_even(iscale * x[i])));
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += q[16 * g + i];
      bsums[g] = static_cast<int16_t>(sum);
    }
  }
}

void quantize_activations(DType dot_type, const Activations& x, QuantizedActivations& out, ThreadPool& pool) {
  if (dot_type != DType::Q8_0 && dot_type != DType::Q8_K)
    fail("activation quantization: unsupported type {}", dtype_name(dot_type));
  out.type = dot_type;
  out.rows = x.rows;
  out.cols = x.cols;
  const int64_t block = out.block();
  if (x.cols % block != 0)
    fail("activation quantization: {} values are not a multiple of the {} block of {}", x.cols, dtype_name(dot_type), block);
  out.q.resize(static_cast<size_t>(x.rows * x.cols));
  out.d.resize(static_cast<size_t>(x.rows * (x.cols / block)));
  out.bsums.resize(dot_type == DType::Q8_K ? static_cast<size_t>(x.rows * (x.cols / 16)) : 0);
  auto quantize_rows = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      int8_t* q = out.q.data() + r * x.cols;
      float* d = out.d.data() + r * (x.cols / block);
      if (dot_type == DType::Q8_0)
        quantize_row_q8_0_act(x.row(r), x.cols, q, d);
      else
        quantize_row_q8_k_act(x.row(r), x.cols, q, d, out.bsums.data() + r * (x.cols / 16));
    }
  };
  // Waking the pool costs more than quantizing a few rows.
  if (x.rows >= 8 && pool.size() > 1)
    pool.parallel_for(x.rows, quantize_rows);
  else
    quantize_rows(0, x.rows);
}

}  // namespace dragon
