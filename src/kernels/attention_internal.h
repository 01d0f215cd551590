// The kernels behind attend_group (kernels/attention.h), one per instruction set; only
// attention.cc calls them, after checking the CPU. Same arguments as attend_group, with n_group
// at most kMaxAttentionGroup (attention.cc splits larger groups).
#pragma once

#include <cstdint>

#include "kernels/attention.h"

namespace dragon::attention_internal {

// Positions per block of the online softmax: small enough that a block's K and V rows stay in
// L1 while all heads of the group use them, large enough to amortise the rescaling.
constexpr int64_t kBlock = 64;
constexpr int64_t kMaxGroup = 16;

// Byte addresses of the K and V rows of positions [start, start + n) of a span (contiguous or
// paged), one division per call rather than per row.
inline void row_addresses(const KVSpan& kv, int64_t start, int64_t n, const char** k_rows, const char** v_rows) {
  const int64_t bytes = kv.type == CacheType::F32 ? 4 : 2;
  const char* k = static_cast<const char*>(kv.k);
  const char* v = static_cast<const char*>(kv.v);
  if (kv.block_size == 0) {
    for (int64_t j = 0; j < n; ++j) {
      k_rows[j] = k + (start + j) * kv.k_stride * bytes;
      v_rows[j] = v + (start + j) * kv.v_stride * bytes;
    }
    return;
  }
  int64_t block = start / kv.block_size, r = start % kv.block_size;
  for (int64_t j = 0; j < n; ++j, ++r) {
    if (r == kv.block_size) r = 0, ++block;
    const int64_t base = kv.blocks[block] * kv.block_stride;
    k_rows[j] = k + (base + r * kv.k_stride) * bytes;
    v_rows[j] = v + (base + r * kv.v_stride) * bytes;
  }
}

void attend_reference(const float* q, int64_t n_group, const KVSpan& kv, int64_t n_pos, int64_t head_dim,
                      int64_t v_dim, float scale, float* out, const float* alibi_slopes);
void attend_portable(const float* q, int64_t n_group, const KVSpan& kv, int64_t n_pos, int64_t head_dim,
                     int64_t v_dim, float scale, float* out, const float* alibi_slopes);
// Defined only on x86-64 (attention_avx512.cc); the caller checks the CPU first.
void attend_avx512(const float* q, int64_t n_group, const KVSpan& kv, int64_t n_pos, int64_t head_dim,
                   int64_t v_dim, float scale, float* out, const float* alibi_slopes);

}  // namespace dragon::attention_internal
