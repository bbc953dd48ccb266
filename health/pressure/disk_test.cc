#include "health/pressure/disk.h"

#include <sys/statvfs.h>

#include <filesystem>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace pressure {
namespace {

// Threshold, hysteresis and trend behaviour of the disk detector are those
// of every gauge (gauge_test) and are exercised for real on a filling tmpfs
// in disk_full_test; here: statvfs plumbing, naming and errors.

TEST(DiskDetector, ReadsWhatStatvfsReports) {
  vigil::testing::FakeClock clock;
  DiskOptions o;
  o.path = ::testing::TempDir();
  o.clock = &clock;
  absl::StatusOr<std::unique_ptr<DiskDetector>> d = DiskDetector::Create(o);
  ASSERT_TRUE(d.ok()) << d.status();
  const DiskReading& r = (*d)->Sample();
  struct statvfs st;
  ASSERT_EQ(statvfs(o.path.c_str(), &st), 0);
  ASSERT_TRUE(r.bytes_total.has_value());
  const double reserved = static_cast<double>(st.f_bfree - st.f_bavail);
  EXPECT_DOUBLE_EQ(*r.bytes_total,
                   (static_cast<double>(st.f_blocks) - reserved) *
                       static_cast<double>(st.f_frsize));
  // Free space moves between two statvfs calls on a busy machine.
  EXPECT_NEAR(*r.bytes_available,
              static_cast<double>(st.f_bavail) * st.f_frsize,
              0.01 * *r.bytes_total);
  EXPECT_GE(*r.bytes_ratio, 0);
  EXPECT_LE(*r.bytes_ratio, 1);
  CheckResult c = (*d)->Result();
  EXPECT_EQ(c.details.at("path"), o.path);
  EXPECT_EQ(c.observed_unit, "ratio");
  EXPECT_FALSE(c.time_to_exhaustion.has_value());  // One sample: no trend.
}

TEST(DiskDetector, DefaultNameAndCheckOptions) {
  DiskOptions o;
  o.path = "/";
  std::shared_ptr<DiskDetector> detector;
  absl::StatusOr<Check> c = DiskCheck(o, &detector);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "disk:/");
  EXPECT_TRUE(c->options.critical);
  EXPECT_EQ(c->options.interval, absl::Seconds(10));
  EXPECT_TRUE(ValidateCheck(*c).ok());
  EXPECT_EQ(detector->options().bytes.critical, 0.90);   // nodefs.available<10%
  EXPECT_EQ(detector->options().inodes.critical, 0.95);  // inodesFree<5%
}

TEST(DiskDetector, DefaultNamesAreValidCheckNames) {
  EXPECT_EQ(DefaultDiskCheckName("/var/lib/app"), "disk:/var/lib/app");
  EXPECT_EQ(DefaultDiskCheckName("/mnt/my disk+1"), "disk:/mnt/my_disk_1");
  const std::string long_path = "/" + std::string(200, 'a') + "/tail";
  const std::string name = DefaultDiskCheckName(long_path);
  EXPECT_EQ(name.size(), 128u);
  EXPECT_TRUE(absl::StartsWith(name, "disk:..."));
  EXPECT_TRUE(absl::EndsWith(name, "/tail"));
}

TEST(DiskDetector, MissingPathIsInvalidArgument) {
  DiskOptions o;
  o.path = "/no/such/path/for/vigil";
  absl::StatusOr<std::unique_ptr<DiskDetector>> d = DiskDetector::Create(o);
  ASSERT_TRUE(absl::IsInvalidArgument(d.status()));
  EXPECT_TRUE(absl::StartsWith(d.status().message(), "disk.path: statvfs"))
      << d.status();
}

TEST(DiskDetector, PathVanishingLaterIsDegradedWithTheError) {
  const std::string dir = ::testing::TempDir() + "/disk-vanishing";
  std::filesystem::create_directories(dir);
  DiskOptions o;
  o.path = dir;
  absl::StatusOr<std::unique_ptr<DiskDetector>> d = DiskDetector::Create(o);
  ASSERT_TRUE(d.ok());
  std::filesystem::remove(dir);
  (*d)->Sample();
  CheckResult c = (*d)->Result();
  EXPECT_EQ(c.status, Status::kDegraded);
  EXPECT_NE(c.message.find("No such file or directory"), std::string::npos)
      << c.message;
  EXPECT_FALSE(c.observed_value.has_value());
}

}  // namespace
}  // namespace pressure
}  // namespace vigil
