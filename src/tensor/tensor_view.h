// A tensor as it sits in a (memory-mapped) model file: a name, a type, a shape and bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/dtype.h"

namespace dragon {

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  // Outermost dimension first, as in PyTorch and safetensors: a Linear weight is
  // {out_features, in_features}. (GGUF stores ne[] innermost first; the reader reverses it.)
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int64_t row_elems() const { return shape.empty() ? 1 : shape.back(); }
};

std::string shape_string(const std::vector<int64_t>& shape);  // "[4096, 151936]"

// Element count of `shape`, throwing dragon::Error (naming `what`) on a negative dimension or
// on int64 overflow — for shapes read from untrusted files.
int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& what);

}  // namespace dragon
