// The reference tile kernel of the prompt GEMM (kernels/gemm.h), in plain C++ over the repacked
// layout (kernels/repack.h): what the SIMD tiles are tested against, and ARM64's path.
#include <cmath>
#include <cstring>

#include "kernels/gemm.h"
#include "tensor/half.h"

namespace dragon {

namespace {

void tile_scalar(const uint8_t* group, int64_t blocks, const GemmTokens& tokens, float* out) {
  constexpr int kRows = RepackedQ8_0::kRows;
  for (int t = 0; t < tokens.n; ++t) {
    const int8_t* aq = tokens.q + t * tokens.q_stride;
    const float* ad = tokens.d + t * tokens.block_stride;
    const int32_t* corr = tokens.corr + t * tokens.block_stride;
    float acc[kRows] = {};
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* scales = RepackedQ8_0::scales(group, b);
      const uint8_t* quants = RepackedQ8_0::quants(group, b);
      for (int r = 0; r < kRows; ++r) {
        int32_t sum = corr[b];  // -128 * sum(a): the bytes are w + 128
        for (int k = 0; k < 8; ++k)
          for (int i = 0; i < 4; ++i) sum += quants[64 * k + 4 * r + i] * aq[32 * b + 4 * k + i];
        uint16_t half;
        std::memcpy(&half, scales + 2 * r, 2);
        acc[r] = std::fma(static_cast<float>(sum), f16_to_f32(half) * ad[b], acc[r]);
      }
    }
    std::memcpy(out + t * kRows, acc, sizeof acc);
  }
}

}  // namespace

GemmTileFn gemm_q8_0_tile_scalar() { return tile_scalar; }

}  // namespace dragon
