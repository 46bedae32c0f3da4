//===- ThreadPoolTest.cpp - Tests for the runtime's thread pool -----------===//
//
// parallelFor covers [0, n) exactly once in contiguous ranges, one per
// thread at most, for counts below, at and above the thread count, and the
// pool survives many consecutive calls.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

using namespace growc::rt;

namespace {

/// The ranges parallelFor(n) hands out, sorted.
std::vector<std::pair<int64_t, int64_t>> rangesOf(ThreadPool &pool, int64_t n) {
  std::mutex mutex;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  pool.parallelFor(n, [&](int64_t begin, int64_t end) {
    std::lock_guard<std::mutex> lock(mutex);
    ranges.emplace_back(begin, end);
  });
  std::sort(ranges.begin(), ranges.end());
  return ranges;
}

TEST(ThreadPoolTest, RangesCoverEachIndexOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (int64_t n : {1, 2, 3, 7, 8, 100, 1025}) {
      auto ranges = rangesOf(pool, n);
      ASSERT_EQ(ranges.size(),
                static_cast<size_t>(std::min<int64_t>(n, threads)))
          << "n = " << n << ", threads = " << threads;
      int64_t next = 0, smallest = n, largest = 0;
      for (auto [begin, end] : ranges) {
        EXPECT_EQ(begin, next);
        EXPECT_LT(begin, end);
        smallest = std::min(smallest, end - begin);
        largest = std::max(largest, end - begin);
        next = end;
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(largest - smallest, 1) << "ranges are not balanced";
    }
  }
}

TEST(ThreadPoolTest, NothingToDo) {
  ThreadPool pool(2);
  bool called = false;
  pool.parallelFor(0, [&](int64_t, int64_t) { called = true; });
  EXPECT_FALSE(called);
}

TEST(ThreadPoolTest, ManyConsecutiveCalls) {
  ThreadPool pool(3);
  std::atomic<int64_t> sum{0};
  for (int call = 0; call < 2000; ++call)
    pool.parallelFor(10, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        sum += i;
    });
  EXPECT_EQ(sum.load(), 2000 * 45);
}

TEST(ThreadPoolTest, RunsOnSeveralThreads) {
  ThreadPool pool(2);
  std::mutex mutex;
  std::vector<std::thread::id> ids;
  pool.parallelFor(2, [&](int64_t, int64_t) {
    std::lock_guard<std::mutex> lock(mutex);
    ids.push_back(std::this_thread::get_id());
  });
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_NE(ids[0], ids[1]);
}

} // namespace
