#include "health/internal/worker_pool.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace vigil {
namespace internal {

namespace {
std::atomic<int> g_detached{0};
}  // namespace

// Everything a worker touches: owned jointly by the pool and its workers.
struct WorkerPool::Shared {
  Mutex mu;
  // Signalled once per queued run: wakes one idle worker, not all of them
  // (with a grown pool of 128 idle workers, waking all per run cost about
  // 100 µs of context switches per check completion).
  CondVar work;
  std::deque<std::function<void()>> queue ABSL_GUARDED_BY(mu);
  bool stop ABSL_GUARDED_BY(mu) = false;
  int idle ABSL_GUARDED_BY(mu) = 0;
  std::vector<std::thread> threads ABSL_GUARDED_BY(mu);
  // Workers that returned from Loop(), by id.
  std::set<std::thread::id> exited ABSL_GUARDED_BY(mu);
};

WorkerPool::WorkerPool(int min_threads, int max_threads,
                       absl::Duration join_timeout)
    : max_threads_(std::max({1, min_threads, max_threads})),
      join_timeout_(join_timeout),
      shared_(std::make_shared<Shared>()) {
  MutexLock lock(&shared_->mu);
  for (int i = 0; i < std::max(1, min_threads); ++i) {
    shared_->threads.emplace_back(&WorkerPool::Loop, shared_);
  }
}

WorkerPool::~WorkerPool() {
  Shared& s = *shared_;
  std::vector<std::thread> threads;
  std::set<std::thread::id> exited;
  {
    MutexLock lock(&s.mu);
    s.stop = true;
    s.work.SignalAll();
    const size_t n = s.threads.size();
    s.mu.AwaitWithTimeout(
        [&s, n]()
            ABSL_NO_THREAD_SAFETY_ANALYSIS { return s.exited.size() == n; },
        join_timeout_);
    threads.swap(s.threads);
    exited = s.exited;
  }
  int detached = 0;
  for (std::thread& t : threads) {
    if (exited.count(t.get_id()) != 0) {
      t.join();  // Past its last statement already.
    } else {
      t.detach();  // Still in a closure; `shared_` stays alive for it.
      ++detached;
    }
  }
  if (detached > 0) {
    g_detached.fetch_add(detached);
    const std::string line = absl::StrCat(
        "[vigil] worker pool: ", detached, " worker(s) still inside a check ",
        absl::FormatDuration(join_timeout_),
        " after shutdown; left running, they exit when it returns\n");
    ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
  }
}

int WorkerPool::detached_for_test() { return g_detached.load(); }

int WorkerPool::thread_count() const {
  MutexLock lock(&shared_->mu);
  return static_cast<int>(shared_->threads.size());
}

void WorkerPool::Submit(std::function<void()> work) {
  Shared& s = *shared_;
  MutexLock lock(&s.mu);
  s.queue.push_back(std::move(work));
  s.work.Signal();
  // Idle workers will take the queue; grow only when they cannot.
  if (static_cast<int>(s.queue.size()) > s.idle &&
      static_cast<int>(s.threads.size()) < max_threads_) {
    s.threads.emplace_back(&WorkerPool::Loop, shared_);
  }
}

void WorkerPool::Loop(std::shared_ptr<Shared> shared) {
  Shared& s = *shared;
  while (true) {
    std::function<void()> work;
    {
      MutexLock lock(&s.mu);
      ++s.idle;
      while (!s.stop && s.queue.empty()) s.work.Wait(&s.mu);
      --s.idle;
      if (s.queue.empty()) {
        // stop and nothing left to run. The unlock wakes the destructor.
        s.exited.insert(std::this_thread::get_id());
        return;
      }
      work = std::move(s.queue.front());
      s.queue.pop_front();
    }
    work();
  }
}

}  // namespace internal
}  // namespace vigil
