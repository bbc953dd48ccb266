#include <filesystem>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "health/pressure/cpu.h"
#include "health/pressure/io.h"
#include "health/pressure/testing/test_util.h"
#include "health/testing/fake_clock.h"
#include "health/testing/temp_dir.h"

namespace vigil {
namespace pressure {
namespace {

using testing::CopyFixture;
using testing::FixtureRoot;
using vigil::testing::SetFile;

const char kApp[] = "/sys/fs/cgroup/system.slice/app.service";

std::string Detail(const CheckResult& r, const std::string& key) {
  auto it = r.details.find(key);
  return it == r.details.end() ? "<absent>" : it->second;
}

template <typename Detector, typename Options>
std::unique_ptr<Detector> Make(const std::string& root, Clock* clock,
                               Options o = {}) {
  o.source.root = root;
  o.clock = clock;
  absl::StatusOr<std::unique_ptr<Detector>> d = Detector::Create(std::move(o));
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *std::move(d) : nullptr;
}

class CpuTest : public ::testing::Test {
 protected:
  std::unique_ptr<CpuDetector> MakeCpu(const std::string& root,
                                       CpuOptions o = {}) {
    return Make<CpuDetector>(root, &clock_, std::move(o));
  }
  vigil::testing::FakeClock clock_;
};

TEST_F(CpuTest, V2CgroupPsiAndThrottlingOverTheWindow) {
  const std::string root = CopyFixture("v2");
  auto d = MakeCpu(root);
  const CpuReading& first = d->Sample();
  EXPECT_TRUE(first.psi_cgroup_local);
  EXPECT_DOUBLE_EQ(*first.psi_some_avg10, 12);
  EXPECT_DOUBLE_EQ(*first.quota_cpus, 0.5);
  EXPECT_EQ(first.nr_periods, 1000u);
  // One sample is no window: no throttling ratio yet, never a fake zero.
  EXPECT_FALSE(first.throttled_ratio.has_value());
  EXPECT_EQ(d->Result().status, Status::kHealthy);

  // 100 more periods, 24 throttled, 1.2 s throttled in 10 s.
  SetFile(root, std::string(kApp) + "/cpu.stat",
          "usage_usec 1\nnr_periods 1100\nnr_throttled 124\n"
          "throttled_usec 6200000\n");
  clock_.Advance(absl::Seconds(10));
  const CpuReading& r = d->Sample();
  EXPECT_DOUBLE_EQ(*r.throttled_ratio, 0.24);
  EXPECT_NEAR(*r.throttled_seconds_per_second, 0.12, 1e-9);
  EXPECT_EQ(d->Result().status, Status::kHealthy);

  // 25 of the next 100: exactly the warn threshold.
  SetFile(root, std::string(kApp) + "/cpu.stat",
          "nr_periods 1200\nnr_throttled 149\nthrottled_usec 7000000\n");
  clock_.Advance(absl::Seconds(10));
  d->Sample();
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kDegraded);
  EXPECT_NE(c.message.find("throttled in 25.0% of periods (quota 0.5 CPUs)"),
            std::string::npos)
      << c.message;

  // 50%: critical.
  SetFile(root, std::string(kApp) + "/cpu.stat",
          "nr_periods 1300\nnr_throttled 199\nthrottled_usec 9000000\n");
  clock_.Advance(absl::Seconds(10));
  d->Sample();
  EXPECT_EQ(d->Result().status, Status::kUnhealthy);

  // 21%: held at warn by the 0.05 hysteresis (0.21 < 0.50 − 0.05 but
  // >= 0.25 − 0.05); 19% clears.
  SetFile(root, std::string(kApp) + "/cpu.stat",
          "nr_periods 1400\nnr_throttled 220\nthrottled_usec 9000000\n");
  clock_.Advance(absl::Seconds(10));
  d->Sample();
  EXPECT_EQ(d->Result().status, Status::kDegraded);
  SetFile(root, std::string(kApp) + "/cpu.stat",
          "nr_periods 1500\nnr_throttled 239\nthrottled_usec 9000000\n");
  clock_.Advance(absl::Seconds(10));
  d->Sample();
  EXPECT_EQ(d->Result().status, Status::kHealthy);
}

TEST_F(CpuTest, V1QuotaAndNanosecondThrottledTime) {
  const std::string root = CopyFixture("v1");
  auto d = MakeCpu(root);
  const CpuReading& r = d->Sample();
  EXPECT_DOUBLE_EQ(*r.quota_cpus, 1.5);
  EXPECT_DOUBLE_EQ(*r.throttled_seconds_total, 2.5);
  EXPECT_FALSE(r.psi_cgroup_local);
  EXPECT_DOUBLE_EQ(*r.psi_some_avg10, 5);
  CheckResult c = d->Result();
  EXPECT_EQ(Detail(c, "cgroup"), "v1 /sys/fs/cgroup/cpu,cpuacct/docker/abc");
  EXPECT_EQ(Detail(c, "signals"), "psi,throttling");
}

TEST_F(CpuTest, HybridWithoutQuotaThrottlingIsNotApplicable) {
  auto d = MakeCpu(FixtureRoot("hybrid"));
  const CpuReading& r = d->Sample();
  EXPECT_TRUE(r.psi_cgroup_local);
  EXPECT_DOUBLE_EQ(*r.psi_some_avg10, 7);
  EXPECT_FALSE(r.quota_cpus.has_value());
  CheckResult c = d->Result();
  EXPECT_EQ(Detail(c, "not_applicable"), "throttling: no CPU quota");
  EXPECT_EQ(Detail(c, "unavailable"), "<absent>");
}

TEST_F(CpuTest, PsiThresholds) {
  const std::string root = CopyFixture("v2");
  auto d = MakeCpu(root);
  const std::string psi = std::string(kApp) + "/cpu.pressure";
  SetFile(root, psi, "some avg10=49.99 avg60=0 avg300=0 total=1\n");
  d->Sample();
  EXPECT_EQ(d->Result().status, Status::kHealthy);
  SetFile(root, psi, "some avg10=50.00 avg60=0 avg300=0 total=1\n");
  d->Sample();
  EXPECT_EQ(d->Result().status, Status::kDegraded);
  SetFile(root, psi, "some avg10=90.00 avg60=0 avg300=0 total=1\n");
  d->Sample();
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kUnhealthy);
  EXPECT_EQ(*c.observed_value, 90);
  EXPECT_EQ(c.observed_unit, "percent");
}

TEST_F(CpuTest, WithoutPsiThrottlingStillWorks) {
  auto d = MakeCpu(FixtureRoot("nopsi"));
  d->Sample();
  CheckResult c = d->Result();
  EXPECT_NE(Detail(c, "unavailable").find("psi: "), std::string::npos);
  EXPECT_EQ(Detail(c, "signals"), "throttling");
}

TEST_F(CpuTest, UnreadableEverythingIsDegraded) {
  auto d = MakeCpu(FixtureRoot("unreadable"));
  d->Sample();
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kDegraded);
  EXPECT_TRUE(absl::StartsWith(c.message, "no CPU signal readable"))
      << c.message;
  EXPECT_NE(c.message.find("Is a directory"), std::string::npos) << c.message;
}

TEST_F(CpuTest, NoSignalAtAllFailsCreation) {
  const std::string root = ::testing::TempDir() + "/cpu-empty-root";
  std::filesystem::create_directories(root);
  CpuOptions o;
  o.source.root = root;
  absl::StatusOr<std::unique_ptr<CpuDetector>> d = CpuDetector::Create(o);
  EXPECT_TRUE(absl::IsFailedPrecondition(d.status())) << d.status();
}

TEST_F(CpuTest, CheckIsNonCriticalByDefault) {
  CpuOptions o;
  o.source.root = FixtureRoot("v2");
  absl::StatusOr<Check> c = CpuCheck(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "cpu");
  EXPECT_FALSE(c->options.critical);
  EXPECT_TRUE(ValidateCheck(*c).ok());
}

class IoTest : public ::testing::Test {
 protected:
  std::unique_ptr<IoDetector> MakeIo(const std::string& root) {
    return Make<IoDetector>(root, &clock_, IoOptions());
  }
  vigil::testing::FakeClock clock_;
};

TEST_F(IoTest, CgroupLocalSomeAndFull) {
  const std::string root = CopyFixture("v2");
  auto d = MakeIo(root);
  const IoReading& r = d->Sample();
  EXPECT_TRUE(r.psi_cgroup_local);
  EXPECT_DOUBLE_EQ(*r.psi_some_avg10, 2);
  EXPECT_DOUBLE_EQ(*r.psi_full_avg10, 1);
  EXPECT_EQ(d->Result().status, Status::kHealthy);
  const std::string psi = std::string(kApp) + "/io.pressure";
  SetFile(root, psi,
          "some avg10=12.00 avg60=0 avg300=0 total=1\n"
          "full avg10=10.00 avg60=0 avg300=0 total=1\n");
  d->Sample();
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kDegraded);
  EXPECT_EQ(c.message, "IO stall (PSI cgroup): some 12%, full 10%");
  SetFile(root, psi,
          "some avg10=12.00 avg60=0 avg300=0 total=1\n"
          "full avg10=40.00 avg60=0 avg300=0 total=1\n");
  d->Sample();
  EXPECT_EQ(d->Result().status, Status::kUnhealthy);
  SetFile(root, psi,
          "some avg10=70.00 avg60=0 avg300=0 total=1\n"
          "full avg10=0.00 avg60=0 avg300=0 total=1\n");
  d->Sample();
  EXPECT_EQ(d->Result().status, Status::kUnhealthy);  // some critical.
}

TEST_F(IoTest, V1FallsBackToSystemPsi) {
  auto d = MakeIo(FixtureRoot("v1"));
  const IoReading& r = d->Sample();
  EXPECT_FALSE(r.psi_cgroup_local);
  EXPECT_DOUBLE_EQ(*r.psi_some_avg10, 0.2);
  EXPECT_EQ(Detail(d->Result(), "psi_scope"), "system");
}

TEST_F(IoTest, WithoutPsiCreationFails) {
  IoOptions o;
  o.source.root = FixtureRoot("nopsi");
  absl::StatusOr<std::unique_ptr<IoDetector>> d = IoDetector::Create(o);
  ASSERT_TRUE(absl::IsFailedPrecondition(d.status()));
  EXPECT_NE(d.status().message().find("/proc/pressure/io"),
            absl::string_view::npos);
}

TEST_F(IoTest, UnreadablePsiIsDegraded) {
  auto d = MakeIo(FixtureRoot("unreadable"));
  d->Sample();
  CheckResult c = d->Result();
  EXPECT_EQ(c.status, Status::kDegraded);
  EXPECT_NE(c.message.find("Is a directory"), std::string::npos) << c.message;
}

}  // namespace
}  // namespace pressure
}  // namespace vigil
