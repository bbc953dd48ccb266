// WorkerPool and the CondVar it waits on: every closure runs exactly once,
// on a pool that grows only while no worker is idle, and the destructor runs
// what is queued before joining.

#include "health/internal/worker_pool.h"

#include <atomic>
#include <chrono>  // NOLINT(build/c++11): steady_clock deadlines.
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "health/sync.h"

namespace vigil {
namespace internal {
namespace {

TEST(CondVarTest, EveryItemHandedToExactlyOneConsumer) {
  constexpr int kItems = 2000;
  constexpr int kConsumers = 4;
  Mutex mu;
  CondVar nonempty;
  std::vector<int> queue;
  bool stop = false;
  std::vector<std::atomic<int>> taken(kItems);
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&] {
      while (true) {
        int item;
        {
          MutexLock lock(&mu);
          while (!stop && queue.empty()) nonempty.Wait(&mu);
          if (queue.empty()) return;
          item = queue.back();
          queue.pop_back();
        }
        taken[item].fetch_add(1);
      }
    });
  }
  for (int i = 0; i < kItems; ++i) {
    MutexLock lock(&mu);
    queue.push_back(i);
    nonempty.Signal();
  }
  {
    MutexLock lock(&mu);
    stop = true;
    nonempty.SignalAll();
  }
  for (std::thread& t : consumers) t.join();
  for (int i = 0; i < kItems; ++i) EXPECT_EQ(taken[i].load(), 1) << i;
}

TEST(CondVarTest, WaitWithDeadlineReturnsFalseAtDeadlineTrueWhenSignalled) {
  Mutex mu;
  CondVar cv;
  bool ready = false;
  {
    MutexLock lock(&mu);
    const auto deadline = Mutex::DeadlineAfter(absl::Milliseconds(1));
    bool woken = true;
    while (!ready && woken) woken = cv.WaitWithDeadline(&mu, deadline);
    EXPECT_FALSE(woken);
    EXPECT_GE(std::chrono::steady_clock::now(), deadline);
  }
  std::thread signaller([&] {
    MutexLock lock(&mu);
    ready = true;
    cv.SignalAll();
  });
  {
    MutexLock lock(&mu);
    // Never (time_point::max()): only the signal returns it.
    const auto never = Mutex::DeadlineAfter(absl::InfiniteDuration());
    EXPECT_EQ(never, std::chrono::steady_clock::time_point::max());
    while (!ready) EXPECT_TRUE(cv.WaitWithDeadline(&mu, never));
  }
  signaller.join();
}

TEST(WorkerPoolTest, RunsEveryClosureOnceAndDrainsOnDestruction) {
  std::atomic<int> runs{0};
  {
    WorkerPool pool(2, 8);
    for (int i = 0; i < 500; ++i) pool.Submit([&] { runs.fetch_add(1); });
    EXPECT_LE(pool.thread_count(), 8);
  }
  EXPECT_EQ(runs.load(), 500);
}

TEST(WorkerPoolTest, GrowsForBlockedClosuresButNotBeyond) {
  // Declared before the pool: they outlive the workers that use them.
  Notification release;
  Mutex mu;
  int started = 0;
  WorkerPool pool(1, 16);
  // Four closures that block until released: each needs its own worker, so
  // the pool must grow to run them all at once; it adds a worker only when
  // none is idle, so it ends with at most one more than needed (the initial
  // worker may not have been idle yet when the first closure came).
  for (int i = 0; i < 4; ++i) {
    pool.Submit([&] {
      {
        MutexLock lock(&mu);
        ++started;
      }
      release.WaitForNotification();
    });
  }
  {
    MutexLock lock(&mu);
    EXPECT_TRUE(mu.AwaitWithTimeout(
        [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return started == 4; },
        absl::Seconds(30)));
  }
  EXPECT_GE(pool.thread_count(), 4);
  EXPECT_LE(pool.thread_count(), 5);
  release.Notify();
}

}  // namespace
}  // namespace internal
}  // namespace vigil
