#include "health/pressure/trend.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace vigil {
namespace pressure {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1767225600);

TrendOptions Options(absl::Duration window, absl::Duration min_span,
                     int min_samples, int capacity = 32) {
  TrendOptions o;
  o.window = window;
  o.min_span = min_span;
  o.min_samples = min_samples;
  o.capacity = capacity;
  return o;
}

TEST(TrendEstimator, ExactOnALine) {
  TrendEstimator t(Options(absl::Minutes(10), absl::Seconds(30), 4));
  // 1 MiB/s into a 100 MiB limit.
  for (int i = 0; i <= 60; i += 5) {
    t.Add(kT0 + absl::Seconds(i), 10e6 + 1e6 * i);
  }
  TrendEstimate e = t.Estimate(70e6, 100e6);
  ASSERT_TRUE(e.ready);
  EXPECT_NEAR(e.rate_per_second, 1e6, 1e-3);
  ASSERT_TRUE(e.time_to_exhaustion.has_value());
  EXPECT_NEAR(absl::ToDoubleSeconds(*e.time_to_exhaustion), 30.0, 1e-6);
}

TEST(TrendEstimator, SilentBeforeMinimumSpanAndSamples) {
  TrendEstimator t(Options(absl::Minutes(10), absl::Seconds(30), 4));
  t.Add(kT0, 1);
  t.Add(kT0 + absl::Seconds(10), 2);
  t.Add(kT0 + absl::Seconds(29), 3);
  t.Add(kT0 + absl::Seconds(29.5), 4);
  // Four samples but only 29.5 s: not yet.
  TrendEstimate e = t.Estimate(4, 100);
  EXPECT_FALSE(e.ready);
  EXPECT_EQ(e.samples, 4);
  EXPECT_FALSE(e.time_to_exhaustion.has_value());
  EXPECT_EQ(e.rate_per_second, 0);
  // At exactly 30 s it speaks.
  t.Add(kT0 + absl::Seconds(30), 5);
  EXPECT_TRUE(t.Estimate(5, 100).ready);
}

TEST(TrendEstimator, SilentWithTooFewSamplesOverALongSpan) {
  TrendEstimator t(Options(absl::Minutes(10), absl::Seconds(30), 4));
  t.Add(kT0, 1);
  t.Add(kT0 + absl::Minutes(5), 2);
  t.Add(kT0 + absl::Minutes(6), 3);
  EXPECT_FALSE(t.Estimate(3, 100).ready);
}

TEST(TrendEstimator, RobustToNoiseAndOutliers) {
  // 2 units/s with ±5 uniform noise and 20% wild outliers (a GC spike, a
  // burst): Theil–Sen keeps the rate within 5%.
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> noise(-5, 5);
  TrendEstimator t(Options(absl::Minutes(10), absl::Seconds(30), 5));
  for (int i = 0; i < 32; ++i) {
    double v = 1000 + 2.0 * (i * 10) + noise(rng);
    if (i % 5 == 3) v += 400;  // Outlier.
    t.Add(kT0 + absl::Seconds(i * 10), v);
  }
  TrendEstimate e = t.Estimate(1620, 3620);
  ASSERT_TRUE(e.ready);
  EXPECT_NEAR(e.rate_per_second, 2.0, 0.1);
  ASSERT_TRUE(e.time_to_exhaustion.has_value());
  // True answer: 2000 units at 2/s = 1000 s.
  EXPECT_NEAR(absl::ToDoubleSeconds(*e.time_to_exhaustion), 1000, 50);
}

TEST(TrendEstimator, LeastSquaresWouldBeFooledByThisOutlier) {
  // One huge outlier at the end of a flat series: Theil–Sen stays flat.
  TrendEstimator t(Options(absl::Minutes(10), absl::Seconds(10), 5));
  for (int i = 0; i < 10; ++i) t.Add(kT0 + absl::Seconds(i * 5), 100);
  t.Add(kT0 + absl::Seconds(50), 10000);
  TrendEstimate e = t.Estimate(10000, 20000);
  ASSERT_TRUE(e.ready);
  EXPECT_EQ(e.rate_per_second, 0);
  EXPECT_FALSE(e.time_to_exhaustion.has_value());
}

TEST(TrendEstimator, DrainingOrFlatHasNoTimeToExhaustion) {
  TrendEstimator t(Options(absl::Minutes(10), absl::Seconds(10), 3));
  for (int i = 0; i < 10; ++i) t.Add(kT0 + absl::Seconds(i * 5), 500 - i);
  TrendEstimate e = t.Estimate(491, 1000);
  ASSERT_TRUE(e.ready);
  EXPECT_LT(e.rate_per_second, 0);
  EXPECT_FALSE(e.time_to_exhaustion.has_value());
}

TEST(TrendEstimator, AtOrPastTheLimitIsZero) {
  TrendEstimator t(Options(absl::Minutes(10), absl::Seconds(10), 3));
  for (int i = 0; i < 5; ++i) t.Add(kT0 + absl::Seconds(i * 5), i);
  TrendEstimate e = t.Estimate(100, 100);
  ASSERT_TRUE(e.time_to_exhaustion.has_value());
  EXPECT_EQ(*e.time_to_exhaustion, absl::ZeroDuration());
}

TEST(TrendEstimator, FarFuturePredictionsAreNotReported) {
  TrendEstimator t(Options(absl::Minutes(10), absl::Seconds(10), 3));
  for (int i = 0; i < 5; ++i) t.Add(kT0 + absl::Seconds(i * 5), 1e-6 * i);
  TrendEstimate e = t.Estimate(0, 1e9);  // About 3e16 s away.
  ASSERT_TRUE(e.ready);
  EXPECT_GT(e.rate_per_second, 0);
  EXPECT_FALSE(e.time_to_exhaustion.has_value());
}

TEST(TrendEstimator, OldSamplesLeaveTheWindow) {
  TrendEstimator t(Options(absl::Seconds(60), absl::Seconds(10), 3, 8));
  // A fast rise long ago, then flat: only the flat part remains.
  for (int i = 0; i < 5; ++i) t.Add(kT0 + absl::Seconds(i * 10), i * 1000);
  for (int i = 0; i < 8; ++i) {
    t.Add(kT0 + absl::Seconds(200 + i * 10), 5000);
  }
  TrendEstimate e = t.Estimate(5000, 10000);
  ASSERT_TRUE(e.ready);
  EXPECT_EQ(e.rate_per_second, 0);
  EXPECT_LE(e.span, absl::Seconds(60));
}

TEST(TrendEstimator, FastSamplingKeepsTheWholeWindow) {
  // Capacity 5 over a 40 s window: samples closer than 10 s replace the
  // newest instead of evicting old ones.
  TrendEstimator t(Options(absl::Seconds(40), absl::Seconds(30), 3, 5));
  for (int i = 0; i <= 400; ++i) {
    t.Add(kT0 + absl::Milliseconds(100 * i), i * 0.1);  // 1 unit/s, 40 s.
  }
  EXPECT_LE(t.size(), 5);
  TrendEstimate e = t.Estimate(40, 100);
  ASSERT_TRUE(e.ready);
  EXPECT_GE(e.span, absl::Seconds(30));
  EXPECT_NEAR(e.rate_per_second, 1.0, 1e-9);
}

TEST(TrendEstimator, OutOfOrderAndNaNSamplesAreIgnored) {
  TrendEstimator t(Options(absl::Minutes(1), absl::Seconds(1), 2));
  t.Add(kT0 + absl::Seconds(5), 1);
  t.Add(kT0 + absl::Seconds(4), 100);
  t.Add(kT0 + absl::Seconds(6), std::nan(""));
  EXPECT_EQ(t.size(), 1);
}

TEST(TrendEstimator, DisabledNeverSpeaks) {
  TrendOptions o = Options(absl::Minutes(1), absl::Seconds(1), 2);
  o.enabled = false;
  TrendEstimator t(o);
  for (int i = 0; i < 10; ++i) t.Add(kT0 + absl::Seconds(i), i);
  EXPECT_FALSE(t.Estimate(9, 100).ready);
}

TEST(TrendOptions, ValidateNamesTheField) {
  EXPECT_TRUE(TrendOptions().Validate("memory.trend").ok());
  TrendOptions o;
  o.min_span = absl::Hours(1);
  EXPECT_NE(o.Validate("memory.trend").message().find("memory.trend.min_span"),
            absl::string_view::npos);
  o = TrendOptions();
  o.capacity = 2;
  EXPECT_TRUE(absl::IsInvalidArgument(o.Validate("x")));
  o = TrendOptions();
  o.critical_horizon = o.horizon + absl::Seconds(1);
  EXPECT_NE(o.Validate("disk.trend").message().find("critical_horizon"),
            absl::string_view::npos);
  o = TrendOptions();
  o.clear_factor = 0.5;
  EXPECT_TRUE(absl::IsInvalidArgument(o.Validate("x")));
  o = TrendOptions();
  o.min_samples = 1;
  EXPECT_TRUE(absl::IsInvalidArgument(o.Validate("x")));
}

}  // namespace
}  // namespace pressure
}  // namespace vigil
