#include "health/pressure/thresholds.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace vigil {
namespace pressure {

Status LevelToStatus(Level level) {
  switch (level) {
    case Level::kOk:
      return Status::kHealthy;
    case Level::kWarn:
      return Status::kDegraded;
    case Level::kCritical:
      return Status::kUnhealthy;
  }
  return Status::kUnhealthy;
}

absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kOk:
      return "ok";
    case Level::kWarn:
      return "warn";
    case Level::kCritical:
      return "critical";
  }
  return "critical";
}

absl::Status Thresholds::Validate(absl::string_view field) const {
  if (std::isnan(warn) || std::isnan(critical) || std::isnan(hysteresis)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": thresholds must not be NaN"));
  }
  if (critical < warn) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".critical: ", critical, " is below warn (", warn, ")"));
  }
  if (hysteresis < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".hysteresis: must be >= 0, got ", hysteresis));
  }
  if (raise_after < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".raise_after: must be >= 0"));
  }
  if (clear_after < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".clear_after: must be >= 0"));
  }
  return absl::OkStatus();
}

Hysteresis::Hysteresis(const Thresholds& thresholds)
    : thresholds_(thresholds) {}

void Hysteresis::Reset() {
  level_ = Level::kOk;
  pending_ = Level::kOk;
  pending_since_ = absl::InfiniteFuture();
}

Level Hysteresis::RawLevel(double value) const {
  if (value >= thresholds_.critical) return Level::kCritical;
  if (value >= thresholds_.warn) return Level::kWarn;
  return Level::kOk;
}

Level Hysteresis::SustainedLevel(double value) const {
  const double h = thresholds_.hysteresis;
  if (level_ == Level::kCritical && value >= thresholds_.critical - h) {
    return Level::kCritical;
  }
  if (level_ >= Level::kWarn && value >= thresholds_.warn - h) {
    return Level::kWarn;
  }
  return Level::kOk;
}

Level Hysteresis::Update(double value, absl::Time now) {
  if (std::isnan(value)) return level_;
  const Level raw = RawLevel(value);
  Level target;
  absl::Duration dwell;
  if (raw > level_) {
    target = raw;
    dwell = thresholds_.raise_after;
  } else {
    target = MaxLevel(raw, SustainedLevel(value));
    dwell = thresholds_.clear_after;
  }
  if (target == level_) {
    pending_ = level_;
    pending_since_ = absl::InfiniteFuture();
    return level_;
  }
  // A change is wanted. It takes effect once its condition has held for the
  // dwell time; a different wanted change restarts the clock, except that a
  // rise to critical keeps the time already spent above warn counted from
  // when the rise began (both are rising edges).
  const bool same_direction =
      (target > level_) == (pending_ > level_) && pending_ != level_;
  if (!same_direction || pending_since_ == absl::InfiniteFuture()) {
    pending_since_ = now;
  }
  pending_ = target;
  if (now - pending_since_ >= dwell) {
    level_ = target;
    pending_ = level_;
    pending_since_ = absl::InfiniteFuture();
  }
  return level_;
}

}  // namespace pressure
}  // namespace vigil
