#include "kernels/matmul.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "kernels/activation_rounding.h"
#include "kernels/cpu_features.h"
#include "kernels/dot_kernels.h"
#include "kernels/gemm.h"
#include "kernels/quantize_activations.h"
#include "kernels/vector_ops.h"
#include "tensor/dequantize.h"
#include "util/error.h"

namespace dragon {

namespace {

// Rows of a 2-D weight: checks the view once so the hot loop can index without checks.
struct WeightRows {
  const uint8_t* data;
  uint64_t row_bytes;
  int64_t rows, cols;
  DType type;

  explicit WeightRows(const TensorView& w) {
    if (w.shape.size() != 2) fail("tensor {}: expected a 2-D weight, got shape {}", w.name, shape_string(w.shape));
    rows = w.shape[0];
    cols = w.shape[1];
    type = w.dtype;
    if (!can_dequantize(type)) fail("tensor {}: type {} is not supported by matmul", w.name, dtype_name(type));
    row_bytes = with_context("tensor " + w.name, [&] { return dtype_row_bytes(type, cols); });
    if (row_bytes * static_cast<uint64_t>(rows) != w.nbytes)
      fail("tensor {}: {} bytes do not hold {} {}", w.name, w.nbytes, dtype_name(type), shape_string(w.shape));
    data = w.data;
  }

  // Row r as f32: a pointer into the file for F32, else dequantized into `buffer`.
  const float* row(int64_t r, std::vector<float>& buffer) const {
    const uint8_t* src = data + static_cast<uint64_t>(r) * row_bytes;
    if (type == DType::F32) return reinterpret_cast<const float*>(src);
    buffer.resize(static_cast<size_t>(cols));
    dequantize_row(type, src, buffer.data(), cols);
    return buffer.data();
  }
};

}  // namespace

namespace {

// Types without a row-dot kernel (Q2_K, Q3_K, Q4_1, Q5_1, IQ4_NL, F64, ...): dequantize one
// weight row at a time and dot it with every token (activations rounded to the dot type first).
void matmul_dequantized(const Activations& x, const WeightRows& weight, Activations& y, ThreadPool& pool, const float* bias) {
  const int64_t n_out = weight.rows, n_tok = x.rows;
  const Activations* input = &x;
  Activations rounded;
  if (const auto dot_type = activation_dot_type(weight.type)) {
    rounded = x;
    for (int64_t t = 0; t < n_tok; ++t) round_activations(*dot_type, rounded.row(t), rounded.cols);
    input = &rounded;
  }
  pool.parallel_for(n_out, [&](int64_t begin, int64_t end) {
    std::vector<float> buffer;
    for (int64_t o = begin; o < end; ++o) {
      const float* wr = weight.row(o, buffer);
      const float b = bias ? bias[o] : 0.0f;
      for (int64_t t = 0; t < n_tok; ++t) y.data[t * n_out + o] = dot(input->row(t), wr, x.cols) + b;
    }
  });
}

// Rows of weight per tile: the tile's bytes stay in L1/L2 while every group of kMaxDotTokens
// tokens passes over it, so a prefill reads each weight byte from memory once.
int64_t rows_per_tile(uint64_t row_bytes) {
  constexpr uint64_t kTileBytes = 32 * 1024;
  return std::max<int64_t>(1, static_cast<int64_t>(kTileBytes / std::max<uint64_t>(row_bytes, 1)));
}

}  // namespace

void matmul(const Activations& x, const TensorView& w, Activations& y, ThreadPool& pool, const float* bias) {
  if (const RepackedQ8_0* packed = find_repacked(w)) {
    if (packed->cols() != x.cols)
      fail("tensor {}: input has {} features, the weight expects {}", w.name, x.cols, packed->cols());
    return gemm_q8_0(x, *packed, y, pool, bias);
  }
  const WeightRows weight(w);
  if (weight.cols != x.cols)
    fail("tensor {}: input has {} features, the weight expects {}", w.name, x.cols, weight.cols);
  if (y.rows != x.rows || y.cols != weight.rows) y = Activations(x.rows, weight.rows);
  const RowDotFn kernel = row_dot_for(weight.type, active_isa());
  if (!kernel) return matmul_dequantized(x, weight, y, pool, bias);

  const int64_t n_out = weight.rows, n_tok = x.rows;
  // Quantized weights meet activations quantized once here to their 8-bit dot type.
  QuantizedActivations quantized;
  const auto dot_type = dot_activation_type(weight.type);
  if (dot_type) quantize_activations(*dot_type, x, quantized, pool);
  std::vector<DotActivation> acts(static_cast<size_t>(n_tok));
  for (int64_t t = 0; t < n_tok; ++t) {
    if (dot_type)
      acts[t].q = quantized.row(t);
    else
      acts[t].f = x.row(t);
  }

  const int64_t tile = rows_per_tile(weight.row_bytes);
  pool.parallel_for(n_out, [&](int64_t begin, int64_t end) {
    float out[kMaxDotTokens];
    for (int64_t r0 = begin; r0 < end; r0 += tile) {
      const int64_t r1 = std::min(end, r0 + tile);
      for (int64_t t0 = 0; t0 < n_tok; t0 += kMaxDotTokens) {
        const int nt = static_cast<int>(std::min<int64_t>(kMaxDotTokens, n_tok - t0));
        for (int64_t r = r0; r < r1; ++r) {
          kernel(weight.data + static_cast<uint64_t>(r) * weight.row_bytes, &acts[t0], nt, weight.cols, out);
          const float b = bias ? bias[r] : 0.0f;
          for (int t = 0; t < nt; ++t) y.data[(t0 + t) * n_out + r] = out[t] + b;
        }
      }
    }
  });
}

void matmul_many(const Activations& x, const MatmulOutput* outputs, size_t n_outputs, ThreadPool& pool) {
  // DRAGON_FUSE=0: one pass per weight, for A/B measurements.
  static const bool fuse = [] {
    const char* env = std::getenv("DRAGON_FUSE");
    return !(env && std::string(env) == "0");
  }();
  GemmOutput packed[8];
  int n = 0;
  bool all_packed = fuse && n_outputs <= 8;
  for (size_t i = 0; i < n_outputs && all_packed; ++i) {
    const MatmulOutput& o = outputs[i];
    const RepackedQ8_0* w = find_repacked(*o.w);
    if (!w || w->cols() != x.cols) {
      all_packed = false;
      break;
    }
    packed[n++] = GemmOutput{w, o.y, o.bias};
  }
  if (all_packed && n > 0) return gemm_q8_0_many(x, packed, n, pool);
  for (size_t i = 0; i < n_outputs; ++i) matmul(x, *outputs[i].w, *outputs[i].y, pool, outputs[i].bias);
}

void embedding_rows(const TensorView& table, const std::vector<int32_t>& ids, Activations& out) {
  const WeightRows rows(table);
  out = Activations(static_cast<int64_t>(ids.size()), rows.cols);
  std::vector<float> buffer;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= rows.rows)
      fail("token id {} at index {} is outside the vocabulary [0, {}) of {}", ids[i], i, rows.rows, table.name);
    const float* r = rows.row(ids[i], buffer);
    std::copy_n(r, rows.cols, out.row(static_cast<int64_t>(i)));
  }
}

std::vector<float> tensor_to_f32(const TensorView& t, int64_t expected_numel) {
  if (t.numel() != expected_numel)
    fail("tensor {}: has {} values, expected {}", t.name, t.numel(), expected_numel);
  return dequantize_tensor(t);
}

}  // namespace dragon
