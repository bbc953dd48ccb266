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
  const CheckSnapshot* fds = registry.snapshot()->FindCheck("fds");
  ASSERT_NE(fds, nullptr);
  EXPECT_EQ(fds->groups, (std::vector<std::string>{"pressure", "readiness"}));
}

}  // namespace
}  // namespace pressure
}  // namespace vigil
