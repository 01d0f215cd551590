// Prompt GEMM: y = x W^T for Q8_0 weights repacked at load (kernels/repack.h) and a batch of
// tokens. matmul() sends a weight here when it has a repacked copy, for any number of tokens.
//
// The activations are quantized once per call to Q8_0 (as the row-dot path does, the same
// rounding), and each tile kernel computes 16 weight rows x up to kGemmMaxTokens tokens over the
// whole row length: a 512-bit load holds 4 columns of the 16 rows, and each token's 4 matching
// activation bytes are broadcast against it (vpdpbusd), so every weight byte loaded serves all
// the tile's tokens and no horizontal sums are needed. The weight bytes are stored as w + 128
// (vpdpbusd multiplies unsigned by signed bytes), so each block's int32 sum starts from
// -128 * (sum of the token's block quants) to take the offset back out: the block sums are exact
// integers on every path. Each block then adds float(sum) * (d_w * d_a) with one fused
// multiply-add per (row, token) in block order, on every path, so scalar, AVX2 and AVX-512 give
// bit-identical results.
#pragma once

#include <cstdint>

#include "kernels/activations.h"
#include "kernels/cpu_features.h"
#include "kernels/repack.h"
#include "kernels/thread_pool.h"

namespace dragon {

inline constexpr int kGemmMaxTokens = 8;

// The tokens of one tile, as the tile kernels read them.
struct GemmTokens {
  const int8_t* q = nullptr;      // token t's quants at q + t * q_stride, one Q8_0 block per 32
  const float* d = nullptr;       // token t's block scales at d + t * block_stride
  const int32_t* corr = nullptr;  // -128 * sum of each block's quants, same layout as d
  int64_t q_stride = 0, block_stride = 0;
  int n = 0;                      // 1 .. kGemmMaxTokens
};

// out[t * 16 + r] = (row r of the group) . (token t) for t < tokens.n, r < 16.
using GemmTileFn = void (*)(const uint8_t* group, int64_t blocks, const GemmTokens& tokens, float* out);

// The tile kernel at the best level <= isa (the scalar one always exists).
GemmTileFn gemm_q8_0_tile_for(Isa isa);
GemmTileFn gemm_q8_0_tile_scalar();
GemmTileFn gemm_q8_0_tile_avx2();    // nullptr off x86-64
GemmTileFn gemm_q8_0_tile_avx512();  // nullptr off x86-64

// y (resized to x.rows x w.rows()) = x W^T + bias (nullptr = none), at the active ISA.
void gemm_q8_0(const Activations& x, const RepackedQ8_0& w, Activations& y, ThreadPool& pool, const float* bias);

// One product of gemm_q8_0_many.
struct GemmOutput {
  const RepackedQ8_0* w = nullptr;
  Activations* y = nullptr;
  const float* bias = nullptr;
};

// Several weights against the same x (q / k / v, gate / up) in one pass: the activations are
// quantized once and the groups of all weights are split over the threads as one range, so a
// decode step pays one barrier for them instead of one per weight. Each y is bit-identical to
// its own gemm_q8_0.
void gemm_q8_0_many(const Activations& x, const GemmOutput* outputs, int n_outputs, ThreadPool& pool);

}  // namespace dragon
