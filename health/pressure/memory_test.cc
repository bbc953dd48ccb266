#include "health/pressure/memory.h"

#include <filesystem>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "health/pressure/testing/test_util.h"
#include "health/testing/fake_clock.h"
#include "health/testing/temp_dir.h"

namespace vigil {
namespace pressure {
namespace {

using testing::CopyFixture;
using testing::FixtureRoot;
using vigil::testing::SetFile;

constexpr double kMiB = 1024.0 * 1024.0;
const char kApp[] = "/sys/fs/cgroup/system.slice/app.service";

std::unique_ptr<MemoryDetector> Make(const std::string& root, Clock* clock,
                                     MemoryOptions o = {}) {
  o.source.root = root;
  o.clock = clock;
  absl::StatusOr<std::unique_ptr<MemoryDetector>> d =
      MemoryDetector::Create(std::move(o));
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *std::move(d) : nullptr;
}

std::string Detail(const CheckResult& r, const std::string& key) {
  auto it = r.details.find(key);
  return it == r.details.end() ? "<absent>" : it->second;
}

class MemoryFixtureTest : public ::testing::Test {
 protected:
  vigil::testing::FakeClock clock_;
};

TEST_F(MemoryFixtureTest, V2WorkingSetAgainstOwnLimit) {
  auto d = Make(FixtureRoot("v2"), &clock_);
  const MemoryReading& r = d->Sample();
  // memory.current 450 MiB − inactive_file 50 MiB, memory.max 512 MiB.
  EXPECT_DOUBLE_EQ(*r.working_set_bytes, 400 * kMiB);
  EXPECT_DOUBLE_EQ(*r.limit_bytes, 512 * kMiB);
  EXPECT_TRUE(r.limit_from_cgroup);
  EXPECT_DOUBLE_EQ(*r.usage_ratio, 400.0 / 512.0);
  EXPECT_TRUE(r.psi_cgroup_local);
  EXPECT_DOUBLE_EQ(*r.psi_some_avg10, 1.5);
  EXPECT_DOUBLE_EQ(*r.psi_full_avg10, 0.25);
  EXPECT_EQ(r.oom_kills, 1u);
  EXPECT_EQ(r.oom_events, 2u);
  EXPECT_FALSE(r.host_available_bytes.has_value());
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kHealthy) << c.message;
  EXPECT_EQ(c.observed_unit, "ratio");
  EXPECT_DOUBLE_EQ(*c.observed_value, 400.0 / 512.0);
  EXPECT_EQ(*c.warn_threshold, 0.80);
  EXPECT_EQ(*c.critical_threshold, 0.90);
  EXPECT_EQ(Detail(c, "cgroup"), "v2 /sys/fs/cgroup/system.slice/app.service");
  EXPECT_EQ(Detail(c, "cgroup_mode"), "v2");
  EXPECT_EQ(Detail(c, "limit_source"), "cgroup");
  EXPECT_EQ(Detail(c, "psi_scope"), "cgroup");
  EXPECT_EQ(Detail(c, "signals"),
            "cgroup_usage,inactive_file,cgroup_limit,psi,oom_counters");
  EXPECT_EQ(Detail(c, "unavailable"), "<absent>");
  EXPECT_NE(Detail(c, "not_applicable").find("host_meminfo"),
            std::string::npos);
  EXPECT_NE(c.message.find("working set 400.0 MiB of 512.0 MiB limit (78.1%)"),
            std::string::npos)
      << c.message;
}

TEST_F(MemoryFixtureTest, V1UsesHierarchicalInactiveFileAndLimit) {
  auto d = Make(FixtureRoot("v1"), &clock_);
  const MemoryReading& r = d->Sample();
  // usage 200 MiB − total_inactive_file 10 MiB (not the local 5 MiB).
  EXPECT_DOUBLE_EQ(*r.working_set_bytes, 190 * kMiB);
  EXPECT_DOUBLE_EQ(*r.limit_bytes, 256 * kMiB);
  EXPECT_EQ(r.oom_kills, 3u);
  EXPECT_EQ(r.under_oom, false);
  EXPECT_FALSE(r.oom_events.has_value());  // v2 only.
  EXPECT_FALSE(r.psi_cgroup_local);        // v1 has no cgroup PSI.
  EXPECT_DOUBLE_EQ(*r.psi_some_avg10, 0.10);
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kHealthy);
  EXPECT_EQ(Detail(c, "cgroup"), "v1 /sys/fs/cgroup/memory/docker/abc");
  EXPECT_EQ(Detail(c, "psi_scope"), "system");
}

TEST_F(MemoryFixtureTest, V1ContainerSeesTheInvisibleAncestorsLimit) {
  // Visible limit_in_bytes is "unlimited"; the kernel's
  // hierarchical_memory_limit says 512 MiB.
  auto d = Make(FixtureRoot("v1_container"), &clock_);
  const MemoryReading& r = d->Sample();
  EXPECT_DOUBLE_EQ(*r.limit_bytes, 512 * kMiB);
  EXPECT_TRUE(r.limit_from_cgroup);
  EXPECT_DOUBLE_EQ(*r.usage_ratio, 190.0 / 512.0);
}

TEST_F(MemoryFixtureTest, HybridCriticalHeadroomWithCgroupLocalPsi) {
  auto d = Make(FixtureRoot("hybrid"), &clock_);
  const MemoryReading& r = d->Sample();
  // 120 MiB − 2 MiB of a 128 MiB v1 limit: 92.2%.
  EXPECT_DOUBLE_EQ(*r.working_set_bytes, 118 * kMiB);
  EXPECT_DOUBLE_EQ(*r.limit_bytes, 128 * kMiB);
  // PSI from the unified hierarchy's cgroup of the process.
  EXPECT_TRUE(r.psi_cgroup_local);
  EXPECT_DOUBLE_EQ(*r.psi_some_avg10, 45);
  EXPECT_DOUBLE_EQ(*r.psi_full_avg10, 20);
  EXPECT_EQ(r.level, Level::kCritical);
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kUnhealthy);
  EXPECT_EQ(Detail(c, "cgroup_mode"), "hybrid");
  EXPECT_NE(c.message.find("critical threshold 90.0%"), std::string::npos)
      << c.message;
  EXPECT_NE(c.message.find("memory stall (PSI cgroup)"), std::string::npos)
      << c.message;
}

TEST_F(MemoryFixtureTest, NoCgroupLimitUsesHostMemAvailable) {
  auto d = Make(FixtureRoot("nolimit"), &clock_);
  const MemoryReading& r = d->Sample();
  EXPECT_FALSE(r.limit_from_cgroup);
  EXPECT_DOUBLE_EQ(*r.limit_bytes, 16 * 1024 * kMiB);
  EXPECT_DOUBLE_EQ(*r.host_available_bytes, 8 * 1024 * kMiB);
  EXPECT_DOUBLE_EQ(*r.usage_ratio, 0.5);
  // The cgroup's own usage is still reported.
  EXPECT_DOUBLE_EQ(*r.cgroup_usage_bytes, 450 * kMiB);
  CheckResult c = d->Result();
  EXPECT_EQ(Detail(c, "limit_source"), "host");
  EXPECT_NE(c.message.find("host memory used 8.0 GiB of 16.0 GiB (50.0%)"),
            std::string::npos)
      << c.message;
}

TEST_F(MemoryFixtureTest, NestedLimitsTheTightestAncestorBinds) {
  // /a: 300 MiB of 1 GiB; /a/b: 200 MiB of 256 MiB (siblings of c use most
  // of it); /a/b/c (ours): 160 − 32 MiB, no max, memory.high 384 MiB. The
  // parent's limit is the one that will OOM-kill us: 78% of it is used.
  auto d = Make(FixtureRoot("nested"), &clock_);
  const MemoryReading& r = d->Sample();
  EXPECT_DOUBLE_EQ(*r.limit_bytes, 256 * kMiB);
  EXPECT_DOUBLE_EQ(*r.working_set_bytes, 200 * kMiB);
  EXPECT_EQ(r.limit_depth, 1);
  EXPECT_EQ(Detail(d->Result(), "limit_cgroup"), "/sys/fs/cgroup/a/b");
  // Our own cgroup's usage is still what cgroup_usage reports.
  EXPECT_DOUBLE_EQ(*r.cgroup_usage_bytes, 160 * kMiB);
}

TEST_F(MemoryFixtureTest, MemoryHighCountsAsALimit) {
  const std::string root = CopyFixture("nested");
  SetFile(root, "/sys/fs/cgroup/a/b/c/memory.high",
          absl::StrCat(static_cast<int64_t>(150 * kMiB), "\n"));
  auto d = Make(root, &clock_);
  const MemoryReading& r = d->Sample();
  // 128 MiB of 150 MiB (85%) is now tighter than the parent's 78%.
  EXPECT_DOUBLE_EQ(*r.limit_bytes, 150 * kMiB);
  EXPECT_DOUBLE_EQ(*r.working_set_bytes, 128 * kMiB);
  EXPECT_EQ(r.limit_depth, 0);
  EXPECT_EQ(d->Result().status, Status::kDegraded);
}

TEST_F(MemoryFixtureTest, PsiAbsentIsReportedNotFaked) {
  auto d = Make(FixtureRoot("nopsi"), &clock_);
  const MemoryReading& r = d->Sample();
  EXPECT_FALSE(r.psi_some_avg10.has_value());
  EXPECT_FALSE(r.psi_full_avg10.has_value());
  EXPECT_TRUE(r.usage_ratio.has_value());
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kHealthy);
  EXPECT_EQ(Detail(c, "psi_some_avg10"), "<absent>");
  EXPECT_NE(Detail(c, "unavailable").find("psi: "), std::string::npos);
  EXPECT_NE(
      Detail(c, "unavailable").find("/proc/pressure/memory: No such file"),
      std::string::npos)
      << Detail(c, "unavailable");
  EXPECT_EQ(Detail(c, "signals").find("psi"), std::string::npos);
}

TEST_F(MemoryFixtureTest, UnreadableFilesDegradeGracefully) {
  auto d = Make(FixtureRoot("unreadable"), &clock_);
  const MemoryReading& r = d->Sample();
  // memory.stat unreadable: the working set falls back to the whole usage
  // (an overestimate, said so in details), never to a made-up zero.
  EXPECT_FALSE(r.inactive_file_bytes.has_value());
  EXPECT_DOUBLE_EQ(*r.working_set_bytes, 450 * kMiB);
  EXPECT_FALSE(r.oom_kills.has_value());
  EXPECT_FALSE(r.psi_some_avg10.has_value());
  CheckResult c = d->Result();
  // 450/512 = 87.9%: warn.
  EXPECT_EQ(c.status, Status::kDegraded) << c.message;
  const std::string unavailable = Detail(c, "unavailable");
  EXPECT_NE(unavailable.find("inactive_file: "), std::string::npos);
  EXPECT_NE(unavailable.find("memory.stat: Is a directory"), std::string::npos)
      << unavailable;
  EXPECT_NE(unavailable.find("oom_counters: "), std::string::npos);
  EXPECT_NE(unavailable.find("psi: "), std::string::npos);
  EXPECT_NE(Detail(c, "working_set").find("overestimates"), std::string::npos);
}

TEST_F(MemoryFixtureTest, NothingReadableIsDegradedNotHealthy) {
  const std::string root = ::testing::TempDir() + "/memory-empty-root";
  std::filesystem::create_directories(root);
  auto d = Make(root, &clock_);
  d->Sample();
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kDegraded);
  EXPECT_TRUE(absl::StartsWith(c.message, "no memory signal readable"))
      << c.message;
  EXPECT_FALSE(c.observed_value.has_value());
}

// A copied v2 fixture with a 1,000,000,000-byte limit and no inactive file
// pages, so usage values map to round ratios.
class MemoryTransitionsTest : public MemoryFixtureTest {
 protected:
  void SetUp() override {
    root_ = CopyFixture("v2");
    SetFile(root_, std::string(kApp) + "/memory.max", "1000000000\n");
    SetFile(root_, std::string(kApp) + "/memory.stat", "inactive_file 0\n");
    SetUsage(100000000);
  }
  void SetUsage(int64_t bytes) {
    SetFile(root_, std::string(kApp) + "/memory.current",
            absl::StrCat(bytes, "\n"));
  }
  void SetPsi(double some, double full) {
    SetFile(root_, std::string(kApp) + "/memory.pressure",
            absl::StrFormat("some avg10=%.2f avg60=0 avg300=0 total=1\n"
                            "full avg10=%.2f avg60=0 avg300=0 total=1\n",
                            some, full));
  }
  Status Step(int64_t usage, absl::Duration dt = absl::Seconds(5)) {
    SetUsage(usage);
    clock_.Advance(dt);
    return d_->Run().status;
  }
  std::string root_;
  std::unique_ptr<MemoryDetector> d_;
};

TEST_F(MemoryTransitionsTest, ThresholdsAndHysteresisAtTheBoundaries) {
  MemoryOptions o;
  o.trend.enabled = false;
  d_ = Make(root_, &clock_, o);
  EXPECT_EQ(Step(799999999), Status::kHealthy);
  EXPECT_EQ(Step(800000000), Status::kDegraded);  // 0.80 = warn.
  EXPECT_EQ(Step(899999999), Status::kDegraded);
  EXPECT_EQ(Step(900000000), Status::kUnhealthy);  // 0.90 = critical.
  EXPECT_EQ(Step(870000000), Status::kUnhealthy);  // 0.87 = 0.90 − 0.03.
  EXPECT_EQ(Step(869999999), Status::kDegraded);
  EXPECT_EQ(Step(770000000), Status::kDegraded);  // 0.77 = 0.80 − 0.03.
  EXPECT_EQ(Step(769999999), Status::kHealthy);
  EXPECT_EQ(Step(790000000), Status::kHealthy);  // Rises only at 0.80.
}

TEST_F(MemoryTransitionsTest, LimitChangesAreSeenOnTheNextSample) {
  d_ = Make(root_, &clock_);
  EXPECT_EQ(Step(850000000), Status::kDegraded);
  SetFile(root_, std::string(kApp) + "/memory.max", "2000000000\n");
  EXPECT_EQ(Step(850000000), Status::kHealthy);
  EXPECT_DOUBLE_EQ(*d_->LatestReading().limit_bytes, 2e9);
}

TEST_F(MemoryTransitionsTest, TrendWarnsBeforeTheStaticThreshold) {
  MemoryOptions o;  // Trend: 30 s minimum span, 10 min horizon.
  d_ = Make(root_, &clock_, o);
  // 1 MB/s from 100 MB. At t=30 s (130 MB) the trend speaks: 870 s left.
  int64_t usage = 100000000;
  EXPECT_EQ(Step(usage, absl::ZeroDuration()), Status::kHealthy);
  std::optional<absl::Duration> first_tte;
  int seconds = 0;
  while (seconds < 1000) {
    seconds += 5;
    usage += 5000000;
    const Status s = Step(usage);
    const MemoryReading r = d_->LatestReading();
    if (!first_tte && r.time_to_exhaustion) {
      first_tte = r.time_to_exhaustion;
      EXPECT_EQ(seconds, 30);
      EXPECT_NEAR(absl::ToDoubleSeconds(*first_tte), 870, 1);
      EXPECT_EQ(s, Status::kHealthy);
    }
    if (s != Status::kHealthy) break;
  }
  // DEGRADED when 600 s are left: at 400 MB, 40% of the limit, long before
  // the 80% warn threshold.
  EXPECT_EQ(seconds, 300);
  CheckResult c = d_->Result();
  EXPECT_EQ(c.status, Status::kDegraded);
  ASSERT_TRUE(c.time_to_exhaustion.has_value());
  EXPECT_NEAR(absl::ToDoubleSeconds(*c.time_to_exhaustion), 600, 1);
  EXPECT_NE(c.message.find("full in 10m00s at 976.6 KiB/s (within the 10m00s "
                           "horizon)"),
            std::string::npos)
      << c.message;
  EXPECT_EQ(Detail(c, "fill_rate_bytes_per_second"), "1000000");
  EXPECT_EQ(Detail(c, "time_to_exhaustion_seconds"), "600");
}

TEST_F(MemoryTransitionsTest, SpikeFailsReadinessBeforeTheStaticThresholds) {
  MemoryOptions o;  // Spike: 5 s window, 3 samples over 0.5 s, 10 s / 4 s.
  d_ = Make(root_, &clock_, o);
  const absl::Duration dt = absl::Milliseconds(250);
  // 100 MB/s from 300 MB, sampled every 250 ms (as kernel events re-run
  // the check): the third sample (350 MB) predicts 6.5 s to the limit.
  EXPECT_EQ(Step(300000000, absl::ZeroDuration()), Status::kHealthy);
  EXPECT_EQ(Step(325000000, dt), Status::kHealthy);  // Two samples: silent.
  EXPECT_EQ(Step(350000000, dt), Status::kDegraded);
  EXPECT_NEAR(
      absl::ToDoubleSeconds(*d_->LatestReading().spike_time_to_exhaustion), 6.5,
      1e-6);
  int64_t usage = 350000000;
  while (usage < 575000000) {
    usage += 25000000;
    EXPECT_EQ(Step(usage, dt), Status::kDegraded) << usage;
  }
  // 575 MB: 4.25 s left, one step shy of the 4 s floor; 600 MB: 4.0 s.
  EXPECT_EQ(Step(600000000, dt), Status::kUnhealthy);
  CheckResult c = d_->Result();
  EXPECT_EQ(c.status, Status::kUnhealthy);
  ASSERT_TRUE(c.time_to_exhaustion.has_value());
  EXPECT_NEAR(absl::ToDoubleSeconds(*c.time_to_exhaustion), 4.0, 1e-6);
  EXPECT_EQ(Detail(c, "spike_fill_rate_bytes_per_second"), "100000000");
  EXPECT_EQ(Detail(c, "spike_time_to_exhaustion_seconds"), "4");
  EXPECT_TRUE(absl::StrContains(c.message, "spike: full in 4.0s")) << c.message;
  EXPECT_TRUE(absl::StrContains(c.message, "below the 4.0s floor"))
      << c.message;
  // Growth stops at 60%: within the 5 s window the flat samples win and the
  // check recovers without any static threshold involved.
  int steps = 0;
  while (d_->Run().status != Status::kHealthy && steps < 40) {
    ++steps;
    Step(600000000, dt);
  }
  EXPECT_LT(steps, 40);
}

TEST_F(MemoryTransitionsTest, SpikeIsSilentAtTheRegularInterval) {
  d_ = Make(root_, &clock_);
  Step(100000000, absl::ZeroDuration());
  Step(500000000);  // +400 MB in 5 s, then +300 MB: no short-window trend.
  EXPECT_EQ(Step(800000000), Status::kDegraded);  // The 80% threshold only.
  CheckResult c = d_->Result();
  EXPECT_EQ(Detail(c, "spike_fill_rate_bytes_per_second"), "<absent>");
  EXPECT_FALSE(absl::StrContains(c.message, "spike")) << c.message;
}

TEST(MemoryOptionsTest, SpikeOptionsAreValidated) {
  MemoryOptions o;
  o.spike.critical_horizon = o.spike.horizon + absl::Seconds(1);
  EXPECT_TRUE(absl::StrContains(o.Validate().message(), "memory.spike"))
      << o.Validate();
}

TEST_F(MemoryTransitionsTest, TrendWaitsForItsMinimumWindow) {
  d_ = Make(root_, &clock_);
  Step(100000000, absl::ZeroDuration());
  Step(900000000);  // A jump, 5 s later.
  CheckResult c = d_->Result();
  EXPECT_FALSE(c.time_to_exhaustion.has_value());
  EXPECT_NE(Detail(c, "trend").find("waiting for 30.0s"), std::string::npos)
      << Detail(c, "trend");
}

TEST_F(MemoryTransitionsTest, StallAloneIsAtMostDegraded) {
  MemoryOptions o;
  o.trend.enabled = false;
  d_ = Make(root_, &clock_, o);
  SetPsi(90, 60);  // Both far past critical.
  EXPECT_EQ(Step(400000000), Status::kDegraded);
  EXPECT_NE(d_->Result().message.find("headroom fine: capped at warn"),
            std::string::npos);
  // Once headroom is short too, the stall counts in full.
  EXPECT_EQ(Step(820000000), Status::kUnhealthy);
  // Headroom alone at warn without stall stays DEGRADED.
  SetPsi(0, 0);
  EXPECT_EQ(Step(820000000), Status::kDegraded);
}

TEST_F(MemoryTransitionsTest, StallThresholds) {
  MemoryOptions o;
  o.trend.enabled = false;
  d_ = Make(root_, &clock_, o);
  SetPsi(0, 9.99);
  EXPECT_EQ(Step(100000000), Status::kHealthy);
  SetPsi(0, 10);  // full warn.
  EXPECT_EQ(Step(100000000), Status::kDegraded);
  SetPsi(0, 8);  // 8 >= 10 − 2: held.
  EXPECT_EQ(Step(100000000), Status::kDegraded);
  SetPsi(0, 7.99);
  EXPECT_EQ(Step(100000000), Status::kHealthy);
  SetPsi(30, 0);  // some warn.
  EXPECT_EQ(Step(100000000), Status::kDegraded);
}

TEST_F(MemoryTransitionsTest, OomKillKeepsItDegradedForTheHold) {
  MemoryOptions o;
  o.trend.enabled = false;
  o.oom_kill_hold = absl::Minutes(5);
  d_ = Make(root_, &clock_, o);
  // The fixture's historic kill (oom_kill 1) is a baseline, not news.
  EXPECT_EQ(Step(100000000), Status::kHealthy);
  SetFile(root_, std::string(kApp) + "/memory.events",
          "low 0\nhigh 0\nmax 9\noom 3\noom_kill 2\noom_group_kill 0\n");
  EXPECT_EQ(Step(100000000), Status::kDegraded);
  EXPECT_NE(d_->Result().message.find("OOM kill in the cgroup"),
            std::string::npos);
  EXPECT_EQ(Step(100000000, absl::Seconds(299)), Status::kDegraded);
  EXPECT_EQ(Step(100000000, absl::Seconds(1)), Status::kHealthy);
}

TEST_F(MemoryFixtureTest, V1UnderOomIsUnhealthy) {
  const std::string root = CopyFixture("v1");
  SetFile(root, "/sys/fs/cgroup/memory/docker/abc/memory.oom_control",
          "oom_kill_disable 1\nunder_oom 1\noom_kill 3\n");
  auto d = Make(root, &clock_);
  d->Sample();
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kUnhealthy);
  EXPECT_NE(c.message.find("under OOM"), std::string::npos);
}

TEST_F(MemoryFixtureTest, ExplicitCgroupDir) {
  MemoryOptions o;
  o.source.cgroup_dir = "/sys/fs/cgroup/memory/docker/abc";
  auto d = Make(FixtureRoot("v1"), &clock_, o);
  EXPECT_EQ(d->CgroupDescription(), "v1 /sys/fs/cgroup/memory/docker/abc");
  const MemoryReading& r = d->Sample();
  EXPECT_DOUBLE_EQ(*r.working_set_bytes, 190 * kMiB);
  EXPECT_DOUBLE_EQ(*r.limit_bytes, 256 * kMiB);
  // Every file lives under that cgroup or is system-wide.
  for (const std::string& f : d->Files()) {
    EXPECT_TRUE(absl::StrContains(f, "/sys/fs/cgroup/memory") ||
                absl::StrContains(f, "/proc/pressure/memory"))
        << f;
  }
}

TEST(MemoryOptions, InvalidOptionsNameTheField) {
  MemoryOptions o;
  o.usage.warn = 0.95;
  absl::StatusOr<std::unique_ptr<MemoryDetector>> d = MemoryDetector::Create(o);
  ASSERT_TRUE(absl::IsInvalidArgument(d.status()));
  EXPECT_NE(d.status().message().find("memory.usage.critical"),
            absl::string_view::npos);
  o = MemoryOptions();
  o.source.root = "relative";
  EXPECT_NE(
      MemoryDetector::Create(o).status().message().find("memory.source.root"),
      absl::string_view::npos);
  o = MemoryOptions();
  o.source.root = FixtureRoot("v2");
  o.source.cgroup_dir = "/sys/fs/cgroup/missing";
  EXPECT_NE(MemoryDetector::Create(o).status().message().find(
                "memory.source.cgroup_dir"),
            absl::string_view::npos);
}

TEST(MemoryCheck, BuildsARegistrableCheck) {
  MemoryOptions o;
  o.source.root = FixtureRoot("v2");
  std::shared_ptr<MemoryDetector> detector;
  absl::StatusOr<Check> c = MemoryCheck(o, &detector);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "memory");
  EXPECT_TRUE(c->options.critical);
  EXPECT_EQ(c->options.failure_threshold, 1);
  EXPECT_EQ(c->options.interval, absl::Seconds(5));
  EXPECT_EQ(c->options.groups, std::vector<std::string>{"readiness"});
  EXPECT_TRUE(ValidateCheck(*c).ok());
  ASSERT_NE(detector, nullptr);
  CheckResult r = c->function(CheckContext{});
  EXPECT_EQ(r.status, Status::kHealthy);
  EXPECT_DOUBLE_EQ(*detector->LatestReading().working_set_bytes, 400 * kMiB);
}

}  // namespace
}  // namespace pressure
}  // namespace vigil
