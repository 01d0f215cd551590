#include "tensor/tensor_view.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "util/error.h"

namespace dragon {

std::string shape_string(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail("{}: negative dimension in shape {}", what, shape_string(shape));
    if (__builtin_mul_overflow(n, d, &n)) fail("{}: element count of shape {} overflows", what, shape_string(shape));
  }
  return n;
}

}  // namespace dragon
