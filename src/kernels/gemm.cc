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

namespace {

// The activations quantized to Q8_0 once, with the offset correction of the w + 128 bytes:
// -128 * sum of each block's activation quants.
struct GemmInput {
  QuantizedActivations qa;
  std::vector<int32_t> corr;
  int64_t n_tok = 0, cols = 0, blocks = 0;

  GemmInput(const Activations& x, ThreadPool& pool) : n_tok(x.rows), cols(x.cols), blocks(x.cols / 32) {
    quantize_activations(DType::Q8_0, x, qa, pool);
    corr.resize(static_cast<size_t>(n_tok * blocks));
    for (int64_t i = 0; i < n_tok * blocks; ++i) {
      const int8_t* q = qa.q.data() + 32 * i;
      int32_t sum = 0;
      for (int j = 0; j < 32; ++j) sum += q[j];
      corr[static_cast<size_t>(i)] = -128 * sum;
    }
  }
};

// Group g of `w` against every token: the group's bytes (16 x cols) stay in L1 / L2 while every
// token tile passes over them.
void gemm_group(GemmTileFn tile, const GemmInput& in, const RepackedQ8_0& w, int64_t g, Activations& y,
                const float* bias) {
  alignas(64) float out[kGemmMaxTokens * RepackedQ8_0::kRows];
  const int64_t n_out = w.rows();
  const int64_t r0 = g * RepackedQ8_0::kRows;
  const int n_rows = static_cast<int>(std::min<int64_t>(RepackedQ8_0::kRows, n_out - r0));
  for (int64_t t0 = 0; t0 < in.n_tok; t0 += kGemmMaxTokens) {
    GemmTokens tokens;
    tokens.q = in.qa.q.data() + t0 * in.cols;
    tokens.d = in.qa.d.data() + t0 * in.blocks;
    tokens.corr = in.corr.data() + t0 * in.blocks;
    tokens.q_stride = in.cols;
    tokens.block_stride = in.blocks;
    tokens.n = static_cast<int>(std::min<int64_t>(kGemmMaxTokens, in.n_tok - t0));
    tile(w.group(g), in.blocks, tokens, out);
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

}  // namespace

void gemm_q8_0(const Activations& x, const RepackedQ8_0& w, Activations& y, ThreadPool& pool, const float* bias) {
  GemmOutput output{&w, &y, bias};
  gemm_q8_0_many(x, &output, 1, pool);
}

void gemm_q8_0_many(const Activations& x, const GemmOutput* outputs, int n_outputs, ThreadPool& pool) {
  constexpr int kMaxOutputs = 8;
  if (n_outputs < 1 || n_outputs > kMaxOutputs) fail("gemm: {} weights in one pass (1..{})", n_outputs, kMaxOutputs);
  // Where each weight's groups start in the combined range.
  int64_t first_group[kMaxOutputs + 1] = {0};
  for (int i = 0; i < n_outputs; ++i) {
    const GemmOutput& o = outputs[i];
    if (x.cols != o.w->cols()) fail("gemm: input has {} features, the weight expects {}", x.cols, o.w->cols());
    if (o.y->rows != x.rows || o.y->cols != o.w->rows()) *o.y = Activations(x.rows, o.w->rows());
    first_group[i + 1] = first_group[i] + o.w->groups();
  }
  if (x.rows == 0) return;

  const GemmInput in(x, pool);
  const GemmTileFn tile = gemm_q8_0_tile_for(active_isa());
  pool.parallel_for(first_group[n_outputs], [&](int64_t g0, int64_t g1) {
    int i = 0;
    for (int64_t g = g0; g < g1; ++g) {
      while (g >= first_group[i + 1]) ++i;
      gemm_group(tile, in, *outputs[i].w, g - first_group[i], *outputs[i].y, outputs[i].bias);
    }
  });
}

}  // namespace dragon
