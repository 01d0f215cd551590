// Prompt attention micro-benchmark: one layer of a causal prompt of N tokens over an f16 cache of
// qwen3-0.6b's shape (16 query heads, 8 kv heads of 128), one thread, through the per-token
// kernel (attend_group: every token reads the K / V rows of all its positions) and through the
// blocked kernel (kernels/attention_prompt.h: query blocks of 32 tokens x 2 heads read each key
// block once). Compare the CPU columns; "GFLOP/s" counts the 2 x (QK + PV) multiply-adds of the
// causal triangle.
//   ninja -C build attention_bench && build/attention_bench [--benchmark_filter=Blocked]
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/attention_prompt.h"
#include "tensor/half.h"

namespace dragon {
namespace {

constexpr int64_t kHeads = 16, kKvHeads = 8, kDim = 128, kGroup = kHeads / kKvHeads;

struct Prompt {
  int64_t n;
  std::vector<float> q, out;
  std::vector<uint16_t> k, v;
  std::vector<int64_t> positions;

  explicit Prompt(int64_t n_tok) : n(n_tok) {
    std::mt19937 rng(1);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    q.resize(n * kHeads * kDim);
    out.resize(n * kHeads * kDim);
    k.resize(n * kKvHeads * kDim);
    v.resize(k.size());
    for (float& x : q) x = dist(rng);
    for (auto& x : k) x = f32_to_f16(dist(rng));
    for (auto& x : v) x = f32_to_f16(dist(rng));
    for (int64_t t = 0; t < n; ++t) positions.push_back(t);
  }
  KVSpan span(int64_t h) const {
    KVSpan s;
    s.k = k.data() + h * kDim;
    s.v = v.data() + h * kDim;
    s.k_stride = s.v_stride = kKvHeads * kDim;
    s.type = CacheType::F16;
    return s;
  }
};

void set_counters(benchmark::State& state, int64_t n) {
  const double macs = 2.0 * kHeads * kDim * (n * (n + 1) / 2.0);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_PromptAttentionPerToken(benchmark::State& state) {
  Prompt p(state.range(0));
  const float scale = 0.088f;
  for (auto _ : state) {
    for (int64_t t = 0; t < p.n; ++t)
      for (int64_t h = 0; h < kKvHeads; ++h)
        attend_group(p.q.data() + (t * kHeads + h * kGroup) * kDim, kGroup, p.span(h), t + 1, kDim, kDim, scale,
                     p.out.data() + (t * kHeads + h * kGroup) * kDim);
    benchmark::DoNotOptimize(p.out.data());
  }
  set_counters(state, p.n);
}

void BM_PromptAttentionBlocked(benchmark::State& state) {
  if (!prompt_attention_available()) {
    state.SkipWithError("no AVX-512");
    return;
  }
  Prompt p(state.range(0));
  const float scale = 0.088f;
  const int64_t block = kPromptMaxRows / kGroup;
  for (auto _ : state) {
    for (int64_t t0 = 0; t0 < p.n; t0 += block)
      for (int64_t h = 0; h < kKvHeads; ++h) {
        PromptQueryBlock b;
        b.q = p.q.data() + (t0 * kHeads + h * kGroup) * kDim;
        b.q_stride = kHeads * kDim;
        b.positions = p.positions.data() + t0;
        b.n = std::min(block, p.n - t0);
        b.out = p.out.data() + (t0 * kHeads + h * kGroup) * kDim;
        b.out_stride = kHeads * kDim;
        attend_prompt_block(b, kGroup, p.span(h), kDim, kDim, scale);
      }
    benchmark::DoNotOptimize(p.out.data());
  }
  set_counters(state, p.n);
}

BENCHMARK(BM_PromptAttentionPerToken)->Arg(128)->Arg(512)->Arg(2048)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PromptAttentionBlocked)->Arg(128)->Arg(512)->Arg(2048)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace dragon

BENCHMARK_MAIN();
