// Clock: the one source of time for every timer and deadline in vigil.
//
// Library code never calls absl::Now(), std::chrono clocks or sleep
// directly; it asks a `Clock`. Production uses `Clock::Real()`; tests inject
// `vigil::testing::FakeClock` (health/testing/fake_clock.h) and advance it,
// so no unit test waits for a timer.
//
//   vigil::Mutex mu;
//   bool stop = false;  // guarded by mu
//   vigil::MutexLock lock(&mu);
//   clock->AwaitWithDeadline(&mu, [&] { return stop; },
//                            clock->Now() + absl::Seconds(1));

#ifndef VIGIL_HEALTH_CLOCK_H_
#define VIGIL_HEALTH_CLOCK_H_

#include <functional>

#include "absl/time/time.h"
#include "health/sync.h"

namespace vigil {

// A monotonic source of time, and a way to wait until a time on it.
// Intervals, deadlines, timeouts and the times in reports all come from
// Now(); WallNow() is only for comparing with wall times from outside the
// process.
// Implementations are thread-safe: any method may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;

  // The current time. Monotonic: successive calls never go backwards, and
  // the difference of two readings is the time elapsed between them. For
  // the real clock it is the wall time (absl::Now()) when the clock was
  // first used plus the time elapsed since on CLOCK_MONOTONIC, so it reads
  // as wall time (reports show it as a timestamp) but does not follow steps
  // of the system clock made after that (settimeofday, an NTP step): after
  // one, it differs from absl::Now() by the step.
  virtual absl::Time Now() const = 0;

  // The system's wall time (CLOCK_REALTIME), which may jump either way.
  // Only for comparing with wall times from outside the process: file
  // modification times, certificate validity. Never for intervals or
  // deadlines. The default returns Now() (a fake clock has one time line).
  virtual absl::Time WallNow() const { return Now(); }

  // Blocks until `cond()` holds or until this clock reaches `deadline`,
  // whichever comes first. `mu` must be held on entry and is held on return;
  // it is released while waiting, and `cond` is evaluated with it held
  // whenever it is released by another thread. Returns `cond()` on return.
  // `deadline` is a time of Now(), so waits are monotonic: the real clock
  // waits on CLOCK_MONOTONIC, and a step of the wall clock neither shortens
  // nor lengthens them.
  virtual bool AwaitWithDeadline(Mutex* mu, const std::function<bool()>& cond,
                                 absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;

  // The process-wide real clock (monotonic Now(), see above). Never
  // destroyed; safe to use at any time.
  static Clock* Real();
};

}  // namespace vigil

#endif  // VIGIL_HEALTH_CLOCK_H_
