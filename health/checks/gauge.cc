#include "health/checks/gauge.h"

#include <cmath>
#include <exception>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "health/pressure/internal/gauge.h"
#include "health/pressure/thresholds.h"
#include "health/sync.h"

namespace vigil {
namespace checks {
namespace {

// Calls `f`, turning an exception into an error.
absl::StatusOr<double> Call(const std::function<absl::StatusOr<double>()>& f,
                            absl::string_view what) {
  try {
    absl::StatusOr<double> v = f();
    if (!v.ok()) {
      return absl::Status(
          v.status().code(),
          absl::StrCat("cannot read the ", what, ": ", v.status().message()));
    }
    if (!std::isfinite(*v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the ", what, " is not a finite number"));
    }
    return v;
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("reading the ", what, " threw: ", e.what()));
  } catch (...) {
    return absl::InternalError(absl::StrCat("reading the ", what, " threw"));
  }
}

std::string Num(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  return absl::StrFormat("%.3g", v);
}

std::string Pct(double ratio) { return absl::StrFormat("%.0f%%", ratio * 100); }

pressure::Thresholds RatioThresholds(const GaugeCheckOptions& o) {
  pressure::Thresholds t;
  t.warn = o.warn_ratio;
  t.critical = o.critical_ratio;
  t.hysteresis = o.hysteresis;
  return t;
}

// Options, and the gauge whose level and trend carry from run to run.
struct GaugeState {
  explicit GaugeState(GaugeCheckOptions o)
      : options(std::move(o)), gauge(RatioThresholds(options), options.trend) {}
  const GaugeCheckOptions options;
  Mutex mu;
  pressure::internal::Gauge gauge ABSL_GUARDED_BY(mu);
};

// A run that could not read the value or the limit: the gauge forgets its
// level and trend, and the run is UNHEALTHY with `error`'s text.
CheckResult Unreadable(GaugeState& s, const absl::Status& error,
                       const char* reason) {
  {
    MutexLock lock(&s.mu);
    s.gauge.MarkUnavailable();
  }
  CheckResult r = CheckResult::Unhealthy(std::string(error.message()));
  r.details["reason"] = reason;
  return r;
}

CheckResult RunGauge(GaugeState& s, absl::Time now) {
  const GaugeCheckOptions& o = s.options;
  absl::StatusOr<double> value =
      o.atomic != nullptr ? absl::StatusOr<double>(static_cast<double>(
                                o.atomic->load(std::memory_order_relaxed)))
                          : Call(o.value, "value");
  if (!value.ok()) return Unreadable(s, value.status(), "value");
  absl::StatusOr<double> limit =
      o.limit_fn ? Call(o.limit_fn, "limit") : absl::StatusOr<double>(o.limit);
  if (limit.ok() && *limit <= 0) {
    limit = absl::InvalidArgumentError(
        absl::StrCat("the limit is not positive (", Num(*limit), ")"));
  }
  if (!limit.ok()) {
    CheckResult r = Unreadable(s, limit.status(), "limit");
    r.observed_value = *value;
    r.observed_unit = o.unit;
    return r;
  }
  pressure::internal::GaugeState g;
  {
    MutexLock lock(&s.mu);
    g = s.gauge.Update(now, *value, *limit);
  }
  const double ratio = g.ratio;
  std::string base = absl::StrCat(Num(*value), " of ", Num(*limit), " ", o.unit,
                                  " (", Pct(ratio), " of limit");
  if (g.trend.time_to_exhaustion.has_value()) {
    absl::StrAppend(&base, ", full in ",
                    absl::FormatDuration(absl::Trunc(
                        *g.trend.time_to_exhaustion, absl::Seconds(1))));
  }
  CheckResult r;
  if (g.ratio_level == pressure::Level::kCritical) {
    r = CheckResult::Unhealthy(
        absl::StrCat(base, ", critical at ", Pct(o.critical_ratio), ")"));
    r.details["reason"] = "critical";
  } else if (g.ratio_level == pressure::Level::kWarn) {
    r = CheckResult::Degraded(
        absl::StrCat(base, ", warning at ", Pct(o.warn_ratio), ")"));
    r.details["reason"] = "warning";
  } else if (g.trend_level == pressure::Level::kCritical) {
    r = CheckResult::Unhealthy(
        absl::StrCat(base, ", critical horizon ",
                     absl::FormatDuration(o.trend.critical_horizon), ")"));
    r.details["reason"] = "trend";
  } else if (g.trend_level == pressure::Level::kWarn) {
    r = CheckResult::Degraded(
        absl::StrCat(base, ", within the ",
                     absl::FormatDuration(o.trend.horizon), " horizon)"));
    r.details["reason"] = "trend";
  } else {
    r = CheckResult::Healthy(absl::StrCat(base, ")"));
  }
  r.observed_value = *value;
  r.observed_unit = o.unit;
  r.warn_threshold = o.warn_ratio * *limit;
  r.critical_threshold = o.critical_ratio * *limit;
  r.time_to_exhaustion = g.trend.time_to_exhaustion;
  r.details["ratio"] = absl::StrFormat("%.4f", ratio);
  r.details["limit"] = Num(*limit);
  return r;
}

}  // namespace

absl::StatusOr<Check> GaugeCheck(GaugeCheckOptions options) {
  if (options.name.empty()) {
    return absl::InvalidArgumentError("name: must be set");
  }
  if (static_cast<bool>(options.value) == (options.atomic != nullptr)) {
    return absl::InvalidArgumentError(
        "value/atomic: set exactly one value source");
  }
  if (!options.limit_fn &&
      !(std::isfinite(options.limit) && options.limit > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limit: must be > 0 (or set limit_fn), got ", options.limit));
  }
  if (!(std::isfinite(options.warn_ratio) && options.warn_ratio > 0)) {
    return absl::InvalidArgumentError("warn_ratio: must be > 0");
  }
  if (!(std::isfinite(options.critical_ratio) &&
        options.critical_ratio >= options.warn_ratio)) {
    return absl::InvalidArgumentError("critical_ratio: must be >= warn_ratio");
  }
  if (!(std::isfinite(options.hysteresis) && options.hysteresis >= 0 &&
        options.hysteresis < options.warn_ratio)) {
    return absl::InvalidArgumentError(
        "hysteresis: must be >= 0 and < warn_ratio");
  }
  if (absl::Status s = options.trend.Validate("trend"); !s.ok()) return s;
  if (options.unit.empty()) options.unit = "count";
  Check check;
  check.name = options.name;
  check.options = options.check;
  auto state = std::make_shared<GaugeState>(std::move(options));
  check.function = [state](const CheckContext& ctx) {
    return RunGauge(*state, ctx.start);
  };
  if (absl::Status s = ValidateCheck(check); !s.ok()) return s;
  return check;
}

}  // namespace checks
}  // namespace vigil
