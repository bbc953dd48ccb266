// An elastic thread pool running queued closures in FIFO order.

#ifndef VIGIL_HEALTH_INTERNAL_WORKER_POOL_H_
#define VIGIL_HEALTH_INTERNAL_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "health/sync.h"

namespace vigil {
namespace internal {

// Starts with `min_threads` workers and adds one whenever a closure is
// submitted while no worker is idle, up to `max_threads`; workers then stay
// (a health library runs few, mostly blocking, closures: one per check in
// flight at most). Thread-safe. The destructor lets the workers run every
// queued closure, then joins every worker that finishes within
// `join_timeout` (real time); a worker still inside a closure then (a check
// that never returns) is detached, with one line on stderr, and exits
// whenever its closure returns: the pool's queue and lock are shared with
// it and outlive the pool. Closures must not rely on the pool's owner
// still existing after that (see HealthRegistry's lifetime guard).
class WorkerPool {
 public:
  WorkerPool(int min_threads, int max_threads,
             absl::Duration join_timeout = absl::InfiniteDuration());
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::function<void()> work);

  int thread_count() const;

  // Workers detached by destructors so far, process-wide.
  static int detached_for_test();

 private:
  struct Shared;
  static void Loop(std::shared_ptr<Shared> shared);

  const int max_threads_;
  const absl::Duration join_timeout_;
  const std::shared_ptr<Shared> shared_;
};

}  // namespace internal
}  // namespace vigil

#endif  // VIGIL_HEALTH_INTERNAL_WORKER_POOL_H_
