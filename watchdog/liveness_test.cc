#include "watchdog/liveness.h"

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/registry.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class LivenessTest : public ::testing::Test {
 protected:
  LivenessTest() {
    WatchdogOptions w;
    w.clock = &clock_;
    w.start_thread = false;
    w.log_to_stderr = false;
    w.capture_stacks = false;
    w.starvation.enabled = false;
    w.root = "/nonexistent";  // No debugger, no cgroup.
    watchdog_ = std::make_unique<Watchdog>(w);
    RegistryOptions r;
    r.clock = &clock_;
    r.worker_threads = 1;
    registry_ = std::make_unique<HealthRegistry>(r);
  }

  // Moves both clocks' consumers to `d` later: the watchdog steps on time,
  // then the registry runs its due checks and publishes.
  void Advance(absl::Duration d) {
    const absl::Time target = clock_.Now() + d;
    absl::Time next = watchdog_->RunOnceForTest();
    while (next <= target) {
      clock_.SetNow(next);
      next = watchdog_->RunOnceForTest();
    }
    clock_.SetNow(target);
    watchdog_->RunOnceForTest();
    Evaluate();
  }
  void Evaluate() {
    registry_->RunOnceForTest();
    ASSERT_TRUE(registry_->WaitUntilIdleForTest());
    registry_->RunOnceForTest();
  }
  const CheckSnapshot& Result() {
    snapshot_ = registry_->snapshot();
    return *snapshot_->FindCheck("watchdog");
  }

  testing::FakeClock clock_;
  std::unique_ptr<Watchdog> watchdog_;
  std::unique_ptr<HealthRegistry> registry_;
  std::shared_ptr<const Snapshot> snapshot_;
};

TEST_F(LivenessTest, TheCheckIsASelfLivenessCheck) {
  const Check c = WatchdogLivenessCheck(*watchdog_);
  EXPECT_EQ(c.name, "watchdog");
  EXPECT_EQ(c.options.groups, std::vector<std::string>{"liveness"});
  EXPECT_EQ(c.options.kind, CheckKind::kSelf);
  EXPECT_TRUE(c.options.critical);
  EXPECT_EQ(c.options.failure_threshold, 1);
  EXPECT_TRUE(ValidateCheck(c).ok());
}

TEST_F(LivenessTest, LivenessFailsOnlyPastTheKillThresholdNamingTheThread) {
  // Re-read every millisecond, so each Advance() below re-evaluates it.
  WatchdogLivenessOptions o;
  o.interval = absl::Milliseconds(1);
  ASSERT_TRUE(RegisterWatchdogLiveness(*registry_, *watchdog_, o).ok());
  HeartbeatOptions h;
  h.miss_after = absl::Seconds(1);
  h.long_miss_after = absl::Seconds(2);
  h.kill_after = absl::Seconds(5);
  Heartbeat hb = watchdog_->Register("request-loop", h).value();
  Heartbeat other = watchdog_->Register("timer-loop", h).value();
  Evaluate();
  EXPECT_EQ(registry_->GroupStatus(kLiveness), Status::kHealthy);
  EXPECT_EQ(Result().result.message, "2 heartbeats within their deadlines");

  // Missed but not hung yet: liveness still passes, details say why.
  for (int i = 0; i < 30; ++i) {
    other.Beat();
    Advance(absl::Milliseconds(100));
  }
  EXPECT_EQ(registry_->GroupStatus(kLiveness), Status::kHealthy);
  EXPECT_THAT(Result().result.details.at("request-loop"),
              HasSubstr("long miss, silent for"));
  // 1 ms before the kill threshold: still passing.
  other.Beat();
  Advance(absl::Seconds(5) - absl::Milliseconds(3001));
  EXPECT_EQ(registry_->GroupStatus(kLiveness), Status::kHealthy);
  // 1 ms after: failing, with the thread named.
  other.Beat();
  Advance(absl::Milliseconds(2));
  EXPECT_EQ(registry_->GroupStatus(kLiveness), Status::kUnhealthy);
  const CheckResult& r = Result().result;
  EXPECT_THAT(r.message, AllOf(HasSubstr("heartbeat \"request-loop\" (thread "),
                               HasSubstr("past its kill threshold 5s")));
  EXPECT_THAT(r.message, ::testing::Not(HasSubstr("timer-loop")));
  EXPECT_EQ(r.observed_unit, "seconds");
  EXPECT_GE(*r.observed_value, 5.0);
  EXPECT_EQ(*r.critical_threshold, 5.0);

  // It beats again: liveness recovers.
  hb.Beat();
  other.Beat();
  Advance(absl::Milliseconds(100));
  EXPECT_EQ(registry_->GroupStatus(kLiveness), Status::kHealthy);
}

}  // namespace
}  // namespace vigil
