// Numerically stable softmax in place: subtract the max, exponentiate, normalize.
#pragma once

#include <cstdint>

namespace dragon {

void softmax(float* x, int64_t n);

}  // namespace dragon
