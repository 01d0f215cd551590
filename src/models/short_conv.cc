#include "models/short_conv.h"

#include <cstring>

#include "kernels/vector_ops.h"

namespace dragon::blocks {

Activations short_conv_silu(const Activations& x, const std::vector<float>& taps, int64_t K, const Batch& batch,
                            KVCache& cache, int64_t il) {
  const int64_t n = x.rows, C = x.cols;
  Activations out(n, C);
  for (int64_t t = 0; t < n; ++t) {
    float* conv_state = cache.recurrent_state(il, batch.seq_ids[t]);  // [K-1][C], oldest first
    const float* in = x.row(t);
    float* o = out.row(t);
    for (int64_t ch = 0; ch < C; ++ch) {
      const float* w = taps.data() + ch * K;
      float acc = w[K - 1] * in[ch];
      for (int64_t j = 0; j < K - 1; ++j) acc += w[j] * conv_state[j * C + ch];
      o[ch] = silu(acc);
    }
    if (K > 1) {
      std::memmove(conv_state, conv_state + C, static_cast<size_t>((K - 2) * C) * sizeof(float));
      std::memcpy(conv_state + (K - 2) * C, in, static_cast<size_t>(C) * sizeof(float));
    }
  }
  return out;
}

}  // namespace dragon::blocks
