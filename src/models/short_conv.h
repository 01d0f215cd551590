// The short causal depthwise convolution (+ silu) in front of the delta rule of Qwen3-Next's Gated
// DeltaNet (one conv over [q | k | v]) and Kimi Linear's KDA (three convs, q_conv1d / k_conv1d /
// v_conv1d, which are one conv over the concatenated channels):
//
//   out_t[ch] = silu(sum_{j<K} taps[ch][j] x_{t-K+1+j}[ch])
//
// The K-1 inputs before a sequence's first token in the batch come from the start of the layer's
// recurrent state in the cache ([K-1][C], oldest first), which is updated as the tokens pass.
#pragma once

#include <cstdint>
#include <vector>

#include "models/blocks.h"
#include "runtime/batch.h"
#include "runtime/kv_cache.h"

namespace dragon::blocks {

// x: [n_tokens, C]; taps: [C][K] (oldest input first). Walks the batch in order, each token
// continuing its sequence.
Activations short_conv_silu(const Activations& x, const std::vector<float>& taps, int64_t K, const Batch& batch,
                            KVCache& cache, int64_t il);

}  // namespace dragon::blocks
