#include "health/pressure/internal/gauge.h"

#include <limits>

namespace vigil {
namespace pressure {
namespace internal {
namespace {

Thresholds AlarmThresholds(const TrendOptions& t) {
  Thresholds a;
  if (!t.enabled || t.horizon <= absl::ZeroDuration()) return a;  // Never.
  a.warn = 1.0;
  if (t.critical_horizon > absl::ZeroDuration()) {
    a.critical = absl::FDivDuration(t.horizon, t.critical_horizon);
  }
  // Cleared when horizon / tte < 1 / clear_factor.
  a.hysteresis = 1.0 - 1.0 / t.clear_factor;
  return a;
}

}  // namespace

Gauge::Gauge(const Thresholds& ratio, const TrendOptions& trend)
    : ratio_(ratio),
      trend_(trend),
      alarm_(AlarmThresholds(trend)),
      horizon_seconds_(absl::ToDoubleSeconds(trend.horizon)) {}

const GaugeState& Gauge::Update(absl::Time now, double used, double limit) {
  state_.available = true;
  state_.used = used;
  state_.limit = limit;
  state_.ratio = limit > 0 ? used / limit : 0;
  state_.ratio_level = ratio_.Update(state_.ratio, now);
  trend_.Add(now, used);
  state_.trend = trend_.Estimate(used, limit);
  double urgency = 0;
  if (state_.trend.time_to_exhaustion.has_value() && horizon_seconds_ > 0) {
    const double tte = absl::ToDoubleSeconds(*state_.trend.time_to_exhaustion);
    urgency = tte <= 0 ? std::numeric_limits<double>::infinity()
                       : horizon_seconds_ / tte;
  }
  state_.trend_level = alarm_.Update(urgency, now);
  return state_;
}

void Gauge::MarkUnavailable() {
  ratio_.Reset();
  alarm_.Reset();
  trend_.Reset();
  state_ = GaugeState();
}

}  // namespace internal
}  // namespace pressure
}  // namespace vigil
