#include "kernels/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "util/error.h"

namespace dragon {

namespace {

double yarn_get_mscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

// HF _compute_yarn_parameters: the dimension index at which a frequency completes `rotations`
// turns over the original context.
double yarn_correction_dim(double rotations, int64_t dim, double base, int64_t original_context) {
  return dim * std::log(original_context / (rotations * 2 * std::numbers::pi)) / (2 * std::log(base));
}

void apply_yarn(const RopeScaling& rs, int64_t dim, double base, std::vector<double>& inv_freq, double* mscale) {
  if (rs.original_context_length <= 0) fail("rope: yarn scaling needs original_max_position_embeddings");
  double low = std::floor(yarn_correction_dim(rs.beta_fast, dim, base, rs.original_context_length));
  double high = std::ceil(yarn_correction_dim(rs.beta_slow, dim, base, rs.original_context_length));
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // avoid a zero-width ramp
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
    const double extrapolation = 1.0 - ramp;  // 1 = keep the original frequency
    inv_freq[i] = inv_freq[i] / rs.factor * (1.0 - extrapolation) + inv_freq[i] * extrapolation;
  }
  double m = (rs.mscale != 0.0 && rs.mscale_all_dim != 0.0)
                 ? yarn_get_mscale(rs.factor, rs.mscale) / yarn_get_mscale(rs.factor, rs.mscale_all_dim)
                 : yarn_get_mscale(rs.factor, 1.0);
  *mscale = m * rs.attn_factor;
}

void apply_llama3(const RopeScaling& rs, std::vector<double>& inv_freq) {
  if (rs.original_context_length <= 0) fail("rope: llama3 scaling needs original_max_position_embeddings");
  const double old_context = static_cast<double>(rs.original_context_length);
  const double low_wavelen = old_context / rs.low_freq_factor, high_wavelen = old_context / rs.high_freq_factor;
  for (double& f : inv_freq) {
    const double wavelen = 2 * std::numbers::pi / f;
    if (wavelen < high_wavelen) continue;  // high frequency: unchanged
    if (wavelen > low_wavelen) {
      f /= rs.factor;
      continue;
    }
    const double smooth = (old_context / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
    f = (1 - smooth) * f / rs.factor + smooth * f;
  }
}

}  // namespace

std::vector<double> rope_inv_freq(const ModelConfig& config, int64_t rotary_dim, double* mscale) {
  std::vector<double> inv_freq(static_cast<size_t>(rotary_dim / 2));
  const double base = config.rope_theta;
  for (int64_t i = 0; i < rotary_dim / 2; ++i)
    inv_freq[i] = std::pow(base, -static_cast<double>(2 * i) / static_cast<double>(rotary_dim));
  *mscale = 1.0;
  const RopeScaling& rs = config.rope_scaling;
  if (rs.type == "linear") {
    for (double& f : inv_freq) f /= rs.factor;
  } else if (rs.type == "yarn") {
    apply_yarn(rs, rotary_dim, base, inv_freq, mscale);
  } else if (rs.type == "llama3") {
    apply_llama3(rs, inv_freq);
  } else if (rs.type != "none" && rs.type != "default" && rs.type != "dynamic") {
    fail("rope: scaling type {} is not supported", rs.type);
  }
  return inv_freq;
}

Rope::Rope(const ModelConfig& config, const std::vector<float>& freq_divisors)
    : head_dim_(config.head_dim),
      rotary_dim_(config.rotary_dim ? config.rotary_dim : config.head_dim),
      interleaved_(config.rope_interleaved) {
  if (rotary_dim_ <= 0 || rotary_dim_ % 2 != 0 || rotary_dim_ > head_dim_)
    fail("rope: rotary dim {} must be even and at most head_dim {}", rotary_dim_, head_dim_);
  if (!freq_divisors.empty()) {
    // GGUF llama3 files carry the scaling as per-pair divisors of the default frequencies.
    if (static_cast<int64_t>(freq_divisors.size()) != rotary_dim_ / 2)
      fail("rope: rope_freqs has {} values, expected {}", freq_divisors.size(), rotary_dim_ / 2);
    ModelConfig plain = config;
    plain.rope_scaling = RopeScaling{};
    inv_freq_ = rope_inv_freq(plain, rotary_dim_, &mscale_);
    for (size_t i = 0; i < inv_freq_.size(); ++i) inv_freq_[i] /= freq_divisors[i];
  } else {
    inv_freq_ = rope_inv_freq(config, rotary_dim_, &mscale_);
  }
}

void Rope::apply(float* row, int64_t n_heads, int64_t position) const {
  const int64_t half = rotary_dim_ / 2;
  // cos/sin in double from the exact angle, so long positions lose no precision.
  thread_local std::vector<float> cos_table, sin_table;
  cos_table.resize(half);
  sin_table.resize(half);
  for (int64_t i = 0; i < half; ++i) {
    const double angle = static_cast<double>(position) * inv_freq_[i];
    cos_table[i] = static_cast<float>(std::cos(angle) * mscale_);
    sin_table[i] = static_cast<float>(std::sin(angle) * mscale_);
  }
  for (int64_t h = 0; h < n_heads; ++h) {
    float* x = row + h * head_dim_;
    for (int64_t i = 0; i < half; ++i) {
      const int64_t a = interleaved_ ? 2 * i : i, b = interleaved_ ? 2 * i + 1 : i + half;
      const float x0 = x[a], x1 = x[b];
      x[a] = x0 * cos_table[i] - x1 * sin_table[i];
      x[b] = x0 * sin_table[i] + x1 * cos_table[i];
    }
  }
}

void Rope::apply_rows(Activations& x, const std::vector<int64_t>& positions) const {
  if (x.cols % head_dim_ != 0) fail("rope: row of {} is not a whole number of heads of {}", x.cols, head_dim_);
  for (int64_t r = 0; r < x.rows; ++r) apply(x.row(r), x.cols / head_dim_, positions.at(r));
}

}  // namespace dragon
