#include "health/checks/gauge.h"

#include <stdexcept>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/checks/testing/run_check.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace checks {
namespace {

using ::testing::HasSubstr;
using ::vigil::checks::testing::RunCheckOnce;

TEST(GaugeCheckTest, AtomicAgainstAFixedLimit) {
  std::atomic<int64_t> in_use{0};
  GaugeCheckOptions o;
  o.name = "db-pool";
  o.atomic = &in_use;
  o.limit = 50;
  o.unit = "connections";
  absl::StatusOr<Check> c = GaugeCheck(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->options.kind, CheckKind::kSelf);

  in_use = 12;
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kHealthy);
  EXPECT_EQ(r.message, "12 of 50 connections (24% of limit)");
  EXPECT_EQ(r.observed_value, 12);
  EXPECT_EQ(r.observed_unit, "connections");
  EXPECT_EQ(r.warn_threshold, 40);
  EXPECT_DOUBLE_EQ(*r.critical_threshold, 47.5);
  EXPECT_EQ(r.details["ratio"], "0.2400");
  EXPECT_EQ(r.details["limit"], "50");

  in_use = 39;
  EXPECT_EQ(RunCheckOnce(*c).status, Status::kHealthy);
  in_use = 40;  // 80%: the warning level, inclusive.
  r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kDegraded);
  EXPECT_EQ(r.message, "40 of 50 connections (80% of limit, warning at 80%)");
  in_use = 47;
  EXPECT_EQ(RunCheckOnce(*c).status, Status::kDegraded);
  in_use = 48;  // 96% >= 95%.
  r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.message, "48 of 50 connections (96% of limit, critical at 95%)");
  EXPECT_EQ(r.details["reason"], "critical");
  in_use = 3;
  EXPECT_EQ(RunCheckOnce(*c).status, Status::kHealthy);
}

TEST(GaugeCheckTest, CallbackValueAndLimit) {
  double value = 7;
  double limit = 10;
  GaugeCheckOptions o;
  o.name = "queue";
  o.value = [&]() -> absl::StatusOr<double> { return value; };
  o.limit_fn = [&]() -> absl::StatusOr<double> { return limit; };
  o.warn_ratio = 0.5;
  o.critical_ratio = 0.9;
  absl::StatusOr<Check> c = GaugeCheck(o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(RunCheckOnce(*c).status, Status::kDegraded);
  limit = 20;  // The pool grew.
  EXPECT_EQ(RunCheckOnce(*c).status, Status::kHealthy);
  value = 2.5;
  EXPECT_EQ(RunCheckOnce(*c).message, "2.5 of 20 count (12% of limit)");
  limit = 0;
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.message, "the limit is not positive (0)");
  EXPECT_EQ(r.details["reason"], "limit");
}

TEST(GaugeCheckTest, FailingCallbacksNeverThrowOutOfTheCheck) {
  int mode = 0;
  GaugeCheckOptions o;
  o.name = "g";
  o.limit = 10;
  o.value = [&]() -> absl::StatusOr<double> {
    if (mode == 0) return absl::UnavailableError("pool closed");
    if (mode == 1) return std::nan("");
    throw std::runtime_error("boom");
  };
  absl::StatusOr<Check> c = GaugeCheck(o);
  ASSERT_TRUE(c.ok());
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.message, "cannot read the value: pool closed");
  mode = 1;
  EXPECT_EQ(RunCheckOnce(*c).message, "the value is not a finite number");
  mode = 2;
  EXPECT_EQ(RunCheckOnce(*c).message, "reading the value threw: boom");
}

TEST(GaugeCheckTest, RejectsBadInputNamingTheField) {
  std::atomic<int64_t> a{0};
  auto expect = [](const GaugeCheckOptions& o, const char* field) {
    absl::StatusOr<Check> c = GaugeCheck(o);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(c.status().message(), HasSubstr(field));
  };
  GaugeCheckOptions o;
  o.atomic = &a;
  o.limit = 1;
  expect(o, "name");
  o.name = "g";
  o.value = [] { return absl::StatusOr<double>(1.0); };
  expect(o, "value/atomic");
  o.value = nullptr;
  o.atomic = nullptr;
  expect(o, "value/atomic");
  o.atomic = &a;
  o.limit = 0;
  expect(o, "limit");
  o.limit = 1;
  o.warn_ratio = 0;
  expect(o, "warn_ratio");
  o.warn_ratio = 0.9;
  o.critical_ratio = 0.5;
  expect(o, "critical_ratio");
  o.critical_ratio = 0.95;
  o.hysteresis = -0.1;
  expect(o, "hysteresis");
  o.hysteresis = 0.9;  // Not below warn_ratio.
  expect(o, "hysteresis");
  o.hysteresis = 0;
  o.trend.enabled = true;
  o.trend.min_samples = 1;
  expect(o, "trend.");
  o.trend = GaugeCheckOptions::NoTrend();
  o.name = "bad name";
  expect(o, "name");
}

// With hysteresis a raised level holds until the ratio is that far below
// its threshold: no flapping while the value hovers around it.
TEST(GaugeCheckTest, HysteresisHoldsALevelUntilTheRatioFallsBelowTheBand) {
  std::atomic<int64_t> in_use{0};
  GaugeCheckOptions o;
  o.name = "db-pool";
  o.atomic = &in_use;
  o.limit = 100;
  o.hysteresis = 0.05;
  absl::StatusOr<Check> c = GaugeCheck(o);
  ASSERT_TRUE(c.ok()) << c.status();
  in_use = 80;
  EXPECT_EQ(RunCheckOnce(*c).status, Status::kDegraded);
  in_use = 77;  // Below 80 %, above 75 %: still warning.
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kDegraded);
  EXPECT_EQ(r.message, "77 of 100 count (77% of limit, warning at 80%)");
  in_use = 96;
  EXPECT_EQ(RunCheckOnce(*c).status, Status::kUnhealthy);
  in_use = 92;  // Above 90 % (95 - 5): still critical.
  EXPECT_EQ(RunCheckOnce(*c).status, Status::kUnhealthy);
  in_use = 89;
  EXPECT_EQ(RunCheckOnce(*c).status, Status::kDegraded);
  in_use = 74;
  EXPECT_EQ(RunCheckOnce(*c).status, Status::kHealthy);
  // Without hysteresis (the default) the same 77 is healthy at once.
  o.hysteresis = 0;
  absl::StatusOr<Check> plain = GaugeCheck(o);
  ASSERT_TRUE(plain.ok());
  in_use = 80;
  EXPECT_EQ(RunCheckOnce(*plain).status, Status::kDegraded);
  in_use = 77;
  EXPECT_EQ(RunCheckOnce(*plain).status, Status::kHealthy);
}

// With a trend, a pool filling steadily is DEGRADED before any threshold,
// once the predicted exhaustion is within the horizon, and the result says
// when. Runs are timed by the (fake) registry clock.
TEST(GaugeCheckTest, TrendPredictsExhaustionWithinTheHorizon) {
  std::atomic<int64_t> in_use{10};
  GaugeCheckOptions o;
  o.name = "db-pool";
  o.atomic = &in_use;
  o.limit = 100;
  o.unit = "connections";
  o.trend.enabled = true;
  o.trend.min_span = absl::Seconds(60);
  o.trend.min_samples = 6;
  o.trend.horizon = absl::Minutes(5);
  absl::StatusOr<Check> c = GaugeCheck(o);
  ASSERT_TRUE(c.ok()) << c.status();
  vigil::testing::FakeClock clock;
  CheckResult r;
  // One more connection every 10 s: 0.1/s.
  for (int i = 0; i < 6; ++i) {
    r = RunCheckOnce(*c, &clock);
    EXPECT_EQ(r.status, Status::kHealthy) << r.message;
    EXPECT_FALSE(r.time_to_exhaustion.has_value()) << i;  // Not yet 60 s.
    clock.Advance(absl::Seconds(10));
    ++in_use;
  }
  // 16 of 100 at 0.1/s: full in 840 s, beyond the 5 min horizon.
  r = RunCheckOnce(*c, &clock);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  ASSERT_TRUE(r.time_to_exhaustion.has_value());
  EXPECT_EQ(*r.time_to_exhaustion, absl::Seconds(840));
  EXPECT_EQ(r.message, "16 of 100 connections (16% of limit, full in 14m)");
  // Faster: 3 per 10 s. Theil-Sen's median slope follows once most pairs
  // span the new rate.
  for (int i = 0; i < 12 && r.status == Status::kHealthy; ++i) {
    clock.Advance(absl::Seconds(10));
    in_use += 3;
    r = RunCheckOnce(*c, &clock);
  }
  EXPECT_EQ(r.status, Status::kDegraded) << r.message;
  EXPECT_EQ(r.details["reason"], "trend");
  ASSERT_TRUE(r.time_to_exhaustion.has_value());
  EXPECT_LE(*r.time_to_exhaustion, absl::Minutes(5));
  EXPECT_THAT(r.message, HasSubstr("within the 5m horizon"));
  EXPECT_LT(in_use.load(), 80);  // Before the 80 % warning threshold.
}

}  // namespace
}  // namespace checks
}  // namespace vigil
