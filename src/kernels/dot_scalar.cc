// The scalar reference of every row-dot kernel: the block math written out plainly, in exact
// integer sums per block, as the SIMD kernels must compute it.
#include <algorithm>
#include <cstring>

#include "kernels/dot_kernels.h"
#include "kernels/vector_ops.h"
#include "tensor/block_layout.h"

namespace dragon {

using namespace layout;

namespace {

// Q8_0: 32 int8 weights, scale d_w; sum_b d_w d_a sum_i w_i a_i.
void dot_q8_0(const uint8_t* w, const DotActivation* acts, int n_tok, int64_t cols, float* out) {
  for (int t = 0; t < n_tok; ++t) {
    const QuantizedRowView& a = acts[t].q;
    float sum = 0;
    for (int64_t b = 0; b < cols / kQK; ++b) {
      const uint8_t* block = w + b * q8_0::bytes;
      const auto* qs = reinterpret_cast<const int8_t*>(block + q8_0::qs);
      int sumi = 0;
      for (int i = 0; i < kQK; ++i) sumi += qs[i] * a.q[kQK * b + i];
      sum += static_cast<float>(sumi) * (load_f16(block + q8_0::d) * a.d[b]);
    }
    out[t] = sum;
  }
}

// Q4_0: element j in the low nibble of byte j, element j+16 in the high nibble; value q - 8.
void dot_q4_0(const uint8_t* w, const DotActivation* acts, int n_tok, int64_t cols, float* out) {
  for (int t = 0; t < n_tok; ++t) {
    const QuantizedRowView& a = acts[t].q;
    float sum = 0;
    for (int64_t b = 0; b < cols / kQK; ++b) {
      const uint8_t* block = w + b * q4_0::bytes;
      const int8_t* aq = a.q + kQK * b;
      int sumi = 0;
      for (int j = 0; j < 16; ++j) {
        const uint8_t byte = block[q4_0::qs + j];
        sumi += ((byte & 0x0f) - 8) * aq[j] + ((byte >> 4) - 8) * aq[j + 16];
      }
      sum += static_cast<float>(sumi) * (load_f16(block + q4_0::d) * a.d[b]);
    }
    out[t] = sum;
  }
}

// Q5_0: Q4_0's nibbles plus a fifth bit per element (bit j of the 32-bit qh); value q - 16.
void dot_q5_0(const uint8_t* w, const DotActivation* acts, int n_tok, int64_t cols, float* out) {
  for (int t = 0; t < n_tok; ++t) {
    const QuantizedRowView& a = acts[t].q;
    float sum = 0;
    for (int64_t b = 0; b < cols / kQK; ++b) {
      const uint8_t* block = w + b * q5_0::bytes;
      const uint32_t qh = load_u32(block + q5_0::qh);
      const int8_t* aq = a.q + kQK * b;
      int sumi = 0;
      for (int j = 0; j < 16; ++j) {
        const uint8_t byte = block[q5_0::qs + j];
        const int lo = (byte & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
        const int hi = (byte >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
        sumi += (lo - 16) * aq[j] + (hi - 16) * aq[j + 16];
      }
      sum += static_cast<float>(sumi) * (load_f16(block + q5_0::d) * a.d[b]);
    }
    out[t] = sum;
  }
}

// Q4_K / Q5_K: value = d * scale_s * q - dmin * min_s per 32-element sub-block s, so
// dot = d_a * (d * sum_s scale_s * sum q a  -  dmin * sum_s min_s * sum a), with sum a from the
// activation's bsums.
template <bool kFiveBit>
void dot_q45_k(const uint8_t* w, const DotActivation* acts, int n_tok, int64_t cols, float* out) {
  const size_t bytes = kFiveBit ? q5_k::bytes : q4_k::bytes;
  const size_t qs_at = kFiveBit ? q5_k::qs : q4_k::qs;
  for (int t = 0; t < n_tok; ++t) {
    const QuantizedRowView& a = acts[t].q;
    float sum = 0;
    for (int64_t b = 0; b < cols / kQK_K; ++b) {
      const uint8_t* block = w + b * bytes;
      const int8_t* aq = a.q + kQK_K * b;
      const int16_t* bsums = a.bsums + 16 * b;
      int sumi = 0, summ = 0;
      for (int s = 0; s < 8; ++s) {
        int scale, min;
        unpack_scale_min_k4(block + q4_k::scales, s, scale, min);
        const uint8_t* qs = block + qs_at + 32 * (s / 2);
        int sub = 0;
        for (int l = 0; l < 32; ++l) {
          int q = (qs[l] >> (4 * (s % 2))) & 0x0f;
          if constexpr (kFiveBit) q |= ((block[q5_k::qh + l] >> s) & 1) << 4;
          sub += q * aq[32 * s + l];
        }
        sumi += scale * sub;
        summ += min * (bsums[2 * s] + bsums[2 * s + 1]);
      }
      sum += a.d[b] * load_f16(block + q4_k::d) * static_cast<float>(sumi) -
             a.d[b] * load_f16(block + q4_k::dmin) * static_cast<float>(summ);
    }
    out[t] = sum;
  }
}

// Q6_K: 16 sub-blocks of 16 with int8 scales; 6-bit quants biased by 32 (layout in
// dequantize_k.cc).
void dot_q6_k(const uint8_t* w, const DotActivation* acts, int n_tok, int64_t cols, float* out) {
  for (int t = 0; t < n_tok; ++t) {
    const QuantizedRowView& a = acts[t].q;
    float sum = 0;
    for (int64_t b = 0; b < cols / kQK_K; ++b) {
      const uint8_t* block = w + b * q6_k::bytes;
      const auto* scales = reinterpret_cast<const int8_t*>(block + q6_k::scales);
      const int8_t* aq = a.q + kQK_K * b;
      int sub[16] = {};
      for (int i = 0; i < kQK_K; ++i) {
        const int half = i / 128, k = (i % 128) / 32, l = i % 32;
        const int low = (block[q6_k::ql + 64 * half + l + 32 * (k % 2)] >> (4 * (k / 2))) & 0x0f;
        const int high = (block[q6_k::qh + 32 * half + l] >> (2 * k)) & 3;
        sub[i / 16] += ((low | (high << 4)) - 32) * aq[i];
      }
      int sumi = 0;
      for (int s = 0; s < 16; ++s) sumi += scales[s] * sub[s];
      sum += a.d[b] * load_f16(block + q6_k::d) * static_cast<float>(sumi);
    }
    out[t] = sum;
  }
}

// IQ4_XS: 8 sub-blocks of 32 with 6-bit scales biased by 32; quants index the IQ4 grid.
void dot_iq4_xs(const uint8_t* w, const DotActivation* acts, int n_tok, int64_t cols, float* out) {
  for (int t = 0; t < n_tok; ++t) {
    const QuantizedRowView& a = acts[t].q;
    float sum = 0;
    for (int64_t b = 0; b < cols / kQK_K; ++b) {
      const uint8_t* block = w + b * iq4_xs::bytes;
      const uint16_t scales_h = load_u16(block + iq4_xs::scales_h);
      const int8_t* aq = a.q + kQK_K * b;
      int sumi = 0;
      for (int s = 0; s < 8; ++s) {
        const int low = (block[iq4_xs::scales_l + s / 2] >> (4 * (s % 2))) & 0x0f;
        const int scale = (low | (((scales_h >> (2 * s)) & 3) << 4)) - 32;
        const uint8_t* qs = block + iq4_xs::qs + 16 * s;
        int sub = 0;
        for (int l = 0; l < 16; ++l)
          sub += kIQ4Levels[qs[l] & 0x0f] * aq[32 * s + l] + kIQ4Levels[qs[l] >> 4] * aq[32 * s + l + 16];
        sumi += scale * sub;
      }
      sum += a.d[b] * load_f16(block + iq4_xs::d) * static_cast<float>(sumi);
    }
    out[t] = sum;
  }
}

void dot_f32(const uint8_t* w, const DotActivation* acts, int n_tok, int64_t cols, float* out) {
  const auto* wf = reinterpret_cast<const float*>(w);
  for (int t = 0; t < n_tok; ++t) out[t] = dot(wf, acts[t].f, cols);
}

template <float (*kWiden)(uint16_t)>
void dot_half(const uint8_t* w, const DotActivation* acts, int n_tok, int64_t cols, float* out) {
  float row[256];
  float sum[kMaxDotTokens] = {};
  for (int64_t c = 0; c < cols; c += 256) {
    const int64_t n = std::min<int64_t>(256, cols - c);
    for (int64_t i = 0; i < n; ++i) row[i] = kWiden(load_u16(w + 2 * (c + i)));
    for (int t = 0; t < n_tok; ++t) sum[t] += dot(row, acts[t].f + c, n);
  }
  for (int t = 0; t < n_tok; ++t) out[t] = sum[t];
}

}  // namespace

std::optional<DType> dot_activation_type(DType weight_type) {
  switch (weight_type) {
    case DType::Q4_0: case DType::Q5_0: case DType::Q8_0: return DType::Q8_0;
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: case DType::IQ4_XS: return DType::Q8_K;
    default: return std::nullopt;
  }
}

RowDotFn row_dot_scalar(DType weight_type) {
  switch (weight_type) {
    case DType::Q8_0: return dot_q8_0;
    case DType::Q4_0: return dot_q4_0;
    case DType::Q5_0: return dot_q5_0;
    case DType::Q4_K: return dot_q45_k<false>;
    case DType::Q5_K: return dot_q45_k<true>;
    case DType::Q6_K: return dot_q6_k;
    case DType::IQ4_XS: return dot_iq4_xs;
    case DType::F32: return dot_f32;
    case DType::F16: return dot_half<f16_to_f32>;
    case DType::BF16: return dot_half<bf16_to_f32>;
    default: return nullptr;
  }
}

RowDotFn row_dot_for(DType weight_type, Isa isa) {
  if (isa >= Isa::Avx512)
    if (RowDotFn f = row_dot_avx512(weight_type)) return f;
  if (isa >= Isa::Avx2)
    if (RowDotFn f = row_dot_avx2(weight_type)) return f;
  return row_dot_scalar(weight_type);
}

}  // namespace dragon
