// The attention kernels (portable blocked online softmax, AVX-512) against the reference two-pass
// softmax in double, over f32 and f16 caches, GQA groups (including groups wider than a score
// tile), head sizes with tails, block edges, ALiBi, strided spans and long contexts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "kernels/attention.h"
#include "tensor/half.h"

namespace dragon {
namespace {

struct Cache {
  int64_t n_kv = 2, head_dim = 0, v_dim = 0;
  std::vector<float> k, v;
  std::vector<uint16_t> k16, v16;

  // kv head `h` of a cache whose rows hold n_kv heads (stride = n_kv * dim), as in the KV cache.
  KVSpan span(int64_t h, CacheType type) const {
    if (type == CacheType::F32)
      return {k.data() + h * head_dim, v.data() + h * v_dim, n_kv * head_dim, n_kv * v_dim, type};
    return {k16.data() + h * head_dim, v16.data() + h * v_dim, n_kv * head_dim, n_kv * v_dim, type};
  }
};

// Keys drift with the position (`trend`) so later blocks raise the running max: the rescaling
// path of the online softmax runs, not only the first block.
Cache make_cache(int64_t n_pos, int64_t head_dim, int64_t v_dim, uint32_t seed, float trend) {
  Cache c;
  c.head_dim = head_dim;
  c.v_dim = v_dim;
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  c.k.resize(n_pos * c.n_kv * head_dim);
  c.v.resize(n_pos * c.n_kv * v_dim);
  for (int64_t p = 0; p < n_pos; ++p)
    for (int64_t i = 0; i < c.n_kv * head_dim; ++i) c.k[p * c.n_kv * head_dim + i] = dist(rng) + trend * p / n_pos;
  for (float& x : c.v) x = dist(rng);
  // The f16 cache holds the rounded values; the f32 one the same rounded values, so both paths
  // see the same numbers and differ only by the kernel.
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

std::vector<AttentionKernel> fast_kernels() {
  std::vector<AttentionKernel> kernels = {AttentionKernel::Portable};
  if (attention_kernel_available(AttentionKernel::Avx512)) kernels.push_back(AttentionKernel::Avx512);
  return kernels;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

TEST(AttentionKernels, MatchTheReferenceAcrossShapes) {
  struct Shape {
    int64_t head_dim, v_dim, group, n_pos;
  };
  const Shape shapes[] = {{128, 128, 1, 1},  {128, 128, 2, 63},  {128, 128, 4, 64},  {128, 128, 8, 65},
                          {64, 64, 2, 300},  {72, 72, 3, 129},   {80, 40, 5, 17},    {128, 128, 20, 100},
                          {576, 512, 16, 70}, {32, 32, 12, 1000}};
  for (const Shape& s : shapes) {
    const Cache cache = make_cache(s.n_pos, s.head_dim, s.v_dim, 7 + s.n_pos, 4.0f);
    const std::vector<float> q = random_vector(s.group * s.head_dim, 11 + s.group);
    std::vector<float> slopes = alibi_slopes(s.group);
    for (CacheType type : {CacheType::F32, CacheType::F16})
      for (bool alibi : {false, true}) {
        const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
        std::vector<float> ref(s.group * s.v_dim);
        attend_group_using(AttentionKernel::Reference, q.data(), s.group, cache.span(1, type), s.n_pos, s.head_dim,
                           s.v_dim, scale, ref.data(), alibi ? slopes.data() : nullptr);
        for (AttentionKernel kernel : fast_kernels()) {
          std::vector<float> out(ref.size(), NAN);
          attend_group_using(kernel, q.data(), s.group, cache.span(1, type), s.n_pos, s.head_dim, s.v_dim, scale,
                             out.data(), alibi ? slopes.data() : nullptr);
          const double err = max_abs_diff(out, ref);
          std::printf("  %-8s %s dim %3ld/%3ld group %2ld n_pos %4ld alibi %d: max abs error %.2e\n",
                      attention_kernel_name(kernel).c_str(), type == CacheType::F32 ? "f32" : "f16",
                      static_cast<long>(s.head_dim), static_cast<long>(s.v_dim), static_cast<long>(s.group),
                      static_cast<long>(s.n_pos), alibi, err);
          EXPECT_LT(err, 2e-6) << attention_kernel_name(kernel);
        }
      }
  }
}

TEST(AttentionKernels, LongContextStaysAccurate) {
  // 4096 positions with a peaked softmax (large scale): the running max moves often, small
  // weights pile up over many blocks.
  const int64_t n_pos = 4096, head_dim = 128, group = 4;
  const Cache cache = make_cache(n_pos, head_dim, head_dim, 3, 8.0f);
  const std::vector<float> q = random_vector(group * head_dim, 5);
  for (float scale : {0.088f, 0.5f}) {
    std::vector<float> ref(group * head_dim);
    attend_group_using(AttentionKernel::Reference, q.data(), group, cache.span(0, CacheType::F16), n_pos, head_dim,
                       head_dim, scale, ref.data());
    for (AttentionKernel kernel : fast_kernels()) {
      std::vector<float> out(ref.size());
      attend_group_using(kernel, q.data(), group, cache.span(0, CacheType::F16), n_pos, head_dim, head_dim, scale,
                         out.data());
      const double err = max_abs_diff(out, ref);
      std::printf("  %-8s 4096 positions, scale %.3f: max abs error %.2e\n", attention_kernel_name(kernel).c_str(),
                  scale, err);
      EXPECT_LT(err, 2e-5);
    }
  }
}

TEST(AttentionKernels, GroupEqualsHeadByHead) {
  const int64_t n_pos = 90, head_dim = 128, group = 4;
  const Cache cache = make_cache(n_pos, head_dim, head_dim, 9, 1.0f);
  const std::vector<float> q = random_vector(group * head_dim, 13);
  std::vector<float> together(group * head_dim), alone(group * head_dim), scores;
  attend_group(q.data(), group, cache.span(0, CacheType::F16), n_pos, head_dim, head_dim, 0.1f, together.data());
  for (int64_t g = 0; g < group; ++g)
    attend_head(q.data() + g * head_dim, cache.span(0, CacheType::F16), n_pos, head_dim, head_dim, 0.1f,
                alone.data() + g * head_dim, scores);
  std::printf("  kernel in use: %s\n", attention_kernel_name(best_attention_kernel()).c_str());
  // The same kernel on the same head: identical whatever the group around it.
  EXPECT_EQ(max_abs_diff(together, alone), 0.0);
}

TEST(AttentionKernels, SinglePositionReturnsItsValue) {
  const Cache cache = make_cache(1, 64, 64, 21, 0.0f);
  const std::vector<float> q = random_vector(64 * 3, 22);
  for (AttentionKernel kernel : fast_kernels()) {
    std::vector<float> out(3 * 64);
    attend_group_using(kernel, q.data(), 3, cache.span(1, CacheType::F32), 1, 64, 64, 1.0f, out.data());
    for (int64_t g = 0; g < 3; ++g)
      for (int64_t i = 0; i < 64; ++i) ASSERT_FLOAT_EQ(out[g * 64 + i], cache.v[64 + i]) << g << " " << i;
  }
}

}  // namespace
}  // namespace dragon
