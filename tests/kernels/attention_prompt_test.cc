// The blocked prompt-attention kernel (kernels/attention_prompt.h) against the double-precision
// two-pass reference of attention.h, token by token: contiguous and paged caches, f32 and f16,
// GQA groups 1..16, head sizes with tails, query blocks that start after a cached prefix, and
// positions that cross key blocks. Also: a token's output does not depend on how the prompt was
// cut into query blocks (bit for bit), which keeps chunked prefill deterministic.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "kernels/attention.h"
#include "kernels/attention_prompt.h"
#include "tensor/half.h"

namespace dragon {
namespace {

// A paged (or contiguous) cache of n_kv heads: rows of width n_kv * max(head_dim, v_dim) for K
// and V alike, so one block_stride serves both, as in the engine's pool.
struct PagedCache {
  int64_t n_kv = 2, head_dim = 0, v_dim = 0, width = 0, block_size = 0;
  std::vector<float> k, v;
  std::vector<uint16_t> k16, v16;
  std::vector<int32_t> blocks;  // pool block of each run of block_size positions

  KVSpan span(int64_t h, CacheType type) const {
    KVSpan s;
    s.type = type;
    if (type == CacheType::F32) {
      s.k = k.data() + h * head_dim;
      s.v = v.data() + h * v_dim;
    } else {
      s.k = k16.data() + h * head_dim;
      s.v = v16.data() + h * v_dim;
    }
    s.k_stride = s.v_stride = width;
    if (block_size) {
      s.blocks = blocks.data();
      s.block_size = block_size;
      s.block_stride = block_size * width;
    }
    return s;
  }
};

// Keys drift with the position so later key blocks raise the running max (the rescaling runs).
PagedCache make_cache(int64_t n_pos, int64_t head_dim, int64_t v_dim, int64_t block_size, uint32_t seed) {
  PagedCache c;
  c.head_dim = head_dim;
  c.v_dim = v_dim;
  c.width = c.n_kv * std::max(head_dim, v_dim);
  c.block_size = block_size;
  const int64_t n_blocks = block_size ? (n_pos + block_size - 1) / block_size : 1;
  const int64_t rows = block_size ? n_blocks * block_size : n_pos;
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  c.k.resize(rows * c.width);
  c.v.resize(rows * c.width);
  if (block_size) {  // blocks scattered over the pool in a shuffled order
    c.blocks.resize(n_blocks);
    std::iota(c.blocks.begin(), c.blocks.end(), 0);
    std::shuffle(c.blocks.begin(), c.blocks.end(), rng);
  }
  for (int64_t p = 0; p < n_pos; ++p) {
    const int64_t row = block_size ? c.blocks[p / block_size] * block_size + p % block_size : p;
    for (int64_t i = 0; i < c.width; ++i) {
      c.k[row * c.width + i] = dist(rng) + 3.0f * p / n_pos;
      c.v[row * c.width + i] = dist(rng);
    }
  }
  c.k16.resize(c.k.size());
  c.v16.resize(c.v.size());
  for (size_t i = 0; i < c.k.size(); ++i) c.k[i] = f16_to_f32(c.k16[i] = f32_to_f16(c.k[i]));
  for (size_t i = 0; i < c.v.size(); ++i) c.v[i] = f16_to_f32(c.v16[i] = f32_to_f16(c.v[i]));
  return c;
}

std::vector<float> random_vector(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

// Tokens [first, first + n) of a prompt at positions first.. through the blocked kernel in query
// blocks of `block_tokens`; q rows hold n_kv groups of n_group heads (kv head `h` used).
std::vector<float> blocked(const std::vector<float>& q, int64_t q_cols, const std::vector<int64_t>& positions,
                           int64_t n_group, const KVSpan& kv, int64_t head_dim, int64_t v_dim, float scale,
                           int64_t block_tokens) {
  const int64_t n = static_cast<int64_t>(positions.size());
  std::vector<float> out(n * n_group * v_dim, NAN);
  for (int64_t t0 = 0; t0 < n; t0 += block_tokens) {
    PromptQueryBlock b;
    b.q = q.data() + t0 * q_cols;
    b.q_stride = q_cols;
    b.positions = positions.data() + t0;
    b.n = std::min(block_tokens, n - t0);
    b.out = out.data() + t0 * n_group * v_dim;
    b.out_stride = n_group * v_dim;
    attend_prompt_block(b, n_group, kv, head_dim, v_dim, scale);
  }
  return out;
}

TEST(AttentionPrompt, MatchesTheReferenceTokenByToken) {
  if (!prompt_attention_available()) GTEST_SKIP() << "no AVX-512";
  struct Shape {
    int64_t head_dim, v_dim, group, first, n_tok, block_size;
  };
  const Shape shapes[] = {{128, 128, 2, 0, 100, 0},  {128, 128, 2, 37, 70, 16}, {64, 64, 1, 0, 130, 32},
                          {128, 128, 4, 5, 33, 0},   {72, 72, 3, 0, 40, 16},    {80, 40, 5, 60, 20, 0},
                          {128, 128, 8, 31, 17, 64}, {96, 96, 16, 0, 9, 0},     {128, 128, 2, 0, 1, 0}};
  double worst = 0;
  for (const Shape& s : shapes) {
    const int64_t n_pos = s.first + s.n_tok;
    const PagedCache cache = make_cache(n_pos, s.head_dim, s.v_dim, s.block_size, 7 + s.n_tok);
    const int64_t q_cols = s.group * s.head_dim;
    const std::vector<float> q = random_vector(s.n_tok * q_cols, 11 + s.group);
    std::vector<int64_t> positions(s.n_tok);
    std::iota(positions.begin(), positions.end(), s.first);
    const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
    const int64_t block_tokens = std::max<int64_t>(1, kPromptMaxRows / s.group);
    for (CacheType type : {CacheType::F32, CacheType::F16}) {
      const KVSpan span = cache.span(1, type);
      const std::vector<float> out = blocked(q, q_cols, positions, s.group, span, s.head_dim, s.v_dim, scale,
                                             block_tokens);
      double err = 0;
      std::vector<float> ref(s.group * s.v_dim);
      for (int64_t t = 0; t < s.n_tok; ++t) {
        attend_group_using(AttentionKernel::Reference, q.data() + t * q_cols, s.group, span, positions[t] + 1,
                           s.head_dim, s.v_dim, scale, ref.data());
        for (int64_t i = 0; i < s.group * s.v_dim; ++i)
          err = std::max(err, std::fabs(static_cast<double>(out[t * s.group * s.v_dim + i]) - ref[i]));
      }
      std::printf("  %s dim %3ld/%3ld group %2ld tokens %3ld..%3ld %s: max abs error %.2e\n",
                  type == CacheType::F32 ? "f32" : "f16", static_cast<long>(s.head_dim), static_cast<long>(s.v_dim),
                  static_cast<long>(s.group), static_cast<long>(s.first), static_cast<long>(n_pos - 1),
                  s.block_size ? "paged" : "contiguous", err);
      EXPECT_LT(err, 2e-6);
      worst = std::max(worst, err);
    }
  }
  std::printf("  worst %.2e\n", worst);
}

TEST(AttentionPrompt, LongPromptStaysAccurate) {
  if (!prompt_attention_available()) GTEST_SKIP() << "no AVX-512";
  // 2048 positions with a peaked softmax: the running max moves often over many key blocks.
  const int64_t n_pos = 2048, head_dim = 128, group = 2, n_tok = 40;
  const PagedCache cache = make_cache(n_pos, head_dim, head_dim, 16, 3);
  const std::vector<float> q = random_vector(n_tok * group * head_dim, 5);
  std::vector<int64_t> positions(n_tok);
  std::iota(positions.begin(), positions.end(), n_pos - n_tok);
  for (float scale : {0.088f, 0.5f}) {
    const KVSpan span = cache.span(0, CacheType::F16);
    const std::vector<float> out = blocked(q, group * head_dim, positions, group, span, head_dim, head_dim, scale, 32);
    std::vector<float> ref(group * head_dim), per_token(group * head_dim);
    double err = 0, err_per_token = 0;
    for (int64_t t = 0; t < n_tok; ++t) {
      attend_group_using(AttentionKernel::Reference, q.data() + t * group * head_dim, group, span, positions[t] + 1,
                         head_dim, head_dim, scale, ref.data());
      // The per-token AVX-512 kernel on the same queries, for comparison.
      attend_group_using(AttentionKernel::Avx512, q.data() + t * group * head_dim, group, span, positions[t] + 1,
                         head_dim, head_dim, scale, per_token.data());
      for (int64_t i = 0; i < group * head_dim; ++i) {
        err = std::max(err, std::fabs(static_cast<double>(out[t * group * head_dim + i]) - ref[i]));
        err_per_token = std::max(err_per_token, std::fabs(static_cast<double>(per_token[i]) - ref[i]));
      }
    }
    std::printf("  2048 positions, scale %.3f: max abs error %.2e (per-token kernel %.2e)\n", scale, err,
                err_per_token);
    EXPECT_LT(err, 2e-5);
    EXPECT_LT(err, 2 * err_per_token + 1e-7) << "less accurate than the per-token kernel";
  }
}

TEST(AttentionPrompt, OutputDoesNotDependOnTheQueryBlocks) {
  if (!prompt_attention_available()) GTEST_SKIP() << "no AVX-512";
  const int64_t head_dim = 128, group = 2, n_tok = 90;
  const PagedCache cache = make_cache(n_tok, head_dim, head_dim, 16, 17);
  const std::vector<float> q = random_vector(n_tok * group * head_dim, 19);
  std::vector<int64_t> positions(n_tok);
  std::iota(positions.begin(), positions.end(), 0);
  const KVSpan span = cache.span(1, CacheType::F16);
  const std::vector<float> whole = blocked(q, group * head_dim, positions, group, span, head_dim, head_dim, 0.1f, 32);
  for (int64_t block_tokens : {1, 3, 8, 17, 31}) {
    const std::vector<float> cut =
        blocked(q, group * head_dim, positions, group, span, head_dim, head_dim, 0.1f, block_tokens);
    int64_t differ = 0;
    for (size_t i = 0; i < whole.size(); ++i) differ += whole[i] != cut[i];
    std::printf("  query blocks of %2ld tokens: %ld of %zu outputs differ from blocks of 32\n",
                static_cast<long>(block_tokens), static_cast<long>(differ), whole.size());
    EXPECT_EQ(differ, 0);
  }
}

TEST(AttentionPrompt, RejectsOversizedBlocks) {
  PromptQueryBlock b;
  std::vector<int64_t> positions(kPromptMaxRows + 1, 0);
  b.positions = positions.data();
  b.n = kPromptMaxRows + 1;
  EXPECT_THROW(attend_prompt_block(b, 1, KVSpan{}, 64, 64, 1.0f), std::exception);
}

}  // namespace
}  // namespace dragon
