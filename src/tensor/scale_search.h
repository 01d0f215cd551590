// Per-sub-block scale searches behind dragon's K-quant and IQ4 quantizers (internal to
// src/tensor). Each fits a small group of values x (with importance weights w) to a grid of
// integers by WEIGHTED LEAST SQUARES: it tries a fan of candidate scales around the one that maps
// the extreme value onto the end of the grid, assigns each value its nearest grid point, solves
// the best scale (and offset) for that assignment in closed form, and keeps the candidate with the
// smallest weighted squared error; a few reassign/refit rounds polish the winner.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace dragon::search {

// Round to nearest (ties to even) as an int; callers clamp. Adding 1.5 * 2^23 puts the integer
// part in the low mantissa bits (exact for |value| < 2^22, which the clamp guarantees); unlike
// lrint this needs no libm call, so the loops around it vectorize.
inline int round_to_int(float value) {
  const float limit = 4194303.0f;
  const float clamped = value < -limit ? -limit : (value > limit ? limit : value);
  const float shifted = clamped + 12582912.0f;
  uint32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return static_cast<int>(bits & 0x007fffffu) - 0x00400000;
}
inline int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// The f32 value of the f16 a scale will be stored as; clamped to the largest finite f16 so an
// extreme input degrades to clipping instead of inf/NaN blocks.
float as_stored_f16(float scale);

// x ~= scale * L - offset with L in [0, nmax], scale >= 0, offset >= 0 (Q4_K / Q5_K sub-blocks).
struct AffineFit {
  float scale = 0;
  float offset = 0;
};
AffineFit fit_affine(const float* x, const float* w, int n, int nmax);

// x ~= scale * L with L in [-(nmax + 1), nmax] (Q6_K sub-blocks: nmax = 31). The scale is signed:
// the value of largest magnitude lands near -(nmax + 1), the longer end of the grid.
float fit_symmetric(const float* x, const float* w, int n, int nmax);

// x ~= scale * kIQ4Levels[L] with L in [0, 16) (IQ4_NL blocks and IQ4_XS sub-blocks). Both signs
// of scale are tried, because the grid is not symmetric (-127 ... 113).
float fit_iq4(const float* x, const float* w, int n);

// Index of the IQ4 level nearest to `value` (already divided by the scale); a tie goes to the
// lower level. Branch-free: the count of midpoints between neighbouring levels below `value`.
inline constexpr float kIQ4Midpoints[15] = {-115.5f, -93.5f, -74.0f, -57.0f, -42.0f, -28.5f, -16.0f, -4.5f,
                                            7.0f,    19.0f,  31.5f,  45.5f,  61.0f,  79.0f,  101.0f};
inline int nearest_iq4_index(float value) {
  int index = 0;
  for (float midpoint : kIQ4Midpoints) index += value > midpoint;
  return index;
}

// Weighted squared error of x against the dequantized values of a trial quantization; used by
// the super-block stages to choose between neighbouring integer scales.
float weighted_error(const float* x, const float* w, const float* y, int n);

// Importance weights without an importance matrix: w = rms(x) + |x| (ggml's choice for Q4_K), so
// large values count more but small ones are not ignored. ggml weights Q6_K and IQ4 by x^2; on
// weight-like gaussian data rms + |x| gives 2-3% lower RMSE for those too (measured in
// quants_parity_test), so dragon uses it everywhere.
void weights_rms_plus_abs(const float* x, int n, float* w);

}  // namespace dragon::search
