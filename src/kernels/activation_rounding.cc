#include "kernels/activation_rounding.h"

#include <cmath>

#include "tensor/half.h"
#include "util/error.h"

namespace dragon {

std::optional<DType> activation_dot_type(DType weight_type) {
  switch (weight_type) {
    case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::Q8_0: case DType::IQ4_NL:
      return DType::Q8_0;
    case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: case DType::IQ4_XS:
      return DType::Q8_K;
    default:
      return std::nullopt;
  }
}

namespace {

void round_q8_0_block(float* x) {
  float amax = 0;
  for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  // ggml's x86 quantizer (the one the llama.cpp builds we compare with run): multiply by
  // 127 / amax and round to nearest even; the reference C version divides by d and rounds half
  // away from zero, which differs only on exact ties.
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  const float stored_d = f16_to_f32(f32_to_f16(d));  // the block scale is an f16
  for (int i = 0; i < 32; ++i) x[i] = std::nearbyint(x[i] * id) * stored_d;
}

void round_q8_k_block(float* x) {
  float amax = 0, max = 0;
  for (int i = 0; i < 256; ++i)
    if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), max = x[i];
  if (amax == 0.0f) {
    for (int i = 0; i < 256; ++i) x[i] = 0.0f;
    return;
  }
  const float iscale = -127.0f / max;
  const float d = 1.0f / iscale;
  for (int i = 0; i < 256; ++i) {
    const float q = std::min(127.0f, std::nearbyint(iscale * x[i]));  // ties to even, as ggml's nearest_int
    x[i] = q * d;
  }
}

}  // namespace

void round_activations(DType dot_type, float* x, int64_t n) {
  const int64_t block = dot_type == DType::Q8_0 ? 32 : 256;
  if (dot_type != DType::Q8_0 && dot_type != DType::Q8_K) fail("activation rounding: unsupported type {}", dtype_name(dot_type));
  if (n % block != 0) fail("activation rounding: {} values are not a multiple of the {} block of {}", n, dtype_name(dot_type), block);
  for (int64_t b = 0; b < n; b += block) dot_type == DType::Q8_0 ? round_q8_0_block(x + b) : round_q8_k_block(x + b);
}

}  // namespace dragon
