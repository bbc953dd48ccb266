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

// A source of wall time and a way to wait until a time on that source.
// Implementations are thread-safe: any method may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;

  // The current time. Successive calls never go backwards for the real clock
  // (it is absl::Now(), which is wall time; vigil measures durations between
  // two readings and clamps negative spans to zero).
  virtual absl::Time Now() const = 0;

  // Blocks until `cond()` holds or until this clock reaches `deadline`,
  // whichever comes first. `mu` must be held on entry and is held on return;
  // it is released while waiting, and `cond` is evaluated with it held
  // whenever it is released by another thread. Returns `cond()` on return.
  virtual bool AwaitWithDeadline(Mutex* mu, const std::function<bool()>& cond,
                                 absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;

  // The process-wide real clock. Never destroyed; safe to use at any time.
  static Clock* Real();
};

}  // namespace vigil

#endif  // VIGIL_HEALTH_CLOCK_H_
