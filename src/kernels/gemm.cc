#include "kernels/gemm.h"

#include <algorithm>
#include <vector>

#include "kernels/quantize_activations.h"
#include "util/error.h"

namespace dragon {

GemmTileFn gemm_q8_0_tile_for(Isa isa) {
  if (isa >= Isa::Avx512)
    if (GemmTileFn f = gemm_q8_0_tile_avx512()) return f;
  if (isa >= Isa::Avx2)
    if (GemmTileFn f = gemm_q8_0_tile_avx2()) return f;
  return gemm_q8_0_tile_scalar();
}

void gemm_q8_0(const Activations& x, const RepackedQ8_0& w, Activations& y, ThreadPool& pool, const float* bias) {
  if (x.cols != w.cols()) fail("gemm: input has {} features, the weight expects {}", x.cols, w.cols());
  const int64_t n_tok = x.rows, n_out = w.rows(), blocks = w.blocks();
  if (y.rows != n_tok || y.cols != n_out) y = Activations(n_tok, n_out);
  if (n_tok == 0) return;

  QuantizedActivations qa;
  quantize_activations(DType::Q8_0, x, qa, pool);
  // The offset correction of the w + 128 bytes: -128 * sum of each block's activation quants.
  std::vector<int32_t> corr(static_cast<size_t>(n_tok * blocks));
  for (int64_t i = 0; i < n_tok * blocks; ++i) {
    const int8_t* q = qa.q.data() + 32 * i;
    int32_t sum = 0;
    for (int j = 0; j < 32; ++j) sum += q[j];
    corr[static_cast<size_t>(i)] = -128 * sum;
  }

  const GemmTileFn tile = gemm_q8_0_tile_for(active_isa());
  pool.parallel_for(w.groups(), [&](int64_t g0, int64_t g1) {
    alignas(64) float out[kGemmMaxTokens * RepackedQ8_0::kRows];
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t r0 = g * RepackedQ8_0::kRows;
      const int n_rows = static_cast<int>(std::min<int64_t>(RepackedQ8_0::kRows, n_out - r0));
      // The group's bytes (16 x cols) stay in L1 / L2 while every token tile passes over them.
      for (int64_t t0 = 0; t0 < n_tok; t0 += kGemmMaxTokens) {
        GemmTokens tokens;
        tokens.q = qa.q.data() + t0 * x.cols;
        tokens.d = qa.d.data() + t0 * blocks;
        tokens.corr = corr.data() + t0 * blocks;
        tokens.q_stride = x.cols;
        tokens.block_stride = blocks;
        tokens.n = static_cast<int>(std::min<int64_t>(kGemmMaxTokens, n_tok - t0));
        tile(w.group(g), blocks, tokens, out);
        for (int t = 0; t < tokens.n; ++t) {
          float* dst = y.row(t0 + t) + r0;
          const float* src = out + t * RepackedQ8_0::kRows;
          if (bias)
            for (int r = 0; r < n_rows; ++r) dst[r] = src[r] + bias[r0 + r];
          else
            std::copy_n(src, n_rows, dst);
        }
      }
    }
  });
}

}  // namespace dragon
