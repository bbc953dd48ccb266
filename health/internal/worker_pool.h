// An elastic thread pool running queued closures in FIFO order.

#ifndef VIGIL_HEALTH_INTERNAL_WORKER_POOL_H_
#define VIGIL_HEALTH_INTERNAL_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "health/sync.h"

namespace vigil {
namespace internal {

// Starts with `min_threads` workers and adds one whenever a closure is
// submitted while no worker is idle, up to `max_threads`; workers then stay
// (a health library runs few, mostly blocking, closures: one per check in
// flight at most). Thread-safe. The destructor runs every queued closure,
// then joins every worker.
class WorkerPool {
 public:
  WorkerPool(int min_threads, int max_threads);
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::function<void()> work) ABSL_LOCKS_EXCLUDED(mu_);

  int thread_count() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  mutable Mutex mu_;
  // Signalled once per queued run: wakes one idle worker, not all of them
  // (with a grown pool of 128 idle workers, waking all per run cost about
  // 100 µs of context switches per check completion).
  CondVar work_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int idle_ ABSL_GUARDED_BY(mu_) = 0;
  const int max_threads_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace vigil

#endif  // VIGIL_HEALTH_INTERNAL_WORKER_POOL_H_
