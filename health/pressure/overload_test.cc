#include "health/pressure/overload.h"

#include <atomic>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "health/registry.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace pressure {
namespace {

class OverloadTest : public ::testing::Test {
 protected:
  OverloadTest() : registry_(Options()) {}
  RegistryOptions Options() {
    RegistryOptions o;
    o.clock = &clock_;
    return o;
  }
  void SetUp() override {
    Check c;
    c.name = "memory";
    c.options.interval = absl::Seconds(5);
    c.options.failure_threshold = 1;  // As the pressure checks.
    c.options.success_threshold = 1;
    c.function = [this](const CheckContext&) {
      CheckResult r;
      r.status = static_cast<Status>(next_.load());
      return r;
    };
    ASSERT_TRUE(registry_.Register(c).ok());
  }
  // The memory check reports `s` at its next run, forced by RunNow().
  void Report(Status s) {
    next_.store(static_cast<int>(s));
    ASSERT_TRUE(registry_.RunNow("memory").ok());
    registry_.RunOnceForTest();
    ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  }

  vigil::testing::FakeClock clock_;
  HealthRegistry registry_;
  std::atomic<int> next_{static_cast<int>(Status::kHealthy)};
};

TEST_F(OverloadTest, ActionsFollowTheLevelWithAHold) {
  auto m = OverloadManager::Create(&registry_, {});
  ASSERT_TRUE(m.ok()) << m.status();
  OverloadManager& o = **m;
  std::vector<bool> trims;
  o.AddCallback("trim_caches", Status::kDegraded,
                [&](bool on) { trims.push_back(on); });
  EXPECT_FALSE(o.shedding());  // Not evaluated yet: no pressure.
  Report(Status::kHealthy);
  EXPECT_FALSE(o.shedding());
  EXPECT_FALSE(o.closing_connections());

  Report(Status::kDegraded);
  EXPECT_EQ(o.level(), Status::kDegraded);
  EXPECT_FALSE(o.shedding());  // Shed only at UNHEALTHY.
  EXPECT_TRUE(o.closing_connections());
  EXPECT_EQ(trims, std::vector<bool>{true});

  Report(Status::kUnhealthy);
  EXPECT_TRUE(o.shedding());
  EXPECT_EQ(o.retry_after_seconds(), 5);

  // Back to HEALTHY 1 s later: held for 2 s from each action's start.
  clock_.Advance(absl::Seconds(1));
  Report(Status::kHealthy);
  EXPECT_TRUE(o.shedding());
  clock_.Advance(absl::Seconds(1) - absl::Milliseconds(1));
  EXPECT_TRUE(o.shedding());  // 1 ms shy of the hold.
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_FALSE(o.shedding());  // Released by this read, no transition.
  EXPECT_FALSE(o.closing_connections());
  EXPECT_EQ(trims, (std::vector<bool>{true, false}));

  const std::vector<OverloadActionState> states = o.States();
  ASSERT_EQ(states.size(), 4u);
  EXPECT_EQ(states[0].name, "shed");
  EXPECT_EQ(states[0].activations, 1u);
  EXPECT_FALSE(states[0].active);
  EXPECT_EQ(states[2].name, "stop_accepting");  // Off unless configured.
  EXPECT_EQ(states[2].activations, 0u);
  EXPECT_FALSE(o.stopping_accept());
  EXPECT_EQ(states[3].name, "trim_caches");
  EXPECT_EQ(states[3].activations, 1u);
}

TEST_F(OverloadTest, RecoveryWithinTheHoldIsNotAFlap) {
  OverloadOptions opt;
  opt.hold = absl::Seconds(10);
  auto m = OverloadManager::Create(&registry_, opt);
  ASSERT_TRUE(m.ok());
  Report(Status::kUnhealthy);
  clock_.Advance(absl::Seconds(1));
  Report(Status::kHealthy);
  clock_.Advance(absl::Seconds(1));
  Report(Status::kUnhealthy);  // Flaps back: still one activation.
  EXPECT_TRUE((*m)->shedding());
  EXPECT_EQ((*m)->States()[0].activations, 1u);
}

TEST_F(OverloadTest, OptionsAreValidated) {
  OverloadOptions o;
  o.checks.clear();
  EXPECT_EQ(OverloadManager::Create(&registry_, o).status().message(),
            "overload.checks: must not be empty");
  o = OverloadOptions();
  o.retry_after = absl::ZeroDuration();
  EXPECT_EQ(OverloadManager::Create(&registry_, o).status().message(),
            "overload.retry_after: must be > 0");
}

}  // namespace
}  // namespace pressure
}  // namespace vigil
