#include "health/internal/worker_pool.h"

#include <algorithm>
#include <utility>

namespace vigil {
namespace internal {

WorkerPool::WorkerPool(int min_threads, int max_threads)
    : max_threads_(std::max({1, min_threads, max_threads})) {
  MutexLock lock(&mu_);
  for (int i = 0; i < std::max(1, min_threads); ++i) {
    threads_.emplace_back([this] { Loop(); });
  }
}

WorkerPool::~WorkerPool() {
  std::vector<std::thread> threads;
  {
    MutexLock lock(&mu_);
    stop_ = true;
    threads.swap(threads_);
    work_.SignalAll();
  }
  for (std::thread& t : threads) t.join();
}

int WorkerPool::thread_count() const {
  MutexLock lock(&mu_);
  return static_cast<int>(threads_.size());
}

void WorkerPool::Submit(std::function<void()> work) {
  MutexLock lock(&mu_);
  queue_.push_back(std::move(work));
  work_.Signal();
  // Idle workers will take the queue; grow only when they cannot.
  if (static_cast<int>(queue_.size()) > idle_ &&
      static_cast<int>(threads_.size()) < max_threads_) {
    threads_.emplace_back([this] { Loop(); });
  }
}

void WorkerPool::Loop() {
  while (true) {
    std::function<void()> work;
    {
      MutexLock lock(&mu_);
      ++idle_;
      while (!stop_ && queue_.empty()) work_.Wait(&mu_);
      --idle_;
      if (queue_.empty()) return;  // stop_ and nothing left to run.
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work();
  }
}

}  // namespace internal
}  // namespace vigil
