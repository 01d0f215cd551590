// A persistent pool for the step loop: workers live as long as the pool and split each job's
// range of rows evenly (one contiguous chunk per thread, the caller takes chunk 0).
//
// Waiting is "spin briefly, then sleep": between two matmuls of one decode step the gap is a few
// microseconds, and waking a sleeping thread through the kernel costs ~5-50 us, so workers spin
// on an atomic for a short while first. But they do not spin for long: on two shared cores a
// spinning pool starves whatever else runs (a compiler, another request's thread) and a
// preempted spinner stalls every job — llama.cpp's generation fell from 46 to ~3 tokens/s that
// way. After the spin budget the thread blocks on a futex, and the budget adapts: a thread whose
// waits keep outlasting it stops spinning until short waits show spinning would pay again.
// (Not std::atomic::wait: libstdc++'s wait calls sched_yield before it sleeps, and on a loaded
// machine each yield hands the core to another process for a whole time slice — jobs took
// milliseconds instead of microseconds.)
//
// One job at a time: parallel_for is called from one thread (the step loop), never from inside
// a body.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dragon {

class ThreadPool {
 public:
  // How long a waiting thread spins before it sleeps, unless DRAGON_SPIN_US says otherwise.
  static constexpr int kDefaultSpinMicroseconds = 50;

  // `n_threads` counts the calling thread: 1 = no worker threads, everything runs inline.
  // `spin_us` < 0 = DRAGON_SPIN_US from the environment if set, else kDefaultSpinMicroseconds.
  explicit ThreadPool(int n_threads = 1, int spin_us = -1);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  int spin_microseconds() const { return spin_us_; }

  // Calls body(begin, end) on disjoint chunks covering [0, n), one chunk per thread, and returns
  // when all are done. The first exception thrown by a chunk is rethrown here.
  void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& body);

  // As above, but every chunk boundary is a multiple of `grain` (the last chunk ends at n):
  // for kernels whose rows come in interleaved blocks. Chunks stay as even as the grain allows.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& body);

  // Calls body(thread, n_threads) once on every thread (thread 0 = the caller), for kernels that
  // split their own work.
  void run_on_all(const std::function<void(int thread, int n_threads)>& body);

 private:
  void worker_loop(int index);
  void run_job(int index);
  void dispatch_and_wait();
  // Spins up to `budget_us` while `value` still equals `old`, then sleeps on it; returns the new
  // value and adapts the budget to how long the wait turned out to be.
  uint32_t wait_while_equal(std::atomic<uint32_t>& value, uint32_t old, int& budget_us);
  // Wakes the threads sleeping on `value` (a syscall only if some thread sleeps).
  void wake(std::atomic<uint32_t>& value, bool all);

  std::vector<std::thread> workers_;
  int spin_us_;
  int caller_budget_us_;

  // The current job: written by the caller before `generation_` is bumped (release), read by
  // workers after they see the bump (acquire).
  const std::function<void(int64_t, int64_t)>* range_body_ = nullptr;
  const std::function<void(int, int)>* thread_body_ = nullptr;
  int64_t n_ = 0, grain_ = 1;

  // Futex words (32 bits): the job counter workers wait on, the workers still running the
  // current job (the caller waits for 0), and how many threads are asleep on either.
  std::atomic<uint32_t> generation_{0};
  std::atomic<uint32_t> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stopping_{false};
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace dragon
