//===- ThreadPool.h - the CPU runtime's worker threads ----------*- C++ -*-===//
//
// The runtime owns the CPU's parallelism: generated kernels expose blocks
// (docs/plan.md) and GEMMs are split by rows, both run through one pool of
// persistent threads, and OpenBLAS itself stays single-threaded. One
// scheduler means no two thread pools compete for the cores (the failure
// of letting OpenBLAS and OpenMP each spin their own).
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_THREADPOOL_H
#define GROWC_RUNTIME_THREADPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace growc::rt {

class ThreadPool {
public:
  /// A pool running work on `threads` threads: the caller and threads - 1
  /// workers (none for 1).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  /// Splits [0, n) into at most threads() contiguous, nearly equal ranges
  /// and runs `fn(begin, end)` for each, one per thread, returning when all
  /// are done. The caller runs the first range. Not reentrant.
  void parallelFor(int64_t n, const std::function<void(int64_t, int64_t)> &fn);

  /// The default thread count: GROWC_NUM_THREADS if set to a positive
  /// number, else the number of cores.
  static int defaultThreads();

private:
  void workerLoop(int index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t, int64_t)> *task_ = nullptr;
  int64_t n_ = 0;
  int chunks_ = 0;
  /// Written under the mutex; atomic so that workers and the caller can
  /// spin on them briefly before blocking (see ThreadPool.cpp).
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;
};

} // namespace growc::rt

#endif // GROWC_RUNTIME_THREADPOOL_H
