#include "health/pressure/internal/gauge.h"

#include "gtest/gtest.h"

namespace vigil {
namespace pressure {
namespace internal {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1767225600);

Thresholds Ratio() {
  Thresholds t;
  t.warn = 0.8;
  t.critical = 0.9;
  t.hysteresis = 0.02;
  return t;
}

TrendOptions Trend(absl::Duration horizon,
                   absl::Duration critical_horizon = absl::ZeroDuration()) {
  TrendOptions o;
  o.window = absl::Minutes(10);
  o.min_span = absl::Seconds(20);
  o.min_samples = 3;
  o.horizon = horizon;
  o.critical_horizon = critical_horizon;
  o.clear_factor = 1.25;
  return o;
}

TEST(Gauge, TrendRaisesWarnBeforeAnyStaticThreshold) {
  Gauge g(Ratio(), Trend(absl::Minutes(10)));
  // 1 unit/s towards a limit of 1000, starting at 10%.
  for (int s = 0; s <= 20; s += 10)
    g.Update(kT0 + absl::Seconds(s), 100 + s, 1000);
  // At 20 s: 880 left at 1/s = 880 s > 600 s horizon.
  EXPECT_EQ(g.state().trend_level, Level::kOk);
  ASSERT_TRUE(g.state().trend.time_to_exhaustion.has_value());
  EXPECT_NEAR(absl::ToDoubleSeconds(*g.state().trend.time_to_exhaustion), 880,
              1e-6);
  // At 300 s (used 400, 40%): 600 s left: exactly the horizon → warn.
  for (int s = 30; s <= 300; s += 10) {
    g.Update(kT0 + absl::Seconds(s), 100 + s, 1000);
  }
  EXPECT_EQ(g.state().ratio_level, Level::kOk);
  EXPECT_EQ(g.state().trend_level, Level::kWarn);
  EXPECT_EQ(g.state().level(), Level::kWarn);
}

TEST(Gauge, TrendAlarmClearsWithHysteresis) {
  Gauge g(Ratio(), Trend(absl::Seconds(100)));
  // 1 unit/s; limit 1000; used 900 → 100 s: warn.
  for (int s = 0; s <= 30; s += 10)
    g.Update(kT0 + absl::Seconds(s), 870 + s, 1000);
  ASSERT_EQ(g.state().trend_level, Level::kWarn);
  // The limit is raised so the prediction is 120 s: within horizon × 1.25,
  // still warn.
  g.Update(kT0 + absl::Seconds(40), 910, 1030);
  EXPECT_EQ(g.state().trend_level, Level::kWarn);
  // 126 s > 125 s: cleared.
  g.Update(kT0 + absl::Seconds(50), 920, 1046);
  EXPECT_EQ(g.state().trend_level, Level::kOk);
}

TEST(Gauge, CriticalHorizon) {
  Gauge g(Ratio(), Trend(absl::Seconds(600), absl::Seconds(60)));
  for (int s = 0; s <= 30; s += 10)
    g.Update(kT0 + absl::Seconds(s), 100 + s * 10, 1000);
  // 10/s; 600 left at 30 s → 60 s: critical.
  EXPECT_EQ(g.state().trend_level, Level::kCritical);
}

TEST(Gauge, RatioLevelsAndUnavailable) {
  Gauge g(Ratio(), Trend(absl::ZeroDuration()));
  EXPECT_EQ(g.Update(kT0, 800, 1000).ratio_level, Level::kWarn);
  EXPECT_EQ(g.Update(kT0, 900, 1000).ratio_level, Level::kCritical);
  EXPECT_DOUBLE_EQ(g.state().ratio, 0.9);
  g.MarkUnavailable();
  EXPECT_FALSE(g.state().available);
  EXPECT_EQ(g.state().level(), Level::kOk);
  // The trend restarted too.
  EXPECT_EQ(g.Update(kT0 + absl::Seconds(1), 100, 1000).trend.samples, 1);
}

}  // namespace
}  // namespace internal
}  // namespace pressure
}  // namespace vigil
