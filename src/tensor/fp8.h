// 8-bit floats as stored in safetensors checkpoints, and DeepSeek-V3's block-scaled FP8 weights.
//
// F8_E4M3 is the "fn" variant PyTorch (float8_e4m3fn) and DeepSeek use: 1 sign, 4 exponent
// (bias 7), 3 mantissa bits, no infinities, S.1111.111 (0x7F / 0xFF) is NaN, max finite ±448.
// F8_E5M2 is IEEE-like: 1 sign, 5 exponent (bias 15), 2 mantissa bits, with infinities and NaNs.
//
// DeepSeek-V3-style checkpoints store a Linear weight [rows, cols] in F8_E4M3 next to
// "<name>_scale_inv" [ceil(rows/128), ceil(cols/128)] (F32, sometimes BF16): the real weight is
// w * scale_inv, one scale per 128x128 block (blocks on the right / bottom edge are partial).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor_view.h"

namespace dragon {

inline constexpr float kFp8E4M3Max = 448.0f;
inline constexpr int64_t kFp8DefaultBlock = 128;  // DeepSeek's quantization_config.weight_block_size

// Every code's value, built from the bit definitions above (decoding is one table lookup).
extern const std::array<float, 256> kFp8E4M3ToFloat;
extern const std::array<float, 256> kFp8E5M2ToFloat;

inline float fp8_e4m3_to_float(uint8_t code) { return kFp8E4M3ToFloat[code]; }
inline float fp8_e5m2_to_float(uint8_t code) { return kFp8E5M2ToFloat[code]; }

// Round-to-nearest-even; magnitudes above 448 (and ±inf) saturate to ±448 rather than become
// NaN, so a scale computed as amax/448 can never produce a NaN through rounding. NaN -> 0x7F|sign.
uint8_t float_to_fp8_e4m3(float value);

// Decodes `n` codes of `dtype` (F8_E4M3 or F8_E5M2) into floats.
void fp8_to_float_row(DType dtype, const uint8_t* codes, float* out, size_t n);

// The safetensors name of a weight's block scales: "<weight>_scale_inv".
inline std::string fp8_scale_name(const std::string& weight_name) { return weight_name + "_scale_inv"; }

// A [rows, cols] matrix in DeepSeek's block format: row-major e4m3 codes and row-major scales of
// shape [ceil(rows/block), ceil(cols/block)]; element (r, c) = code * scales[r/block][c/block].
struct Fp8BlockWeights {
  int64_t rows = 0, cols = 0, block = kFp8DefaultBlock;
  std::vector<uint8_t> codes;
  std::vector<float> scales;
  int64_t scale_rows() const { return (rows + block - 1) / block; }
  int64_t scale_cols() const { return (cols + block - 1) / block; }
};

// Quantizes a row-major float matrix as DeepSeek's weight quantizer does: per block,
// scale = amax / 448 (in float), code = e4m3(x / scale). An all-zero block gets scale 0 and zero
// codes (DeepSeek's kernel would divide by zero). Throws dragon::Error on a non-finite input.
Fp8BlockWeights quantize_fp8_blocks(const float* values, int64_t rows, int64_t cols,
                                    int64_t block = kFp8DefaultBlock);

// w * scale_inv per block. `weight` is a 2-D F8_E4M3 (or F8_E5M2) tensor, `scale_inv` a 2-D F32
// or BF16 tensor of shape [ceil(rows/block), ceil(cols/block)]. Throws dragon::Error naming the
// tensors on a wrong dtype, rank, shape or byte size.
std::vector<float> dequantize_fp8_blocks(const TensorView& weight, const TensorView& scale_inv,
                                         int64_t block = kFp8DefaultBlock);
// Same, into `out` (rows * cols floats) — for callers that convert straight into their buffers.
void dequantize_fp8_blocks_into(const TensorView& weight, const TensorView& scale_inv, float* out,
                                int64_t block = kFp8DefaultBlock);

}  // namespace dragon
