#include "health/pressure/monitor.h"

#include <unistd.h>

#include <vector>

#include "gtest/gtest.h"
#include "health/pressure/testing/test_util.h"
#include "health/sync.h"
#include "health/testing/fake_clock.h"
#include "health/testing/require.h"
#include "health/testing/temp_dir.h"

namespace vigil {
namespace pressure {
namespace {

using testing::CopyFixture;
using testing::FixtureRoot;
using vigil::testing::SetFile;

TEST(PressureMonitor, LevelCombinesHeadroomAndStall) {
  MemoryOptions m;  // warn 0.80, psi_full critical 40.
  MemoryReading r;
  r.usage_ratio = 0.5;
  EXPECT_EQ(PressureMonitor::LevelFor(r, m, 0.6), 0);
  r.usage_ratio = 0.8;
  EXPECT_DOUBLE_EQ(PressureMonitor::LevelFor(r, m, 0.6), 0.5);
  r.usage_ratio = 1.0;
  EXPECT_DOUBLE_EQ(PressureMonitor::LevelFor(r, m, 0.6), 1.0);
  // Stall alone is capped at 0.5 while headroom is fine...
  r.usage_ratio = 0.3;
  r.psi_full_avg10 = 40;
  EXPECT_DOUBLE_EQ(PressureMonitor::LevelFor(r, m, 0.6), 0.5);
  // ...and counts in full once headroom is short.
  r.usage_ratio = 0.8;
  EXPECT_DOUBLE_EQ(PressureMonitor::LevelFor(r, m, 0.6), 1.0);
  r.psi_full_avg10 = 10;
  EXPECT_DOUBLE_EQ(PressureMonitor::LevelFor(r, m, 0.6), 0.5);
  // Nothing known: no pressure claimed.
  EXPECT_EQ(PressureMonitor::LevelFor(MemoryReading(), m, 0.6), 0);
}

TEST(PressureMonitor, CallbackOnFirstSampleAndOnChange) {
  const std::string root = CopyFixture("v2");
  const std::string app = "/sys/fs/cgroup/system.slice/app.service";
  SetFile(root, app + "/memory.max", "1000000000\n");
  SetFile(root, app + "/memory.stat", "inactive_file 0\n");
  SetFile(root, app + "/memory.current", "700000000\n");
  SetFile(root, app + "/memory.pressure",
          "some avg10=0.00 avg60=0 avg300=0 total=1\n"
          "full avg10=0.00 avg60=0 avg300=0 total=1\n");
  vigil::testing::FakeClock clock;
  std::vector<double> levels;
  PressureMonitorOptions o;
  o.memory.source.root = root;
  o.memory.clock = &clock;
  o.use_psi_trigger = false;
  o.callback = [&](double level, const MemoryReading&) {
    levels.push_back(level);
  };
  absl::StatusOr<std::unique_ptr<PressureMonitor>> m =
      PressureMonitor::Create(o);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE((*m)->using_psi_trigger());
  EXPECT_EQ((*m)->trigger_problem(), "disabled");
  EXPECT_NEAR((*m)->RunOnceForTest(), 0.25, 1e-9);        // (0.7 − 0.6) / 0.4
  SetFile(root, app + "/memory.current", "710000000\n");  // +0.025: quiet.
  (*m)->RunOnceForTest();
  SetFile(root, app + "/memory.current", "800000000\n");  // 0.5: called.
  (*m)->RunOnceForTest();
  SetFile(root, app + "/memory.current", "500000000\n");  // 0: called.
  (*m)->RunOnceForTest();
  ASSERT_EQ(levels.size(), 3u);
  EXPECT_NEAR(levels[0], 0.25, 1e-9);
  EXPECT_NEAR(levels[1], 0.5, 1e-9);
  EXPECT_EQ(levels[2], 0);
  EXPECT_EQ((*m)->level(), 0);
}

TEST(PressureMonitor, PollingThreadWithFakeClock) {
  vigil::testing::FakeClock clock;
  Mutex mu;
  int calls = 0;
  PressureMonitorOptions o;
  o.memory.source.root = FixtureRoot("hybrid");
  o.memory.clock = &clock;
  o.use_psi_trigger = false;
  o.min_change = 0;  // Every sample.
  o.callback = [&](double, const MemoryReading&) {
    MutexLock lock(&mu);
    ++calls;
  };
  absl::StatusOr<std::unique_ptr<PressureMonitor>> m =
      PressureMonitor::Create(o);
  ASSERT_TRUE(m.ok()) << m.status();
  (*m)->Start();
  {
    MutexLock lock(&mu);
    ASSERT_TRUE(
        mu.AwaitWithTimeout([&] { return calls >= 1; }, absl::Seconds(10)));
  }
  // The next sample waits for the fake clock.
  clock.Advance(absl::Seconds(1));
  {
    MutexLock lock(&mu);
    ASSERT_TRUE(
        mu.AwaitWithTimeout([&] { return calls >= 2; }, absl::Seconds(10)));
  }
  (*m)->Stop();
  // hybrid: 118 of 128 MiB used, PSI full 20 of 40:
  // max((0.921875 − 0.6) / 0.4, 0.5).
  EXPECT_NEAR((*m)->level(), 0.8046875, 1e-9);
}

TEST(PressureMonitor, ArmsAPsiTriggerWhereTheKernelAllows) {
  VIGIL_REQUIRE_OR_SKIP(access("/proc/pressure/memory", R_OK) == 0,
                        "no PSI on this kernel");
  Mutex mu;
  int calls = 0;
  PressureMonitorOptions o;
  o.callback = [&](double, const MemoryReading&) {
    MutexLock lock(&mu);
    ++calls;
  };
  absl::StatusOr<std::unique_ptr<PressureMonitor>> m =
      PressureMonitor::Create(o);
  ASSERT_TRUE(m.ok()) << m.status();
  // Unprivileged writers may only use 2 s multiples, which is the default.
  EXPECT_TRUE((*m)->using_psi_trigger()) << (*m)->trigger_problem();
  (*m)->Start();
  {
    MutexLock lock(&mu);
    EXPECT_TRUE(
        mu.AwaitWithTimeout([&] { return calls >= 1; }, absl::Seconds(10)));
  }
  (*m)->Stop();  // Wakes the poll() at once and joins.
  (*m)->Stop();  // Idempotent.
}

TEST(PressureMonitor, RefusedTriggerFallsBackToPolling) {
  PressureMonitorOptions o;
  o.callback = [](double, const MemoryReading&) {};
  o.memory.source.root = FixtureRoot("nopsi");  // No PSI file at all.
  absl::StatusOr<std::unique_ptr<PressureMonitor>> m =
      PressureMonitor::Create(o);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE((*m)->using_psi_trigger());
  EXPECT_EQ((*m)->trigger_problem(), "no memory PSI file");
}

TEST(PressureMonitor, InvalidOptions) {
  PressureMonitorOptions o;
  EXPECT_NE(
      PressureMonitor::Create(o).status().message().find("monitor.callback"),
      absl::string_view::npos);
  o.callback = [](double, const MemoryReading&) {};
  o.trigger_window = absl::Seconds(20);
  EXPECT_NE(PressureMonitor::Create(o).status().message().find(
                "monitor.trigger_window"),
            absl::string_view::npos);
  o.trigger_window = absl::Seconds(2);
  o.trigger_stall = absl::Seconds(3);
  EXPECT_TRUE(absl::IsInvalidArgument(PressureMonitor::Create(o).status()));
}

}  // namespace
}  // namespace pressure
}  // namespace vigil
