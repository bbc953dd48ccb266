#include "health/pressure/trend.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace vigil {
namespace pressure {
namespace {

constexpr int kMinCapacity = 3;
constexpr int kMaxCapacity = 256;
constexpr double kMaxPredictionSeconds = 365.0 * 24 * 3600;

}  // namespace

absl::Status TrendOptions::Validate(absl::string_view field) const {
  auto error = [&](absl::string_view sub, absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".", sub, ": ", what));
  };
  if (!enabled) return absl::OkStatus();
  if (window <= absl::ZeroDuration()) return error("window", "must be > 0");
  if (min_span < absl::ZeroDuration() || min_span > window) {
    return error("min_span", "must be between 0 and window");
  }
  if (min_samples < 2) return error("min_samples", "must be >= 2");
  if (capacity < kMinCapacity || capacity > kMaxCapacity) {
    return error("capacity", absl::StrCat("must be in [", kMinCapacity, ", ",
                                          kMaxCapacity, "]"));
  }
  if (min_samples > capacity) {
    return error("min_samples", "must not exceed capacity");
  }
  if (horizon < absl::ZeroDuration()) return error("horizon", "must be >= 0");
  if (critical_horizon < absl::ZeroDuration() ||
      (horizon > absl::ZeroDuration() && critical_horizon > horizon) ||
      (horizon == absl::ZeroDuration() &&
       critical_horizon > absl::ZeroDuration())) {
    return error("critical_horizon", "must be between 0 and horizon");
  }
  if (!(clear_factor >= 1.0)) return error("clear_factor", "must be >= 1");
  return absl::OkStatus();
}

TrendEstimator::TrendEstimator(const TrendOptions& options)
    : options_(options) {
  const int capacity =
      std::clamp(options_.capacity, kMinCapacity, kMaxCapacity);
  options_.capacity = capacity;
  spacing_ = options_.window / (capacity - 1);
  samples_.reserve(static_cast<size_t>(capacity));
  slopes_.reserve(static_cast<size_t>(capacity * (capacity - 1) / 2));
  times_.assign(static_cast<size_t>(capacity), 0.0);
}

void TrendEstimator::Add(absl::Time t, double value) {
  if (!options_.enabled || std::isnan(value)) return;
  if (!samples_.empty() && t <= samples_.back().t) return;
  const size_t n = samples_.size();
  if (n >= 2 && t - samples_[n - 2].t < spacing_) {
    // Too close to the one before the newest: the newest is superseded.
    samples_.back() = Sample{t, value};
  } else {
    if (n == static_cast<size_t>(options_.capacity)) {
      samples_.erase(samples_.begin());
    }
    samples_.push_back(Sample{t, value});
  }
  // Drop samples that left the window (keep at least the newest).
  size_t drop = 0;
  while (drop + 1 < samples_.size() && t - samples_[drop].t > options_.window) {
    ++drop;
  }
  if (drop > 0) samples_.erase(samples_.begin(), samples_.begin() + drop);
}

TrendEstimate TrendEstimator::Estimate(double current, double limit) {
  TrendEstimate e;
  e.samples = size();
  if (samples_.empty()) return e;
  e.span = samples_.back().t - samples_.front().t;
  if (!options_.enabled || e.samples < options_.min_samples ||
      e.span < options_.min_span || e.span <= absl::ZeroDuration()) {
    return e;
  }
  // Times as seconds before the newest sample, converted once.
  const absl::Time t0 = samples_.back().t;
  const size_t n = samples_.size();
  for (size_t i = 0; i < n; ++i) {
    times_[i] = absl::ToDoubleSeconds(samples_[i].t - t0);
  }
  slopes_.clear();
  for (size_t i = 0; i < n; ++i) {
    const double ti = times_[i];
    const double vi = samples_[i].value;
    for (size_t j = i + 1; j < n; ++j) {
      const double dt = times_[j] - ti;
      if (dt <= 0) continue;
      slopes_.push_back((samples_[j].value - vi) / dt);
    }
  }
  if (slopes_.empty()) return e;
  const size_t mid = slopes_.size() / 2;
  std::nth_element(slopes_.begin(), slopes_.begin() + mid, slopes_.end());
  double median = slopes_[mid];
  if (slopes_.size() % 2 == 0) {
    const double lower =
        *std::max_element(slopes_.begin(), slopes_.begin() + mid);
    median = (median + lower) / 2;
  }
  e.ready = true;
  e.rate_per_second = median;
  if (current >= limit) {
    e.time_to_exhaustion = absl::ZeroDuration();
  } else if (median > 0) {
    const double seconds = (limit - current) / median;
    if (seconds < kMaxPredictionSeconds) {
      e.time_to_exhaustion = absl::Seconds(seconds);
    }
  }
  return e;
}

}  // namespace pressure
}  // namespace vigil
