#include "health/pressure/thresholds.h"

#include "gtest/gtest.h"

namespace vigil {
namespace pressure {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1767225600);

Thresholds T(double warn, double critical, double hysteresis) {
  Thresholds t;
  t.warn = warn;
  t.critical = critical;
  t.hysteresis = hysteresis;
  return t;
}

TEST(Hysteresis, RaisesExactlyAtTheThresholds) {
  Hysteresis h(T(0.80, 0.90, 0.03));
  EXPECT_EQ(h.Update(0.7999, kT0), Level::kOk);
  EXPECT_EQ(h.Update(0.80, kT0), Level::kWarn);
  EXPECT_EQ(h.Update(0.8999, kT0), Level::kWarn);
  EXPECT_EQ(h.Update(0.90, kT0), Level::kCritical);
}

TEST(Hysteresis, ClearsOnlyBelowThresholdMinusHysteresis) {
  Hysteresis h(T(0.80, 0.90, 0.03));
  ASSERT_EQ(h.Update(0.95, kT0), Level::kCritical);
  // Falling edge of critical: held down to 0.87 inclusive.
  EXPECT_EQ(h.Update(0.87, kT0), Level::kCritical);
  EXPECT_EQ(h.Update(0.8699, kT0), Level::kWarn);
  // Falling edge of warn: held down to 0.77 inclusive.
  EXPECT_EQ(h.Update(0.77, kT0), Level::kWarn);
  EXPECT_EQ(h.Update(0.7699, kT0), Level::kOk);
  // Rising again needs the full threshold, not the clear level.
  EXPECT_EQ(h.Update(0.79, kT0), Level::kOk);
}

TEST(Hysteresis, DropsStraightToOkWhenFarBelow) {
  Hysteresis h(T(0.80, 0.90, 0.03));
  ASSERT_EQ(h.Update(0.99, kT0), Level::kCritical);
  EXPECT_EQ(h.Update(0.10, kT0), Level::kOk);
}

TEST(Hysteresis, RaiseAfterDelaysTheRisingEdge) {
  Thresholds t = T(10, 40, 2);
  t.raise_after = absl::Seconds(30);
  Hysteresis h(t);
  EXPECT_EQ(h.Update(15, kT0), Level::kOk);
  EXPECT_EQ(h.Update(15, kT0 + absl::Seconds(29)), Level::kOk);
  EXPECT_EQ(h.Update(15, kT0 + absl::Seconds(30)), Level::kWarn);
}

TEST(Hysteresis, RaiseAfterRestartsWhenTheConditionLapses) {
  Thresholds t = T(10, 40, 2);
  t.raise_after = absl::Seconds(30);
  Hysteresis h(t);
  EXPECT_EQ(h.Update(15, kT0), Level::kOk);
  EXPECT_EQ(h.Update(5, kT0 + absl::Seconds(20)), Level::kOk);  // Lapse.
  EXPECT_EQ(h.Update(15, kT0 + absl::Seconds(25)), Level::kOk);
  EXPECT_EQ(h.Update(15, kT0 + absl::Seconds(54)), Level::kOk);
  EXPECT_EQ(h.Update(15, kT0 + absl::Seconds(55)), Level::kWarn);
}

TEST(Hysteresis, RiseToCriticalCountsFromTheStartOfTheRise) {
  Thresholds t = T(10, 40, 2);
  t.raise_after = absl::Seconds(30);
  Hysteresis h(t);
  EXPECT_EQ(h.Update(15, kT0), Level::kOk);
  EXPECT_EQ(h.Update(50, kT0 + absl::Seconds(10)), Level::kOk);
  EXPECT_EQ(h.Update(50, kT0 + absl::Seconds(30)), Level::kCritical);
}

TEST(Hysteresis, ClearAfterDelaysTheFallingEdge) {
  Thresholds t = T(0.8, 0.9, 0.0);
  t.clear_after = absl::Minutes(5);
  Hysteresis h(t);
  ASSERT_EQ(h.Update(0.85, kT0), Level::kWarn);
  EXPECT_EQ(h.Update(0.5, kT0 + absl::Seconds(1)), Level::kWarn);
  EXPECT_EQ(h.Update(0.5, kT0 + absl::Seconds(300)), Level::kWarn);
  EXPECT_EQ(h.Update(0.5, kT0 + absl::Seconds(301)), Level::kOk);
}

TEST(Hysteresis, NaNIsIgnoredAndResetClears) {
  Hysteresis h(T(1, 2, 0));
  ASSERT_EQ(h.Update(1.5, kT0), Level::kWarn);
  EXPECT_EQ(h.Update(std::nan(""), kT0), Level::kWarn);
  h.Reset();
  EXPECT_EQ(h.level(), Level::kOk);
}

TEST(Hysteresis, NeverThresholdNeverRaises) {
  Hysteresis h(T(0.5, kNever, 0));
  EXPECT_EQ(h.Update(1e300, kT0), Level::kWarn);
}

TEST(Thresholds, ValidateNamesTheField) {
  EXPECT_TRUE(T(0.8, 0.9, 0.03).Validate("x").ok());
  absl::Status s = T(0.9, 0.8, 0).Validate("memory.usage");
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("memory.usage.critical"), absl::string_view::npos)
      << s;
  s = T(0.8, 0.9, -1).Validate("fds.usage");
  EXPECT_NE(s.message().find("fds.usage.hysteresis"), absl::string_view::npos);
  Thresholds t = T(1, 2, 0);
  t.raise_after = absl::Seconds(-1);
  EXPECT_NE(t.Validate("io.psi_some").message().find("io.psi_some.raise_after"),
            absl::string_view::npos);
}

TEST(Level, MapsToStatus) {
  EXPECT_EQ(LevelToStatus(Level::kOk), Status::kHealthy);
  EXPECT_EQ(LevelToStatus(Level::kWarn), Status::kDegraded);
  EXPECT_EQ(LevelToStatus(Level::kCritical), Status::kUnhealthy);
  EXPECT_EQ(LevelName(Level::kWarn), "warn");
}

}  // namespace
}  // namespace pressure
}  // namespace vigil
