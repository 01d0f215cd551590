// Prompt attention as blocked GEMMs (flash-style): a block of consecutive queries of one
// sequence — every query head of one GQA group for each of them — against its cached keys /
// values, taken kPromptKeyBlock positions at a time. Each key block's K and V rows are widened to
// f32 once and then serve every query row of the block (up to kPromptMaxRows = tokens x heads),
// scores and outputs are small matrix products with no horizontal sums, and the softmax is
// online (running max and sum per query row), so no row of n_pos scores is ever materialised.
// Key blocks past the last query's position are skipped; inside the diagonal block the
// positions a query may not see are masked.
//
// The vectors run across query rows (16 rows per register): queries, scores and outputs are held
// transposed, so the per-row max, sum and rescale are plain vertical operations. Key blocks start
// at multiples of kPromptKeyBlock from position 0 and each row's arithmetic is independent of
// the other rows in its block, so a query's result does not depend on how the batch was cut into
// query blocks.
#pragma once

#include <cstdint>

#include "kernels/attention.h"

namespace dragon {

inline constexpr int64_t kPromptKeyBlock = 32;
inline constexpr int64_t kPromptMaxRows = 64;

// A block of queries: query token i (i < n) has its n_group heads back to back at
// q + i * q_stride and sees cache positions [0, positions[i]]; positions are non-decreasing and
// n * n_group <= kPromptMaxRows. The output of token i (n_group * v_dim floats) goes to
// out + i * out_stride.
struct PromptQueryBlock {
  const float* q = nullptr;
  int64_t q_stride = 0;
  const int64_t* positions = nullptr;
  int64_t n = 0;
  float* out = nullptr;
  int64_t out_stride = 0;
};

// True when this CPU runs the blocked kernel (AVX-512) and DRAGON_PROMPT_ATTENTION is not 0
// (the switch that sends prompts back through attend_group per token, for A/B measurements).
bool prompt_attention_enabled();
// Whether the CPU could run it at all (tests).
bool prompt_attention_available();

void attend_prompt_block(const PromptQueryBlock& block, int64_t n_group, const KVSpan& kv, int64_t head_dim,
                         int64_t v_dim, float scale);

}  // namespace dragon
