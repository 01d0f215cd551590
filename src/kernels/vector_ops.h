// Small loops over f32 vectors shared by the kernels. dot() keeps 8 independent partial sums so
// the compiler vectorises it without -ffast-math (a single accumulator is a serial chain).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace dragon {

inline float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

// y += a * x
inline void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

inline float silu(float x) { return x / (1.0f + std::exp(-x)); }

// gpt-oss's clamped GLU ("swigluoai", MiniMax-M3's FFNs; ggml_swiglu_oai with alpha 1.702, limit 7):
// g' = min(g, 7), u' = clamp(u, -7, 7), out = g' sigmoid(1.702 g') (u' + 1).
inline float swiglu_oai(float gate, float up) {
  constexpr float kAlpha = 1.702f, kLimit = 7.0f;
  const float g = std::min(gate, kLimit), u = std::max(-kLimit, std::min(up, kLimit));
  return g / (1.0f + std::exp(-kAlpha * g)) * (u + 1.0f);
}

}  // namespace dragon
