// GaugeCheck: a value the application supplies, against a limit.
//
// For anything the application counts itself: connections in use in a pool
// (S5: "the database ran out of connections"), queue depth, open sessions.
// The value comes from a callback or from an atomic the application
// registers; the limit is fixed or comes from a callback (a pool resized at
// run time). With ratio = value / limit:
//   ratio >= critical_ratio -> UNHEALTHY "48 of 50 connections (96% of
//                              limit, critical at 95%)"
//   ratio >= warn_ratio     -> DEGRADED  "42 of 50 connections (84% of
//                              limit, warning at 80%)"
//   otherwise               -> HEALTHY   "12 of 50 connections (24% of limit)"
// The CheckResult carries observed_value = value (unit `unit`),
// warn_threshold = warn_ratio * limit, critical_threshold =
// critical_ratio * limit, and details "ratio" and "limit". A callback that
// fails (returns an error, NaN, or throws) makes the check UNHEALTHY with
// the reason; it never throws out of the check.
//
// It is the same gauge as the resource-pressure detectors' (memory, disk,
// descriptors, tasks: health/pressure/internal/gauge.h), so it can also
// hold a raised level until the ratio falls `hysteresis` below the
// threshold (no flapping around it), and, with `trend.enabled`, predict
// when the value reaches the limit (Theil-Sen over recent runs) and turn
// DEGRADED when that is within `trend.horizon` ("... full in 4m30s"), with
// result.time_to_exhaustion set. Both are off by default: a plain
// comparison of each run's ratio.
//
//   std::atomic<int64_t> in_use{0};  // the pool updates it
//   absl::StatusOr<vigil::Check> c = vigil::checks::GaugeCheck({
//       .name = "db-pool", .atomic = &in_use, .limit = 50,
//       .unit = "connections"});

#ifndef VIGIL_HEALTH_CHECKS_GAUGE_H_
#define VIGIL_HEALTH_CHECKS_GAUGE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "health/check.h"
#include "health/checks/common.h"
#include "health/pressure/trend.h"

namespace vigil {
namespace checks {

struct GaugeCheckOptions {
  // The default of `trend`: disabled.
  static pressure::TrendOptions NoTrend() {
    pressure::TrendOptions t;
    t.enabled = false;
    return t;
  }

  // Required: the check's name.
  std::string name = {};
  // Exactly one value source. `value` is called on a registry worker thread
  // (so it must be thread-safe with respect to the application); `atomic`
  // is read with a relaxed load and must outlive the check.
  std::function<absl::StatusOr<double>()> value = {};
  const std::atomic<int64_t>* atomic = nullptr;
  // The limit: `limit_fn` if set (called on every run), else `limit` (> 0).
  double limit = 0;
  std::function<absl::StatusOr<double>()> limit_fn = {};
  // 0 < warn_ratio <= critical_ratio. Ratios above 1 are allowed (a soft
  // limit that may be exceeded).
  double warn_ratio = 0.8;
  double critical_ratio = 0.95;
  // A raised level clears once the ratio is below its threshold minus
  // this (0 <= hysteresis < warn_ratio). 0: at once.
  double hysteresis = 0;
  // Time to exhaustion from the trend of the values over the runs' start
  // times (see health/pressure/trend.h). Off by default.
  pressure::TrendOptions trend = NoTrend();
  // Unit of the value, for reports: "connections", "bytes", "count".
  std::string unit = "count";
  // The application's own state: kind kSelf, group readiness.
  CheckOptions check = SelfCheckOptions();
};

// Builds the check. InvalidArgument naming "name", "value/atomic" (none or
// both), "limit", "warn_ratio"/"critical_ratio", "hysteresis", a "trend."
// field, or a CheckOptions field. The check keeps the gauge's state (level,
// trend) behind a mutex: copies of the Check share it.
absl::StatusOr<Check> GaugeCheck(GaugeCheckOptions options);

}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_GAUGE_H_
