#include "watchdog/internal/restart_policy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace internal {
namespace {

using ::testing::Eq;
using ::testing::Optional;

constexpr absl::Duration kMs = absl::Milliseconds(1);

RestartPolicyOptions Options() {
  RestartPolicyOptions o;
  o.initial_backoff = absl::Milliseconds(100);
  o.max_backoff = absl::Seconds(1);
  o.backoff_multiplier = 2;
  o.stable_uptime = absl::Seconds(30);
  o.max_restarts = 3;
  o.restart_window = absl::Seconds(60);
  return o;
}

TEST(RestartPolicyTest, BackoffDoublesUpToItsCap) {
  RestartPolicyOptions o = Options();
  o.max_restarts = 100;
  o.restart_window = absl::Seconds(1);
  RestartPolicy p(o);
  testing::FakeClock clock;
  std::vector<absl::Duration> delays;
  for (int i = 0; i < 6; ++i) {
    const absl::Time started = clock.Now();
    clock.Advance(absl::Seconds(1));  // Each child lives 1 s.
    delays.push_back(*p.OnChildExit(started, clock.Now()));
  }
  EXPECT_THAT(delays, ::testing::ElementsAre(
                          absl::Milliseconds(100), absl::Milliseconds(200),
                          absl::Milliseconds(400), absl::Milliseconds(800),
                          absl::Seconds(1), absl::Seconds(1)));
}

TEST(RestartPolicyTest, AStableRunResetsTheBackoffAtItsBoundary) {
  RestartPolicyOptions o = Options();
  o.max_restarts = 100;
  RestartPolicy p(o);
  testing::FakeClock clock;
  absl::Time started = clock.Now();
  EXPECT_THAT(p.OnChildExit(started, started + kMs),
              Optional(Eq(absl::Milliseconds(100))));
  EXPECT_THAT(p.OnChildExit(started, started + kMs),
              Optional(Eq(absl::Milliseconds(200))));
  // Up 1 ms short of stable: no reset.
  EXPECT_THAT(p.OnChildExit(started, started + absl::Seconds(30) - kMs),
              Optional(Eq(absl::Milliseconds(400))));
  // Up for the stable uptime: back to the initial backoff.
  started += absl::Seconds(30);
  EXPECT_THAT(p.OnChildExit(started, started + absl::Seconds(30)),
              Optional(Eq(absl::Milliseconds(100))));
}

TEST(RestartPolicyTest, TheBudgetEndsSupervisionWithinItsWindow) {
  RestartPolicy p(Options());  // 3 restarts in 60 s.
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(p.OnChildExit(t0, t0 + absl::Seconds(1)).has_value());
  EXPECT_TRUE(p.OnChildExit(t0, t0 + absl::Seconds(2)).has_value());
  EXPECT_TRUE(p.OnChildExit(t0, t0 + absl::Seconds(3)).has_value());
  EXPECT_EQ(p.RestartsInWindow(t0 + absl::Seconds(3)), 3);
  // A fourth death within 60 s of the first restart: give up.
  EXPECT_FALSE(p.OnChildExit(t0, t0 + absl::Seconds(61) - kMs).has_value());
}

TEST(RestartPolicyTest, OldRestartsLeaveTheWindow) {
  RestartPolicy p(Options());
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(p.OnChildExit(t0, t0 + absl::Seconds(i)).has_value());
  }
  // 1 ms after the first restart left the 60 s window: allowed again.
  EXPECT_TRUE(p.OnChildExit(t0, t0 + absl::Seconds(61) + kMs).has_value());
  EXPECT_EQ(p.RestartsInWindow(t0 + absl::Seconds(61) + kMs), 3);
}

TEST(RestartPolicyTest, ZeroRestartsMeansTheFirstDeathEndsIt) {
  RestartPolicyOptions o = Options();
  o.max_restarts = 0;
  RestartPolicy p(o);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_FALSE(p.OnChildExit(t0, t0 + absl::Hours(1)).has_value());
}

TEST(SilenceDetectorTest, CountsOnlyWhileArmedAndStill) {
  testing::FakeClock clock;
  SilenceDetector d;
  d.Reset(clock.Now());
  clock.Advance(absl::Seconds(30));
  // Not armed (no watchdog in the child yet): never silent.
  EXPECT_EQ(d.Observe(0, false, clock.Now()), absl::ZeroDuration());
  // Armed: silence counts from the first armed observation.
  EXPECT_EQ(d.Observe(5, true, clock.Now()), absl::ZeroDuration());
  clock.Advance(absl::Seconds(2) - kMs);
  EXPECT_EQ(d.Observe(5, true, clock.Now()), absl::Seconds(2) - kMs);
  clock.Advance(2 * kMs);
  EXPECT_EQ(d.Observe(5, true, clock.Now()), absl::Seconds(2) + kMs);
  // Progress resets it.
  EXPECT_EQ(d.Observe(6, true, clock.Now()), absl::ZeroDuration());
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(d.Observe(6, true, clock.Now()), absl::Seconds(1));
  // Disarmed (the child's watchdog stopped on purpose): not silent.
  EXPECT_EQ(d.Observe(6, false, clock.Now()), absl::ZeroDuration());
}

}  // namespace
}  // namespace internal
}  // namespace vigil
