#include "health/pressure/defaults.h"

#include <algorithm>

#include "gtest/gtest.h"
#include "health/pressure/testing/test_util.h"
#include "health/registry.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace pressure {
namespace {

using testing::FixtureRoot;

TEST(RegisterDefaultDetectors, RegistersEveryDetectorOnAFixture) {
  vigil::testing::FakeClock clock;
  RegistryOptions ro;
  ro.clock = &clock;
  HealthRegistry registry(ro);
  DefaultDetectorOptions o;
  o.source.root = FixtureRoot("v2");
  o.clock = &clock;
  o.disk_paths = {"/", ::testing::TempDir()};
  DefaultDetectors detectors;
  absl::Status s = RegisterDefaultDetectors(registry, o, &detectors);
  ASSERT_TRUE(s.ok()) << s;
  std::vector<std::string> expected = {
      "cpu",    DefaultDiskCheckName(::testing::TempDir()),
      "disk:/", "fds",
      "io",     "memory",
      "tasks"};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(detectors.registered, expected);
  EXPECT_TRUE(detectors.skipped.empty());
  ASSERT_NE(detectors.memory, nullptr);
  EXPECT_EQ(detectors.disks.size(), 2u);

  registry.RunOnceForTest();
  ASSERT_TRUE(registry.WaitUntilIdleForTest());
  registry.RunOnceForTest();
  std::shared_ptr<const Snapshot> snap = registry.snapshot();
  const CheckSnapshot* memory = snap->FindCheck("memory");
  ASSERT_NE(memory, nullptr);
  EXPECT_EQ(memory->result.status, Status::kHealthy) << memory->result.message;
  EXPECT_TRUE(memory->critical);
  EXPECT_FALSE(snap->FindCheck("cpu")->critical);
  EXPECT_FALSE(snap->FindCheck("io")->critical);
  for (const CheckSnapshot& c : snap->checks) {
    EXPECT_EQ(c.groups, std::vector<std::string>{"readiness"}) << c.name;
    EXPECT_NE(c.result.status, Status::kUnknown) << c.name;
  }
  // The detectors are shared with the checks: their readings are live.
  EXPECT_TRUE(detectors.memory->LatestReading().working_set_bytes.has_value());
  EXPECT_EQ(registry.GroupStatus(kLiveness), Status::kHealthy);  // None there.
}

TEST(RegisterDefaultDetectors, SkipsDetectorsWithoutAnySignal) {
  HealthRegistry registry;
  DefaultDetectorOptions o;
  o.source.root = FixtureRoot("nopsi");
  DefaultDetectors detectors;
  ASSERT_TRUE(RegisterDefaultDetectors(registry, o, &detectors).ok());
  // No PSI: IO has nothing; CPU still has cgroup throttling.
  ASSERT_EQ(detectors.skipped.size(), 1u);
  EXPECT_NE(detectors.skipped[0].find("io: no IO pressure signal"),
            std::string::npos);
  EXPECT_EQ(detectors.io, nullptr);
  EXPECT_NE(detectors.cpu, nullptr);
  EXPECT_EQ(std::count(detectors.registered.begin(), detectors.registered.end(),
                       "io"),
            0);
}

TEST(RegisterDefaultDetectors, AllOrNothingOnError) {
  HealthRegistry registry;
  DefaultDetectorOptions o;
  o.source.root = FixtureRoot("v2");
  o.disk_paths = {"/", "/no/such/vigil/path"};
  absl::Status s = RegisterDefaultDetectors(registry, o);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_TRUE(registry.snapshot()->checks.empty());

  // A name clash unregisters what this call registered.
  Check clash;
  clash.name = "tasks";
  clash.function = [](const CheckContext&) { return CheckResult::Healthy(); };
  ASSERT_TRUE(registry.Register(clash).ok());
  o.disk_paths = {"/"};
  s = RegisterDefaultDetectors(registry, o);
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  registry.RunOnceForTest();
  EXPECT_EQ(registry.snapshot()->checks.size(), 1u);
}

TEST(RegisterDefaultDetectors, EnableFlagsAndGroups) {
  HealthRegistry registry;
  DefaultDetectorOptions o;
  o.source.root = FixtureRoot("v1");
  o.enable_cpu = o.enable_io = o.enable_tasks = false;
  o.disk_paths.clear();
  o.groups = {"readiness", "pressure"};
  DefaultDetectors detectors;
  ASSERT_TRUE(RegisterDefaultDetectors(registry, o, &detectors).ok());
  EXPECT_EQ(detectors.registered, (std::vector<std::string>{"fds", "memory"}));
  registry.RunOnceForTest();
  ASSERT_TRUE(registry.WaitUntilIdleForTest());
  // Kept alive while read: a later publication frees the previous one.
  const std::shared_ptr<const Snapshot> snapshot = registry.snapshot();
  const CheckSnapshot* fds = snapshot->FindCheck("fds");
  ASSERT_NE(fds, nullptr);
  EXPECT_EQ(fds->groups, (std::vector<std::string>{"pressure", "readiness"}));
}

// Fed at its check's own interval, each detector's default trend speaks
// once its samples span min_span (as the README promises), not later: kept
// samples are thinned to window / (capacity - 1) apart, and too few slots
// for the window delay min_samples (the disk's 30-minute window over 32
// slots once took 5 minutes instead of 2).
TEST(DefaultTrends, SpeakAfterTheirMinimumSpanAtTheCheckInterval) {
  struct Case {
    const char* name;
    TrendOptions trend;
    absl::Duration interval;
  };
  const Case cases[] = {
      {"memory", MemoryOptions().trend, MemoryOptions().check.interval},
      {"disk", DiskOptions().trend, DiskOptions().check.interval},
      {"fds", FdOptions().trend, FdOptions().check.interval},
      {"tasks", TasksOptions().trend, TasksOptions().check.interval},
  };
  const absl::Time t0 = absl::FromUnixSeconds(1767225600);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TrendEstimator t(c.trend);
    int i = 0;
    for (; i * c.interval < c.trend.min_span; ++i) {
      t.Add(t0 + i * c.interval, 1e3 * i);
      EXPECT_FALSE(t.Estimate(1e3 * i, 1e9).ready) << "at " << i * c.interval;
    }
    t.Add(t0 + i * c.interval, 1e3 * i);
    const TrendEstimate e = t.Estimate(1e3 * i, 1e9);
    EXPECT_TRUE(e.ready) << "at " << i * c.interval << ": " << e.samples
                         << " samples over " << e.span;
    EXPECT_NEAR(e.rate_per_second, 1e3 / absl::ToDoubleSeconds(c.interval),
                1e-6);
  }
}

}  // namespace
}  // namespace pressure
}  // namespace vigil
