#include "health/clock.h"

#include <algorithm>
#include <chrono>  // NOLINT(build/c++11): CLOCK_MONOTONIC as steady_clock.

#include "absl/time/clock.h"

namespace vigil {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Monotonic time shown as wall time: the wall time at construction plus
// the steady_clock (CLOCK_MONOTONIC) time elapsed since.
class RealClock final : public Clock {
 public:
  RealClock() : wall_origin_(absl::Now()), steady_origin_(SteadyClock::now()) {}

  absl::Time Now() const override {
    return wall_origin_ + absl::FromChrono(SteadyClock::now() - steady_origin_);
  }

  absl::Time WallNow() const override { return absl::Now(); }

  bool AwaitWithDeadline(Mutex* mu, const std::function<bool()>& cond,
                         absl::Time deadline) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return mu->AwaitWithDeadline(cond, ToSteady(deadline));
  }

 private:
  // `t` (a time of Now()) as a steady_clock time point.
  SteadyClock::time_point ToSteady(absl::Time t) const {
    if (t == absl::InfiniteFuture()) return SteadyClock::time_point::max();
    if (t <= wall_origin_) return steady_origin_;  // Already past.
    // Capped so that the sum cannot overflow: a century is "never" here.
    const absl::Duration since_origin =
        std::min(t - wall_origin_, absl::Hours(24 * 365 * 100));
    return steady_origin_ + std::chrono::duration_cast<SteadyClock::duration>(
                                absl::ToChronoNanoseconds(since_origin));
  }

  const absl::Time wall_origin_;
  const SteadyClock::time_point steady_origin_;
};

}  // namespace

Clock* Clock::Real() {
  static RealClock* const clock = new RealClock();
  return clock;
}

}  // namespace vigil
