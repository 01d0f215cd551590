// Rotary position embedding. The frequencies of each rotated pair are computed once from the
// ModelConfig (base, partial rotary, scaling type) and then applied to every head of a row.
//
// Two pairings exist: NeoX / HF rotate_half pairs element i with i + rotary_dim/2; the original
// (GPT-J, llama.cpp "normal" mode) pairs 2i with 2i+1. Llama-family GGUF files are stored with q/k
// rows permuted so that llama.cpp's normal mode gives HF's result; dragon follows the file.
//
// Scaling types (HF modeling_rope_utils / llama.cpp rope_yarn):
//   linear  — positions divided by `factor` (every frequency divided by factor);
//   yarn    — per-frequency blend of interpolated (/factor) and original frequencies over a
//             linear ramp between the beta_fast / beta_slow correction dims, and cos/sin scaled
//             by the attention factor 0.1 ln(factor) + 1 (DeepSeek: the mscale / mscale_all_dim
//             ratio), times attn_factor;
//   llama3  — long wavelengths divided by factor, short ones kept, smooth blend in between
//             (or, for GGUF files, per-pair divisors from the rope_freqs tensor);
//   dynamic — NTK base stretching beyond the original context: not applied (positions within
//             the original context are unchanged, which is all the tests reach).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/activations.h"
#include "models/model_config.h"

namespace dragon {

class Rope {
 public:
  // `freq_divisors`: llama.cpp's rope_freqs tensor (rotary_dim/2 values) if the file has one.
  Rope(const ModelConfig& config, const std::vector<float>& freq_divisors = {});

  int64_t head_dim() const { return head_dim_; }
  int64_t rotary_dim() const { return rotary_dim_; }
  const std::vector<double>& inv_freq() const { return inv_freq_; }
  double attention_scale() const { return mscale_; }

  // Rotates the first rotary_dim elements of each of the row's heads (row = n_heads * head_dim).
  void apply(float* row, int64_t n_heads, int64_t position) const;
  // Every row r of `x` at positions[r].
  void apply_rows(Activations& x, const std::vector<int64_t>& positions) const;

 private:
  int64_t head_dim_ = 0, rotary_dim_ = 0;
  bool interleaved_ = false;
  std::vector<double> inv_freq_;  // rotary_dim / 2 angular frequencies per position
  double mscale_ = 1.0;           // YaRN's scale on cos and sin
};

// Exposed for the tests: the inverse frequencies of each scaling type.
std::vector<double> rope_inv_freq(const ModelConfig& config, int64_t rotary_dim, double* mscale);

}  // namespace dragon
