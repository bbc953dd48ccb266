// The supervisor's decisions, free of processes and signals so they can be
// tested with a fake clock: when to restart (capped exponential backoff that
// resets after a stable run), when to give up (a restart budget), and when
// a child's lifeline has been silent too long.

#ifndef VIGIL_WATCHDOG_INTERNAL_RESTART_POLICY_H_
#define VIGIL_WATCHDOG_INTERNAL_RESTART_POLICY_H_

#include <cstdint>
#include <deque>
#include <optional>

#include "absl/time/time.h"

namespace vigil {
namespace internal {

struct RestartPolicyOptions {
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(30);
  double backoff_multiplier = 2.0;
  // A child that ran at least this long resets the backoff to initial.
  absl::Duration stable_uptime = absl::Seconds(60);
  // At most this many restarts within `restart_window`; one more death in
  // the window ends supervision.
  int max_restarts = 5;
  absl::Duration restart_window = absl::Seconds(60);
};

// Erlang's restart intensity (N restarts in T) with Kubernetes'
// CrashLoopBackOff delays. Thread-compatible.
class RestartPolicy {
 public:
  explicit RestartPolicy(RestartPolicyOptions options);

  // A child that started at `started` died at `died`. Returns how long to
  // wait before starting the next one, or nullopt when the budget is spent
  // (max_restarts restarts already happened within restart_window before
  // `died`).
  std::optional<absl::Duration> OnChildExit(absl::Time started,
                                            absl::Time died);

  // Restarts counted in the window ending at `now`.
  int RestartsInWindow(absl::Time now) const;

 private:
  const RestartPolicyOptions options_;
  std::deque<absl::Time> restarts_;
  int attempt_ = 0;
};

// Judges a child by its lifeline's progress counter: the time of the last
// change is noted on the supervisor's clock (the child's clock is not
// trusted: it may be stopped). Silence is only counted while the child's
// watchdog has armed the lifeline.
class SilenceDetector {
 public:
  // A new child started at `now`.
  void Reset(absl::Time now);
  // Returns how long `progress` has not changed as of `now`, or zero while
  // the lifeline is not armed.
  absl::Duration Observe(uint64_t progress, bool armed, absl::Time now);

 private:
  uint64_t last_progress_ = 0;
  absl::Time last_change_ = absl::InfinitePast();
  bool was_armed_ = false;
};

}  // namespace internal
}  // namespace vigil

#endif  // VIGIL_WATCHDOG_INTERNAL_RESTART_POLICY_H_
