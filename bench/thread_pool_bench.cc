// The cost of one parallel_for barrier (dispatch + join of an empty job) — a decode step of a
// 28-layer model issues ~200 of them — for pool sizes and spin budgets, beside spawning threads
// per op (what a persistent pool saves). Run on a quiet machine; on busy cores the spin budget
// adapts down and the figures measure the scheduler instead.
//   build/thread_pool_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>
#include <vector>

#include "kernels/thread_pool.h"

namespace {

// args: threads, spin microseconds
void BM_EmptyJob(benchmark::State& state) {
  dragon::ThreadPool pool(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  std::atomic<int64_t> sink{0};
  for (auto _ : state) pool.parallel_for(pool.size(), [&](int64_t b, int64_t e) { sink.fetch_add(e - b, std::memory_order_relaxed); });
  benchmark::DoNotOptimize(sink.load());
}
BENCHMARK(BM_EmptyJob)->ArgsProduct({{1, 2, 3, 4}, {0, 50}})->ArgNames({"threads", "spin_us"})->UseRealTime();

// A small job (sum of 64 KiB per thread): the size of one matmul slice in a small model's
// decode step, where barrier cost is a visible share.
void BM_SmallJob(benchmark::State& state) {
  dragon::ThreadPool pool(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  std::vector<float> data(16384 * pool.size(), 1.0f);
  std::vector<float> partial(pool.size() * 16);
  for (auto _ : state) {
    pool.run_on_all([&](int t, int n) {
      const size_t begin = data.size() * t / n, end = data.size() * (t + 1) / n;
      float s = 0;
      for (size_t i = begin; i < end; ++i) s += data[i];
      partial[t * 16] = s;
    });
    benchmark::DoNotOptimize(partial.data());
  }
}
BENCHMARK(BM_SmallJob)->ArgsProduct({{1, 2}, {0, 50}})->ArgNames({"threads", "spin_us"})->UseRealTime();

// The alternative the pool replaces: spawn and join threads for every op.
void BM_SpawnPerOp(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  std::atomic<int64_t> sink{0};
  for (auto _ : state) {
    std::vector<std::thread> workers;
    for (int i = 1; i < threads; ++i) workers.emplace_back([&] { sink.fetch_add(1, std::memory_order_relaxed); });
    sink.fetch_add(1, std::memory_order_relaxed);
    for (auto& w : workers) w.join();
  }
  benchmark::DoNotOptimize(sink.load());
}
BENCHMARK(BM_SpawnPerOp)->Arg(2)->Arg(4)->ArgName("threads")->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
