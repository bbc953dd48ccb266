// FakeClock: a manually advanced Clock for tests.
//
//   vigil::testing::FakeClock clock;             // starts at a fixed time
//   HealthRegistry registry(RegistryOptions{.clock = &clock});
//   clock.Advance(absl::Seconds(10));
//   registry.RunOnceForTest();
//
// Thread-safe. Time moves only when Advance() or SetNow() is called.

#ifndef VIGIL_HEALTH_TESTING_FAKE_CLOCK_H_
#define VIGIL_HEALTH_TESTING_FAKE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "health/clock.h"
#include "health/sync.h"

namespace vigil {
namespace testing {

class FakeClock final : public Clock {
 public:
  // Starts at 2026-01-01T00:00:00Z unless told otherwise.
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1767225600));

  absl::Time Now() const override ABSL_LOCKS_EXCLUDED(mu_);

  // Moves time forward by `d` (negative durations are ignored).
  void Advance(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);
  // Sets the time; it may not go backwards (earlier times are ignored).
  void SetNow(absl::Time t) ABSL_LOCKS_EXCLUDED(mu_);

  // Returns when `cond` holds or when the fake time reaches `deadline`.
  // Waiters notice Advance() within about a millisecond of real time: they
  // re-check the fake time on a short real-time poll, since advancing the
  // clock cannot signal the caller's mutex.
  bool AwaitWithDeadline(Mutex* mu, const std::function<bool()>& cond,
                         absl::Time deadline) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

 private:
  mutable Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace testing
}  // namespace vigil

#endif  // VIGIL_HEALTH_TESTING_FAKE_CLOCK_H_
