// Time to exhaustion: a robust trend over recent samples of a resource.
//
// `TrendEstimator` keeps a bounded window of (time, used) samples and
// estimates the fill rate with the Theil–Sen estimator: the median of the
// slopes between every pair of samples. Up to 29% of the samples can be
// outliers (a GC spike, a burst of log writes) without moving it, unlike a
// least-squares fit. It stays silent until it has `min_samples` samples
// spanning at least `min_span`, so two close readings never produce a wild
// prediction. Time to exhaustion is then
//   (limit - current) / rate      when rate > 0,
// measured from the newest sample, with `current` the latest exact reading
// (the trend only supplies the rate).
//
//   vigil::pressure::TrendEstimator trend(options);
//   trend.Add(clock->Now(), used_bytes);
//   vigil::pressure::TrendEstimate e = trend.Estimate(used_bytes, limit);
//   if (e.time_to_exhaustion) ... "full in " << *e.time_to_exhaustion
//
// Cost: Add() is O(capacity); Estimate() is O(capacity²) (496 slopes at the
// default capacity of 32) with no allocation after construction.
// Thread-compatible: owned by one detector.

#ifndef VIGIL_HEALTH_PRESSURE_TREND_H_
#define VIGIL_HEALTH_PRESSURE_TREND_H_

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vigil {
namespace pressure {

// How the trend of one resource is estimated and when it alarms.
struct TrendOptions {
  // False: no trend, no time to exhaustion.
  bool enabled = true;
  // Samples older than this (relative to the newest) are dropped. > 0.
  absl::Duration window = absl::Minutes(10);
  // The estimator speaks only once its samples span this long... (>= 0,
  // <= window)
  absl::Duration min_span = absl::Minutes(1);
  // ...and it has at least this many samples (>= 2).
  int min_samples = 6;
  // Samples kept (3..256). When sampling is faster than window / capacity,
  // the newest sample replaces the previous one instead of evicting old
  // ones, so the kept samples always cover the whole window.
  int capacity = 32;
  // Predicted exhaustion within this horizon raises the signal to warn
  // (DEGRADED) even below every static threshold. Zero disables.
  absl::Duration horizon = absl::Minutes(30);
  // Predicted exhaustion within this raises critical (UNHEALTHY). Zero
  // disables (the default: a prediction alone never fails readiness). Must
  // not exceed `horizon`.
  absl::Duration critical_horizon = absl::ZeroDuration();
  // Hysteresis of the alarm: raised when the prediction is within the
  // horizon, cleared when it exceeds horizon × clear_factor (or the resource
  // stops filling). >= 1.
  double clear_factor = 1.25;

  // OK, or InvalidArgument naming `field`.
  absl::Status Validate(absl::string_view field) const;
};

// What the estimator says now.
struct TrendEstimate {
  // Enough samples over a long enough span to speak.
  bool ready = false;
  int samples = 0;
  // Time between the oldest and newest kept samples.
  absl::Duration span = absl::ZeroDuration();
  // Fill rate in units per second (negative: draining). 0 unless ready.
  double rate_per_second = 0;
  // Set when ready, filling (rate > 0) and the prediction is under a year.
  // Zero when already at or above the limit.
  std::optional<absl::Duration> time_to_exhaustion;
};

class TrendEstimator {
 public:
  explicit TrendEstimator(const TrendOptions& options = {});

  // Adds the reading `value` taken at `t`. Samples must come in time order;
  // one not newer than the newest is ignored.
  void Add(absl::Time t, double value);

  // The rate over the kept samples and the time until `current` reaches
  // `limit` at that rate. Not const: uses a pre-sized scratch buffer.
  TrendEstimate Estimate(double current, double limit);

  // Forgets every sample (e.g. the resource was replaced or reset).
  void Reset() { samples_.clear(); }

  int size() const { return static_cast<int>(samples_.size()); }
  const TrendOptions& options() const { return options_; }

 private:
  struct Sample {
    absl::Time t;
    double value;
  };

  TrendOptions options_;
  absl::Duration spacing_;
  std::vector<Sample> samples_;  // Oldest first; capacity reserved.
  std::vector<double> slopes_;   // Scratch; capacity reserved.
  std::vector<double> times_;    // Scratch; capacity sized.
};

}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_TREND_H_
