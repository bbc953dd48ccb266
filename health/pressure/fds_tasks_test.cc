#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "health/pressure/fds.h"
#include "health/pressure/tasks.h"
#include "health/pressure/testing/test_util.h"
#include "health/testing/fake_clock.h"
#include "health/testing/temp_dir.h"

namespace vigil {
namespace pressure {
namespace {

using testing::CopyFixture;
using testing::FixtureRoot;
using vigil::testing::SetFile;

std::string Detail(const CheckResult& r, const std::string& key) {
  auto it = r.details.find(key);
  return it == r.details.end() ? "<absent>" : it->second;
}

const char kLimitsHeader[] =
    "Limit                     Soft Limit           Hard Limit           "
    "Units\n";

std::string Limits(const std::string& nofile, const std::string& nproc) {
  return absl::StrCat(
      kLimitsHeader, "Max processes             ", nproc, "                 ",
      nproc, "                 processes\n", "Max open files            ",
      nofile, "                 ", nofile, "                 files\n");
}

class FdTest : public ::testing::Test {
 protected:
  std::unique_ptr<FdDetector> MakeFd(const std::string& root,
                                     FdOptions o = {}) {
    o.source.root = root;
    o.clock = &clock_;
    absl::StatusOr<std::unique_ptr<FdDetector>> d =
        FdDetector::Create(std::move(o));
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }
  vigil::testing::FakeClock clock_;
};

TEST_F(FdTest, FixtureCountsEntriesAgainstTheSoftLimit) {
  auto d = MakeFd(FixtureRoot("v2"));
  const FdReading& r = d->Sample();
  EXPECT_EQ(*r.open_fds, 10);
  EXPECT_EQ(*r.limit, 1024);
  EXPECT_FALSE(r.counted_by_fstat);  // Not procfs: entries are counted.
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kHealthy);
  EXPECT_EQ(c.message, "10 of 1024 file descriptors open (1.0%)");
  EXPECT_EQ(Detail(c, "count_method"), "readdir");
}

TEST_F(FdTest, ThisProcessMatchesAListingOfProcSelfFd) {
  auto d = MakeFd("/");
  const FdReading& r = d->Sample();
  int listed = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++listed;
  }
  // The listing itself holds one more descriptor while it runs.
  EXPECT_NEAR(*r.open_fds, listed - 1, 1);
  rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur != RLIM_INFINITY) {
    EXPECT_EQ(*r.limit, static_cast<double>(rl.rlim_cur));
  }
  // One more open descriptor is seen on the next sample.
  const double before = *r.open_fds;
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(*d->Sample().open_fds, before + 1);
  close(fd);
}

TEST_F(FdTest, ThresholdsAndHysteresisAtTheBoundaries) {
  const std::string root = CopyFixture("v2");
  SetFile(root, "/proc/self/limits", Limits("100", "100"));
  FdOptions o;
  o.trend.enabled = false;
  auto d = MakeFd(root, o);
  // The detector keeps the directory open and re-lists it every sample.
  int open_now = 10;
  auto status_at = [&](int n) {
    while (open_now < n) {
      std::FILE* f = std::fopen(
          absl::StrCat(root, "/proc/self/fd/", open_now++).c_str(), "w");
      std::fclose(f);
    }
    while (open_now > n) {
      std::filesystem::remove(absl::StrCat(root, "/proc/self/fd/", --open_now));
    }
    d->Sample();
    EXPECT_EQ(*d->LatestReading().open_fds, n);
    return d->Result().status;
  };
  EXPECT_EQ(status_at(79), Status::kHealthy);
  EXPECT_EQ(status_at(80), Status::kDegraded);  // 0.80 warn
  EXPECT_EQ(status_at(89), Status::kDegraded);
  EXPECT_EQ(status_at(90), Status::kUnhealthy);  // 0.90 critical
  EXPECT_EQ(status_at(87), Status::kUnhealthy);  // held: 0.87 = 0.90 − 0.03
  EXPECT_EQ(status_at(86), Status::kDegraded);
  EXPECT_EQ(status_at(77), Status::kDegraded);  // held: 0.77 = 0.80 − 0.03
  EXPECT_EQ(status_at(76), Status::kHealthy);
  EXPECT_EQ(status_at(79), Status::kHealthy);  // rises only at 0.80
}

TEST_F(FdTest, TrendPredictsTheLeak) {
  const std::string root = CopyFixture("v2");
  SetFile(root, "/proc/self/limits", Limits("1000", "100"));
  FdOptions o;  // 1 min span, 30 min horizon.
  auto d = MakeFd(root, o);
  int n = 10;
  for (int s = 0; s <= 60; s += 10) {
    // One descriptor leaked every 10 s.
    std::FILE* f =
        std::fopen(absl::StrCat(root, "/proc/self/fd/", n++).c_str(), "w");
    std::fclose(f);
    d->Sample();
    clock_.Advance(absl::Seconds(10));
  }
  const FdReading r = d->LatestReading();
  ASSERT_TRUE(r.time_to_exhaustion.has_value());
  EXPECT_NEAR(*r.fill_rate_per_second, 0.1, 1e-9);
  // 983 left at 0.1/s.
  EXPECT_NEAR(absl::ToDoubleSeconds(*r.time_to_exhaustion), 9830, 1);
  EXPECT_EQ(d->Result().status, Status::kHealthy);  // Beyond 30 min.
}

TEST_F(FdTest, UnreadableLimitReportsTheCountOnly) {
  auto d = MakeFd(FixtureRoot("unreadable"));
  const FdReading& r = d->Sample();
  EXPECT_EQ(*r.open_fds, 10);
  EXPECT_FALSE(r.limit.has_value());
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kHealthy);
  EXPECT_EQ(c.observed_unit, "count");
  EXPECT_NE(Detail(c, "unavailable").find("rlimit_nofile: "),
            std::string::npos);
}

TEST_F(FdTest, MissingProcessIsDegraded) {
  FdOptions o;
  o.source.pid = 999999999;
  auto d = MakeFd("/", o);
  d->Sample();
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kDegraded);
  EXPECT_TRUE(absl::StartsWith(c.message, "cannot count file descriptors"))
      << c.message;
}

class TasksTest : public ::testing::Test {
 protected:
  std::unique_ptr<TasksDetector> MakeTasks(const std::string& root,
                                           TasksOptions o = {}) {
    o.source.root = root;
    o.clock = &clock_;
    absl::StatusOr<std::unique_ptr<TasksDetector>> d =
        TasksDetector::Create(std::move(o));
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }
  vigil::testing::FakeClock clock_;
};

TEST_F(TasksTest, V2ThreeGauges) {
  auto d = MakeTasks(FixtureRoot("v2"));
  const TasksReading& r = d->Sample();
  EXPECT_EQ(*r.cgroup_pids, 42);
  EXPECT_EQ(*r.cgroup_pids_limit, 100);
  EXPECT_EQ(*r.process_threads, 12);
  EXPECT_EQ(*r.nproc_limit, 63704);
  EXPECT_EQ(*r.system_tasks, 412);
  EXPECT_EQ(*r.system_tasks_limit, 126000);  // min(threads-max, pid_max)
  EXPECT_DOUBLE_EQ(*r.usage_ratio, 0.42);
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kHealthy);
  EXPECT_EQ(Detail(c, "signals"), "cgroup_pids,process_threads,system_tasks");
  EXPECT_NE(c.message.find("cgroup: 42 of 100 pids (42.0%)"), std::string::npos)
      << c.message;
}

TEST_F(TasksTest, AncestorLimitSharedWithSiblingsBinds) {
  // /a: 90 of 100; /a/b/c (ours): 10 pids, no limit of its own.
  auto d = MakeTasks(FixtureRoot("nested"));
  const TasksReading& r = d->Sample();
  EXPECT_EQ(*r.cgroup_pids, 10);
  EXPECT_EQ(*r.cgroup_pids_used, 90);
  EXPECT_EQ(*r.cgroup_pids_limit, 100);
  EXPECT_EQ(d->Result().status, Status::kUnhealthy);  // 90%
}

TEST_F(TasksTest, V1PidsController) {
  auto d = MakeTasks(FixtureRoot("v1"));
  const TasksReading& r = d->Sample();
  EXPECT_EQ(*r.cgroup_pids, 30);
  EXPECT_EQ(*r.cgroup_pids_limit, 1000);
  EXPECT_EQ(Detail(d->Result(), "cgroup"), "v1 /sys/fs/cgroup/pids/docker/abc");
}

TEST_F(TasksTest, NoLimitIsNotApplicableAndUnlimitedNproc) {
  const std::string root = CopyFixture("hybrid");
  SetFile(root, "/proc/self/limits", Limits("1024", "unlimited"));
  auto d = MakeTasks(root);
  d->Sample();
  CheckResult c = d->Result();
  EXPECT_NE(Detail(c, "not_applicable").find("cgroup_pids: no pids.max limit"),
            std::string::npos)
      << Detail(c, "not_applicable");
  EXPECT_NE(Detail(c, "not_applicable")
                .find("process_threads: RLIMIT_NPROC unlimited"),
            std::string::npos);
  EXPECT_EQ(Detail(c, "signals"), "system_tasks");
}

TEST_F(TasksTest, ThresholdsOnTheCgroupGauge) {
  const std::string root = CopyFixture("v2");
  TasksOptions o;
  o.trend.enabled = false;
  auto d = MakeTasks(root, o);
  const std::string current =
      "/sys/fs/cgroup/system.slice/app.service/pids.current";
  SetFile(root, current, "79\n");
  d->Sample();
  EXPECT_EQ(d->Result().status, Status::kHealthy);
  SetFile(root, current, "80\n");
  d->Sample();
  EXPECT_EQ(d->Result().status, Status::kDegraded);
  SetFile(root, current, "90\n");
  d->Sample();
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kUnhealthy);
  EXPECT_EQ(c.message, "cgroup: 90 of 100 pids (90.0%)");
}

TEST_F(TasksTest, UnreadableFilesAreReported) {
  auto d = MakeTasks(FixtureRoot("unreadable"));
  d->Sample();
  CheckResult c = d->Result();
  const std::string unavailable = Detail(c, "unavailable");
  EXPECT_NE(unavailable.find("process_threads: "), std::string::npos)
      << unavailable;
  EXPECT_NE(unavailable.find("system_tasks: "), std::string::npos);
  EXPECT_EQ(Detail(c, "signals"), "cgroup_pids");
  EXPECT_EQ(c.status, Status::kHealthy);
}

TEST_F(TasksTest, ThisProcessOnTheRealMachine) {
  auto d = MakeTasks("/");
  const TasksReading& r = d->Sample();
  ASSERT_TRUE(r.process_threads.has_value());
  EXPECT_GE(*r.process_threads, 1);
  ASSERT_TRUE(r.system_tasks.has_value());
  EXPECT_GE(*r.system_tasks, *r.process_threads);
}

}  // namespace
}  // namespace pressure
}  // namespace vigil
