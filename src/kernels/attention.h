// Causal GQA attention of query heads over the cached keys / values of their sequence:
// out = softmax(scale * q . K[p], p in [0, n_pos)) . V. The cache stores K and V rows as f32 or
// f16; each query head h reads kv head h / (n_heads / n_kv_heads), as HF's repeat_kv.
//
// The fast path streams the cache once per query step, flash-style: positions are taken in
// blocks, each block's scores are folded into a running max / sum (online softmax), so no row of
// n_pos scores is ever materialised, and all the query heads that share a kv head are processed
// together so each K / V row is read from memory once per group, not once per head.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dragon {

enum class CacheType { F32, F16 };

// The keys / values of one kv head over positions 0, 1, ... Contiguous (block_size 0): the row
// of position p starts p * stride elements after k (v). Paged (the engine's KV cache): positions
// sit in blocks of block_size rows scattered over a pool, `blocks` lists the pool block of each
// run of block_size positions, and the row of p starts
// blocks[p / block_size] * block_stride + (p % block_size) * stride elements after k (v), which
// then point at this head's row 0 in pool block 0.
struct KVSpan {
  const void* k = nullptr;  // first key of this kv head at position 0 (paged: in pool block 0)
  const void* v = nullptr;
  int64_t k_stride = 0;     // elements from one position to the next (within a block)
  int64_t v_stride = 0;
  CacheType type = CacheType::F32;
  const int32_t* blocks = nullptr;  // paged only: pool block of each block_size positions
  int64_t block_size = 0;           // 0 = contiguous
  int64_t block_stride = 0;         // elements from one pool block to the next

  // Elements from k (stride k_stride) or v (v_stride) to the row of position p.
  int64_t row_offset(int64_t p, int64_t stride) const {
    if (block_size == 0) return p * stride;
    return blocks[p / block_size] * block_stride + (p % block_size) * stride;
  }
};

// `scores` is scratch of at least n_pos floats. `alibi_slope` != 0 adds ALiBi's linear bias
// slope * (p - query position) to each score (Baichuan-13B); the query sits at n_pos - 1.
// (Runs the fast kernel for a group of one; `scores` is kept for callers, no longer needed.)
void attend_head(const float* q, const KVSpan& kv, int64_t n_pos, int64_t head_dim, int64_t v_dim, float scale,
                 float* out, std::vector<float>& scores, float alibi_slope = 0.0f);

// The `n_group` query heads that share one kv head, at once: q holds them back to back
// (n_group * head_dim floats, as they sit in a q row: heads kv_head * group ... + group - 1),
// out receives n_group * v_dim floats. `alibi_slopes`: n_group slopes, or null for none.
void attend_group(const float* q, int64_t n_group, const KVSpan& kv, int64_t n_pos, int64_t head_dim,
                  int64_t v_dim, float scale, float* out, const float* alibi_slopes = nullptr);

// The implementations behind attend_group, selectable for tests and benchmarks:
//   Reference — scores of every position, a two-pass softmax in double, then V (the plain math);
//   Portable  — the blocked online-softmax kernel in plain C++ (any CPU);
//   Avx512    — the same blocks with AVX-512 (f16 widened by vcvtph2ps, vector exp).
enum class AttentionKernel { Reference, Portable, Avx512 };
bool attention_kernel_available(AttentionKernel kernel);
// The fastest kernel this CPU runs (DRAGON_ATTENTION=reference|portable|avx512 overrides it).
AttentionKernel best_attention_kernel();
std::string attention_kernel_name(AttentionKernel kernel);
void attend_group_using(AttentionKernel kernel, const float* q, int64_t n_group, const KVSpan& kv, int64_t n_pos,
                        int64_t head_dim, int64_t v_dim, float scale, float* out,
                        const float* alibi_slopes = nullptr);

// ALiBi slopes of `n_heads` heads with maximum bias 8 (Press et al.; HF Baichuan's
// _get_interleave, llama.cpp's max_alibi_bias): geometric in the closest power of two, the
// remaining heads interleaved from the next power.
std::vector<float> alibi_slopes(int64_t n_heads, double max_bias = 8.0);

}  // namespace dragon
