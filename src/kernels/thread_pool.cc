#include "kernels/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <utility>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DRAGON_CPU_RELAX() _mm_pause()
#else
#define DRAGON_CPU_RELAX() ((void)0)
#endif

namespace dragon {

namespace {

// The default spin budget: DRAGON_SPIN_US if set; otherwise kDefaultSpinMicroseconds, or none
// at all when the pool has more threads than the machine has cores — then a spinning thread
// always holds a core that a thread with work is waiting for (measured: 3 threads on 2 cores
// took ~200 us per empty job with spinning, ~16 us without).
int default_spin(int n_threads) {
  if (const char* text = std::getenv("DRAGON_SPIN_US")) {
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (end != text && *end == '\0' && value >= 0 && value <= 1000000) return static_cast<int>(value);
  }
  const unsigned cores = std::thread::hardware_concurrency();
  if (cores > 0 && static_cast<unsigned>(n_threads) > cores) return 0;
  return ThreadPool::kDefaultSpinMicroseconds;
}

// Sleeps while *word == expected (returns at once if it already differs, or spuriously).
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
#ifdef __linux__
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
#else
  word.wait(expected, std::memory_order_seq_cst);
#endif
}

void futex_wake(std::atomic<uint32_t>& word, bool all) {
#ifdef __linux__
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, all ? INT32_MAX : 1, nullptr, nullptr, 0);
#else
  all ? word.notify_all() : word.notify_one();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int n_threads, int spin_us)
    : spin_us_(spin_us >= 0 ? spin_us : default_spin(n_threads)), caller_budget_us_(spin_us_) {
  for (int i = 1; i < std::max(n_threads, 1); ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stopping_.store(true, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake(generation_, true);
  for (auto& w : workers_) w.join();
}

uint32_t ThreadPool::wait_while_equal(std::atomic<uint32_t>& value, uint32_t old, int& budget_us) {
  using Clock = std::chrono::steady_clock;
  uint32_t now = value.load(std::memory_order_acquire);
  if (now != old) return now;
  const auto start = Clock::now();
  if (budget_us > 0) {
    // Read the clock only every 64 polls: a poll is a few ns, a clock read ~20 ns.
    const auto deadline = start + std::chrono::microseconds(budget_us);
    for (uint32_t polls = 1;; ++polls) {
      DRAGON_CPU_RELAX();
      now = value.load(std::memory_order_acquire);
      if (now != old) return now;
      if (polls % 64 == 0 && Clock::now() >= deadline) break;
    }
  }
  // Announce the sleeper before the last check (both seq_cst): either the waker's store is seen
  // here, or the waker sees sleepers_ > 0 and makes the wake syscall. futex_wait itself
  // re-checks the word in the kernel, so a store between the check and the sleep is not lost.
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  while ((now = value.load(std::memory_order_seq_cst)) == old) futex_wait(value, old);
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  // Adapt the spin budget: waits that keep outlasting it mean the cores are busy elsewhere (or
  // the step loop is idle), and spinning only burns time slices the working threads need, so it
  // halves towards zero; a wait short enough that spinning would have caught it doubles it back.
  const auto waited = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
  budget_us = waited < spin_us_ ? std::min(spin_us_, budget_us * 2 + 1) : budget_us / 2;
  return now;
}

void ThreadPool::wake(std::atomic<uint32_t>& value, bool all) {
  if (sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake(value, all);
}

void ThreadPool::run_job(int index) {
  try {
    if (thread_body_) {
      (*thread_body_)(index, size());
      return;
    }
    // Split whole grains evenly; the last chunk absorbs the partial grain at the end.
    const int64_t threads = size();
    const int64_t units = (n_ + grain_ - 1) / grain_;
    const int64_t begin = std::min(n_, units * index / threads * grain_);
    const int64_t end = std::min(n_, units * (index + 1) / threads * grain_);
    if (begin < end) (*range_body_)(begin, end);
  } catch (...) {
    std::lock_guard lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::worker_loop(int index) {
  uint32_t seen = 0;  // the value at construction: a job dispatched before this thread runs is not missed
  int budget_us = spin_us_;
  for (;;) {
    seen = wait_while_equal(generation_, seen, budget_us);
    if (stopping_.load(std::memory_order_relaxed)) return;
    run_job(index);
    // The last worker to finish wakes the caller if it went to sleep.
    if (pending_.fetch_sub(1, std::memory_order_seq_cst) == 1) wake(pending_, false);
  }
}

void ThreadPool::dispatch_and_wait() {
  error_ = nullptr;
  pending_.store(static_cast<uint32_t>(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  wake(generation_, true);
  run_job(0);
  for (uint32_t left = pending_.load(std::memory_order_acquire); left != 0; left = pending_.load(std::memory_order_acquire))
    wait_while_equal(pending_, left, caller_budget_us_);
  range_body_ = nullptr;
  thread_body_ = nullptr;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& body) {
  parallel_for(n, 1, body);
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (workers_.empty() || n <= grain) {
    body(0, n);
    return;
  }
  range_body_ = &body;
  thread_body_ = nullptr;
  n_ = n;
  grain_ = grain;
  dispatch_and_wait();
}

void ThreadPool::run_on_all(const std::function<void(int, int)>& body) {
  if (workers_.empty()) {
    body(0, 1);
    return;
  }
  thread_body_ = &body;
  range_body_ = nullptr;
  dispatch_and_wait();
}

}  // namespace dragon
