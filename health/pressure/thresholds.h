// Thresholds with hysteresis: how a pressure reading becomes a status.
//
// Every signal a detector watches (a usage ratio, a PSI percentage, a
// throttling fraction) has a warn level (→ DEGRADED) and a critical level
// (→ UNHEALTHY). A `Hysteresis` turns successive readings into a `Level`,
// with hysteresis on both edges so a reading hovering around a threshold
// does not flap:
//   - rising edge: a level is raised when the value reaches its threshold
//     (value >= threshold) and has stayed there for `raise_after`;
//   - falling edge: a raised level is cleared only when the value drops
//     below threshold - `hysteresis` and has stayed there for `clear_after`.
//
//   vigil::pressure::Thresholds t{.warn = 0.80, .critical = 0.90,
//                                 .hysteresis = 0.03};
//   vigil::pressure::Hysteresis h(t);
//   h.Update(0.85, now);  // kWarn
//   h.Update(0.78, now);  // still kWarn: 0.78 >= 0.80 - 0.03
//   h.Update(0.76, now);  // kOk
//
// Thread-compatible: a Hysteresis is owned by one detector.

#ifndef VIGIL_HEALTH_PRESSURE_THRESHOLDS_H_
#define VIGIL_HEALTH_PRESSURE_THRESHOLDS_H_

#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/status.h"

namespace vigil {
namespace pressure {

// How bad one signal is.
enum class Level : uint8_t {
  kOk = 0,
  kWarn = 1,      // → Status::kDegraded
  kCritical = 2,  // → Status::kUnhealthy
};

// kOk → kHealthy, kWarn → kDegraded, kCritical → kUnhealthy.
Status LevelToStatus(Level level);
// "ok", "warn" or "critical".
absl::string_view LevelName(Level level);
inline Level MaxLevel(Level a, Level b) { return a > b ? a : b; }

// Use as a threshold that is never reached (e.g. a signal that may only warn).
inline constexpr double kNever = std::numeric_limits<double>::infinity();

// The thresholds of one signal, in the signal's own unit (ratio 0..1 for
// usage, percent for PSI). A plain value type.
struct Thresholds {
  // value >= warn raises kWarn; kNever disables.
  double warn = kNever;
  // value >= critical raises kCritical; kNever disables. Must be >= warn.
  double critical = kNever;
  // A raised level clears when value < threshold - hysteresis. Must be >= 0.
  double hysteresis = 0;
  // Rising edge: the value must stay at or above the threshold this long
  // before the level is raised (0: at once). Must be >= 0.
  absl::Duration raise_after = absl::ZeroDuration();
  // Falling edge: the value must stay below the clear level this long before
  // the level is lowered (0: at once). Must be >= 0.
  absl::Duration clear_after = absl::ZeroDuration();

  // OK, or InvalidArgument naming `field` ("memory.usage.critical: ...").
  absl::Status Validate(absl::string_view field) const;
};

// The level state machine of one signal.
class Hysteresis {
 public:
  explicit Hysteresis(const Thresholds& thresholds = {});

  // Feeds one reading taken at `now` and returns the resulting level.
  // Readings must come in time order. NaN readings are ignored.
  Level Update(double value, absl::Time now);

  // Back to kOk with no pending edge (e.g. the signal became unavailable).
  void Reset();

  Level level() const { return level_; }
  const Thresholds& thresholds() const { return thresholds_; }

 private:
  // The level the thresholds alone give `value` (no memory).
  Level RawLevel(double value) const;
  // The lowest level the current one may fall to at `value`.
  Level SustainedLevel(double value) const;

  Thresholds thresholds_;
  Level level_ = Level::kOk;
  // A pending change and since when its condition has held.
  Level pending_ = Level::kOk;
  absl::Time pending_since_ = absl::InfiniteFuture();
};

}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_THRESHOLDS_H_
