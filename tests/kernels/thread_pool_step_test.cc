// The step-loop thread pool: every row exactly once, chunk boundaries on the grain, one call per
// thread for run_on_all, errors rethrown and the pool still usable, many back-to-back jobs (the
// spin / sleep handoff) without a lost wake-up, and the sleep-only mode.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "kernels/thread_pool.h"

namespace dragon {
namespace {

TEST(ThreadPoolStep, GrainAlignedChunksCoverTheRange) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    for (int64_t grain : {1, 4, 16}) {
      for (int64_t n : {1, 5, 16, 17, 63, 64, 1000}) {
        std::vector<std::atomic<int>> hits(n);
        std::mutex m;
        std::vector<std::pair<int64_t, int64_t>> chunks;
        pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) hits[i]++;
          std::lock_guard lock(m);
          chunks.emplace_back(b, e);
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << threads << " " << grain << " " << n << " " << i;
        for (auto [b, e] : chunks) {
          EXPECT_EQ(b % grain, 0) << "chunk start " << b << " grain " << grain;
          EXPECT_TRUE(e == n || e % grain == 0) << "chunk end " << e << " grain " << grain;
        }
        // Even split: no chunk more than one grain longer than another.
        int64_t shortest = n, longest = 0;
        for (auto [b, e] : chunks) shortest = std::min(shortest, e - b), longest = std::max(longest, e - b);
        if (static_cast<int64_t>(chunks.size()) == threads && n % grain == 0) {
          EXPECT_LE(longest - shortest, grain);
        }
      }
    }
  }
}

TEST(ThreadPoolStep, RunOnAllCallsEveryThreadOnce) {
  for (int threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> calls(threads);
    pool.run_on_all([&](int thread, int n_threads) {
      ASSERT_EQ(n_threads, threads);
      calls[thread]++;
    });
    for (int t = 0; t < threads; ++t) EXPECT_EQ(calls[t].load(), 1) << "thread " << t;
  }
}

TEST(ThreadPoolStep, ErrorsAreRethrownAndThePoolGoesOn) {
  ThreadPool pool(3);
  EXPECT_THROW(pool.parallel_for(9, [](int64_t b, int64_t) {
    if (b > 0) throw std::runtime_error("worker chunk failed");
  }), std::runtime_error);
  EXPECT_THROW(pool.run_on_all([](int thread, int) {
    if (thread == 0) throw std::runtime_error("caller chunk failed");
  }), std::runtime_error);
  std::atomic<int64_t> total{0};
  pool.parallel_for(100, [&](int64_t b, int64_t e) { total += e - b; });
  EXPECT_EQ(total.load(), 100);
}

// Back-to-back tiny jobs, as a decode step issues them, alternating with pauses long enough
// that the workers go to sleep: a lost wake-up would hang here (ctest's timeout) or miscount.
TEST(ThreadPoolStep, ManyJobsWithSpinAndSleep) {
  for (int spin_us : {0, 50}) {
    ThreadPool pool(3, spin_us);
    EXPECT_EQ(pool.spin_microseconds(), spin_us);
    std::atomic<int64_t> total{0};
    const int jobs = 2000;
    const auto start = std::chrono::steady_clock::now();
    for (int j = 0; j < jobs; ++j) {
      pool.parallel_for(6, [&](int64_t b, int64_t e) { total += e - b; });
      if (j % 200 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    std::printf("  spin %d us: %d jobs of 3 threads, %.2f us per job (shared machine: indicative only)\n", spin_us,
                jobs, us / jobs);
    EXPECT_EQ(total.load(), int64_t{6} * jobs);
  }
}

TEST(ThreadPoolStep, ADestroyedPoolJoinsIdleWorkers) {
  // Workers asleep, spinning, or never used: destruction returns.
  for (int spin_us : {0, 1000}) {
    ThreadPool never_used(4, spin_us);
    ThreadPool used(4, spin_us);
    used.parallel_for(8, [](int64_t, int64_t) {});
  }
  SUCCEED();
}

}  // namespace
}  // namespace dragon

namespace dragon {
namespace {

TEST(ThreadPoolStep, NoSpinningWhenThreadsOutnumberCores) {
  if (std::getenv("DRAGON_SPIN_US")) GTEST_SKIP() << "DRAGON_SPIN_US overrides the default";
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadPool fits(cores), oversubscribed(cores + 1);
  std::printf("  %d cores: spin %d us with %d threads, %d us with %d\n", cores, fits.spin_microseconds(), cores,
              oversubscribed.spin_microseconds(), cores + 1);
  EXPECT_EQ(fits.spin_microseconds(), ThreadPool::kDefaultSpinMicroseconds);
  EXPECT_EQ(oversubscribed.spin_microseconds(), 0);
}

}  // namespace
}  // namespace dragon
