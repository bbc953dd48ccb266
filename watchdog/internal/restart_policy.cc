#include "watchdog/internal/restart_policy.h"

#include <algorithm>
#include <cmath>

namespace vigil {
namespace internal {

RestartPolicy::RestartPolicy(RestartPolicyOptions options)
    : options_(options) {}

int RestartPolicy::RestartsInWindow(absl::Time now) const {
  return static_cast<int>(std::count_if(
      restarts_.begin(), restarts_.end(),
      [&](absl::Time t) { return t > now - options_.restart_window; }));
}

std::optional<absl::Duration> RestartPolicy::OnChildExit(absl::Time started,
                                                         absl::Time died) {
  if (died - started >= options_.stable_uptime) attempt_ = 0;
  while (!restarts_.empty() &&
         restarts_.front() <= died - options_.restart_window) {
    restarts_.pop_front();
  }
  if (static_cast<int>(restarts_.size()) >= options_.max_restarts) {
    return std::nullopt;
  }
  restarts_.push_back(died);
  const double factor =
      std::pow(options_.backoff_multiplier, static_cast<double>(attempt_));
  ++attempt_;
  // Compare in doubles: the power overflows a Duration long before it
  // overflows a double.
  if (absl::ToDoubleSeconds(options_.initial_backoff) * factor >=
      absl::ToDoubleSeconds(options_.max_backoff)) {
    return options_.max_backoff;
  }
  return options_.initial_backoff * factor;
}

void SilenceDetector::Reset(absl::Time now) {
  last_progress_ = 0;
  last_change_ = now;
  was_armed_ = false;
}

absl::Duration SilenceDetector::Observe(uint64_t progress, bool armed,
                                        absl::Time now) {
  if (!armed) {
    was_armed_ = false;
    last_change_ = now;
    last_progress_ = progress;
    return absl::ZeroDuration();
  }
  if (!was_armed_ || progress != last_progress_) {
    was_armed_ = true;
    last_progress_ = progress;
    last_change_ = now;
  }
  return std::max(now - last_change_, absl::ZeroDuration());
}

}  // namespace internal
}  // namespace vigil
