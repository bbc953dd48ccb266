// A "used out of a limit" resource: thresholds on the used ratio plus a
// trend with a time-to-exhaustion alarm. Memory, disk bytes and inodes,
// file descriptors and tasks are all gauges.

#ifndef VIGIL_HEALTH_PRESSURE_INTERNAL_GAUGE_H_
#define VIGIL_HEALTH_PRESSURE_INTERNAL_GAUGE_H_

#include "absl/time/time.h"
#include "health/pressure/thresholds.h"
#include "health/pressure/trend.h"

namespace vigil {
namespace pressure {
namespace internal {

struct GaugeState {
  bool available = false;
  double used = 0;
  double limit = 0;
  double ratio = 0;
  // From the ratio thresholds.
  Level ratio_level = Level::kOk;
  // From the predicted time to exhaustion against the horizons.
  Level trend_level = Level::kOk;
  TrendEstimate trend;

  Level level() const { return MaxLevel(ratio_level, trend_level); }
};

class Gauge {
 public:
  Gauge(const Thresholds& ratio, const TrendOptions& trend);

  // One reading: `used` out of `limit` (> 0) at `now`. Allocation-free.
  const GaugeState& Update(absl::Time now, double used, double limit);
  // The resource could not be read: forget levels and trend.
  void MarkUnavailable();
  // The resource was replaced (e.g. another limit source): forget the trend.
  void ResetTrend() { trend_.Reset(); }

  const GaugeState& state() const { return state_; }
  const Thresholds& thresholds() const { return ratio_.thresholds(); }
  const TrendOptions& trend_options() const { return trend_.options(); }

 private:
  Hysteresis ratio_;
  TrendEstimator trend_;
  // Fed horizon / time_to_exhaustion: >= 1 means "within the horizon".
  Hysteresis alarm_;
  double horizon_seconds_;
  GaugeState state_;
};

}  // namespace internal
}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_INTERNAL_GAUGE_H_
