//===- ThreadPool.cpp - the CPU runtime's worker threads ------------------===//
//
// Persistent workers woken per parallelFor by a generation counter. Between
// calls a worker first spins for up to kSpinTime watching the counter, then
// blocks on a condition variable; the caller waits for the workers the same
// way. A train step is hundreds of short kernels and GEMMs back to back
// (326 steps of 5-50 us on the tiny model): waking a blocked thread through
// the kernel costs tens of microseconds each time, which made two threads
// slower than one there (9.0 ms vs 5.9 ms a step). The spin is bounded so
// that an idle pool, or one sharing its cores with other processes (data-
// parallel ranks), still sleeps.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/ThreadPool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

using namespace growc::rt;

namespace {

/// Range `chunk` of `chunks` nearly equal ranges of [0, n).
std::pair<int64_t, int64_t> rangeOf(int64_t n, int chunks, int chunk) {
  int64_t base = n / chunks, extra = n % chunks;
  int64_t begin = chunk * base + std::min<int64_t>(chunk, extra);
  return {begin, begin + base + (chunk < extra ? 1 : 0)};
}

/// How long a thread polls before it blocks.
constexpr std::chrono::microseconds kSpinTime(50);

void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// Polls `ready` for up to kSpinTime; true once it holds.
template <typename Ready> bool spinUntil(Ready ready) {
  auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  while (true) {
    for (int i = 0; i < 64; ++i) {
      if (ready())
        return true;
      cpuRelax();
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return ready();
  }
}

} // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < std::max(threads, 1); ++i)
    workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread &worker : workers_)
    worker.join();
}

int ThreadPool::defaultThreads() {
  if (const char *value = std::getenv("GROWC_NUM_THREADS")) {
    char *end = nullptr;
    long n = std::strtol(value, &end, 10);
    if (end != value && *end == '\0' && n > 0 && n <= 1024)
      return static_cast<int>(n);
  }
  unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(std::min(cores, 1024u));
}

void ThreadPool::parallelFor(int64_t n,
                             const std::function<void(int64_t, int64_t)> &fn) {
  if (n <= 0)
    return;
  int chunks = static_cast<int>(std::min<int64_t>(n, threads()));
  if (chunks == 1) {
    fn(0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = &fn;
    n_ = n;
    chunks_ = chunks;
    pending_ = chunks - 1;
    ++generation_;
  }
  wake_.notify_all();
  auto [begin, end] = rangeOf(n, chunks, 0);
  fn(begin, end);
  spinUntil([this] { return pending_.load(std::memory_order_acquire) == 0; });
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return pending_ == 0; });
  task_ = nullptr;
}

void ThreadPool::workerLoop(int index) {
  uint64_t seen = 0;
  while (true) {
    spinUntil(
        [&] { return generation_.load(std::memory_order_acquire) != seen; });
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_)
      return;
    seen = generation_;
    if (index >= chunks_)
      continue; // Fewer ranges than threads this time.
    const std::function<void(int64_t, int64_t)> *task = task_;
    auto [begin, end] = rangeOf(n_, chunks_, index);
    lock.unlock();
    (*task)(begin, end);
    lock.lock();
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1)
      done_.notify_one();
  }
}
