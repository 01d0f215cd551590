// A rows x cols f32 matrix, row-major: one row per token of a batch. Activations are plain
// owned buffers; weights stay as TensorViews into the model file (see runtime/weights.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dragon {

struct Activations {
  int64_t rows = 0, cols = 0;
  std::vector<float> data;

  Activations() = default;
  Activations(int64_t rows_, int64_t cols_) : rows(rows_), cols(cols_), data(static_cast<size_t>(rows_ * cols_)) {}

  float* row(int64_t r) { return data.data() + r * cols; }
  const float* row(int64_t r) const { return data.data() + r * cols; }
};

}  // namespace dragon
