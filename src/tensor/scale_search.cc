#include "tensor/scale_search.h"

#include <cmath>
#include <initializer_list>

#include "tensor/block_layout.h"
#include "tensor/half.h"

namespace dragon::search {

namespace {

constexpr bool midpoints_match_levels() {
  for (int i = 0; i < 15; ++i)
    if (kIQ4Midpoints[i] * 2 != layout::kIQ4Levels[i] + layout::kIQ4Levels[i + 1]) return false;
  return true;
}
static_assert(midpoints_match_levels());

constexpr int kMaxGroup = 32;  // the largest sub-block any format fits at once
constexpr int kRefineRounds = 4;

// The value of largest magnitude, sign kept (the first one on a tie).
float signed_absmax(const float* x, int n) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  return max;
}

// Weighted sums for a fit x ~= scale * v (v = the grid value assigned to each x).
struct ProportionalSums {
  float sum_xv = 0, sum_v2 = 0;
  void add(float w, float x, float v) {
    sum_xv += w * x * v;
    sum_v2 += w * v * v;
  }
  // sum_xv^2 / sum_v2 = how much weighted squared error the best scale removes; larger is better.
  double gain() const { return sum_v2 > 0 ? static_cast<double>(sum_xv) * sum_xv / sum_v2 : 0; }
  double scale() const { return sum_v2 > 0 ? static_cast<double>(sum_xv) / sum_v2 : 0; }
};

// ---- affine: x ~= scale * L - offset ----

// Weighted sums over one sub-block for a given assignment L; enough to solve the least-squares
// fit and to evaluate its error in closed form (one pass, no second loop per candidate).
struct AffineSums {
  float sw = 0, sl = 0, sl2 = 0, sx = 0, sxl = 0, sx2 = 0;
  AffineSums(const float* x, const float* w, const int* L, int n) {
    for (int i = 0; i < n; ++i) {
      const float l = static_cast<float>(L[i]);
      sw += w[i];
      sl += w[i] * l;
      sl2 += w[i] * l * l;
      sx += w[i] * x[i];
      sxl += w[i] * x[i] * l;
      sx2 += w[i] * x[i] * x[i];
    }
  }
  // sum w * (scale * L - offset - x)^2, expanded.
  double error(AffineFit fit) const {
    const double s = fit.scale, m = -static_cast<double>(fit.offset);
    return sx2 - 2 * s * sxl - 2 * m * sx + s * s * sl2 + 2 * s * m * sl + m * m * sw;
  }
};

// Closed-form weighted least squares for (scale, offset) given the sums, with offset >= 0
// enforced (the format stores a non-negative min): when the free solution wants a negative
// offset, the best offset-free scale is used instead.
AffineFit solve_affine(const AffineSums& s) {
  const double det = static_cast<double>(s.sw) * s.sl2 - static_cast<double>(s.sl) * s.sl;
  double scale = 0, intercept = 0;  // x ~= scale * L + intercept
  if (det > 0) {
    scale = (static_cast<double>(s.sw) * s.sxl - static_cast<double>(s.sx) * s.sl) / det;
    intercept = (static_cast<double>(s.sl2) * s.sx - static_cast<double>(s.sl) * s.sxl) / det;
  }
  if (det <= 0 || intercept > 0) {
    intercept = 0;
    scale = s.sl2 > 0 ? s.sxl / static_cast<double>(s.sl2) : 0;
  }
  if (scale < 0) scale = 0;
  return {static_cast<float>(scale), static_cast<float>(-intercept)};
}

void assign_affine(const float* x, int n, int nmax, AffineFit fit, int* L) {
  const float inverse = fit.scale > 0 ? 1.0f / fit.scale : 0.0f;
  for (int i = 0; i < n; ++i) L[i] = clamp_int(round_to_int((x[i] + fit.offset) * inverse), 0, nmax);
}

// ---- IQ4 grid ----

ProportionalSums iq4_sums_for(const float* x, const float* w, int n, float inverse_scale) {
  ProportionalSums sums;
  for (int i = 0; i < n; ++i)
    sums.add(w[i], x[i], layout::kIQ4Levels[nearest_iq4_index(inverse_scale * x[i])]);
  return sums;
}

}  // namespace

float as_stored_f16(float scale) {
  const float largest = 65504.0f;
  return f16_to_f32(f32_to_f16(std::fmax(-largest, std::fmin(largest, scale))));
}

AffineFit fit_affine(const float* x, const float* w, int n, int nmax) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; ++i) {
    lo = std::fmin(lo, x[i]);
    hi = std::fmax(hi, x[i]);
  }
  lo = std::fmin(lo, 0.0f);  // the offset cannot be negative: the grid must reach down to <= 0
  if (hi <= lo) return {0.0f, -lo};  // constant block (or all zero): the offset alone is exact

  int L[kMaxGroup];
  AffineFit best{(hi - lo) / static_cast<float>(nmax), -lo};  // the plain min/max fit
  assign_affine(x, n, nmax, best, L);
  double best_error = AffineSums(x, w, L, n).error(best);

  // A fan of grid stretches around the min/max one; each assignment gets its own LS fit.
  for (int step = -10; step <= 10; ++step) {
    const float inverse_scale = (static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / (hi - lo);
    for (int i = 0; i < n; ++i) L[i] = clamp_int(round_to_int((x[i] - lo) * inverse_scale), 0, nmax);
    const AffineSums sums(x, w, L, n);
    const AffineFit fit = solve_affine(sums);
    const double error = sums.error(fit);
    if (error < best_error) {
      best_error = error;
      best = fit;
    }
  }
  // Polish: reassign each value to the nearest point of the winning grid, refit, repeat.
  for (int round = 0; round < kRefineRounds; ++round) {
    assign_affine(x, n, nmax, best, L);
    const AffineSums sums(x, w, L, n);
    const AffineFit fit = solve_affine(sums);
    const double error = sums.error(fit);
    if (!(error < best_error)) break;
    best_error = error;
    best = fit;
  }
  return best;
}

float fit_symmetric(const float* x, const float* w, int n, int nmax) {
  const float max = signed_absmax(x, n);
  if (max == 0) return 0;
  const int qmin = -(nmax + 1);
  double best_gain = -1, best_scale = 0;
  for (int step = -10; step <= 10; ++step) {
    const float inverse_scale = -(static_cast<float>(nmax + 1) + 0.1f * static_cast<float>(step)) / max;
    ProportionalSums sums;
    for (int i = 0; i < n; ++i) sums.add(w[i], x[i], clamp_int(round_to_int(inverse_scale * x[i]), qmin, nmax));
    if (sums.gain() > best_gain) {
      best_gain = sums.gain();
      best_scale = sums.scale();
    }
  }
  for (int round = 0; round < kRefineRounds && best_scale != 0; ++round) {
    const float inverse_scale = static_cast<float>(1.0 / best_scale);
    ProportionalSums sums;
    for (int i = 0; i < n; ++i) sums.add(w[i], x[i], clamp_int(round_to_int(inverse_scale * x[i]), qmin, nmax));
    if (!(sums.gain() > best_gain)) break;
    best_gain = sums.gain();
    best_scale = sums.scale();
  }
  return static_cast<float>(best_scale);
}

float fit_iq4(const float* x, const float* w, int n) {
  const float max = signed_absmax(x, n);
  if (max == 0) return 0;
  double best_gain = -1, best_scale = 0;
  // The extreme value near either end of the grid: -127 (the long end) or +113.
  for (const int end : {static_cast<int>(layout::kIQ4Levels[0]), static_cast<int>(layout::kIQ4Levels[15])}) {
    for (int step = -10; step <= 10; ++step) {
      const ProportionalSums sums = iq4_sums_for(x, w, n, static_cast<float>(end + step) / max);
      if (sums.gain() > best_gain) {
        best_gain = sums.gain();
        best_scale = sums.scale();
      }
    }
  }
  for (int round = 0; round < kRefineRounds && best_scale != 0; ++round) {
    const ProportionalSums sums = iq4_sums_for(x, w, n, static_cast<float>(1.0 / best_scale));
    if (!(sums.gain() > best_gain)) break;
    best_gain = sums.gain();
    best_scale = sums.scale();
  }
  return static_cast<float>(best_scale);
}

float weighted_error(const float* x, const float* w, const float* y, int n) {
  float error = 0;
  for (int i = 0; i < n; ++i) error += w[i] * (y[i] - x[i]) * (y[i] - x[i]);
  return error;
}

void weights_rms_plus_abs(const float* x, int n, float* w) {
  float sum_squares = 0;
  for (int i = 0; i < n; ++i) sum_squares += x[i] * x[i];
  const float rms = std::sqrt(sum_squares / static_cast<float>(n));
  for (int i = 0; i < n; ++i) w[i] = rms + std::fabs(x[i]);
}

}  // namespace dragon::search
