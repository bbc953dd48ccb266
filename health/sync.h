// Mutex, MutexLock, CondVar and Notification used throughout vigil.
//
// Why not absl::Mutex: Debian's Abseil is a shared library built without
// ThreadSanitizer, so TSan cannot see the ordering absl::Mutex provides and
// reports false races on everything it guards. vigil's Mutex is a thin
// wrapper over std::mutex and std::condition_variable (which TSan
// understands) with absl::Mutex's shape: Clang thread-safety annotations, and
// `Await`-style waiting on a predicate that is re-evaluated whenever the
// mutex is released, so no caller has to remember to signal.
//
//   vigil::Mutex mu;
//   bool ready ABSL_GUARDED_BY(mu) = false;
//   {
//     vigil::MutexLock lock(&mu);
//     mu.AwaitWithTimeout([&] { return ready; }, absl::Seconds(1));
//   }
//
// Timeouts and deadlines here are on std::chrono::steady_clock
// (CLOCK_MONOTONIC): a step of the wall clock does not change them. Code
// with an injected vigil::Clock waits through Clock::AwaitWithDeadline
// instead.

#ifndef VIGIL_HEALTH_SYNC_H_
#define VIGIL_HEALTH_SYNC_H_

#include <algorithm>
#include <chrono>  // NOLINT(build/c++11): steady_clock deadlines.
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace vigil {

class CondVar;

// A non-recursive mutex. Thread-safe, obviously; not copyable.
class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }

  // Wakes every thread waiting in Await*, so each re-evaluates its
  // predicate, and releases the mutex. Waking happens before the release: a
  // waiter that then returns and destroys the object holding this mutex
  // (e.g. a Notification on its stack) cannot race with this call.
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    if (waiters_ > 0) cv_.notify_all();
    mu_.unlock();
  }

  // Blocks until `pred()` is true. The mutex must be held; it is released
  // while waiting and held again on return. `pred` runs with it held.
  template <typename Pred>
  void Await(Pred pred) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    AwaitWithDeadline(pred, std::chrono::steady_clock::time_point::max());
  }

  // Like Await, but gives up at `deadline` of std::chrono::steady_clock
  // (monotonic; time_point::max() waits forever). Returns `pred()` as of
  // return.
  template <typename Pred>
  bool AwaitWithDeadline(Pred pred,
                         std::chrono::steady_clock::time_point deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    ++waiters_;
    while (!pred()) {
      if (deadline == std::chrono::steady_clock::time_point::max()) {
        cv_.wait(lock);
      } else {
        if (std::chrono::steady_clock::now() >= deadline) break;
        cv_.wait_until(lock, deadline);
      }
    }
    --waiters_;
    lock.release();
    return pred();
  }

  // Like Await, but gives up after `timeout` of monotonic time
  // (absl::InfiniteDuration() waits forever; negative is zero). Returns
  // `pred()` as of return.
  template <typename Pred>
  bool AwaitWithTimeout(Pred pred, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    return AwaitWithDeadline(pred, DeadlineAfter(timeout));
  }

  // The std::chrono::steady_clock deadline `timeout` from now, for the
  // *WithDeadline waits: time_point::max() (never) for
  // absl::InfiniteDuration(), now for a negative timeout.
  static std::chrono::steady_clock::time_point DeadlineAfter(
      absl::Duration timeout) {
    if (timeout == absl::InfiniteDuration()) {
      return std::chrono::steady_clock::time_point::max();
    }
    // Capped so that now + timeout cannot overflow: a century is "never".
    timeout = std::max(std::min(timeout, absl::Hours(24 * 365 * 100)),
                       absl::ZeroDuration());
    return std::chrono::steady_clock::now() +
           std::chrono::duration_cast<std::chrono::steady_clock::duration>(
               absl::ToChronoNanoseconds(timeout));
  }

 private:
  friend class CondVar;
  std::mutex mu_;
  std::condition_variable cv_;
  int waiters_ = 0;  // Guarded by mu_.
};

// A condition variable over a vigil::Mutex, for the case Await's "wake every
// waiter on every unlock" is wrong: many threads waiting for the same kind
// of event of which each needs only one (a work queue). Signal() wakes one
// waiter, SignalAll() every one; threads waiting here are not woken by
// Mutex::Unlock. As with any condition variable, wait in a loop on the
// condition: wake-ups may be spurious.
//
//   vigil::MutexLock lock(&mu);
//   while (queue.empty()) nonempty.Wait(&mu);
//   ...
//   // Producer, under the same mutex:
//   queue.push_back(item);
//   nonempty.Signal();
//
// Thread-safe. Must outlive its waiters.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Releases `mu` (which must be held), blocks until woken, and holds `mu`
  // again on return.
  void Wait(Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Like Wait, but returns at `deadline` of std::chrono::steady_clock
  // (monotonic; time_point::max() waits forever, see
  // Mutex::DeadlineAfter) at the latest. Returns false if the deadline
  // passed. Re-check the condition either way.
  bool WaitWithDeadline(Mutex* mu,
                        std::chrono::steady_clock::time_point deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    bool woken = true;
    if (deadline == std::chrono::steady_clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      woken = cv_.wait_until(lock, deadline) == std::cv_status::no_timeout;
    }
    lock.release();
    return woken;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

// RAII: locks in the constructor, unlocks in the destructor.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A one-shot event: Notify() once, any number of threads wait for it.
// Thread-safe.
class Notification {
 public:
  // Calling Notify() more than once is allowed and has no further effect.
  void Notify() {
    MutexLock lock(&mu_);
    notified_ = true;
  }
  bool HasBeenNotified() const {
    MutexLock lock(&mu_);
    return notified_;
  }
  void WaitForNotification() const {
    MutexLock lock(&mu_);
    mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return notified_; });
  }
  // Returns whether it was notified within `timeout` of monotonic time.
  bool WaitForNotificationWithTimeout(absl::Duration timeout) const {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(
        [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return notified_; }, timeout);
  }

 private:
  mutable Mutex mu_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vigil

#endif  // VIGIL_HEALTH_SYNC_H_
