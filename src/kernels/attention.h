// Causal GQA attention of one query head over the cached keys / values of its sequence:
// out = softmax(scale * q . K[p], p in [0, n_pos)) . V. The cache stores K and V rows as f32 or
// f16; each query head h reads kv head h / (n_heads / n_kv_heads), as HF's repeat_kv.
#pragma once

#include <cstdint>
#include <vector>

namespace dragon {

enum class CacheType { F32, F16 };

struct KVSpan {
  const void* k = nullptr;  // first key of this kv head at position 0
  const void* v = nullptr;
  int64_t k_stride = 0;     // elements from one position to the next
  int64_t v_stride = 0;
  CacheType type = CacheType::F32;
};

// `scores` is scratch of at least n_pos floats. `alibi_slope` != 0 adds ALiBi's linear bias
// slope * (p - query position) to each score (Baichuan-13B); the query sits at n_pos - 1.
void attend_head(const float* q, const KVSpan& kv, int64_t n_pos, int64_t head_dim, int64_t v_dim, float scale,
                 float* out, std::vector<float>& scores, float alibi_slope = 0.0f);

// ALiBi slopes of `n_heads` heads with maximum bias 8 (Press et al.; HF Baichuan's
// _get_interleave, llama.cpp's max_alibi_bias): geometric in the closest power of two, the
// remaining heads interleaved from the next power.
std::vector<float> alibi_slopes(int64_t n_heads, double max_bias = 8.0);

}  // namespace dragon
