// RMSNorm (HF *RMSNorm, llama.cpp ggml_rms_norm * weight): y = x / sqrt(mean(x^2) + eps) * w.
#pragma once

#include <cstdint>

#include "kernels/activations.h"

namespace dragon {

// Normalizes `n` floats of `x` into `y` (may alias) with weight `w` (nullptr = no weight).
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);

// Every row of `x` as one vector of x.cols floats.
void rms_norm_rows(const Activations& x, const float* w, Activations& y, float eps);

// Per-head norm (Qwen3's QK-norm): each row of `x` holds `n_heads` heads of `head_dim` floats,
// each normalized on its own with the same `head_dim` weight. In place.
void rms_norm_heads(Activations& x, const float* w, int64_t head_dim, float eps);

}  // namespace dragon
