#include "kernels/attention_prompt.h"

#include <cstdlib>
#include <cstring>

#include "util/error.h"

namespace dragon {

namespace prompt_attention_internal {
#if defined(__x86_64__) && defined(__GNUC__)
// attention_prompt_avx512.cc
void attend_prompt_block_avx512(const PromptQueryBlock& b, int64_t n_group, const KVSpan& kv, int64_t head_dim,
                                int64_t v_dim, float scale);
#else
void attend_prompt_block_avx512(const PromptQueryBlock&, int64_t, const KVSpan&, int64_t, int64_t, float) {
  fail("attention: the blocked prompt kernel is not built for this CPU architecture");
}
#endif
}  // namespace prompt_attention_internal

bool prompt_attention_available() { return attention_kernel_available(AttentionKernel::Avx512); }

bool prompt_attention_enabled() {
  // Only where the per-token kernel would be the AVX-512 one too: DRAGON_ATTENTION=portable or
  // reference then means every attention path, prompts included.
  static const bool enabled = [] {
    const char* env = std::getenv("DRAGON_PROMPT_ATTENTION");
    if (env && std::strcmp(env, "0") != 0 && std::strcmp(env, "1") != 0)
      fail("DRAGON_PROMPT_ATTENTION={}: expected 0 or 1", env);
    return !(env && std::strcmp(env, "0") == 0) && best_attention_kernel() == AttentionKernel::Avx512;
  }();
  return enabled;
}

void attend_prompt_block(const PromptQueryBlock& block, int64_t n_group, const KVSpan& kv, int64_t head_dim,
                         int64_t v_dim, float scale) {
  if (block.n <= 0) return;
  if (block.n * n_group > kPromptMaxRows)
    fail("attention: a prompt block of {} tokens x {} heads exceeds {} rows", block.n, n_group, kPromptMaxRows);
  if (!prompt_attention_available()) fail("attention: the blocked prompt kernel needs AVX-512");
  prompt_attention_internal::attend_prompt_block_avx512(block, n_group, kv, head_dim, v_dim, scale);
}

}  // namespace dragon
