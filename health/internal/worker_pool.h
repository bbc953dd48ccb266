// A fixed-size thread pool running queued closures in FIFO order.

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

// Thread-safe. The destructor runs every queued closure, then joins.
class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::function<void()> work) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace internal
}  // namespace vigil

#endif  // VIGIL_HEALTH_INTERNAL_WORKER_POOL_H_
