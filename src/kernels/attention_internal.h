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

void attend_reference(const float* q, int64_t n_group, const KVSpan& kv, int64_t n_pos, int64_t head_dim,
                      int64_t v_dim, float scale, float* out, const float* alibi_slopes);
void attend_portable(const float* q, int64_t n_group, const KVSpan& kv, int64_t n_pos, int64_t head_dim,
                     int64_t v_dim, float scale, float* out, const float* alibi_slopes);
// Defined only on x86-64 (attention_avx512.cc); the caller checks the CPU first.
void attend_avx512(const float* q, int64_t n_group, const KVSpan& kv, int64_t n_pos, int64_t head_dim,
                   int64_t v_dim, float scale, float* out, const float* alibi_slopes);

}  // namespace dragon::attention_internal
