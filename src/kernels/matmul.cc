#include "kernels/matmul.h"

#include "kernels/activation_rounding.h"
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

void matmul(const Activations& x, const TensorView& w, Activations& y, ThreadPool& pool, const float* bias) {
  const WeightRows weight(w);
  if (weight.cols != x.cols)
    fail("tensor {}: input has {} features, the weight expects {}", w.name, x.cols, weight.cols);
  if (y.rows != x.rows || y.cols != weight.rows) y = Activations(x.rows, weight.rows);
  const int64_t n_out = weight.rows, n_tok = x.rows;
  // Quantized weights meet activations rounded to their 8-bit dot type (see activation_rounding.h).
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
