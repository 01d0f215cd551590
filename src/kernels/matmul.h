// y = x W^T (+ bias): f32 activations against a weight of any type dequantize_row handles
// (F32, F16, BF16, Q8_0, Q4_K, ...). The weight is streamed once per call: each thread takes an
// even range of output rows. Quantized weights are dotted block by block against activations
// quantized once per call to their 8-bit dot type, as llama.cpp does (activation_rounding.h), with
// exact int32 block sums (kernels/dot_kernels.h: scalar, AVX2 and AVX-512 VNNI kernels chosen at
// run time, kernels/cpu_features.h). A prefill walks the rows in cache-sized tiles and each
// kernel call holds a weight block in registers for up to four tokens. Types without a kernel
// (Q2_K, Q3_K, Q5_0, ...) dequantize one row at a time and dot it with every token.
// A Q8_0 weight repacked at load (kernels/repack.h) runs the GEMM of kernels/gemm.h instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "kernels/activations.h"
#include "kernels/thread_pool.h"
#include "tensor/tensor_view.h"

namespace dragon {

// `w` has shape [out_features, in_features] with in_features == x.cols; `bias` (nullptr = none)
// has out_features values. `y` is resized to x.rows x out_features.
void matmul(const Activations& x, const TensorView& w, Activations& y, ThreadPool& pool, const float* bias = nullptr);

// One product of matmul_many: y = x w^T (+ bias).
struct MatmulOutput {
  const TensorView* w = nullptr;
  Activations* y = nullptr;
  const float* bias = nullptr;
};

// Several weights against the same x (q / k / v, gate / up): when all have repacked Q8_0 copies,
// one activation quantization and one pass over the threads (kernels/gemm.h gemm_q8_0_many), so
// a decode step pays one barrier instead of one per weight; otherwise one matmul each. Every y
// equals its own matmul bit for bit.
void matmul_many(const Activations& x, const MatmulOutput* outputs, size_t n_outputs, ThreadPool& pool);
inline void matmul_many(const Activations& x, std::initializer_list<MatmulOutput> outputs, ThreadPool& pool) {
  matmul_many(x, outputs.begin(), outputs.size(), pool);
}

// Rows `ids` of an embedding table [n_vocab, dim] of any type, as f32. Throws naming the table
// for an id out of range.
void embedding_rows(const TensorView& table, const std::vector<int32_t>& ids, Activations& out);

// A 1-D tensor (norm weight, bias) as f32 values (checks its element count).
std::vector<float> tensor_to_f32(const TensorView& t, int64_t expected_numel);

}  // namespace dragon
